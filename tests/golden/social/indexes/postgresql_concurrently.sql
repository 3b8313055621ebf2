-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_follow_followee_id ON follow (followee_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_post_author_id_created_at ON post (author_id, created_at DESC);

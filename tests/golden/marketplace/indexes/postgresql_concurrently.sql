-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_bid_item_id_placed_at ON bid (item_id, placed_at DESC) INCLUDE (id, amount, item_title);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_item_ends_at ON item (ends_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_item_ends_at_where_status ON item (ends_at) WHERE status = 'listed';
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_item_seller_id_ends_at ON item (seller_id, ends_at);

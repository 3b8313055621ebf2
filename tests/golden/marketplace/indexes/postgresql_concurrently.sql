-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_bid_item_id_placed_at ON bid (item_id, placed_at DESC) INCLUDE (id, amount, item_title);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_item_seller_id ON item (seller_id);

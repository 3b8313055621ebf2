-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_customer_email ON customer (email varchar_pattern_ops);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_order_customer_id ON "order" (customer_id) INCLUDE (id, number, status, total, placed_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_order_placed_at_where_status ON "order" (placed_at) WHERE status = 'paid';
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_order_line_order_id ON order_line (order_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_order_line_product_id ON order_line (product_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_product_updated_at_where_status ON product (updated_at DESC) WHERE status = 'active';

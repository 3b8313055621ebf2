-- Indexes of shop on sqlite (golden file: tests/test_indexes_golden.py)
-- indexes.order.ix_order_customer_id: warning: ix_order_customer_id on sqlite: SQLite has no INCLUDE; the included columns are trailing key columns (still covering) [PP402]
CREATE INDEX ix_customer_email ON customer (email COLLATE "NOCASE");
CREATE INDEX ix_product_updated_at_where_status ON product (updated_at DESC) WHERE status = 'active';
CREATE INDEX ix_order_customer_id ON "order" (customer_id, id, number, status, total, placed_at);
CREATE INDEX ix_order_placed_at_where_status ON "order" (placed_at) WHERE status = 'paid';
CREATE INDEX ix_order_line_order_id ON order_line (order_id);
CREATE INDEX ix_order_line_product_id ON order_line (product_id);
CREATE INDEX ix_store_location_latlon ON store (location_lat, location_lon);

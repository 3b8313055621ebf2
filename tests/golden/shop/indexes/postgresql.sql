-- Indexes of shop on postgresql (golden file: tests/test_indexes_golden.py)
CREATE INDEX ix_customer_email ON customer (email varchar_pattern_ops);
CREATE INDEX ix_product_updated_at_where_status ON product (updated_at DESC) WHERE status = 'active';
CREATE INDEX ix_order_customer_id ON "order" (customer_id) INCLUDE (id, number, status, total, placed_at);
CREATE INDEX ix_order_placed_at_where_status ON "order" (placed_at) WHERE status = 'paid';
CREATE INDEX ix_order_line_order_id ON order_line (order_id);
CREATE INDEX ix_order_line_product_id ON order_line (product_id);
CREATE INDEX ix_store_location_geog ON store USING gist (location_geog);

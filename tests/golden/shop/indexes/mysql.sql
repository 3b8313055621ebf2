-- Indexes of shop on mysql (golden file: tests/test_indexes_golden.py)
-- indexes.customer.ix_customer_email: warning: ix_customer_email on mysql: not created: the index of uq_customer_email already leads with email, and any MariaDB B-tree answers a prefix LIKE [PP402]
-- indexes.product.ix_product_updated_at_where_status: warning: ix_product_updated_at_where_status on mysql: MariaDB has no partial indexes; the index covers every row, with status leading the key [PP402]
-- indexes.order.ix_order_customer_id: warning: ix_order_customer_id on mysql: MariaDB has no INCLUDE; the included columns are trailing key columns [PP402]
-- indexes.order.ix_order_placed_at_where_status: warning: ix_order_placed_at_where_status on mysql: MariaDB has no partial indexes; the index covers every row, with status leading the key [PP402]
CREATE INDEX ix_product_updated_at_where_status ON product (status, updated_at DESC);
CREATE INDEX ix_order_customer_id ON `order` (customer_id, id, number, status, total, placed_at);
CREATE INDEX ix_order_placed_at_where_status ON `order` (status, placed_at);
CREATE INDEX ix_order_line_order_id ON order_line (order_id);
CREATE INDEX ix_order_line_product_id ON order_line (product_id);
CREATE SPATIAL INDEX ix_store_location_point ON store (location_point);

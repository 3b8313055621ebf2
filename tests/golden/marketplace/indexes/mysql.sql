-- Indexes of marketplace on mysql (golden file: tests/test_indexes_golden.py)
-- indexes.item.ix_item_ends_at_where_status: warning: ix_item_ends_at_where_status on mysql: MariaDB has no partial indexes; the index covers every row, with status leading the key [PP402]
-- indexes.bid.ix_bid_item_id_placed_at: warning: ix_bid_item_id_placed_at on mysql: MariaDB has no INCLUDE; the included columns are trailing key columns [PP402]
CREATE INDEX ix_item_ends_at ON item (ends_at);
CREATE INDEX ix_item_ends_at_where_status ON item (status, ends_at);
CREATE SPATIAL INDEX ix_item_location_point ON item (location_point);
CREATE INDEX ix_item_seller_id_ends_at ON item (seller_id, ends_at);
CREATE INDEX ix_bid_item_id_placed_at ON bid (item_id, placed_at DESC, id, amount, item_title);

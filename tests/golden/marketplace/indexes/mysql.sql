-- Indexes of marketplace on mysql (golden file: tests/test_indexes_golden.py)
-- indexes.bid.ix_bid_item_id_placed_at: warning: ix_bid_item_id_placed_at on mysql: MariaDB has no INCLUDE; the included columns are trailing key columns [PP402]
CREATE SPATIAL INDEX ix_item_location_point ON item (location_point);
CREATE INDEX ix_item_seller_id ON item (seller_id);
CREATE INDEX ix_bid_item_id_placed_at ON bid (item_id, placed_at DESC, id, amount, item_title);

-- Indexes of marketplace on sqlite (golden file: tests/test_indexes_golden.py)
-- indexes.bid.ix_bid_item_id_placed_at: warning: ix_bid_item_id_placed_at on sqlite: SQLite has no INCLUDE; the included columns are trailing key columns (still covering) [PP402]
CREATE INDEX ix_item_ends_at ON item (ends_at);
CREATE INDEX ix_item_ends_at_where_status ON item (ends_at) WHERE status = 'listed';
CREATE INDEX ix_item_location_latlon ON item (location_lat, location_lon);
CREATE INDEX ix_item_seller_id_ends_at ON item (seller_id, ends_at);
CREATE INDEX ix_item_specs__brand ON item (json_extract(specs, '$.brand'));
CREATE INDEX ix_bid_item_id_placed_at ON bid (item_id, placed_at DESC, id, amount, item_title);

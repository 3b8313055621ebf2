-- Indexes of marketplace on postgresql (golden file: tests/test_indexes_golden.py)
CREATE INDEX ix_item_ends_at ON item (ends_at);
CREATE INDEX ix_item_ends_at_where_status ON item (ends_at) WHERE status = 'listed';
CREATE INDEX ix_item_location_geog ON item USING gist (location_geog);
CREATE INDEX ix_item_seller_id_ends_at ON item (seller_id, ends_at);
CREATE INDEX ix_item_specs__brand ON item ((specs #>> '{brand}'));
CREATE INDEX ix_bid_item_id_placed_at ON bid (item_id, placed_at DESC) INCLUDE (id, amount, item_title);

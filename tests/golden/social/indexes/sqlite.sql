-- Indexes of social on sqlite (golden file: tests/test_indexes_golden.py)
CREATE INDEX ix_follow_followee_id ON follow (followee_id);
CREATE INDEX ix_post_author_id_created_at ON post (author_id, created_at DESC);

-- Indexes of counters on postgresql (golden file: tests/test_indexes_golden.py)
CREATE INDEX ix_comment_article_id_created_at ON comment (article_id, created_at DESC);

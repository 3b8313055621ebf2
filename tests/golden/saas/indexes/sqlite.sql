-- Indexes of saas on sqlite (golden file: tests/test_indexes_golden.py)
-- indexes.task.ix_task_project_id_covering: warning: ix_task_project_id_covering on sqlite: SQLite has no INCLUDE; the included columns are trailing key columns (still covering) [PP402]
CREATE INDEX ix_project_tenant_id_where_archived ON project (tenant_id) WHERE archived = 0;
CREATE INDEX ix_task_assignee_id_where_status ON task (assignee_id) WHERE status = 'doing';
CREATE INDEX ix_task_project_id_covering ON task (project_id, id, title, status, priority, "order", assignee_id);

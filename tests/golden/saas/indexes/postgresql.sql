-- Indexes of saas on postgresql (golden file: tests/test_indexes_golden.py)
CREATE INDEX ix_project_tenant_id_where_archived ON project (tenant_id) WHERE archived = false;
CREATE INDEX ix_task_assignee_id_where_status ON task (assignee_id) WHERE status = 'doing';
CREATE INDEX ix_task_project_id_covering ON task (project_id) INCLUDE (id, title, status, priority, "order", assignee_id);

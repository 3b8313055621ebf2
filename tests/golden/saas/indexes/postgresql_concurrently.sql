-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_project_tenant_id_where_archived ON project (tenant_id) WHERE archived = false;
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_task_assignee_id_where_status ON task (assignee_id) WHERE status = 'doing';
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_task_project_id_covering ON task (project_id) INCLUDE (id, title, status, priority, "order", assignee_id);

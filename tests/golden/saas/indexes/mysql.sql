-- Indexes of saas on mysql (golden file: tests/test_indexes_golden.py)
-- indexes.project.ix_project_tenant_id_where_archived: warning: ix_project_tenant_id_where_archived on mysql: MariaDB has no partial indexes; the index covers every row, with archived after the 1 equality column(s) [PP402]
-- indexes.task.ix_task_assignee_id_where_status: warning: ix_task_assignee_id_where_status on mysql: MariaDB has no partial indexes; the index covers every row, with status after the 1 equality column(s) [PP402]
-- indexes.task.ix_task_project_id_covering: warning: ix_task_project_id_covering on mysql: MariaDB has no INCLUDE; the included columns are trailing key columns [PP402]
CREATE INDEX ix_project_tenant_id_where_archived ON project (tenant_id, archived);
CREATE INDEX ix_task_assignee_id_where_status ON task (assignee_id, status);
CREATE INDEX ix_task_project_id_covering ON task (project_id, id, title, status, priority, `order`, assignee_id);

-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_alert_device_id_where_state ON alert (device_id) WHERE state = 'open';
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_device_site_id_where_status ON device (site_id) WHERE status = 'active';

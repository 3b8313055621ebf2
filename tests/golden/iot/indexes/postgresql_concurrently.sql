-- Indexes designed from the workload, in migration form for a live PostgreSQL database.
-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.

-- alert is range-partitioned (retention): for each partition P, run
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS <P_index> ON P (same columns); ALTER INDEX ix_alert_device_id_where_state ATTACH PARTITION <P_index>;
CREATE INDEX IF NOT EXISTS ix_alert_device_id_where_state ON ONLY alert (device_id) WHERE state = 'open';
-- alert is range-partitioned (retention): for each partition P, run
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS <P_index> ON P (same columns); ALTER INDEX ix_alert_raised_at ATTACH PARTITION <P_index>;
CREATE INDEX IF NOT EXISTS ix_alert_raised_at ON ONLY alert (raised_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_device_site_id_where_status ON device (site_id) WHERE status = 'active';

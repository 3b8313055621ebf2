-- Indexes of iot on mysql (golden file: tests/test_indexes_golden.py)
-- indexes.device.ix_device_site_id_where_status: warning: ix_device_site_id_where_status on mysql: MariaDB has no partial indexes; the index covers every row, with status after the 1 equality column(s) [PP402]
-- indexes.alert.ix_alert_device_id_where_state: warning: ix_alert_device_id_where_state on mysql: MariaDB has no partial indexes; the index covers every row, with state after the 1 equality column(s) [PP402]
CREATE INDEX ix_device_site_id_where_status ON device (site_id, status);
CREATE INDEX ix_alert_device_id_where_state ON alert (device_id, state);
CREATE INDEX ix_alert_raised_at ON alert (raised_at);

-- Indexes of iot on sqlite (golden file: tests/test_indexes_golden.py)
CREATE INDEX ix_device_site_id_where_status ON device (site_id) WHERE status = 'active';
CREATE INDEX ix_alert_device_id_where_state ON alert (device_id) WHERE state = 'open';
CREATE INDEX ix_alert_raised_at ON alert (raised_at);

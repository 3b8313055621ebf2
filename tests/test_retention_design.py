"""Retention and archiving are designed in every store, or reported with a code (PP410–PP413):
never accepted and ignored. Pure: no server (the real-server proof is test_retention_e2e.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyplan.diagnostics import Diagnostic, DiagnosticError
from polyplan.migrate.diff import diff_plans
from polyplan.pipeline import plan_file, plan_text, render
from polyplan.stores.relational.design import tables_from_data, tables_to_data
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.retention_sql import retention_jobs_sql

RELATIONAL = """
name: aging
engines: {relational: ENGINE}
entities:
  Device:
    attributes:
      label: {type: string, max_length: 40}
    placement: {family: relational}
  Metric:
    attributes:
      value: {type: float}
      taken_at: {type: timestamptz}
    growth: {rows_per_day: 100000, retention_days: 30, time_attribute: taken_at}
    placement: {family: relational}
  Invoice:
    attributes:
      number: {type: string, max_length: 20, unique: true}
      issued_on: {type: date}
    growth: {rows_per_day: 500, archive_after_days: 365, retention_days: 3650, time_attribute: issued_on}
    placement: {family: relational}
  Ping:
    attributes:
      at: {type: timestamp, nullable: true}
    growth: {rows_per_day: 10, retention_days: 400, time_attribute: at}
    placement: {family: relational}
relationships:
  - {name: device_metrics, kind: one_to_many, from: Device, to: Metric}
"""


def _render(text: str) -> tuple[dict[str, str], list[Diagnostic]]:
    return render(plan_text(text, "<test>"))


def _by_path(diagnostics: list[Diagnostic], code: str) -> dict[str, str]:
    return {d.path: d.message for d in diagnostics if d.code == code}


def test_postgresql_partitions_what_it_can_and_says_why_not_otherwise() -> None:
    files, diagnostics = _render(RELATIONAL.replace("ENGINE", "postgresql"))
    partitioned = _by_path(diagnostics, "PP410")
    batched = _by_path(diagnostics, "PP411")
    # Metric: no unique rule, no reference into it: daily partitions (a 30-day window), and the key grows.
    assert "one partition per day" in partitioned["entities.Metric.growth"]
    assert "primary key becomes (id, taken_at)" in partitioned["entities.Metric.growth"]
    # Invoice: its unique number would only hold within one partition; Ping: a nullable time column.
    assert "unique rule (number)" in batched["entities.Invoice.growth"]
    assert "nullable" in batched["entities.Ping.growth"]
    schema = files["relational/postgresql/schema.sql"]
    assert "PARTITION BY RANGE (taken_at)" in schema
    assert "CONSTRAINT pk_metric PRIMARY KEY (id, taken_at)" in schema
    assert "CREATE TABLE metric_default PARTITION OF metric DEFAULT;" in schema
    assert "CONSTRAINT pk_invoice PRIMARY KEY (id)" in schema  # not partitioned: unchanged
    assert "CREATE TABLE invoice_archive (" in schema
    assert "CREATE INDEX ix_invoice_issued_on ON invoice (issued_on);" in schema
    jobs = files["relational/postgresql/retention.sql"]
    calls = [line for line in jobs.splitlines() if line.startswith("SELECT")]
    assert calls == [
        "SELECT metric_partitions_ahead();",
        "SELECT metric_purge();",
        "SELECT invoice_archive_rows();",
        "SELECT invoice_purge();",
        "SELECT ping_purge();",
    ]


def test_mariadb_cannot_partition_a_table_with_foreign_keys() -> None:
    files, diagnostics = _render(RELATIONAL.replace("ENGINE", "mysql"))
    batched = _by_path(diagnostics, "PP411")
    assert "foreign keys, which partitioned InnoDB tables cannot have" in batched["entities.Metric.growth"]
    assert "PP410" not in {d.code for d in diagnostics}
    schema = files["relational/mysql/schema.sql"]
    assert "PARTITION BY RANGE" not in schema
    assert "DELETE FROM metric WHERE taken_at < cutoff ORDER BY taken_at LIMIT 10000;" in schema
    calls = [line for line in files["relational/mysql/retention.sql"].splitlines() if line.startswith("CALL")]
    # Only Metric's foreign key stands in the way on MariaDB: Invoice and Ping fail as on PostgreSQL.
    assert calls == [
        "CALL metric_purge(NULL);",
        "CALL invoice_archive_rows(NULL);",
        "CALL invoice_purge(NULL);",
        "CALL ping_purge(NULL);",
    ]


def test_sqlite_warns_that_it_has_no_partitioning_and_emits_batched_statements() -> None:
    files, diagnostics = _render(RELATIONAL.replace("ENGINE", "sqlite"))
    batched = _by_path(diagnostics, "PP411")
    assert set(batched) == {"entities.Metric.growth", "entities.Invoice.growth", "entities.Ping.growth"}
    assert all("SQLite has no partitioning" in message for message in batched.values())
    jobs = files["relational/sqlite/retention.sql"]
    assert "DELETE FROM metric WHERE rowid IN (SELECT rowid FROM metric WHERE taken_at < :cutoff LIMIT 10000);" in jobs
    assert "INSERT INTO invoice_archive (" in jobs


def test_the_design_survives_the_generated_tests_round_trip() -> None:
    plan = plan_text(RELATIONAL.replace("ENGINE", "postgresql"), "<test>")
    from polyplan.stores.relational.design import design_schema

    tables, _ = design_schema(plan)
    again = tables_from_data(json.loads(json.dumps(tables_to_data(tables))))
    assert [retention_of(t) for t in again] == [retention_of(t) for t in tables]
    assert retention_jobs_sql(plan.model, again, "postgresql") == retention_jobs_sql(plan.model, tables, "postgresql")


def test_capacity_md_states_every_rule_with_its_design() -> None:
    files, _ = _render(RELATIONAL.replace("ENGINE", "postgresql"))
    capacity = files["capacity.md"]
    section = capacity[capacity.index("## Retention and archiving") :]
    assert (
        "| Metric | relational (postgresql) | delete after 30 days | range partitions on taken_at, one per day"
        in section
    )
    assert (
        "| Invoice | relational (postgresql) | archive after 365 days, delete after 3650 days | batched DELETE"
        in section
    )
    assert "[PP411]" in section and "[PP410]" in section


TIME_SERIES = """
name: series
engines: {relational: null, wide_column: null, search: null}
entities:
  Sample:
    attributes:
      sensor: {type: string, max_length: 20}
      at: {type: timestamptz}
    growth: {rows_per_day: RATE, retention_days: 7, time_attribute: at}
    placement: {family: document}
access_patterns:
  - {name: by_sensor, entity: Sample, filters: [{attribute: sensor}], sort: [{attribute: at, direction: desc}], limit: 10}
"""


@pytest.mark.parametrize(("rate", "ttl"), [(86_400, True), (2_000_000_000, False)])
def test_mongodb_ttl_index_only_at_an_acceptable_delete_rate(rate: int, ttl: bool) -> None:
    files, diagnostics = _render(TIME_SERIES.replace("RATE", str(rate)))
    collection = json.loads(files["mongodb/collections/sample.json"])
    expiring = [i for i in collection["indexes"] if "expireAfterSeconds" in json.dumps(i)]
    assert bool(expiring) is ttl
    warned = _by_path(diagnostics, "PP412")
    if ttl:
        assert not warned
    else:
        assert "23,148 documents/s" in warned["entities.Sample.growth.retention_days"]
        assert any("at" in json.dumps(i.get("key", i)) for i in collection["indexes"])


def test_cassandra_and_redis_report_an_archive_rule_they_cannot_carry_out() -> None:
    model = """
name: archived
engines: {relational: null, document: null, search: null}
entities:
  Event:
    attributes:
      source: {type: string, max_length: 20}
      at: {type: timestamptz}
    growth: {rows_per_day: 1000000, archive_after_days: 30, retention_days: 90, time_attribute: at}
    placement: {family: wide_column}
  Token:
    attributes:
      at: {type: timestamptz}
    growth: {ttl_seconds: 600, archive_after_days: 1, time_attribute: at}
    placement: {family: cache}
access_patterns:
  - {name: by_source, entity: Event, filters: [{attribute: source}], sort: [{attribute: at, direction: desc}], limit: 10}
  - {name: token, entity: Token, filters: [{attribute: id}]}
"""
    files, diagnostics = _render(model)
    warned = _by_path(diagnostics, "PP413")
    assert "DSBulk" in warned["entities.Event.growth.archive_after_days"]
    assert "before the TTL removes them" in warned["entities.Event.growth.archive_after_days"]
    assert "Redis only expires keys" in warned["entities.Token.growth.archive_after_days"]
    section = files["capacity.md"][files["capacity.md"].index("## Retention and archiving") :]
    assert "| Event | wide_column (cassandra) | archive after 30 days, delete after 90 days |" in section
    assert "| Token | cache (redis) | archive after 1 days | key TTL of 600 s |" in section


def test_a_migration_refuses_a_changed_retention_rule(tmp_path: Path) -> None:
    """Changing the retention of a live table (partitions, jobs) is not an ALTER: refused with
    PP707 rather than migrated without it (a new aged table gets it all: ops.AddTable)."""
    old = RELATIONAL.replace("ENGINE", "postgresql")
    new = old.replace("name: aging", "name: aging\nversion: 2").replace(
        "growth: {rows_per_day: 10, retention_days: 400, time_attribute: at}",
        "growth: {rows_per_day: 10, retention_days: 200, time_attribute: at}",
    )
    (tmp_path / "old.yaml").write_text(old, encoding="utf-8")
    (tmp_path / "new.yaml").write_text(new, encoding="utf-8")
    with pytest.raises(DiagnosticError) as raised:
        diff_plans(plan_file(tmp_path / "old.yaml"), plan_file(tmp_path / "new.yaml"))
    assert [(d.code, d.path) for d in raised.value.diagnostics] == [("PP707", "entities.Ping")]
    assert "retention or archive rule changes" in raised.value.diagnostics[0].message

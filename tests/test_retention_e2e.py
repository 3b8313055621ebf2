"""Retention and archiving on the real PostgreSQL and MariaDB: the emitted schema applies, rows
land in the right partition, and the emitted jobs remove exactly the expired partitions (or rows)
and move exactly the rows due to the archive table, checked row by row at two chosen instants."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text, render
from polyplan.stores.relational.connect import apply_sql, create_engine, scratch_database
from polyplan.stores.relational.sqltext import commented_blocks, split_script
from polyplan.testkit import resolve_url

MODEL = """
name: aging
engines: {relational: ENGINE}
entities:
  Source:
    attributes:
      label: {type: string, max_length: 40}
    placement: {family: relational}
  Event:
    attributes:
      kind: {type: string, max_length: 20}
      at: {type: timestamptz}
    growth: {rows_per_day: 1000, retention_days: 30, time_attribute: at}
    placement: {family: relational}
  Log:
    attributes:
      line: {type: text}
      logged_at: {type: timestamptz}
    growth: {rows_per_day: 1000, archive_after_days: 40, retention_days: 100, time_attribute: logged_at}
    placement: {family: relational}
relationships:
  - {name: source_logs, kind: one_to_many, from: Source, to: Log}
"""

UTC = dt.UTC
NOW = [dt.datetime(2026, 6, 15, 12, tzinfo=UTC), dt.datetime(2026, 6, 18, 12, tzinfo=UTC)]

# Event (retention 30 days, daily partitions from now - 30 days): name → when.
EVENTS = {
    "r1": dt.datetime(2026, 5, 1, 12, tzinfo=UTC),  # older than every partition
    "r2": dt.datetime(2026, 5, 16, 6, tzinfo=UTC),  # expired, in the partition the cutoff falls in
    "r3": dt.datetime(2026, 5, 20, 12, tzinfo=UTC),
    "r4": dt.datetime(2026, 6, 14, 12, tzinfo=UTC),
    "r5": dt.datetime(2026, 6, 20, 12, tzinfo=UTC),  # ahead of now
}
# Log (archive after 40 days, delete after 100).
LOGS = {
    "a1": dt.datetime(2026, 2, 1, 12, tzinfo=UTC),  # past both windows
    "a2": dt.datetime(2026, 4, 1, 12, tzinfo=UTC),  # due for the archive
    "a3": dt.datetime(2026, 5, 6, 6, tzinfo=UTC),  # due, in the partition the archive cutoff falls in
    "a4": dt.datetime(2026, 6, 1, 12, tzinfo=UTC),
}

# After the first run (at NOW[0]): PostgreSQL deletes rows older than every partition (they sit
# in the DEFAULT partition) row by row; MariaDB's oldest partition has no lower bound, so they go
# when it expires whole. Log on MariaDB has a foreign key, so it is purged row by row (exact).
AFTER_FIRST = {
    "postgresql": {"event": {"r2", "r3", "r4", "r5"}, "log": {"a3", "a4"}, "log_archive": {"a2"}},
    "mysql": {"event": {"r1", "r2", "r3", "r4", "r5"}, "log": {"a4"}, "log_archive": {"a2", "a3"}},
}
# After the second run (at NOW[1]): the partitions of May 16–18 (and MariaDB's oldest) have
# expired whole.
AFTER_SECOND = {"event": {"r3", "r4", "r5"}, "log": {"a4"}, "log_archive": {"a2", "a3"}}

IDS = {name: uuid.uuid5(uuid.NAMESPACE_URL, name) for name in [*EVENTS, *LOGS]}


def _files(engine: str) -> dict[str, str]:
    files, diagnostics = render(plan_text(MODEL.replace("ENGINE", engine)))
    codes = {(d.code, d.path) for d in diagnostics}
    assert ("PP410", "entities.Event.growth") in codes
    expected_log = "PP410" if engine == "postgresql" else "PP411"
    assert (expected_log, "entities.Log.growth") in codes
    return files


def _when(engine: str, moment: dt.datetime) -> Any:
    # MariaDB stores timestamptz as DATETIME(6) holding UTC.
    return moment if engine == "postgresql" else moment.replace(tzinfo=None)


def _ids(connection: sa.Connection, table: str, engine: str) -> set[str]:
    names = {str(value): name for name, value in IDS.items()}
    column = "id"
    rows = connection.execute(sa.text(f"SELECT {column} FROM {table}")).scalars()
    found = set()
    for value in rows:
        text = str(uuid.UUID(str(value))) if engine == "postgresql" else str(uuid.UUID(hex=value))
        found.add(names[text])
    return found


def _run_jobs(connection: sa.Connection, engine: str, moment: dt.datetime, jobs: str) -> None:
    """Every call of the emitted retention.sql, in its order, at `moment` instead of the clock."""
    calls = split_script(jobs)
    assert calls, "retention.sql calls nothing"
    for call in calls:
        at_moment = call.replace("()", "(:now)") if engine == "postgresql" else call.replace("(NULL)", "(:now)")
        assert ":now" in at_moment, call
        connection.execute(sa.text(at_moment), {"now": _when(engine, moment)})


def _partition_of(connection: sa.Connection, engine: str, table: str, name: str) -> str:
    key = IDS[name] if engine == "postgresql" else IDS[name].hex
    if engine == "postgresql":
        sql = f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"
        return str(connection.execute(sa.text(sql), {"id": key}).scalar())
    for (partition,) in connection.execute(
        sa.text(
            "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = :table"
        ),
        {"table": table},
    ).fetchall():
        sql = f"SELECT COUNT(*) FROM {table} PARTITION ({partition}) WHERE id = :id"
        if connection.execute(sa.text(sql), {"id": key}).scalar():
            return str(partition)
    return ""


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def test_retention_jobs_remove_and_archive_exactly_what_is_due(engine: str) -> None:
    url = resolve_url(engine)
    files = _files(engine)
    jobs = files[f"relational/{engine}/retention.sql"]
    with scratch_database(url) as database:
        apply_sql(database, files[f"relational/{engine}/schema.sql"])
        with database.begin() as connection:
            _run_jobs(connection, engine, NOW[0], jobs)
            source = IDS["a1"] if engine == "postgresql" else IDS["a1"].hex  # any id will do
            connection.execute(sa.text("INSERT INTO source (id, label) VALUES (:id, 'sensor')"), {"id": source})
            for name, moment in EVENTS.items():
                key = IDS[name] if engine == "postgresql" else IDS[name].hex
                connection.execute(
                    sa.text("INSERT INTO event (id, kind, at) VALUES (:id, 'tick', :at)"),
                    {"id": key, "at": _when(engine, moment)},
                )
            for name, moment in LOGS.items():
                key = IDS[name] if engine == "postgresql" else IDS[name].hex
                connection.execute(
                    sa.text("INSERT INTO log (id, line, logged_at, source_id) VALUES (:id, 'x', :at, :source)"),
                    {"id": key, "at": _when(engine, moment), "source": source},
                )
        with database.begin() as connection:
            # Rows land in the partition of their day; older ones in the DEFAULT (PostgreSQL) or the
            # oldest partition (MariaDB, whose first range has no lower bound).
            assert _partition_of(connection, engine, "event", "r3") in ("event_p20260520", "p20260520")
            assert _partition_of(connection, engine, "event", "r1") in ("event_default", "p20260516")
            _run_jobs(connection, engine, NOW[0], jobs)
        with database.connect() as connection:
            state = {table: _ids(connection, table, engine) for table in AFTER_FIRST[engine]}
        assert state == AFTER_FIRST[engine]
        with database.begin() as connection:
            _run_jobs(connection, engine, NOW[1], jobs)
        with database.connect() as connection:
            state = {table: _ids(connection, table, engine) for table in AFTER_SECOND}
            assert _partition_of(connection, engine, "event", "r5") in ("event_p20260620", "p20260620")
        assert state == AFTER_SECOND


def test_sqlite_statements_remove_and_archive_exactly_the_rows_past_their_cutoff(tmp_path: Any) -> None:
    """SQLite has no partitions: its retention.sql statements are exact, row by row."""
    files = render(plan_text(MODEL.replace("ENGINE", "sqlite")))[0]
    database = create_engine(f"sqlite:///{tmp_path / 'aging.db'}")
    apply_sql(database, files["relational/sqlite/schema.sql"])

    def stored(moment: dt.datetime) -> str:  # SQLAlchemy's DateTime text on SQLite, in UTC
        return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    with database.begin() as connection:
        connection.execute(sa.text("INSERT INTO source (id, label) VALUES (:id, 'sensor')"), {"id": IDS["a1"].hex})
        for name, moment in EVENTS.items():
            connection.execute(
                sa.text("INSERT INTO event (id, kind, at) VALUES (:id, 'tick', :at)"),
                {"id": IDS[name].hex, "at": stored(moment)},
            )
        for name, moment in LOGS.items():
            connection.execute(
                sa.text("INSERT INTO log (id, line, logged_at, source_id) VALUES (:id, 'x', :at, :source)"),
                {"id": IDS[name].hex, "at": stored(moment), "source": IDS["a1"].hex},
            )
    blocks = {
        comments[0].split()[2]: (sql, int(re.search(r":cutoff = now - (\d+) days", comments[0]).group(1)))  # type: ignore[union-attr]
        for comments, sql in commented_blocks(files["relational/sqlite/retention.sql"], "-- name:")
    }
    assert sorted(blocks) == ["event_purge", "log_archive_copy", "log_archive_delete", "log_purge", "log_purge_archive"]

    def run(name: str) -> int:
        sql, days = blocks[name]
        with database.begin() as connection:
            return int(connection.execute(sa.text(sql), {"cutoff": stored(NOW[0] - dt.timedelta(days=days))}).rowcount)

    while run("log_archive_copy"):
        run("log_archive_delete")
    for purge in ("event_purge", "log_purge", "log_purge_archive"):
        while run(purge):
            pass
    with database.connect() as connection:
        state = {table: _ids(connection, table, "sqlite") for table in AFTER_SECOND}
    # Exact: every row older than its cutoff, and only those, is gone or archived at the first run.
    assert state == {"event": {"r3", "r4", "r5"}, "log": {"a4"}, "log_archive": {"a2", "a3"}}

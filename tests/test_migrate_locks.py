"""A generated revision waits politely for a lock (issue 9): against a real competing long
transaction on PostgreSQL, each step that needs ACCESS EXCLUSIVE waits at most its short
lock_timeout, so the application's queries queue behind it only that long, and its transaction
is retried with a backoff until the long transaction ends; the attempts are bounded. On MariaDB,
whose lock_wait_timeout counts whole seconds, a step does not wait at all (0) and is retried."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from polyplan.migrate.diff import diff_plans
from polyplan.migrate.folder import Migration, write_migration
from polyplan.migrate.sql import LOCK_TIMEOUT, STATEMENT_TIMEOUT, guards, online_guards
from polyplan.pipeline import plan_file
from polyplan.seed.generate import feasible_rows, generate
from polyplan.seed.relational import load_rows, table_rows
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / "tests" / "migrate_inputs"
HELD_S = 3.0  # longer than the old 2 s lock_timeout, which failed the migration here


def test_blocking_steps_wait_briefly_and_online_steps_longer() -> None:
    assert [s.sql for s in guards("postgresql")] == [
        f"SET lock_timeout = '{LOCK_TIMEOUT}'",
        f"SET statement_timeout = '{STATEMENT_TIMEOUT}'",
    ]
    assert LOCK_TIMEOUT == "50ms"
    assert [s.sql for s in online_guards("postgresql")][1] == "SET statement_timeout = '0'"
    # MariaDB cannot wait 50 ms (whole seconds only), and any wait queues the application behind
    # the ALTER's metadata lock: its steps fail at once and the script retries them.
    assert [s.sql for s in guards("mysql")] == [s.sql for s in online_guards("mysql")]
    assert [s.sql for s in guards("mysql")] == ["SET SESSION lock_wait_timeout = 0"]


# The application's statements per engine: a seed of 200 customers, a read and an insert.
APP_SQL = {
    "postgresql": (
        "INSERT INTO customer (id, email, full_name, vip) "
        "SELECT gen_random_uuid(), 'c' || g || '@x', 'C ' || g, false FROM generate_series(1, 200) g",
        "INSERT INTO customer (id, email, full_name, vip) "
        "VALUES (gen_random_uuid(), gen_random_uuid() || '@w', 'W', false)",
    ),
    "mysql": (
        "INSERT INTO customer (id, email, full_name, vip) "
        "SELECT REPLACE(UUID(), '-', ''), CONCAT('c', seq, '@x'), CONCAT('C ', seq), false FROM seq_1_to_200",
        "INSERT INTO customer (id, email, full_name, vip) VALUES (REPLACE(UUID(), '-', ''), CONCAT(UUID(), '@w'), 'W', false)",
    ),
}


def _migration(tmp_path: Path, engine: str) -> Iterator[tuple[Migration, Config, sa.Engine]]:
    old_path, new_path = INPUTS / "base.yaml", INPUTS / "good.yaml"
    migration = write_migration(plan_file(old_path), plan_file(new_path), old_path, new_path, tmp_path / "m")
    with scratch_database(resolve_url(engine)) as database:
        config = Config(str(tmp_path / "m" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, migration.added[0].id)  # the baseline
        with database.begin() as connection:
            connection.exec_driver_sql(APP_SQL[engine][0])
        yield migration, config, database


@pytest.fixture
def migration(tmp_path: Path) -> Iterator[tuple[Migration, Config, sa.Engine]]:
    yield from _migration(tmp_path, "postgresql")


@pytest.fixture(
    params=[pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql)]
)
def engine_migration(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Migration, Config, sa.Engine]]:
    yield from _migration(tmp_path, request.param)


def _hold(database: sa.Engine, seconds: float, started: threading.Event) -> None:
    """A long transaction that has read `customer`: it holds ACCESS SHARE until it ends."""
    with database.connect() as connection:
        connection.exec_driver_sql("SELECT count(*) FROM customer").scalar_one()
        started.set()
        time.sleep(seconds)
        connection.rollback()


def _writer(database: sa.Engine, stop: threading.Event, latencies: list[float]) -> None:
    """The application: a read and an insert of the old version every 20 ms, each timed."""
    insert = APP_SQL[database.dialect.name][1]
    with database.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while not stop.is_set():
            start = time.monotonic()
            connection.exec_driver_sql("SELECT count(*) FROM customer WHERE email = 'c1@x'").scalar_one()
            connection.exec_driver_sql(insert)
            latencies.append(time.monotonic() - start)
            time.sleep(0.02)


def test_a_long_transaction_delays_the_migration_not_the_application(
    engine_migration: tuple[Migration, Config, sa.Engine], caplog: pytest.LogCaptureFixture
) -> None:
    revisions, config, database = engine_migration
    expand = next(r for r in revisions.added if r.phase.value == "expand")
    started, stop = threading.Event(), threading.Event()
    latencies: list[float] = []
    holder = threading.Thread(target=_hold, args=(database, HELD_S, started))
    writer = threading.Thread(target=_writer, args=(database, stop, latencies))
    holder.start()
    started.wait(10)
    writer.start()
    time.sleep(0.3)  # the writer runs before the migration asks for its lock
    begun = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        command.upgrade(config, expand.id)
    took = time.monotonic() - begun
    stop.set()
    writer.join(10)
    holder.join(10)
    retries = [r.getMessage() for r in caplog.records if "lock not granted" in r.getMessage()]
    # The migration waited for the long transaction, retrying, instead of failing after one timeout.
    assert retries and "customer" in retries[0]
    assert took >= HELD_S - 0.5
    # The application never queued behind the waiting ALTER TABLE for long (the old 2 s
    # lock_timeout stalled it for the whole wait, MariaDB's old 1 s lock_wait_timeout up to 1 s per
    # attempt); the bound is loose for a shared, noisy host.
    assert len(latencies) > 20
    assert max(latencies) < 0.5, sorted(latencies)[-5:]
    with database.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("customer")}
    # PostgreSQL's expand also adds the renamed column's new name (kept in step by a trigger);
    # MariaDB renames in its contract.
    assert {"phone", "full_name"} | ({"name"} if database.dialect.name == "postgresql" else set()) <= columns


@pytest.mark.postgresql
def test_the_attempts_are_bounded(migration: tuple[Migration, Config, sa.Engine]) -> None:
    revisions, config, database = migration
    expand = next(r for r in revisions.added if r.phase.value == "expand")
    started = threading.Event()
    holder = threading.Thread(target=_hold, args=(database, 6.0, started))
    holder.start()
    started.wait(10)
    config.cmd_opts = argparse.Namespace(x=["lock_attempts=2"])
    begun = time.monotonic()
    with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
        command.upgrade(config, expand.id)
    # Two attempts of 50 ms and one backoff of at most 0.1 s, not the 6 s the lock is held.
    assert time.monotonic() - begun < 3.0
    holder.join(10)
    with database.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        columns = {c["name"] for c in sa.inspect(connection).get_columns("customer")}
    assert version == revisions.added[0].id and "phone" not in columns  # nothing half-done


SAAS = ROOT / "scenarios" / "history" / "saas"


def test_a_name_that_changes_type_warns_pp712_and_a_rename_does_not() -> None:
    versions = diff_plans(plan_file(SAAS / "v1.yaml"), plan_file(SAAS / "v2.yaml"))
    warned = sorted(d.path for d in versions.warnings if d.code == "PP712")
    # priority: SMALLINT → INTEGER through a shadow column; title: VARCHAR(300) → VARCHAR(500) in
    # place (the type modifier is part of the result type); order → position is renamed: no warning.
    assert warned == ["entities.Task.attributes.priority.type", "entities.Task.attributes.title.type"]


@pytest.mark.postgresql
def test_a_prepared_statement_held_across_the_contract(tmp_path: Path) -> None:
    """The new application version prepares its read after the expand; the contract swaps the
    retyped column in. PostgreSQL refuses the held statement (what PP712 warns about) and the
    documented application step — DEALLOCATE ALL, then the same call again — answers with the
    new type on the same connection."""
    old, new = plan_file(SAAS / "v1.yaml"), plan_file(SAAS / "v2.yaml")
    migration = write_migration(old, new, SAAS / "v1.yaml", SAAS / "v2.yaml", tmp_path / "m")
    before = migration.versions.designs["postgresql"][0]
    expand = next(r for r in migration.added if r.phase.value == "expand")
    with scratch_database(resolve_url("postgresql")) as database:
        config = Config(str(tmp_path / "m" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, migration.added[0].id)
        data = generate(old.model, feasible_rows(old.model, dict.fromkeys(old.model.entities, 5)), seed=4)
        with database.begin() as connection:
            load_rows(
                connection, before.rendered.metadata, table_rows(list(before.tables.values()), data, "postgresql")
            )
        command.upgrade(config, expand.id)
        url = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        query = "SELECT priority, title FROM task ORDER BY id LIMIT 1"
        with psycopg.connect(url, autocommit=True) as application:
            prepared = application.execute(query, prepare=True).fetchone()  # the new version, deployed
            command.upgrade(config, "head")  # the contract
            with pytest.raises(psycopg.errors.FeatureNotSupported, match="cached plan must not change result type"):
                application.execute(query, prepare=True)
            application.execute("DEALLOCATE ALL")
            cursor = application.execute(query, prepare=True)
            again = cursor.fetchone()
            assert cursor.description is not None
            types = [column.type_code for column in cursor.description]
    assert again == prepared
    assert types[0] == psycopg.postgres.types["int4"].oid  # the new type, through a new prepared statement

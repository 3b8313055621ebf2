"""Throw-away databases never outlive their run: dropped on exit and on SIGTERM, and a run killed
outright is cleaned up by the next one (issue 7)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from polyplan.stores.relational.connect import create_engine, scratch_database
from polyplan.testkit import resolve_url

SERVERS = [pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql)]


def databases(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return {r[0] for r in connection.exec_driver_sql("SELECT datname FROM pg_database")}
            return {r[0] for r in connection.exec_driver_sql("SHOW DATABASES")}
    finally:
        engine.dispose()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("engine", SERVERS)
def test_a_killed_runs_database_is_dropped_by_the_next_run(engine: str) -> None:
    url = resolve_url(engine)
    abandoned = f"polyplan_{dead_pid()}_{'ab' * 12}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {abandoned}")
    admin.dispose()
    assert abandoned in databases(url)
    with scratch_database(url) as scratch:
        with scratch.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        assert abandoned not in databases(url)


@pytest.mark.parametrize("engine", SERVERS)
def test_a_database_in_use_by_a_live_run_is_kept(engine: str) -> None:
    url = resolve_url(engine)
    with scratch_database(url) as first:
        name = first.url.database
        with scratch_database(url):
            assert name in databases(url)
    assert name not in databases(url)


@pytest.mark.parametrize("engine", SERVERS)
def test_sigterm_drops_the_database(engine: str) -> None:
    url = resolve_url(engine)
    script = (
        "import sys, time\n"
        "from polyplan.stores.relational.connect import scratch_database\n"
        "with scratch_database(sys.argv[1]) as e:\n"
        "    print(e.url.database, flush=True)\n"
        "    time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    name = process.stdout.readline().strip()
    assert name in databases(url)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    deadline = time.monotonic() + 10
    while name in databases(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert name not in databases(url)

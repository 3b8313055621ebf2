"""`polyplan seed` as the README shows it (issue 13): it creates the schema in an empty database,
and a second run is refused in one line (PP605) unless --truncate or --if-empty says what to do;
part of a schema is refused (PP606). On SQLite always, on PostgreSQL and MariaDB for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url

ROOT = Path(__file__).resolve().parent.parent
SHOP = "scenarios/shop.yaml"
TABLES = 7  # shop's relational tables, link and child tables included


def seed(engine: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m polyplan seed` on the shop scenario, exactly as a user types it."""
    env = {k: v for k, v in os.environ.items() if k != "POLYPLAN_DEBUG"} | {"NO_COLOR": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "polyplan", "seed", SHOP, "--engine", engine, "--url", url, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def orders(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            order = sa.table("order")  # a reserved word: SQLAlchemy quotes it per dialect
            return int(connection.execute(sa.select(sa.func.count()).select_from(order)).scalar_one())
    finally:
        engine.dispose()


def run_twice(engine: str, url: str) -> None:
    """The README's command on an empty database, again, then with each way to re-run."""
    first = seed(engine, url, "--rows", "20")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("loaded ") and f"into {TABLES} tables" in first.stdout and "rows/s" in first.stdout
    assert orders(url) == 20

    again = seed(engine, url, "--rows", "20")
    (line,) = again.stderr.strip().splitlines()
    assert again.returncode == 2 and line.startswith("polyplan seed: the planned tables already hold rows (")
    assert line.endswith("pass --truncate to replace them, or --if-empty to load only into an empty database [PP605]")
    assert orders(url) == 20  # nothing written

    skipped = seed(engine, url, "--rows", "20", "--if-empty")
    assert skipped.returncode == 0 and "nothing loaded (--if-empty)" in skipped.stdout
    replaced = seed(engine, url, "--rows", "30", "--truncate")
    assert replaced.returncode == 0, replaced.stderr
    assert orders(url) == 30


def test_seed_twice_on_sqlite(tmp_path: Path) -> None:
    run_twice("sqlite", f"sqlite:///{tmp_path / 'shop.db'}")


@pytest.mark.postgresql
def test_seed_twice_on_postgresql() -> None:
    with scratch_database(resolve_url("postgresql")) as engine:
        run_twice("postgresql", engine.url.render_as_string(hide_password=False))


@pytest.mark.mysql
def test_seed_twice_on_mysql() -> None:
    with scratch_database(resolve_url("mysql")) as engine:
        run_twice("mysql", engine.url.render_as_string(hide_password=False))


def test_part_of_a_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE product (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    done = seed("sqlite", url, "--rows", "5")
    (line,) = done.stderr.strip().splitlines()
    assert done.returncode == 2 and line.startswith(
        f"polyplan seed: the database holds 1 of the {TABLES} planned tables"
    )
    assert line.endswith("[PP606]")


def test_no_create_schema_says_how_to_create_it(tmp_path: Path) -> None:
    done = seed("sqlite", f"sqlite:///{tmp_path / 'empty.db'}", "--rows", "5", "--no-create-schema")
    (line,) = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "apply relational/sqlite/schema.sql from `polyplan plan` first [PP606]" in line


def test_truncate_and_if_empty_exclude_each_other(tmp_path: Path) -> None:
    done = seed("sqlite", f"sqlite:///{tmp_path / 'x.db'}", "--rows", "5", "--truncate", "--if-empty")
    assert done.returncode == 2 and "at most one of --truncate and --if-empty" in done.stderr

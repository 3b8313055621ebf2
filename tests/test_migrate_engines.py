"""Every consecutive pair of model versions in scenarios/history/, on the real SQLite,
PostgreSQL and MariaDB (issue 9): the baseline revision creates the old schema in a throw-away
database, seeded rows go in, then `alembic upgrade head` → `downgrade` → `upgrade`. No row is
lost, every kept value arrives in its new column, the downgrade restores the old data (dropped
columns included), and the
second upgrade ends with data equal (checksums) to the first. Never skipped under POLYPLAN_REQUIRE."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from polyplan.migrate.context import Design
from polyplan.migrate.diff import designs_of, diff_plans
from polyplan.migrate.folder import write_migration
from polyplan.migrate.ops import ColumnChange, Conversion, DropTable, RenameTable, ReplaceIndex
from polyplan.migrate.revisions import Phase, phase_steps
from polyplan.migrate.sql import BACKFILL_BATCH, Step
from polyplan.migrate.status import drift
from polyplan.pipeline import plan_file
from polyplan.seed.generate import feasible_rows, generate
from polyplan.seed.relational import load_rows, table_rows
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.test_bad_input import run_main

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "scenarios" / "history"
INPUTS = ROOT / "tests" / "migrate_inputs"
ROWS = 25


def design_tables(plan: Any) -> set[str]:
    return set(designs_of(plan)["postgresql"].tables)


def pairs() -> Iterator[tuple[str, Path, Path]]:
    for folder in sorted(p for p in HISTORY.iterdir() if p.is_dir()):
        versions = sorted(folder.glob("v*.yaml"), key=lambda p: int(p.stem[1:]))
        for old, new in pairwise(versions):
            yield folder.name, old, new


PAIRS = list(pairs())
ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return "NULL" if value is None else str(value)


def table_data(
    connection: sa.Connection, design: Design, table: str, identity: Sequence[str] = ()
) -> dict[str, dict[str, str]]:
    """Column → (primary key as text → value as text) of one table, read through its design; a
    table that is keyless in one version (key: {kind: none}) is identified by `identity`."""
    built = design.table(table)
    key = list(identity) or [c.name for c in built.primary_key.columns]
    data: dict[str, dict[str, str]] = {c.name: {} for c in built.columns}
    for row in connection.execute(sa.select(built)).mappings():
        identity = "|".join(_value(row[k]) for k in key)
        for column in built.columns:
            data[column.name][identity] = _value(row[column.name])
    return data


def snapshot(
    engine: sa.Engine, design: Design, identity: Mapping[str, Sequence[str]] | None = None
) -> dict[str, dict[str, dict[str, str]]]:
    with engine.connect() as connection:
        return {name: table_data(connection, design, name, (identity or {}).get(name, ())) for name in design.tables}


def checksum(data: dict[str, dict[str, dict[str, str]]]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def counts(data: dict[str, dict[str, dict[str, str]]]) -> dict[str, int]:
    return {table: len(next(iter(columns.values()), {})) for table, columns in data.items()}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("pair", PAIRS, ids=[f"{name}-{old.stem}-{new.stem}" for name, old, new in PAIRS])
def test_upgrade_downgrade_upgrade_keeps_every_row(pair: tuple[str, Path, Path], engine: str, tmp_path: Path) -> None:
    _, old_path, new_path = pair
    round_trip(old_path, new_path, engine, tmp_path)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_index_redefined_under_its_name_is_replaced(engine: str, tmp_path: Path) -> None:
    """The covering index of a board keeps its name while a column it includes is renamed, another
    is retyped and it gains one: on MariaDB, where CHANGE COLUMN carries an index along, the index
    must still be replaced (the round trip ends with no drift), and on every engine it is built
    before the contract, which only swaps it in."""
    old_path, new_path = INPUTS / "covering_v1.yaml", INPUTS / "covering_v2.yaml"
    versions = diff_plans(plan_file(old_path), plan_file(new_path))
    replaced = [op for op in versions.operations if isinstance(op, ReplaceIndex)]
    assert [(op.name, op.redefined, sorted(m.column for m in op.moves)) for op in replaced] == [
        ("ix_ticket_queue_id", True, ["position", "weight"])
    ]
    expand = " ".join(s.sql for s in phase_steps(versions, Phase.EXPAND)[engine])
    if engine != "sqlite":  # SQLite rebuilds the table, indexes and all, in the contract
        assert "CREATE INDEX ix_ticket_queue_id__polyplan_new" in expand.replace("CONCURRENTLY ", "")
    round_trip(old_path, new_path, engine, tmp_path)


def round_trip(
    old_path: Path, new_path: Path, engine: str, tmp_path: Path, identity: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Seed the old version, upgrade, downgrade, upgrade: no row lost, no drift, data equal
    (`identity`: the columns that identify the rows of a table that has no key in one version)."""
    old, new = plan_file(old_path), plan_file(new_path)
    migration = write_migration(old, new, old_path, new_path, tmp_path / "migrations")
    baseline = migration.added[0].id
    before, after = migration.versions.designs[engine]
    ops = migration.versions.operations
    url = resolve_url(engine)
    with scratch_database(url) as database:
        config = Config(str(tmp_path / "migrations" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, baseline)
        data = generate(old.model, feasible_rows(old.model, dict.fromkeys(old.model.entities, ROWS)), seed=9)
        with database.begin() as connection:
            loaded = load_rows(
                connection, before.rendered.metadata, table_rows(list(before.tables.values()), data, engine)
            )
        assert sum(loaded.values()) > ROWS
        v1 = snapshot(database, before, identity)
        assert counts(v1) == {t: n for t, n in loaded.items() if t in v1}

        command.upgrade(config, "head")
        with database.connect() as connection:  # the migrated schema is the one a fresh plan creates
            assert [d.describe() for d in drift(new, connection)] == []
        v2 = snapshot(database, after, identity)
        renamed_tables = {op.old: op.table for op in ops if isinstance(op, RenameTable)}
        dropped_tables = {op.table for op in ops if isinstance(op, DropTable)}
        moved = {(op.table, op.column): op.old for op in ops if isinstance(op, ColumnChange)}
        for table, columns in v1.items():
            if table in dropped_tables:
                continue
            new_table = renamed_tables.get(table, table)
            assert counts(v2)[new_table] == counts(v1)[table], f"rows lost in {table}"
            for column in v2[new_table]:
                source = moved.get((new_table, column), column)
                if source in columns:
                    assert v2[new_table][column] == columns[source], f"{table}.{source} → {new_table}.{column}"

        command.downgrade(config, baseline)
        with database.connect() as connection:
            assert [d.describe() for d in drift(old, connection)] == []
        back = snapshot(database, before, identity)
        # Dropped columns come back with their values (kept aside by the contract revision).
        for table, columns in v1.items():
            if table in dropped_tables:
                assert counts(back)[table] == 0  # a dropped table comes back empty: its data is gone by design
                continue
            assert back[table] == columns, f"{table} differs after the downgrade"

        command.upgrade(config, "head")
        assert checksum(snapshot(database, after, identity)) == checksum(v2)


def test_the_histories_cover_the_changes_of_issue_9() -> None:
    """The pairs above include every kind of change the issue asks to show (relational)."""
    kinds: set[str] = set()
    conversions: set[Conversion] = set()
    for _, old, new in PAIRS:
        versions = diff_plans(plan_file(old), plan_file(new))
        kinds |= {op.kind for op in versions.operations}
        conversions |= {op.conversion for op in versions.operations if isinstance(op, ColumnChange)}
    assert {Conversion.WIDEN, Conversion.NARROW} <= conversions
    assert {
        "add_table",
        "drop_table",
        "rename_table",
        "add_column",
        "drop_column",
        "rename_column",
        "alter_column_type",
        "add_index",
        "drop_index",
        "replace_index",
        "replace_constraint",
    } <= kinds
    assert {name for name, _, _ in PAIRS} == {"shop", "saas", "iot", "social"}  # the four bundled scenarios


@pytest.mark.parametrize("engine", ENGINES)
def test_a_whole_history_in_one_folder(engine: str, tmp_path: Path) -> None:
    """Every version of the shop in one folder, chained: head and back to the baseline and up."""
    folder = tmp_path / "migrations"
    steps = [(old, new) for name, old, new in PAIRS if name == "shop"]
    added = [write_migration(plan_file(old), plan_file(new), old, new, folder).added for old, new in steps]
    assert [len(a) for a in added] == [3] + [2] * (len(steps) - 1)
    baseline = added[0][0].id
    last = plan_file(steps[-1][1])
    with scratch_database(resolve_url(engine)) as database:
        config = Config(str(folder / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, "head")
        command.downgrade(config, baseline)
        command.upgrade(config, "head")
        with database.connect() as connection:
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
            tables = set(sa.inspect(connection).get_table_names())
    assert version == added[-1][-1].id
    expected = design_tables(last)
    assert expected <= tables and not {t for t in tables if t.startswith("_polyplan_new_")}


@pytest.mark.parametrize("engine", ENGINES)
def test_status_reports_drift(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`polyplan status`: no drift after the migrations (exit 0); a column and an index added and an
    index dropped by hand are reported (exit 1)."""
    old_path, new_path = HISTORY / "shop" / "v1.yaml", HISTORY / "shop" / "v2.yaml"
    migration = write_migration(plan_file(old_path), plan_file(new_path), old_path, new_path, tmp_path / "m")
    with scratch_database(resolve_url(engine)) as database:
        url = database.url.render_as_string(hide_password=False)
        config = Config(str(tmp_path / "m" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        command.upgrade(config, "head")
        code, out, _ = run_main(["status", str(new_path), "--url", url], monkeypatch, capsys)
        assert (code, out.splitlines()) == (
            0,
            [f"alembic revision: {migration.added[-1].id}", f"no drift: the database matches {new_path}"],
        )
        with database.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE customer ADD COLUMN nickname VARCHAR(20)")
            connection.exec_driver_sql("CREATE INDEX ix_by_hand ON product (sku, stock)")
            drop = "DROP INDEX ix_customer_country_created_at"
            connection.exec_driver_sql(drop + (" ON customer" if engine == "mysql" else ""))
        code, out, _ = run_main(["status", str(new_path), "--url", url], monkeypatch, capsys)
    assert code == 1
    assert out.splitlines()[1:] == [
        "added: column customer.nickname",
        "missing: index customer.ix_customer_country_created_at",
        "added: index product.ix_by_hand",
    ]


@pytest.mark.postgresql
def test_the_postgresql_backfill_runs_in_batches(tmp_path: Path) -> None:
    """More rows than one batch: the loop commits batch after batch and leaves no row behind."""
    inputs = ROOT / "tests" / "migrate_inputs"
    old_path, new_path = inputs / "base.yaml", inputs / "good.yaml"
    old = plan_file(old_path)
    migration = write_migration(old, plan_file(new_path), old_path, new_path, tmp_path / "m")
    expand = next(r for r in migration.added if r.phase.value == "expand")
    assert any(f"LIMIT {BACKFILL_BATCH}" in s.sql for s in expand.upgrade["postgresql"])
    before, after = migration.versions.designs["postgresql"]
    with scratch_database(resolve_url("postgresql")) as database:
        config = Config(str(tmp_path / "m" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, migration.added[0].id)
        rows = 2 * BACKFILL_BATCH + 7
        data = generate(old.model, {"Customer": rows, "Order": 0}, seed=3)
        with database.begin() as connection:
            load_rows(
                connection, before.rendered.metadata, table_rows(list(before.tables.values()), data, "postgresql")
            )
        names = snapshot(database, before)["customer"]["full_name"]
        command.upgrade(config, expand.id)
        with database.connect() as connection:
            # Both names are there while the old version runs, each row in step.
            pairs = connection.exec_driver_sql("SELECT full_name, name FROM customer").all()
            inserted = connection.exec_driver_sql(
                "INSERT INTO customer (id, email, full_name, vip) VALUES (gen_random_uuid(), 'x@y', 'Old App', false) "
                "RETURNING name"
            ).scalar_one()
            connection.rollback()
        assert len(pairs) == rows and all(a == b for a, b in pairs)
        assert inserted == "Old App"  # a write of the old version reaches the new column through the trigger
        command.upgrade(config, "head")
        assert snapshot(database, after)["customer"]["name"] == names


# Valid indexes of `task` that lead with project_id (the board's filter), as a reader sees them.
BOARD_INDEXES = """
SELECT c.relname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid AND t.relname = 'task'
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE a.attname = 'project_id' AND i.indisvalid AND i.indisready
ORDER BY c.relname
"""


def _run_watched(connection: Any, watcher: Any, steps: list[Step]) -> list[list[str]]:
    """Run `steps` as a revision script does (autocommit steps alone, the others in a transaction
    until the next autocommit step) and return the board's indexes another session sees after each."""
    seen: list[list[str]] = []
    for step in steps:
        if step.autocommit and not connection.autocommit:
            connection.commit()
            connection.autocommit = True
        elif not step.autocommit and connection.autocommit:
            connection.autocommit = False
        connection.execute(step.sql)
        seen.append([row[0] for row in watcher.execute(BOARD_INDEXES).fetchall()])
    if not connection.autocommit:
        connection.commit()
        connection.autocommit = True
    return seen


@pytest.mark.postgresql
def test_the_saas_board_keeps_an_index_through_every_step(tmp_path: Path) -> None:
    """saas v1 → v2 retypes, widens and renames columns the board's covering index includes. On the
    real PostgreSQL, after every step of the contract and of both downgrades, a valid index that
    leads with project_id is there for `board` (a seq scan of `task` otherwise, which at a million
    rows kept the contract's ALTER from ever getting its lock: bench/migrations.py)."""
    old_path, new_path = HISTORY / "saas" / "v1.yaml", HISTORY / "saas" / "v2.yaml"
    old = plan_file(old_path)
    migration = write_migration(old, plan_file(new_path), old_path, new_path, tmp_path / "m")
    baseline, expand, contract = migration.added
    before = migration.versions.designs["postgresql"][0]
    with scratch_database(resolve_url("postgresql")) as database:
        config = Config(str(tmp_path / "m" / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%"))
        command.upgrade(config, baseline.id)
        data = generate(old.model, feasible_rows(old.model, dict.fromkeys(old.model.entities, ROWS)), seed=9)
        with database.begin() as connection:
            load_rows(
                connection, before.rendered.metadata, table_rows(list(before.tables.values()), data, "postgresql")
            )
        command.upgrade(config, expand.id)
        conninfo = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with (
            psycopg.connect(conninfo, autocommit=True) as connection,
            psycopg.connect(conninfo, autocommit=True) as watcher,
        ):
            both = ["ix_task_project_id_covering", "ix_task_project_id_covering__polyplan_new"]
            assert [r[0] for r in watcher.execute(BOARD_INDEXES).fetchall()] == both  # the expand built it beside
            for name, steps, left in (
                ("contract", contract.upgrade["postgresql"], both[:1]),
                ("contract's downgrade", contract.downgrade["postgresql"], both),  # v1's rebuilt beside
                ("expand's downgrade", expand.downgrade["postgresql"], both[:1]),
            ):
                seen = _run_watched(connection, watcher, steps)
                bare = [steps[i].sql for i, names in enumerate(seen) if not names]
                assert not bare, f"{name}: no index for board after {bare}"
                assert seen[-1] == left, (name, seen[-1])
                if name == "contract":
                    # The old index went and the replacement took its name, columns renamed into place.
                    definition = watcher.execute("SELECT pg_get_indexdef('ix_task_project_id_covering'::regclass)")
                    assert definition.fetchone()[0].endswith(  # type: ignore[index]
                        '(project_id) INCLUDE (id, title, status, priority, "position", assignee_id)'
                    )
        with database.connect() as connection:  # back at v1, as a fresh plan of v1 creates it
            assert [d.describe() for d in drift(old, connection)] == []

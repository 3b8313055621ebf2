"""Room for heap-only updates (issue 14): a PostgreSQL table whose rows are updated in place
often enough, in columns no index holds, gets a lower heap fillfactor (heap_fill.py), so the
updates find room on their page and stay HOT. On the real PostgreSQL the designed table keeps
(nearly) every update HOT while the same table at the default fillfactor loses a share of them;
the migration sets and resets the parameter, and drift sees a hand-made change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.migrate.diff import diff_plans
from polyplan.migrate.status import drift
from polyplan.migrate.storage_ops import ChangeFillfactor
from polyplan.pipeline import plan_text, render
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.heap_fill import fillfactor_for, heap_fill_of
from polyplan.stores.relational.sizing import table_size
from polyplan.stores.relational.spec import TableSpec
from polyplan.testkit import resolve_url
from tests.test_migrate_engines import round_trip

LEDGER = """\
name: ledger
engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
options: {relational_dialects: [postgresql, mysql, sqlite]}
entities:
  Account:
    key: {attributes: [number], kind: natural}
    attributes:
      number: {type: integer}
      balance: {type: integer}
      owner: {type: string, max_length: 80}
    growth: {initial_rows: 20000}
  Branch:
    key: {attributes: [code], kind: natural}
    attributes:
      code: {type: string, max_length: 8}
access_patterns:
  - {name: account_by_number, entity: Account, filters: [{attribute: number}], rate: 100}
write_patterns:
  - {name: post_amount, entity: Account, kind: increment, attributes: [balance], rate: RATE}
"""
ROWS = 20_000
UPDATES = 3_000


def ledger(rate: float = 50, version: int = 1) -> str:
    return LEDGER.replace("RATE", str(rate)).replace("name: ledger\n", f"name: ledger\nversion: {version}\n")


def account(text: str) -> TableSpec:
    tables, _ = design_schema(plan_text(text))
    return next(t for t in tables if t.name == "account")


def test_frequent_updates_of_unindexed_columns_get_room_on_the_page() -> None:
    fill = heap_fill_of(account(ledger()))
    assert fill is not None
    assert fill.fillfactor == 90
    assert fill.patterns == ("post_amount",)
    assert fill.turnover_per_day == pytest.approx(50 * 86_400 / ROWS)


def test_rare_updates_keep_the_default() -> None:
    # 0.1 updates/s over 20,000 rows: each row about once in two days, pruning keeps up.
    assert heap_fill_of(account(ledger(rate=0.1))) is None


def test_an_update_of_an_indexed_column_is_not_hot_anyway() -> None:
    richest = (
        "  - {name: richest, entity: Account, sort: [{attribute: balance, direction: desc}], limit: 10, rate: 50}\n"
    )
    spec = account(ledger().replace("write_patterns:", richest + "write_patterns:"))
    assert any("balance" in {c.name for c in i.columns} for i in spec.indexes)
    assert heap_fill_of(spec) is None


def test_wider_rows_leave_room_for_one_version_and_the_widest_keep_the_default() -> None:
    assert fillfactor_for(120) == 90
    assert fillfactor_for(1_000) == 87  # 100 - ceil(100 × 1000 / 8192)
    assert (
        heap_fill_of(account(ledger().replace("max_length: 80", "max_length: 1200, avg_length: 1000"))).fillfactor == 87
    )  # type: ignore[union-attr]
    # Owners of 1,800 characters on average: a fillfactor of 77 would grow the heap by 30 %.
    assert heap_fill_of(account(ledger().replace("max_length: 80", "max_length: 2000, avg_length: 1800"))) is None


def test_only_postgresql_gets_the_storage_parameter_and_its_size_counts_it() -> None:
    plan = plan_text(ledger())
    files, _ = render(plan)
    assert "WITH (fillfactor = 90)" in files["relational/postgresql/schema.sql"]
    assert "fillfactor" not in files["relational/mysql/schema.sql"]
    assert "fillfactor" not in files["relational/sqlite/schema.sql"]
    assert (
        "`account`: heap fillfactor 90 on PostgreSQL: post_amount writes no indexed column"
        in files["docs/index-plan.md"]
    )
    sizing = plan.sizing("postgresql")
    designed = table_size(account(ledger()), ROWS, "postgresql", sizing)
    default = table_size(account(ledger(rate=0.1)), ROWS, "postgresql", sizing)
    assert designed.data_bytes / default.data_bytes == pytest.approx(100 / 90, rel=0.03)


def test_the_migration_sets_and_resets_the_fillfactor() -> None:
    rare, frequent, rare_again = plan_text(ledger(0.1, 1)), plan_text(ledger(50, 2)), plan_text(ledger(0.1, 3))
    assert diff_plans(rare, frequent).operations == (ChangeFillfactor("account"),)
    assert diff_plans(frequent, rare_again).operations == (ChangeFillfactor("account"),)


def hot_share(engine: sa.Engine, schema: str) -> float:
    """Fill the ledger, run UPDATES single-row increments (each its own transaction, rows spread
    over every page), and return n_tup_hot_upd / n_tup_upd of account."""
    apply_sql(engine, schema)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"INSERT INTO account (number, balance, owner) SELECT g, 0, repeat('o', 60) FROM generate_series(1, {ROWS}) AS g"
            )
        )
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as connection:
        connection.execute(sa.text("VACUUM ANALYZE account"))
        # One round trip: a DO block may commit between its statements when run outside a transaction.
        connection.execute(
            sa.text(
                f"DO $$ BEGIN FOR i IN 1..{UPDATES} LOOP "
                f"UPDATE account SET balance = balance + 1 WHERE number = (i * 7919) % {ROWS} + 1; COMMIT; "
                "END LOOP; END $$"
            )
        )
        connection.execute(sa.text("SELECT pg_stat_force_next_flush()"))
    deadline = time.monotonic() + 10
    while True:
        with engine.connect() as connection:
            updated, hot = connection.execute(
                sa.text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'account'")
            ).one()
        if updated >= UPDATES or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert updated == UPDATES
    return float(hot) / float(updated)


@pytest.mark.postgresql
def test_the_designed_fillfactor_keeps_the_increments_hot_on_postgresql(tmp_path: Path) -> None:
    plan = plan_text(ledger())
    files, _ = render(plan)
    schema = files["relational/postgresql/schema.sql"]
    url = resolve_url("postgresql")
    with scratch_database(url) as engine:
        designed = hot_share(engine, schema)
        with engine.connect() as connection:
            assert drift(plan, connection) == []
            connection.execute(sa.text("ALTER TABLE account RESET (fillfactor)"))
            assert [d.describe() for d in drift(plan, connection)] == ["changed: storage parameter account.fillfactor"]
    with scratch_database(url) as engine:
        default = hot_share(engine, schema.replace("\n WITH (fillfactor = 90)", ""))
    print(f"HOT share: designed {designed:.1%}, fillfactor 100 {default:.1%}")
    assert designed > 0.97, f"HOT share at the designed fillfactor: {designed:.1%}"
    assert default < designed - 0.05, f"HOT share at fillfactor 100: {default:.1%} (designed {designed:.1%})"


@pytest.mark.postgresql
def test_the_fillfactor_migrates_both_ways_without_drift(tmp_path: Path) -> None:
    rare, frequent = tmp_path / "rare.yaml", tmp_path / "frequent.yaml"
    rare.write_text(ledger(0.1, 1), encoding="utf-8")
    frequent.write_text(ledger(50, 2), encoding="utf-8")
    round_trip(rare, frequent, "postgresql", tmp_path)

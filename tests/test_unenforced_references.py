"""References the application keeps (`enforced: false`, issue 14's OLTP benchmark).

pgbench's history has no foreign keys, and on a quiet host the three checked references of
polyplan's design cost TPC-B-like throughput (docs/benchmarks.md). The model can now say so: the
relational DDL of every dialect has no constraint for the reference, the schema report says the
database does not check it, the engines accept an orphan (the consequence, shown on the real servers), the
generated tests pass, the relationship still counts for the index design, and a migration
between the two versions adds or drops the constraint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.migrate.diff import diff_plans
from polyplan.pipeline import plan_file, render
from polyplan.stores.relational.connect import scratch_database
from polyplan.stores.relational.design import design_schema
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, plan_folder
from tests.test_migrate_engines import round_trip

INPUTS = Path(__file__).resolve().parent / "migrate_inputs"
ENFORCED = INPUTS / "ledger_enforced.yaml"
UNENFORCED = INPUTS / "ledger_unenforced.yaml"
DIALECT_FOLDERS = ("postgresql", "mysql", "sqlite")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(UNENFORCED.read_text(encoding="utf-8"), "ledger.yaml", tmp_path_factory.mktemp("ledger"))


@pytest.fixture(scope="module")
def enforced_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(ENFORCED.read_text(encoding="utf-8"), "ledger.yaml", tmp_path_factory.mktemp("enforced"))


@pytest.mark.parametrize("dialect", DIALECT_FOLDERS)
def test_no_dialect_declares_the_foreign_key(folder: Path, enforced_folder: Path, dialect: str) -> None:
    schema = (folder / "relational" / dialect / "schema.sql").read_text(encoding="utf-8")
    assert "FOREIGN KEY" not in schema
    enforced = (enforced_folder / "relational" / dialect / "schema.sql").read_text(encoding="utf-8")
    assert "FOREIGN KEY(account_number) REFERENCES account" in enforced


def test_the_design_keeps_the_reference_and_the_schema_report_says_it_is_unchecked(folder: Path) -> None:
    tables, _ = design_schema(plan_file(UNENFORCED))
    (entry,) = [t for t in tables if t.name == "entry"]
    (reference,) = entry.foreign_keys
    assert (reference.columns, reference.ref_table, reference.enforced) == (("account_number",), "account", False)
    report = (folder / "docs" / "index.html").read_text(encoding="utf-8")
    assert "FK → account.number not checked by the database (enforced: false)" in report
    assert "FK → account.number on delete" not in report


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_the_engine_accepts_an_orphan_and_the_generated_tests_pass(folder: Path, engine: str) -> None:
    url = resolve_url(engine)
    assert run_validation(folder, engine, url) == 0
    schema = (folder / "relational" / engine / "schema.sql").read_text(encoding="utf-8")
    with scratch_database(url) as database, database.begin() as connection:
        if engine == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        for statement in (s for s in schema.split(";\n") if s.strip() and "CREATE TABLE" in s):
            connection.exec_driver_sql(statement)
        connection.execute(
            sa.text("INSERT INTO entry (delta, at, account_number) VALUES (5, CURRENT_TIMESTAMP, 424242)")
        )
        assert connection.execute(sa.text("SELECT count(*) FROM entry WHERE account_number = 424242")).scalar() == 1


def test_a_migration_to_the_unenforced_version_drops_the_constraint() -> None:
    operations = diff_plans(plan_file(ENFORCED), plan_file(UNENFORCED)).operations
    assert [(type(op).__name__, op.table, op.name) for op in operations] == [
        ("DropConstraint", "entry", "fk_entry_account_number")
    ]


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_the_migration_runs_both_ways_on_the_engine(engine: str, tmp_path: Path) -> None:
    # Upgrade, downgrade (the constraint added back), upgrade, with the seeded rows kept.
    round_trip(ENFORCED, UNENFORCED, engine, tmp_path, {"entry": ["account_number", "delta", "at"]})


def test_a_checked_reference_between_hot_writes_gets_pp483_and_an_unchecked_one_does_not() -> None:
    enforced = [d for d in render(plan_file(ENFORCED))[1] if d.code == "PP483"]
    assert [(d.path, d.severity.value) for d in enforced] == [("relationships.0", "warning")]
    assert "each Entry insert (100/s) checks its Account row and locks it" in enforced[0].message
    assert "post_to_account updates Account rows 100 times a second" in enforced[0].message
    assert not [d for d in render(plan_file(UNENFORCED))[1] if d.code == "PP483"]

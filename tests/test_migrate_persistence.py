"""A loss-tolerable entity's table is UNLOGGED on PostgreSQL (caps.py). Before, declaring an
entity loss-tolerable in a new version changed schema.sql and only the table's comment migrated:
a database migrated to that version stayed logged, and nothing reported the difference. Now the
migration sets the table UNLOGGED (and LOGGED on the way back), the lint says it rewrites the
table under a lock (PP801), and drift sees a persistence changed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.migrate.comment_ops import ChangeComment
from polyplan.migrate.diff import diff_plans
from polyplan.migrate.lint import lint_sql
from polyplan.migrate.status import drift
from polyplan.migrate.storage_ops import ChangePersistence
from polyplan.pipeline import plan_text, render
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.testkit import resolve_url
from tests.test_migrate_engines import round_trip

MODEL = """\
name: telemetry
version: VERSION
engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
options: {relational_dialects: [postgresql, sqlite]}
entities:
  Device:
    attributes:
      label: {type: string, max_length: 40}
  Reading:
    LOSS
    attributes:
      taken_at: {type: timestamp}
      value: {type: float}
"""


def model(version: int, tolerant: bool) -> str:
    return MODEL.replace("VERSION", str(version)).replace("LOSS", "loss_tolerable: true" if tolerant else "")


def test_declaring_loss_tolerance_changes_the_persistence() -> None:
    durable, tolerant, durable_again = (
        plan_text(model(1, False)),
        plan_text(model(2, True)),
        plan_text(model(3, False)),
    )
    assert diff_plans(durable, tolerant).operations == (ChangeComment("reading"), ChangePersistence("reading"))
    assert diff_plans(tolerant, durable_again).operations == (ChangeComment("reading"), ChangePersistence("reading"))


def test_the_lint_says_the_table_is_rewritten() -> None:
    found = lint_sql("SET lock_timeout = '5s';\nALTER TABLE reading SET UNLOGGED;\n", "postgresql")
    assert [d.code for d in found] == ["PP813"]


@pytest.mark.postgresql
def test_the_persistence_migrates_both_ways_without_drift(tmp_path: Path) -> None:
    durable, tolerant = tmp_path / "durable.yaml", tmp_path / "tolerant.yaml"
    durable.write_text(model(1, False), encoding="utf-8")
    tolerant.write_text(model(2, True), encoding="utf-8")
    round_trip(durable, tolerant, "postgresql", tmp_path)


@pytest.mark.postgresql
def test_drift_sees_a_persistence_changed_by_hand() -> None:
    plan = plan_text(model(2, True))
    files, _ = render(plan)
    with scratch_database(resolve_url("postgresql")) as engine:
        apply_sql(engine, files["relational/postgresql/schema.sql"])
        with engine.connect() as connection:
            assert drift(plan, connection) == []
            connection.execute(sa.text("ALTER TABLE reading SET LOGGED"))
            assert [d.describe() for d in drift(plan, connection)] == ["changed: persistence reading.unlogged"]

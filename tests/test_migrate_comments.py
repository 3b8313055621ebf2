"""A description edited in the model reaches the database's comments through the migration.

Before, an edited description changed schema.sql but produced no operation, so a database
migrated to the new version drifted from it (`polyplan migrate status`: "changed: column …
(comment)"). The round trip on every engine upgrades, downgrades and upgrades again with seeded
rows and requires no drift at each version.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.migrate.comment_ops import ChangeComment
from polyplan.migrate.diff import diff_plans
from polyplan.pipeline import plan_file
from tests.conftest import RELATIONAL_ENGINES
from tests.test_migrate_engines import round_trip

INPUTS = Path(__file__).resolve().parent / "migrate_inputs"
OLD = INPUTS / "ledger_enforced.yaml"
NEW = INPUTS / "ledger_described.yaml"


def test_an_edited_description_is_one_comment_operation_per_table_or_column() -> None:
    operations = diff_plans(plan_file(OLD), plan_file(NEW)).operations
    assert operations == (ChangeComment("account"), ChangeComment("account", "balance"))
    assert [op.describe() for op in operations] == ["~ comment account", "~ comment account.balance"]


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_the_comments_migrate_both_ways_without_drift(engine: str, tmp_path: Path) -> None:
    round_trip(OLD, NEW, engine, tmp_path, {"entry": ["account_number", "delta", "at"]})

"""An index with the designed name but the wrong columns fails the generated SQLite tests.

Before the exact checks, SQLite's `SCAN "order" USING COVERING INDEX ix_order_customer_id` (the
whole index read, because customer_id no longer leads it) passed as "uses the index". Now both the
plan check (no search on customer_id) and the catalog check (key columns differ) reject it.
"""

from __future__ import annotations

from pathlib import Path

from polyplan.validate.runner import EXIT_FAILED, run_validation
from tests.conftest import SCENARIOS, write_relational_folder
from tests.test_indexes_engines import run_generated

DESIGNED = 'CREATE INDEX ix_order_customer_id ON "order" (customer_id, id, number, status, total, placed_at);'
# Same name, same columns, customer_id moved off the front: still covering, no longer searchable.
WRONG = 'CREATE INDEX ix_order_customer_id ON "order" (id, customer_id, number, status, total, placed_at);'


def write_folder(folder: Path) -> Path:
    """The shop scenario's relational artifacts and generated tests, as `polyplan plan` writes them."""
    return write_relational_folder(next(s for s in SCENARIOS if s.stem == "shop"), folder)


def test_an_index_with_the_designed_name_and_wrong_columns_is_caught(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "shop")
    schema = folder / "relational" / "sqlite" / "schema.sql"
    text = schema.read_text(encoding="utf-8")
    assert DESIGNED in text
    schema.write_text(text.replace(DESIGNED, WRONG), encoding="utf-8")

    assert run_validation(folder, "sqlite", trust_edits=True) == EXIT_FAILED

    # And it fails for the right reasons, named in the output.
    done = run_generated(folder, "sqlite", "sqlite://")
    assert done.returncode == 1, done.stdout[-4000:]
    assert "FAILED tests/test_sqlite_indexes.py::test_pattern_uses_its_index[orders_of_customer]" in done.stdout
    assert "FAILED tests/test_sqlite_indexes.py::test_every_designed_index_matches_the_catalog" in done.stdout
    assert "not searched on customer_id" in done.stdout
    assert "SCAN order USING COVERING INDEX ix_order_customer_id" in done.stdout
    assert "order.ix_order_customer_id key is (id, customer_id, number, status, total, placed_at)" in done.stdout

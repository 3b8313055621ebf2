"""The checkers are checked: a sabotaged oracle or EXPLAIN reader lets mutations through.

If the result comparison always said "no problems", or the EXPLAIN reader always said "uses the
index", and the mutation suite still caught everything, the suite would prove nothing about
them. Here each is sabotaged in turn and the same mutations must then survive, while the
intact checker catches them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from polyplan.stores.relational.connect import scratch_database
from polyplan.validate import relational
from polyplan.validate.mutations import Outcome, defeat_index_mutations, query_mutations
from tests.conftest import SCENARIOS, write_relational_folder
from tests.test_mutations import check_queries, issue_list, run_rounds

# A pytest plugin for the child run of the generated tests: the EXPLAIN reader finds no problem.
SABOTAGE_PLUGIN = """
from polyplan.stores.relational import explain


def _no_problems(*args, **kwargs):
    return []


explain.plan_problems = _no_problems
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_relational_folder(next(s for s in SCENARIOS if s.stem == "shop"), tmp_path_factory.mktemp("shop"))


def _survivors(outcomes: list[Outcome]) -> set[str]:
    return {o.mutation.label for o in outcomes if not o.caught}


def test_a_sabotaged_oracle_lets_the_issue_mutations_through(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mutations = [m for m in query_mutations(shop, "sqlite") if m in issue_list(shop, "sqlite")]
    assert len(mutations) == 5
    with scratch_database("sqlite://") as database:
        intact = check_queries(shop, "sqlite", database, mutations)
    assert not _survivors(intact), _survivors(intact)

    def no_problems(*args: Any, **kwargs: Any) -> list[str]:
        return []

    def no_geo_problem(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(relational, "compare_result", no_problems)
    # Geo reads have their own oracle comparison (validate/geo.py): sabotaged alike.
    monkeypatch.setattr(relational, "compare_geo", no_geo_problem)
    with scratch_database("sqlite://") as database:
        sabotaged = check_queries(shop, "sqlite", database, mutations)
    # Only a dropped range bound is still caught without the oracle: the query no longer binds a
    # parameter the model's filter needs (a check of the SQL's shape, not of its answer).
    assert _survivors(sabotaged) == {m.label for m in mutations if m.operator != "drop-bound"}


def test_a_sabotaged_explain_reader_lets_index_defeating_queries_through(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # COALESCE(col, col) returns the same rows, so only the EXPLAIN check can see the lost index.
    mutations = defeat_index_mutations(shop, "sqlite")
    wanted = {"orders_of_customer", "open_orders_by_date", "customers_by_email_prefix"}
    chosen = [m for m in mutations if m.target in wanted]
    assert {m.target for m in chosen} == wanted
    intact = run_rounds(shop, "sqlite", "sqlite://", chosen, tmp_path)
    assert not _survivors(intact), [o.why for o in intact]

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "polyplan_sabotage.py").write_text(SABOTAGE_PLUGIN, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PYTEST_PLUGINS", "polyplan_sabotage")
    sabotaged = run_rounds(shop, "sqlite", "sqlite://", chosen, tmp_path)
    assert _survivors(sabotaged) == {m.label for m in chosen}

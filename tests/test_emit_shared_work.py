"""Work the emit path shares instead of repeating it (issue 7's ninth speed round): each table's
same-seek candidates once per `route_proofs`, a check constraint attached to its table once, and
a PostgreSQL B-tree's key order decided once per layout rather than at every horizon. Each test
checks the answer is the one the repeated work gave, and counts the work."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text
from polyplan.plan.ir import Plan
from polyplan.stores.relational import index_proof_plans, sizing
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.render import build_engines, build_metadata
from polyplan.stores.relational.spec import TableSpec

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _designed(name: str) -> tuple[Plan, list[TableSpec]]:
    plan = plan_text((SCENARIOS / name).read_text(), name)
    tables, _ = design_schema(plan)
    return plan, tables


@pytest.mark.parametrize("scenario", ["shop.yaml", "saas.yaml", "social.yaml"])
def test_seek_candidates_are_made_once_per_table_and_engine(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, tables = _designed(scenario)
    builds = build_engines(plan, tables)
    # Each route asking afresh (the repeated work) gives the reference answer.
    made: Counter[tuple[str, str]] = Counter()
    original = index_proof_plans._seek_keys

    def counted(spec: TableSpec, table: sa.Table, engine: str) -> list[tuple[str | None, list[str]]]:
        made[(spec.name, engine)] += 1
        return original(spec, table, engine)

    expected = _unshared_proofs(plan, tables, builds, monkeypatch)
    monkeypatch.setattr(index_proof_plans, "_seek_keys", counted)
    assert index_proof_plans.route_proofs(plan, tables, builds) == expected
    assert made, "no route asked for same-seek keys: the check is vacuous"
    assert max(made.values()) == 1, made.most_common(3)


def _unshared_proofs(
    plan: Plan, tables: list[TableSpec], builds: Any, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """route_proofs with every route making its table's candidates again."""
    original = index_proof_plans._same_seek_keys

    def unshared(*args: Any) -> list[dict[str, Any]]:
        return original(*args[:6], None)

    with monkeypatch.context() as patched:
        patched.setattr(index_proof_plans, "_same_seek_keys", unshared)
        return index_proof_plans.route_proofs(plan, tables, builds)


def test_a_check_constraint_is_attached_once() -> None:
    _, tables = _designed("shop.yaml")
    attached: Counter[int] = Counter()

    def seen(constraint: sa.CheckConstraint, table: sa.Table) -> None:
        attached[id(constraint)] += 1

    sa.event.listen(sa.CheckConstraint, "after_parent_attach", seen)
    try:
        rendered = build_metadata(tables, "postgresql")
    finally:
        sa.event.remove(sa.CheckConstraint, "after_parent_attach", seen)
    checks = [c for t in rendered.metadata.tables.values() for c in t.constraints if isinstance(c, sa.CheckConstraint)]
    assert checks, "the scenario has no check constraint: the count is vacuous"
    assert {attached[id(c)] for c in checks} == {1}
    # Every rule the engine enforces as a check is on its table.
    named = {str(c.name) for c in checks}
    assert named == {c.name for rules in rendered.constraints.values() for c in rules if c.kind == "check"}


def test_btree_key_order_is_decided_once_per_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    plan, tables = _designed("shop.yaml")
    constants = plan.sizing("postgresql")
    horizons = [1_000.0, 50_000.0, 2_000_000.0]

    def sizes(layouts: sizing.Layouts | None) -> list[sizing.TableSize]:
        return [
            sizing.table_size(t, rows, "postgresql", constants, layouts=layouts) for rows in horizons for t in tables
        ]

    calls: Counter[int] = Counter()
    original = sizing._monotonic

    def counted(table: TableSpec, columns: Any) -> bool:
        calls[id(table)] += 1
        return original(table, columns)

    unshared = sizes(None)  # every horizon lays each table out again
    monkeypatch.setattr(sizing, "_monotonic", counted)
    assert sizes({}) == unshared
    indexes = {id(t): len(sizing._pg_layout(t, sizing.Constants(constants)).indexes) for t in tables}
    calls.clear()
    sizes({})
    # Once per index of each table's layout, not once per index and horizon.
    assert calls, "no table has an index: the count is vacuous"
    assert all(calls[key] <= indexes[key] for key in calls), (calls, indexes)

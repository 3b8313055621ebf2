"""The case chooser: it finds parameter values on which every property of a pattern's query is
observable, and refuses data on which one is not (a check that cannot fail is no check)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyplan.model.loader import load_text
from polyplan.plan.assign import build_plan
from polyplan.stores.relational.design import design_tables
from polyplan.validate.cases import (
    DataCannotDiscriminate,
    Evaluator,
    Expected,
    choose_cases,
    expected_query,
    properties,
)

MODEL = """
name: cases
entities:
  Item:
    placement: {family: relational}
    attributes:
      owner: {type: integer}
      status: {type: enum, values: [open, shut]}
      at: {type: integer}
access_patterns:
  - name: open_items
    entity: Item
    filters: [{attribute: owner}, {attribute: status, value: open}, {attribute: at, op: range}]
    sort: [{attribute: at, direction: desc}]
    limit: 3
"""


@pytest.fixture(scope="module")
def expected() -> Expected:
    plan = build_plan(load_text(MODEL, "cases.yaml"))
    tables, _ = design_tables(plan)
    spec = next(t for t in tables if t.entity == "Item")
    return expected_query(plan.model.access_patterns[0], spec)


def rows(specs: list[tuple[int, str, int]]) -> list[dict[str, Any]]:
    return [
        {"id": uuid.UUID(int=i + 1), "owner": owner, "status": status, "at": at}
        for i, (owner, status, at) in enumerate(specs)
    ]


def test_expected_query_comes_from_the_model(expected: Expected) -> None:
    assert expected.columns == ("id", "owner", "status", "at")
    assert [(p.name, p.column, p.op) for p in expected.params] == [
        ("owner", "owner", "eq"),
        ("at_from", "at", "from"),
        ("at_to", "at", "to"),
    ]
    assert [(c.column, c.op, c.value) for c in expected.constants] == [("status", "eq", "open")]
    assert expected.sort == (("at", True),) and expected.limit == 3


def test_rich_data_makes_every_property_observable(expected: Expected) -> None:
    # Owner 1: many open rows (beyond the limit) and shut ones; owner 2: a few, for small answers.
    data = rows(
        [(1, "open", at) for at in range(10, 20)]
        + [(1, "shut", at) for at in range(10, 16)]
        + [(2, "open", 11), (2, "open", 12), (2, "shut", 13), (2, "open", 14), (2, "open", 15)]
    )
    cases = choose_cases(expected, data, data, "sqlite")
    evaluator = Evaluator(expected, data, "sqlite")
    shown = {name for name, test in properties(expected, cases[0]) for case in cases if test(evaluator, case)}
    assert shown == {name for name, _ in properties(expected, cases[0])}
    assert "LIMIT 3 is reached" in shown and "the bound at < :at_to is exact" in shown
    assert "the direction of ORDER BY at DESC matters" in shown


def test_data_where_every_row_passes_the_constant_is_refused(expected: Expected) -> None:
    data = rows([(1, "open", at) for at in range(10, 20)] + [(2, "open", at) for at in range(10, 14)])
    with pytest.raises(DataCannotDiscriminate, match=r"open_items: .*the filter status = 'open' matters"):
        choose_cases(expected, data, data, "sqlite")


def test_data_that_never_reaches_the_limit_is_refused(expected: Expected) -> None:
    data = rows([(1, "open", 10), (1, "shut", 11), (1, "open", 12), (2, "open", 13)])
    with pytest.raises(DataCannotDiscriminate, match="LIMIT 3 is reached"):
        choose_cases(expected, data, data, "sqlite")

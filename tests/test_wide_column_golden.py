"""Cassandra artifacts fixed byte for byte: every bundled scenario with wide-column entities, and our models."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.model.schema import Family
from polyplan.pipeline import plan_text
from polyplan.plan.ir import Plan
from polyplan.stores.wide_column import Target
from tests.conftest import SCENARIOS, Golden, planned
from tests.test_wide_column_design import OWN_MODELS

WIDE = [path for path in SCENARIOS if planned(path).records_in(Family.WIDE_COLUMN)]


def _check(golden: Golden, name: str, plan: Plan) -> None:
    artifacts = Target().emit(plan)
    for path, text in sorted(artifacts.files.items()):
        golden.check(f"{name}/wide_column/{path}", text)
    # Stored as .txt: a golden test_*.py would be collected by pytest.
    golden.check(f"{name}/wide_column/tests/test_cassandra.py.txt", artifacts.tests["test_cassandra.py"])
    again = Target().emit(plan)
    assert again.tests == artifacts.tests, "generated tests and their data must be deterministic"


def test_bundled_scenarios_put_entities_in_cassandra() -> None:
    assert {path.stem for path in WIDE} >= {"iot", "social"}


@pytest.mark.parametrize("scenario", WIDE, ids=lambda path: path.stem)
def test_scenario_artifacts(golden: Golden, scenario: Path) -> None:
    _check(golden, scenario.stem, planned(scenario))


@pytest.mark.parametrize("name", sorted(OWN_MODELS))
def test_own_model_artifacts(golden: Golden, name: str) -> None:
    _check(golden, name, plan_text(OWN_MODELS[name], f"{name}.yaml"))

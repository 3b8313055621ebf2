"""Elasticsearch artifacts fixed byte for byte: every bundled scenario with a search index, and our model."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.model.schema import Family
from polyplan.pipeline import plan_text
from polyplan.plan.ir import Plan
from polyplan.stores.search import Target
from tests.conftest import SCENARIOS, Golden, planned
from tests.test_search_design import OWN_MODELS

SEARCHED = [
    path for path in SCENARIOS if planned(path).projections_in(Family.SEARCH) or planned(path).records_in(Family.SEARCH)
]


def _check(golden: Golden, name: str, plan: Plan) -> None:
    artifacts = Target().emit(plan)
    for path, text in sorted(artifacts.files.items()):
        golden.check(f"{name}/search/{path}", text)
    # Stored as .txt: a golden test_*.py would be collected by pytest.
    golden.check(f"{name}/search/tests/test_elasticsearch.py.txt", artifacts.tests["test_elasticsearch.py"])


def test_bundled_scenarios_have_search_projections() -> None:
    assert {path.stem for path in SEARCHED} >= {"shop", "social"}


@pytest.mark.parametrize("scenario", SEARCHED, ids=lambda path: path.stem)
def test_scenario_artifacts(golden: Golden, scenario: Path) -> None:
    _check(golden, scenario.stem, planned(scenario))


@pytest.mark.parametrize("name", sorted(OWN_MODELS))
def test_own_model_artifacts(golden: Golden, name: str) -> None:
    _check(golden, name, plan_text(OWN_MODELS[name], f"{name}.yaml"))

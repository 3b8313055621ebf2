"""Golden files: the MongoDB artifacts of every bundled scenario with document entities, and of our own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.document import Target
from tests.conftest import SCENARIOS, planned
from tests.test_document_design import doc_plan

DOCUMENTED = [s for s in SCENARIOS if planned(s).records_in(Family.DOCUMENT)]


def emitted(plan: Plan) -> dict[str, str]:
    """Artifacts checked byte for byte: definitions, queries, setup, design notes and the generated test."""
    artifacts = Target().emit(plan)
    texts = dict(artifacts.files)
    # Generated test modules are stored as .py.txt so pytest does not collect the golden copies.
    texts.update({f"tests/{path}.txt": text for path, text in artifacts.tests.items() if not path.startswith("data/")})
    return texts


def test_a_bundled_scenario_puts_entities_in_mongodb() -> None:
    assert "saas" in {s.stem for s in DOCUMENTED}


@pytest.mark.parametrize("scenario", DOCUMENTED, ids=lambda s: s.stem)
def test_scenario_artifacts_match_golden(scenario: Path, golden: object) -> None:
    for path, text in sorted(emitted(planned(scenario)).items()):
        golden.check(f"{scenario.stem}/document/{path}", text)  # type: ignore[attr-defined]


def test_own_model_artifacts_match_golden(golden: object) -> None:
    for path, text in sorted(emitted(doc_plan()).items()):
        golden.check(f"doctest/document/{path}", text)  # type: ignore[attr-defined]


@pytest.mark.parametrize("scenario", DOCUMENTED, ids=lambda s: s.stem)
def test_seeded_cases_are_deterministic(scenario: Path) -> None:
    plan = planned(scenario)
    assert Target().emit(plan).tests == Target().emit(plan).tests

"""Golden files: the Redis artifacts of every bundled scenario with cache keys, and of our own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.cache import Target
from tests.conftest import SCENARIOS, planned
from tests.test_cache_design import cache_plan

CACHED = [s for s in SCENARIOS if planned(s).records_in(Family.CACHE) or planned(s).projections_in(Family.CACHE)]


def emitted(plan: Plan) -> dict[str, str]:
    """Artifacts checked byte for byte: design files and generated tests (seeded data is checked apart)."""
    artifacts = Target().emit(plan)
    texts = dict(artifacts.files)
    # Generated test modules are stored as .py.txt so pytest does not collect the golden copies.
    texts.update({f"tests/{path}.txt": text for path, text in artifacts.tests.items() if not path.startswith("data/")})
    return texts


def test_bundled_scenarios_put_entities_in_the_cache() -> None:
    assert {s.stem for s in CACHED} >= {"shop", "iot", "social"}


@pytest.mark.parametrize("scenario", CACHED, ids=lambda s: s.stem)
def test_scenario_artifacts_match_golden(scenario: Path, golden: object) -> None:
    for path, text in sorted(emitted(planned(scenario)).items()):
        golden.check(f"{scenario.stem}/cache/{path}", text)  # type: ignore[attr-defined]


def test_own_model_artifacts_match_golden(golden: object) -> None:
    for path, text in sorted(emitted(cache_plan()).items()):
        golden.check(f"cachetest/cache/{path}", text)  # type: ignore[attr-defined]


@pytest.mark.parametrize("scenario", CACHED, ids=lambda s: s.stem)
def test_seeded_test_data_is_deterministic_and_covers_every_cache_entity(scenario: Path) -> None:
    plan = planned(scenario)
    first, second = Target().emit(plan).tests, Target().emit(plan).tests
    assert first["data/redis_records.json"] == second["data/redis_records.json"]
    import json

    data = json.loads(first["data/redis_records.json"])
    wanted = set(plan.records_in(Family.CACHE)) | {name for name, _ in plan.projections_in(Family.CACHE)}
    assert set(data["entities"]) == wanted
    assert all(len(records) >= 10 for records in data["entities"].values())

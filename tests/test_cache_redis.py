"""The generated Redis tests, run the way `polyplan validate OUT --engine redis` runs them, on a real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.emit.plan_json import render_plan_json
from polyplan.emit.writer import write_tree
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.cache import Target, connect
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_OK, run_validation
from tests.conftest import SCENARIOS, planned
from tests.test_cache_design import cache_plan

pytestmark = pytest.mark.redis
CACHED = [s for s in SCENARIOS if planned(s).records_in(Family.CACHE) or planned(s).projections_in(Family.CACHE)]


def write_folder(plan: Plan, folder: Path) -> Path:
    """A plan folder holding the Redis artifacts (and the plan.json that marks a plan folder)."""
    artifacts = Target().emit(plan)
    texts = dict(artifacts.files)
    texts.update({f"tests/{path}": text for path, text in artifacts.tests.items()})
    texts["plan.json"] = render_plan_json(plan, {"cache": artifacts.summary}, list(artifacts.diagnostics))
    write_tree(texts, folder)
    return folder


def leftover_keys(url: str) -> list[bytes]:
    client = connect.connect(url)
    try:
        return list(client.scan_iter(match="pptest-*", count=1000))
    finally:
        client.close()


@pytest.mark.parametrize("scenario", CACHED, ids=lambda s: s.stem)
def test_generated_redis_tests_pass_for_scenario(scenario: Path, tmp_path: Path) -> None:
    url = resolve_url("redis")
    folder = write_folder(planned(scenario), tmp_path / scenario.stem)
    assert run_validation(folder, "redis", url) == EXIT_OK
    assert leftover_keys(url) == []


def test_generated_redis_tests_pass_for_every_key_kind(tmp_path: Path) -> None:
    url = resolve_url("redis")
    folder = write_folder(cache_plan(), tmp_path / "cachetest")
    assert run_validation(folder, "redis", url) == EXIT_OK
    assert leftover_keys(url) == []


def test_a_broken_design_fails_validation(tmp_path: Path) -> None:
    """The generated tests are real: a designed TTL that the stored keys do not carry fails them."""
    url = resolve_url("redis")
    folder = write_folder(planned(next(s for s in CACHED if s.stem == "shop")), tmp_path / "broken")
    keys = folder / "redis" / "keys.json"
    text = keys.read_text(encoding="utf-8")
    assert '"ttl_seconds": 86400' in text
    keys.write_text(text.replace('"ttl_seconds": 86400', '"ttl_seconds": 100'), encoding="utf-8")
    assert run_validation(folder, "redis", url, trust_edits=True) != EXIT_OK
    assert leftover_keys(url) == []

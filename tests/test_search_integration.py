"""The generated Elasticsearch tests, run for real against a server (skipped when none is reachable).

Reaches Elasticsearch through POLYPLAN_ELASTICSEARCH_URL, else a testcontainers container, else
skips naming the compose command (polyplan.testkit). Each plan's generated tests then run through
`polyplan validate`, which makes a skip inside them a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.emit.writer import write_tree
from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import SCENARIOS, planned
from tests.test_search_design import OWN_MODELS
from tests.test_search_golden import SEARCHED

pytestmark = pytest.mark.elasticsearch

PLANS = [(path.stem, None) for path in SEARCHED] + [(name, text) for name, text in sorted(OWN_MODELS.items())]


def _plan(name: str, text: str | None) -> Plan:
    return plan_text(text, f"{name}.yaml") if text else planned(next(p for p in SCENARIOS if p.stem == name))


@pytest.mark.parametrize(("name", "text"), PLANS, ids=[name for name, _ in PLANS])
def test_generated_elasticsearch_tests_pass(tmp_path: Path, name: str, text: str | None) -> None:
    url = resolve_url("elasticsearch")
    files, _ = render(_plan(name, text))
    out = tmp_path / name
    write_tree(files, out)
    assert run_validation(out, "elasticsearch", url) == 0

"""The generated OpenSearch tests, run for real against a server (skipped when none is reachable).

Every bundled scenario with a search projection, and the search test models, planned with
`engines.search` switched to opensearch. Reaches OpenSearch through POLYPLAN_OPENSEARCH_URL, else
a testcontainers container, else skips naming the compose command (polyplan.testkit). Each plan's
generated tests then run through `polyplan validate`, which makes a skip of the server a failure
(the ISM policy checks alone skip, with the reason, on a server without the ISM plugin).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.emit.writer import write_tree
from polyplan.pipeline import render
from polyplan.plan.ir import Plan
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.test_opensearch_design import opensearch_scenario, opensearch_text
from tests.test_search_design import OWN_MODELS
from tests.test_search_golden import SEARCHED

pytestmark = pytest.mark.opensearch

PLANS = [(path.stem, None) for path in SEARCHED] + [(name, text) for name, text in sorted(OWN_MODELS.items())]


def _plan(name: str, text: str | None) -> Plan:
    return opensearch_text(text, f"{name}.yaml") if text else opensearch_scenario(name)


@pytest.mark.parametrize(("name", "text"), PLANS, ids=[name for name, _ in PLANS])
def test_generated_opensearch_tests_pass(tmp_path: Path, name: str, text: str | None) -> None:
    url = resolve_url("opensearch")
    files, _ = render(_plan(name, text))
    assert "tests/test_opensearch.py" in files and not any(path.startswith("elasticsearch/") for path in files)
    out = tmp_path / name
    write_tree(files, out)
    assert run_validation(out, "opensearch", url) == 0

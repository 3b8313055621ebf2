"""The wide-column and search test data, made when the generated tests run (polyplan.validate.store_data).

Planning writes tests/data/model.json instead of the data; the generated test makes the data from
it. These tests hold that what the test makes is exactly what planning would have written: for
every bundled scenario (as planned, and with its search engine switched to OpenSearch) and the
stores' own models, the data from the written folder equals the data made from the original plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyplan import __version__
from polyplan.emit.writer import write_tree
from polyplan.pipeline import render
from polyplan.plan.ir import Plan
from polyplan.stores.search import testgen as search_testgen
from polyplan.stores.search.design import design_search
from polyplan.stores.wide_column import testgen as wide_testgen
from polyplan.stores.wide_column.design import design_wide_column
from polyplan.validate.store_data import MODEL_FILE, store_data
from tests.conftest import SCENARIOS, planned
from tests.test_opensearch_design import opensearch_scenario, opensearch_text
from tests.test_search_design import OWN_MODELS as SEARCH_MODELS
from tests.test_search_design import _plan
from tests.test_wide_column_design import OWN_MODELS as WIDE_MODELS

CASES = (
    [pytest.param(lambda s=s: planned(s), id=s.stem) for s in SCENARIOS]
    + [pytest.param(lambda s=s: opensearch_scenario(s.stem), id=f"{s.stem}-opensearch") for s in SCENARIOS]
    + [pytest.param(lambda t=t: _plan(t), id=n) for n, t in sorted({**SEARCH_MODELS, **WIDE_MODELS}.items())]
    + [pytest.param(lambda t=t: opensearch_text(t), id=f"{n}-opensearch") for n, t in sorted(SEARCH_MODELS.items())]
)


def _direct(plan: Plan) -> dict[str, Any]:
    """engine → the data as planning made it before it moved to test time: from the plan itself."""
    found: dict[str, Any] = {}
    wide = design_wide_column(plan)
    if wide.entities:
        found["cassandra"] = json.loads(wide_testgen.data_text(plan, wide))
    search = design_search(plan)
    if search.indexes:
        found[search.engine.name] = json.loads(search_testgen.data_text(plan, search))
    return found


@pytest.mark.parametrize("make", CASES)
def test_data_made_at_test_time_is_the_planned_data(tmp_path: Path, make: Any) -> None:
    plan = make()
    files, _ = render(plan)
    direct = _direct(plan)
    assert direct or f"tests/data/{MODEL_FILE}" not in files
    for engine in direct:
        assert f"tests/data/{engine}.json" not in files  # no store's data is written at plan time
        assert f"tests/test_{engine}.py" in files
    if not direct:
        return
    write_tree(files, tmp_path / "out")
    for engine, data in direct.items():
        assert store_data(tmp_path / "out" / "tests", engine) == data, engine


def test_a_folder_of_another_polyplan_version_is_refused(tmp_path: Path) -> None:
    files, _ = render(_plan(SEARCH_MODELS["search_events"]))
    write_tree(files, tmp_path / "out")
    model_file = tmp_path / "out" / "tests" / "data" / MODEL_FILE
    recipe = json.loads(model_file.read_text(encoding="utf-8"))
    assert recipe["polyplan"] == __version__
    model_file.write_text(json.dumps({**recipe, "polyplan": "0.0.1"}), encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"written by polyplan 0\.0\.1"):
        store_data(tmp_path / "out" / "tests", "elasticsearch")

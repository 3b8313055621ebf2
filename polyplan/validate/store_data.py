"""The data of the generated wide-column and search tests, made when the tests run.

Planning writes `tests/data/model.json` — the model as planned and the polyplan version that
planned it — instead of each store's seeded records and expected answers. Those are a function of
the model alone (seeded from it, never read from the artifacts under test), and for a large model
they were most of the output's bytes and a good share of planning's CPU, written whether or not
anyone ran the tests. A generated test module calls `store_data(HERE, engine)`, which plans the
model again and runs the same generator the planner ran before, through the same JSON round trip:
the tests see exactly the data they saw when it was written at plan time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from polyplan import __version__
from polyplan.model.derived import memoised
from polyplan.perf import data_json
from polyplan.plan.ir import Plan

MODEL_FILE = "model.json"


def model_json(plan: Plan) -> str:
    """`tests/data/model.json`: what `store_data` needs to make every store's test data again (pure).

    The same text whichever store's target writes it, so the stores share one file; made once
    per model (dumping a large model took about half a second, once for each store that wrote it)."""
    return memoised(plan.model, ("store_data", MODEL_FILE), lambda: _model_json(plan))


def _model_json(plan: Plan) -> str:
    document = {
        "about": "the model as planned: the generated tests make their data from it (polyplan.validate.store_data)",
        "model": plan.model.model_dump(mode="json", by_alias=True, exclude_unset=True),
        "polyplan": __version__,
    }
    # In the model's own order: attribute order decides column order, and so the data.
    return data_json(document, sort_keys=False)


def _wide_column(plan: Plan) -> str:
    from polyplan.stores.wide_column.design import design_wide_column
    from polyplan.stores.wide_column.testgen import data_text

    return data_text(plan, design_wide_column(plan))


def _search(plan: Plan) -> str:
    from polyplan.stores.search.design import design_search
    from polyplan.stores.search.testgen import data_text

    return data_text(plan, design_search(plan))


MAKERS: dict[str, Callable[[Plan], str]] = {
    "cassandra": _wide_column,
    "elasticsearch": _search,
    "opensearch": _search,
}


def replanned(text: str) -> Plan:
    """The plan of `model.json`'s text, as `polyplan plan` made it; a folder planned by another
    polyplan version is refused (its artifacts may not match what this version would make)."""
    from polyplan.model.loader import LoadedModel
    from polyplan.model.schema import RequirementsModel
    from polyplan.plan.assign import build_plan

    recipe = json.loads(text)
    if recipe.get("polyplan") != __version__:
        raise RuntimeError(
            f"tests/data/{MODEL_FILE} was written by polyplan {recipe.get('polyplan')}, this is {__version__}: "
            "plan the model again with this version to run its tests"
        )
    model = RequirementsModel.model_validate(recipe["model"])
    return build_plan(LoadedModel(model, f"tests/data/{MODEL_FILE}", {}))


@lru_cache(maxsize=8)
def _data_text(text: str, engine: str) -> str:
    # Cached on the model's text: the mutation suite runs one folder's tests many times in a process.
    return MAKERS[engine](replanned(text))


def data_of(model_text: str, engine: str) -> dict[str, Any]:
    """The test data of `engine` (cassandra, elasticsearch, opensearch) made from the text of a
    `model.json` (a fresh copy on each call)."""
    data: dict[str, Any] = json.loads(_data_text(model_text, engine))
    return data


def store_data(tests_dir: Path, engine: str) -> dict[str, Any]:
    """The test data of `engine` for the plan folder whose `tests/` is `tests_dir`, as its
    generated test module reads it."""
    return data_of((tests_dir / "data" / MODEL_FILE).read_text(encoding="utf-8"), engine)

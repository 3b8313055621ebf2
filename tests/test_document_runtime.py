"""What the generated MongoDB tests decide without a server: who the server is, what skips, and why."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from bson.decimal128 import Decimal128

from polyplan.stores.document import Target, runtime
from polyplan.stores.document.runtime import Examination, Probe, Server
from tests.test_document_design import doc_plan

FERRETDB_BUILD_INFO = {"version": "7.0.42", "ferretdbVersion": "v1.24.2", "ok": 1.0}
MONGODB_BUILD_INFO = {"version": "7.0.12", "gitVersion": "b6c6", "ok": 1.0}


def examination(build_info: dict[str, object], absent: set[str]) -> Examination:
    probes = tuple(Probe(f, f not in absent, "fails" if f in absent else "works") for f in runtime.FEATURES)
    return Examination(runtime.identify(build_info), probes)


def test_ferretdb_is_told_from_mongodb_by_build_info() -> None:
    ferret = runtime.identify(FERRETDB_BUILD_INFO)
    assert ferret == Server("FerretDB", "1.24.2", "7.0.42") and not ferret.is_mongodb
    assert ferret.describe() == "FerretDB 1.24.2 (MongoDB wire protocol, reports MongoDB 7.0.42; not MongoDB)"
    mongo = runtime.identify(MONGODB_BUILD_INFO)
    assert mongo.is_mongodb and mongo.describe() == "MongoDB 7.0.12"


def test_a_gap_skips_with_a_reason_naming_the_server_and_the_feature() -> None:
    found = examination(FERRETDB_BUILD_INFO, {runtime.VALIDATORS, runtime.DECIMAL128})
    assert found.lacks({runtime.PARTIAL_INDEXES}, "index x") is None
    reason = found.lacks({runtime.DECIMAL128, runtime.VALIDATORS, runtime.HINTS}, "the validator of article")
    assert reason == (
        "FerretDB 1.24.2 lacks $jsonSchema/$expr validators and the BSON Decimal128 type, which MongoDB has: "
        "run against MongoDB to check the validator of article"
    )
    assert found.skipped == [("the validator of article", (runtime.VALIDATORS, runtime.DECIMAL128))]


def test_nothing_skips_on_mongodb_even_when_a_probe_fails() -> None:
    """A probe MongoDB fails must not hide checks: they run (and fail), and the summary says so."""
    found = examination(MONGODB_BUILD_INFO, {runtime.TEXT_INDEXES})
    assert found.missing == frozenset()
    assert found.lacks({runtime.TEXT_INDEXES}, "search") is None
    assert found.summary() == [
        "document store under test: MongoDB 7.0.12",
        "feature probe failed on MongoDB (its checks still run): fails",
    ]
    assert examination(MONGODB_BUILD_INFO, set()).summary()[1] == "every feature probe passed"


def test_the_summary_names_the_server_its_gaps_and_every_skipped_check() -> None:
    found = examination(FERRETDB_BUILD_INFO, {runtime.VALIDATORS, runtime.HINTS})
    found.left_out = ("the validator of article",)
    found.lacks({runtime.VALIDATORS}, "that the validator of article accepts its documents")
    lines = found.summary()
    assert (
        lines[0]
        == "document store under test: FerretDB 1.24.2 (MongoDB wire protocol, reports MongoDB 7.0.42; not MongoDB)"
    )
    assert "  - $jsonSchema/$expr validators: fails" in lines and "  - index hints: fails" in lines
    assert "setup.py applied the design without: the validator of article" in lines
    assert "1 check skipped for these gaps ($jsonSchema/$expr validators 1); MongoDB would run them:" in lines
    assert lines[-1].startswith("a pass on FerretDB 1.24.2 is not a MongoDB pass")


def test_decimals_are_found_and_left_out_by_path() -> None:
    documents = [{"_id": 1, "rating": Decimal128("4.5"), "lines": [{"price": Decimal128("1"), "n": 2}], "name": "a"}]
    paths = runtime.decimal_paths(documents)
    assert paths == {"rating", "lines.price"}
    assert runtime.touches(["lines"], paths) and runtime.touches(["rating"], paths)
    assert not runtime.touches(["name", "lines.n"], paths)
    assert runtime.without_decimals(documents[0]) == {"_id": 1, "lines": [{"n": 2}], "name": "a"}
    assert runtime.has_decimal({"$gte": Decimal128("1")}) and not runtime.has_decimal({"a": [1, "x"]})


def _setup_module(tmp_path: Path) -> ModuleType:
    artifacts = Target().emit(doc_plan())
    for path, text in artifacts.files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("doctest_setup", tmp_path / "mongodb" / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_leaves_out_by_the_runtime_feature_names(tmp_path: Path) -> None:
    setup = _setup_module(tmp_path)
    assert set(setup.FEATURES) <= set(runtime.FEATURES)
    left = setup.left_out(["partial_indexes", "ttl_indexes", "text_indexes"])
    assert left == [
        "index article.published_at_1__where_status (partial_indexes)",
        "index article.article_text (text_indexes)",
        "index login.last_seen_1 (ttl_indexes)",
    ]
    assert setup.left_out([]) == []
    with pytest.raises(ValueError, match="unknown features"):
        setup.apply(None, without=["transactions"])


def test_setup_cli_refuses_an_unknown_feature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = _setup_module(tmp_path)
    monkeypatch.setattr(sys, "argv", ["setup.py", "mongodb://127.0.0.1:1", "--without", "transactions"])
    assert setup.main() == 2

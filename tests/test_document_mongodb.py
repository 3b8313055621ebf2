"""The generated MongoDB tests, run the way `polyplan validate OUT --engine mongodb` runs them.

They need a MongoDB 7 (POLYPLAN_MONGODB_URL, or a Docker engine for testcontainers); without one
they skip with the reason `polyplan.testkit` gives, which names the command that runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.emit.plan_json import render_plan_json
from polyplan.emit.writer import write_tree
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.document import Target
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_OK, run_validation
from tests.conftest import SCENARIOS, planned
from tests.test_document_design import doc_plan

pytestmark = pytest.mark.mongodb
DOCUMENTED = [s for s in SCENARIOS if planned(s).records_in(Family.DOCUMENT)]


def write_folder(plan: Plan, folder: Path) -> Path:
    """A plan folder holding the MongoDB artifacts (and the plan.json that marks a plan folder)."""
    artifacts = Target().emit(plan)
    texts = dict(artifacts.files)
    texts.update({f"tests/{path}": text for path, text in artifacts.tests.items()})
    texts["plan.json"] = render_plan_json(plan, {"document": artifacts.summary}, list(artifacts.diagnostics))
    write_tree(texts, folder)
    return folder


@pytest.mark.parametrize("scenario", DOCUMENTED, ids=lambda s: s.stem)
def test_generated_mongodb_tests_pass_for_scenario(scenario: Path, tmp_path: Path) -> None:
    url = resolve_url("mongodb")
    assert run_validation(write_folder(planned(scenario), tmp_path / scenario.stem), "mongodb", url) == EXIT_OK


def test_generated_mongodb_tests_pass_for_every_feature(tmp_path: Path) -> None:
    url = resolve_url("mongodb")
    assert run_validation(write_folder(doc_plan(), tmp_path / "doctest"), "mongodb", url) == EXIT_OK


def test_generated_tests_skip_with_the_command_that_runs_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside `polyplan validate` (no POLYPLAN_REQUIRE), an unreachable MongoDB is a skip, not an error."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("POLYPLAN_MONGODB_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300")
    monkeypatch.delenv("POLYPLAN_REQUIRE", raising=False)
    folder = write_folder(doc_plan(), tmp_path / "doctest")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            str(folder / "tests" / "test_mongodb.py"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder / "tests",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "mongodb not reachable" in result.stdout and "POLYPLAN_MONGODB_URL=" in result.stdout

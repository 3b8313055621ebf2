"""Shared fixtures: golden files, bundled scenarios, and planned output folders."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from polyplan.emit.plan_json import render_plan_json
from polyplan.emit.writer import write_tree
from polyplan.pipeline import plan_file, render, write_plan
from polyplan.plan.ir import Plan
from polyplan.stores.relational import Target

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
# Golden copies of generated test files are data, not tests of this project.
collect_ignore = ["golden"]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite golden files from current output.")


class Golden:
    """Compares emitted text with tests/golden/<path>; `--update-golden` rewrites instead."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, relative: str, text: str) -> None:
        """Assert `text` equals the golden file (or rewrite it when updating)."""
        path = GOLDEN / relative
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            return
        assert path.exists(), f"no golden file {path}; run pytest --update-golden to create it"
        expected = path.read_text(encoding="utf-8")
        if expected != text:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True), text.splitlines(keepends=True), str(path), "emitted", n=2
                )
            )
            pytest.fail(f"{relative} differs from its golden file (pytest --update-golden to accept):\n{diff[:4000]}")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-golden")))


_plans: dict[Path, Plan] = {}
_renders: dict[Path, dict[str, str]] = {}


def planned(scenario: Path) -> Plan:
    """The plan of a bundled scenario (computed once per session)."""
    if scenario not in _plans:
        _plans[scenario] = plan_file(scenario)
    return _plans[scenario]


def write_relational_folder(scenario: Path, folder: Path) -> Path:
    """A scenario's relational artifacts, generated tests and plan.json, as `polyplan plan`
    writes them (what `polyplan validate` needs for the relational engines)."""
    plan = planned(scenario)
    artifacts = Target().emit(plan)
    texts = dict(artifacts.files)
    texts.update({f"tests/{path}": text for path, text in artifacts.tests.items()})
    texts["plan.json"] = render_plan_json(plan, {"relational": artifacts.summary}, list(artifacts.diagnostics))
    write_tree(texts, folder)
    return folder


def rendered(scenario: Path) -> dict[str, str]:
    """Every output file of a bundled scenario (computed once per session)."""
    if scenario not in _renders:
        _renders[scenario] = render(planned(scenario))[0]
    return _renders[scenario]


# The relational engines a generated module is run on: SQLite always, the servers where reachable.
RELATIONAL_ENGINES = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


def plan_folder(text: str, name: str, root: Path) -> Path:
    """The plan folder `polyplan plan` writes for model `text` (saved as `name` under `root`)."""
    source = root / name
    source.write_text(text, encoding="utf-8")
    write_plan(source, root / "plan")
    return root / "plan"


def break_and_validate(folder: Path, into: Path, relative: str, before: str, after: str) -> int:
    """Copy `folder` to `into`, replace `before` by `after` once in `relative`, and validate the
    copy on SQLite: the exit code (1 when the generated tests catch the change)."""
    from polyplan.validate.runner import run_validation

    shutil.copytree(folder, into)
    target = into / relative
    text = target.read_text(encoding="utf-8")
    assert before in text, f"{before!r} is not in {relative}"
    target.write_text(text.replace(before, after, 1), encoding="utf-8")
    return run_validation(into, "sqlite", None, trust_edits=True)

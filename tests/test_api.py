"""The public library API (issue 13): documented, exercised by its own documentation, and light to import."""

from __future__ import annotations

import doctest
import inspect
import re
from pathlib import Path

import pytest
import typer.main

import polyplan
from polyplan.cli import app
from tests.test_cli_imports import loaded_after

ROOT = Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"


def test_the_examples_in_docs_api_run_and_show_what_they_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository, as a reader would
    result = doctest.testfile(
        str(API_DOC), module_relative=False, optionflags=doctest.ELLIPSIS, raise_on_error=False, verbose=False
    )
    assert result.attempted >= 20, result  # the page really holds examples
    assert result.failed == 0, result


def test_every_public_name_has_a_docstring_and_a_place_in_docs_api() -> None:
    documented = API_DOC.read_text(encoding="utf-8")
    assert set(polyplan.__all__) >= {"load", "plan", "render", "write", "validate"}
    for name in polyplan.__all__:
        assert f"polyplan.{name}" in documented, f"docs/api.md does not mention polyplan.{name}"
        value = getattr(polyplan, name)
        if name.startswith("__"):
            continue  # __version__ is a string
        assert inspect.getdoc(value), f"polyplan.{name} has no docstring"
        if inspect.isfunction(value):
            hints = inspect.get_annotations(value)
            assert "return" in hints and len(hints) == len(inspect.signature(value).parameters) + 1, name


def test_every_cli_command_appears_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"plan", "validate", "seed"} <= set(commands)
    missing = [name for name in commands if not re.search(rf"`polyplan {name}\b", readme)]
    assert not missing, f"README.md does not show these commands: {missing}"


def test_the_api_functions_keep_their_names_next_to_the_subpackages_of_the_same_name() -> None:
    # polyplan.plan and polyplan.validate are also subpackages; importing them must not replace the functions.
    import polyplan.plan.ir
    import polyplan.validate.runner

    assert inspect.isfunction(polyplan.plan) and inspect.isfunction(polyplan.validate)
    with pytest.raises(AttributeError):
        polyplan.no_such_name  # noqa: B018


def test_import_polyplan_loads_no_pipeline_no_driver_and_no_test_framework() -> None:
    loaded = loaded_after("import polyplan")
    heavy = {"pydantic", "yaml", "typer", "rich", "sqlalchemy", "pymongo", "pytest", "testcontainers", "redis"}
    assert "polyplan" in loaded
    assert not loaded & heavy, sorted(loaded & heavy)
    assert "typing" not in loaded_after("import polyplan") - loaded_after("pass")


def test_load_takes_a_path_or_text_not_both() -> None:
    with pytest.raises(TypeError):
        polyplan.load()
    with pytest.raises(TypeError):
        polyplan.load("scenarios/shop.yaml", text="name: x")

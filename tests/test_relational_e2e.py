"""End to end: every bundled scenario is planned into a folder and `polyplan validate` passes
against SQLite, PostgreSQL and MariaDB (the real servers; never skipped under POLYPLAN_REQUIRE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.pipeline import write_plan
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import SCENARIOS

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(scope="module")
def plan_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    for scenario in SCENARIOS:
        folder = tmp_path_factory.mktemp(scenario.stem)
        write_plan(scenario, folder)
        folders[scenario.stem] = folder
    return folders


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("scenario", [s.stem for s in SCENARIOS])
def test_validate_passes(plan_folders: dict[str, Path], scenario: str, engine: str) -> None:
    folder = plan_folders[scenario]
    if not list((folder / "tests").glob(f"test_{engine}*.py")):
        pytest.fail(f"{scenario}: no generated tests for {engine}")
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0

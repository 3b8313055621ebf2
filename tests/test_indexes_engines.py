"""The CI-run proof: for every bundled scenario, emit the relational target and run its generated
`test_<engine>_indexes.py` against the real server, which EXPLAINs every relational access
pattern and asserts from the engine's own plan that the designed index serves it.

The generated tests run in a child pytest (their own rootdir, as `polyplan validate` runs them),
with the engine listed in POLYPLAN_REQUIRE so that nothing inside may quietly skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyplan.stores.relational import Target
from polyplan.testkit import ENGINES as ACCESS
from polyplan.testkit import resolve_url
from tests.conftest import SCENARIOS, planned

_emitted: dict[Path, Path] = {}


@pytest.fixture(scope="session")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """scenario → folder holding its relational artifacts and generated tests."""
    for scenario in SCENARIOS:
        artifacts = Target().emit(planned(scenario))
        folder = tmp_path_factory.mktemp(scenario.stem)
        texts = {**artifacts.files, **{f"tests/{p}": t for p, t in artifacts.tests.items()}}
        for relative, text in texts.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _emitted[scenario] = folder
    return _emitted


def run_generated(folder: Path, engine: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env[ACCESS[engine].env_var] = url
    env["POLYPLAN_REQUIRE"] = engine
    test = f"tests/test_{engine}_indexes.py"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder), test],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _check(folder: Path, engine: str) -> None:
    test = folder / "tests" / f"test_{engine}_indexes.py"
    assert test.exists(), f"no generated {test.name}"
    done = run_generated(folder, engine, resolve_url(engine))
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary


@pytest.mark.postgresql
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_postgresql_uses_every_designed_index(scenario: Path, emitted: dict[Path, Path]) -> None:
    _check(emitted[scenario], "postgresql")


@pytest.mark.mysql
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_mysql_uses_every_designed_index(scenario: Path, emitted: dict[Path, Path]) -> None:
    _check(emitted[scenario], "mysql")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_sqlite_uses_every_designed_index(scenario: Path, emitted: dict[Path, Path]) -> None:
    _check(emitted[scenario], "sqlite")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_generated_index_tests_are_lint_clean(scenario: Path, emitted: dict[Path, Path]) -> None:
    tests = sorted((emitted[scenario] / "tests").glob("test_*_indexes.py"))
    assert [t.name for t in tests] == ["test_mysql_indexes.py", "test_postgresql_indexes.py", "test_sqlite_indexes.py"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "E,F,W,B",
            "--line-length",
            "160",
            *map(str, tests),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

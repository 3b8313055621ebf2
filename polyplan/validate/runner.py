"""`polyplan validate`: run a plan folder's generated tests for one engine against a real store.

The tests are ordinary pytest modules (`tests/test_<engine>*.py`); this runs them in a
subprocess with the store's URL exported and `POLYPLAN_REQUIRE=<engine>`, so an unreachable
store fails the run instead of silently skipping it. Output streams through unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from polyplan.testkit import ENGINES

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
VALIDATABLE = ("sqlite", "postgresql", "mysql", "redis", "mongodb", "elasticsearch", "cassandra")
PYTEST_USAGE_ERROR = 4


class UsageError(Exception):
    """Bad input to `polyplan validate` (exit code 2)."""


def test_files(folder: Path, engine: str) -> list[Path]:
    """The generated test modules of `engine` in a plan folder; UsageError if there are none."""
    if engine not in VALIDATABLE:
        raise UsageError(f"unknown engine '{engine}' (choose from {', '.join(VALIDATABLE)})")
    if not folder.is_dir() or not (folder / "plan.json").is_file():
        raise UsageError(
            f"{folder} is not a plan folder (it has no plan.json); create one with `polyplan plan MODEL -o DIR`"
        )
    files = sorted((folder / "tests").glob(f"test_{engine}*.py"))
    if not files:
        raise UsageError(
            f"{folder / 'tests'} has no test_{engine}*.py: the plan puts nothing in {engine} "
            "(see plan.md for where each entity lives)"
        )
    return files


def run_validation(folder: str | Path, engine: str, url: str | None = None) -> int:
    """Run the tests; 0 when all pass, 1 when a check fails. Raises UsageError for bad input."""
    root = Path(folder).resolve()
    files = test_files(root, engine)
    tests = root / "tests"
    env = dict(os.environ)
    if url:
        env[ENGINES[engine].env_var] = url
    required = {e for e in env.get("POLYPLAN_REQUIRE", "").split(",") if e.strip()} | {engine}
    env["POLYPLAN_REQUIRE"] = ",".join(sorted(required))
    command = [
        sys.executable,
        "-m",
        "pytest",
        *[str(f) for f in files],
        "-q",
        "-p",
        "no:cacheprovider",
        # Isolated from any project around the plan folder: no ini file, no outer conftest.py.
        "-c",
        os.devnull,
        "--rootdir",
        str(tests),
        "--confcutdir",
        str(tests),
    ]
    completed = subprocess.run(command, cwd=tests, env=env, check=False)
    if completed.returncode == EXIT_OK:
        return EXIT_OK
    if completed.returncode == PYTEST_USAGE_ERROR:
        return EXIT_USAGE
    return EXIT_FAILED

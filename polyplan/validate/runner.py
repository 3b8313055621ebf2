"""`polyplan validate`: run a plan folder's generated tests for one engine against a real store.

The tests are ordinary pytest modules (`tests/test_<engine>*.py`); this runs them in a
subprocess with the store's URL exported and `POLYPLAN_REQUIRE=<engine>`, so an unreachable
store fails the run instead of silently skipping it. Output streams through unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from polyplan.emit.writer import MANIFEST, foreign_files, read_manifest
from polyplan.testkit import ENGINES, docker_available
from polyplan.validate.mutations import Mutation, run_mutations
from polyplan.validate.preflight import handshake, wrong_engine
from polyplan.validate.reach import masked, unreachable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
VALIDATABLE = ("sqlite", "postgresql", "mysql", "redis", "mongodb", "elasticsearch", "opensearch", "cassandra")
PYTEST_USAGE_ERROR = 4
RELATIONAL = ("sqlite", "postgresql", "mysql")
SEARCH_ENGINES = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}  # engine → its name in prose


class UsageError(Exception):
    """Bad input to `polyplan validate` (exit code 2)."""


class Unreachable(Exception):
    """No server answers at the URL (exit code 1: the check could not pass)."""


def test_files(folder: Path, engine: str) -> list[Path]:
    """The generated test modules of `engine` in a plan folder; UsageError if there are none."""
    if engine not in VALIDATABLE:
        raise UsageError(f"unknown engine '{engine}' (choose from {', '.join(VALIDATABLE)})")
    if not folder.is_dir() or not (folder / "plan.json").is_file():
        raise UsageError(
            f"{folder} is not a plan folder (it has no plan.json); create one with `polyplan plan MODEL -o DIR`"
        )
    files = sorted((folder / "tests").glob(f"test_{engine}*.py"))
    if not files and engine in SEARCH_ENGINES:
        # The search family has one engine per plan: say which one, and how to plan for the other.
        planned = next((e for e in SEARCH_ENGINES if e != engine and (folder / e).is_dir()), None)
        if planned is not None:
            raise UsageError(
                f"this plan's search engine is {planned} ({folder / planned}/); plan with "
                f"`engines: {{search: {engine}}}` to validate on {SEARCH_ENGINES[engine]}"
            )
    if not files and engine in RELATIONAL and (folder / "relational").is_dir():
        # The plan has a relational store, written in other dialects (options.relational_dialects).
        written = sorted(p.name for p in (folder / "relational").iterdir() if p.is_dir())
        raise UsageError(
            f"this plan writes the relational dialects {', '.join(written)}, not {engine}: add {engine} to "
            "options.relational_dialects in the model and plan again to validate on it"
        )
    if not files:
        raise UsageError(
            f"{folder / 'tests'} has no test_{engine}*.py: the plan puts nothing in {engine} "
            "(see plan.md for where each entity lives)"
        )
    return files


def verify_generated(folder: Path) -> None:
    """UsageError unless every file in `folder` is one polyplan wrote, with the bytes it wrote.

    `validate` runs the folder's Python and SQL with the user's credentials: a file added or
    edited since `polyplan plan` (a tampered schema.sql, a stray test_*.py) is never run.
    """
    written = read_manifest(folder)
    if written is None:
        raise UsageError(f"{folder} has no {MANIFEST}: validate runs only what `polyplan plan` wrote; plan again")
    changed = foreign_files(folder, written)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise UsageError(
            f"{folder} holds files polyplan did not write: {shown}; validate runs only what `polyplan plan` "
            "wrote (plan again into a fresh folder)"
        )


def preflight(engine: str, target: str | None) -> None:
    """Check once, before any test runs, that `target` is a URL for `engine` with that engine
    answering behind it: UsageError (no URL and no way to start a container, another engine's
    URL) or Unreachable (nothing listens, or something else answers), each one line."""
    if engine == "sqlite":
        return
    if not target:
        if not docker_available():
            raise UsageError(
                f"no URL for {engine}: pass --url {ENGINES[engine].example_url} or set {ENGINES[engine].env_var} "
                "(no Docker engine answers, so no container can be started for it)"
            )
        return
    problem = wrong_engine(engine, target)
    if problem:
        raise UsageError(problem)
    problem = unreachable(engine, target) or handshake(engine, target)
    if problem:
        raise Unreachable(f"{engine} at {masked(target)} is not reachable: {problem}")


def run_validation(
    folder: str | Path,
    engine: str,
    url: str | None = None,
    *,
    trust_edits: bool = False,
    modules: Sequence[str] = (),
    output: IO[str] | None = None,
    junit_xml: Path | None = None,
    events: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Run the tests; 0 when all pass, 1 when a check fails. Raises UsageError for bad input.

    `trust_edits` skips the manifest check: for polyplan's own mutation tests, which edit a copy
    of an output on purpose to prove the generated tests catch it. `modules` runs only those
    generated modules (file names), and `output` receives pytest's output instead of stdout: both
    for the mutation runs, which need a single module's verdicts, as text. `junit_xml` has pytest
    write a JUnit XML report there (for CI), and `events` receives each event of
    `polyplan.validate.events` as it happens (the test count, then one per test).
    """
    root = Path(folder).resolve()
    files = test_files(root, engine)
    if modules:
        files = [f for f in files if f.name in modules]
    if not trust_edits:
        verify_generated(root)
    tests = root / "tests"
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the plan folder exactly as polyplan wrote it
    if url:
        env[ENGINES[engine].env_var] = url
    preflight(engine, env.get(ENGINES[engine].env_var))
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
    if junit_xml is not None:
        command += ["--junit-xml", str(Path(junit_xml).resolve())]
    returncode = _run_pytest(command, tests, env, output, events)
    if returncode == EXIT_OK:
        return EXIT_OK
    if returncode == PYTEST_USAGE_ERROR:
        return EXIT_USAGE
    return EXIT_FAILED


def _run_pytest(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    output: IO[str] | None,
    events: Callable[[dict[str, Any]], None] | None,
) -> int:
    """Run pytest; with `events`, through a pipe the events plugin writes to, read as they come."""
    stderr = subprocess.STDOUT if output is not None else None
    if events is None:
        return subprocess.run(command, cwd=cwd, env=env, check=False, stdout=output, stderr=stderr).returncode
    read_end, write_end = os.pipe()
    env = {**env, "POLYPLAN_EVENTS_FD": str(write_end)}
    command = [*command, "-p", "polyplan.validate.events"]
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=stderr, pass_fds=(write_end,)) as child:
        os.close(write_end)  # the child holds the only write end: EOF when it exits
        with os.fdopen(read_end, encoding="utf-8") as stream:
            for line in stream:
                events(json.loads(line))
        return child.wait()


def mutation_score(
    folder: str | Path, engine: str, url: str | None = None, report: Callable[[str], None] = print
) -> int:
    """Mutation testing of a plan folder's relational tests (`polyplan validate --mutations`):
    every mutation of `polyplan.validate.mutations` is applied to a copy of the folder, which is
    validated; each must fail, naming what was broken. 0 when all are caught, 1 otherwise."""
    if engine not in RELATIONAL:
        raise UsageError(f"--mutations covers the relational engines ({', '.join(RELATIONAL)}), not {engine}")
    root = Path(folder).resolve()
    verify_generated(root)  # the copies are edited on purpose; the original must be as written

    def run(copy: Path, batch: list[Mutation], output: IO[str]) -> int:
        return run_validation(copy, engine, url, trust_edits=True, modules=[batch[0].module], output=output)

    caught = total = 0
    for outcome in run_mutations(root, engine, url, run):
        total += 1
        caught += outcome.caught
        verdict = "caught  " if outcome.caught else "SURVIVED"
        report(f"{verdict} {outcome.mutation.label}" + (f": {outcome.why}" if outcome.why else ""))
    report(f"mutation score {engine}: {caught}/{total} caught")
    return EXIT_OK if caught == total else EXIT_FAILED

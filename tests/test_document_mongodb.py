"""The generated MongoDB tests, run the way `polyplan validate OUT --engine mongodb` runs them.

They need a MongoDB wire-protocol server (POLYPLAN_MONGODB_URL, or a Docker engine for
testcontainers); without one they skip with the reason `polyplan.testkit` gives, which names the
command that runs them. In CI the URL leads to FerretDB: the generated tests then skip the checks
FerretDB cannot run (each naming FerretDB and the feature) and the run's summary names the server,
which these tests check too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pymongo import MongoClient

from polyplan.emit.plan_json import render_plan_json
from polyplan.emit.writer import write_tree
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.document import Target, connect, runtime
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_FAILED, EXIT_OK, run_validation
from tests.conftest import SCENARIOS, planned
from tests.test_document_design import doc_plan

pytestmark = pytest.mark.mongodb
DOCUMENTED = [s for s in SCENARIOS if planned(s).records_in(Family.DOCUMENT)]
SUMMARY = "document store under test: "


def write_folder(plan: Plan, folder: Path) -> Path:
    """A plan folder holding the MongoDB artifacts (and the plan.json that marks a plan folder)."""
    artifacts = Target().emit(plan)
    texts = dict(artifacts.files)
    texts.update({f"tests/{path}": text for path, text in artifacts.tests.items()})
    texts["plan.json"] = render_plan_json(plan, {"document": artifacts.summary}, list(artifacts.diagnostics))
    write_tree(texts, folder)
    return folder


def scratch_databases(url: str) -> set[str]:
    """The scratch databases of generated test runs on the server."""
    client: MongoClient[Any] = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        return {name for name in client.list_database_names() if name.startswith("pptest_")}
    finally:
        client.close()


def server_label(url: str) -> tuple[str, bool]:
    """`FerretDB 1.24.2` or `MongoDB 7.0.12`, and whether it is MongoDB."""
    client = connect.connect(url)
    try:
        server = runtime.identify(client.admin.command("buildInfo"))
    finally:
        client.close()
    return server.label, server.is_mongodb


def check_validation(folder: Path, url: str, capfd: pytest.CaptureFixture[str]) -> None:
    """`polyplan validate` passes, names the server in its summary, and leaves no database behind."""
    before = scratch_databases(url)
    assert run_validation(folder, "mongodb", url) == EXIT_OK
    output = capfd.readouterr().out
    label, is_mongodb = server_label(url)
    named = [line for line in output.splitlines() if line.startswith(SUMMARY)]
    assert named and label in named[0], output[-3000:]
    if not is_mongodb:
        # A pass on another server must say it is not MongoDB, and every skip must name the server.
        assert "not MongoDB" in named[0] and "is not a MongoDB pass" in output, output[-3000:]
    assert scratch_databases(url) <= before, "the run left its database behind"


@pytest.mark.parametrize("scenario", DOCUMENTED, ids=lambda s: s.stem)
def test_generated_mongodb_tests_pass_for_scenario(
    scenario: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = resolve_url("mongodb")
    check_validation(write_folder(planned(scenario), tmp_path / scenario.stem), url, capfd)


def test_generated_mongodb_tests_pass_for_every_feature(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    url = resolve_url("mongodb")
    check_validation(write_folder(doc_plan(), tmp_path / "doctest"), url, capfd)


def test_skip_reasons_name_the_server_and_the_feature(tmp_path: Path) -> None:
    """Every skip of a generated check names the server and what it lacks; on MongoDB nothing skips."""
    url = resolve_url("mongodb")
    folder = write_folder(doc_plan(), tmp_path / "doctest")
    result = pytest_run(folder, {"POLYPLAN_MONGODB_URL": url, "POLYPLAN_REQUIRE": "mongodb"}, "-rs")
    assert result.returncode == 0, result.stdout[-3000:]
    label, is_mongodb = server_label(url)
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    if is_mongodb:
        assert not skips, skips
        return
    assert skips, "a server that is not MongoDB lacks something the design uses"
    for line in skips:
        assert f"{label} lacks " in line and "which MongoDB has: run against MongoDB to check" in line, line
    # The answers of the patterns run for real (FerretDB runs queries; only the $text one skips).
    passed = result.stdout.splitlines()[-1]
    assert " passed" in passed, passed


def validate_then_select(
    plan: Plan, folder: Path, capfd: pytest.CaptureFixture[str], selection: str
) -> tuple[list[str], list[str], str, bool]:
    """`polyplan validate` of `plan`'s MongoDB artifacts passes (check_validation); then the
    generated checks matching `-k selection` alone: their output lines, the SKIPPED lines, the
    server's label and whether it is MongoDB."""
    url = resolve_url("mongodb")
    write_folder(plan, folder)
    check_validation(folder, url, capfd)
    result = pytest_run(folder, {"POLYPLAN_MONGODB_URL": url, "POLYPLAN_REQUIRE": "mongodb"}, "-rs", "-k", selection)
    assert result.returncode == 0, result.stdout[-3000:]
    lines = result.stdout.splitlines()
    label, is_mongodb = server_label(url)
    return lines, [line for line in lines if line.startswith("SKIPPED")], label, is_mongodb


def pytest_run(folder: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    """The generated MongoDB tests of `folder`, run by pytest in a subprocess, isolated like `validate`."""
    environment = {k: v for k, v in os.environ.items() if k not in ("POLYPLAN_MONGODB_URL", "POLYPLAN_REQUIRE")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *options, "-p", "no:cacheprovider", "-c", os.devnull, "test_mongodb.py"],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder / "tests",
        env=environment,
        timeout=600,
    )


def test_a_failing_run_drops_its_database(tmp_path: Path) -> None:
    """A check that fails still leaves no database behind (the design is edited so a check fails)."""
    url = resolve_url("mongodb")
    folder = write_folder(doc_plan(), tmp_path / "doctest")
    cases = folder / "tests" / "data" / "mongodb_cases.json"
    text = cases.read_text(encoding="utf-8")
    assert '"expected_count": 1,' in text
    cases.write_text(text.replace('"expected_count": 1,', '"expected_count": 2,', 1), encoding="utf-8")
    before = scratch_databases(url)
    assert run_validation(folder, "mongodb", url, trust_edits=True) == EXIT_FAILED
    assert scratch_databases(url) <= before, "a failing run left its database behind"


def _stop_and_fail(process: subprocess.Popen[bytes], output: Path, why: str) -> NoReturn:
    """Fail with the run's output; a run still going is aborted first, so its stacks are in it."""
    if process.poll() is None:
        process.send_signal(signal.SIGABRT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    pytest.fail(f"{why}; the run's output ends:\n{output.read_text(errors='replace')[-6000:]}")


def test_a_terminated_run_drops_its_database_and_a_killed_one_is_swept(tmp_path: Path) -> None:
    """SIGTERM unwinds and drops the database; after SIGKILL the next run on this machine drops it."""
    url = resolve_url("mongodb")
    if not connect.is_local(url):
        pytest.skip("the sweep of killed runs' databases applies to servers on this machine only")
    folder = write_folder(doc_plan(), tmp_path / "doctest")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        output = tmp_path / f"run-{sig.name}.txt"
        with output.open("wb") as sink:
            # PYTHONFAULTHANDLER: a run that does not end is sent SIGABRT below, which dumps every
            # thread's stack into its output, so a hang shows where it waited.
            process = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, "test_mongodb.py"],
                cwd=folder / "tests",
                env={
                    **os.environ,
                    "POLYPLAN_MONGODB_URL": url,
                    "POLYPLAN_REQUIRE": "mongodb",
                    "PYTHONFAULTHANDLER": "1",
                },
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        mine = f"pptest_{process.pid}_"
        deadline = time.monotonic() + 120
        while not any(name.startswith(mine) for name in scratch_databases(url)):
            if process.poll() is not None or time.monotonic() > deadline:
                _stop_and_fail(process, output, "the run never created its database")
            time.sleep(0.05)
        process.send_signal(sig)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            _stop_and_fail(process, output, f"the run did not end within 120 s of {sig.name}")
        left = {name for name in scratch_databases(url) if name.startswith(mine)}
        if sig == signal.SIGTERM:
            assert not left, "SIGTERM left the database behind"
        else:
            assert left, "SIGKILL should leave the database for the next run to sweep"
            with connect.scratch_database(url):
                pass
            assert not {name for name in scratch_databases(url) if name.startswith(mine)}, "not swept"


def test_generated_tests_skip_with_the_command_that_runs_them(tmp_path: Path) -> None:
    """Outside `polyplan validate` (no POLYPLAN_REQUIRE), an unreachable MongoDB is a skip, not an error."""
    folder = write_folder(doc_plan(), tmp_path / "doctest")
    result = pytest_run(folder, {"POLYPLAN_MONGODB_URL": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300"}, "-rs")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "mongodb not reachable" in result.stdout and "POLYPLAN_MONGODB_URL=" in result.stdout

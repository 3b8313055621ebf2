"""`render(plan, jobs=2)`: one forked worker renders part of the relational engines (issue 7).

The output must be the same bytes as one process makes; a failure in the worker must look
exactly like the same failure in one process; and no worker may outlive its render, whether the
render fails or its process is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import polyplan.stores.relational as relational
from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.forked import WorkerLost, fork
from polyplan.model.dialects import relational_dialects
from polyplan.pipeline import default_jobs, plan_file, render
from polyplan.stores.relational.design import design_schema
from tests.conftest import ROOT, SCENARIOS, planned

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here: jobs=2 runs in one process")


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every model forks with jobs ≥ 2 (however small); yields the pids of the workers forked."""
    pids: list[int] = []
    real = relational.fork

    def counted(work: Callable[[], Any]) -> Any:
        worker = real(work)
        pids.append(worker.pid)
        return worker

    monkeypatch.setattr(relational, "FORK_MIN_TABLE_ENGINES", 0)
    monkeypatch.setattr(relational, "fork", counted)
    yield pids


@needs_fork
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_one_and_two_jobs_give_the_same_tree(scenario: Path, forks: list[int]) -> None:
    plan = planned(scenario)
    one_files, one_diagnostics = render(plan, jobs=1)
    assert forks == []
    two_files, two_diagnostics = render(plan, jobs=2)
    assert len(forks) == 1, "jobs=2 did not fork its worker"
    assert list(two_files) == list(one_files)  # the same files, merged in the same order
    differing = [name for name, text in one_files.items() if two_files[name] != text]
    assert not differing
    assert two_diagnostics == one_diagnostics


@needs_fork
def test_a_small_model_is_not_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(relational, "fork", lambda work: started.append(work))
    plan = planned(ROOT / "scenarios" / "shop.yaml")
    tables = design_schema(plan)[0]
    assert len(tables) * len(relational_dialects(plan.model)) < relational.FORK_MIN_TABLE_ENGINES  # below the line
    render(plan, jobs=2)
    assert started == []


def failing_on(engine: str, error: Callable[[], BaseException]) -> Callable[..., str]:
    real = relational.engine_test_module

    def module(plan: Any, tables: Any, build: Any, name: str) -> str:
        if name == engine:
            raise error()
        return real(plan, tables, build, name)

    return module


class _Unpicklable(Exception):
    def __init__(self, what: str, lock: Any) -> None:
        super().__init__(what)
        self.lock = lock  # a lock does not pickle


ERRORS: dict[str, Callable[[], BaseException]] = {
    "value": lambda: ValueError("mysql went wrong"),
    "diagnostic": lambda: DiagnosticError([Diagnostic("PP402", "mysql: refused", "entities.X", Severity.ERROR)]),
    "unpicklable": lambda: _Unpicklable("cannot travel", __import__("threading").Lock()),
}


@needs_fork
@pytest.mark.parametrize("kind", list(ERRORS))
def test_an_error_in_the_worker_is_the_error_one_process_raises(
    kind: str, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite is rendered by the worker with jobs=2 (the report's engine, PostgreSQL, stays here).
    monkeypatch.setattr(relational, "engine_test_module", failing_on("sqlite", ERRORS[kind]))
    plan = planned(ROOT / "scenarios" / "shop.yaml")
    with pytest.raises(Exception) as one:
        render(plan, jobs=1)
    with pytest.raises(Exception) as two:
        render(plan, jobs=2)
    assert len(forks) == 1
    assert type(two.value).__name__ == type(one.value).__name__
    assert str(two.value) == str(one.value)
    if kind != "unpicklable":
        assert type(two.value) is type(one.value)
    if isinstance(one.value, DiagnosticError):
        assert isinstance(two.value, DiagnosticError) and two.value.diagnostics == one.value.diagnostics
    assert any("raised in the render worker process" in note for note in getattr(two.value, "__notes__", []))
    assert_reaped(forks)


@needs_fork
def test_an_error_here_kills_and_reaps_the_worker(forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relational, "engine_test_module", failing_on("postgresql", lambda: ValueError("here")))
    with pytest.raises(ValueError, match="here"):
        render(planned(ROOT / "scenarios" / "shop.yaml"), jobs=2)
    assert len(forks) == 1
    assert_reaped(forks)


def assert_reaped(pids: list[int]) -> None:
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # not our child any more: reaped already


@needs_fork
def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    worker = fork(lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(WorkerLost):
        worker.result()
    assert_reaped([worker.pid])


@needs_fork
def test_a_worker_that_dies_while_it_writes_is_lost_too(monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def half_then_die(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        os._exit(1)

    monkeypatch.setattr(os, "write", half_then_die)  # only the child writes
    worker = fork(lambda: "x" * 100_000)
    with pytest.raises(WorkerLost):
        worker.result()
    assert_reaped([worker.pid])


# The CLI with a failure injected into SQLite's rendering (the worker's, with --jobs 2).
_CLI = """
import sys
import polyplan.stores.relational as relational
from polyplan.cli import main
real = relational.engine_test_module
def broken(plan, tables, build, engine):
    if engine == "sqlite":
        raise KeyError("sqlite module")
    return real(plan, tables, build, engine)
relational.engine_test_module = broken
relational.FORK_MIN_TABLE_ENGINES = 0
sys.argv = ["polyplan", *sys.argv[1:]]
main()
"""


@needs_fork
def test_the_cli_reports_a_worker_error_as_one_process_does(tmp_path: Path) -> None:
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        runs[jobs] = subprocess.run(
            [
                sys.executable,
                "-c",
                _CLI,
                "-q",
                "plan",
                str(ROOT / "scenarios" / "shop.yaml"),
                "-o",
                str(out),
                "-j",
                jobs,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert not out.exists(), "nothing is written when rendering fails"
    assert runs["1"].returncode == runs["2"].returncode == 3
    assert runs["2"].stderr == runs["1"].stderr
    assert "internal error: KeyError: 'sqlite module'" in runs["1"].stderr


def test_jobs_option_and_default(tmp_path: Path) -> None:
    assert 1 <= default_jobs() <= 2
    with pytest.raises(ValueError, match="at least 1"):
        render(plan_file(SCENARIOS[0]), jobs=0)
    done = subprocess.run(
        [sys.executable, "-m", "polyplan", "plan", str(SCENARIOS[0]), "-o", str(tmp_path / "o"), "--jobs", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--jobs" in done.stderr
    assert not (tmp_path / "o").exists()


# Renders the 300-entity model of bench/planner.py with jobs=2 (its relational worker forks).
_BENCH = """
import sys
sys.path.insert(0, "bench")
from planner import synthetic_model
from polyplan.pipeline import plan_text, render
plan = plan_text(synthetic_model(300), "synthetic_300.yaml")
print("planned", flush=True)
render(plan, jobs=2)
"""


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie runs no more (its new parent reaps it)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")
def test_a_killed_parent_leaves_no_worker() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _BENCH], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "planned"
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while not workers and time.monotonic() < deadline and parent.poll() is None:
            workers = _children(parent.pid)
            time.sleep(0.02)
        assert workers, "the render forked no worker"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        # Killed with it, not when its work is done (seconds later, under load).
        deadline = time.monotonic() + 2
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_running(w) for w in workers), "the worker outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


@needs_fork
@pytest.mark.parametrize("made", ["capacity_plan", "diagram_files", "report_diagrams"])
def test_what_is_made_meanwhile_fails_as_before(made: str, forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The capacity plan and the diagrams are made while the worker renders; their error still
    comes after a target's, as in one process."""
    import polyplan.pipeline as pipeline

    def broken(*args: Any) -> Any:
        raise ArithmeticError(made)

    monkeypatch.setattr(pipeline, made, broken)
    plan = planned(ROOT / "scenarios" / "shop.yaml")
    for jobs in (1, 2):
        with pytest.raises(ArithmeticError, match=made):
            render(plan, jobs=jobs)
    monkeypatch.setattr(relational, "engine_test_module", failing_on("sqlite", lambda: LookupError("target")))
    for jobs in (1, 2):
        with pytest.raises(LookupError, match="target"):  # the target's error, as in one process
            render(plan, jobs=jobs)
    assert len(forks) == 2
    assert_reaped(forks)


# --- the serial path before the fork (docs/benchmarks.md, "Eleventh round") ----------------------


def _guessed() -> Any:
    """order_entry without the district's customers: its guessed distinct counts flip how a
    pattern is served, so the design has PP420 probes that report (test_index_probes)."""
    from polyplan.pipeline import plan_text

    text = (ROOT / "tests" / "models" / "order_entry.yaml").read_text(encoding="utf-8")
    kept = "\n".join(line for line in text.splitlines() if "name: district_customers," not in line) + "\n"
    return plan_text(kept, "order_entry.yaml")


def test_the_pp420_probes_give_the_same_diagnostics_however_they_are_split() -> None:
    """The probes made in two parts, in either order, are design_schema's diagnostics."""
    from polyplan.stores.relational.design import design_schema_probed

    plan = _guessed()
    tables, found = design_schema(plan)
    again, before, probes, after = design_schema_probed(plan)
    assert [t.name for t in again] == [t.name for t in tables]
    assert any(d.code == "PP420" for d in found), "the scenario has no PP420 to compare"
    count = len(probes.probes)
    assert count == len(tables)
    for cut in (0, 1, count // 2, count):
        late = probes.run(cut)  # the worker's part, made first
        assert [*before, *probes.run(0, cut), *late, *after] == found


@needs_fork
def test_the_pp420_probes_are_made_after_the_fork(forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """With a worker, no probe runs on the serial path before the fork; the parent makes part of
    them after it and the worker the rest; the diagnostics are one process's."""
    import polyplan.stores.relational.indexes as indexes

    made: list[str] = []  # "before" / "after" the fork, per probe made in this process
    forked: list[bool] = []
    real_guesses = indexes.guess_diagnostics

    def counted(*args: Any) -> list[Diagnostic]:
        if os.getpid() == parent:
            made.append("after" if forked else "before")
        return real_guesses(*args)

    real_fork = relational.fork

    def marked(work: Callable[[], Any]) -> Any:
        forked.append(True)
        return real_fork(work)

    parent = os.getpid()
    monkeypatch.setattr(indexes, "guess_diagnostics", counted)
    plan = _guessed()
    one_files, one_diagnostics = render(plan, jobs=1)
    tables = len(made)
    assert tables > 1 and made == ["before"] * tables  # one process: all of them, at design time
    made.clear()
    monkeypatch.setattr(relational, "fork", marked)
    two_files, two_diagnostics = render(plan, jobs=2)
    assert forked == [True]
    assert "before" not in made
    assert 0 < len(made) < tables  # the rest were made by the worker
    assert two_diagnostics == one_diagnostics
    assert any(d.code == "PP420" for d in two_diagnostics)
    assert two_files == one_files


def test_the_engine_memos_made_ahead_are_complete_and_the_same() -> None:
    """`engine_memos` holds every shape key and prepared query the builds would make: with it the
    builds make none, and they render the same SQL."""
    import polyplan.stores.relational.ddl_shapes as ddl_shapes
    import polyplan.stores.relational.render as render_module
    from polyplan.stores.relational.render import build_engines, engine_memos

    plan = planned(ROOT / "scenarios" / "shop.yaml")
    tables, _ = design_schema(plan)
    lazy = build_engines(plan, tables)
    memos = engine_memos(plan, tables)
    assert memos.spec_keys and memos.prepared
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for module, name in ((ddl_shapes, "_spec_key"), (render_module, "_prepare")):
            real = getattr(module, name)
            patch.setattr(module, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
        ahead = build_engines(plan, tables, memos=memos)
    assert calls == []
    assert list(ahead) == list(lazy)
    for engine, build in lazy.items():
        assert [(q.name, q.sql, q.params, q.notes) for q in ahead[engine].queries] == [
            (q.name, q.sql, q.params, q.notes) for q in build.queries
        ]
        assert ahead[engine].skipped == build.skipped
        assert render_module.render_schema(plan.model, ahead[engine].rendered) == render_module.render_schema(
            plan.model, build.rendered
        )

"""The benchmarks' claims can fail, and docs/benchmarks.md shows exactly the committed results.

bench/ is not a package: its modules are loaded from their files the way bench/render_docs.py
loads them.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_render_docs", ROOT / "bench" / "render_docs.py")
    assert spec is not None and spec.loader is not None
    render_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_docs)
    return render_docs._benchmark(name)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def indexes() -> ModuleType:
    pytest.importorskip("psycopg", reason="bench/indexes.py needs the PostgreSQL driver")
    return _load("indexes")


@pytest.fixture(scope="module")
def saved_indexes() -> dict[str, Any]:
    return dict(json.loads((RESULTS / "indexes.json").read_text(encoding="utf-8")))


def test_docs_are_rendered_from_the_committed_results() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render_docs.py"), "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_the_committed_index_run_is_judged_by_its_thresholds(
    indexes: ModuleType, saved_indexes: dict[str, Any]
) -> None:
    """Every claim in the saved run carries a verdict computed from its numbers (a run made on a
    loaded machine may miss one; the doc then shows the FAIL rather than hiding it)."""
    results = [indexes._result_from_json(r) for r in saved_indexes["results"]]
    assert results, "the results file holds no scenario"
    for result in results:
        judged = indexes.verdicts(result)
        assert len(judged) == 5, [text for _, text in judged]
        rendered = indexes.render_saved({**saved_indexes, "results": [saved_indexes["results"][results.index(result)]]})
        for held, text in judged:
            assert f"{'PASS' if held else 'FAIL'} {text}" in rendered


def _worsen(saved: dict[str, Any], change: str) -> dict[str, Any]:
    """A copy of the first scenario's results with one claim broken."""
    result = copy.deepcopy(saved["results"][0])
    routed = [name for name, needs in result["needs_index"].items() if needs]
    if change == "slow read":
        name = routed[0]
        result["reads"][name]["polyplan"]["p99_ms"] = result["reads"][name]["pk"]["p99_ms"] / 2
    elif change == "more wal":
        result["wal_bytes_per_row"]["polyplan"] = result["wal_bytes_per_row"]["single"] * 1.05
    elif change == "more indexes":
        result["indexes"]["polyplan"] = result["indexes"]["single"] + 1
    elif change == "missed target":
        name = next(n for n, target in result["targets"].items() if target is not None)
        result["reads"][name]["polyplan"]["p99_ms"] = result["targets"][name] * 1.5
        result["flagged"][name] = True  # a warning in the plan does not excuse a miss
    elif change == "index unused":
        name = routed[0]
        result["plan_indexes"][name] = []
    return result


@pytest.mark.parametrize("change", ["slow read", "more wal", "more indexes", "missed target", "index unused"])
def test_a_missed_threshold_fails_the_benchmark(
    indexes: ModuleType, saved_indexes: dict[str, Any], change: str
) -> None:
    result = indexes._result_from_json(_worsen(saved_indexes, change))
    assert not indexes.all_held([result])
    assert any(line.startswith("FAIL ") for line in indexes._verdict_lines(result))


def test_report_exits_1_on_a_missed_threshold(saved_indexes: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="bench/indexes.py needs the PostgreSQL driver")
    broken = {**saved_indexes, "results": [_worsen(saved_indexes, "more indexes")]}
    path = tmp_path / "indexes.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "indexes.py"), "--report", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "FAIL no more secondary indexes" in run.stdout


@pytest.fixture(scope="module")
def migrations() -> ModuleType:
    pytest.importorskip("psycopg", reason="bench/migrations.py needs the PostgreSQL driver")
    return _load("migrations")


@pytest.fixture(scope="module")
def saved_migrations() -> dict[str, Any]:
    return dict(json.loads((RESULTS / "migrations.json").read_text(encoding="utf-8")))


def test_the_committed_migration_run_is_judged_by_its_thresholds(
    migrations: ModuleType, saved_migrations: dict[str, Any]
) -> None:
    judged = migrations.verdicts(saved_migrations)
    assert len(judged) == 4, [text for _, text in judged]
    rendered = migrations.render_saved(saved_migrations)
    for held, text in judged:
        assert f"{'PASS' if held else 'FAIL'} {text}" in rendered
    rounds = {run["round"] for run in saved_migrations["runs"]}
    assert len(rounds) >= 3 and {run["variant"] for run in saved_migrations["runs"]} == {"polyplan", "naive"}
    assert saved_migrations["setup"]["rows"] >= 1_000_000


def _worsen_migration(saved: dict[str, Any], change: str) -> dict[str, Any]:
    broken = copy.deepcopy(saved)
    mine = next(r for r in broken["runs"] if r["variant"] == "polyplan")
    naive = next(r for r in broken["runs"] if r["variant"] == "naive")
    if change == "polyplan stalls":
        mine["during"]["max_ms"] = broken["limits"]["max_stall_ms"] * 3
    elif change == "naive does not stall":
        naive["during"]["max_ms"] = broken["limits"]["naive_min_ms"] / 10
    elif change == "load fails":
        mine["during"]["failed"] = 3
    elif change == "drift":
        mine["drift"] = ["added: column task.extra"]
    return broken


@pytest.mark.parametrize("change", ["polyplan stalls", "naive does not stall", "load fails", "drift"])
def test_a_missed_migration_threshold_fails_the_benchmark(
    migrations: ModuleType, saved_migrations: dict[str, Any], change: str, tmp_path: Path
) -> None:
    broken = _worsen_migration(saved_migrations, change)
    assert not migrations.all_held(broken)
    path = tmp_path / "migrations.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "migrations.py"), "--report", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "- FAIL " in run.stdout


def test_a_naive_migration_that_deadlocks_is_recorded_as_its_harm(
    migrations: ModuleType, saved_migrations: dict[str, Any]
) -> None:
    recorded = copy.deepcopy(saved_migrations)
    naive = next(r for r in recorded["runs"] if r["variant"] == "naive")
    naive["during"]["max_ms"] = 40.0  # it died before the load queued behind it for long
    naive["error"] = "DeadlockDetected: deadlock detected"
    judged = dict((text.split(":")[0], held) for held, text in migrations.verdicts(recorded))
    claim = f"the naive migration stalls the load at least {recorded['limits']['naive_min_ms']:,.0f} ms in every round"
    assert judged[claim] is True
    text = next(text for _, text in migrations.verdicts(recorded) if text.startswith(claim))
    assert "failed in 1 round(s): DeadlockDetected" in text
    naive["error"] = ""
    assert dict((text.split(":")[0], held) for held, text in migrations.verdicts(recorded))[claim] is False


def test_the_committed_capacity_run_is_judged_by_its_goals() -> None:
    """The saved sizing run misses nothing (docs/benchmarks.md: every judged part within its goal),
    and a judged relational part, a Redis family or a collection pushed past its goal is a miss;
    a part too small to be judged is not."""
    capacity = _load("capacity")
    saved = json.loads((RESULTS / "capacity.json").read_text(encoding="utf-8"))
    assert capacity.saved_misses(saved) == []
    doctored = copy.deepcopy(saved)
    ratios = doctored["relational"][0]["ratios"]
    judged = next(r for r in ratios if r["judged"] and r["engine"] == "postgresql")
    judged["ratio"] = 1.16
    next(r for r in ratios if not r["judged"])["ratio"] = 2.0
    doctored["redis"]["families"][0]["total_ratio"] = 1.2
    doctored["bson"]["collections"][0]["ratio"] = 0.8
    missed = capacity.saved_misses(doctored)
    assert len(missed) == 3 and missed[0].endswith(f"{judged['part']} 1.16"), missed


def test_a_stall_the_control_probe_shares_is_told_apart_from_one_of_the_load_alone(migrations: ModuleType) -> None:
    """The control (a `SELECT 1` every 20 ms on its own connection) separates host stalls from lock waits."""
    tick, sample = migrations.Tick, migrations.Sample
    # The control is on time except for one 400 ms delay starting at 5.0 s.
    ticks = [tick(t / 50, 1.0) for t in range(0, 250)] + [tick(5.0, 400.0)]
    ticks.sort(key=lambda t: t.start)
    host_stall = sample("read", 5.05, 380.0, 1)  # overlaps the control's 400 ms delay: shared
    lock_wait = sample("update", 2.0, 300.0, 1)  # the control stayed on time meanwhile: alone
    quick = sample("read", 3.0, 2.0, 1)
    assert migrations._overlapping(ticks, 5.05, 380.0, 0.4) == 400.0
    assert migrations._overlapping(ticks, 2.0, 300.0, 0.4) == 1.0
    found = migrations.figures([host_stall, lock_wait, quick], 0.0, 10.0, ticks)
    assert found.max_ms == 380.0  # the raw longest stall, which the claim judges
    assert found.alone_max_ms == 300.0
    assert found.control_max_ms == 400.0
    assert "(control 400 ms)" in found.slowest[0] and "(control 1 ms)" in found.slowest[1]

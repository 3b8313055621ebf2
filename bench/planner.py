"""How polyplan's own speed grows with the model: load → check → score → plan → emit → write.

Generates synthetic models of N entities with 10 access patterns each (a chain of one-to-many
relationships, a mix of store-friendly profiles), then times every stage. Each run is a fresh
child process, so its peak RSS is its own; sizes and --jobs values are interleaved run by run,
and the median of --runs runs is reported.

Each run reports two figures. **Wall time** is what issue 7's bar names ("a few seconds on 2
cores") and what `render(plan, jobs=2)` shortens: the relational worker runs beside the parent,
so the CPU is spent in two processes at once. **CPU time** is the parent's own (process_time)
plus its reaped children's (`RUSAGE_CHILDREN`: the worker): the work done, whatever the cores.
Both are printed and saved because each misleads alone: on a shared host the wall time measures
the neighbours as much as polyplan (a load average of 4 on 2 cores roughly doubles it), and
forking only moves CPU between processes — a change that saves wall time by spending more CPU
shows as such. The verdict judges wall time (`--judge wall`, the bar's own terms) at the largest
--jobs value; `--judge cpu` judges CPU as the rounds before the worker did. Judge wall figures
on a quiet host only (the load average at the start is saved with them).

Thresholds (issue 7): the median judged figure at --reference entities (1,000) at most
--max-seconds, and each step up in size at most --max-growth times it per 10× the model. A missed
threshold makes the command exit with status 1.

    python bench/planner.py                              # 100 and 1,000 entities, jobs 1 and 2, 3 runs each
    python bench/planner.py --sizes 100 1000 10000       # also the 10× model
    python bench/planner.py --child 1000 --jobs 2        # one run, its figures as JSON
    python bench/render_docs.py                          # docs/benchmarks.md from the saved results

Results go to bench/results/planner.json (--output); bench/render_docs.py renders the planner
section of docs/benchmarks.md from that file (and from bench/results/planner-before.json, the
figures before the emit path was reworked, when present) through `render_saved`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

PATTERNS_PER_ENTITY = 10
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "planner.json"
BEFORE = ROOT / "bench" / "results" / "planner-before.json"
# CPU seconds: the parent's stages (process_time), the worker's (RUSAGE_CHILDREN) and their sum.
STAGES = ("load+plan", "emit", "write", "children", "total")


def synthetic_model(entities: int) -> str:
    """A model text with `entities` entities and 10 access patterns per entity."""
    model: dict[str, object] = {
        "name": f"synthetic_{entities}",
        # Every relational dialect, as the bundled scenarios do: the figures stay comparable with
        # the runs made before a model's default became its own engine plus SQLite.
        "options": {"relational_dialects": ["postgresql", "mysql", "sqlite"]},
        "entities": {},
        "relationships": [],
        "access_patterns": [],
        "write_patterns": [],
    }
    entity_map: dict[str, object] = {}
    relationships: list[object] = []
    patterns: list[object] = []
    writes: list[object] = []
    for index in range(entities):
        name = f"Entity{index}"
        kind = index % 10
        attributes: dict[str, object] = {
            "code": {"type": "string", "max_length": 32, "unique": True},
            "status": {"type": "enum", "values": ["new", "open", "closed"]},
            "amount": {"type": "decimal", "precision": 12, "scale": 2, "min": 0},
            "title": {"type": "string", "max_length": 200},
            "body": {"type": "text", "avg_length": 400},
            "created_at": {"type": "timestamptz"},
            "score": {"type": "integer"},
            "extra": {"type": "json", "nullable": True},
        }
        growth: dict[str, object] = {"initial_rows": 10_000 * (1 + kind), "rows_per_day": 100 * (1 + kind)}
        if kind == 7:
            growth = {"initial_rows": 0, "rows_per_day": 1_000_000, "ttl_seconds": 3600}
        if kind == 8:
            growth = {
                "initial_rows": 0,
                "rows_per_day": 500_000_000,
                "retention_days": 30,
                "time_attribute": "created_at",
            }
        entity_map[name] = {
            "attributes": attributes,
            "growth": growth,
            "schema_variability": "high" if kind == 9 else "low",
        }
        if index > 0 and kind not in (7, 8):
            parent = f"Entity{index - 1}" if (index - 1) % 10 not in (7, 8) else "Entity0"
            relationships.append(
                {"name": f"rel_{index}", "kind": "one_to_many", "from": parent, "to": name, "required": kind != 9}
            )
        filters = [
            [{"attribute": "code", "op": "eq"}],
            [{"attribute": "status", "op": "eq", "value": "open"}, {"attribute": "created_at", "op": "range"}],
            [{"attribute": "status", "op": "in"}],
            [{"attribute": "title", "op": "prefix"}],
            [{"attribute": "amount", "op": "range"}],
            [{"attribute": "score", "op": "eq"}, {"attribute": "created_at", "op": "range"}],
            [{"attribute": "id", "op": "eq"}],
            [{"attribute": "code", "op": "eq"}, {"attribute": "status", "op": "eq"}],
            [{"attribute": "title", "op": "fulltext"}] if kind == 3 else [{"attribute": "created_at", "op": "range"}],
            [{"attribute": "score", "op": "range"}],
        ]
        for number in range(PATTERNS_PER_ENTITY):
            pattern: dict[str, object] = {
                "name": f"p{index}_{number}",
                "entity": name,
                "filters": filters[number],
                "rate": 10 + number * 5,
                "latency_ms": 50,
            }
            if number in (1, 5):
                pattern["sort"] = [{"attribute": "created_at", "direction": "desc"}]
                pattern["limit"] = 50
            if kind in (7, 8):
                pattern["filters"] = [{"attribute": "code" if kind == 7 else "score", "op": "eq"}]
                pattern["consistency"] = "eventual"
            patterns.append(pattern)
        writes.append({"name": f"w{index}", "entity": name, "kind": "insert", "rate": 5 if kind != 8 else 20000})
    model["entities"] = entity_map
    model["relationships"] = relationships
    model["access_patterns"] = patterns
    model["write_patterns"] = writes
    return yaml.safe_dump(model, sort_keys=False)


def measure(entities: int, jobs: int = 1) -> dict[str, float]:
    """CPU seconds of each stage, wall seconds and peak RSS of planning `entities` entities and
    rendering with `jobs`; `children` is the CPU of the worker processes (reaped by `render`),
    `total` the parent's and theirs.

    Runs in its own process (see `child`): the model text is built before the clock starts."""
    # Imported here so that the parent process, which only spawns and summarises, stays small.
    from polyplan.emit.writer import write_tree
    from polyplan.pipeline import plan_text, render

    text = synthetic_model(entities)
    cpu: dict[str, float] = {}
    wall = time.perf_counter()
    start = time.process_time()
    plan = plan_text(text, f"synthetic_{entities}.yaml")
    cpu["load+plan"] = time.process_time() - start
    mark = time.process_time()
    files, _ = render(plan, jobs)
    cpu["emit"] = time.process_time() - mark
    mark = time.process_time()
    with tempfile.TemporaryDirectory() as scratch:
        write_tree(files, Path(scratch) / "out")
    cpu["write"] = time.process_time() - mark
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["children"] = children.ru_utime + children.ru_stime
    cpu["total"] = time.process_time() - start + cpu["children"]
    return {
        **cpu,
        "wall": time.perf_counter() - wall,
        "jobs": float(jobs),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "files": float(len(files)),
        "bytes": float(sum(len(t.encode()) for t in files.values())),
    }


def run_child(entities: int, jobs: int = 1) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(entities), "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summarise(size: int, runs: list[dict[str, float]]) -> dict[str, Any]:
    def spread(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "entities": size,
        "patterns": size * PATTERNS_PER_ENTITY,
        "runs": runs,
        "cpu": {stage: spread(stage) for stage in STAGES if all(stage in r for r in runs)},
        "wall": spread("wall"),
        "peak_rss_mb": spread("peak_rss_mb"),
        "files": int(runs[0]["files"]),
        "megabytes": runs[0]["bytes"] / 1e6,
    }


def verdicts(
    sizes: list[dict[str, Any]], reference: int, max_seconds: float, max_growth: float, judge: str = "cpu"
) -> list[str]:
    """One line per threshold: 'ok …' or 'MISSED …', on the median `judge` figure ('cpu': the
    total CPU, 'wall': the wall time)."""

    def figure(entry: dict[str, Any]) -> float:
        value: float = entry["cpu"]["total"]["median"] if judge == "cpu" else entry["wall"]["median"]
        return value

    what = "CPU" if judge == "cpu" else "wall time"
    lines = []
    for entry in sizes:
        if entry["entities"] == reference:
            seconds = figure(entry)
            mark = "ok" if seconds <= max_seconds else "MISSED"
            unit = "s CPU" if judge == "cpu" else "s wall"
            lines.append(f"{mark}: {reference:,} entities took {seconds:.2f} {unit} (threshold {max_seconds:g} s)")
    for small, large in itertools.pairwise(sizes):
        step = large["entities"] / small["entities"]
        growth = figure(large) / figure(small)
        # The allowance scales with the step: max_growth per 10× the model.
        allowed = max_growth * step / 10
        mark = "ok" if growth <= allowed else "MISSED"
        lines.append(f"{mark}: {step:g}× the model took {growth:.1f}× the {what} (threshold {allowed:.1f}×)")
    return lines


def render_doc(results: dict[str, Any], before: dict[str, Any] | None) -> str:
    """The planner-results section of docs/benchmarks.md."""

    def table(data: dict[str, Any]) -> list[str]:
        if "by_jobs" not in data:  # results from before --jobs: one process, CPU judged
            rows = [
                "| entities | patterns | load + plan | emit | write | total CPU (min–max) | wall | peak RSS | files | output |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for entry in data["sizes"]:
                cpu = entry["cpu"]
                rows.append(
                    f"| {entry['entities']:,} | {entry['patterns']:,} | {cpu['load+plan']['median']:.2f} s "
                    f"| {cpu['emit']['median']:.2f} s | {cpu['write']['median']:.2f} s "
                    f"| **{cpu['total']['median']:.2f} s** ({cpu['total']['min']:.2f}–{cpu['total']['max']:.2f}) "
                    f"| {entry['wall']['median']:.2f} s | {entry['peak_rss_mb']['median']:.0f} MB "
                    f"| {entry['files']:,} | {entry['megabytes']:.1f} MB |"
                )
            return rows
        # Every --jobs value, so the worker's wall-time gain and the CPU it costs stand side by side.
        rows = [
            "| entities | jobs | load + plan | emit (parent) | worker | write "
            "| wall (min–max) | total CPU (min–max) | peak RSS (parent) | files | output |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        entries = [(int(jobs), entry) for jobs, listed in data["by_jobs"].items() for entry in listed]
        for jobs, entry in sorted(entries, key=lambda item: (item[1]["entities"], item[0])):
            cpu, wall = entry["cpu"], entry["wall"]
            worker = statistics.median(r.get("children", 0.0) for r in entry["runs"])
            rows.append(
                f"| {entry['entities']:,} | {jobs} | {cpu['load+plan']['median']:.2f} s "
                f"| {cpu['emit']['median']:.2f} s | {worker:.2f} s | {cpu['write']['median']:.2f} s "
                f"| **{wall['median']:.2f} s** ({wall['min']:.2f}–{wall['max']:.2f}) "
                f"| {cpu['total']['median']:.2f} s ({cpu['total']['min']:.2f}–{cpu['total']['max']:.2f}) "
                f"| {entry['peak_rss_mb']['median']:.0f} MB | {entry['files']:,} | {entry['megabytes']:.1f} MB |"
            )
        return rows

    def about(data: dict[str, Any]) -> str:
        return (
            f"{data['runs']} run{'' if data['runs'] == 1 else 's'} per size, medians; measured {data['measured']} on {data['host']} "
            f"(load average {data['load_average']} at the start), commit {data['commit']}:"
        )

    def block(title: str, data: dict[str, Any]) -> list[str]:
        lines = [f"**{title}** — {about(data)}", "", f"    {data['command']}", "", *table(data), ""]
        return lines + [f"- {line}" for line in data["verdicts"]] + [""]

    lines = ["<!-- rendered by `python bench/render_docs.py` from bench/results/; do not edit -->", ""]
    if before is not None:
        lines += block("Before", before)
    lines += block("After" if before is not None else "Results", results)
    return "\n".join(lines)


def render_saved(results: dict[str, Any]) -> str:
    """The docs section of a results file (bench/render_docs.py calls this)."""
    before = json.loads(BEFORE.read_text(encoding="utf-8")) if BEFORE.exists() else None
    return render_doc(results, before)


def commit() -> str:
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        dirty = subprocess.run(["git", "status", "--porcelain", "polyplan"], capture_output=True, text=True, cwd=ROOT)
    except OSError:
        return "unknown"
    if found.returncode != 0:
        return "unknown"
    return found.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="render's jobs, each size run with each")
    parser.add_argument("--runs", type=int, default=3, help="runs per size and jobs; the median is reported")
    parser.add_argument("--reference", type=int, default=1000, help="the size --max-seconds applies to")
    parser.add_argument(
        "--max-seconds", "--max-cpu", type=float, default=3.0, help="seconds allowed at --reference entities"
    )
    parser.add_argument("--max-growth", type=float, default=11.0, help="growth allowed per 10× the model")
    parser.add_argument(
        "--judge", choices=("wall", "cpu"), default="wall", help="the figure judged, at the largest --jobs"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the results JSON goes")
    parser.add_argument("--commit", help="what the measured code is called in the results (default: git HEAD)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.jobs[0])))
        return 0
    command = "python bench/planner.py " + " ".join(sys.argv[1:])
    print(f"# polyplan planner benchmark — Python {platform.python_version()}, {platform.machine()}")
    print(f"# reproduce: {command.strip()}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    runs: dict[tuple[int, int], list[dict[str, float]]] = {(s, j): [] for s in args.sizes for j in args.jobs}
    for number in range(args.runs):
        # Interleaved: a noisy minute spoils one run of each size and jobs, not one of them.
        for size, jobs in runs:
            started_load = os.getloadavg()[0]
            result = run_child(size, jobs)
            runs[size, jobs].append(result)
            print(
                f"run {number + 1}: {size:>7,} entities jobs {jobs}  wall {result['wall']:7.2f} s  "
                f"CPU {result['total']:7.2f} s (load+plan {result['load+plan']:.2f}, emit {result['emit']:.2f}, "
                f"write {result['write']:.2f}, worker {result['children']:.2f})  "
                f"peak RSS {result['peak_rss_mb']:6.0f} MB  load average {started_load:.1f}",
                flush=True,
            )
    by_jobs = {jobs: [summarise(size, runs[size, jobs]) for size in args.sizes] for jobs in args.jobs}
    judged = max(args.jobs)
    sizes = by_jobs[judged]
    checks = verdicts(sizes, args.reference, args.max_seconds, args.max_growth, args.judge)
    results = {
        "command": command.strip(),
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "load_average": load,
        "commit": args.commit or commit(),
        "runs": args.runs,
        "thresholds": {
            "reference": args.reference,
            "max_seconds": args.max_seconds,
            "max_growth": args.max_growth,
            "judge": args.judge,
            "jobs": judged,
        },
        "sizes": sizes,  # the judged jobs' figures (what the docs' table shows)
        "by_jobs": {str(jobs): entries for jobs, entries in by_jobs.items()},
        "verdicts": checks,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for jobs, entries in by_jobs.items():
        for entry in entries:
            cpu, wall = entry["cpu"]["total"], entry["wall"]
            print(
                f"median {entry['entities']:>7,} entities jobs {jobs}: wall {wall['median']:.2f} s "
                f"({wall['min']:.2f}–{wall['max']:.2f}), CPU {cpu['median']:.2f} s ({cpu['min']:.2f}–{cpu['max']:.2f}), "
                f"peak RSS {entry['peak_rss_mb']['median']:.0f} MB"
            )
    print("\n".join(checks))
    print(f"# saved {args.output}")
    return 1 if any(line.startswith("MISSED") for line in checks) else 0


if __name__ == "__main__":
    sys.exit(main())

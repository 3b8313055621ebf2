"""Long run of the valid-model fuzzer (issue 7), one JSON line per event, so that it can be read
while it runs and cut at any time.

It draws the models of `tests/test_fuzz_valid.py` (`model_at(n)`: model n is the same in every
run and process of the same commit, so a failure is re-run by its number with `--only N`) and uses that module's `plan_one`, `plan_folder` and
`validate`; the sampling is the long profile's (`POLYPLAN_FUZZ=long`: every 4th model with SQLite
tests, every 20th with PostgreSQL / MariaDB tests). Validations run one at a time by default (the
host is shared). Run from the repository root:

    source /tmp/env.sh; POLYPLAN_FUZZ=long nice -n 10 python bench/fuzz_long.py --models 1200 \\
        --engines sqlite --out /tmp/fuzz_long

Events in OUT/events.jsonl: `planned` (index, seconds, the model's YAML), `refused` (a coded
planning refusal), `plan_failed` (anything else: a bug), `plan_hung` (past --plan-timeout), `validated` (index, engine, exit code or
null on a hang, seconds, and pytest's last lines when it failed), then `planning_done` and
`done`. `--summary` prints the counts of an events file instead of running; `--print` prints the
selected models' YAML instead (`--print --models 30 | sha256sum` shows the sequence is stable).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.test_fuzz_valid as fuzz  # noqa: E402


class PlanTimeout(Exception):
    """Planning one model ran past --plan-timeout seconds of wall time."""


def _time_out(signum: int, frame: object) -> None:
    raise PlanTimeout


def summary(events: Path) -> dict[str, Any]:
    """Counts per engine (validated, passed, failed, hung) and of planning outcomes."""
    rows = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines() if line.strip()]
    kinds = Counter(r["kind"] for r in rows)
    engines: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["kind"] != "validated":
            continue
        entry = engines.setdefault(row["engine"], {"validated": 0, "passed": 0, "failed": [], "hung": []})
        entry["validated"] += 1
        if row["code"] == 0:
            entry["passed"] += 1
        elif row["code"] is None:
            entry["hung"].append(row["index"])
        else:
            entry["failed"].append(row["index"])
    return {"events": dict(kinds), "engines": engines}


def main() -> None:
    """Plan the models in order and validate the sampled ones, writing OUT/events.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=fuzz.MODELS)
    parser.add_argument("--sqlite-every", type=int, default=fuzz.VALIDATE_EVERY)
    parser.add_argument("--server-every", type=int, default=fuzz.SERVER_EVERY)
    parser.add_argument(
        "--engines",
        default="sqlite",
        help="comma-separated engines of the generated tests: sqlite,postgresql,mysql (also cassandra, redis, ...)",
    )
    parser.add_argument("--workers", type=int, default=1, help="validations at a time")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fuzz_long"))
    parser.add_argument("--plan-timeout", type=int, default=300, help="wall seconds before a plan counts as hung")
    parser.add_argument("--summary", action="store_true", help="print the counts of OUT/events.jsonl and stop")
    parser.add_argument("--start", type=int, default=0, help="first model number")
    parser.add_argument("--only", default="", help="comma-separated model numbers: run these, each validated")
    parser.add_argument("--print", action="store_true", help="print the selected models' YAML and stop")
    args = parser.parse_args()
    events = args.out / "events.jsonl"
    if args.summary:
        print(json.dumps(summary(events), indent=1))
        return
    only = [int(n) for n in args.only.split(",") if n.strip()]
    numbers = only or list(range(args.start, args.start + args.models))
    if args.print:
        for index in numbers:
            print(f"# model {index}\n{fuzz.dump(fuzz.model_at(index))}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    log = events.open("a", encoding="utf-8")

    def emit(**fields: Any) -> None:
        with lock:
            log.write(json.dumps(fields, default=str) + "\n")
            log.flush()

    signal.signal(signal.SIGALRM, _time_out)
    engines = args.engines.split(",")
    seen = Counter[str]()  # models with tests per engine, for the every-n-th sampling
    results = fuzz.Results()
    pool = ThreadPoolExecutor(max_workers=args.workers)

    def check(index: int, folder: Path, engine: str) -> None:
        started = time.perf_counter()
        code, tail = fuzz.validate(folder, engine)
        emit(
            kind="validated",
            index=index,
            engine=engine,
            code=code,
            seconds=round(time.perf_counter() - started, 1),
            tail=tail if code != 0 else "",
        )

    def run(index: int) -> None:
        model = fuzz.model_at(index)
        started = time.perf_counter()
        signal.alarm(args.plan_timeout)  # a hang in planning is a finding, not the end of the run
        try:
            # No 10 s watchdog here: on the shared host a slow plan is load, and dropping it would
            # shift which models the every-n-th sampling validates. --plan-timeout catches hangs,
            # and `seconds` in the `planned` event shows the slow ones.
            fuzz.plan_one(model, results, index, max_seconds=float("inf"))
        except PlanTimeout:
            emit(kind="plan_hung", index=index, seconds=args.plan_timeout, text=fuzz.dump(model))
            return
        except BaseException as error:  # every failure is an event to count, not a stop
            emit(kind="plan_failed", index=index, error=repr(error)[:3000], text=fuzz.dump(model))
            return
        finally:
            signal.alarm(0)
        if index not in results.planned:
            emit(kind="refused", index=index, error=results.refused[-1][0])
            return
        text, tests = results.planned.pop(index)  # kept in the events file, not in memory
        emit(kind="planned", index=index, seconds=round(time.perf_counter() - started, 2), text=text)
        for engine in engines:
            if f"tests/test_{engine}.py" not in tests:
                continue
            every = args.sqlite_every if engine == "sqlite" else args.server_every
            if only or seen[engine] % every == 0:
                pool.submit(check, index, fuzz.plan_folder(index, text, args.out), engine)
            seen[engine] += 1

    started = time.time()
    for index in numbers:
        run(index)
    emit(kind="planning_done", models=len(numbers), seconds=round(time.time() - started))
    pool.shutdown(wait=True)
    emit(kind="done", seconds=round(time.time() - started))
    log.close()
    print(json.dumps(summary(events), indent=1))


if __name__ == "__main__":
    main()

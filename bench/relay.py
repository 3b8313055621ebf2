"""The scaffold's outbox relay on the real PostgreSQL, Redis and OpenSearch: lag at the model's write
rate, and throughput draining a backlog.

The application is the one tests/test_scaffold_search.py's fault run scaffolds (the shop model with
OpenSearch, and products also added and dropped); its Product writes are paced at the model's own
rates (update_stock 45/s, add_product 5/s, drop_product 2/s: 52 events/s, `--scale` multiplies).

1. At rate: one relay (`python -m shopfault.relay`) runs while paced writers write for `--seconds`;
   each event's lag is read back from the outbox (`done_at - created_at`: from the writer's
   transaction to the relay's commit of the event), p50/p99/max, and the relay's own last line
   (its events/s over its lifetime and its lag percentiles).
2. Drain: `--backlog` events are written with no relay running, then `python -m shopfault.relay
   --once` applies them; events/s from the first to the last `done_at`, and the relay process's CPU
   seconds per 1000 events.

    source /tmp/env.sh && python bench/relay.py                       # 30 s at 52 events/s, 3000-event backlog
    python bench/relay.py --seconds 60 --scale 4 --backlog 10000 --batch 200
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from polyplan.pipeline import plan_file  # noqa: E402
from polyplan.scaffold import write_scaffold  # noqa: E402
from polyplan.stores.cache.connect import connect as redis_connect  # noqa: E402
from polyplan.stores.cache.connect import scratch_prefix  # noqa: E402
from polyplan.stores.relational.connect import scratch_database  # noqa: E402
from polyplan.stores.relational.design import design_schema  # noqa: E402
from polyplan.stores.relational.render import build_engines  # noqa: E402
from polyplan.stores.search.connect_opensearch import connect, drop_prefix, run_prefix  # noqa: E402

# The fault run's application and rows, so these numbers describe what that test runs.
from tests.test_scaffold_search import APP, fault_model, new_product  # noqa: E402

RATES = {"update_stock": 45.0, "add_product": 5.0, "drop_product": 2.0}  # the adapted shop model's


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))] if ordered else 0.0


class Writers:
    """Product writes paced at the model's relative rates, from `threads` threads."""

    def __init__(self, stores: Any, rate: float, seed: int = 15) -> None:
        self.stores, self.rate = stores, rate
        self.writes = importlib.import_module(f"{APP}.writes")
        self.models = importlib.import_module(f"{APP}.models")
        self.rng = random.Random(seed)
        self.ids: list[Any] = []
        self.lock = threading.Lock()
        self.done = 0

    def one(self) -> None:
        """One write, chosen by the model's rates."""
        with self.lock:
            roll = self.rng.random() * sum(RATES.values())
            some = self.rng.choice(self.ids) if self.ids else None
        if some is None or roll < RATES["add_product"]:
            row = self.writes.add_product(self.stores, new_product(self.rng, self.models))
            with self.lock:
                self.ids.append(row.id)
        elif roll < RATES["add_product"] + RATES["drop_product"]:
            if self.writes.drop_product(self.stores, some) is not None:
                with self.lock:
                    self.ids.remove(some)
        else:
            self.writes.update_stock(self.stores, some, self.rng.randrange(0, 1000))
        with self.lock:
            self.done += 1

    def paced(self, seconds: float, threads: int = 3) -> float:
        """Write at `rate` per second for `seconds`; the rate achieved."""
        start = time.monotonic()
        deadline = start + seconds
        ticket = [0]

        def work() -> None:
            while True:
                with self.lock:
                    due = start + ticket[0] / self.rate
                    ticket[0] += 1
                if due >= deadline:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                self.one()

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return self.done / (time.monotonic() - start)


def lags(engine: sa.Engine, after_id: int) -> tuple[list[float], float, float]:
    """Each event's lag (s) after `after_id`, and the first and last done_at (epoch s)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT created_at, done_at FROM polyplan_outbox WHERE id > :id AND done_at IS NOT NULL"),
            {"id": after_id},
        ).all()
    values = [(done - created).total_seconds() for created, done in rows]
    return values, min(d.timestamp() for _, d in rows), max(d.timestamp() for _, d in rows)


def last_id(engine: sa.Engine) -> int:
    """The newest outbox id (0 when empty)."""
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM polyplan_outbox")).scalar_one())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the at-rate phase")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the model's write rates")
    parser.add_argument("--backlog", type=int, default=3000, help="events written before the drain")
    parser.add_argument("--batch", type=int, default=100, help="the relay's --batch")
    options = parser.parse_args()
    rate = sum(RATES.values()) * options.scale
    folder = Path(tempfile.mkdtemp(prefix="polyplan_relay_bench_"))
    model = fault_model(folder)
    write_scaffold(model, folder / "out")
    sys.path.insert(0, str(folder / "out"))
    settings = importlib.import_module(f"{APP}.settings")
    relay = importlib.import_module(f"{APP}.relay")
    search = importlib.import_module(f"{APP}.search")
    plan = plan_file(model)
    metadata = build_engines(plan, design_schema(plan)[0])["postgresql"].rendered.metadata
    client = connect(os.environ["POLYPLAN_OPENSEARCH_URL"])
    cache = redis_connect(os.environ["POLYPLAN_REDIS_URL"])
    index_prefix = run_prefix()
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        with scratch_database(os.environ["POLYPLAN_POSTGRES_URL"]) as engine, scratch_prefix(cache) as key_prefix:
            metadata.create_all(engine)
            stores = settings.Stores(engine, cache, key_prefix, client, index_prefix)
            relay.install_outbox(stores)
            search.install_search(stores)
            up = APP.upper()
            env = {
                **os.environ,
                "PYTHONPATH": str(folder / "out"),
                "PYTHONUNBUFFERED": "1",
                f"{up}_DATABASE_URL": engine.url.render_as_string(hide_password=False),
                f"{up}_REDIS_URL": os.environ["POLYPLAN_REDIS_URL"],
                f"{up}_KEY_PREFIX": key_prefix,
                f"{up}_SEARCH_URL": os.environ["POLYPLAN_OPENSEARCH_URL"],
                f"{up}_INDEX_PREFIX": index_prefix,
            }
            command = [sys.executable, "-m", f"{APP}.relay", "--batch", str(options.batch)]
            writers = Writers(stores, rate)

            # 1. At the model's rate, one relay keeping up.
            running = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            said: list[str] = []
            threading.Thread(target=lambda: said.extend(running.stdout or []), daemon=True).start()
            writers.one()  # the relay is up once it has applied this one
            while not any("applied" in line for line in said):
                time.sleep(0.05)
            start_id = last_id(engine)
            achieved = writers.paced(options.seconds)
            while _pending(engine):
                time.sleep(0.1)
            running.terminate()
            running.wait(timeout=60)
            values, _, _ = lags(engine, start_id)
            print(
                f"at rate: {len(values)} events in {options.seconds:.0f} s ({achieved:.1f} writes/s asked {rate:.1f}), "
                f"batch {options.batch}; lag p50 {percentile(values, 0.5):.3f} s, p99 {percentile(values, 0.99):.3f} s, "
                f"max {max(values):.3f} s (outbox created_at → done_at)"
            )
            print(f"  the relay's last line: {next(line for line in reversed(said) if 'applied' in line).strip()}")

            # 2. A backlog drained by `--once`.
            start_id = last_id(engine)
            while last_id(engine) - start_id < options.backlog:
                writers.one()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.monotonic()
            drained = subprocess.run([*command, "--once"], env=env, capture_output=True, text=True, timeout=1800)
            wall = time.monotonic() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            values, first, last = lags(engine, start_id)
            final = drained.stdout.strip().splitlines()[-1]
            print(
                f"drain: {len(values)} events, {len(values) / (last - first):.0f} events/s from the first to the "
                f"last done_at (process {wall:.1f} s wall with startup, {cpu:.2f} s CPU = "
                f"{1000 * cpu / len(values):.2f} s per 1000 events), batch {options.batch}"
            )
            print(f"  the relay's last line: {final}")
    finally:
        drop_prefix(client, index_prefix)
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


def _pending(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.text("SELECT count(*) FROM polyplan_outbox WHERE done_at IS NULL")).scalar_one()
        )


if __name__ == "__main__":
    sys.exit(main())

"""The scaffold's end-to-end example as a benchmark: the shop scenario (on OpenSearch) scaffolded,
seeded, its relay running while its load generator runs the plan's patterns at their relative rates,
then the relay drains and the checker compares every projection with the system of record.

Prints the load generator's own report (per pattern: calls, calls/s, errors, empty answers, p50/p99),
the relay lag of the load's writes read back from the outbox (`done_at - created_at`), the relay's
last line, the checker's summary, the load process's CPU seconds and the load average.

    source /tmp/env.sh && python bench/e2e.py                   # 60 s, 4 threads, 200 seeded rows
    python bench/e2e.py --seconds 120 --threads 8 --rows 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.relay import percentile  # noqa: E402
from polyplan.scaffold import write_scaffold  # noqa: E402
from polyplan.stores.cache.connect import connect as redis_connect  # noqa: E402
from polyplan.stores.cache.connect import scratch_prefix  # noqa: E402
from polyplan.stores.relational.connect import scratch_database  # noqa: E402
from polyplan.stores.search.connect_opensearch import connect, drop_prefix, run_prefix  # noqa: E402
from tests.test_scaffold_e2e import shop_model  # noqa: E402

APP = "shope2e"


def _load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs")
    parser.add_argument("--threads", type=int, default=4, help="the load generator's threads")
    parser.add_argument("--rate", type=float, default=0.0, help="the load's calls/s in all (0: as fast as they go)")
    parser.add_argument("--rows", type=int, default=200, help="rows seeded per entity")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="polyplan_e2e_bench_"))
    model = shop_model(folder)
    write_scaffold(model, folder / "out")
    client = connect(os.environ["POLYPLAN_OPENSEARCH_URL"])
    cache = redis_connect(os.environ["POLYPLAN_REDIS_URL"])
    index_prefix = run_prefix()
    print(f"load average before: {_load_average()}")
    try:
        with scratch_database(os.environ["POLYPLAN_POSTGRES_URL"]) as engine, scratch_prefix(cache) as key_prefix:
            url = engine.url.render_as_string(hide_password=False)
            seed = [sys.executable, "-m", "polyplan", "seed", str(model), "--engine", "postgresql", "--url", url]
            subprocess.run([*seed, "--rows", str(options.rows)], check=True, capture_output=True, cwd=ROOT)
            up = APP.upper()
            env = os.environ | {
                "PYTHONPATH": str(folder / "out"),
                "PYTHONUNBUFFERED": "1",
                f"{up}_DATABASE_URL": url,
                f"{up}_REDIS_URL": os.environ["POLYPLAN_REDIS_URL"],
                f"{up}_KEY_PREFIX": key_prefix,
                f"{up}_SEARCH_URL": os.environ["POLYPLAN_OPENSEARCH_URL"],
                f"{up}_INDEX_PREFIX": index_prefix,
            }
            relay = subprocess.Popen(
                [sys.executable, "-m", f"{APP}.relay"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            load_command = [sys.executable, "-m", f"{APP}.load", "--seconds", str(options.seconds)]
            load_command += ["--threads", str(options.threads), "--rate", str(options.rate), "--backfill"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.monotonic()
            loaded = subprocess.run(load_command, env=env, capture_output=True, text=True)
            wall = time.monotonic() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            relay.send_signal(signal.SIGINT)
            said = relay.communicate(timeout=120)[0].strip().splitlines()
            command = " ".join(["python", "-m", *load_command[2:]])
            print(f"$ {command}\n{loaded.stdout}{loaded.stderr}", end="")
            print(
                f"load process: {wall:.1f} s wall (with its imports and sampling), "
                f"{after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime:.1f} s CPU"
            )
            print(f"relay's last line: {next((s for s in reversed(said) if 'applied' in s), '(none)')}")
            drained = subprocess.run(
                [sys.executable, "-m", f"{APP}.relay", "--once"], env=env, capture_output=True, text=True
            )
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text(
                        "SELECT created_at, done_at FROM polyplan_outbox WHERE op <> 'backfill' AND done_at IS NOT NULL"
                    )
                ).all()
            lags = [(done - created).total_seconds() for created, done in rows]
            print(
                f"relay lag of the load's {len(lags)} write events (outbox created_at → done_at): "
                f"p50 {percentile(lags, 0.5):.3f} s, p99 {percentile(lags, 0.99):.3f} s, max {max(lags, default=0):.3f} s"
                f" (drain after the load: {drained.stdout.strip().splitlines()[-1:] or 'nothing pending'})"
            )
            checked = subprocess.run([sys.executable, "-m", f"{APP}.check"], env=env, capture_output=True, text=True)
            print(f"$ python -m {APP}.check  (exit {checked.returncode})\n{checked.stdout}{checked.stderr}", end="")
    finally:
        drop_prefix(client, index_prefix)
        print(f"load average after: {_load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

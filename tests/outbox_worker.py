"""Relay processes for the outbox fault runs (tests/test_doc_outbox.py, tests/test_keyed_outbox.py):
each relays one store's outbox into one OpenSearch index until killed (the tests SIGKILL it at
random points); `kill_relays` is the tests' shared kill loop.

Usage: python tests/outbox_worker.py document MONGODB_URL DATABASE SEARCH_URL INDEX [once]
       python tests/outbox_worker.py redis REDIS_URL STREAM SEARCH_URL INDEX [once]
       python tests/outbox_worker.py cassandra CASSANDRA_URL KEYSPACE SEARCH_URL INDEX [once]
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

ITEM_FIELDS = ("sku", "title", "stock")


def item_source(document: Mapping[str, Any]) -> dict[str, Any]:
    """The search document of one stored item (its fields but the key)."""
    return {name: document.get(name) for name in ITEM_FIELDS}


def main(argv: list[str]) -> int:
    """Relay until killed; with a sixth argument `once`, until nothing is pending."""
    from opensearchpy import OpenSearch, helpers

    from polyplan.scaffold.search_runtime import SearchRetry, search_outcome

    mode, url, where, search_url, index = argv[:5]
    once = len(argv) > 5 and argv[5] == "once"
    client = OpenSearch(search_url, timeout=30)

    def bulk(actions: list[dict[str, Any]]) -> Any:
        return helpers.streaming_bulk(client, actions, raise_on_error=False, raise_on_exception=True, max_retries=0)

    def outcome(actions: Any, results: Any) -> Any:
        return search_outcome(actions, results).parked

    if mode == "document":
        from pymongo import MongoClient

        from polyplan.scaffold import doc_outbox_runtime as document

        collection: Any = MongoClient(url, tz_aware=True)[where]["items"]
        apply = document.search_apply(index, item_source, bulk, outcome)
        document.relay_forever({"Item": collection}, {"Item": apply}, batch=50, once=once, transient=(SearchRetry,))
        return 0
    from polyplan.scaffold.stream_outbox_runtime import keyed_search_apply

    keyed = keyed_search_apply({"Item": (index, item_source)}, bulk, outcome)
    if mode == "redis":
        import redis

        from polyplan.scaffold.stream_outbox_runtime import relay_stream

        consumer = f"relay-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        relay_stream(
            redis.Redis.from_url(url),
            where,
            consumer,
            keyed,
            batch=50,
            once=once,
            transient=(SearchRetry,),
            claim_idle_ms=1000,
        )
        return 0
    from cassandra.query import dict_factory

    from polyplan.scaffold import batch_outbox_runtime as batch
    from polyplan.stores.wide_column.cluster import cassandra_cluster

    session = cassandra_cluster(url, row_factory=dict_factory, request_timeout=30).connect()
    batch.relay_forever(session, where, keyed, batch=50, once=once, transient=(SearchRetry,))
    return 0


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The relays' environment: polyplan's checkout (and `extra`'s PYTHONPATH) importable."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    extra = dict(extra or {})
    path = os.pathsep.join(p for p in (extra.pop("PYTHONPATH", ""), root) if p)
    return {**os.environ, **extra, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}  # each line as printed


def kill_relays(
    command: Sequence[str], steps: int, rng: random.Random, env: Mapping[str, str] | None = None
) -> tuple[int, int, float]:
    """Start the relay `command`, wait until it has applied a batch, let it run a random 0-0.3 s
    more and SIGKILL it, `steps` times; every third step a second relay runs beside it and is
    killed too. Returns (SIGKILLs, steps where the first relay had applied a batch, seconds with
    two relays at once)."""
    environment = _environment(env)

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
        )

    def applied_once(process: subprocess.Popen[str], timeout: float) -> bool:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("relay: applied"):
                return True
            if not line and process.poll() is not None:
                raise AssertionError(f"the relay exited with {process.returncode}")
        return False

    kills = after_batch = 0
    two_at_once = 0.0
    for step in range(steps):
        victim = start()
        second = start() if step % 3 == 0 else None
        began = time.monotonic()
        if applied_once(victim, 60):
            after_batch += 1
        time.sleep(rng.uniform(0.0, 0.3))
        for process in (victim, second):
            if process is not None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
        if second is not None:
            two_at_once += time.monotonic() - began
    return kills, after_batch, two_at_once


def drain(command: Sequence[str], once: str = "once", env: Mapping[str, str] | None = None) -> str:
    """Run the relay `command` with `once` to the end (nothing pending); its output's last line."""
    environment = _environment(env)
    done = subprocess.run([*command, once], capture_output=True, text=True, env=environment, timeout=600)
    if done.returncode != 0:
        raise AssertionError(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

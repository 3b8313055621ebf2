"""The only I/O of the Redis target: reach a server and keep a test run's keys apart.

A run never touches keys it did not write: every key it writes starts with a run-unique prefix,
and the prefix is removed with SCAN + UNLINK afterwards. No FLUSHDB, no FLUSHALL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from polyplan.testkit import unavailable

SCAN_BATCH = 500


def connect(url: str) -> redis.Redis:
    """A client for `url`, or a skip (a failure if Redis is required) naming how to get one."""
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable("redis", f"{url} did not answer ({exc})")
    return client


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """UNLINK every key starting with `prefix` (which must not contain glob characters)."""
    if any(ch in prefix for ch in "*?[]\\"):
        raise ValueError(f"prefix {prefix!r} contains glob characters")
    removed = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=prefix + "*", count=SCAN_BATCH):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            removed += int(client.unlink(*batch))
            batch = []
    if batch:
        removed += int(client.unlink(*batch))
    return removed


@contextmanager
def scratch_prefix(client: redis.Redis) -> Iterator[str]:
    """A run-unique key prefix; every key under it is deleted on exit."""
    prefix = f"pptest-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        delete_prefix(client, prefix)

"""The outbox of a Cassandra system of record (issue 15): the record's statements and its event's
INSERT in one LOGGED batch, and a relay that reads the outbox partition by partition.

- Atomic: a logged batch is applied entirely or not at all (the batch log replays it after a
  coordinator failure), so no event is lost and none describes a write that did not happen.
- The outbox table is partitioned by a bucket of the record's key (`bucket_of`, `BUCKETS`
  partitions) and clustered by a timeuuid, so the relay reads each bucket's partition in event
  order with one partition-restricted SELECT and never scans the cluster; one record's events
  share a bucket, so they come in the order of their timeuuids.
- The external version of an event is the write timestamp of its outbox row (`WRITETIME(op)`, in
  microseconds), which is the batch's one timestamp and so the timestamp of the record's cells it
  wrote: the search engine keeps the state of the newest write by the very timestamps Cassandra
  resolves the record with (last write wins), whatever order relays apply events in. (The timeuuid
  only orders a partition; two writers' timeuuids may disagree with their write timestamps.)
- Applied events are deleted (a tombstone per row in its bucket's partition, purged after the
  table's gc_grace_seconds); an event the projection refuses, or of an entity it has no projection
  of, is copied to `polyplan_outbox_parked` with the reason, then deleted.

Copied verbatim (without this docstring) into a package whose Cassandra records feed a projection,
so it imports only the standard library and cassandra-driver; polyplan's tests import it from here.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType

from polyplan.scaffold.relay_metrics import Metrics, relay_loop
from polyplan.scaffold.stream_outbox_runtime import Apply, KeyedEvent

TABLE = "polyplan_outbox"
PARKED = "polyplan_outbox_parked"
BUCKETS = 16
# id(session) → keyspace → the outbox statements prepared on it (a process holds one or two sessions).
_PREPARED: dict[int, dict[str, dict[str, Any]]] = {}


def outbox_ddl(keyspace: str) -> list[str]:
    """The outbox and dead-letter tables (CREATE … IF NOT EXISTS)."""
    columns = "bucket int, id timeuuid, entity text, op text, key text, after text"
    return [
        (
            f"CREATE TABLE IF NOT EXISTS {keyspace}.{TABLE} ({columns}, PRIMARY KEY ((bucket), id)) "
            "WITH CLUSTERING ORDER BY (id ASC)"
        ),
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{PARKED} ({columns}, error text, PRIMARY KEY ((bucket), id))",
    ]


def bucket_of(key: str, buckets: int = BUCKETS) -> int:
    """The outbox partition of a record key (CRC-32: the same in every process, unlike hash())."""
    return zlib.crc32(key.encode("utf-8")) % buckets


def _statements(session: Any, keyspace: str) -> dict[str, Any]:
    """The outbox statements, prepared once per session at LOCAL_QUORUM."""
    cache = _PREPARED.setdefault(id(session), {})
    if keyspace not in cache:
        texts = {
            "insert": f"INSERT INTO {keyspace}.{TABLE} (bucket, id, entity, op, key, after) VALUES (?, ?, ?, ?, ?, ?)",
            "pending": f"SELECT bucket, id, entity, op, key, after, WRITETIME(op) AS written FROM {keyspace}.{TABLE} "
            "WHERE bucket = ? LIMIT ?",
            "delete": f"DELETE FROM {keyspace}.{TABLE} WHERE bucket = ? AND id = ?",
            "park": f"INSERT INTO {keyspace}.{PARKED} (bucket, id, entity, op, key, after, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            "count": f"SELECT COUNT(*) AS n FROM {keyspace}.{TABLE} WHERE bucket = ?",
            "first": f"SELECT WRITETIME(op) AS written FROM {keyspace}.{TABLE} WHERE bucket = ? LIMIT 1",
        }
        prepared = {}
        for name, text in texts.items():
            statement = session.prepare(text)
            statement.consistency_level = ConsistencyLevel.LOCAL_QUORUM
            prepared[name] = statement
        cache[keyspace] = prepared
    return cache[keyspace]


def write_with_event(
    session: Any,
    keyspace: str,
    statements: Sequence[tuple[Any, Any]],
    entity: str,
    op: str,
    key: str,
    after: Mapping[str, Any] | None,
) -> uuid.UUID:
    """The record's statements (prepared, values) and the event's INSERT in one LOGGED batch (one
    write timestamp for all); the event's timeuuid."""
    event = uuid.uuid1()
    body = None if after is None else json.dumps(after, separators=(",", ":"), sort_keys=True, default=str)
    batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.LOCAL_QUORUM)
    for statement, values in statements:
        batch.add(statement, values)
    batch.add(_statements(session, keyspace)["insert"], (bucket_of(key), event, entity, op, key, body))
    session.execute(batch)
    return event


def _event(row: Mapping[str, Any]) -> KeyedEvent:
    written = int(row["written"])
    return KeyedEvent(
        str(row["id"]),
        written,
        row["entity"],
        row["op"],
        row["key"],
        json.loads(row["after"]) if row["after"] else None,
        written / 1e6,
    )


def relay_buckets(
    session: Any,
    keyspace: str,
    apply: Apply,
    batch: int = 100,
    metrics: Metrics | None = None,
    after_apply: Callable[[Sequence[KeyedEvent]], None] | None = None,
) -> int:
    """One round: each bucket's oldest `batch` events read (one partition each), applied together,
    then parked ones copied to the dead-letter table and all deleted. Returns the events handled."""
    prepared = _statements(session, keyspace)
    rows = [(bucket, row) for bucket in range(BUCKETS) for row in session.execute(prepared["pending"], (bucket, batch))]
    if not rows:
        return 0
    events = [_event(row) for _, row in rows]
    parked = apply(events)
    if after_apply is not None:
        after_apply(events)
    parking = [
        (bucket, row["id"], row["entity"], row["op"], row["key"], row["after"], parked[event.id])
        for (bucket, row), event in zip(rows, events, strict=True)
        if event.id in parked
    ]
    # Concurrently (the driver's pipelining): one round trip per event would cap the relay at the
    # latency's rate. Parked copies first, so a crash between never loses a dead letter.
    for statement, values in ((prepared["park"], parking), (prepared["delete"], [(b, r["id"]) for b, r in rows])):
        if values:
            execute_concurrent_with_args(session, statement, values, concurrency=50, raise_on_first_error=True)
    if metrics is not None:
        now = time.time()
        metrics.record([max(0.0, now - e.at) for e in events], sum(1 for e in events if e.id in parked))
    return len(events)


def outbox_lag(session: Any, keyspace: str) -> tuple[int, float]:
    """Pending events over every bucket and the age in seconds of the oldest (0 when none)."""
    prepared = _statements(session, keyspace)
    count = 0
    oldest: float | None = None
    for bucket in range(BUCKETS):
        pending = int(session.execute(prepared["count"], (bucket,)).one()["n"])
        count += pending
        first = session.execute(prepared["first"], (bucket,)).one() if pending else None
        if first is not None:  # the partition's first event (by timeuuid): its oldest, but for clock skew
            at = int(first["written"]) / 1e6
            oldest = at if oldest is None else min(oldest, at)
    return count, 0.0 if oldest is None else max(0.0, time.time() - oldest)


def relay_forever(
    session: Any,
    keyspace: str,
    apply: Apply,
    batch: int = 100,
    once: bool = False,
    report: Callable[[str], None] = print,
    transient: tuple[type[Exception], ...] = (),
    metrics: Metrics | None = None,
) -> int:
    """Relay until stopped (or, with `once`, until nothing is pending); the driver's errors and the
    `transient` ones of the projections are retried with exponential backoff. Prints each round."""
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    metrics = metrics if metrics is not None else Metrics()
    return relay_loop(
        lambda: relay_buckets(session, keyspace, apply, batch, metrics),
        lambda: outbox_lag(session, keyspace),
        (NoHostAvailable, DriverException, OSError, *transient),
        metrics,
        once,
        report,
    )

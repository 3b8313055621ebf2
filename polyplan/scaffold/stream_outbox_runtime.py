"""The outbox of a Redis system of record (issue 15): the record's commands and an `XADD` of its
event to a stream in one MULTI/EXEC, and a relay that reads the stream as a consumer group.

- Atomic: MULTI/EXEC runs the record's commands and the XADD together or not at all, and Redis
  executes it as one step, so the stream's order is the order the records changed in.
- The event carries the record's state after the write (JSON; none for a delete) and the entry id
  gives its external version (`version_of`: milliseconds × 10⁶ + sequence, increasing along the
  stream), so the search engine keeps a record's newest state whatever order relays apply it in.
- The relay (`relay_stream`) reads new entries with XREADGROUP, applies them, then XACKs and XDELs
  them in one MULTI/EXEC (the stream holds only what is not relayed yet: its length is the
  backlog). An entry delivered to a relay that was killed stays in the group's pending list and is
  re-claimed by the next relay with XAUTOCLAIM once it has been idle `claim_idle_ms`; a replay
  changes nothing (a 409 "already newer" is success).
- An event the projection refuses, or of an entity it has no projection of, is parked: copied to
  the `<stream>:parked` stream with the reason and removed from the outbox in one MULTI/EXEC.

Copied verbatim (without this docstring) into a package whose Redis records feed a projection, so
it imports only the standard library and redis-py; polyplan's tests import it from here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from polyplan.scaffold.relay_metrics import Metrics, relay_loop

GROUP = "polyplan-relay"


@dataclass(frozen=True)
class KeyedEvent:
    """One committed change of one record: where it sits in its outbox, its external version, the
    entity, the record's key (the search document id) and its state after (None: deleted)."""

    id: str
    version: int
    entity: str
    op: str
    key: str
    after: dict[str, Any] | None
    at: float  # when it was written (seconds since the epoch)


def version_of(entry: str) -> int:
    """The external version of a stream entry id `<ms>-<seq>`: increasing along the stream."""
    milliseconds, sequence = entry.split("-")
    return int(milliseconds) * 1_000_000 + int(sequence)


def add_event(pipe: Any, stream: str, entity: str, op: str, key: str, after: Mapping[str, Any] | None) -> None:
    """Queue the XADD of one event on a MULTI/EXEC pipeline that holds the record's commands."""
    body = "" if after is None else json.dumps(after, separators=(",", ":"), sort_keys=True, default=str)
    pipe.xadd(stream, {"entity": entity, "op": op, "key": key, "after": body})


def write_with_event(
    client: redis.Redis,
    commands: Callable[[Any], None],
    stream: str,
    entity: str,
    op: str,
    key: str,
    after: Mapping[str, Any] | None,
) -> list[Any]:
    """Run the record's commands (queued by `commands` on the pipeline) and the event's XADD in
    one MULTI/EXEC; the replies of the commands (the XADD's, the entry id, last)."""
    pipe = client.pipeline(transaction=True)
    commands(pipe)
    add_event(pipe, stream, entity, op, key, after)
    replies: list[Any] = pipe.execute()
    return replies


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _event(entry: Any, fields: Mapping[Any, Any]) -> KeyedEvent:
    body = {_text(k): _text(v) for k, v in fields.items()}
    entry_id = _text(entry)
    return KeyedEvent(
        entry_id,
        version_of(entry_id),
        body.get("entity", ""),
        body.get("op", ""),
        body.get("key", ""),
        json.loads(body["after"]) if body.get("after") else None,
        int(entry_id.split("-")[0]) / 1000,
    )


def ensure_group(client: redis.Redis, stream: str, group: str = GROUP) -> None:
    """Create the relay's consumer group (and the stream) if missing, from the stream's start."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


# The relay's apply: the events → entry id → why it is parked (the others are applied).
Apply = Callable[[Sequence[KeyedEvent]], Mapping[str, str]]


def relay_stream_batch(
    client: redis.Redis,
    stream: str,
    consumer: str,
    apply: Apply,
    batch: int = 100,
    claim_idle_ms: int = 5000,
    metrics: Metrics | None = None,
    after_apply: Callable[[Sequence[KeyedEvent]], None] | None = None,
    group: str = GROUP,
) -> int:
    """One batch: the entries a dead relay left pending (idle `claim_idle_ms`) re-claimed, else new
    ones read; applied, then acknowledged and deleted (a parked one copied to `<stream>:parked`
    with its reason) in one MULTI/EXEC. Returns the events handled."""
    claimed: Any = client.xautoclaim(stream, group, consumer, claim_idle_ms, "0-0", count=batch)
    entries: list[tuple[Any, Any]] = list(claimed[1]) if claimed else []
    entries = [(entry, fields) for entry, fields in entries if fields]  # a deleted entry comes back empty
    if not entries:
        answer: Any = client.xreadgroup(group, consumer, {stream: ">"}, count=batch)
        entries = [item for _, items in (answer or []) for item in items]
    if not entries:
        return 0
    events = [_event(entry, fields) for entry, fields in entries]
    parked = apply(events)
    if after_apply is not None:
        after_apply(events)
    pipe = client.pipeline(transaction=True)
    for event in events:
        if event.id in parked:
            pipe.xadd(
                f"{stream}:parked",
                {
                    "entry": event.id,
                    "entity": event.entity,
                    "op": event.op,
                    "key": event.key,
                    "after": "" if event.after is None else json.dumps(event.after, sort_keys=True, default=str),
                    "error": parked[event.id],
                },
            )
    ids = [event.id for event in events]
    pipe.xack(stream, group, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    if metrics is not None:
        now = time.time()
        metrics.record([max(0.0, now - event.at) for event in events], sum(1 for e in events if e.id in parked))
    return len(events)


def stream_lag(client: redis.Redis, stream: str) -> tuple[int, float]:
    """Events not relayed yet (the stream's length: relayed ones are deleted) and the age in
    seconds of the oldest (0 when none)."""
    count = int(client.xlen(stream))
    if not count:
        return 0, 0.0
    first = client.xrange(stream, count=1)
    if not first:
        return 0, 0.0
    return count, max(0.0, time.time() - int(_text(first[0][0]).split("-")[0]) / 1000)


def relay_stream(
    client: redis.Redis,
    stream: str,
    consumer: str,
    apply: Apply,
    batch: int = 100,
    once: bool = False,
    report: Callable[[str], None] = print,
    transient: tuple[type[Exception], ...] = (),
    metrics: Metrics | None = None,
    claim_idle_ms: int = 5000,
) -> int:
    """Relay until stopped (or, with `once`, until the stream is empty); Redis errors and the
    `transient` ones of the projections are retried with exponential backoff. Prints each batch."""
    metrics = metrics if metrics is not None else Metrics()
    ensure_group(client, stream)
    return relay_loop(
        lambda: relay_stream_batch(client, stream, consumer, apply, batch, claim_idle_ms, metrics),
        lambda: stream_lag(client, stream),
        (redis.RedisError, *transient),
        metrics,
        once,
        report,
    )


def expiry_instant(written: float, seconds: int, resolution: float = 0.001) -> str:
    """When a record written at `written` (seconds since the epoch) expires `seconds` later, in ISO
    8601 UTC to the millisecond (the index's `expires_at`). The write time is first floored to the
    store's `resolution`: Redis expires a key to the millisecond of its EXEC (the stream entry's
    time), Cassandra a cell at its write's whole second + the TTL, so a document never outlives its
    record."""
    # Whole microseconds from here: a float of the floored time (…294.464999…) printed one
    # millisecond early under isoformat's truncation (CI).
    step = round(resolution * 1_000_000)
    micros = round(written * 1_000_000) // step * step
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros, seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def keyed_search_actions(
    targets: Mapping[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]],
    events: Sequence[KeyedEvent],
    expiry: Mapping[str, tuple[str, int]] | None = None,
    resolution: float = 0.001,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event id, bulk action) per event of an entity in `targets` (entity → write alias, source
    builder): the state indexed, or deleted, at the event's external version. An entity in `expiry`
    (entity → field, TTL in seconds) is one its store expires without an event: its document
    carries the instant its record expires (the event's write time + the TTL, which every write
    re-sets; `resolution`: as `expiry_instant` takes it), which the queries filter on and the purge
    deletes by."""
    expiry = expiry or {}
    for event in events:
        if event.entity not in targets:
            continue
        alias, to_source = targets[event.entity]
        common = {"_index": alias, "_id": event.key, "version": event.version, "version_type": "external"}
        if event.after is None:
            yield event.id, {"_op_type": "delete", **common}
            continue
        source = to_source(event.after)
        if event.entity in expiry:
            field, seconds = expiry[event.entity]
            source[field] = expiry_instant(event.at, seconds, resolution)
        yield event.id, {"_op_type": "index", "_source": source, **common}


# The bulk call and the reading of its answer, as doc_outbox_runtime.search_apply takes them.
Bulk = Callable[[list[dict[str, Any]]], Iterator[tuple[bool, Mapping[str, Any]]]]
Outcome = Callable[[Sequence[tuple[Any, dict[str, Any]]], Iterator[tuple[bool, Mapping[str, Any]]]], Mapping[Any, str]]


def keyed_search_apply(
    targets: Mapping[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]],
    bulk: Bulk,
    outcome: Outcome,
    expiry: Mapping[str, tuple[str, int]] | None = None,
    resolution: float = 0.001,
) -> Callable[[Sequence[KeyedEvent]], dict[str, str]]:
    """The relay's apply for search indexes: one bulk request per batch; an event of an entity with
    no index is parked ("no projection"), one the engine refuses parked with its reason (`expiry`,
    `resolution`: as `keyed_search_actions` takes them)."""

    def apply(events: Sequence[KeyedEvent]) -> dict[str, str]:
        parked = {e.id: f"no projection of entity {e.entity!r}" for e in events if e.entity not in targets}
        actions = list(keyed_search_actions(targets, events, expiry, resolution))
        if actions:
            parked.update(outcome(actions, bulk([action for _, action in actions])))
        return parked

    return apply

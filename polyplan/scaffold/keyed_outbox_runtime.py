"""The write side of the Redis and Cassandra outboxes in a scaffolded package (issue 15): what a
generated write of a record a search index projects calls so that the record and its event are
written together, by the one mechanism each store has (`stream_outbox_runtime.py`: MULTI/EXEC with
an XADD; `batch_outbox_runtime.py`: one LOGGED batch with the outbox INSERT).

- The event names the record by its **search document id** (the index's `doc_id` attributes joined
  with '|', as `search_runtime.search_id` has it), which is what the relay indexes or deletes, and
  carries the record after the write in its JSON form (`runtime.record_json`: `encode` per attribute: the form the
  relational outbox carries, so `search_runtime.search_document` reads it the same way).
- Redis: the record is read under WATCH, so the write knows what it replaces: an insert over a
  record of the same key but another document id also deletes that document, and a delete of a
  record that is not there writes no event. The MULTI/EXEC is retried while another client changed
  the key between the read and the EXEC (each retry means that client's write went through).

Copied verbatim (without this docstring, its polyplan imports pointed at the package's own modules)
into a package with such a record; polyplan's tests import it from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

from polyplan.scaffold.runtime import record_json
from polyplan.scaffold.stream_outbox_runtime import add_event

# The Redis stream of the records' events, under the deployment's key prefix.
STREAM = "polyplan:outbox"


def document_id(doc_id: tuple[str, ...], row: Mapping[str, Any] | None) -> str | None:
    """The search document id of a record (`search_id`'s rule), None for no record."""
    if row is None:
        return None
    return "|".join(str(row[name]) for name in doc_id)


def keyed_events(
    doc_id: tuple[str, ...], op: str, before: Any | None, after: Any | None
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The events (op, document id, state after) of a write from record `before` to `after`
    (generated dataclasses or None): the new state under its id, and a delete of the old id when
    the write moved the record to another document id (or deleted it)."""
    old_row = None if before is None else record_json(before)
    new_row = None if after is None else record_json(after)
    old, new = document_id(doc_id, old_row), document_id(doc_id, new_row)
    events: list[tuple[str, str, dict[str, Any] | None]] = []
    if old is not None and old != new:
        events.append(("delete", old, None))
    if new is not None and new_row is not None:
        events.append((op, new, new_row))
    return events


def write_record(
    client: redis.Redis,
    key: str,
    read: Callable[[Any], Any | None],
    queue: Callable[[Any], None],
    stream: str,
    entity: str,
    op: str,
    doc_id: tuple[str, ...],
    after: Any | None,
) -> Any | None:
    """One write of a Redis record a search index projects: the record at `key` read under WATCH
    (`read`: the pipeline → the record or None), then its commands (`queue`) and its events' XADDs
    in one MULTI/EXEC, retried when another client changed `key` meanwhile. Returns the record as
    it was."""
    pipe: Any = client.pipeline(transaction=True)  # redis-py leaves watch() untyped
    with pipe:
        while True:
            try:
                pipe.watch(key)
                before = read(pipe)
                pipe.multi()
                queue(pipe)
                for event_op, document, state in keyed_events(doc_id, op, before, after):
                    add_event(pipe, stream, entity, event_op, document, state)
                pipe.execute()
                return before
            except redis.WatchError:
                continue


def batch_event(
    doc_id: tuple[str, ...], op: str, before: Any | None, after: Any | None
) -> tuple[str, dict[str, Any] | None]:
    """The one event (document id, state after) of a Cassandra write from `before` to `after`: a
    write addresses its record by the primary key, which the document id is read from, so it never
    moves the record to another document."""
    events = keyed_events(doc_id, op, before, after)
    if not events:
        raise ValueError(f"{op}: no record before or after the write")
    if len(events) > 1:
        raise ValueError(f"{op}: the write moves its record to another search document id")
    _, document, state = events[0]
    return document, state

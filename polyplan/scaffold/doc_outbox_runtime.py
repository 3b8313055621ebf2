"""The outbox of a document-store system of record (issue 15): the pending events kept in the
record's own document, and a relay that applies each record's newest state with external
versioning and then removes the events it saw.

Why in the document: FerretDB (and a MongoDB without a replica set) has no multi-document
transactions and no change streams, so an outbox collection written beside the record could lose
an event (crash between the two writes) and nothing else can be tailed. So every write here is a
single-document command that changes the record, increments its version and `$push`es its event
in the same update. That command is all-or-nothing, but on FerretDB 1.x it is not isolated: the
server reads the document, computes the change and writes the whole document back by `_id`
without checking the filter again, so two writes of one record at once can lose one (a writer's
update, or the relay's clear writing back an older state, or the relay's removal of a tombstone
deleting the record a writer had just revived). Every read-modify-write of a record's document,
by a writer or by the relay, therefore runs under the record's lock (`record_lock`: a document
inserted under a unique `_id`, the one atomic command there, with a lease):

- `_pp_v`: the record's version (the external version of its search document). An insert starts
  it at the current time in microseconds and every write adds 1, so a record deleted and inserted
  again gets a version above every earlier one (each write takes more than a microsecond; writers'
  clocks must agree to within the time between a delete and the next insert of the same key).
- `_pp_outbox`: the pending events `{e: <uuid>, op, at}`, oldest first.
- `_pp_deleted`: a delete leaves a tombstone (the record's fields, the version and the delete
  event) so that its event survives; reads skip tombstones (`LIVE`), and the relay removes the
  tombstone once its delete is applied, unless a write revived it meanwhile.
- `_pp_parked`: dead letters, `{e, op, at, error}`: events whose state the projection refused.

The relay is state-based: for a document with pending events it applies the document as it is now
at version `_pp_v` (or a delete, for a tombstone), then, under the record's lock, clears the events
if the record is still at that version (else the next batch applies the newer state). Per
record, the newest state always wins (the search engine refuses a lower external version with 409,
counted as success), so two relays at once, a replay after a SIGKILL, or an event applied late
never put an older state over a newer one; an event pushed after the relay's read stays pending.

Copied verbatim (without this docstring) into a package whose document-store entities feed a
projection, so it imports only the standard library and pymongo; polyplan's tests import it from here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

# In a package, the package's own relay_metrics (copied beside this module).
from polyplan.scaffold.relay_metrics import Metrics, relay_loop

VERSION = "_pp_v"
OUTBOX = "_pp_outbox"
DELETED = "_pp_deleted"
PARKED = "_pp_parked"
# The bookkeeping fields: never part of the record's projection.
BOOKKEEPING = (VERSION, OUTBOX, DELETED, PARKED)
# The filter a read adds so that a tombstone is never answered.
LIVE: dict[str, Any] = {DELETED: {"$exists": False}}
PENDING: dict[str, Any] = {f"{OUTBOX}.0": {"$exists": True}}
_T = TypeVar("_T")


def _event(op: str) -> dict[str, Any]:
    return {"e": uuid.uuid4().hex, "op": op, "at": datetime.now(UTC)}


def _first_version() -> int:
    return time.time_ns() // 1000


def live(where: Mapping[str, Any]) -> dict[str, Any]:
    """`where` restricted to live documents (a planned filter as a read runs it)."""
    return {"$and": [dict(where), LIVE]} if where else dict(LIVE)


# A record's lock is held at most this long (seconds); a holder killed while holding it delays the
# record's next write by this much, and a holder paused longer than this loses its exclusion.
LEASE = 30.0
# A steal marker's id: `<STOLEN><owner>`, one per expired holder (see record_lock).
STOLEN = "\x00stolen|"


def lock_collection(collection: Any) -> Any:
    """The collection of `collection`'s record locks, beside it (`<name>_pp_locks`)."""
    return collection.database[f"{collection.name}_pp_locks"]


@contextmanager
def record_lock(collection: Any, record_id: Any, wait: bool = True) -> Iterator[bool]:
    """Hold the lock of one record (by its `_id`) for a read-modify-write of its document: yields
    True while held, or False at once when `wait` is False and another process holds it.

    Why a lock: FerretDB 1.x runs `update`, `findAndModify` and `delete` as a query, then the
    change computed in the server, then a write of the whole document by `_id` that does not check
    the filter again, so a filter on `_pp_v` is no compare-and-set and two writes of one document
    at once lose one of them (measured: 300 successful compare-and-set increments by two threads
    left the counter at 217). An insert under a unique index is the only atomic command there, so
    the lock is a document inserted with the record's `_id` and deleted on release. A lock older
    than LEASE is taken over (its holder was killed): one taker per expired holder, decided by
    inserting a steal marker, so two takers never both hold it."""
    locks = lock_collection(collection)
    owner = uuid.uuid4().hex
    delay = 0.001
    while True:
        now = time.time()
        try:
            locks.insert_one({"_id": record_id, "owner": owner, "until": now + LEASE})
            break
        except DuplicateKeyError:
            held = locks.find_one({"_id": record_id})
            if held is not None and held["until"] < now and _steal(locks, held):
                continue
        if not wait:
            yield False
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    try:
        yield True
    finally:
        locks.delete_one({"_id": record_id, "owner": owner})


def _steal(locks: Any, held: Mapping[str, Any]) -> bool:
    """Remove an expired lock if this caller is the one taker of its holder; True when removed."""
    try:
        locks.insert_one({"_id": STOLEN + str(held["owner"]), "until": held["until"]})
    except DuplicateKeyError:
        return False  # another process takes this one over
    locks.delete_one({"_id": held["_id"], "owner": held["owner"]})
    return True


def _locked(
    collection: Any, where: Mapping[str, Any], command: Callable[[dict[str, Any]], _T]
) -> tuple[bool, _T | None]:
    """Run `command` on the record `where` finds, under its lock, with `where` narrowed to the
    `_id` locked (a record deleted and inserted again meanwhile has another). (False, None) when no
    document has the key."""
    found = collection.find_one(where, {"_id": 1})
    if found is None:
        return False, None
    with record_lock(collection, found["_id"]):
        return True, command({**where, "_id": found["_id"]})


def insert_record(collection: Any, document: Mapping[str, Any], where: Mapping[str, Any]) -> None:
    """Insert one record with its insert event, in one command. `where` is the record's key filter.

    Over a tombstone of the same key (deleted, its delete not relayed yet) the tombstone is revived
    with the new fields and the next version instead, under the record's lock; a live record raises
    DuplicateKeyError, as insert_one does.
    """
    fields = {k: v for k, v in document.items() if k != "_id"}

    def revive(locked: dict[str, Any]) -> bool:
        current = collection.find_one(locked, {DELETED: 1})
        if current is None:
            return False  # the relay removed the tombstone: insert afresh
        if not current.get(DELETED):
            # Worded as the server words it (E11000), for callers that tell a duplicate by its text.
            raise DuplicateKeyError(f"E11000 duplicate key error: a live record has the key {dict(where)!r}", 11000)
        collection.update_one(
            {"_id": current["_id"]},
            {"$set": fields, "$unset": {DELETED: ""}, "$inc": {VERSION: 1}, "$push": {OUTBOX: _event("insert")}},
        )
        return True

    while True:
        try:
            collection.insert_one({**document, VERSION: _first_version(), OUTBOX: [_event("insert")]})
            return
        except DuplicateKeyError:
            found, revived = _locked(collection, where, revive)
            if found and revived:
                return


def update_record(
    collection: Any, where: Mapping[str, Any], sets: Mapping[str, Any], unsets: Sequence[str] = ()
) -> dict[str, Any] | None:
    """`$set` fields of one live record with its update event, in one command under the record's
    lock; the document after, or None when no live document has the key."""
    update: dict[str, Any] = {"$set": dict(sets), "$inc": {VERSION: 1}, "$push": {OUTBOX: _event("update")}}
    if unsets:
        update["$unset"] = dict.fromkeys(unsets, "")
    _, found = _locked(
        collection,
        where,
        lambda locked: collection.find_one_and_update(live(locked), update, return_document=ReturnDocument.AFTER),
    )
    return found


def replace_record(collection: Any, where: Mapping[str, Any], document: Mapping[str, Any]) -> None:
    """Write the whole record by its key (an upsert) with its event: the fields the new document
    leaves out are removed, a tombstone is revived. Under the record's lock, its version read and
    written on; an insert when there is no record (read again when another writer inserted it
    meanwhile)."""
    fields = {k: v for k, v in document.items() if k != "_id"}

    def write(locked: dict[str, Any]) -> bool:
        current = collection.find_one(locked, {k: 0 for k in (OUTBOX, PARKED)})
        if current is None:
            return False  # the relay removed the tombstone meanwhile
        gone = [k for k in current if k not in fields and k not in ("_id", VERSION) and k not in where]
        update: dict[str, Any] = {"$set": fields, "$inc": {VERSION: 1}, "$push": {OUTBOX: _event("upsert")}}
        if gone:
            update["$unset"] = dict.fromkeys(gone, "")
        collection.update_one({"_id": current["_id"]}, update)
        return True

    while True:
        found, written = _locked(collection, where, write)
        if found and written:
            return
        if not found:
            try:
                collection.insert_one({**document, VERSION: _first_version(), OUTBOX: [_event("upsert")]})
                return
            except DuplicateKeyError:
                continue  # inserted meanwhile: write over it


def increment_record(collection: Any, where: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
    """A planned `$inc` update of one live record with the version incremented and its event pushed,
    in one command under the record's lock; False when no live document has the key."""
    merged = {
        **update,
        "$inc": {**update.get("$inc", {}), VERSION: 1},
        "$push": {OUTBOX: _event("increment")},
    }
    _, matched = _locked(collection, where, lambda locked: collection.update_one(live(locked), merged).matched_count)
    return matched == 1


def delete_record(collection: Any, where: Mapping[str, Any]) -> dict[str, Any] | None:
    """Delete one live record: it becomes a tombstone holding its delete event (one command, under
    the record's lock) until the relay has applied it. The document as it was, or None when no
    live document has the key."""
    _, found = _locked(
        collection,
        where,
        lambda locked: collection.find_one_and_update(
            live(locked),
            {"$set": {DELETED: True}, "$inc": {VERSION: 1}, "$push": {OUTBOX: _event("delete")}},
            return_document=ReturnDocument.BEFORE,
        ),
    )
    return found


@dataclass(frozen=True)
class State:
    """What the relay applies for one record: its id, version, fields (a tombstone keeps its
    record's, so the projection can name what to delete), and whether it is deleted."""

    id: Any
    version: int
    document: dict[str, Any]  # without the bookkeeping fields
    events: tuple[dict[str, Any], ...]  # the pending events this state covers
    deleted: bool = False


def record_state(document: Mapping[str, Any]) -> State:
    """The state of one stored document (a tombstone's is a delete)."""
    body = {k: v for k, v in document.items() if k not in BOOKKEEPING}
    return State(
        document["_id"], int(document[VERSION]), body, tuple(document.get(OUTBOX) or ()), bool(document.get(DELETED))
    )


def _age(moment: datetime, now: datetime) -> float:
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())


def outbox_lag(collections: Sequence[Any]) -> tuple[int, float]:
    """Pending events over `collections` and the age in seconds of the oldest (0 when none)."""
    count = 0
    oldest: datetime | None = None
    for collection in collections:
        for document in collection.find(PENDING, {f"{OUTBOX}.at": 1, "_id": 0}):
            events = document.get(OUTBOX) or []
            count += len(events)
            for event in events:
                at = event["at"] if event["at"].tzinfo is not None else event["at"].replace(tzinfo=UTC)
                oldest = at if oldest is None or at < oldest else oldest
    return count, 0.0 if oldest is None else _age(oldest, datetime.now(UTC))


# What a relay does with one collection's batch: the states → event id of a parked one's first
# event → why (the others are applied). It raises to have the whole batch retried.
Apply = Callable[[Sequence[State]], Mapping[Any, str]]


def relay_collection(
    collection: Any,
    apply: Apply,
    batch: int = 100,
    metrics: Metrics | None = None,
    after_apply: Callable[[Sequence[State]], None] | None = None,
) -> int:
    """Relay one batch of `collection`'s pending records: read them, apply their states, then clear
    the outbox of each record still at the version read (a parked record's events move to
    `_pp_parked` with the reason), and remove a tombstone whose delete is applied. A record written
    since the read keeps its events: the next batch applies its newer state. (The clear checks the
    version under the record's lock, `_clear`, rather than `$pull`ing the events read, because
    FerretDB's `$pull` does not match array elements by a condition on their fields.) Returns the
    events cleared. `after_apply` runs between applying and clearing (a test's crash point)."""
    states = [record_state(d) for d in collection.find(PENDING, {PARKED: 0}).limit(batch)]
    if not states:
        return 0
    refused = apply(states)
    if after_apply is not None:
        after_apply(states)
    now = datetime.now(UTC)
    lags: list[float] = []
    parked = 0
    gone: list[State] = []
    for state in states:
        cleared = _clear(collection, state, refused.get(state.id))
        if cleared is None:
            gone.append(state)
        elif cleared:
            reason = refused.get(state.id)
            parked += len(state.events) if reason is not None else 0
            lags.extend(_age(event["at"], now) for event in state.events)
    if gone:
        # Indexed as live, but the record was deleted and its delete relayed meanwhile: if that
        # delete's version was already forgotten by the engine (`index.gc_deletes`, 60 s), the
        # older index request was taken and nothing would remove it. Delete at the next version
        # (not above the delete's own, so it never overrides a newer insert of the key).
        apply([State(state.id, state.version + 1, state.document, (), deleted=True) for state in gone])
    if metrics is not None:
        metrics.record(lags, parked)
    return len(lags)


def _clear(collection: Any, state: State, reason: str | None) -> bool | None:
    """Clear one applied record's events (parked with `reason` when refused), or remove its
    tombstone, if it is still at the version applied: under the record's lock, without waiting
    (a record a writer holds is written anew, and the next batch applies it). True when cleared;
    None when a live state was applied and the record is gone since."""
    with record_lock(collection, state.id, wait=False) as held:
        if not held:
            return False
        current = collection.find_one({"_id": state.id}, {VERSION: 1, DELETED: 1})
        if current is None:
            return None if not state.deleted and reason is None else False
        if int(current[VERSION]) != state.version:
            return False
        if state.deleted and reason is None:
            return bool(collection.delete_one({"_id": state.id}).deleted_count)
        update: dict[str, Any] = {"$set": {OUTBOX: []}}
        if reason is not None:
            update["$push"] = {PARKED: {"$each": [{**event, "error": reason} for event in state.events]}}
        return bool(collection.update_one({"_id": state.id}, update).modified_count)


def relay_forever(
    collections: Mapping[str, Any],
    apply: Mapping[str, Apply],
    batch: int = 100,
    once: bool = False,
    report: Callable[[str], None] = print,
    transient: tuple[type[Exception], ...] = (),
    metrics: Metrics | None = None,
) -> int:
    """Relay every collection (entity → collection, entity → its apply) until stopped or, with
    `once`, until nothing is pending; the document store's errors and the `transient` ones of the
    projections are retried with backoff. Prints each batch and the lag."""
    metrics = metrics if metrics is not None else Metrics()
    return relay_loop(
        lambda: sum(relay_collection(collections[e], apply[e], batch, metrics) for e in collections),
        lambda: outbox_lag(list(collections.values())),
        (PyMongoError, *transient),
        metrics,
        once,
        report,
    )


def search_actions(
    alias: str,
    states: Sequence[State],
    to_source: Callable[[Mapping[str, Any]], dict[str, Any]],
    doc_id: Callable[[Mapping[str, Any]], str] = lambda document: str(document["_id"]),
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(record id, bulk action) per state: the document indexed, or deleted, at the record's version
    with `version_type: external`, so the engine keeps the newest state whatever the order. The
    search document's id is `doc_id` of the record's fields (its `_id` unless told)."""
    for state in states:
        common = {"_index": alias, "_id": doc_id(state.document), "version": state.version, "version_type": "external"}
        if state.deleted:
            yield state.id, {"_op_type": "delete", **common}
        else:
            yield state.id, {"_op_type": "index", "_source": to_source(state.document), **common}


# One (ok, item) per bulk action, as the search clients' helpers.streaming_bulk yields them.
Bulk = Callable[[list[dict[str, Any]]], Iterator[tuple[bool, Mapping[str, Any]]]]
# The bulk answer read as search_runtime.search_outcome reads it: record id → why it was refused.
Outcome = Callable[[Sequence[tuple[Any, dict[str, Any]]], Iterator[tuple[bool, Mapping[str, Any]]]], Mapping[Any, str]]


def search_apply(
    alias: str,
    to_source: Callable[[Mapping[str, Any]], dict[str, Any]],
    bulk: Bulk,
    outcome: Outcome,
    doc_id: Callable[[Mapping[str, Any]], str] = lambda document: str(document["_id"]),
) -> Apply:
    """The relay's apply for one search index: one bulk request per batch (`search_actions`), the
    answer read by `outcome` (409 "already newer" and a 404 delete are success, a throttled shard
    raises to retry the batch, any other refusal parks the record with the engine's reason)."""

    def apply(states: Sequence[State]) -> Mapping[Any, str]:
        actions = list(search_actions(alias, states, to_source, doc_id))
        return outcome(actions, bulk([action for _, action in actions])) if actions else {}

    return apply

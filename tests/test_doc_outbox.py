"""The outbox of a document-store system of record (issue 15, polyplan/scaffold/doc_outbox_runtime.py):
each write is one single-document command carrying its event, and the relay applies each record's
newest state to the search index with external versioning. Run against the real MongoDB
wire-protocol server of POLYPLAN_MONGODB_URL (FerretDB on this machine: no claim about MongoDB
itself) and the real OpenSearch; never skipped under POLYPLAN_REQUIRE naming them."""

from __future__ import annotations

import random
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from polyplan.scaffold import doc_outbox_runtime as outbox
from polyplan.scaffold.relay_metrics import Metrics, serve_metrics
from polyplan.scaffold.search_runtime import search_outcome
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.outbox_worker import drain, item_source, kill_relays

WORKER = ROOT / "tests" / "outbox_worker.py"
MAPPING = {
    "dynamic": "strict",
    "properties": {"sku": {"type": "keyword"}, "title": {"type": "text"}, "stock": {"type": "integer"}},
}


def test_metrics_are_prometheus_text_and_served_over_http() -> None:
    metrics = Metrics()
    metrics.record([0.5, 0.1, 2.0], parked=1)
    metrics.pending, metrics.oldest = 4, 1.25
    text = metrics.exposition('items "a"')
    assert (
        '# TYPE polyplan_relay_events_total counter\npolyplan_relay_events_total{relay="items \\"a\\""} 3.0\n' in text
    )
    assert 'polyplan_relay_parked_total{relay="items \\"a\\""} 1.0\n' in text
    assert 'polyplan_relay_pending{relay="items \\"a\\""} 4.0\n' in text
    assert 'polyplan_relay_lag_seconds{relay="items \\"a\\""} 1.25\n' in text
    assert 'polyplan_relay_lag_p99_seconds{relay="items \\"a\\""} 2.0\n' in text
    server = serve_metrics(metrics, "items", 0)
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert 'polyplan_relay_events_total{relay="items"} 3.0' in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
    finally:
        server.shutdown()


def test_search_actions_carry_the_record_version_and_delete_a_tombstone() -> None:
    states = [
        outbox.State("a", 7, {"_id": "a", "sku": "A", "title": "x", "stock": 1}, ()),
        outbox.State("b", 9, {"_id": "b", "sku": "B"}, (), deleted=True),
    ]
    actions = list(outbox.search_actions("items", states, item_source))
    assert actions == [
        (
            "a",
            {
                "_op_type": "index",
                "_source": {"sku": "A", "title": "x", "stock": 1},
                "_index": "items",
                "_id": "a",
                "version": 7,
                "version_type": "external",
            },
        ),
        ("b", {"_op_type": "delete", "_index": "items", "_id": "b", "version": 9, "version_type": "external"}),
    ]


@dataclass
class Stores:
    """A scratch database (its URL and name), its items collection and a scratch OpenSearch index."""

    mongodb_url: str
    database: str
    collection: Any
    search_url: str
    search: Any
    index: str


@pytest.fixture
def stores() -> Iterator[Stores]:
    from polyplan.stores.document.connect import scratch_database
    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, run_prefix

    mongodb_url, search_url = resolve_url("mongodb"), resolve_url("opensearch")
    client = connect(search_url)
    prefix = run_prefix()
    try:
        with scratch_database(mongodb_url) as db:
            db["items"].create_index("sku", unique=True)
            index = f"{prefix}items"
            client.indices.create(index=index, body={"mappings": MAPPING, "settings": {"number_of_replicas": 0}})
            yield Stores(mongodb_url, db.name, db["items"], search_url, client, index)
    finally:
        drop_prefix(client, prefix)
        client.close()


def _apply(stores: Stores) -> outbox.Apply:
    from opensearchpy import helpers

    def bulk(actions: list[dict[str, Any]]) -> Any:
        return helpers.streaming_bulk(
            stores.search, actions, raise_on_error=False, raise_on_exception=True, max_retries=0
        )

    return outbox.search_apply(stores.index, item_source, bulk, lambda a, r: search_outcome(a, r).parked)


def _compare(stores: Stores) -> tuple[int, list[str], list[str], list[str]]:
    """(live records, lost, stale, extra) between the collection and the index."""
    stores.search.indices.refresh(index=stores.index)
    records = {str(d["_id"]): d for d in stores.collection.find(outbox.LIVE)}
    found = stores.search.search(index=stores.index, body={"query": {"match_all": {}}, "size": 10_000, "version": True})
    documents = {hit["_id"]: hit for hit in found["hits"]["hits"]}
    lost = sorted(set(records) - set(documents))
    extra = sorted(set(documents) - set(records))
    stale = sorted(
        key
        for key in set(records) & set(documents)
        if documents[key]["_version"] != records[key][outbox.VERSION]
        or documents[key]["_source"] != item_source(records[key])
    )
    return len(records), lost, stale, extra


def _item(number: int, stock: int) -> dict[str, Any]:
    return {"_id": f"item{number}", "sku": f"SKU{number}", "title": f"item number {number}", "stock": stock}


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_each_write_carries_its_event_and_the_relay_applies_newest_state(stores: Stores) -> None:
    items = stores.collection
    for number in range(5):
        outbox.insert_record(items, _item(number, number), {"_id": f"item{number}"})
    assert outbox.outbox_lag([items])[0] == 5
    after = outbox.update_record(items, {"_id": "item1"}, {"stock": 40})
    assert after is not None and after["stock"] == 40 and len(after[outbox.OUTBOX]) == 2
    assert outbox.update_record(items, {"_id": "nothing"}, {"stock": 1}) is None
    before = outbox.delete_record(items, {"_id": "item2"})
    assert before is not None and before["sku"] == "SKU2"
    # The tombstone holds the delete event, and reads skip it.
    assert items.find_one({"_id": "item2"})[outbox.DELETED] is True
    assert items.count_documents(outbox.live({"sku": "SKU2"})) == 0
    assert outbox.delete_record(items, {"_id": "item2"}) is None
    with pytest.raises(DuplicateKeyError):
        outbox.insert_record(items, _item(1, 1), {"_id": "item1"})
    outbox.replace_record(items, {"_id": "item9"}, _item(9, 9))
    applied = outbox.relay_forever({"Item": items}, {"Item": _apply(stores)}, once=True, report=lambda _: None)
    assert applied == 8  # 5 inserts, 1 update, 1 delete, 1 upsert: each cleared once
    assert outbox.outbox_lag([items]) == (0, 0.0)
    assert items.find_one({"_id": "item2"}) is None  # the tombstone went once its delete was applied
    assert _compare(stores) == (5, [], [], [])
    # Inserted again after its delete: a version above the deleted one, so the index takes it.
    outbox.insert_record(items, _item(2, 22), {"_id": "item2"})
    # Deleted and inserted again before the relay ran: the tombstone is revived at the next version.
    outbox.delete_record(items, {"_id": "item3"})
    outbox.insert_record(items, _item(3, 33), {"_id": "item3"})
    revived = items.find_one({"_id": "item3"})
    assert outbox.DELETED not in revived and [e["op"] for e in revived[outbox.OUTBOX]] == ["delete", "insert"]
    outbox.relay_forever({"Item": items}, {"Item": _apply(stores)}, once=True, report=lambda _: None)
    assert _compare(stores) == (6, [], [], [])
    # A replayed older state is refused by the engine (409) and counted as success.
    old = outbox.State("item3", revived[outbox.VERSION] - 1, _item(3, 0), ())
    assert _apply(stores)([old]) == {}
    assert _compare(stores) == (6, [], [], [])


class _TombstoneGoneAfterRead:
    """The collection, except that the relay removes the tombstone right after the first read."""

    def __init__(self, collection: Any) -> None:
        self.collection, self.armed = collection, True

    def find_one(self, *args: Any, **kwargs: Any) -> Any:
        found = self.collection.find_one(*args, **kwargs)
        if self.armed and found is not None:
            self.armed = False
            self.collection.delete_one({"_id": found["_id"]})
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


@pytest.mark.mongodb
def test_an_upsert_racing_the_tombstone_removal_keeps_the_version_rising(stores: Stores) -> None:
    """Before, replace_record upserted by key with `$inc` on the version: when the relay removed
    the tombstone it had read, the upsert inserted the record at version 1, below the delete the
    index had applied, and the index refused it as older (the record lost from the index). It now
    writes by compare-and-set on the version read and reads again when that fails."""
    items = stores.collection
    outbox.insert_record(items, _item(7, 1), {"_id": "item7"})
    deleted = outbox.delete_record(items, {"_id": "item7"})
    assert deleted is not None
    tombstone_version = items.find_one({"_id": "item7"})[outbox.VERSION]
    outbox.replace_record(_TombstoneGoneAfterRead(items), {"_id": "item7"}, _item(7, 2))
    record = items.find_one({"_id": "item7"})
    assert record[outbox.VERSION] > tombstone_version and outbox.DELETED not in record
    assert record["stock"] == 2


def _race(*jobs: Any) -> None:
    """Run the jobs in threads at once; re-raise the first failure."""
    failures: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            job()
        except BaseException as error:  # reported to the test below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@pytest.mark.mongodb
def test_two_writers_of_one_record_at_once_lose_no_update(stores: Stores) -> None:
    """FerretDB 1.x runs an update as read, change, write back by `_id`: two updates of one
    document at once lost one of them, with the version (the index's external version) counted
    once for two states. Under the record's lock every update lands: 2 × 60 updates, +120."""
    items = stores.collection
    outbox.insert_record(items, _item(1, 0), {"_id": "item1"})
    first = items.find_one({"_id": "item1"})[outbox.VERSION]

    def writer() -> None:
        for stock in range(60):
            assert outbox.update_record(items, {"_id": "item1"}, {"stock": stock}) is not None

    _race(writer, writer)
    record = items.find_one({"_id": "item1"})
    assert record[outbox.VERSION] - first == 120
    assert len(record[outbox.OUTBOX]) == 121  # the insert and every update


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_relays_clearing_beside_a_writer_neither_undo_a_write_nor_delete_a_revived_record(stores: Stores) -> None:
    """The kill run's extra document: a relay removing a tombstone whose delete it had applied
    (`delete_one` by version) while a writer revived it: FerretDB checked the filter, the writer
    revived the record, and the delete by `_id` removed the live record, whose newer state another
    relay had indexed (record gone, document in the index). Likewise a relay's clear wrote back the
    state it read over a writer's newer one. Here one writer deletes and re-inserts one key 40
    times while two relays run: every delete finds the record it follows, no update is undone, and at
    the end the record is live and the index equals it."""
    items = stores.collection
    apply = _apply(stores)
    done = threading.Event()
    outbox.insert_record(items, _item(1, 0), {"_id": "item1"})

    def writer() -> None:
        pause = random.Random(7)
        try:
            for round_ in range(40):
                assert outbox.delete_record(items, {"_id": "item1"}) is not None, f"record lost in round {round_}"
                time.sleep(pause.uniform(0, 0.02))  # a relay reads the tombstone meanwhile
                outbox.insert_record(items, _item(1, round_), {"_id": "item1"})
                time.sleep(pause.uniform(0, 0.02))
                assert outbox.update_record(items, {"_id": "item1"}, {"stock": 1000 + round_}) is not None
                time.sleep(pause.uniform(0, 0.02))
                assert items.find_one({"_id": "item1"})["stock"] == 1000 + round_, f"update undone in round {round_}"
        finally:
            done.set()

    def relay() -> None:
        while not done.is_set():
            outbox.relay_collection(items, apply, batch=10)

    _race(writer, relay, relay)
    outbox.relay_forever({"Item": items}, {"Item": apply}, once=True, report=lambda _: None)
    record = items.find_one({"_id": "item1"})
    assert record is not None and outbox.DELETED not in record and record["stock"] == 1039
    assert _compare(stores) == (1, [], [], [])


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_an_index_request_landing_after_the_delete_is_forgotten_is_undone(stores: Stores) -> None:
    """OpenSearch remembers a deleted document's version only `index.gc_deletes` (60 s): a relay
    that read a live state and whose index request lands later than that after the record's delete
    was relayed (a stalled relay) brings the document back, and the record being gone, no batch
    would remove it. Here the index forgets at once (gc_deletes 0): the stalled relay finds the
    record gone when it clears and deletes the document at the next version."""
    items = stores.collection
    real = _apply(stores)
    outbox.insert_record(items, _item(4, 4), {"_id": "item4"})
    calls: list[Any] = []

    def stalled(states: Any) -> Any:
        calls.append([(state.version, state.deleted) for state in states])
        if len(calls) > 1:
            return real(states)
        # Meanwhile: the record is deleted, a second relay applies the delete and removes the
        # tombstone, and the engine forgets the delete's version.
        assert outbox.delete_record(items, {"_id": "item4"}) is not None
        assert outbox.relay_collection(items, real) == 2
        stores.search.indices.put_settings(index=stores.index, body={"index": {"gc_deletes": "0ms"}})
        stores.search.indices.refresh(index=stores.index)
        time.sleep(0.1)
        return real(states)

    assert outbox.relay_collection(items, stalled) == 0  # nothing of its own left to clear
    (version, _), (again, deleted) = calls[0][0], calls[1][0]
    assert (again, deleted) == (version + 1, True)  # the delete at the next version
    assert items.find_one({"_id": "item4"}) is None
    assert _compare(stores) == (0, [], [], [])


@pytest.mark.mongodb
def test_an_expired_lock_is_taken_over_once_and_a_held_one_is_not(stores: Stores) -> None:
    """A relay killed while holding a record's lock delays that record by at most the lease: the
    next writer takes the expired lock over (one taker per expired holder); a live lock is
    waited for, or skipped by the relay."""
    items = stores.collection
    locks = outbox.lock_collection(items)
    locks.insert_one({"_id": "item1", "owner": "killed", "until": 0.0})
    with outbox.record_lock(items, "item1") as held:
        assert held and locks.find_one({"_id": "item1"})["owner"] != "killed"
        with outbox.record_lock(items, "item1", wait=False) as second:
            assert second is False
    assert locks.find_one({"_id": "item1"}) is None  # released
    assert locks.find_one({"_id": outbox.STOLEN + "killed"}) is not None  # the one takeover of "killed"


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_a_document_the_index_refuses_is_parked_with_the_reason(stores: Stores) -> None:
    items = stores.collection
    outbox.insert_record(items, {**_item(1, 1), "stock": "many"}, {"_id": "item1"})  # not an integer
    outbox.insert_record(items, _item(2, 2), {"_id": "item2"})
    lines: list[str] = []
    metrics = Metrics()
    outbox.relay_forever({"Item": items}, {"Item": _apply(stores)}, once=True, report=lines.append, metrics=metrics)
    parked = items.find_one({"_id": "item1"})
    assert parked[outbox.OUTBOX] == []
    assert [e["op"] for e in parked[outbox.PARKED]] == ["insert"]
    assert "search index refused (400): mapper_parsing_exception" in parked[outbox.PARKED][0]["error"]
    assert metrics.events == 2 and metrics.parked == 1
    assert lines[-1].startswith("relay: caught up after 2 events; pending 0, lag 0.000 s;")
    records, lost, stale, extra = _compare(stores)
    assert (records, lost, stale, extra) == (2, ["item1"], [], [])  # the parked one is reported, not dropped


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_relay_killed_at_random_under_concurrent_writes_leaves_index_equal_to_the_record(stores: Stores) -> None:
    """Three writers insert, update, delete and re-insert 80 keys while relay processes are SIGKILLed
    at random points 20 times and restarted, a second relay running beside the first in a third of
    the steps; afterwards a relay drains the outbox and every live record's document is in the
    index at the record's version with its fields: 0 lost, 0 stale, 0 extra."""
    items = stores.collection
    rng = random.Random(15)
    stop = threading.Event()
    counts = {"insert": 0, "update": 0, "delete": 0, "refused": 0}
    lock = threading.Lock()

    def writer(seed: int) -> None:
        local = random.Random(seed)
        while not stop.is_set():
            number = local.randrange(80)
            where = {"_id": f"item{number}"}
            choice = local.random()
            try:
                if choice < 0.35:
                    outbox.insert_record(items, _item(number, local.randrange(1000)), where)
                    done = "insert"
                elif choice < 0.8:
                    done = (
                        "update" if outbox.update_record(items, where, {"stock": local.randrange(1000)}) else "refused"
                    )
                else:
                    done = "delete" if outbox.delete_record(items, where) else "refused"
            except DuplicateKeyError:
                done = "refused"
            with lock:
                counts[done] += 1

    command = [
        sys.executable,
        str(WORKER),
        "document",
        stores.mongodb_url,
        stores.database,
        stores.search_url,
        stores.index,
    ]
    writers = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2, 3)]
    for thread in writers:
        thread.start()
    try:
        kills, after_batch, two_at_once = kill_relays(command, 20, rng)
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    last = drain(command)
    pending, _ = outbox.outbox_lag([items])
    parked = items.count_documents({f"{outbox.PARKED}.0": {"$exists": True}})
    records, lost, stale, extra = _compare(stores)
    print(
        f"\ndocument-store fault run: {kills} SIGKILLs ({after_batch} of 20 first relays after a batch), "
        f"two relays at once for {two_at_once:.1f} s; writes: {counts['insert']} inserts, {counts['update']} "
        f"updates, {counts['delete']} deletes, {counts['refused']} refused (no such or duplicate key); "
        f"{pending} pending, {parked} parked; index: {records} records, {len(lost)} lost, {len(stale)} stale, "
        f"{len(extra)} extra\n{last}"
    )
    assert kills >= 20 and after_batch >= 15
    assert counts["insert"] and counts["update"] and counts["delete"]
    assert (pending, parked) == (0, 0)
    assert (lost, stale, extra) == ([], [], [])
    assert records == items.count_documents({}), "a tombstone was left after its delete was relayed"

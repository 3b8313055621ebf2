"""The outboxes of a Redis and a Cassandra system of record (issue 15): the record's write and its
event in one MULTI/EXEC (an XADD to a stream, relayed by a consumer group) or one LOGGED batch (an
outbox table partitioned by key bucket), applied to a search index with external versions. On the
real Redis, Cassandra and OpenSearch; never skipped under POLYPLAN_REQUIRE naming them."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from polyplan.scaffold import batch_outbox_runtime as batch
from polyplan.scaffold import stream_outbox_runtime as stream
from polyplan.scaffold.relay_metrics import Metrics
from polyplan.scaffold.search_runtime import search_outcome
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.outbox_worker import ITEM_FIELDS, drain, item_source, kill_relays

WORKER = ROOT / "tests" / "outbox_worker.py"
MAPPING = {
    "dynamic": "strict",
    "properties": {"sku": {"type": "keyword"}, "title": {"type": "text"}, "stock": {"type": "integer"}},
}


def test_stream_versions_increase_along_the_stream() -> None:
    assert stream.version_of("1700000000000-0") < stream.version_of("1700000000000-1")
    assert stream.version_of("1700000000000-999999") < stream.version_of("1700000000001-0")
    assert stream.version_of("1800000000000-5") < 2**63  # an external version is a signed long


def test_outbox_buckets_are_stable_and_spread() -> None:
    assert batch.bucket_of("item7") == batch.bucket_of("item7")
    assert len({batch.bucket_of(f"item{n}") for n in range(200)}) == batch.BUCKETS
    assert batch.outbox_ddl("ks")[0].startswith(
        "CREATE TABLE IF NOT EXISTS ks.polyplan_outbox (bucket int, id timeuuid"
    )


@dataclass
class Index:
    """A scratch OpenSearch index and the apply that writes to it."""

    url: str
    client: Any
    name: str
    apply: stream.Apply


@pytest.fixture
def index() -> Iterator[Index]:
    from opensearchpy import helpers

    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, run_prefix

    url = resolve_url("opensearch")
    client = connect(url)
    prefix = run_prefix()
    name = f"{prefix}items"

    def bulk(actions: list[dict[str, Any]]) -> Any:
        return helpers.streaming_bulk(client, actions, raise_on_error=False, raise_on_exception=True, max_retries=0)

    try:
        client.indices.create(index=name, body={"mappings": MAPPING, "settings": {"number_of_replicas": 0}})
        apply = stream.keyed_search_apply({"Item": (name, item_source)}, bulk, lambda a, r: search_outcome(a, r).parked)
        yield Index(url, client, name, apply)
    finally:
        drop_prefix(client, prefix)
        client.close()


def _compare(index: Index, records: dict[str, dict[str, Any]], versions: dict[str, int]) -> tuple[list[str], ...]:
    """(lost, stale, extra) between the records (key → fields) and the index; `versions` holds
    each key's last event version."""
    index.client.indices.refresh(index=index.name)
    found = index.client.search(index=index.name, body={"query": {"match_all": {}}, "size": 10_000, "version": True})
    documents = {hit["_id"]: hit for hit in found["hits"]["hits"]}
    lost = sorted(set(records) - set(documents))
    extra = sorted(set(documents) - set(records))
    stale = sorted(
        key
        for key in set(records) & set(documents)
        if documents[key]["_version"] != versions[key] or documents[key]["_source"] != item_source(records[key])
    )
    return lost, stale, extra


def _item(number: int, stock: int) -> dict[str, Any]:
    return {"sku": f"SKU{number}", "title": f"item number {number}", "stock": stock}


def _writers(
    write: Callable[[random.Random, int], None], count: int = 3
) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()

    def run(seed: int) -> None:
        local = random.Random(seed)
        while not stop.is_set():
            write(local, local.randrange(80))

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(1, count + 1)]
    for thread in threads:
        thread.start()
    return stop, threads


# --- Redis -------------------------------------------------------------------------------


@dataclass
class RedisRecords:
    """Items kept in Redis hashes under a scratch prefix, written with their events."""

    client: Any
    prefix: str
    versions: dict[str, int]
    lock: threading.Lock

    @property
    def stream(self) -> str:
        return f"{self.prefix}polyplan:outbox"

    def put(self, number: int, fields: dict[str, Any]) -> None:
        key = f"item{number}"

        def commands(pipe: Any) -> None:
            pipe.hset(f"{self.prefix}item:{key}", mapping={k: str(v) for k, v in fields.items()})

        self._written(key, stream.write_with_event(self.client, commands, self.stream, "Item", "upsert", key, fields))

    def delete(self, number: int) -> None:
        key = f"item{number}"
        replies = stream.write_with_event(
            self.client, lambda pipe: pipe.delete(f"{self.prefix}item:{key}"), self.stream, "Item", "delete", key, None
        )
        self._written(key, replies)

    def _written(self, key: str, replies: list[Any]) -> None:
        version = stream.version_of(replies[-1].decode() if isinstance(replies[-1], bytes) else replies[-1])
        with self.lock:
            self.versions[key] = max(self.versions.get(key, 0), version)

    def records(self) -> dict[str, dict[str, Any]]:
        found = {}
        for name in self.client.scan_iter(match=f"{self.prefix}item:*"):
            body = {k.decode(): v.decode() for k, v in self.client.hgetall(name).items()}
            found[name.decode().rsplit(":", 1)[1]] = {**body, "stock": int(body["stock"])}
        return found


@pytest.fixture
def redis_records() -> Iterator[RedisRecords]:
    from polyplan.stores.cache.connect import connect, scratch_prefix

    client = connect(resolve_url("redis"))
    with scratch_prefix(client) as prefix:
        yield RedisRecords(client, prefix, {}, threading.Lock())


@pytest.mark.redis
@pytest.mark.opensearch
def test_redis_record_and_event_in_one_multi_exec_and_claimed_after_a_crash(
    redis_records: RedisRecords, index: Index
) -> None:
    records = redis_records
    for number in range(6):
        records.put(number, _item(number, number))
    records.put(1, _item(1, 10))
    records.delete(2)
    assert records.client.xlen(records.stream) == 8
    stream.ensure_group(records.client, records.stream)

    def crash(_: Any) -> None:
        raise RuntimeError("killed between applying and acknowledging")

    with pytest.raises(RuntimeError):
        stream.relay_stream_batch(records.client, records.stream, "dead", index.apply, 3, after_apply=crash)
    assert records.client.xpending(records.stream, stream.GROUP)["pending"] == 3  # delivered, never acked
    stream.add_event(records.client, records.stream, "Ghost", "insert", "g1", {"x": 1})  # no projection
    lines: list[str] = []
    metrics = Metrics()
    handled = stream.relay_stream(
        records.client,
        records.stream,
        "alive",
        index.apply,
        once=True,
        report=lines.append,
        claim_idle_ms=0,
        metrics=metrics,
    )
    assert handled == 9 and metrics.parked == 1
    assert records.client.xpending(records.stream, stream.GROUP)["pending"] == 0
    assert stream.stream_lag(records.client, records.stream) == (0, 0.0)
    parked = records.client.xrange(f"{records.stream}:parked")
    assert [(p[1][b"key"], p[1][b"error"]) for p in parked] == [(b"g1", b"no projection of entity 'Ghost'")]
    assert lines[-1].startswith("relay: caught up after 9 events; pending 0, lag 0.000 s;")
    assert _compare(index, records.records(), records.versions) == ([], [], [])


@pytest.mark.redis
@pytest.mark.opensearch
def test_redis_relay_killed_at_random_leaves_index_equal_to_the_record(
    redis_records: RedisRecords, index: Index
) -> None:
    records = redis_records
    stream.ensure_group(records.client, records.stream)

    def write(local: random.Random, number: int) -> None:
        if local.random() < 0.8:
            records.put(number, _item(number, local.randrange(1000)))
        else:
            records.delete(number)

    stop, threads = _writers(write)
    command = [sys.executable, str(WORKER), "redis", resolve_url("redis"), records.stream, index.url, index.name]
    try:
        kills, after_batch, two_at_once = kill_relays(command, 20, random.Random(15))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    last = drain(command)
    lost, stale, extra = _compare(index, records.records(), records.versions)
    pending = records.client.xpending(records.stream, stream.GROUP)["pending"]
    print(
        f"\nRedis fault run: {kills} SIGKILLs ({after_batch} of 20 after a batch), two relays at once for "
        f"{two_at_once:.1f} s; {len(records.versions)} keys written, {records.client.xlen(records.stream)} left in "
        f"the stream, {pending} unacknowledged; {len(lost)} lost, {len(stale)} stale, {len(extra)} extra\n{last}"
    )
    assert kills >= 20 and after_batch >= 15
    assert (records.client.xlen(records.stream), pending) == (0, 0)
    assert (lost, stale, extra) == ([], [], [])


# --- Cassandra -----------------------------------------------------------------------------


@dataclass
class CassandraRecords:
    """Items in a Cassandra table of a scratch keyspace, written with their events."""

    session: Any
    keyspace: str
    versions: dict[str, int]

    def put(self, number: int, fields: dict[str, Any]) -> None:
        key = f"item{number}"
        upsert = self.session.prepare(f"INSERT INTO {self.keyspace}.items (id, sku, title, stock) VALUES (?, ?, ?, ?)")
        values = (key, *(fields[f] for f in ITEM_FIELDS))
        batch.write_with_event(self.session, self.keyspace, [(upsert, values)], "Item", "upsert", key, fields)

    def delete(self, number: int) -> None:
        key = f"item{number}"
        gone = self.session.prepare(f"DELETE FROM {self.keyspace}.items WHERE id = ?")
        batch.write_with_event(self.session, self.keyspace, [(gone, (key,))], "Item", "delete", key, None)

    def records(self) -> dict[str, dict[str, Any]]:
        """Each row's fields; `versions` set to each row's write timestamp, the version its
        document must have (the batch's timestamp, which its outbox row carried)."""
        rows = list(
            self.session.execute(
                f"SELECT id, sku, title, stock, WRITETIME(stock) AS written FROM {self.keyspace}.items"
            )
        )
        self.versions = {row["id"]: int(row["written"]) for row in rows}
        return {row["id"]: {f: row[f] for f in ITEM_FIELDS} for row in rows}


@pytest.fixture
def cassandra_records() -> Iterator[CassandraRecords]:
    from cassandra.query import dict_factory

    from polyplan.stores.wide_column.cluster import cassandra_cluster
    from polyplan.stores.wide_column.connect import connect, drop_keyspace, run_keyspace

    url = resolve_url("cassandra")
    connect(url)[0].shutdown()  # skips (or fails under POLYPLAN_REQUIRE) with its reason when nothing answers
    cluster = cassandra_cluster(url, row_factory=dict_factory, request_timeout=30)
    session = cluster.connect()
    keyspace = run_keyspace()
    try:
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        session.execute(f"CREATE TABLE {keyspace}.items (id text PRIMARY KEY, sku text, title text, stock int)")
        for statement in batch.outbox_ddl(keyspace):
            session.execute(statement)
        yield CassandraRecords(session, keyspace, {})
    finally:
        drop_keyspace(session, keyspace)
        cluster.shutdown()


@pytest.mark.cassandra
@pytest.mark.opensearch
def test_cassandra_record_and_event_in_one_logged_batch_relayed_by_bucket(
    cassandra_records: CassandraRecords, index: Index
) -> None:
    records = cassandra_records
    for number in range(6):
        records.put(number, _item(number, number))
    records.put(1, _item(1, 10))
    records.delete(2)
    assert batch.outbox_lag(records.session, records.keyspace)[0] == 8

    def crash(_: Any) -> None:
        raise RuntimeError("killed between applying and deleting")

    with pytest.raises(RuntimeError):
        batch.relay_buckets(records.session, records.keyspace, index.apply, after_apply=crash)
    assert batch.outbox_lag(records.session, records.keyspace)[0] == 8  # applied, still pending: replayed below
    records.session.execute(  # an event of an entity with no projection
        batch._statements(records.session, records.keyspace)["insert"],
        (batch.bucket_of("g1"), __import__("uuid").uuid1(), "Ghost", "insert", "g1", "{}"),
    )
    lines: list[str] = []
    handled = batch.relay_forever(records.session, records.keyspace, index.apply, once=True, report=lines.append)
    assert handled == 9
    assert batch.outbox_lag(records.session, records.keyspace) == (0, 0.0)
    parked = list(records.session.execute(f"SELECT key, error FROM {records.keyspace}.{batch.PARKED}"))
    assert parked == [{"key": "g1", "error": "no projection of entity 'Ghost'"}]
    assert lines[-1].startswith("relay: caught up after 9 events; pending 0, lag 0.000 s;")
    found = records.records()
    assert _compare(index, found, records.versions) == ([], [], [])


@pytest.mark.cassandra
@pytest.mark.opensearch
def test_cassandra_relay_killed_at_random_leaves_index_equal_to_the_record(
    cassandra_records: CassandraRecords, index: Index
) -> None:
    records = cassandra_records

    def write(local: random.Random, number: int) -> None:
        if local.random() < 0.8:
            records.put(number, _item(number, local.randrange(1000)))
        else:
            records.delete(number)
        time.sleep(0.01)  # a write rate the relay keeps up with on a loaded host (it drains the rest after)

    stop, threads = _writers(write, count=2)
    command = [
        sys.executable,
        str(WORKER),
        "cassandra",
        resolve_url("cassandra"),
        records.keyspace,
        index.url,
        index.name,
    ]
    try:
        kills, after_batch, two_at_once = kill_relays(command, 20, random.Random(15))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    last = drain(command)
    found = records.records()
    lost, stale, extra = _compare(index, found, records.versions)
    pending, _ = batch.outbox_lag(records.session, records.keyspace)
    print(
        f"\nCassandra fault run: {kills} SIGKILLs ({after_batch} of 20 after a batch), two relays at once for "
        f"{two_at_once:.1f} s; {len(found)} rows, {pending} pending; {len(lost)} lost, "
        f"{len(stale)} stale, {len(extra)} extra\n{last}"
    )
    assert kills >= 20 and after_batch >= 15
    assert pending == 0
    assert (lost, stale, extra) == ([], [], [])

"""`polyplan scaffold`, the search projection (issue 15): the relay applies outbox events to the
plan's search index with external versioning (the event id), parks what it cannot apply, and the
generated search reads run the plan's templates; then the fault run: writers insert, update and
delete under load while the relay is SIGKILLed at random points 20+ times (a second relay running
beside it part of the time), and afterwards the index equals the system of record exactly and the
cache never served an answer older than its staleness bound. Real PostgreSQL, Redis and OpenSearch;
never skipped under POLYPLAN_REQUIRE."""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold_files
from polyplan.scaffold.runtime import Event
from polyplan.scaffold.search_runtime import (
    SearchRetry,
    SearchTarget,
    page_of,
    search_actions,
    search_document,
    search_outcome,
)
from polyplan.stores.cache.connect import connect as redis_connect
from polyplan.stores.cache.connect import scratch_prefix
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import scaffolded

SHOP = ROOT / "scenarios" / "shop.yaml"
APP = "shopfault"
# The shop model as a user might adapt it: its own name, OpenSearch (the engine that runs here), and
# products that are also added and dropped, so the index sees inserts, updates and deletes.
WRITES = (
    "  - {name: add_product, entity: Product, kind: insert, rate: 5}\n"
    "  - {name: drop_product, entity: Product, kind: delete, rate: 2}\n"
)


def fault_model(folder: Path) -> Path:
    """The adapted shop model, written to `folder`."""
    text = SHOP.read_text(encoding="utf-8").replace("name: shop\n", f"name: {APP}\n", 1)
    text = text.replace("options:\n", "engines: {search: opensearch}\noptions:\n", 1)
    text = text.replace("write_patterns:\n", "write_patterns:\n" + WRITES, 1)
    model = folder / f"{APP}.yaml"
    model.write_text(text, encoding="utf-8")
    return model


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, ModuleType]]:
    """(model, package folder, package): the adapted shop scaffolded and importable as `shopfault`."""
    root = tmp_path_factory.mktemp("scaffold_search")
    model = fault_model(root)
    folder = root / "out"
    with scaffolded(model, folder):
        yield model, folder, importlib.import_module(APP)


# --- pure: events → bulk actions → outcome -------------------------------------------------------

TARGET = SearchTarget(
    "item",
    ("id",),
    (
        ("id", (("", "id", "uuid"),)),
        ("price", (("", "price", "decimal"),)),
        ("size", (("w", "size_w", "integer"), ("h", "size_h", "integer"))),
    ),
)


def _event(event_id: int, before: dict[str, Any] | None, after: dict[str, Any] | None, entity: str = "Item") -> Event:
    dump = json.dumps
    return Event(
        event_id, entity, "x", None if before is None else dump(before), None if after is None else dump(after)
    )


def test_events_become_versioned_bulk_actions() -> None:
    row = {"id": "a", "price": "12.50", "size_w": 3, "size_h": None}
    assert search_document(TARGET, row) == {"id": "a", "price": 12.5, "size": {"w": 3, "h": None}}
    assert search_document(TARGET, {"id": "a", "price": None})["size"] is None  # no column set: null object
    events = [
        _event(7, None, row),
        _event(8, row, None),
        _event(9, row, {**row, "id": "b"}),  # the key changed: the old document goes
        _event(10, None, row, entity="Other"),  # not indexed: no action
    ]
    actions = search_actions({"Item": TARGET}, events, prefix="t_")
    assert [(i, a["_op_type"], a["_id"], a["version"]) for i, a in actions] == [
        (7, "index", "a", 7),
        (8, "delete", "a", 8),
        (9, "delete", "a", 9),
        (9, "index", "b", 9),
    ]
    assert {a["_index"] for _, a in actions} == {"t_item"}
    assert {a["version_type"] for _, a in actions} == {"external"}


def test_bulk_outcome_counts_conflicts_as_success_and_parks_rejections() -> None:
    actions = [(1, {"_op_type": "index", "_id": "a"}), (2, {"_op_type": "delete", "_id": "b"})]
    actions += [(3, {"_op_type": "index", "_id": "c"}), (4, {"_op_type": "index", "_id": "d"})]
    results = [
        (True, {"index": {"status": 201}}),
        (False, {"delete": {"status": 404, "result": "not_found"}}),
        (False, {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}}),
        (False, {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad stock"}}}),
    ]
    outcome = search_outcome(actions, results)
    assert (outcome.applied, outcome.newer) == (2, 1)
    assert outcome.parked == {4: "search index refused (400): mapper_parsing_exception: bad stock"}
    with pytest.raises(SearchRetry, match="429"):
        search_outcome(actions[:1], [(False, {"index": {"status": 429, "error": "too many requests"}})])


def test_relay_metrics_rate_and_lag_percentiles() -> None:
    from polyplan.scaffold.relay_metrics import Metrics

    metrics = Metrics(window=100, started=time.monotonic() - 2.0)
    metrics.record([i / 100 for i in range(1, 101)])  # 0.01 … 1.00 s
    metrics.record([5.0])  # the window keeps the latest 100: 0.02 … 1.00 and 5.0
    assert metrics.events == 101 and len(metrics.lags) == 100
    assert (metrics.percentile(0.5), metrics.percentile(0.99), metrics.percentile(1.0)) == (0.51, 1.0, 5.0)
    rate, p50, p99 = re.fullmatch(
        r"pending 0, lag 0.000 s; ([\d.]+) events/s, lag p50 ([\d.]+) p99 ([\d.]+) s", metrics.summary()
    ).groups()
    assert 40 < float(rate) <= 50.5 and (p50, p99) == ("0.510", "1.000")


def test_search_response_becomes_typed_page() -> None:
    response = {
        "hits": {"total": {"value": 3}, "hits": [{"_id": "a", "_score": 1.5, "_source": {"price": 2.1}}]},
        "aggregations": {"facet_currency": {"buckets": [{"key": "EUR", "doc_count": 2}]}},
    }
    page = page_of(response, lambda hit: (hit["_id"], Decimal(str(hit["_source"]["price"]))), ("currency",))
    assert page.hits == [("a", Decimal("2.1"))] and page.total == 3 and page.facets == {"currency": [("EUR", 2)]}


def test_search_package_is_deterministic_and_names_the_plans_indexes(tmp_path: Path) -> None:
    plan = plan_file(fault_model(tmp_path))
    files = scaffold_files(plan)
    assert files == scaffold_files(plan_file(fault_model(tmp_path)))
    search = files[f"{APP}/search.py"]
    queries = json.loads(_plan_output(plan)["opensearch/queries.json"])
    template = queries["indexes"]["product"]["patterns"]["search_products"]["source"]
    assert json.dumps(template) in search  # the plan's template, byte for byte
    assert "'product': ['product-000001'" in search
    assert f'SEARCH_URL = "{APP.upper()}_SEARCH_URL"' in files[f"{APP}/settings.py"]


def _plan_output(plan: Any) -> dict[str, str]:
    from polyplan.pipeline import render

    return render(plan)[0]


# --- on the real stores --------------------------------------------------------------------------


@dataclass
class Run:
    """The stores of one test run: a scratch database, Redis prefix and index prefix."""

    engine: sa.Engine
    url: str
    redis_url: str
    search_url: str
    key_prefix: str
    index_prefix: str
    stores: Any
    client: Any

    def env(self, folder: Path) -> dict[str, str]:
        """The relay's environment: the package's settings point at this run's stores."""
        up = APP.upper()
        return {
            **os.environ,
            "PYTHONPATH": str(folder),
            "PYTHONUNBUFFERED": "1",
            f"{up}_DATABASE_URL": self.url,
            f"{up}_REDIS_URL": self.redis_url,
            f"{up}_KEY_PREFIX": self.key_prefix,
            f"{up}_SEARCH_URL": self.search_url,
            f"{up}_INDEX_PREFIX": self.index_prefix,
        }


@pytest.fixture
def run(app: tuple[Path, Path, ModuleType]) -> Iterator[Run]:
    """Empty planned tables on a scratch PostgreSQL database, with the outbox and the index installed."""
    from polyplan.stores.relational.design import design_schema
    from polyplan.stores.relational.render import build_engines
    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, run_prefix

    model, _, _ = app
    settings = importlib.import_module(f"{APP}.settings")
    relay = importlib.import_module(f"{APP}.relay")
    search = importlib.import_module(f"{APP}.search")
    redis_url, search_url = resolve_url("redis"), resolve_url("opensearch")
    client = connect(search_url)
    cache = redis_connect(redis_url)
    index_prefix = run_prefix()
    plan = plan_file(model)
    metadata = build_engines(plan, design_schema(plan)[0])["postgresql"].rendered.metadata
    try:
        with scratch_database(resolve_url("postgresql")) as engine, scratch_prefix(cache) as key_prefix:
            metadata.create_all(engine)
            stores = settings.Stores(engine, cache, key_prefix, client, index_prefix)
            relay.install_outbox(stores)
            search.install_search(stores)
            url = engine.url.render_as_string(hide_password=False)
            yield Run(engine, url, redis_url, search_url, key_prefix, index_prefix, stores, client)
    finally:
        drop_prefix(client, index_prefix)
        client.close()


def new_product(rng: random.Random, models: ModuleType) -> Any:
    """A Product row the writers insert (active, so the search pattern finds it by title)."""
    word = rng.choice(["anchor", "harbor", "maple", "ember", "willow", "quartz"])
    return models.Product(
        id=uuid.uuid4(),
        sku=f"sku-{uuid.uuid4().hex[:12]}",
        title=f"{word} {rng.choice(['lamp', 'chair', 'mug'])}",
        description="a thing we sell",
        price=Decimal(rng.randrange(100, 99999)) / 100,
        currency=rng.choice(["EUR", "GBP", "USD"]),
        status="active",
        stock=rng.randrange(0, 500),
        attributes={"colour": word},
        dimensions_width_mm=rng.randrange(1, 900),
        dimensions_height_mm=None,
        dimensions_depth_mm=rng.randrange(1, 900),
        tags=[word],
        updated_at=datetime.now(UTC),
    )


def index_state(run: Run) -> dict[str, tuple[int, dict[str, Any]]]:
    """Document id → (version, _source) of every document behind the write alias, after a refresh."""
    alias = run.index_prefix + "product"
    run.client.indices.refresh(index=alias)
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    body = {"query": {"match_all": {}}, "version": True, "size": 1000, "sort": ["_doc"]}
    page = run.client.search(index=alias, body=body, params={"scroll": "1m"})
    while page["hits"]["hits"]:
        for hit in page["hits"]["hits"]:
            found[hit["_id"]] = (int(hit["_version"]), hit["_source"])
        page = run.client.scroll(body={"scroll_id": page["_scroll_id"], "scroll": "1m"})
    run.client.clear_scroll(body={"scroll_id": page["_scroll_id"]})
    return found


@dataclass
class Comparison:
    """The index against the system of record."""

    rows: int
    documents: int
    lost: list[str] = field(default_factory=list)  # a row with no document
    stale: list[str] = field(default_factory=list)  # a document at another version or with other content
    extra: list[str] = field(default_factory=list)  # a document whose row is gone


def compare(run: Run) -> Comparison:
    """Every row has its document at the version of the row's last event, with the row's content,
    and no document is left of a deleted row."""
    search = importlib.import_module(f"{APP}.search")
    models = importlib.import_module(f"{APP}.models")
    target = search.TARGETS["Product"]
    with run.engine.connect() as connection:
        rows = {
            str(row["id"]): models.Product.from_mapping(row)
            for row in connection.execute(sa.text("SELECT * FROM product")).mappings()
        }
        last: dict[str, int] = {}
        for event_id, before, after in connection.execute(
            sa.text("SELECT id, before, after FROM polyplan_outbox WHERE entity = 'Product' ORDER BY id")
        ):
            last[json.loads(after or before)["id"]] = int(event_id)
    documents = index_state(run)
    result = Comparison(len(rows), len(documents))
    for key, row in rows.items():
        if key not in documents:
            result.lost.append(key)
            continue
        version, source = documents[key]
        if version != last.get(key) or source != search_document(target, json.loads(row.to_json())):
            result.stale.append(key)
    result.extra = sorted(set(documents) - set(rows))
    return result


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.opensearch
def test_relay_indexes_at_the_event_version_and_parks_what_it_cannot_apply(
    app: tuple[Path, Path, ModuleType], run: Run
) -> None:
    writes = importlib.import_module(f"{APP}.writes")
    models = importlib.import_module(f"{APP}.models")
    relay = importlib.import_module(f"{APP}.relay")
    search = importlib.import_module(f"{APP}.search")
    rng = random.Random(15)
    rows = [writes.add_product(run.stores, new_product(rng, models)) for _ in range(6)]
    writes.update_stock(run.stores, rows[0].id, 1)
    writes.update_stock(run.stores, rows[0].id, 2)
    writes.drop_product(run.stores, rows[1].id)
    with run.engine.begin() as connection:
        # An event for an entity the package knows nothing of, and a document the mapping refuses
        # (stock is an integer field): both parked with their reason, neither blocks the others.
        connection.execute(sa.text("INSERT INTO polyplan_outbox (entity, op, after) VALUES ('Nope', 'insert', '{}')"))
        bad = json.loads(rows[2].to_json()) | {"id": str(uuid.uuid4()), "sku": "sku-bad", "stock": "many"}
        connection.execute(
            sa.text("INSERT INTO polyplan_outbox (entity, op, after) VALUES ('Product', 'insert', :after)"),
            {"after": json.dumps(bad)},
        )
    writes.update_stock(run.stores, rows[3].id, 9)
    assert relay.run(run.stores, batch=4, once=True) == 12
    # Replaying every event (a relay killed before it marked them) changes nothing: each is refused
    # as older or equal (409) and counted as done.
    with run.engine.begin() as connection:
        connection.execute(sa.text("UPDATE polyplan_outbox SET done_at = NULL, error = NULL"))
    assert relay.run(run.stores, batch=50, once=True) == 12
    with run.engine.connect() as connection:
        parked = dict(
            connection.execute(sa.text("SELECT entity, error FROM polyplan_outbox WHERE error IS NOT NULL")).all()
        )
    assert parked["Nope"] == "no projection of entity 'Nope' in this package"
    assert parked["Product"].startswith("search index refused (400): mapper_parsing_exception")
    with run.engine.connect() as connection:
        # The outbox is the dead-letter table: a parked event keeps its payload, is marked handled
        # (so the relay never picks it again), and the events after it in its batch were applied.
        dead = connection.execute(sa.text("SELECT id, after, done_at FROM polyplan_outbox WHERE entity = 'Nope'")).one()
        later = connection.execute(
            sa.text("SELECT count(*) FROM polyplan_outbox WHERE id > :id AND done_at IS NOT NULL AND error IS NULL"),
            {"id": dead.id},
        ).scalar_one()
    assert dead.after == "{}" and dead.done_at is not None and later == 1
    # The checker reports the dead letters as their own class, the index itself as equal to the rows.
    findings = importlib.import_module(f"{APP}.check").check(run.stores)
    assert (findings.lost, findings.stale, findings.extra, findings.pending) == ([], [], [], 0)
    assert [line.split(":")[0] for line in findings.lines()] == ["parked"]
    assert findings.lines()[0].startswith(f"parked: 2 dead-letter events (event {dead.id} (Nope): no projection")
    outcome = compare(run)
    assert (outcome.rows, outcome.documents, outcome.lost, outcome.stale, outcome.extra) == (5, 5, [], [], [])
    version, _ = index_state(run)[str(rows[0].id)]
    with run.engine.connect() as connection:
        assert (
            version
            == connection.execute(
                sa.text("SELECT max(id) FROM polyplan_outbox WHERE op = 'update' AND after LIKE :id"),
                {"id": f"%{rows[0].id}%"},
            ).scalar_one()
        )
    # The generated read runs the plan's template: full text on the title, active only, currency facet.
    word = rows[0].title.split()[0]
    page = search.search_products(run.stores, word)
    expected = {str(r.id) for r in rows if r.title.split()[0] == word and r.id != rows[1].id}
    assert {hit.doc_id for hit in page.hits} == expected and page.total == len(expected)
    hit = next(h for h in page.hits if h.doc_id == str(rows[0].id))
    assert (hit.id, hit.stock, hit.price, hit.tags) == (rows[0].id, 2, rows[0].price, rows[0].tags)
    assert sum(count for _, count in page.facets["currency"]) == len(expected)


def _scrape(port: int) -> dict[str, float]:
    """The relay's /metrics, metric name → value (one relay label each)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode("utf-8")
    found = re.findall(r"^(polyplan_relay_\w+)\{relay=\"(.*?)\"\} (\S+)$", text, re.MULTILINE)
    assert {relay for _, relay, _ in found} == {f"{APP}.relay"}
    return {name: float(value) for name, _, value in found}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.opensearch
def test_relay_command_serves_its_metrics_over_http(app: tuple[Path, Path, ModuleType], run: Run) -> None:
    """`python -m <app>.relay --metrics-port P` serves doc_relay's metric names (relay_metrics.py,
    one implementation), labelled with its name; scraped while it runs, the counters equal what
    the outbox holds: events handled, the dead letter parked, nothing pending, no lag."""
    _, folder, _ = app
    writes = importlib.import_module(f"{APP}.writes")
    models = importlib.import_module(f"{APP}.models")
    rng = random.Random(16)
    rows = [writes.add_product(run.stores, new_product(rng, models)) for _ in range(4)]
    writes.update_stock(run.stores, rows[0].id, 3)
    with run.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO polyplan_outbox (entity, op, after) VALUES ('Nope', 'insert', '{}')"))

    def outbox() -> tuple[int, int, int]:
        """(handled, parked, pending) events in the outbox table."""
        with run.engine.connect() as connection:
            handled, parked, pending = connection.execute(
                sa.text("SELECT count(done_at), count(error), count(*) - count(done_at) FROM polyplan_outbox")
            ).one()
        return int(handled), int(parked), int(pending)

    def settled(port: int, events: int) -> dict[str, float]:
        deadline = time.monotonic() + 120
        while True:
            try:
                metrics = _scrape(port)
            except OSError:  # not serving yet
                metrics = {}
            if metrics.get("polyplan_relay_events_total") == events and metrics["polyplan_relay_pending"] == 0:
                return metrics
            assert time.monotonic() < deadline, f"the relay's metrics never reached {events} events: {metrics}"
            time.sleep(0.2)

    port = _free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", f"{APP}.relay", "--metrics-port", str(port)],
        env=run.env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        metrics = settled(port, 6)
        assert outbox() == (6, 1, 0)
        assert metrics["polyplan_relay_parked_total"] == 1 and metrics["polyplan_relay_lag_seconds"] == 0.0
        assert metrics["polyplan_relay_lag_p99_seconds"] > 0 and metrics["polyplan_relay_events_per_second"] > 0
        for stock in (5, 6, 7):  # written while it runs: relayed and counted
            writes.update_stock(run.stores, rows[1].id, stock)
        metrics = settled(port, 9)
        assert outbox() == (9, 1, 0) and metrics["polyplan_relay_parked_total"] == 1
    finally:
        relay.send_signal(signal.SIGINT)
        output, _ = relay.communicate(timeout=60)
    assert relay.returncode == 130, output
    assert "relay: applied" in output and "pending 0, lag 0.000 s" in output
    assert compare(run).lost == []


def test_unreachable_search_is_one_line(app: tuple[Path, Path, ModuleType]) -> None:
    from opensearchpy import OpenSearch

    settings = importlib.import_module(f"{APP}.settings")
    search = importlib.import_module(f"{APP}.search")
    runtime = importlib.import_module(f"{APP}.runtime")
    engine = sa.create_engine("sqlite://")
    closed = settings.Stores(engine, None, "", OpenSearch("http://127.0.0.1:9", timeout=2, max_retries=0))
    with pytest.raises(runtime.StoreUnreachable) as caught:
        search.search_products(closed, "lamp")
    assert str(caught.value).startswith("search_products: OpenSearch is not reachable (ConnectionError: ")
    assert "\n" not in str(caught.value)
    with pytest.raises(
        settings.SettingsError, match=f"^search_products needs OpenSearch: set {APP.upper()}_SEARCH_URL to its URL$"
    ):
        search.search_products(settings.Stores(engine), "lamp")


def test_relay_without_the_search_url_refuses_in_one_line(app: tuple[Path, Path, ModuleType], tmp_path: Path) -> None:
    _, folder, _ = app
    env = {k: v for k, v in os.environ.items() if not k.startswith(APP.upper())}
    env |= {"PYTHONPATH": str(folder), f"{APP.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    done = subprocess.run(
        [sys.executable, "-m", f"{APP}.relay", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"{APP}.relay: the relay needs OpenSearch: set {APP.upper()}_SEARCH_URL to its URL"


# --- the fault run ---------------------------------------------------------------------------------

KILLS = 21
BATCH = 20
WRITERS = 3
STALENESS = 60  # product_by_sku's staleness_seconds in the shop model (and its cache TTL)
# Each relay is the package's relay command (`relay.main`, what `python -m shopfault.relay` runs) in a
# new process forked from one warmed-up interpreter: the imports alone take ~7 s of wall time on a
# loaded 2-core host, which 21 restarts would turn into most of the run. A forked relay connects,
# installs and relays from scratch, like a restarted one; the final drain is `python -m` itself.
ZYGOTE = f"""
import gc, os, signal, sys
from {APP} import relay
gc.freeze()  # the children's collector then leaves the imported objects' pages shared
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they die
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out = os.open(line.strip(), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os._exit(relay.main(["--batch", "{BATCH}"]))
    print(pid, flush=True)
"""


class Relays:
    """Starts relay processes (forked from the zygote) and kills them."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.logs = logs
        self.started = 0

    def start(self) -> tuple[int, Path]:
        """A new relay: its pid and its output file."""
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.started += 1
        log = self.logs / f"relay-{self.started}.log"
        self.zygote.stdin.write(f"{log}\n")
        self.zygote.stdin.flush()
        return int(self.zygote.stdout.readline()), log

    @staticmethod
    def applied(log: Path, timeout: float) -> bool:
        """Wait until the relay writing `log` has applied a batch (False: not within `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log.exists() and "relay: applied" in log.read_text(encoding="utf-8"):
                return True
            time.sleep(0.02)
        return False

    @staticmethod
    def kill(pid: int) -> bool:
        """SIGKILL; True when the relay was still running."""
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def close(self) -> None:
        """Stop the zygote (its children are killed by the test first)."""
        assert self.zygote.stdin is not None
        self.zygote.stdin.close()
        self.zygote.wait(timeout=60)


@dataclass
class Load:
    """What the writers did and what the cache sampler saw."""

    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    skus: list[str] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    samples: int = 0
    stale: int = 0
    oldest_stale: float = 0.0  # seconds since the change a stale answer missed was committed
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(run: Run, load: Load, seed: int, stop: threading.Event) -> None:
    writes = importlib.import_module(f"{APP}.writes")
    models = importlib.import_module(f"{APP}.models")
    rng = random.Random(seed)
    try:
        while not stop.is_set():
            roll = rng.random()
            with load.lock:
                some = rng.choice(load.ids) if load.ids else None
            if roll < 0.4 or some is None:
                row = writes.add_product(run.stores, new_product(rng, models))
                with load.lock:
                    load.inserts += 1
                    load.ids.append(row.id)
                    load.skus.append(row.sku)
            elif roll < 0.85:
                if writes.update_stock(run.stores, some, rng.randrange(0, 1000)) is not None:
                    with load.lock:
                        load.updates += 1
            elif writes.drop_product(run.stores, some) is not None:
                with load.lock:
                    load.deletes += 1
                    load.ids.remove(some)
            time.sleep(0.005)
    except Exception as error:  # reported by the test, which fails on any
        load.errors.append(f"writer {seed}: {type(error).__name__}: {error}")


def _stale_age(run: Run, sku: str, served: str) -> float | None:
    """Seconds since the first change after the served answer committed (None: no such change)."""
    like = f'%"sku":"{sku}"%'
    with run.engine.connect() as connection:
        events = connection.execute(
            sa.text(
                "SELECT after, created_at FROM polyplan_outbox WHERE entity = 'Product' "
                "AND (after LIKE :like OR before LIKE :like) ORDER BY id"
            ),
            {"like": like},
        ).all()
    versions = [i for i, (after, _) in enumerate(events) if after == served]
    if not versions or versions[-1] + 1 >= len(events):
        return None
    superseded = events[versions[-1] + 1].created_at
    return (datetime.now(UTC) - superseded).total_seconds()


def _sampler(run: Run, load: Load, stop: threading.Event) -> None:
    """Read product_by_sku through the cache and from the system of record, and when they differ
    measure how long ago the change the cached answer misses was committed."""
    reads = importlib.import_module(f"{APP}.reads")
    settings = importlib.import_module(f"{APP}.settings")
    truth_stores = settings.Stores(run.engine)
    rng = random.Random(7)
    try:
        while not stop.is_set():
            with load.lock:
                sku = rng.choice(load.skus) if load.skus else None
            if sku is None:
                time.sleep(0.01)
                continue
            served = reads.product_by_sku(run.stores, sku)
            truth = reads.product_by_sku(truth_stores, sku)
            load.samples += 1
            if served != truth and served is not None:
                age = _stale_age(run, sku, served.to_json())
                if age is None:
                    continue  # the row changed between the two reads and the newer one is not logged yet
                load.stale += 1
                load.oldest_stale = max(load.oldest_stale, age)
            time.sleep(0.01)
    except Exception as error:
        load.errors.append(f"sampler: {type(error).__name__}: {error}")


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.opensearch
def test_relay_killed_at_random_under_concurrent_writes_leaves_index_equal_to_the_record(
    app: tuple[Path, Path, ModuleType], run: Run, tmp_path: Path
) -> None:
    """The issue's fault run (see the module docstring); prints its counts."""
    _, folder, _ = app
    env = run.env(folder)
    reads = importlib.import_module(f"{APP}.reads")
    settings = importlib.import_module(f"{APP}.settings")
    rng = random.Random(1515)
    started = time.monotonic()
    load, stop = Load(), threading.Event()
    threads = [threading.Thread(target=_writer, args=(run, load, seed, stop)) for seed in range(WRITERS)]
    threads.append(threading.Thread(target=_sampler, args=(run, load, stop)))
    relays = Relays(env, tmp_path)
    active: list[tuple[int, Path]] = []
    kills = killed_mid_run = 0
    both_seconds = 0.0
    to_first_batch: list[float] = []  # from a relay's turn as the victim to its first applied batch
    for thread in threads:
        thread.start()
    try:
        for step in range(KILLS):
            # Steps 7-13: a second relay runs beside the first, and the older of the two is killed.
            wanted = 2 if 7 <= step < 14 else 1
            while len(active) < wanted:
                active.append(relays.start())
            pid, log = active.pop(0)
            since = time.monotonic()
            # Killed once it has applied at least one batch, at a random moment after that.
            killed_mid_run += relays.applied(log, 30)
            to_first_batch.append(time.monotonic() - since)
            time.sleep(rng.uniform(0.0, 0.3))
            if active:
                both_seconds += time.monotonic() - since
            kills += relays.kill(pid)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        for pid, _ in active:
            relays.kill(pid)
        relays.close()
    assert load.errors == []
    killing = time.monotonic() - started
    # The relay's own command drains what is left and exits.
    drained = subprocess.run(
        [sys.executable, "-m", f"{APP}.relay", "--once", "--batch", "200"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert drained.returncode == 0, drained.stdout + drained.stderr
    with run.engine.connect() as connection:
        events, pending, parked = connection.execute(
            sa.text(
                "SELECT count(*), count(*) FILTER (WHERE done_at IS NULL), count(*) FILTER (WHERE error IS NOT NULL)"
                " FROM polyplan_outbox"
            )
        ).one()
    outcome = compare(run)
    # After the catch-up every cached answer equals the system of record.
    truth_stores = settings.Stores(run.engine)
    checked = random.Random(3).sample(load.skus, min(300, len(load.skus)))
    stale_after = sum(
        reads.product_by_sku(run.stores, sku) != reads.product_by_sku(truth_stores, sku) for sku in checked
    )
    print(
        f"\nfault run: {kills} SIGKILLs ({killed_mid_run} after the victim had applied a batch), two relays at once "
        f"for {both_seconds:.1f} s; writes: {load.inserts} inserts, {load.updates} updates, {load.deletes} deletes; "
        f"{events} outbox events, {pending} pending, {parked} parked; index: {outcome.documents} documents for "
        f"{outcome.rows} rows, {len(outcome.lost)} lost, {len(outcome.stale)} stale, {len(outcome.extra)} extra; "
        f"cache: {load.samples} samples during the run, {load.stale} stale, oldest {load.oldest_stale:.2f} s "
        f"(bound {STALENESS} s), {stale_after} of {len(checked)} stale after the catch-up; {time.monotonic() - started:.0f} s wall "
        f"({killing:.0f} s of kills; a victim's first batch after {sorted(to_first_batch)[len(to_first_batch) // 2]:.2f} s median)"
    )
    assert kills >= 20 and both_seconds > 0
    assert load.inserts and load.updates and load.deletes
    assert (pending, parked) == (0, 0)
    assert (outcome.lost, outcome.stale, outcome.extra) == ([], [], [])
    assert outcome.rows == outcome.documents == load.inserts - load.deletes
    assert load.samples > 0 and load.oldest_stale <= STALENESS
    assert stale_after == 0


def test_scaffold_compose_runs_the_relay_after_its_healthy_stores(tmp_path: Path) -> None:
    """compose.yml of the scaffold (structure only: no Docker here)."""
    import yaml

    from polyplan.emit.compose import bundled_services

    files = scaffold_files(plan_file(fault_model(tmp_path)))
    compose = yaml.safe_load(files["compose.yml"])
    services = compose["services"]
    assert list(services) == ["postgres", "redis", "opensearch", "relay"]
    for name in ("postgres", "redis", "opensearch"):
        assert services[name] == bundled_services()[name] and "healthcheck" in services[name]
    relay = services["relay"]
    assert relay["command"][-1].endswith(f"&& exec python -m {APP}.relay")
    assert relay["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("postgres", "redis", "opensearch")
    }
    up = APP.upper()
    assert relay["environment"] == {
        "PYTHONDONTWRITEBYTECODE": "1",
        f"{up}_DATABASE_URL": "postgresql+psycopg://postgres@postgres:5432/postgres",
        f"{up}_REDIS_URL": "redis://redis:6379/0",
        f"{up}_SEARCH_URL": "http://opensearch:9200",
    }
    # Each URL names a service of this file at the port its container listens on.
    for url in relay["environment"].values():
        if "://" in url:
            host, port = url.split("@")[-1].split("://")[-1].split("/")[0].split(":")
            published = [str(p).rsplit(":", 1)[1] for p in services[host]["ports"]]
            assert port in published, url
    assert relay["volumes"] == [".:/app:ro"] and "-r requirements.txt" in relay["command"][-1]
    assert files["requirements.txt"].splitlines() == [
        "sqlalchemy>=2.1,<3",
        "psycopg[binary]>=3.2,<4",
        "pymysql>=1.1,<2",  # the model's dialects name mysql too: the package has its SQL
        "redis>=5,<9",
        "opensearch-py>=2.6,<4",
    ]
    # A SQLite-only application needs no server: no compose file.
    text = fault_model(tmp_path).read_text(encoding="utf-8")
    sqlite = tmp_path / "lite.yaml"
    sqlite.write_text(
        text.replace("relational_dialects: [postgresql, mysql, sqlite]", "relational_dialects: [sqlite]").replace(
            "engines: {search: opensearch}", "engines: {search: opensearch, relational: sqlite}"
        ),
        encoding="utf-8",
    )
    lite = scaffold_files(plan_file(sqlite))
    assert "compose.yml" not in lite and "requirements.txt" in lite

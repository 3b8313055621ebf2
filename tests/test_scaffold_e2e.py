"""`polyplan scaffold`, the end-to-end example (issue 15): a scaffolded application on the real
PostgreSQL, Redis and OpenSearch runs its load generator (the plan's patterns at their relative
rates) while its relay runs, the relay drains the outbox, and its checker finds every projection
equal to the system of record: 0 lost, 0 stale, 0 extra. For a bundled scenario (the shop, on
OpenSearch) and for a model a user wrote (tests/models/library.yaml). Then the checker is shown to
see what it claims to (a document dropped, a row changed behind the outbox, a stale cached answer),
and a store that does not answer is one line and exit 2. Never skipped under POLYPLAN_REQUIRE."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.scaffold import scaffold_files, write_scaffold
from polyplan.scaffold.e2e_runtime import EntitySpec as Entity
from polyplan.scaffold.e2e_runtime import (
    Findings,
    Load,
    NoValue,
    ReadSpec,
    answer_key,
    compare_index,
    key_pattern,
    key_values,
    new_row,
    param_value,
)
from polyplan.stores.cache.connect import connect as redis_connect
from polyplan.stores.cache.connect import scratch_prefix
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT, planned
from tests.scaffold_support import ScaffoldApp, app_env, scratch_index_prefix, seed_model

SHOP = ROOT / "scenarios" / "shop.yaml"
LIBRARY = ROOT / "tests" / "models" / "library.yaml"


def shop_model(folder: Path) -> Path:
    """The bundled shop as it is, named `shope2e` and on OpenSearch (the search engine that runs here)."""
    text = SHOP.read_text(encoding="utf-8").replace("name: shop\n", "name: shope2e\n", 1)
    model = folder / "shope2e.yaml"
    model.write_text(text.replace("options:\n", "engines: {search: opensearch}\noptions:\n", 1), encoding="utf-8")
    return model


# --- pure: the load's parameters and rows, the checker's key parsing and comparison -------------


def test_parameters_come_from_a_stored_row_so_the_row_matches() -> None:
    rng = random.Random(1)
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    row = {"sku": "sku-1", "tags": ["red", "blue"], "placed_at": moment, "title": "maple lamp", "specs": {"b": 3}}
    assert param_value("eq", "string", "sku", row, rng) == "sku-1"
    assert param_value("from", "timestamptz", "placed_at", row, rng) == moment - timedelta(days=1)
    assert param_value("to", "timestamptz", "placed_at", row, rng) == moment + timedelta(days=1)
    assert param_value("contains", "string", "tags", row, rng) in ("red", "blue")
    assert param_value("fulltext", "string", "title", row, rng) in ("maple", "lamp")
    assert param_value("prefix", "string", "sku", row, rng) == "sku"
    assert param_value("eq", "integer", "specs#b", row, rng) == 3
    assert param_value("in", "string", "sku", row, rng) == ["sku-1"]
    # A range over a relationship path is left open: every related row is inside.
    assert param_value("above", "timestamptz", "order.placed_at", row, rng) == datetime(1970, 1, 1, tzinfo=UTC)
    for column, op in (("order.number", "eq"), ("missing", "eq")):
        with pytest.raises(NoValue):
            param_value(op, "string", column, row, rng)
    with pytest.raises(NoValue):
        param_value("contains", "string", "tags", {"tags": []}, rng)


def test_an_inserted_row_is_a_stored_row_with_a_new_key_and_new_unique_values() -> None:
    entity = Entity("Customer", object, "", (("id", "uuid"),), (("email", "string", 30), ("n", "integer", None)))
    stored = {"id": uuid.uuid4(), "email": "anna@example.org", "n": 5, "country": "DE", "parent": "p-1"}
    copies = [new_row(entity, stored, random.Random(i)) for i in range(50)]
    assert len({c["id"] for c in copies} | {stored["id"]}) == 51
    assert len({c["email"] for c in copies}) == 50
    for copy in copies:
        assert copy["country"] == "DE" and copy["parent"] == "p-1"  # references and checks hold as stored
        assert re.fullmatch(r"[a-z0-9]+@example\.org", copy["email"]) and len(copy["email"]) <= 30


def test_the_load_calls_patterns_at_their_relative_rates() -> None:
    calls: list[str] = []

    def fast(stores: object, sku: str) -> list[str]:
        calls.append("fast")
        return [sku]

    def slow(stores: object, sku: str) -> list[str]:
        calls.append("slow")
        return []

    entity = Entity("Product", object, "", (("sku", "string"),), ())
    param = (("sku", "sku", "eq", "string"),)
    load = Load(None, {"Product": entity}, [ReadSpec("fast", "Product", 9, "database", fast, param)], [])
    load.specs.append(ReadSpec("slow", "Product", 1, "database", slow, param))
    load.weights.append(1)
    load.stats["slow"] = type(load.stats["fast"])()
    load.pool.add("Product", ["sku"], {"sku": "a"})
    elapsed = load.run(seconds=0.5, rate=0, threads=3)
    share = calls.count("fast") / len(calls)
    assert len(calls) > 200 and 0.85 < share < 0.95, (len(calls), share)
    lines = load.report(elapsed)
    assert lines[0].startswith("fast (read, rate 9): ") and " 0 errors, 0 empty, " in lines[0]
    assert re.search(r"slow \(read, rate 1\): (\d+) calls, .*, 0 errors, \1 empty, ", lines[1])


def test_cached_keys_parse_back_to_the_reads_parameters() -> None:
    from polyplan.scaffold.runtime import fill, key_part

    template = "shop:cache:order:<number>:<placed_at>:<paid>"
    moment = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    key = "t1:" + fill(
        template,
        {"number": key_part("string", "A:1/ü"), "placed_at": key_part("timestamptz", moment), "paid": "1"},
    )
    glob, parse = key_pattern(template, "t1:")
    assert glob == "t1:shop:cache:order:*:*:*"
    found = parse.match(key)
    assert found is not None and parse.match(key + "|lock") is None
    parts = [("number", "number", "string"), ("placed_at", "at", "timestamptz"), ("paid", "paid", "boolean")]
    assert key_values(found, parts) == {"number": "A:1/ü", "at": moment, "paid": True}
    row = {"number": "A:1/ü", "placed_at": moment.isoformat(), "paid": True}
    columns = [("number", "number", "string"), ("placed_at", "placed_at", "timestamptz"), ("paid", "paid", "boolean")]
    assert "t1:" + (answer_key(template, columns, row) or "") == key


def test_index_comparison_names_lost_stale_and_extra_documents() -> None:
    from polyplan.scaffold.e2e_runtime import Change

    now = datetime.now(UTC)
    events = [
        Change(1, "Item", None, {"id": "a", "v": 1}, now, True, None),
        Change(2, "Item", None, {"id": "b", "v": 1}, now, True, None),
        Change(3, "Item", {"id": "a", "v": 1}, {"id": "a", "v": 2}, now, True, None),
        Change(4, "Item", None, {"id": "c", "v": 1}, now, True, None),
    ]
    rows = {"a": {"id": "a", "v": 2}, "b": {"id": "b", "v": 1}, "c": {"id": "c", "v": 1}}
    documents = {"a": (1, {"id": "a", "v": 1}), "b": (2, {"id": "b", "v": 0}), "z": (9, {})}
    findings = Findings()
    compare_index(findings, "Item", rows, events, documents, dict, lambda row: str(row["id"]))
    assert findings.lost == ["Item c"] and findings.extra == ["Item z"]
    assert [s.split(" (")[0] for s in findings.stale] == ["Item a", "Item b"]  # a: an older version; b: other content
    assert [line.split(":")[0] for line in findings.lines()] == ["lost", "stale", "extra"]
    assert findings.summary().startswith("checked 3 Item documents: 1 lost, 2 stale, 1 extra")


def test_every_package_has_its_load_generator_and_checker() -> None:
    files = scaffold_files(planned(LIBRARY))
    load, check = files["library/load.py"], files["library/check.py"]
    # The rates are the model's, and a search pattern runs from its index (the plan's choice).
    assert "ReadSpec('search_books', 'Book', 150.0, 'search', search.search_books" in load
    assert "ReadSpec('book_by_isbn', 'Book', 900.0, 'cache', reads.book_by_isbn" in load
    assert "WriteSpec('set_copies', 'Book', 25.0, 'update', writes.set_copies" in load
    assert "CachedRead('book_by_isbn', 'Book', 'library:cache:book:isbn:<isbn>', 60," in check
    assert "from library.runtime import" in files["library/e2e_runtime.py"]
    assert (
        "import polyplan" not in files["library/e2e_runtime.py"]
        and "\nfrom polyplan" not in files["library/e2e_runtime.py"]
    )


# --- on the real stores --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """A stand-in for a package's row class: what compare_cache calls on an answer."""

    sku: str
    stock: int

    @classmethod
    def from_json(cls, text: str) -> _Row:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps({"sku": self.sku, "stock": self.stock})


@pytest.mark.redis
def test_cached_answers_are_compared_with_the_record_within_their_staleness_bound() -> None:
    """On the real Redis: an answer equal to the record passes; one that missed a change committed
    after its fill and within the TTL is within the bound; one that missed an older change is stale;
    one whose row is gone is extra; a lock key is not an answer."""
    from polyplan.scaffold.e2e_runtime import CachedRead, Change, compare_cache

    record = {"same": _Row("same", 1), "racing": _Row("racing", 2), "old": _Row("old", 3)}
    read = CachedRead(
        "product_by_sku",
        "Product",
        "shop:cache:product:sku:<sku>",
        60,
        (("sku", "sku", "sku", "string"),),
        True,
        lambda stores, sku: record.get(sku),
        _Row,
    )
    client = redis_connect(resolve_url("redis"))
    now = datetime.now(UTC)
    with scratch_prefix(client) as prefix:
        for sku, stock, age in (("same", 1, 5), ("racing", 1, 5), ("old", 1, 5), ("gone", 1, 5)):
            # Filled `age` seconds ago: its TTL has run down by as much.
            client.set(f"{prefix}shop:cache:product:sku:{sku}", "0|" + _Row(sku, stock).to_json(), px=(60 - age) * 1000)
        client.set(f"{prefix}shop:cache:product:sku:same|lock", "token", px=2000)
        events = [
            Change(1, "Product", None, {"sku": "racing", "stock": 2}, now - timedelta(seconds=1), True, None),
            Change(2, "Product", None, {"sku": "old", "stock": 3}, now - timedelta(seconds=30), True, None),
        ]
        findings = Findings()
        compare_cache(findings, client, prefix, read, None, events)
    assert findings.checked["cached answers"] == 4 and findings.within_bound == 1
    assert findings.stale == [f"product_by_sku {prefix}shop:cache:product:sku:old"]
    assert findings.extra == [f"product_by_sku {prefix}shop:cache:product:sku:gone"]


@dataclass
class App(ScaffoldApp):
    """A scaffolded application on this run's stores: its database and search client too."""

    engine: sa.Engine
    search: object


@pytest.fixture(params=["shope2e", "library"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """The shop scenario or the user's library model, scaffolded, its tables seeded by `polyplan seed`
    (rows written without outbox events: the load's --backfill gives the index its first documents)."""
    model = shop_model(tmp_path) if request.param == "shope2e" else LIBRARY
    folder = tmp_path / "app"
    write_scaffold(model, folder)
    cache = redis_connect(resolve_url("redis"))
    with (
        scratch_index_prefix() as (client, index_prefix),
        scratch_database(resolve_url("postgresql")) as engine,
        scratch_prefix(cache) as key_prefix,
    ):
        url = engine.url.render_as_string(hide_password=False)
        seed_model(model, "postgresql", url, 60, timeout=600)
        env = app_env(
            request.param,
            folder,
            DATABASE_URL=url,
            REDIS_URL=resolve_url("redis"),
            KEY_PREFIX=key_prefix,
            SEARCH_URL=resolve_url("opensearch"),
            INDEX_PREFIX=index_prefix,
        )
        yield App(request.param, folder, env, engine, client)


def _load_lines(output: str) -> dict[str, dict[str, float]]:
    """Pattern → its figures, from the load generator's report."""
    found: dict[str, dict[str, float]] = {}
    for line in output.splitlines():
        parsed = re.match(
            r"(\w+) \((\w+), rate [\d.]+\): (\d+) calls, ([\d.]+)/s, (\d+) errors, (\d+) empty, (\d+) skipped, "
            r"p50 ([\d.]+) ms, p99 ([\d.]+) ms",
            line,
        )
        if parsed:
            names = ("calls", "per_second", "errors", "empty", "skipped", "p50", "p99")
            found[parsed.group(1)] = dict(zip(names, map(float, parsed.groups()[2:]), strict=True))
    return found


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.opensearch
def test_load_relay_and_check_find_every_projection_equal_to_the_record(app: App) -> None:
    relay = app.start("relay", "--batch", "100")
    try:
        loaded = app.command("load", "--seconds", "20", "--threads", "4", "--backfill")
    finally:
        relay.send_signal(signal.SIGINT)
        relay_output = relay.communicate(timeout=120)[0]
    loaded_at = time.monotonic()
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    # The relay ran beside the load from the start (both create the outbox if missing: no race).
    assert "Traceback" not in relay_output and "relay: applied" in relay_output, relay_output
    print(f"\n{app.package} load:\n{loaded.stdout}relay (last line): {relay_output.strip().splitlines()[-1:]}")
    figures = _load_lines(loaded.stdout)
    assert re.search(r"^load: backfilled [1-9]\d* outbox events$", loaded.stdout, re.MULTILINE)
    assert sum(f["calls"] for f in figures.values()) > 50 and all(f["errors"] == 0 for f in figures.values())
    # The key lookups hit stored rows (their parameters come from rows the load sampled or wrote).
    lookup = "product_by_sku" if app.package == "shope2e" else "book_by_isbn"
    assert figures[lookup]["calls"] > 10 and figures[lookup]["empty"] < figures[lookup]["calls"] / 10
    drained = app.command("relay", "--once", "--batch", "200")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    checked = app.command("check")
    print(f"{checked.stdout}(checked {time.monotonic() - loaded_at:.0f} s after the load ended)")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = re.search(
        r"^checked (\d+) \w+ documents(?:, (\d+) cached answers)?: 0 lost, 0 stale, 0 extra, 0 pending, 0 parked",
        checked.stdout,
        re.MULTILINE,
    )
    assert summary is not None, checked.stdout
    with app.engine.connect() as connection:
        indexed = "product" if app.package == "shope2e" else "book"
        assert int(summary.group(1)) == connection.execute(sa.text(f"SELECT count(*) FROM {indexed}")).scalar_one()
    assert summary.group(2) is not None and int(summary.group(2)) > 0  # the cache was filled and compared

    # The checker sees what it claims to: a row changed behind the outbox (its document and its cached
    # answer are now stale), a row whose document is gone (lost), a document of no row (extra).
    table, lookup_column = ("product", "sku") if app.package == "shope2e" else ("book", "isbn")
    changed, dropped = (
        app.engine.connect().execute(sa.text(f"SELECT id, {lookup_column} FROM {table} ORDER BY id LIMIT 2")).all()
    )
    warm = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from {app.package} import reads, settings; reads.{lookup}(settings.connect(), {changed[1]!r})",
        ],
        env=app.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert warm.returncode == 0, warm.stderr
    with app.engine.begin() as connection:
        stock = "stock" if app.package == "shope2e" else "copies_available"
        connection.execute(sa.text(f"UPDATE {table} SET {stock} = {stock} + 1 WHERE id = :id"), {"id": changed[0]})
    alias = app.env[f"{app.package.upper()}_INDEX_PREFIX"] + table
    app.search.delete(index=alias, id=str(dropped[0]), params={"refresh": "true"})  # type: ignore[attr-defined]
    app.search.index(index=alias, id="no-such-row", body={}, params={"refresh": "true"})  # type: ignore[attr-defined]
    mismatched = app.command("check")
    assert mismatched.returncode == 1, mismatched.stdout + mismatched.stderr
    lines = [line for line in mismatched.stdout.splitlines() if line.startswith(f"{app.package}.check: ")]
    classes = [line.split(": ")[1] for line in lines]
    assert classes == ["lost", "stale", "extra"], mismatched.stdout
    assert str(dropped[0]) in lines[0] and str(changed[0]) in lines[1] and "no-such-row" in lines[2]


def test_a_store_that_does_not_answer_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """The load generator and the checker probe each store a pattern needs: the first pattern that
    needs an unreachable store is named in one line, no traceback, exit 2."""
    folder = tmp_path / "app"
    write_scaffold(LIBRARY, folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARY_")} | {
        "PYTHONPATH": str(folder),
        "LIBRARY_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "LIBRARY_REDIS_URL": "redis://127.0.0.1:9/0",
        "LIBRARY_SEARCH_URL": "http://127.0.0.1:9",
    }
    for module in ("load", "check"):
        done = subprocess.run(
            [sys.executable, "-m", f"library.{module}", *(["--seconds", "1"] if module == "load" else [])],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert re.fullmatch(
            rf"library\.{module}: search_books: OpenSearch is not reachable \(ConnectionError: .*\)\n", done.stderr
        ), done.stderr
    # With the search engine answering (a Redis that does not): the cached pattern is named.
    env["LIBRARY_SEARCH_URL"] = resolve_url("opensearch") if os.environ.get("POLYPLAN_OPENSEARCH_URL") else ""
    if env["LIBRARY_SEARCH_URL"]:
        done = subprocess.run(
            [sys.executable, "-m", "library.check"], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 2 and re.fullmatch(
            r"library\.check: book_by_isbn: Redis is not reachable \(ConnectionError: .*\)\n", done.stderr
        ), done.stderr

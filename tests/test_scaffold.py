"""`polyplan scaffold` (issue 15, first slice): the generated package for the shop scenario
imports and passes `mypy --strict`; every generated read returns what a hand-written SQL oracle
returns on seeded data (PostgreSQL and SQLite); cache-aside reads fill with the plan's TTL under a
single-flight lock; and the outbox relay, killed between applying a batch and marking it done
(in-process and with SIGKILL), leaves after a restart no stale cached answer, with every event
applied, first applications in order. Real PostgreSQL and Redis; never skipped
under POLYPLAN_REQUIRE."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold, scaffold_files, write_scaffold
from polyplan.scaffold.design import design_scaffold
from polyplan.scaffold.runtime import cached, key_part
from polyplan.stores.cache.connect import connect as redis_connect
from polyplan.stores.cache.connect import scratch_prefix
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT, SCENARIOS, planned
from tests.scaffold_support import assert_clean, scaffolded, seed_model
from tests.scaffold_support import scaffold_cli as _cli

# Imported here, at collection, not inside a test: pytest parses a test module to rewrite its
# asserts, and CPython 3.11.7 has failed such a parse mid-run with "SystemError: AST constructor
# recursion depth mismatch" (gh-106905), seen twice in this test under load.
from tests.test_cache_read_models import read_models_plan

SHOP = ROOT / "scenarios" / "shop.yaml"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    """The shop scaffold written to a folder and importable as `shop`."""
    folder = tmp_path_factory.mktemp("scaffold") / "out"
    with scaffolded(SHOP, folder) as name:
        yield folder, importlib.import_module(name)


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _seed(engine_name: str, url: str, rows: int = 40) -> None:
    seed_model(SHOP, engine_name, url, rows)


def test_output_is_deterministic_across_processes() -> None:
    files = scaffold_files(planned(SHOP))
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    code = (
        "import hashlib, json; from polyplan.pipeline import plan_file; from polyplan.scaffold import scaffold_files; "
        f"print(hashlib.sha256(json.dumps(scaffold_files(plan_file({str(SHOP)!r})), sort_keys=True).encode()).hexdigest())"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert other.stdout.strip() == digest, other.stderr
    assert {"shop/reads.py", "shop/writes.py", "shop/relay.py", "sql/outbox.postgresql.sql"} <= set(files)
    # Reads run the very SQL queries.sql holds (the planned queries, not a second generator).
    from polyplan.pipeline import render
    from polyplan.validate.oracle import parse_queries

    queries = parse_queries(render(planned(SHOP))[0]["relational/postgresql/queries.sql"])
    sql = files["shop/sql.py"]
    for name, query in queries.items():
        assert json.dumps(query.sql)[1:-1] in sql, name


def test_every_bundled_scenario_scaffolds_a_package_clean_under_mypy_strict_and_ruff(
    package: tuple[Path, ModuleType], tmp_path: Path
) -> None:
    from tests.test_scaffold_search import APP, fault_model

    folder, shop = package
    assert importlib.import_module("shop.relay").main is not None and shop.__doc__
    packages = [str(folder / "shop")]
    for scenario in SCENARIOS:
        if scenario.stem != "shop":
            write_scaffold(scenario, tmp_path / scenario.stem)
            packages.append(str(tmp_path / scenario.stem / scenario.stem))
    assert len(packages) == len(SCENARIOS) >= 5
    # The search projection on both engines: the bundled scenarios plan Elasticsearch, the fault
    # test's adapted shop OpenSearch.
    write_scaffold(fault_model(tmp_path), tmp_path / APP)
    packages.append(str(tmp_path / APP / APP))
    modules = sum(1 for package in packages for _ in Path(package).glob("*.py"))
    searched = sum(1 for package in packages if (Path(package) / "search.py").exists())
    assert searched == 4  # shop, social, marketplace, APP
    # The other stores' modules are checked with them: counters and saas keep documents; counters,
    # iot, marketplace, saas and social Cassandra tables; iot, marketplace, shop, social and the fault
    # test's shop Redis records.
    for module, count in (("documents.py", 2), ("wide_column.py", 5), ("records.py", 5)):
        assert sum(1 for package in packages if (Path(package) / module).exists()) == count, module
    checked = assert_clean(packages)
    assert f"Success: no issues found in {modules} source files" in checked


def test_scaffold_never_replaces_a_users_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "polyplan", "scaffold", str(SHOP), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.strip().endswith("[PP601]")
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_key_parts_follow_the_redis_design() -> None:
    from polyplan.model.schema import Attribute
    from polyplan.stores.cache.codec import key_part as designed

    for kind, value in [("string", "a:b{c} d%"), ("integer", 42), ("boolean", True), ("decimal", "12.50")]:
        assert key_part(kind, value) == designed(value, Attribute.model_validate({"type": kind})), kind


# --- the oracle ---------------------------------------------------------------------------


def _oracle(connection: sa.Connection, pattern: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """What each shop pattern must return, written by hand from the model (no limit: the test
    checks the limit itself), over reflected tables."""
    meta = sa.MetaData()
    product, order, customer = (sa.Table(n, meta, autoload_with=connection) for n in ("product", "order", "customer"))
    if pattern == "search_products":
        query = sa.select(product).where(product.c.title.contains(params["title_terms"]), product.c.status == "active")
    elif pattern == "product_by_sku":
        query = sa.select(product).where(product.c.sku == params["sku"])
    elif pattern == "orders_of_customer":
        columns = [order.c[n] for n in ("id", "number", "status", "total", "placed_at")]
        query = sa.select(*columns).where(order.c.customer_id == params["customer_id"])
        query = query.order_by(order.c.placed_at.desc())
    elif pattern == "order_with_lines":
        query = sa.select(order).where(order.c.number == params["number"])
    elif pattern == "open_orders_by_date":
        query = sa.select(order).where(
            order.c.status == "paid",
            order.c.placed_at >= params["placed_at_from"],
            order.c.placed_at < params["placed_at_to"],
        )
        query = query.order_by(order.c.placed_at.asc())
    else:
        query = sa.select(customer).where(customer.c.email.startswith(params["email_prefix"], autoescape=True))
    return [dict(row) for row in connection.execute(query).mappings()]


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    """A row with values compared by meaning (SQLite returns uuids and JSON as text)."""
    import uuid
    from datetime import datetime

    out = {}
    for name, value in row.items():
        if isinstance(value, str) and name.endswith("id") and len(value) in (32, 36):
            value = uuid.UUID(value)
        if isinstance(value, str) and name == "attributes":
            value = json.loads(value)
        if isinstance(value, str) and name.endswith("_at"):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None) - (value.utcoffset() or timedelta())
        out[name] = value
    return out


def _arguments(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """Parameters for each pattern taken from the seeded rows, so every read finds something."""
    meta = sa.MetaData()
    product, order, customer = (sa.Table(n, meta, autoload_with=connection) for n in ("product", "order", "customer"))
    some_product = connection.execute(sa.select(product).where(product.c.status == "active").limit(1)).mappings().one()
    some_order = _normal(dict(connection.execute(sa.select(order).order_by(order.c.number).limit(1)).mappings().one()))
    low, high = connection.execute(sa.select(sa.func.min(order.c.placed_at), sa.func.max(order.c.placed_at))).one()
    email = connection.execute(sa.select(customer.c.email).order_by(customer.c.email).limit(1)).scalar_one()
    return {
        "search_products": {"title_terms": some_product["title"][1:4]},
        "product_by_sku": {"sku": some_product["sku"]},
        "orders_of_customer": {"customer_id": some_order["customer_id"]},
        "order_with_lines": {"number": some_order["number"]},
        "open_orders_by_date": {"placed_at_from": low, "placed_at_to": high + timedelta(seconds=1)},
        "customers_by_email_prefix": {"email_prefix": email[:2]},
    }


LIMITS = {"search_products": 24, "orders_of_customer": 20, "open_orders_by_date": 100, "customers_by_email_prefix": 20}
SORTED = {"orders_of_customer": ("placed_at", True), "open_orders_by_date": ("placed_at", False)}


def _check_reads(shop_reads: ModuleType, stores: Any, engine: sa.Engine) -> int:
    checked = 0
    with engine.connect() as connection:
        arguments = _arguments(connection)
        for pattern, params in arguments.items():
            expected = [_normal(r) for r in _oracle(connection, pattern, params)]
            got = getattr(shop_reads, pattern)(stores, **params)
            rows = [got] if got is not None and not isinstance(got, list) else (got or [])
            actual = [_normal(r.as_dict()) for r in rows]
            assert expected, f"{pattern}: the seeded data gives the oracle nothing to compare"
            limit = LIMITS.get(pattern)
            assert len(actual) == min(len(expected), limit or len(expected)), pattern
            for row in actual:
                assert row in expected, f"{pattern}: {row} is not an answer"
            if pattern in SORTED:
                column, descending = SORTED[pattern]
                keys = [r[column] for r in actual]
                assert keys == sorted(keys, reverse=descending), pattern
                assert keys == [r[column] for r in expected][: len(keys)], pattern
            checked += 1
    return checked


@pytest.mark.parametrize(
    "engine_name", [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_every_read_matches_the_sql_oracle(package: tuple[Path, ModuleType], engine_name: str) -> None:
    from shop.settings import Stores  # type: ignore[import-not-found]

    shop_reads = importlib.import_module("shop.reads")
    with scratch_database(resolve_url(engine_name)) as engine:
        _seed(engine_name, _url(engine))
        assert _check_reads(shop_reads, Stores(engine), engine) == 6


@pytest.mark.postgresql
@pytest.mark.redis
def test_cache_aside_fills_with_the_plans_ttl(package: tuple[Path, ModuleType]) -> None:
    from shop.settings import Stores

    shop_reads = importlib.import_module("shop.reads")
    client = redis_connect(resolve_url("redis"))
    with scratch_database(resolve_url("postgresql")) as engine, scratch_prefix(client) as prefix:
        _seed("postgresql", _url(engine))
        stores = Stores(engine, client, prefix)
        assert _check_reads(shop_reads, stores, engine) == 6  # the cached pattern too, first a miss
        sku = _arguments(engine.connect())["product_by_sku"]["sku"]
        key = f"{prefix}shop:cache:product:sku:{key_part('string', sku)}"
        assert 0 < client.ttl(key) <= 60
        raw = client.get(key)
        assert raw is not None and raw.startswith(b"0|")  # a fill, version 0
        assert shop_reads.product_by_sku(stores, sku) == shop_reads.product_by_sku(Stores(engine), sku)


@pytest.mark.redis
def test_single_flight_loads_once_for_a_crowd() -> None:
    client = redis_connect(resolve_url("redis"))
    with scratch_prefix(client) as prefix:
        loads: list[int] = []

        def load() -> str:
            loads.append(1)
            time.sleep(0.3)
            return '{"answer":1}'

        # Warm up first: a lazy import inside redis-py run from 16 threads at once trips CPython
        # 3.11's AST recursion counter in pytest's import hook (not thread-safe).
        assert cached(client, f"{prefix}warm", 60, lambda: "{}") == "{}"
        results: list[str | None] = []
        threads = [
            threading.Thread(target=lambda: results.append(cached(client, f"{prefix}k", 60, load))) for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(loads) == 1 and results == ['{"answer":1}'] * 16


# --- the outbox and the relay under faults --------------------------------------------------------

DRIVER = """
import os, signal, sys
import redis
from shop.projection import apply
from shop.relay import install_outbox
from shop.runtime import relay_batch
from shop.settings import connect
from shop.sql import OUTBOX

stores = connect()
install_outbox(stores)
log = redis.Redis.from_url(os.environ["SHOP_REDIS_URL"])
kill_at = int(sys.argv[1])  # kill this process after applying its N-th batch, before marking it done

def logged(event):
    apply(stores, event)
    log.rpush(stores.key("applied"), event.id)

batches = 0
def crash(ids):
    global batches
    batches += 1
    if batches == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

while relay_batch(stores.database, OUTBOX[stores.engine], logged, batch=5, after_apply=crash):
    pass
"""


def _relay(folder: Path, url: str, redis_url: str, prefix: str, kill_at: int) -> int:
    return _start_relay(folder, url, redis_url, prefix, kill_at).wait(timeout=300)


def _start_relay(folder: Path, url: str, redis_url: str, prefix: str, kill_at: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(folder),
        "SHOP_DATABASE_URL": url,
        "SHOP_REDIS_URL": redis_url,
        "SHOP_KEY_PREFIX": prefix,
    }
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(kill_at)], env=env)


@pytest.mark.postgresql
@pytest.mark.redis
def test_relay_killed_between_apply_and_mark_loses_nothing(package: tuple[Path, ModuleType]) -> None:
    import random

    from shop.settings import Stores

    folder, _ = package
    shop_reads = importlib.import_module("shop.reads")
    shop_writes = importlib.import_module("shop.writes")
    shop_relay = importlib.import_module("shop.relay")
    runtime = importlib.import_module("shop.runtime")
    redis_url = resolve_url("redis")
    client = redis_connect(redis_url)
    with scratch_database(resolve_url("postgresql")) as engine, scratch_prefix(client) as prefix:
        _seed("postgresql", _url(engine))
        stores = Stores(engine, client, prefix)
        shop_relay.install_outbox(stores)
        with engine.connect() as connection:
            products = connection.execute(sa.text("SELECT id, sku FROM product ORDER BY sku LIMIT 6")).all()
        rng = random.Random(15)
        for step in range(60):
            product = rng.choice(products)
            if step % 7 == 0:  # reads fill the cache between writes, so stale answers exist to be replaced
                shop_reads.product_by_sku(stores, product.sku)
            assert shop_writes.update_stock(stores, product.id, rng.randrange(0, 1000)) is not None
            if step == 30:  # an event nobody can apply: parked with its reason, never blocking
                with engine.begin() as connection:
                    connection.execute(sa.text("INSERT INTO polyplan_outbox (entity, op) VALUES ('Nope', 'insert')"))
        for product in products:  # the writers' invalidations emptied these; refill them before the relay runs
            shop_reads.product_by_sku(stores, product.sku)

        # In-process crash: the batch was applied to Redis, then the transaction died before marking it.
        def crash(ids: list[int]) -> None:
            raise RuntimeError("crash after apply")

        with pytest.raises(RuntimeError):
            runtime.relay_batch(
                engine,
                importlib.import_module("shop.sql").OUTBOX["postgresql"],
                lambda e: importlib.import_module("shop.projection").apply(stores, e),
                5,
                crash,
            )
        # Then two relays in turn, each killed with SIGKILL after applying a batch, and one to the end.
        assert _relay(folder, _url(engine), redis_url, prefix, 2) == -9
        assert _relay(folder, _url(engine), redis_url, prefix, 3) == -9
        # More writes, then two relays at once to the end: the second waits on the first's locked
        # batch instead of overtaking it.
        for _ in range(40):
            product = rng.choice(products)
            assert shop_writes.update_stock(stores, product.id, rng.randrange(0, 1000)) is not None
        both = [_start_relay(folder, _url(engine), redis_url, prefix, 0) for _ in range(2)]
        assert [relay.wait(timeout=300) for relay in both] == [0, 0]

        with engine.connect() as connection:
            outbox = connection.execute(
                sa.text("SELECT id, entity, after, done_at, error FROM polyplan_outbox ORDER BY id")
            ).all()
        assert len(outbox) == 101 and all(row.done_at is not None for row in outbox)
        (parked,) = [row for row in outbox if row.error is not None]
        assert parked.entity == "Nope" and "no projection of entity 'Nope'" in parked.error
        # Every event applied; repeats only of the killed batches; first applications in id order.
        applied = [int(x) for x in client.lrange(f"{prefix}applied", 0, -1)]
        first = list(dict.fromkeys(applied))
        assert first == [row.id for row in outbox if row.error is None]
        assert 0 < len(applied) - len(first) <= 10  # the two killed batches of 5, applied again
        # No stale answer is left: the relay deleted every key its events touched (the fills made
        # before the relays ran included), and the next read fills the system of record's row.
        for product in products:
            key = f"{prefix}shop:cache:product:sku:{key_part('string', product.sku)}"
            assert client.get(key) is None
            truth = shop_reads.product_by_sku(Stores(engine), product.sku)
            assert truth is not None and shop_reads.product_by_sku(stores, product.sku) == truth
            raw = client.get(key)
            assert raw is not None and raw.decode() == f"0|{truth.to_json()}"
        # Nothing is left pending (the shop's relay command also needs its search index: that command
        # runs in tests/test_scaffold_search.py, on OpenSearch).
        said: list[str] = []
        outbox_sql = importlib.import_module("shop.sql").OUTBOX["postgresql"]
        apply = importlib.import_module("shop.projection").apply
        assert runtime.relay_forever(engine, outbox_sql, lambda e: apply(stores, e), once=True, report=said.append) == 0
        assert said == []


def test_relay_without_a_database_says_so_in_one_line(package: tuple[Path, ModuleType]) -> None:
    folder, _ = package
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")} | {"PYTHONPATH": str(folder)}
    done = subprocess.run(
        [sys.executable, "-m", "shop.relay", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "shop.relay: set SHOP_DATABASE_URL to the system of record's SQLAlchemy URL"
    assert isinstance(redis.Redis, type)


@pytest.mark.redis
def test_writes_and_relay_on_sqlite(package: tuple[Path, ModuleType]) -> None:
    from shop.settings import Stores

    shop_reads = importlib.import_module("shop.reads")
    shop_writes = importlib.import_module("shop.writes")
    shop_relay = importlib.import_module("shop.relay")
    client = redis_connect(resolve_url("redis"))
    with scratch_database("sqlite://") as engine, scratch_prefix(client) as prefix:
        _seed("sqlite", _url(engine))
        stores = Stores(engine, client, prefix)
        shop_relay.install_outbox(stores)
        with engine.connect() as connection:
            sku = connection.execute(sa.text("SELECT sku FROM product ORDER BY sku LIMIT 1")).scalar_one()
        product = shop_reads.product_by_sku(stores, sku)
        assert product is not None
        for stock in (5, 6, 7):
            updated = shop_writes.update_stock(stores, product.id, stock)
            assert updated is not None and updated.stock == stock
        # The cache part of the relay (the shop's search index is Elasticsearch, which does not run here).
        apply = importlib.import_module("shop.projection").apply
        outbox_sql = importlib.import_module("shop.sql").OUTBOX["sqlite"]
        relay_forever = importlib.import_module("shop.runtime").relay_forever
        assert relay_forever(engine, outbox_sql, lambda e: apply(stores, e), batch=2, once=True) == 3
        key = f"{prefix}shop:cache:product:sku:{key_part('string', sku)}"
        assert client.get(key) is None  # the relay deleted the answer; the next read fills it
        assert shop_reads.product_by_sku(stores, sku) == updated
        raw = client.get(key)
        assert raw is not None and raw.decode() == f"0|{updated.to_json()}"


def test_patterns_without_a_function_are_named_in_one_coded_line_each(tmp_path: Path) -> None:
    done = _cli("scenarios/shop.yaml", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the carts Redis keeps are scaffolded too (records.py)
    assert (
        "scaffolded shop: package shop (23 files)" in done.stdout
    )  # with load, check, e2e_runtime, records, outbox.mysql.sql, relay_metrics
    done = _cli("scenarios/counters.yaml", "--out", str(tmp_path / "counters"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == []  # increments, compare-and-set and counter-table reads: all scaffolded
    for scenario in ("iot", "social", "marketplace"):  # bucket walks, the search-only read, writes.sql's writes
        done = _cli(f"scenarios/{scenario}.yaml", "--out", str(tmp_path / scenario))
        assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_mysql_only_plan_is_scaffolded(tmp_path: Path) -> None:
    """MariaDB/MySQL is a relational engine of the package too (tests/test_scaffold_mysql.py runs it)."""
    text = SHOP.read_text(encoding="utf-8").replace(
        "relational_dialects: [postgresql, mysql, sqlite]", "relational_dialects: [mysql]"
    )
    model = tmp_path / "shop.yaml"
    model.write_text(text.replace("options:\n", "engines: {relational: mysql}\noptions:\n", 1), encoding="utf-8")
    done = _cli(str(model), "--out", str(tmp_path / "out"))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    sql = (tmp_path / "out" / "shop" / "sql.py").read_text(encoding="utf-8")
    assert "'mysql'" in sql or '"mysql"' in sql
    assert (tmp_path / "out" / "sql" / "outbox.mysql.sql").is_file()


def test_only_key_caches_are_read_cache_aside() -> None:
    """A sorted set, capped list or table hash holds no GET-able answer: its pattern reads the
    system of record (never a WRONGTYPE at run time) and PP811 says why."""
    plan = read_models_plan()
    files, diagnostics = scaffold(plan)
    reads = next(text for path, text in files.items() if path.endswith("/reads.py"))
    said = {d.path: d.message for d in diagnostics if d.code == "PP811"}
    for pattern, structure in [
        ("top_players", "sorted_set"),
        ("all_flags", "table_hash"),
        ("front_page", "capped_list"),
    ]:
        index = next(i for i, p in enumerate(plan.model.access_patterns) if p.name == pattern)
        assert f"its cache is a {structure}" in said[f"access_patterns.{index}"], said
        body = reads.split(f"def {pattern}(", 1)[1].split("\ndef ", 1)[0]
        assert "cached(" not in body, body


def test_inside_value_parameters_and_joined_fields_get_their_own_types() -> None:
    """marketplace: a JSON sub-field parameter is the sub-field's type, a contains parameter one
    item's, and a related field joined in is a column of the parent's type (the scaffold stopped
    on them before)."""
    scaffold = design_scaffold(plan_file(ROOT / "scenarios" / "marketplace.yaml"))
    reads = {read.pattern: read for read in scaffold.reads}
    assert [(p.name, p.kind, p.op) for p in reads["items_of_brand"].params] == [("specs_brand", "string", "eq")]
    assert [(p.kind, p.op) for p in reads["items_tagged"].params] == [("string", "contains")]
    assert [(p.kind, p.op) for p in reads["items_in_color"].params] == [("enum", "contains")]
    row = next(c for c in scaffold.classes if c.name == reads["bids_with_item"].result)
    assert [(c.name, c.kind) for c in row.columns][-2:] == [("item_title", "string"), ("item_ends_at", "timestamptz")]

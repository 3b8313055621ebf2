"""`polyplan scaffold` on MariaDB/MySQL (issue 15): a plan whose relational system of record is
MySQL only (`relational_dialects: [mysql]`) gets its package, with reads, writes, the outbox and
the relay on MariaDB. MySQL has no RETURNING (MariaDB none for UPDATE), so each write reads its row
again by key in its transaction; the outbox's pending index is `(done_at, id)` inside its CREATE
TABLE (no partial index there); a timestamptz is bound and read as UTC.

The user's library model (tests/models/library.yaml) on MySQL runs end to end on the real MariaDB,
Redis and OpenSearch as tests/test_scaffold_e2e.py runs it on PostgreSQL: seed, relay beside the
load generator, drain, and the checker finds 0 lost, 0 stale, 0 extra, 0 pending, 0 parked. The
shop's reads are compared with a hand-written SQLAlchemy oracle, and each write kind (insert,
update, upsert, delete) with its outbox events. Never skipped under POLYPLAN_REQUIRE=mysql.
"""

from __future__ import annotations

import importlib
import json
import re
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from polyplan.scaffold import write_scaffold
from polyplan.stores.cache.connect import connect as redis_connect
from polyplan.stores.cache.connect import scratch_prefix
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import app_env, scaffolded, scratch_index_prefix, seed_model
from tests.test_scaffold import _check_reads
from tests.test_scaffold_e2e import App, _load_lines

LIBRARY = ROOT / "tests" / "models" / "library.yaml"
SHOP = ROOT / "scenarios" / "shop.yaml"


def mysql_only(source: Path, name: str, folder: Path) -> Path:
    """`source` renamed `name`, its system of record MySQL and no other relational dialect."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["name"] = name
    data.setdefault("options", {})["relational_dialects"] = ["mysql"]
    data.setdefault("engines", {})["relational"] = "mysql"
    model = folder / f"{name}.yaml"
    model.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return model


def _seed(model: Path, engine: sa.Engine, rows: int = 60) -> None:
    seed_model(model, "mysql", engine.url.render_as_string(hide_password=False), rows, timeout=600)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    folder = tmp_path_factory.mktemp("maria")
    model = mysql_only(SHOP, "shop", folder)
    with scaffolded(model, folder / "out") as name:
        yield model, importlib.import_module(name)


def test_a_mysql_only_plan_is_scaffolded_for_mysql(shop: tuple[Path, ModuleType]) -> None:
    sql = importlib.import_module("shop.sql")
    assert set(sql.READS) == set(sql.WRITES) == set(sql.OUTBOX_DDL) == {"mysql"}
    # No RETURNING: each write is followed by its row read again by key.
    assert all("RETURNING" not in s["write"] and "after" in s for s in sql.WRITES["mysql"].values())
    (create,) = sql.OUTBOX_DDL["mysql"]
    assert "INDEX ix_polyplan_outbox_pending (done_at, id)" in create and "CHARSET=utf8mb4" in create
    requirements = (Path(shop[1].__file__).parent.parent / "requirements.txt").read_text(encoding="utf-8")
    assert "pymysql" in requirements and "psycopg" not in requirements


@pytest.mark.mysql
def test_reads_match_the_oracle_on_mariadb(shop: tuple[Path, ModuleType], monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = shop
    import tests.test_scaffold as oracle

    normal = oracle._normal

    def parsed(row: dict[str, Any]) -> dict[str, Any]:
        # MariaDB's JSON is a LONGTEXT alias: the oracle's reflected table reads the list as text.
        return normal({k: json.loads(v) if k == "tags" and isinstance(v, str) else v for k, v in row.items()})

    query = oracle._oracle

    def hex_keys(connection: sa.Connection, pattern: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        # The reflected CHAR(32) compares text: a uuid as the schema stores it (hex, no dashes).
        return query(connection, pattern, {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in params.items()})

    monkeypatch.setattr(oracle, "_normal", parsed)
    monkeypatch.setattr(oracle, "_oracle", hex_keys)
    stores_class = importlib.import_module("shop.settings").Stores
    with scratch_database(resolve_url("mysql")) as engine:
        version = engine.connect().execute(sa.text("SELECT version()")).scalar_one()
        print(f"\nserver: {version}")
        _seed(model, engine, 40)
        assert _check_reads(importlib.import_module("shop.reads"), stores_class(engine), engine) == 6


def _events(engine: sa.Engine) -> list[tuple[str, str, Any, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT entity, op, `before`, `after` FROM polyplan_outbox ORDER BY id"))
        return [(r[0], r[1], r[2] and json.loads(r[2]), r[3] and json.loads(r[3])) for r in rows]


LEDGER = """
name: ledger
engines: {relational: mysql, document: null, cache: redis, search: null, wide_column: null}
options: {relational_dialects: [mysql]}
entities:
  Account:
    attributes:
      code: {type: string, max_length: 12, unique: true}
      balance: {type: decimal, precision: 12, scale: 2}
      opened_at: {type: timestamptz}
      meta: {type: json, nullable: true}
    growth: {initial_rows: 100000}
access_patterns:
  - {name: account_by_code, entity: Account, filters: [{attribute: code}], rate: 5000, staleness_seconds: 30,
     consistency: eventual}
write_patterns:
  - {name: open_account, entity: Account, kind: insert, rate: 10}
  - {name: set_balance, entity: Account, kind: update, attributes: [balance], rate: 50}
  - {name: save_account, entity: Account, kind: upsert, rate: 5}
  - {name: close_account, entity: Account, kind: delete, rate: 1}
"""


@pytest.mark.mysql
@pytest.mark.redis
def test_each_write_kind_commits_its_row_and_event_and_the_relay_drops_the_cached_answer(tmp_path: Path) -> None:
    model = tmp_path / "ledger.yaml"
    model.write_text(LEDGER, encoding="utf-8")
    client = redis_connect(resolve_url("redis"))
    with scaffolded(model, tmp_path / "out"):
        settings, reads, writes, relay, models = (
            importlib.import_module(f"ledger.{m}") for m in ("settings", "reads", "writes", "relay", "models")
        )
        assert "save_account" in writes.__all__ and reads.account_by_code.__doc__.count("cache-aside")
        with scratch_database(resolve_url("mysql")) as engine, scratch_prefix(client) as prefix:
            _seed(model, engine, 5)  # the plan's own MySQL schema, and a few rows
            stores = settings.Stores(engine, client, prefix)
            relay.install_outbox(stores)
            relay.install_outbox(stores)  # again: found, nothing created twice
            opened = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
            row = models.Account(uuid.uuid4(), "AC-1", Decimal("10.50"), opened, {"tags": ["a", "b"]})
            assert writes.open_account(stores, row) == row  # read back by key: same values, aware UTC
            assert reads.account_by_code(stores, "AC-1") == row  # fills the cache
            (key,) = client.keys(f"{prefix}*")  # the answer account_by_code cached
            cached = client.get(key)
            changed = writes.set_balance(stores, row.id, Decimal("99.99"))
            assert changed is not None and changed.balance == Decimal("99.99") and changed.opened_at == opened
            assert writes.set_balance(stores, uuid.uuid4(), Decimal("1")) is None  # no row: no event
            # An upsert of an existing key updates it; of a new one inserts it.
            renamed = models.Account(row.id, "AC-1", Decimal("5.00"), opened, None)
            assert writes.save_account(stores, renamed) == renamed
            other = models.Account(uuid.uuid4(), "AC-2", Decimal("0.00"), opened, {"n": 1})
            assert writes.save_account(stores, other) == other
            assert writes.close_account(stores, other.id) == other
            assert writes.close_account(stores, other.id) is None
            events = _events(engine)
            assert [(e[0], e[1]) for e in events] == [
                ("Account", "insert"),
                ("Account", "update"),
                ("Account", "upsert"),
                ("Account", "upsert"),
                ("Account", "delete"),
            ]
            assert events[1][2]["balance"] == "10.50" and events[1][3]["balance"] == "99.99", events[1]
            assert events[4][3] is None and events[4][2]["code"] == "AC-2"
            # The writers invalidated after each commit; the relay deletes again, and marks done.
            client.set(key, cached or b"stale")
            assert relay.run(stores, batch=2, once=True) == 5
            assert client.get(key) is None
            with engine.connect() as connection:
                pending = connection.execute(
                    sa.text("SELECT count(*) FROM polyplan_outbox WHERE done_at IS NULL")
                ).scalar_one()
                stamped = connection.execute(sa.text("SELECT min(created_at) FROM polyplan_outbox")).scalar_one()
            assert pending == 0
            # created_at is UTC (UTC_TIMESTAMP), as the relay's lag reads it.
            assert abs((datetime.now(UTC) - stamped.replace(tzinfo=UTC)).total_seconds()) < 600
            assert reads.account_by_code(stores, "AC-1") == renamed


@pytest.mark.mysql
@pytest.mark.redis
@pytest.mark.opensearch
def test_library_on_mariadb_load_relay_and_check_find_every_projection_equal(tmp_path: Path) -> None:
    model = mysql_only(LIBRARY, "library", tmp_path)
    folder = tmp_path / "app"
    write_scaffold(model, folder)
    cache = redis_connect(resolve_url("redis"))
    with (
        scratch_index_prefix() as (search, index_prefix),
        scratch_database(resolve_url("mysql")) as engine,
        scratch_prefix(cache) as key_prefix,
    ):
        _seed(model, engine)
        env = app_env(
            "library",
            folder,
            DATABASE_URL=engine.url.render_as_string(hide_password=False),
            REDIS_URL=resolve_url("redis"),
            KEY_PREFIX=key_prefix,
            SEARCH_URL=resolve_url("opensearch"),
            INDEX_PREFIX=index_prefix,
        )
        app = App("library", folder, env, engine, search)
        command = app.command

        relay = app.start("relay", "--batch", "100")
        try:
            loaded = command("load", "--seconds", "20", "--threads", "4", "--backfill")
        finally:
            relay.send_signal(signal.SIGINT)
            relay_output = relay.communicate(timeout=120)[0]
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert "Traceback" not in relay_output and "relay: applied" in relay_output, relay_output
        print(f"\nlibrary on MariaDB, load:\n{loaded.stdout}")
        figures = _load_lines(loaded.stdout)
        assert sum(f["calls"] for f in figures.values()) > 50 and all(f["errors"] == 0 for f in figures.values())
        # The writes ran too (each at its rate: a rare one may get no turn in 20 s).
        writes = ["add_book", "set_copies", "retire_book", "join", "lend", "close_loan"]
        assert sum(figures[w]["calls"] for w in writes) > 10 and figures["set_copies"]["calls"] > 0, figures
        drained = command("relay", "--once", "--batch", "200")
        assert drained.returncode == 0, drained.stdout + drained.stderr
        checked = command("check")
        print(checked.stdout)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        summary = re.search(
            r"^checked (\d+) \w+ documents, (\d+) cached answers: 0 lost, 0 stale, 0 extra, 0 pending, 0 parked",
            checked.stdout,
            re.MULTILINE,
        )
        assert summary is not None, checked.stdout
        with engine.connect() as connection:
            assert int(summary.group(1)) == connection.execute(sa.text("SELECT count(*) FROM book")).scalar_one()
        assert int(summary.group(2)) > 0

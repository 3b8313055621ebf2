"""`polyplan scaffold` (issue 15): the write patterns `relational/<engine>/writes.sql` holds get
functions that run its blocks: increments (counters, marketplace), an update by predicate
(marketplace's close_ended) and a user's model with a locked update, an update and a delete by
predicate (the helpdesk of tests/test_write_predicates.py). Each function runs on the real
PostgreSQL and on SQLite against rows `polyplan seed` wrote, and its effect is compared with what a
hand-written SQLAlchemy query says before and after; an entity that feeds a projection gets one
outbox event per row written. Never skipped under POLYPLAN_REQUIRE=postgresql.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import scaffold_cli, scaffolded, seed_model
from tests.test_write_predicates import HELPDESK

ENGINES = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


def _import(folder: Path, scenario: Path) -> Iterator[ModuleType]:
    with scaffolded(scenario, folder) as package:
        yield importlib.import_module(f"{package}.writes")


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    yield from _import(tmp_path_factory.mktemp("counters"), ROOT / "scenarios" / "counters.yaml")


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    yield from _import(tmp_path_factory.mktemp("market"), ROOT / "scenarios" / "marketplace.yaml")


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    folder = tmp_path_factory.mktemp("helpdesk")
    model = folder / "helpdesk.yaml"
    # SQLite too: the model names its dialects, and the scaffold serves PostgreSQL and SQLite.
    model.write_text(HELPDESK, encoding="utf-8")
    for writes in _import(folder / "out", model):
        yield model, writes


def _seed(model: Path, engine_name: str, engine: sa.Engine, rows: int = 60) -> None:
    seed_model(model, engine_name, engine.url.render_as_string(hide_password=False), rows)


def _stores(package: str, engine: sa.Engine) -> Any:
    stores = importlib.import_module(f"{package}.settings").Stores(engine)
    relay = importlib.import_module(f"{package}.relay")
    relay.install_outbox(stores)
    return stores


def _events(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [(r[0], r[1]) for r in connection.execute(sa.text("SELECT entity, op FROM polyplan_outbox ORDER BY id"))]


def _one(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).one()


@pytest.mark.parametrize("engine_name", ENGINES)
def test_increments_add_the_step_atomically_with_one_event_per_row(counters: ModuleType, engine_name: str) -> None:
    model = ROOT / "scenarios" / "counters.yaml"
    with scratch_database(resolve_url(engine_name)) as engine:
        _seed(model, engine_name, engine)
        stores = _stores("counters", engine)
        article = _one(engine, "SELECT id, views, likes, score FROM article ORDER BY slug LIMIT 1")
        article_id = article.id if engine_name == "postgresql" else _uuid(article.id)
        assert counters.count_view(stores, article_id) is True  # the model's step: 1
        assert counters.count_view(stores, article_id, 5) is True
        assert counters.like(stores, article_id, 2) is True
        after = _one(engine, "SELECT views, likes, score FROM article WHERE id = :id", id=article.id)
        assert after.views == article.views + 6
        assert after.likes == (article.likes or 0) + 2  # NULL counts from 0 (writes.sql's coalesce)
        assert Decimal(str(after.score)) == Decimal(str(article.score)) + 2
        # Article feeds the cache projection: one event per row written, before and after.
        assert _events(engine) == [("Article", "update")] * 3
        # A key no row has: nothing written, no event.
        assert counters.count_view(stores, _uuid("00000000-0000-0000-0000-000000000000")) is False
        assert len(_events(engine)) == 3
        comment = _one(engine, "SELECT id, upvotes FROM comment ORDER BY id LIMIT 1")
        comment_id = comment.id if engine_name == "postgresql" else _uuid(comment.id)
        # Concurrent increments lose nothing: the engine adds under the UPDATE's row lock.
        threads = [
            threading.Thread(target=lambda: [counters.upvote(stores, comment_id) for _ in range(10)]) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counters.upvote(stores, comment_id, -3) is True
        assert _one(engine, "SELECT upvotes FROM comment WHERE id = :id", id=comment.id).upvotes == comment.upvotes + 37
        assert len(_events(engine)) == 3  # Comment feeds no projection


def _uuid(value: Any) -> Any:
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_an_update_by_predicate_writes_every_matching_row_with_its_event(
    marketplace: ModuleType, engine_name: str
) -> None:
    # PostgreSQL: the marketplace's schema needs PostGIS (items_near), which `.ci/run`'s server has.
    model = ROOT / "scenarios" / "marketplace.yaml"
    with scratch_database(resolve_url(engine_name)) as engine:
        _seed(model, engine_name, engine)
        stores = _stores("marketplace", engine)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, ends_at, status FROM item ORDER BY ends_at")).all()
        middle = _moment(rows[len(rows) // 2].ends_at)
        expected = {str(r.id) for r in rows if _moment(r.ends_at) < middle}
        assert 0 < len(expected) < len(rows)
        item = rows[-1]
        assert marketplace.watch(stores, _uuid(item.id), 3) is True
        assert marketplace.unwatch(stores, _uuid(item.id)) is True  # the model's step: -1
        written = marketplace.close_ended(stores, middle, "sold")
        assert written == len(expected)
        with engine.connect() as connection:
            sold = {str(r[0]) for r in connection.execute(sa.text("SELECT id FROM item WHERE status = 'sold'"))}
            outbox = sa.table(
                "polyplan_outbox", sa.column("id"), sa.column("op"), sa.column("before"), sa.column("after")
            )
            before_event = connection.execute(  # `before` is a reserved word on MySQL: quoted per dialect
                sa.select(outbox.c.before, outbox.c.after)
                .where(outbox.c.op == "update")
                .order_by(outbox.c.id.desc())
                .limit(1)
            ).one()
        assert expected <= sold
        assert '"status": "sold"' in before_event.after.replace('":"', '": "')
        assert _events(engine) == [("Item", "update")] * (2 + len(expected))


@pytest.mark.parametrize("engine_name", ENGINES)
def test_locked_and_predicated_writes_run_the_planned_blocks(
    helpdesk: tuple[Path, ModuleType], engine_name: str
) -> None:
    model, writes = helpdesk
    with scratch_database(resolve_url(engine_name)) as engine:
        _seed(model, engine_name, engine)
        stores = _stores("helpdesk", engine)
        with engine.connect() as connection:
            tickets = connection.execute(sa.text("SELECT id, status, priority, opened_at FROM ticket")).all()
        moments = sorted(_moment(t.opened_at) for t in tickets)
        low, high = moments[len(moments) // 4], moments[3 * len(moments) // 4]
        priority = tickets[0].priority
        in_queue = {str(t.id) for t in tickets if t.priority == priority and low <= _moment(t.opened_at) < high}
        # The range's bounds as queries.sql binds them: from inclusive, to exclusive.
        assert writes.reassign_queue(stores, priority, low, high, "desk-7") == len(in_queue)
        with engine.connect() as connection:
            assigned = {
                str(r[0]) for r in connection.execute(sa.text("SELECT id FROM ticket WHERE assignee = 'desk-7'"))
            }
        assert assigned == in_queue
        stale = {str(t.id) for t in tickets if t.status == "pending" and _moment(t.opened_at) < high}
        assert writes.close_stale(stores, high, "closed") == len(stale)
        early = {str(t.id) for t in tickets if _moment(t.opened_at) < low}
        closed = early & ({str(t.id) for t in tickets if t.status == "closed"} | stale)
        assert writes.purge_closed(stores, low) == len(closed)
        with engine.connect() as connection:
            left = connection.execute(sa.text("SELECT count(*) FROM ticket")).scalar_one()
        assert left == len(tickets) - len(closed)
        assert _events(engine) == []  # Ticket feeds no projection


def test_the_load_generator_runs_the_planned_writes_at_their_rates(helpdesk: tuple[Path, ModuleType]) -> None:
    model, _ = helpdesk
    with scratch_database("sqlite://") as engine:
        _seed(model, "sqlite", engine, rows=200)
        url = engine.url.render_as_string(hide_password=False)
        env = {**os.environ, "HELPDESK_DATABASE_URL": url, "PYTHONPATH": str(model.parent / "out")}
        done = subprocess.run(
            [sys.executable, "-m", "helpdesk.load", "--seconds", "4", "--threads", "2"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = {line.split(" (")[0]: line for line in done.stdout.splitlines() if " calls, " in line}
        # Every write pattern is called (the rates: 50 and 30 of 205 in all, purge 5), none fails.
        for name in ("close_stale", "reassign_queue"):
            calls = int(lines[name].split("): ")[1].split(" calls")[0])
            assert calls > 0 and " 0 errors" in lines[name], lines[name]
        assert "purge_closed" in lines, done.stdout


def test_no_pp811_for_writes_sql_writes(tmp_path: Path) -> None:
    for scenario in ("counters", "marketplace"):
        done = scaffold_cli(f"scenarios/{scenario}.yaml", "--out", str(tmp_path / scenario))
        assert done.returncode == 0, done.stderr
        assert "relational/<engine>/writes.sql" not in done.stderr, done.stderr

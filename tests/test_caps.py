"""Caps and loss tolerance (`growth.cap`, `loss_tolerable`; polyplan/model/caps.py) in every store.

The relational trim is run for real: SQLite always, PostgreSQL and MariaDB where reachable —
more rows than the cap are inserted, the emitted `caps.sql` runs, and the table holds exactly
the cap's newest rows ("capped lists stay capped"). The PostgreSQL table of a loss-tolerable
entity is checked to be UNLOGGED in the server's catalogue.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.model.caps import cap_of
from polyplan.model.schema import Family
from polyplan.pipeline import plan_text, render
from polyplan.stores.relational.connect import apply_sql, create_engine, scratch_database
from polyplan.stores.relational.sqltext import split_script
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

CAP = 5
MODEL = f"""
name: feed
engines: {{relational: ENGINE}}
entities:
  Event:
    attributes:
      kind: {{type: string, max_length: 20}}
      at: {{type: timestamptz}}
    growth: {{rows_per_day: 100000, time_attribute: at, cap: {{max_records: {CAP}}}}}
    loss_tolerable: true
    placement: {{family: relational}}
access_patterns:
  - {{name: recent_events, entity: Event, sort: [{{attribute: at, direction: desc}}], limit: 3, rate: 200}}
write_patterns:
  - {{name: log_event, entity: Event, kind: insert, rate: 3000}}
"""
START = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
INSERTED = 12  # more than the cap, in shuffled time order
ORDER = [7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 6, 4]


def _model(engine: str = "postgresql", placed: str | None = "relational") -> str:
    text = MODEL.replace("ENGINE", engine)
    return text if placed == "relational" else text.replace("    placement: {family: relational}\n", "")


def _files(engine: str) -> dict[str, str]:
    files, diagnostics = render(plan_text(_model(engine), "feed.yaml"))
    assert any(d.code == "PP476" for d in diagnostics)
    return files


def _insert_and_trim(database: sa.Engine, engine: str, files: dict[str, str]) -> list[int]:
    """Insert INSERTED events, run every statement of caps.sql; the minutes of the rows left."""
    uuids = [uuid.uuid5(uuid.NAMESPACE_URL, f"event-{n}") for n in range(INSERTED)]
    with database.begin() as connection:
        for n in ORDER:
            moment = START + dt.timedelta(minutes=n)
            if engine == "sqlite":
                at: object = moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            else:
                at = moment if engine == "postgresql" else moment.replace(tzinfo=None)
            key = uuids[n] if engine == "postgresql" else uuids[n].hex
            connection.execute(
                sa.text("INSERT INTO event (id, kind, at) VALUES (:id, 'tick', :at)"), {"id": key, "at": at}
            )
    statements = split_script(files[f"relational/{engine}/caps.sql"])
    assert len(statements) == 1
    with database.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    with database.connect() as connection:
        ids = [str(value) for value in connection.execute(sa.text("SELECT id FROM event")).scalars()]
    by_id = {(u.hex if engine != "postgresql" else str(u)): n for n, u in enumerate(uuids)}
    return sorted(by_id[value.replace("-", "") if engine != "postgresql" else value] for value in ids)


NEWEST = list(range(INSERTED - CAP, INSERTED))


def test_sqlite_trim_keeps_exactly_the_newest(tmp_path: Path) -> None:
    files = _files("sqlite")
    database = create_engine(f"sqlite:///{tmp_path / 'feed.db'}")
    apply_sql(database, files["relational/sqlite/schema.sql"])
    assert _insert_and_trim(database, "sqlite", files) == NEWEST


@pytest.mark.parametrize(
    "engine",
    [pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql)],
)
def test_trim_keeps_exactly_the_newest_on_the_server(engine: str) -> None:
    files = _files(engine)
    with scratch_database(resolve_url(engine)) as database:
        apply_sql(database, files[f"relational/{engine}/schema.sql"])
        assert _insert_and_trim(database, engine, files) == NEWEST
        if engine == "postgresql":
            with database.connect() as connection:
                persistence = connection.execute(
                    sa.text("SELECT relpersistence FROM pg_class WHERE relname = 'event' AND relkind = 'r'")
                ).scalar()
            assert persistence == "u"  # UNLOGGED


def test_the_trim_uses_the_order_index_and_the_schema_says_unlogged() -> None:
    files = _files("postgresql")
    schema = files["relational/postgresql/schema.sql"]
    assert "CREATE UNLOGGED TABLE event" in schema
    assert "truncates it after a crash" in schema
    assert "ORDER BY at DESC LIMIT 1 OFFSET 4" in files["relational/postgresql/caps.sql"]
    mysql = render(plan_text(_model("mysql"), "feed.yaml"))[0]
    assert "UNLOGGED" not in mysql["relational/mysql/schema.sql"]


def test_capacity_is_bounded_by_the_cap() -> None:
    plan = plan_text(_model(), "feed.yaml")
    assert plan.entities["Event"].profile.rows_at_horizon == CAP
    uncapped = plan_text(_model().replace(f", cap: {{max_records: {CAP}}}", ""), "feed.yaml")
    assert uncapped.entities["Event"].profile.rows_at_horizon > 100_000_000


def test_a_capped_loss_tolerable_feed_scores_redis_first() -> None:
    plan = plan_text(_model(placed=None), "feed.yaml")
    event = plan.entities["Event"]
    assert event.family is Family.CACHE
    cache = next(s for s in event.scores if s.family is Family.CACHE)
    assert not cache.blockers
    lifecycle = next(f for f in cache.factors if f.factor == "lifecycle")
    assert "capped to the newest 5 and loss-tolerable" in lifecycle.reason
    # Without loss tolerance the records must survive a crash: Redis is ruled out again.
    durable = plan_text(_model(placed=None).replace("    loss_tolerable: true\n", ""), "feed.yaml")
    assert durable.entities["Event"].family is not Family.CACHE
    files, diagnostics = render(plan)
    codes = {d.code for d in diagnostics}
    assert "PP476" in codes
    # Trimmed by the write paths (ZRANGE + ZREMRANGEBYRANK on the order index), so no PP475; bounded
    # by its trim, not by expiry: no "memory grows with every record" (PP310).
    assert "PP475" not in codes and "PP310" not in codes
    assert f"the cap keeps the newest {CAP} records" in files["redis/cache.md"]
    design = json.loads(files["redis/keys.json"])
    for path in [*design["stores"], *design["writes"]]:
        assert path["commands"][-2:] == [
            ["ZRANGE", "feed:event:idx:all:at_desc", "0", f"-{CAP + 1}"],
            ["ZREMRANGEBYRANK", "feed:event:idx:all:at_desc", "0", f"-{CAP + 1}"],
        ]
        assert path["trim"] == {
            "index": "event.idx.recent_events",
            "keep": CAP,
            "then": [["DEL", "feed:event:<id>"]],
        }


def _redis_feed(text: str, folder: Path) -> Path:
    from tests.test_cache_redis import write_folder

    return write_folder(plan_text(text, "feed.yaml"), folder)


@pytest.mark.redis
def test_generated_redis_tests_show_the_capped_records_stay_capped(tmp_path: Path) -> None:
    """40 seeded records through a cap of 5, then 10 more inserts: the generated test checks the
    index never holds more than 5, holds the newest, and every trimmed record is deleted. A trim
    that keeps 7 fails it."""
    url = resolve_url("redis")
    folder = _redis_feed(_model(placed=None), tmp_path / "feed")
    module = (folder / "tests" / "test_redis.py").read_text(encoding="utf-8")
    assert "def test_caps_keep_the_newest" in module
    assert run_validation(folder, "redis", url) == 0
    keys = folder / "redis" / "keys.json"
    design = json.loads(keys.read_text(encoding="utf-8"))
    for path in [*design["stores"], *design["writes"]]:
        path["commands"] = [[*c[:3], "-8"] if c[0] == "ZREMRANGEBYRANK" else c for c in path["commands"]]
    keys.write_text(json.dumps(design, indent=1), encoding="utf-8")
    assert run_validation(folder, "redis", url, trust_edits=True) == 1


@pytest.mark.redis
def test_a_cap_ordered_unlike_every_index_gets_a_sorted_set_of_its_own(tmp_path: Path) -> None:
    """The pattern's index is scored by seq, not by the cap's order: event.cap lists every record
    by at, and the generated tests pass with it (the pattern's index loses the trimmed members too)."""
    text = (
        _model(placed=None)
        .replace("      at: {type: timestamptz}\n", "      at: {type: timestamptz}\n      seq: {type: integer}\n")
        .replace("sort: [{attribute: at, direction: desc}]", "sort: [{attribute: seq, direction: desc}]")
    )
    folder = _redis_feed(text, tmp_path / "feed")
    design = json.loads((folder / "redis" / "keys.json").read_text(encoding="utf-8"))
    cap = next(k for k in design["keys"] if k["name"] == "event.cap")
    assert cap["template"] == "feed:event:cap:at" and cap["serves"] == []
    store = design["stores"][0]
    assert store["trim"]["index"] == "event.cap"
    assert ["ZREM", "feed:event:idx:all:seq_desc", "<member>"] in store["trim"]["then"]
    assert run_validation(folder, "redis", resolve_url("redis")) == 0


def test_a_cap_whose_order_has_no_score_keeps_pp475_in_redis() -> None:
    """A string order cannot score a sorted set: the write paths do not trim, and PP475 says so."""
    text = _model(placed=None).replace(f"cap: {{max_records: {CAP}}}", f"cap: {{max_records: {CAP}, order: kind}}")
    files, diagnostics = render(plan_text(text, "feed.yaml"))
    cap = [d for d in diagnostics if d.code == "PP475"]
    assert cap and "has no sorted-set score" in cap[0].message
    assert '"trim"' not in files["redis/keys.json"]


@pytest.mark.parametrize("family", ["document", "wide_column"])
def test_other_stores_warn_with_what_to_do(family: str) -> None:
    text = _model().replace("placement: {family: relational}", f"placement: {{family: {family}}}")
    files, diagnostics = render(plan_text(text, "feed.yaml"))
    cap = [d for d in diagnostics if d.code == "PP475"]
    if family == "document":
        # Loss-tolerable: a capped collection the setup creates (tests/test_document_capped.py), no PP475.
        assert not cap
        assert json.loads(files["mongodb/collections/event.json"])["options"]["max"] == CAP
    else:
        assert cap and cap[0].path == "entities.Event.growth.cap"
        assert "no capped table" in cap[0].message
        writes = json.loads(files["cassandra/writes.json"])
        assert writes["entities"]["Event"]["consistency"] == "LOCAL_ONE"
        assert writes["consistency"] == "LOCAL_QUORUM"


# More seeded rows (~300) than the cap, so the generated trim check has rows to delete.
SEEDED = _model("postgresql").replace(f"cap: {{max_records: {CAP}}}", "cap: {max_records: 40}")
SEEDED = SEEDED.replace("growth: {rows_per_day", "growth: {initial_rows: 1000, rows_per_day").replace(
    "engines: {relational: postgresql}",
    "engines: {relational: postgresql}\noptions: {relational_dialects: [postgresql, mysql, sqlite]}",
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(SEEDED, "feed.yaml", tmp_path_factory.mktemp("feed"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_tests_show_the_capped_table_stays_capped(folder: Path, engine: str) -> None:
    module = (folder / "tests" / f"test_{engine}.py").read_text(encoding="utf-8")
    assert "('event_trim', 'event', 'at', 40)" in module
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


def test_a_trim_that_keeps_too_many_fails_the_generated_test(folder: Path, tmp_path: Path) -> None:
    assert break_and_validate(folder, tmp_path / "plan", "relational/sqlite/caps.sql", "OFFSET 39", "OFFSET 45") == 1


def test_a_byte_cap_tighter_than_the_count_lowers_what_every_trim_keeps() -> None:
    """max_bytes is not MongoDB's alone: where the records of the estimated size that fit in it are
    fewer than max_records, the relational trim keeps that many (model/caps.cap_of)."""
    text = _model().replace(f"cap: {{max_records: {CAP}}}", "cap: {max_records: 1000, max_bytes: 1000}")
    plan = plan_text(text, "feed.yaml")
    rule = cap_of(plan.model, "Event")
    assert rule is not None and rule.bytes_stated and 1 <= rule.max_records < 1000
    files, _ = render(plan)
    assert f"keeps the newest {rule.max_records:,} rows by at" in files["relational/postgresql/caps.sql"]
    loose = cap_of(plan_text(text.replace("max_bytes: 1000}", "max_bytes: 100000000}"), "feed.yaml").model, "Event")
    assert loose is not None and loose.max_records == 1000

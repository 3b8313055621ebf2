"""`polyplan scaffold` (issue 15): a parent's write keeps its children's cached answers in step.

A user's model (tests/models/auction_cached.yaml) caches bid_by_id in Redis; its answer joins the
item's end date and holds the item's title copied onto the bid. keys.json gives extend_item a
write path that sets the field in each child's cached answer (the guarded HSET, chosen by the
rates; at 10× the item writes it drops them instead) and retitle_item one that drops them after
copies.sql rewrote the copies. The generated write functions run those paths: on the real
PostgreSQL (and SQLite) and Redis, read (fills the cache), write the parent, read again → the new
value. Before, the package wrote the item's row only, and the second read returned the old value
until the TTL (30 s). Never skipped under POLYPLAN_REQUIRE=postgresql,redis.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from polyplan.pipeline import plan_text, render
from polyplan.scaffold import scaffold
from polyplan.scaffold.runtime import key_part, statement
from polyplan.stores.cache.connect import connect as redis_connect
from polyplan.stores.cache.connect import scratch_prefix
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import assert_clean, scaffolded

MODEL = ROOT / "tests" / "models" / "auction_cached.yaml"
APP = "auction_cached"
EXTEND = "attributes: [end_date], rate: 40}"
ENGINES = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgresql)]


def _utc(moment: datetime | None) -> datetime | None:
    """A timestamp as PostgreSQL gives it back (SQLite's comes back naive, in UTC)."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(extend: int) -> str:
    text = MODEL.read_text(encoding="utf-8")
    assert EXTEND in text
    return text.replace(EXTEND, EXTEND.replace("40", str(extend)))


@pytest.fixture(scope="module", params=[40, 400], ids=["update", "invalidate"])
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """The scaffold of the model (extend_item at `extend` a second) written and importable."""
    extend = int(request.param)
    folder = tmp_path_factory.mktemp(f"parents{extend}")
    model = folder / "auction_cached.yaml"
    model.write_text(_text(extend), encoding="utf-8")
    with scaffolded(model, folder / "out"):
        yield folder / "out", extend


def test_the_paths_are_keys_json_s() -> None:
    """Each generated path is the keys.json write path with `children`: its query, its key, its
    upkeep; the copy is copies.sql's block; nothing is left unrun (no PP812)."""
    for extend, upkeep in ((40, "update"), (400, "invalidate")):
        plan = plan_text(_text(extend), "auction_cached.yaml")
        files, warnings = scaffold(plan)
        assert "PP812" not in [w.code for w in warnings]
        keys = json.loads(render(plan)[0]["redis/keys.json"])
        paths = {w["write"]: w for w in keys["writes"] if "children" in w}
        assert paths["extend_item"]["children"]["upkeep"] == upkeep
        assert paths["extend_item"]["commands"][0][0] == ("EVAL" if upkeep == "update" else "DEL")
        assert paths["retitle_item"]["commands"] == [["DEL", "auction_cached:cache:bid:<id>"]]
        parents = files[f"{APP}/parents.py"]
        for write in ("extend_item", "retitle_item"):
            assert repr(paths[write]["children"]["query"]) in parents
        assert f"upkeep={upkeep!r}" in parents
        assert "bid_item_title__after_retitle_item" in parents
        copies = render(plan)[0]["relational/postgresql/copies.sql"]
        assert "UPDATE bid SET item_title=(SELECT item.title\nFROM item\nWHERE bid.item_id = item.id) WHERE" in copies
        assert "after_commit(stores, 'extend_item', after)" in files[f"{APP}/writes.py"]


@pytest.mark.redis
@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_parent_write_then_a_read_gives_the_new_value(package: tuple[Path, int], engine_name: str) -> None:
    _, extend = package
    models = importlib.import_module(f"{APP}.models")
    reads = importlib.import_module(f"{APP}.reads")
    writes = importlib.import_module(f"{APP}.writes")
    settings = importlib.import_module(f"{APP}.settings")
    relay = importlib.import_module(f"{APP}.relay")
    check = importlib.import_module(f"{APP}.check")
    plan = plan_text(_text(extend), "auction_cached.yaml")
    schema = render(plan)[0][f"relational/{engine_name}/schema.sql"]
    client = redis_connect(resolve_url("redis"))
    old, new = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, 12, 30, 15, 250000, tzinfo=UTC)
    items, bids = [uuid.uuid4() for _ in range(2)], [uuid.uuid4() for _ in range(3)]
    with scratch_database(resolve_url(engine_name)) as database, scratch_prefix(client) as prefix:
        apply_sql(database, schema)
        stores = settings.Stores(database, client, prefix)
        relay.install_outbox(stores)  # bids feed the cache: their writes add outbox events
        for item in items:
            writes.add_item(stores, models.Item(item, "old", old, 1))
        for bid, item in zip(bids, [items[0], items[0], items[1]], strict=True):
            writes.place_bid(stores, models.Bid(bid, "b", 5, old, "old", item))

        def key(bid: uuid.UUID) -> str:
            return f"{prefix}auction_cached:cache:bid:{key_part('uuid', bid)}"

        first = [reads.bid_by_id(stores, b) for b in bids]
        assert [(r.item_title, _utc(r.item_end_date)) for r in first] == [("old", old)] * 3
        assert all(client.exists(key(b)) for b in bids)  # filled

        assert writes.extend_item(stores, items[0], new) is not None
        if extend == 40:  # the field set in place: the answers stay cached, holding the new date
            assert all(client.exists(key(b)) for b in bids)
            held = json.loads(client.get(key(bids[0])).decode().split("|", 1)[1])
            assert _utc(datetime.fromisoformat(held["item_end_date"])) == new
        else:  # dropped: the next read refills them with the join
            assert not client.exists(key(bids[0])) and not client.exists(key(bids[1]))
            assert client.exists(key(bids[2]))
        again = [reads.bid_by_id(stores, b) for b in bids]
        assert [_utc(r.item_end_date) for r in again] == [new, new, old]
        assert again[0] == reads.bid_by_id(settings.Stores(database), bids[0])  # what the database answers

        assert writes.retitle_item(stores, items[0], "new") is not None
        assert not client.exists(key(bids[0])) and not client.exists(key(bids[1])) and client.exists(key(bids[2]))
        titled = [reads.bid_by_id(stores, b) for b in bids]
        assert [r.item_title for r in titled] == ["new", "new", "old"]  # copies.sql rewrote the rows
        assert [_utc(r.item_end_date) for r in titled] == [new, new, old]
        # A write of an item no bid references runs the paths over no child.
        assert writes.extend_item(stores, uuid.uuid4(), new) is None

        # The checker compares these answers, joined and copied fields included: clean now…
        relay.run(stores, once=True)  # the bids' insert events: their answers dropped, then read again
        assert [r.item_title for r in (reads.bid_by_id(stores, b) for b in bids)] == ["new", "new", "old"]
        findings = check.check(stores)
        assert findings.lines() == [] and findings.checked["cached answers"] == 3
        # …and an item changed behind the package (no write path run) leaves its bids' answers stale.
        with database.begin() as connection:
            behind = statement(
                "UPDATE item SET end_date = :end WHERE id = :id", {"end": "timestamptz", "id": "uuid"}, {}
            )
            connection.execute(behind, {"end": old, "id": items[0]})
        findings = check.check(stores)
        # Both differ from the database: stale, or within the bound when the bid's own insert event
        # committed less than a second before the answer was filled (the checker's slack).
        assert set(findings.stale) <= {f"bid_by_id {key(b)}" for b in bids[:2]}, findings.lines()
        assert len(findings.stale) + findings.within_bound == 2 and findings.checked["cached answers"] == 3


def test_the_package_is_clean_under_mypy_strict_and_ruff(package: tuple[Path, int]) -> None:
    folder, _ = package
    assert_clean([folder / APP])


def test_a_parent_write_run_from_writes_sql_names_the_path_it_does_not_run() -> None:
    """An update of items by predicate (writes.sql) changes end dates the cached bids join: the
    package runs the write but not the path (the rows written are not listed to it), one PP812 line."""
    text = _text(40).replace(
        "write_patterns:\n",
        "write_patterns:\n  - {name: extend_ending, entity: Item, kind: update, attributes: [end_date],"
        " where: [{attribute: end_date, op: lt}], rate: 1}\n",
    )
    _, warnings = scaffold(plan_text(text, "auction_cached.yaml"))
    (line,) = [w for w in warnings if w.code == "PP812"]
    assert line.path == "write_patterns.0" and "cache.bid.bid_by_id" in line.message, line.message

"""A cached answer holds the related field it joins (issue 12, PP471): the parent's writes that
change the field reach the cached answers of its children, by invalidation or by an update in
place, whichever the rates make cheaper; PP471 stays only where neither can be done.

The end-to-end check runs the emitted artifacts as an application would, on a real Redis and a
real relational system of record: fill the cache by reading through it (queries.sql's joining
statement on a miss), write the parent's field, run the parent's designed write path
(keys.json: its children query on the database, then its commands per child), and read through
the cache again: the new value, never the old one.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.plan.related_reads import EntryUpkeep
from polyplan.stores.cache import connect
from polyplan.stores.cache.commands import Context, RecordView, expand, families_by_template, fill
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_OK, run_validation
from tests.test_cache_redis import leftover_keys, write_folder

MODEL = Path(__file__).resolve().parent / "models" / "auction_reads.yaml"
CACHED_BID = (
    "  - {name: bid_by_id, entity: Bid, filters: [{attribute: id}], reads: [amount, item.title, item.end_date],"
    " rate: RATE, staleness_seconds: 30, consistency: eventual}\n"
)


EXTEND = "attributes: [end_date], rate: 40}"


def _text(extend: float = 40) -> str:
    """The auction model with Bid cached for a key lookup at 2,000 reads/s that joins item.end_date,
    which `extend` item writes a second change (20 bids an item)."""
    text = MODEL.read_text(encoding="utf-8").replace("cache: null", "cache: redis")
    assert EXTEND in text
    text = text.replace(EXTEND, EXTEND.replace("40", f"{extend:g}"))
    return text.replace("  - {name: item_by_id,", CACHED_BID.replace("RATE", "2000") + "  - {name: item_by_id,")


def _plan(extend: float = 40) -> Plan:
    return plan_text(_text(extend), "auction_reads.yaml")


def _entry(plan: Plan) -> EntryUpkeep | None:
    decision = next(d for d in plan.related_reads if d.pattern == "bid_by_id" and d.path.text == "item.end_date")
    return decision.entry


def _keys(plan: Plan) -> dict[str, Any]:
    files, _ = render(plan)
    return dict(json.loads(files["redis/keys.json"]))


def test_read_often_the_answers_are_updated_in_place() -> None:
    plan = _plan(40)
    assert _entry(plan) is EntryUpkeep.UPDATE
    files, diagnostics = render(plan)
    assert "PP471" not in [d.code for d in diagnostics]
    keys = json.loads(files["redis/keys.json"])
    family = next(k for k in keys["keys"] if k["name"] == "cache.bid.bid_by_id")
    assert "item_end_date" in [f["name"] for f in family["fields"]] and family["structure"] == "hash"
    (parent,) = [w for w in keys["writes"] if "children" in w and w["write"] == "extend_item"]
    assert (parent["write"], parent["entity"], parent["children"]["upkeep"]) == ("extend_item", "Item", "update")
    assert parent["children"]["query"] == "SELECT bid.id FROM bid WHERE bid.item_id = :id"
    assert parent["commands"][0][0] == "EVAL" and "HSET" in parent["commands"][0][1]
    # retitle_item changes the copied title (copies.sql rewrites the rows), never the joined end
    # date: its path drops the answers holding the copy (test_a_retitled_item_drops_…).
    assert [w["write"] for w in keys["writes"] if w["entity"] == "Item"] == ["extend_item", "retitle_item"]
    assert (
        "the parent's writes update the cached answers of its children because the cached answers are read "
        in (files["plan.md"])
    )


def test_written_more_than_read_the_answers_are_invalidated() -> None:
    """At 10× the item writes, 8,000 answers changed/s against 2,000 reads/s: a rewrite would
    mostly touch answers nobody reads before the next change."""
    plan = _plan(400)
    assert _entry(plan) is EntryUpkeep.INVALIDATE
    (parent,) = [w for w in _keys(plan)["writes"] if "children" in w and w["write"] == "extend_item"]
    assert parent["commands"] == [["DEL", "auction_reads:cache:bid:<id>"]]
    decision = next(d for d in plan.related_reads if d.pattern == "bid_by_id" and d.path.text == "item.end_date")
    assert "change more often than they are read" in decision.entry_reason
    assert decision.as_data()["cache_entry"] == {"upkeep": "invalidate", "reason": decision.entry_reason}


def test_two_hops_away_pp471_stays_with_its_reason() -> None:
    text = _text().replace(
        "  Bid:\n",
        "  Seller:\n    attributes:\n      region: {type: string, max_length: 20}\n"
        "    growth: {initial_rows: 1000}\n  Bid:\n",
        1,
    )
    text = text.replace(
        "relationships:\n",
        "relationships:\n  - {name: seller, kind: one_to_many, from: Seller, to: Item, avg_children: 100}\n",
    )
    text = text.replace("reads: [amount, item.title, item.end_date],", "reads: [amount, item.seller.region],")
    text = text.replace(
        "write_patterns:\n",
        "write_patterns:\n  - {name: move_seller, entity: Seller, kind: update, attributes: [region], rate: 50}\n",
    )
    plan = plan_text(text, "auction_reads.yaml")
    decision = next(d for d in plan.related_reads if d.pattern == "bid_by_id")
    assert not decision.copied and decision.entry is None
    (warned,) = [d for d in render(plan)[1] if d.code == "PP471"]
    assert "item.seller.region is 2 hops away" in warned.message


def _end_date(value: Any) -> datetime:
    """A timestamp as the database or the cache gives it back (datetime or ISO text)."""
    if isinstance(value, bytes):
        value = value.decode()
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statement(queries: str, name: str) -> str:
    block = queries.split(f"-- name: {name}\n", 1)[1].split("\n\n", 1)[0]
    return "\n".join(line for line in block.splitlines() if not line.startswith("--")).rstrip(";")


class ReadThrough:
    """The application's read of bid_by_id through the cache, as keys.json's read path says."""

    def __init__(self, keys: dict[str, Any], queries: str, client: redis.Redis, database: sa.Engine) -> None:
        self.families = families_by_template(keys)
        self.family = next(k for k in keys["keys"] if k["name"] == "cache.bid.bid_by_id")
        self.sql = sa.text(_statement(queries, "bid_by_id"))
        self.client, self.database = client, database
        self.prefix = f"pptest-{uuid.uuid4().hex[:8]}:"
        self.misses = 0

    def key(self, bid: str) -> str:
        return self.prefix + fill(self.family["template"], RecordView({"id": bid}, {}))

    def end_date(self, bid: str) -> datetime:
        key = self.key(bid)
        cached = self.client.hgetall(key)
        if cached:
            return _end_date(cached[b"item_end_date"])
        self.misses += 1
        with self.database.connect() as connection:
            row = connection.execute(self.sql, {"id": bid}).mappings().one()
        fields = {name: str(value) for name, value in row.items() if value is not None}
        self.client.hset(key, mapping=fields)
        self.client.expire(key, int(self.family["ttl_seconds"]))
        return _end_date(row["item_end_date"])

    def title(self, bid: str) -> str:
        """The copied item_title through the cache (a hit, or the row read and cached)."""
        cached = self.client.hget(self.key(bid), "item_title")
        if cached is not None:
            return cached.decode()
        self.end_date(bid)  # fills the answer
        return str(self.client.hget(self.key(bid), "item_title").decode())

    def parent_written(self, write: dict[str, Any], item: str, end_date: datetime) -> None:
        """After the parent's commit: list its children on the database, run the commands per child."""
        children = write["children"]
        with self.database.connect() as connection:
            listed = connection.execute(sa.text(children["query"]), {"id": item}).mappings().all()
        for child in listed:
            view = RecordView({"id": str(child["id"]), children["field"]: str(end_date)}, {})
            context = Context(view, self.families, prefix=self.prefix)
            for command in write["commands"]:
                self.client.execute_command(*expand(command, context))


def _seed(database: sa.Engine, items: list[str], bids: list[str], end: datetime, title: str) -> None:
    """Two items (the first with two bids, the second with one), each bid copying its item's title."""
    with database.begin() as connection:
        for item in items:
            connection.execute(
                sa.text("INSERT INTO item (id, title, end_date, reserve) VALUES (:id, :title, :end, 1)"),
                {"id": item, "title": title, "end": end},
            )
        for bid, item in zip(bids, [items[0], items[0], items[1]], strict=True):
            connection.execute(
                sa.text(
                    "INSERT INTO bid (id, bidder, amount, placed_at, item_id, item_title) "
                    "VALUES (:id, 'b', 5, :at, :item, :title)"
                ),
                {"id": bid, "at": end, "item": item, "title": title},
            )


@pytest.mark.redis
@pytest.mark.parametrize("extend", [40, 400], ids=["update", "invalidate"])
@pytest.mark.parametrize("engine", [pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"])
def test_a_parent_write_then_a_read_through_the_cache_gives_the_new_value(engine: str, extend: float) -> None:
    plan = _plan(extend)
    files, _ = render(plan)
    keys = json.loads(files["redis/keys.json"])
    (write,) = [w for w in keys["writes"] if "children" in w and w["write"] == "extend_item"]
    client = connect.connect(resolve_url("redis"))
    old, new = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
    items, bids = [str(uuid.uuid4()) for _ in range(2)], [str(uuid.uuid4()) for _ in range(3)]
    with scratch_database(resolve_url(engine)) as database:
        apply_sql(database, files[f"relational/{engine}/schema.sql"])
        _seed(database, items, bids, old, "t")
        reader = ReadThrough(keys, files[f"relational/{engine}/queries.sql"], client, database)
        try:
            assert [reader.end_date(b) for b in bids] == [old] * 3 and reader.misses == 3
            with database.begin() as connection:  # extend_item, committed first
                connection.execute(
                    sa.text("UPDATE item SET end_date = :end WHERE id = :id"), {"end": new, "id": items[0]}
                )
            reader.parent_written(write, items[0], new)
            if write["children"]["upkeep"] == "invalidate":
                assert not client.exists(reader.key(bids[0])) and not client.exists(reader.key(bids[1]))
            assert [reader.end_date(b) for b in bids] == [new, new, old]
            # The untouched item's bid stayed cached; the others were misses only when invalidated.
            assert reader.misses == 3 + (2 if write["children"]["upkeep"] == "invalidate" else 0)
        finally:
            for bid in bids:
                client.delete(reader.key(bid))
            client.close()


@pytest.mark.redis
@pytest.mark.parametrize("extend", [40, 400], ids=["update", "invalidate"])
def test_generated_redis_tests_check_the_parent_writes(extend: float, tmp_path: Path) -> None:
    folder = write_folder(_plan(extend), tmp_path / "auction")
    assert "def test_parent_writes_reach_cached_answers" in (folder / "tests" / "test_redis.py").read_text("utf-8")
    url = resolve_url("redis")
    assert run_validation(folder, "redis", url) == EXIT_OK
    assert leftover_keys(url) == []


@pytest.mark.redis
@pytest.mark.parametrize("engine", [pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"])
def test_a_retitled_item_drops_the_cached_answers_holding_its_copied_title(engine: str) -> None:
    """item.title is copied onto the bids (copies.sql rewrites them when the item is retitled); the
    cached bid answers hold the copy, so retitle_item's path drops them after the commit. Before,
    no path did: the answers kept the old title until their TTL."""
    plan = _plan()
    files, _ = render(plan)
    keys = json.loads(files["redis/keys.json"])
    (write,) = [w for w in keys["writes"] if "children" in w and w["write"] == "retitle_item"]
    assert write["commands"] == [["DEL", "auction_reads:cache:bid:<id>"]]
    assert write["children"]["field"] == "item_title" and write["children"]["upkeep"] == "invalidate"
    client = connect.connect(resolve_url("redis"))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    items, bids = [str(uuid.uuid4()) for _ in range(2)], [str(uuid.uuid4()) for _ in range(3)]
    with scratch_database(resolve_url(engine)) as database:
        apply_sql(database, files[f"relational/{engine}/schema.sql"])
        _seed(database, items, bids, moment, "old")
        reader = ReadThrough(keys, files[f"relational/{engine}/queries.sql"], client, database)
        try:
            assert [reader.title(b) for b in bids] == ["old"] * 3 and reader.misses == 3
            with database.begin() as connection:  # retitle_item and its copies.sql block, one commit
                connection.execute(sa.text("UPDATE item SET title = 'new' WHERE id = :id"), {"id": items[0]})
                connection.execute(sa.text("UPDATE bid SET item_title = 'new' WHERE item_id = :id"), {"id": items[0]})
            reader.parent_written(write, items[0], moment)
            assert not client.exists(reader.key(bids[0])) and not client.exists(reader.key(bids[1]))
            assert [reader.title(b) for b in bids] == ["new", "new", "old"]
            assert reader.misses == 5  # the untouched item's bid stayed cached
        finally:
            for bid in bids:
                client.delete(reader.key(bid))
            client.close()

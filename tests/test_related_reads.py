"""Reads of related fields (issue 12: "`reads` of related fields (copied or joined)", and the
defect "Denormalization ignores the write rate"): one decision per (pattern, path) by cost, the
runner-up explained, a plan that drops copies when the parent's writes grow 100×, and the joined
field returning what the oracle reaches on the real engines."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.plan.related_reads import Choice
from polyplan.seed.generate import generate
from polyplan.stores.relational.connect import apply_sql, scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES

MODEL = Path(__file__).resolve().parent / "models" / "auction_reads.yaml"
TEXT = MODEL.read_text(encoding="utf-8")


def _hundredfold(text: str) -> str:
    """The same auction with every Item update 100× as frequent."""
    text = text.replace("attributes: [title], rate: 0.5}", "attributes: [title], rate: 50}")
    return text.replace("attributes: [end_date], rate: 40}", "attributes: [end_date], rate: 4000}")


def _choices(text: str) -> dict[str, Choice]:
    plan = plan_text(text, "auction_reads.yaml")
    return {d.path.text: d.chosen.choice for d in plan.related_reads}


def test_the_copy_goes_when_the_parent_is_written_100_times_more() -> None:
    assert _choices(TEXT) == {"item.title": Choice.COPY, "item.end_date": Choice.JOIN}
    assert _choices(_hundredfold(TEXT)) == {"item.title": Choice.JOIN, "item.end_date": Choice.JOIN}


def test_costs_and_runner_up_are_recorded_and_explained() -> None:
    plan = plan_text(TEXT, "auction_reads.yaml")
    title = next(d for d in plan.related_reads if d.path.text == "item.title")
    # join: 100 reads/s × 20 rows × 1 hop; copy: 0.5 retitles/s × 20 bids × 4, plus the GBs added.
    assert title.runner_up is not None and title.runner_up.choice is Choice.JOIN
    assert title.runner_up.cost == pytest.approx(2000.0)
    assert title.chosen.cost == pytest.approx(40.0, abs=0.1)
    assert (title.fan_out, title.worst_fan_out) == (20.0, 400.0)
    files, _ = render(plan)
    md = files["plan.md"]
    assert re.search(r"item\.title: copied \(cost 40\.0\) over join \(cost 2,000\.0\) because ", md)
    assert re.search(r"item\.end_date: joined \(cost 2,000\.0\) over copy \(cost 3,200\.0\) because ", md)
    data = json.loads(files["plan.json"])["related_reads"]
    assert [(d["path"], d["chosen"]["choice"], d["runner_up"]["choice"]) for d in data] == [
        ("item.title", "copy", "join"),
        ("item.end_date", "join", "copy"),
    ]
    assert data[0]["copy"] == "Bid.item_title" and data[0]["kept_by"] == ["Item.retitle_item"]


def test_relational_query_reads_the_copy_and_joins_the_rest() -> None:
    files, _ = render(plan_text(TEXT, "auction_reads.yaml"))
    sql = files["relational/postgresql/queries.sql"]
    assert "SELECT bid.amount, bid.placed_at, bid.item_title, item.end_date AS item_end_date" in sql
    assert "FROM bid JOIN item AS item ON bid.item_id = item.id" in sql
    assert re.search(r"item_title VARCHAR\(80\) NOT NULL", files["relational/postgresql/schema.sql"])
    fewer, _ = render(plan_text(_hundredfold(TEXT), "auction_reads.yaml"))
    assert "item_title" not in fewer["relational/postgresql/schema.sql"]
    assert "item.title AS item_title, item.end_date AS item_end_date" in fewer["relational/postgresql/queries.sql"]


def test_seeded_copies_hold_their_parents_value() -> None:
    model = plan_text(TEXT, "auction_reads.yaml").model
    records = generate(model, {"Item": 30, "Bid": 200}, seed=3)
    titles = {item["id"]: item["title"] for item in records["Item"]}
    assert all(bid["item_title"] == titles[bid["item_id"]] for bid in records["Bid"])


def _placed(family: str) -> str:
    """The auction with Bid placed in `family` (MongoDB or Cassandra run), Item relational."""
    text = TEXT.replace("document: null", "document: mongodb").replace("wide_column: null", "wide_column: cassandra")
    return text.replace("  Bid:\n", f"  Bid:\n    placement: {{family: {family}}}\n")


@pytest.mark.parametrize(("family", "words"), [("wide_column", "a Cassandra query table"), ("document", "$lookup")])
def test_a_store_without_joins_must_copy_and_states_the_fan_out_pp470(family: str, words: str) -> None:
    plan = plan_text(_placed(family), "auction_reads.yaml")
    assert {d.path.text: (d.chosen.choice, d.runner_up) for d in plan.related_reads} == {
        "item.title": (Choice.COPY, None),
        "item.end_date": (Choice.COPY, None),
    }
    files, diagnostics = render(plan)
    warned = [d for d in diagnostics if d.code == "PP470"]
    assert len(warned) == 2
    assert "rewrites 20.0 Bid rows on average and up to 400 (800.0 rows/s in all)" in warned[1].message
    assert words in files["plan.md"]
    emitted = files["cassandra/schema.cql"] if family == "wide_column" else files["mongodb/collections/bid.json"]
    assert "item_title" in emitted and "item_end_date" in emitted


@pytest.mark.parametrize(
    ("family", "engine"),
    [
        pytest.param("document", "mongodb", marks=pytest.mark.mongodb),
        pytest.param("wide_column", "cassandra", marks=pytest.mark.cassandra),
    ],
)
def test_the_copied_fields_pass_the_generated_tests_of_a_store_without_joins(
    family: str, engine: str, tmp_path: Path
) -> None:
    """MongoDB (FerretDB here) and Cassandra hold the copies as a field and as columns of the query
    table; their generated tests load, query and read them back."""
    model = tmp_path / "auction_reads.yaml"
    model.write_text(_placed(family), encoding="utf-8")
    out = tmp_path / "plan"
    write_plan(model, out)
    assert run_validation(out, engine, resolve_url(engine)) == 0


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("auction_reads")
    write_plan(MODEL, out)
    return out


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_tests_read_the_joined_and_copied_fields_on_the_real_engine(folder: Path, engine: str) -> None:
    module = (folder / "tests" / f"test_{engine}.py").read_text(encoding="utf-8")
    assert "recent_bids_of_bidder" in module
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


def _statement(text: str, name: str) -> str:
    block = text.split(f"-- name: {name}\n", 1)[1].split("\n\n", 1)[0]
    return "\n".join(line for line in block.splitlines() if not line.startswith("--")).rstrip(";")


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_copies_sql_keeps_the_copy_after_the_parent_changes(engine: str) -> None:
    """The application's write set of copies.sql, run on the real engine: after a retitle, only
    the children of the retitled item carry the new title; a new bid gets its item's title."""
    files, _ = render(plan_text(TEXT, "auction_reads.yaml"))
    copies = files[f"relational/{engine}/copies.sql"]
    # item.end_date is joined, not copied: nothing keeps it.
    assert "item_end_date" not in copies
    with scratch_database(resolve_url(engine)) as database:
        apply_sql(database, files[f"relational/{engine}/schema.sql"])
        # A uuid as its 32 hex digits: the text every engine's key column takes (MariaDB's is CHAR(32)).
        items = [(uuid.UUID(int=i).hex, f"title {i}") for i in (1, 2)]
        when = datetime(2026, 1, 1)
        with database.begin() as connection:
            for key, title in items:
                connection.execute(
                    sa.text("INSERT INTO item (id, title, end_date, reserve) VALUES (:id, :t, :d, 1)"),
                    {"id": key, "t": title, "d": when},
                )
            for n in range(6):
                connection.execute(
                    sa.text(
                        "INSERT INTO bid (id, bidder, amount, placed_at, item_id, item_title) "
                        "VALUES (:id, 'b', :n, :d, :item, 'stale')"
                    ),
                    {"id": uuid.UUID(int=100 + n).hex, "n": n + 1, "d": when, "item": items[n % 2][0]},
                )
            connection.execute(sa.text(_statement(copies, "bid_item_title__backfill")))
            connection.execute(sa.text("UPDATE item SET title = 'renamed' WHERE id = :id"), {"id": items[0][0]})
            connection.execute(
                sa.text(_statement(copies, "bid_item_title__after_retitle_item")), {"item_id": items[0][0]}
            )
            rows = connection.execute(sa.text("SELECT item_id, item_title FROM bid")).all()
        assert sorted({(str(i).replace("-", ""), t) for i, t in rows}) == [
            (items[0][0], "renamed"),
            (items[1][0], "title 2"),
        ]
        assert len(rows) == 6
        with database.begin() as connection:
            new = uuid.UUID(int=200).hex
            connection.execute(
                sa.text(
                    "INSERT INTO bid (id, bidder, amount, placed_at, item_id, item_title) "
                    "VALUES (:id, 'b', 9, :d, :item, 'stale')"
                ),
                {"id": new, "d": when, "item": items[1][0]},
            )
            connection.execute(sa.text(_statement(copies, "bid_item_title__on_write")), {"id": new})
            got = connection.execute(sa.text("SELECT item_title FROM bid WHERE id = :id"), {"id": new}).scalar_one()
        assert got == "title 2"


def _search_text() -> str:
    """The auction with a full-text read of bids, answered by an OpenSearch projection."""
    text = TEXT.replace("search: null", "search: opensearch")
    text = text.replace(
        "      bidder: {type: string, max_length: 40, distinct: 5000}\n",
        "      bidder: {type: string, max_length: 40, distinct: 5000}\n      note: {type: text, avg_length: 400}\n",
    )
    return text.replace(
        "  - {name: item_by_id,",
        "  - {name: bids_search, entity: Bid, filters: [{attribute: note, op: fulltext}], limit: 20,"
        " reads: [amount, item.title], rate: 30}\n  - {name: item_by_id,",
    )


def test_a_search_projection_gets_the_copy_in_its_mapping_pp470() -> None:
    plan = plan_text(_search_text(), "auction_reads.yaml")
    searched = next(d for d in plan.related_reads if d.pattern == "bids_search")
    assert (searched.chosen.choice, searched.runner_up) == (Choice.COPY, None)
    files, diagnostics = render(plan)
    mapping = json.loads(files["opensearch/bid.template.json"])["template"]["mappings"]["properties"]
    assert "item_title" in mapping
    (warned,) = [d for d in diagnostics if d.code == "PP470"]
    assert "relational/postgresql/copies.sql rewrites them" in warned.message
    assert "search projection follows the rewritten rows through its sync" in warned.message


def test_allowed_staleness_coalesces_the_copys_upkeep() -> None:
    text = TEXT.replace("attributes: [end_date], rate: 40}", "attributes: [end_date], rate: 4000}")
    fresh = {d.path.text: d for d in plan_text(text, "auction_reads.yaml").related_reads}
    stale = text.replace("    rate: 100\n", "    rate: 100\n    staleness_seconds: 7200\n    consistency: eventual\n")
    late = {d.path.text: d for d in plan_text(stale, "auction_reads.yaml").related_reads}
    # 4,000 end-date changes/s over 100,000 items: within two hours each item's changes are written once.
    assert fresh["item.end_date"].upkeep_writes == pytest.approx(4000 * 20)
    assert late["item.end_date"].upkeep_writes == pytest.approx(100_000 / 7200 * 20)
    assert (fresh["item.end_date"].chosen.choice, late["item.end_date"].chosen.choice) == (Choice.JOIN, Choice.COPY)


def test_a_cached_read_whose_field_is_joined_holds_it_in_the_cached_answer() -> None:
    """The cached answer holds item.end_date (tests/test_cache_related.py runs it on the servers);
    PP471 is left for what no entry can hold (two hops away, there)."""
    text = TEXT.replace("cache: null", "cache: redis").replace(
        "  - {name: item_by_id,",
        "  - {name: bid_by_id, entity: Bid, filters: [{attribute: id}], reads: [amount, item.title, item.end_date],"
        " rate: 2000, staleness_seconds: 30, consistency: eventual}\n  - {name: item_by_id,",
    )
    plan = plan_text(text, "auction_reads.yaml")
    assert [p.patterns for p in plan.entities["Bid"].projections] == [("bid_by_id",)]
    decided = {d.path.text: d for d in plan.related_reads if d.pattern == "bid_by_id"}
    assert decided["item.title"].copied and not decided["item.end_date"].copied
    assert decided["item.end_date"].entry is not None and decided["item.title"].entry is None
    assert not [d for d in render(plan)[1] if d.code == "PP471"]


def test_a_two_hop_copy_follows_the_grandparent_on_sqlite() -> None:
    """`item.seller.region` copied into Bid: after a seller's region changes, the statement run
    with that seller's key rewrites the bids below its items, and no other bid."""
    text = TEXT.replace(
        "  Bid:\n",
        "  Seller:\n    attributes:\n      region: {type: string, max_length: 20}\n"
        "    growth: {initial_rows: 1000}\n  Bid:\n",
        1,
    )
    text = text.replace(
        "relationships:\n",
        "relationships:\n  - {name: seller, kind: one_to_many, from: Seller, to: Item, avg_children: 100}\n",
    )
    text = text.replace("item.title, item.end_date]", "item.title, item.end_date, item.seller.region]")
    text = text.replace(
        "write_patterns:\n",
        "write_patterns:\n  - {name: move_seller, entity: Seller, kind: update, attributes: [region], rate: 0.01}\n",
    )
    plan = plan_text(text, "auction_reads.yaml")
    region = next(d for d in plan.related_reads if d.path.text == "item.seller.region")
    assert region.copied and region.causes == ("Seller.move_seller",)
    files, _ = render(plan)
    after = _statement(files["relational/sqlite/copies.sql"], "bid_item_seller_region__after_move_seller")
    with scratch_database("sqlite://") as database:
        apply_sql(database, files["relational/sqlite/schema.sql"])
        with database.begin() as connection:
            connection.execute(sa.text("INSERT INTO seller (id, region) VALUES ('s1', 'north'), ('s2', 'south')"))
            connection.execute(
                sa.text(
                    "INSERT INTO item (id, title, end_date, reserve, seller_id) VALUES "
                    "('i1', 't', '2026-01-01', 1, 's1'), ('i2', 't', '2026-01-01', 1, 's2')"
                )
            )
            for number, item in enumerate(["i1", "i1", "i2"]):
                connection.execute(
                    sa.text(
                        "INSERT INTO bid (id, bidder, amount, placed_at, item_id, item_title, item_seller_region) "
                        "VALUES (:id, 'x', 1, '2026-01-01', :item, 't', 'old')"
                    ),
                    {"id": f"b{number}", "item": item},
                )
            connection.execute(sa.text("UPDATE seller SET region = 'west' WHERE id = 's1'"))
            connection.execute(sa.text(after), {"seller_id": "s1"})
            rows = connection.execute(sa.text("SELECT id, item_seller_region FROM bid ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("b0", "west"), ("b1", "west"), ("b2", "old")]

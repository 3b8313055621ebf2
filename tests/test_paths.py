"""Relationship paths in filters and sorts (issues 12 and 14): `item.end_date` on a read of Bid.

The model test (tests/models/auction_paths.yaml) filters and sorts through one and two hops.
Design tests read what is resolved and emitted; the real-engine tests run the generated modules,
whose oracle follows each path on the seeded rows (SQLite, PostgreSQL, MariaDB); a query that
drops or loosens the path predicate must fail them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.model.derived import pattern_named
from polyplan.model.paths import PathError, planning_model, resolve
from polyplan.model.schema import FilterOp, TypeName
from polyplan.pipeline import plan_text, render
from polyplan.plan.ir import Plan
from polyplan.testkit import resolve_url
from polyplan.validate.paths import path_parameters
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

MODEL = Path(__file__).resolve().parent / "models" / "auction_paths.yaml"
TEXT = MODEL.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_text(TEXT, "auction_paths.yaml")


@pytest.fixture(scope="module")
def emitted(plan: Plan) -> dict[str, str]:
    files, _ = render(plan)
    return files


def test_a_path_resolves_to_its_hops_the_entity_reached_and_the_attribute_type(plan: Plan) -> None:
    path = resolve(plan.model, "Bid", "item.seller.region_code")
    assert [(h.relationship, h.source, h.target, h.pairs) for h in path.hops] == [
        ("item", "Bid", "Item", (("item_id", "id"),)),
        ("seller", "Item", "Seller", (("seller_id", "id"),)),
    ]
    assert (path.target, path.attribute, path.kind.type, path.slug) == (
        "Seller",
        "region_code",
        TypeName.STRING,
        "item_seller_region_code",
    )
    # A hop may also be named after the entity it reaches (region_sellers leads to Region).
    assert resolve(plan.model, "Seller", "region.name").hops[0].relationship == "region_sellers"
    with pytest.raises(PathError) as to_many:
        resolve(plan.model, "Item", "item.amount")
    assert to_many.value.code == "PP326"


def test_the_planning_model_keeps_the_local_predicate_at_the_same_position(plan: Plan) -> None:
    reads = {r.name: r for r in plan.loaded.paths}
    assert sorted(reads) == [
        "bids_ending_after",
        "bids_of_open_items_by_rating",
        "big_bids_in_region",
        "items_in_region",
    ]
    local = pattern_named(plan.model, "items_in_region")
    assert local is not None and [f.attribute for f in local.filters] == ["status"]
    # A path filter is applied after the store's read: the limit cannot be applied before it,
    # while the sort on the entity's own attribute stays.
    assert local.limit is None and [s.attribute for s in local.sort] == ["end_date"]
    ending = pattern_named(plan.model, "bids_ending_after")
    assert ending is not None and ending.filters == [] and ending.sort == [] and ending.limit is None
    assert plan.model.access_patterns[reads["bids_ending_after"].position].name == "bids_ending_after"
    assert planning_model(plan.model, ()) is plan.model


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_relational_queries_join_along_the_foreign_keys(emitted: dict[str, str], engine: str) -> None:
    text = emitted[f"relational/{engine}/queries.sql"]
    join = "INNER JOIN" if engine == "mysql" else "JOIN"  # MySQL's compiler spells the inner join out
    assert f"FROM bid {join} item AS item ON bid.item_id = item.id\nWHERE item.end_date > :item_end_date_above" in text
    assert "-- param :item_seller_region_code  item.seller.region_code (eq)" in text
    assert f"{join} seller AS item_seller ON item.seller_id = item_seller.id" in text
    assert "ORDER BY item.end_date, bid.placed_at DESC\n LIMIT 50;" in text


def test_the_index_design_serves_each_leg_of_the_join(emitted: dict[str, str]) -> None:
    schema = emitted["relational/postgresql/schema.sql"]
    # The parents' filter columns with the key covered, then the children's references.
    assert "CREATE INDEX ix_item_end_date ON item (end_date) INCLUDE (id);" in schema
    assert "CREATE INDEX ix_seller_region_code ON seller (region_code) INCLUDE (id);" in schema
    assert "CREATE INDEX ix_bid_item_id ON bid (item_id);" in schema
    plan_md = emitted["docs/index-plan.md"]
    assert "| `bids_ending_after__via_item` | `item` | end_date range |" in plan_md
    assert "| `bids_ending_after` | `bid` | item_id = |" in plan_md


def test_a_relational_join_needs_no_warning(plan: Plan) -> None:
    _, diagnostics = render(plan)
    assert not [d for d in diagnostics if d.code in ("PP417", "PP418")]


def _documents(rate: float) -> str:
    model = TEXT.replace("document: null,", "document: mongodb,")
    for entity in ("Item", "Bid"):
        model = model.replace(
            f"  {entity}:\n    attributes:", f"  {entity}:\n    placement: {{family: document}}\n    attributes:"
        )
    return model.replace("attributes: [end_date], rate: 2}", f"attributes: [end_date], rate: {rate:g}}}")


def test_a_store_that_cannot_join_gets_the_copy_design() -> None:
    _, diagnostics = render(plan_text(_documents(2), "auction_paths.yaml"))
    warned = [d for d in diagnostics if d.code == "PP417"]
    assert {d.path for d in warned} == {
        "access_patterns.0",
        "access_patterns.1",
        "access_patterns.2",
        "access_patterns.3",
    }
    ending = next(d.message for d in warned if d.message.startswith("bids_ending_after"))
    # Bid has 10 rows per Item: each of the 2 end-date changes a second rewrites 10 copies.
    assert (
        "copy Item.end_date into Bid.item_end_date, updated on every Item.extend_item (20.0 child writes/s)" in ending
    )
    assert not [d for d in diagnostics if d.code == "PP418"]


def test_a_copy_of_a_hot_parent_attribute_is_ruled_out_with_its_rates() -> None:
    _, diagnostics = render(plan_text(_documents(200), "auction_paths.yaml"))
    costly = [d.message for d in diagnostics if d.code == "PP418"]
    assert costly == [
        "bids_ending_after: a copy of Item.end_date in Bid would cost 2,000.0 child writes/s (Item.extend_item) for "
        "40 reads/s, over the 400.0/s a copy is worth; join in a relational store, or look the parents up at read time"
    ]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(TEXT, "auction_paths.yaml", tmp_path_factory.mktemp("auction"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_path_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("WHERE item.end_date > :item_end_date_above", "WHERE item.end_date < :item_end_date_above"),
        (
            "item_seller.region_code = :item_seller_region_code AND",
            "item_seller.region_code >= :item_seller_region_code AND",
        ),
        (
            "item_seller.region_code = :item_seller_region_code AND",
            "item_seller.region_code <= :item_seller_region_code AND",
        ),
        ("ORDER BY item.end_date, bid.placed_at DESC", "ORDER BY item.end_date DESC, bid.placed_at DESC"),
        ("WHERE item.status = 'open' AND", "WHERE item.status = 'closed' AND"),
        # A lost or changed LIMIT: the seeded data holds a case with more matches than the limit
        # (through the relationship for the path equality: one seller's items; a path bound that
        # leaves more than the limit through for the path range).
        ("item.status = 'open' ORDER BY item.end_date\n LIMIT 20;", "item.status = 'open' ORDER BY item.end_date;"),
        ("bid.placed_at DESC\n LIMIT 50;", "bid.placed_at DESC\n LIMIT 40;"),
    ],
)
def test_a_query_that_loses_the_path_fails_the_generated_test(
    folder: Path, tmp_path: Path, before: str, after: str
) -> None:
    assert break_and_validate(folder, tmp_path / "plan", "relational/sqlite/queries.sql", before, after) == 1


def test_paths_through_a_self_reference_and_both_sides_of_a_one_to_one(tmp_path: Path) -> None:
    text = (MODEL.parent / "staff_paths.yaml").read_text(encoding="utf-8")
    folder = plan_folder(text, "staff_paths.yaml", tmp_path)
    queries = (folder / "relational" / "sqlite" / "queries.sql").read_text(encoding="utf-8")
    assert "FROM employee JOIN employee AS manager ON employee.employee_id = manager.id" in queries
    assert "FROM employee JOIN badge AS badge ON employee.id = badge.employee_id" in queries  # parent to child
    assert "FROM badge JOIN employee AS employee ON badge.employee_id = employee.id" in queries
    # The generated tests follow each path (a prefix, an IN list, a sort on the manager's name).
    assert run_validation(folder, "sqlite", None) == 0


def test_a_path_equality_binds_a_value_with_others_above_and_below() -> None:
    """The most frequent reached value is the largest here: bound to it, a query whose `=` became
    `>=` would return the same rows. A value inside the range tells `=`, `>=` and `<=` apart."""
    reached_values = ["EU", "US", "US", "US", "APAC", None]
    ((kind, value),) = path_parameters(reached_values, FilterOp.EQ) or ()
    assert (kind, value) == ("eq", "EU")
    assert path_parameters(["US", "US", "EU"], FilterOp.EQ) == (("eq", "US"),)  # two values: the most frequent

"""The height of a B-tree in the index cost model (sizing.btree_levels, index_costs.levels).

A lookup reads one page per level from the root to its first leaf. The height follows the
index's leaf pages — the entry width, PostgreSQL 13+'s deduplication of a repeated key, the
primary key InnoDB's secondary entries carry — and its inner pages' fan-out, so two indexes of
one table can differ by a level: on Epinions (bench/oltp/), the expert's deduplicated
`review (i_id)` is two pages a lookup where polyplan's unique `(i_id, u_id)` is three
(docs/benchmarks.md, "Where the buffers go"). Checked against the real PostgreSQL's `bt_metap`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.pipeline import plan_file, plan_text
from polyplan.plan.ir import Plan
from polyplan.stores.relational.cardinality import Cardinalities
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.index_costs import levels
from polyplan.stores.relational.index_load import DesignContext, table_load
from polyplan.stores.relational.index_select import _counts
from polyplan.stores.relational.indexes import index_plan_of
from polyplan.stores.relational.sizing import btree_levels
from polyplan.stores.relational.spec import TableSpec
from polyplan.testkit import resolve_url
from tests.conftest import ROOT

MODEL = """\
name: heights
engines: {document: null, cache: null, search: null, wide_column: null}
options: {relational_dialects: [postgresql]}
entities:
  Review:
    key: {attributes: [a_id], kind: natural}
    attributes:
      a_id: {type: integer}
      u_id: {type: integer}
      i_id: {type: integer}
      code: {type: string, max_length: 60, avg_length: 40}
    unique: [[i_id, u_id]]
    growth: {initial_rows: 150000}
  Coded:
    key: {attributes: [code], kind: natural}
    attributes:
      code: {type: string, max_length: 60, avg_length: 40}
      i_id: {type: integer}
    growth: {initial_rows: 150000}
"""


def _tables(tmp_path: Path) -> tuple[Plan, dict[str, TableSpec]]:
    path = tmp_path / "heights.yaml"
    path.write_text(MODEL)
    plan = plan_file(path)
    tables, _ = design_schema(plan)
    return plan, {t.name: t for t in tables}


# (index, rows, key columns, unique, distinct keys): rows i_id = g mod keys + 1, u_id = g ÷ keys,
# code = md5(g) + 8 digits (40 characters), inserted in random order into the indexed table.
CASES = [
    ("ix_i", 150_000, ("i_id",), False, 10_000),  # 15 rows a key: posting lists, 2 levels
    ("uq_iu", 150_000, ("i_id", "u_id"), True, 150_000),  # not deduplicated: 3 levels
    ("uq_code", 100_000, ("code",), True, 100_000),  # 40-byte keys: a fan-out of ~95, 3 levels
    ("ix_small", 300, ("i_id",), False, 300),  # one leaf, which is the root
    ("ix_i2", 20_000, ("i_id",), False, 10_000),
    ("uq_iu2", 40_000, ("i_id", "u_id"), True, 40_000),  # under one inner page's fan-out: 2
]


def test_the_height_follows_key_width_and_deduplication_on_postgresql(tmp_path: Path) -> None:
    """Each index built on the real PostgreSQL (keys in random order, as the model assumes for a
    natural key): its root's level + 1 (`bt_metap`) is the model's levels. On PostgreSQL 15:
    2, 3, 3, 1, 2, 2, with 209, 581, 1115, 2, 75 and 149 pages."""
    from polyplan.stores.relational.connect import scratch_database

    plan, tables = _tables(tmp_path)
    review = tables["review"]
    sizing = plan.sizing("postgresql")
    measured: dict[str, int] = {}
    with scratch_database(resolve_url("postgresql")) as database, database.begin() as connection:
        connection.exec_driver_sql("CREATE EXTENSION pageinspect")
        for name, rows, columns, unique, keys in CASES:
            connection.exec_driver_sql(
                f"CREATE TABLE {name} (a_id integer NOT NULL, u_id integer NOT NULL, "
                "i_id integer NOT NULL, code varchar(60) NOT NULL)"
            )
            connection.exec_driver_sql(
                f"CREATE {'UNIQUE ' if unique else ''}INDEX {name}_x ON {name} ({', '.join(columns)})"
            )
            connection.exec_driver_sql("SELECT setseed(0.42)")
            connection.exec_driver_sql(
                f"INSERT INTO {name} SELECT g, g / {keys}, mod(g, {keys}) + 1, md5(g::text) || lpad(g::text, 8, '0') "
                f"FROM generate_series(0, {rows} - 1) g ORDER BY random()"
            )
            level = connection.exec_driver_sql(f"SELECT level FROM bt_metap('{name}_x')").scalar_one()
            measured[name] = int(level) + 1
    modelled = {
        name: btree_levels(review, columns, rows, keys, unique, "postgresql", sizing)
        for name, rows, columns, unique, keys in CASES
    }
    assert modelled == measured
    assert measured["uq_iu"] == measured["ix_i"] + 1


def test_a_unique_rule_is_a_level_taller_than_a_deduplicated_prefix(tmp_path: Path) -> None:
    """Epinions' shape without a server: the same rows, one level apart; INCLUDE columns rule
    deduplication out, so they make the (i_id) index as tall as the unique rule."""
    plan, tables = _tables(tmp_path)
    review = tables["review"]
    sizing = plan.sizing("postgresql")
    plain = btree_levels(review, ("i_id",), 150_000, 10_000, False, "postgresql", sizing)
    assert plain == 2
    assert btree_levels(review, ("i_id", "u_id"), 150_000, 150_000, True, "postgresql", sizing) == 3
    assert btree_levels(review, ("i_id",), 150_000, 10_000, False, "postgresql", sizing, ("u_id",)) == 3
    # Growth adds levels; an empty or tiny index is its root.
    assert btree_levels(review, ("i_id",), 0, 0, False, "postgresql", sizing) == 1
    assert btree_levels(review, ("i_id", "u_id"), 50_000_000, 50_000_000, True, "postgresql", sizing) == 4


def test_innodb_secondary_entries_carry_the_primary_key(tmp_path: Path) -> None:
    """InnoDB: a secondary (i_id) entry holds the primary key, so the same index over the same
    rows is taller under a 40-character key than under an integer one; the primary key's own
    leaves are the rows."""
    plan, tables = _tables(tmp_path)
    sizing = plan.sizing("mysql")
    by_integer = btree_levels(tables["review"], ("i_id",), 150_000, 10_000, False, "mysql", sizing)
    by_code = btree_levels(tables["coded"], ("i_id",), 150_000, 10_000, False, "mysql", sizing)
    assert (by_integer, by_code) == (2, 3)
    assert btree_levels(tables["review"], ("a_id",), 150_000, 150_000, True, "mysql", sizing) == 3


def design_context(plan: Plan) -> DesignContext:
    """The index design's context for `plan`'s designed tables: loads and distinct counts."""
    tables, _ = design_schema(plan)
    by_name = {t.name: t for t in tables}
    ctx = DesignContext(plan, by_name, {})
    for table in tables:
        ctx.loads[table.name] = table_load(ctx, table)
    ctx.card = Cardinalities(by_name, {name: load.rows for name, load in ctx.loads.items()})
    return ctx


def test_the_cost_model_reads_each_index_at_its_own_height() -> None:
    """Epinions' review table as the index design sees it (153,529 rows, 10,000 items, 20,000
    users): the unique (i_id, u_id) the item reads go through is three levels, a deduplicated
    (i_id) or (u_id) two, where the old estimate (1 + log256 rows) gave every index 3.15."""
    ctx = design_context(plan_file(ROOT / "bench" / "oltp" / "epinions.yaml"))
    by_name = ctx.tables
    review = by_name["review"]
    assert levels(ctx, review, ("i_id", "u_id"), True) == 3
    assert levels(ctx, review, ("i_id",), False) == 2
    assert levels(ctx, review, ("u_id",), False) == 2
    assert levels(ctx, by_name["item"], ("i_id",), True) == 2  # 10,000 rows: 13 leaves under a root


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_levels_never_fall_as_rows_grow(tmp_path: Path, engine: str) -> None:
    plan, tables = _tables(tmp_path)
    sizing = plan.sizing(engine)
    found = [
        btree_levels(tables["review"], ("i_id", "u_id"), rows, rows, True, engine, sizing)
        for rows in (10, 1_000, 100_000, 10_000_000, 1_000_000_000)
    ]
    assert found == sorted(found)
    assert found[0] == 1 and found[-1] >= 4


def test_epinions_takes_the_shorter_item_index_that_no_write_touches_and_says_why() -> None:
    """Issue 14's question on Epinions: should the item's reads get a deduplicated (i_id) index
    beside the unique (i_id, u_id)? The model sees it a level shorter (2 against 3); an item has
    ~15 reviews, each a heap page in the model: ≈ 17.4 pages against ≈ 18.4, short of the 2× a
    new index must save. But no write touches (i_id) (reviews are never inserted or deleted here,
    the rating update leaves it alone: no entries, no HOT update ended), so the saving counts from
    half a page a read (index_select._counts) and the net benefit decides: taken, and the item
    reads the unique rule answered go through it too (PostgreSQL takes it for them: branch oltp18's
    run with the index added). The (item, user) update stays on the unique rule."""
    plan = plan_file(ROOT / "bench" / "oltp" / "epinions.yaml")
    tables, _ = design_schema(plan)
    review = next(t for t in tables if t.name == "review")
    assert [i.name for i in review.indexes] == ["ix_review_i_id", "ix_review_u_id"]
    assert review.uniques == (("i_id", "u_id"),)
    index_plan = index_plan_of(review)
    assert index_plan is not None
    routes = {r.pattern: r.index or r.via for r in index_plan.routes}
    item_reads = ("reviews_of_item", "all_reviews_of_item", "item_average_rating")
    assert {routes[name] for name in item_reads} == {"ix_review_i_id"}
    assert routes["update_review_rating"] == "unique (i_id, u_id)"
    metric = next(m for m in index_plan.metrics if m.name == "ix_review_i_id")
    assert metric.write_cost == 0 and not metric.hot
    saved = {name: (now, through) for name, _, now, through in metric.reads}
    assert set(saved) == set(item_reads)
    now, through = saved["reviews_of_item"]
    assert round(now, 1) == 18.4 and round(through, 1) == 17.4  # one level, less a leaf's fraction
    # The same for a user's trust statements, which the key (source_u_id, target_u_id) answered
    # by its prefix: a candidate of their own (index_candidates.frame_of), no write touches it.
    trust = next(t for t in tables if t.name == "trust")
    assert [i.name for i in trust.indexes] == ["ix_trust_source_u_id"]
    trust_plan = index_plan_of(trust)
    assert trust_plan is not None
    assert {r.pattern: r.index for r in trust_plan.routes}["trust_of_user"] == "ix_trust_source_u_id"


def test_a_written_index_must_still_halve_a_read_to_count() -> None:
    """The same model with reviews inserted (1/s): every insert writes (i_id), so its one-level
    saving falls under the 2× bar again and the candidate is rejected with the numbers: the
    MIN_PAGES_SAVED path is only for an index no write touches."""
    text = (ROOT / "bench" / "oltp" / "epinions.yaml").read_text(encoding="utf-8")
    marker = "write_patterns:\n"
    assert marker in text
    text = text.replace(marker, marker + "  - {name: add_review, entity: Review, kind: insert, rate: 1}\n", 1)
    tables, _ = design_schema(plan_text(text, "epinions_inserts.yaml"))
    review = next(t for t in tables if t.name == "review")
    assert [i.name for i in review.indexes] == ["ix_review_u_id"]
    index_plan = index_plan_of(review)
    assert index_plan is not None
    assert (
        "ix_review_i_id: adds no read benefit over the indexes chosen (all_reviews_of_item: ≈ 17.4 pages a read "
        "through it against ≈ 18.4 now; a new index must cut a read's pages 2×, or 0.5 page if no write touches it)"
    ) in index_plan.rejected


@pytest.mark.parametrize(
    ("through", "now", "unwritten", "counts"),
    [
        (9.0, 18.0, False, True),  # halves the read
        (17.4, 18.4, False, False),  # a level of a written index: under 2×
        (17.4, 18.4, True, True),  # the same level of an index no write touches
        (1198.0, 1198.4, True, False),  # a leaf's fraction: under the half-page floor
    ],
)
def test_which_savings_count_for_a_candidate(through: float, now: float, unwritten: bool, counts: bool) -> None:
    assert _counts(through, now, unwritten) is counts


def test_a_lookup_of_a_whole_key_gets_no_candidate_and_no_copy_of_the_key_is_offered() -> None:
    """Needs a key answers by its prefix get candidates of their own (trust_of_user above); a need
    that fixes the whole key gets none, and a candidate that would only repeat a key or unique
    rule for needs it answers is not offered (it could save them nothing): saas' members are
    read by tenant ordered by email, which the unique (tenant_id, email) answers in full."""
    for model in (ROOT / "bench" / "oltp" / "epinions.yaml", ROOT / "scenarios" / "saas.yaml"):
        tables, _ = design_schema(plan_file(model))
        for table in tables:
            index_plan = index_plan_of(table)
            if index_plan is None:
                continue
            keys = [tuple(table.primary_key), *table.uniques]
            offered = [r.split(":", 1)[0] for r in index_plan.rejected] + [i.name for i in table.indexes]
            copies = {f"ix_{table.name}_{'_'.join(key)}" for key in keys}
            assert not copies & set(offered), (model.name, table.name)

"""What serves each access pattern, in which store (issue 12: "the planner prints, for every
pattern, which structure serves it in which store, and for any pattern left without a structure
that meets its latency at its rate, a coded warning"). Pure: no server."""

from __future__ import annotations

import json
from pathlib import Path

from polyplan.emit.serving import Serving, serving, unserved_warnings
from polyplan.model.derived import pattern_positions
from polyplan.pipeline import plan_file, render
from polyplan.plan.ir import Plan
from polyplan.stores import target_for
from polyplan.stores.designs import Designs
from polyplan.stores.relational.indexes import index_plan_of
from polyplan.stores.relational.spec import TableSpec
from tests.test_cli_planning import run_polyplan, table_rows

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "scenarios" / "shop.yaml"
COUNTERS = ROOT / "scenarios" / "counters.yaml"


def _serving(path: Path) -> list[dict[str, object]]:
    files, _ = render(plan_file(path))
    rows: list[dict[str, object]] = json.loads(files["plan.json"])["serving"]
    return rows


def test_every_pattern_has_a_row_with_the_store_that_answers_it() -> None:
    plan = plan_file(SHOP)
    rows = _serving(SHOP)
    answered = [row["pattern"] for row in rows if row["role"] == "answers"]
    assert answered == [p.name for p in plan.model.access_patterns]
    by_pattern = {(row["pattern"], row["role"]): row for row in rows}
    # The cached lookup: Redis answers, the system of record's unique index takes the misses.
    assert by_pattern["product_by_sku", "answers"]["store"] == "cache (redis)"
    miss = by_pattern["product_by_sku", "on a cache miss"]
    assert miss["store"] == "relational (postgresql)" and str(miss["structure"]).startswith("unique (sku) of product")
    assert by_pattern["search_products", "answers"]["store"] == "search (elasticsearch)"
    # The relational rows name the index the index design routed the pattern to, with its estimate.
    files, _ = render(plan)
    (designed,) = [
        route
        for table in _relational_tables(plan)
        if (index_plan := index_plan_of(table)) is not None
        for route in index_plan.routes
        if route.pattern == "orders_of_customer"
    ]
    row = by_pattern["orders_of_customer", "answers"]
    assert designed.index is not None and designed.index in str(row["structure"])
    assert row["estimated_ms"] == designed.estimated_ms and row["served"] is True
    # The warnings raised at a pattern's place are listed beside it.
    # Neither PP501 nor PP421: the ordered walk over updated_at meets its 50 ms on every dialect
    # (index_needs.walk_need), so MariaDB and SQLite do not read every row for the tag.
    assert by_pattern["products_tagged", "answers"]["warnings"] == []
    assert "docs/access-patterns.md" in files
    assert (
        "| `products_tagged` | Product | 60 | 50 | relational (postgresql) | answers |"
        in files["docs/access-patterns.md"]
    )


def _designs(plan: Plan) -> Designs:
    """Every family's design, as the pipeline hands them on."""
    handed = [target_for(family).emit(plan).design for family in plan.families_used()]
    return Designs.of(design for design in handed if design is not None)


def _relational_tables(plan: Plan) -> tuple[TableSpec, ...]:
    design = _designs(plan).relational
    assert design is not None
    return design.tables


def test_every_family_names_its_own_structure() -> None:
    rows = {row["pattern"]: row for row in _serving(COUNTERS) if row["role"] == "answers"}
    assert rows["views_of_article"]["structure"] == "table views_of_article"  # a Cassandra query table
    assert rows["profile_by_handle"]["structure"] == "index handle_1 of profile"  # a MongoDB index
    assert str(rows["article_by_slug"]["structure"]).startswith("HGETALL on key family")  # a Redis hash
    assert all(row["served"] for row in rows.values())


def test_a_pattern_read_without_a_structure_and_no_other_warning_gets_pp467() -> None:
    plan = plan_file(SHOP)
    scan = Serving("cart_by_session", "Cart", "document (mongodb)", "answers", "collection cart scan", False)
    (warning,) = unserved_warnings(plan, [scan], [])
    assert (
        warning.code == "PP467"
        and warning.path == f"access_patterns.{pattern_positions(plan.model)['cart_by_session']}"
    )
    assert "collection cart scan" in warning.message
    # Said once per pattern, and not where a store's own warning already names the pattern …
    assert len(unserved_warnings(plan, [scan, scan], [])) == 1
    assert unserved_warnings(plan, [scan], [warning]) == []
    # … nor for a scan the store estimates within the target, nor for the rows behind a cache.
    small = Serving("cart_by_session", "Cart", "relational (postgresql)", "answers", "cart scan", False, 0.5)
    assert unserved_warnings(plan, [small], []) == []
    miss = Serving("cart_by_session", "Cart", "relational (postgresql)", "on a cache miss", "cart scan", False)
    assert unserved_warnings(plan, [miss], []) == []


def test_no_bundled_scenario_leaves_a_pattern_unserved_in_silence() -> None:
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        plan = plan_file(scenario)
        files, diagnostics = render(plan)
        rows = json.loads(files["plan.json"])["serving"]
        assert all(row["served"] or row["warnings"] for row in rows), scenario.name
        assert unserved_warnings(plan, serving(plan, _designs(plan)), diagnostics) == []


def test_explain_patterns_prints_the_table_and_json() -> None:
    shown = run_polyplan("explain", str(SHOP), "Order", "--patterns")
    assert shown.returncode == 0, shown.stderr
    rows = table_rows(shown.stdout)
    assert [row[0] for row in rows] == ["orders_of_customer", "order_with_lines", "open_orders_by_date"]
    assert rows[0][1] == "relational (postgresql)" and "ix_order_customer_id" in rows[0][3]
    as_json = run_polyplan("explain", str(SHOP), "--patterns", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["patterns"] == _serving(SHOP)

"""Aggregates over joins (issue 14): an aggregate that groups by, or filters on, an attribute a
to-one relationship reaches (`avg(total) group_by customer.region`).

Design tests read the relational queries and the index plan of a model of our own; the real-engine
tests run the generated modules, which follow each path on the seeded rows and compare every
group's value with the GROUP BY over the join (SQLite, PostgreSQL, MariaDB); a store that cannot
join gets PP443.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from polyplan.pipeline import plan_text, render
from polyplan.stores.relational.path_queries import path_legs
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

REGIONS = textwrap.dedent(
    """
    name: regions
    engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
    options: {relational_dialects: [postgresql, mysql, sqlite]}
    entities:
      Customer:
        attributes:
          name: {type: string, max_length: 40}
          region: {type: enum, values: [north, south, east, west]}
          tier: {type: integer, min: 1, max: 3}
        growth: {initial_rows: 20000}
      Order:
        attributes:
          total: {type: decimal, precision: 10, scale: 2, min: 0, max: 5000}
          placed_at: {type: timestamp}
        growth: {initial_rows: 500000, rows_per_day: 2000}
    relationships:
      - {name: customer_orders, kind: one_to_many, from: Customer, to: Order}
    access_patterns:
      - name: average_total_by_region
        entity: Order
        filters: [{attribute: placed_at, op: ge}]
        aggregate: {function: avg, attribute: total, group_by: [customer.region]}
        sort: [{attribute: customer.region, direction: desc}]
        rate: 5
      - name: revenue_of_region
        entity: Order
        filters: [{attribute: customer.region}]
        aggregate: {function: sum, attribute: total}
        rate: 5
      - name: orders_per_tier_of_customer
        entity: Order
        filters: [{attribute: customer_id}]
        aggregate: {function: count, group_by: [customer.tier]}
        rate: 50
    """
)


@pytest.fixture(scope="module")
def emitted() -> dict[str, str]:
    files, _ = render(plan_text(REGIONS, "regions.yaml"))
    return files


def query(files: dict[str, str], engine: str, name: str) -> str:
    text = files[f"relational/{engine}/queries.sql"]
    block = text[text.index(f"-- name: {name}\n") :]
    return " ".join(line for line in block.split(";")[0].splitlines() if not line.startswith("--"))


def test_a_group_through_a_path_joins_and_groups_by_the_reached_column(emitted: dict[str, str]) -> None:
    sql = query(emitted, "postgresql", "average_total_by_region")
    assert sql == (
        'SELECT customer.region AS customer_region, avg("order".total) AS avg_total '
        'FROM "order" JOIN customer AS customer ON "order".customer_id = customer.id '
        'WHERE "order".placed_at >= :placed_at_from GROUP BY customer.region ORDER BY customer.region DESC'
    )
    assert "-- columns: customer_region, avg_total" in emitted["relational/postgresql/queries.sql"]


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_a_filter_through_a_path_on_an_aggregate_joins_in_every_dialect(emitted: dict[str, str], engine: str) -> None:
    sql = query(emitted, engine, "revenue_of_region")
    assert "JOIN customer AS customer ON" in sql and "WHERE customer.region = :customer_region" in sql
    assert sql.startswith("SELECT sum(") and "GROUP BY" not in sql


def test_the_index_design_groups_the_own_table_by_the_reference() -> None:
    plan = plan_text(REGIONS, "regions.yaml")
    reads = {read.name: read for read in plan.loaded.paths}
    legs = path_legs(plan.model, reads["orders_per_tier_of_customer"])
    # An equality on the pattern's own table: one leg, grouped by the reference the path joins on.
    assert len(legs) == 1 and legs[0].aggregate is not None and legs[0].aggregate.group_by == ["customer_id"]
    legs = path_legs(plan.model, reads["revenue_of_region"])
    assert [leg.name for leg in legs] == ["revenue_of_region__via_customer", "revenue_of_region"]
    assert legs[1].aggregate is not None and legs[1].aggregate.group_by == []


def test_the_index_plan_routes_each_leg(emitted: dict[str, str]) -> None:
    plan = emitted["docs/index-plan.md"]
    assert "| `orders_per_tier_of_customer` | `order` | customer_id = |" in plan
    assert "| `revenue_of_region__via_customer` | `customer` | region = |" in plan


def test_a_store_that_cannot_join_warns_pp443() -> None:
    model = REGIONS.replace("document: null, ", "").replace(
        "    growth: {initial_rows: 500000", "    placement: {family: document}\n    growth: {initial_rows: 500000"
    )
    _, diagnostics = render(plan_text(model, "regions.yaml"))
    warned = {d.path: d.message for d in diagnostics if d.code == "PP443"}
    assert sorted(warned) == [f"access_patterns.{i}.aggregate" for i in range(3)]
    assert (
        "cannot join along customer.region (Customer.region) to compute avg per group"
        in warned["access_patterns.0.aggregate"]
    )
    # PP417 (the copy of the reached value) is said for the paths the rows are filtered or sorted by.
    copies = sorted(d.path for d in diagnostics if d.code == "PP417")
    assert copies == ["access_patterns.0", "access_patterns.1"]


def test_a_relational_join_needs_no_pp443() -> None:
    _, diagnostics = render(plan_text(REGIONS, "regions.yaml"))
    assert not [d for d in diagnostics if d.code in ("PP443", "PP417", "PP326")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(REGIONS, "regions.yaml", tmp_path_factory.mktemp("regions"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_aggregate_path_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # Grouped by another column of the parent.
        ("customer.region AS customer_region", "customer.name AS customer_region"),
        # The path filter turned around (the oracle binds the region most orders reach, which may
        # also be the greatest, so a >= could not be told from = here).
        ("WHERE customer.region = :customer_region", "WHERE customer.region <> :customer_region"),
        # Another function.
        ("count(*) AS count", "count(DISTINCT customer.tier) AS count"),
    ],
)
def test_a_wrong_aggregate_over_a_join_fails_the_generated_test(
    folder: Path, tmp_path: Path, before: str, after: str
) -> None:
    assert break_and_validate(folder, tmp_path / "plan", "relational/sqlite/queries.sql", before, after) == 1

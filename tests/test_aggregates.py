"""Aggregating read patterns (issues 12 and 14): `aggregate: {function, attribute, group_by}`.

Design tests read the relational queries and indexes emitted for a sales model of our own; the
real-engine tests run the generated modules, which compare each GROUP BY query's groups and values
with what the oracle computes from the rows the pattern's filters select (SQLite, PostgreSQL, MariaDB).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from polyplan.model.schema import json_schema
from polyplan.pipeline import plan_text, render
from polyplan.plan.aggregates import rows_read
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation
from tests.conftest import RELATIONAL_ENGINES, break_and_validate, plan_folder

SALES = textwrap.dedent(
    """
    name: sales
    engines: {relational: postgresql, document: null, cache: null, search: null, wide_column: null}
    options: {relational_dialects: [postgresql, mysql, sqlite]}
    entities:
      Sale:
        attributes:
          shop: {type: string, max_length: 20, distinct: 40}
          category: {type: enum, values: [food, toys, books]}
          buyer: {type: string, max_length: 30}
          amount: {type: decimal, precision: 10, scale: 2, min: 0, max: 1000}
          quantity: {type: integer, min: 1, max: 20}
          sold_at: {type: timestamp}
        growth: {initial_rows: 5000000, rows_per_day: 50000}
    access_patterns:
      - name: revenue_by_category
        entity: Sale
        filters: [{attribute: shop}, {attribute: sold_at, op: range}]
        aggregate: {function: sum, attribute: amount, group_by: [category]}
        sort: [{attribute: category}]
        rate: 200
      - {name: sales_of_shop, entity: Sale, filters: [{attribute: shop}], aggregate: {function: count}, rate: 50}
      - name: buyers_per_category
        entity: Sale
        filters: [{attribute: sold_at, op: ge}]
        aggregate: {function: count_distinct, attribute: buyer, group_by: [category]}
        rate: 1
      - name: average_basket
        entity: Sale
        filters: [{attribute: category, value: toys}]
        aggregate: {function: avg, attribute: quantity, group_by: [shop]}
        sort: [{attribute: shop, direction: desc}]
        limit: 5
        rate: 2
      - {name: largest_sale, entity: Sale, filters: [{attribute: shop}], aggregate: {function: max, attribute: sold_at},
         rate: 20}
    """
)


@pytest.fixture(scope="module")
def emitted() -> dict[str, str]:
    files, _ = render(plan_text(SALES, "sales.yaml"))
    return files


def test_the_json_schema_describes_aggregates() -> None:
    definitions = json_schema()["$defs"]
    assert definitions["AccessPattern"]["properties"]["aggregate"]["anyOf"][0] == {"$ref": "#/$defs/Aggregate"}
    assert definitions["AggregateFunction"]["enum"] == ["count", "sum", "avg", "min", "max", "count_distinct"]


def test_an_aggregate_reads_its_rows_grouped_in_order_unless_a_range_bounds_them_better() -> None:
    patterns = plan_text(SALES, "sales.yaml").model.access_patterns
    ranged = rows_read(patterns[0])  # shop =, sold_at range: the range bounds the rows, groups in memory
    assert ranged.sort == [] and ranged.reads == ["category", "amount"]
    limited = rows_read(patterns[3])  # the first 5 groups: walked in group order
    assert [(s.attribute, s.direction.value) for s in limited.sort] == [("shop", "desc")]
    extreme = rows_read(patterns[4])  # max(sold_at): one index entry
    assert [(s.attribute, s.direction.value) for s in extreme.sort] == [("sold_at", "desc")] and extreme.limit == 1


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_relational_queries_group_and_aggregate(emitted: dict[str, str], engine: str) -> None:
    text = emitted[f"relational/{engine}/queries.sql"]
    assert "SELECT sale.category, sum(sale.amount) AS sum_amount" in text
    assert "GROUP BY sale.category ORDER BY sale.category ASC;" in text
    assert "SELECT count(*) AS count\nFROM sale\nWHERE sale.shop = :shop;" in text
    assert "count(DISTINCT sale.buyer) AS count_distinct_buyer" in text
    assert "GROUP BY sale.shop ORDER BY sale.shop DESC\n LIMIT 5;" in text


def test_the_index_design_covers_the_grouped_read(emitted: dict[str, str]) -> None:
    schema = emitted["relational/postgresql/schema.sql"]
    # shop =, the range on sold_at, the grouped and summed columns covered: no table row is read.
    # The same index, walked from its first entry, answers max(sold_at) of a shop.
    assert "CREATE INDEX ix_sale_shop_sold_at ON sale (shop, sold_at DESC) INCLUDE (category, amount);" in schema
    plan = emitted["docs/index-plan.md"]
    assert "largest_sale" in plan and "revenue_by_category" in plan


def test_other_stores_warn_that_the_application_aggregates() -> None:
    model = SALES.replace("engines: {relational: postgresql, document: null,", "engines: {relational: postgresql,")
    model = model.replace(
        "    growth: {initial_rows: 5000000",
        "    placement: {family: document}\n    growth: {initial_rows: 5000000",
    )
    _, diagnostics = render(plan_text(model, "sales.yaml"))
    warned = sorted(d.path for d in diagnostics if d.code == "PP416")
    assert warned == [f"access_patterns.{i}.aggregate" for i in range(5)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_folder(SALES, "sales.yaml", tmp_path_factory.mktemp("sales"))


@pytest.mark.parametrize("engine", RELATIONAL_ENGINES)
def test_generated_aggregate_tests_pass_on_the_engine(folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("sum(sale.amount)", "max(sale.amount)"),  # another function
        ("ORDER BY sale.shop DESC", "ORDER BY sale.shop ASC"),  # another order, so other groups kept
        ("WHERE sale.shop = :shop;", "WHERE sale.shop >= :shop;"),  # a lost equality
    ],
)
def test_a_wrong_aggregate_fails_the_generated_test(folder: Path, tmp_path: Path, before: str, after: str) -> None:
    assert break_and_validate(folder, tmp_path / "plan", "relational/sqlite/queries.sql", before, after) == 1

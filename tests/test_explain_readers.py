"""Negative tests of the EXPLAIN and catalog readers the generated index tests rely on
(`polyplan.stores.relational.explain`), on recorded plans: no server needed.

Each engine's reader must accept a plan that searches the designed index on its leading columns
and reject a table scan, a scan of the whole index (no index condition), an index on other
columns and a plan that uses another index. If the reader were replaced by one that accepts
everything, the rejections here fail: that is what keeps the generated tests able to fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyplan.stores.relational import explain
from polyplan.stores.relational.explain import (
    Expectation,
    IndexShape,
    KeyPart,
    MySQLColumn,
    index_problems,
    mysql_key_part_length,
    plan_problems,
)

# orders_of_customer: customer_id =, ORDER BY placed_at DESC, served by ix_order_customer_id.
ORDERS = Expectation(table="order", names=frozenset({"ix_order_customer_id"}), condition=("customer_id",))
COVERED = Expectation(
    table="order", names=frozenset({"ix_order_customer_id"}), condition=("customer_id",), covering=True
)
# open_orders_by_date on MariaDB: the partial index's constant leads the key (status, placed_at).
BY_DATE = Expectation(
    table="order", names=frozenset({"ix_order_placed_at_where_status"}), condition=("status", "placed_at")
)
# A pattern that only sorts (ORDER BY placed_at DESC LIMIT 20): walking the index in order is the design.
LATEST = Expectation(table="order", names=frozenset({"ix_order_placed_at"}))


def pg(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """An `EXPLAIN (FORMAT JSON)` document around one plan tree."""
    return [{"Plan": plan}]


def limit(child: dict[str, Any]) -> dict[str, Any]:
    return {"Node Type": "Limit", "Plans": [child]}


PG_INDEX_SCAN = pg(
    limit(
        {
            "Node Type": "Index Scan",
            "Relation Name": "order",
            "Index Name": "ix_order_customer_id",
            "Index Cond": "(customer_id = 'b8d7c9a0-0c2f-4c55-9b1e-4f2a1d3c5e77'::uuid)",
        }
    )
)
PG_INDEX_ONLY = pg(
    {
        "Node Type": "Sort",
        "Plans": [
            {
                "Node Type": "Index Only Scan",
                "Relation Name": "order",
                "Index Name": "ix_order_customer_id",
                "Index Cond": '("order".customer_id = $1)',
            }
        ],
    }
)
# The index read end to end for its order, the filter applied to every row: no Index Cond.
PG_FULL_INDEX_SCAN = pg(
    limit(
        {
            "Node Type": "Index Scan",
            "Relation Name": "order",
            "Index Name": "ix_order_customer_id",
            "Filter": "(status = 'paid'::text)",
        }
    )
)
PG_OTHER_INDEX = pg(
    {
        "Node Type": "Index Scan",
        "Relation Name": "order",
        "Index Name": "uq_order_number",
        "Index Cond": "(number = 'A-1'::text)",
        "Filter": "(customer_id = 'b8d7c9a0-0c2f-4c55-9b1e-4f2a1d3c5e77'::uuid)",
    }
)
PG_SEQ_SCAN = pg(
    limit(
        {
            "Node Type": "Sort",
            "Plans": [
                {
                    "Node Type": "Seq Scan",
                    "Relation Name": "order",
                    "Filter": "(customer_id = 'b8d7c9a0-0c2f-4c55-9b1e-4f2a1d3c5e77'::uuid)",
                }
            ],
        }
    )
)
PG_SORT_ONLY = pg(limit({"Node Type": "Index Scan", "Relation Name": "order", "Index Name": "ix_order_placed_at"}))
PG_BITMAP = pg(
    {
        "Node Type": "Bitmap Heap Scan",
        "Relation Name": "order",
        "Recheck Cond": "(customer_id = 'b8d7c9a0-0c2f-4c55-9b1e-4f2a1d3c5e77'::uuid)",
        "Plans": [
            {
                "Node Type": "Bitmap Index Scan",
                "Index Name": "ix_order_customer_id",
                "Index Cond": "(customer_id = 'b8d7c9a0-0c2f-4c55-9b1e-4f2a1d3c5e77'::uuid)",
            }
        ],
    }
)
# The right index, searched on a column that is not its leading designed one.
PG_WRONG_CONDITION = pg(
    {
        "Node Type": "Index Scan",
        "Relation Name": "order",
        "Index Name": "ix_order_customer_id",
        "Index Cond": "(placed_at > '2024-01-01 00:00:00+00'::timestamp with time zone)",
    }
)
# A literal that spells the column's name must not pass for a condition on it.
PG_NAME_IN_LITERAL = pg(
    {
        "Node Type": "Index Scan",
        "Relation Name": "order",
        "Index Name": "ix_order_customer_id",
        "Index Cond": "(note = 'customer_id'::text)",
    }
)


@pytest.mark.parametrize(
    ("plan", "expect"),
    [(PG_INDEX_SCAN, ORDERS), (PG_INDEX_ONLY, COVERED), (PG_BITMAP, ORDERS), (PG_SORT_ONLY, LATEST)],
    ids=["index-scan", "index-only-covering", "bitmap-on-the-index", "full-index-scan-for-sort-only"],
)
def test_postgresql_accepts_a_search_of_the_designed_index(plan: list[dict[str, Any]], expect: Expectation) -> None:
    assert plan_problems("postgresql", plan, expect) == []


@pytest.mark.parametrize(
    ("plan", "expect", "message"),
    [
        (PG_FULL_INDEX_SCAN, ORDERS, "not searched on customer_id"),
        (PG_OTHER_INDEX, ORDERS, "none of ['ix_order_customer_id'] is used"),
        (PG_SEQ_SCAN, ORDERS, "sequential scan of order"),
        (PG_WRONG_CONDITION, ORDERS, "not searched on customer_id"),
        (PG_NAME_IN_LITERAL, ORDERS, "not searched on customer_id"),
        (PG_INDEX_SCAN, COVERED, "not index-only"),
        (PG_BITMAP, COVERED, "not index-only"),
    ],
    ids=[
        "full-index-scan",
        "other-index",
        "seq-scan",
        "other-column",
        "name-in-literal",
        "not-covering",
        "bitmap-not-covering",
    ],
)
def test_postgresql_rejects(plan: list[dict[str, Any]], expect: Expectation, message: str) -> None:
    problems = plan_problems("postgresql", plan, expect)
    assert any(message in p for p in problems), problems


def test_postgresql_condition_on_a_quoted_column() -> None:
    expect = Expectation(table="task", names=frozenset({"ix_task_order"}), condition=("order",))
    plan = pg({"Node Type": "Index Scan", "Index Name": "ix_task_order", "Index Cond": '("order" = 3)'})
    assert plan_problems("postgresql", plan, expect) == []
    # `"order".status`: the table named order qualifies another column; it is not a condition on order.
    qualified = pg({"Node Type": "Index Scan", "Index Name": "ix_task_order", "Index Cond": '("order".status = 3)'})
    assert plan_problems("postgresql", qualified, expect) != []


# --- MariaDB/MySQL ---------------------------------------------------------------------------


def my(
    kind: str, key: str | None, key_len: str | None, extra: str = "Using where", table: str = "order"
) -> dict[str, Any]:
    """One MariaDB EXPLAIN row."""
    return {
        "id": 1,
        "select_type": "SIMPLE",
        "table": table,
        "type": kind,
        "possible_keys": key,
        "key": key,
        "key_len": key_len,
        "ref": "const" if kind == "ref" else None,
        "rows": 12,
        "Extra": extra,
    }


# Key parts of ix_order_customer_id: CHAR(32) utf8mb4 (128 bytes), then id CHAR(32), ...
ORDER_PARTS = {"ix_order_customer_id": [128, 128, 82, 38, 6, 8]}
# ix_order_placed_at_where_status on MariaDB: status VARCHAR(9) (4 × 9 + 2), placed_at DATETIME(6).
DATE_PARTS = {"ix_order_placed_at_where_status": [38, 8]}


@pytest.mark.parametrize(
    ("rows", "expect", "parts"),
    [
        ([my("ref", "ix_order_customer_id", "128")], ORDERS, ORDER_PARTS),
        ([my("ref", "ix_order_customer_id", "128", "Using where; Using index")], COVERED, ORDER_PARTS),
        ([my("range", "ix_order_placed_at_where_status", "46", "Using index condition")], BY_DATE, DATE_PARTS),
        ([my("ref", "ix_order_customer_id", "128")], ORDERS, None),
        ([my("index", "ix_order_placed_at", "8", "")], LATEST, None),
    ],
    ids=["ref", "ref-covering", "range-on-both-parts", "ref-without-catalog", "index-for-sort-only"],
)
def test_mysql_accepts_a_search_of_the_designed_index(
    rows: list[dict[str, Any]], expect: Expectation, parts: dict[str, list[int | None]] | None
) -> None:
    assert plan_problems("mysql", rows, expect, parts) == []


@pytest.mark.parametrize(
    ("rows", "expect", "message"),
    [
        ([my("index", "ix_order_customer_id", "128", "Using where")], ORDERS, "type index"),
        ([my("ALL", None, None)], ORDERS, "type ALL"),
        ([my("ref", "uq_order_number", "82")], ORDERS, "none of ['ix_order_customer_id'] is used"),
        # Searched on status alone: the range on placed_at is checked row by row.
        ([my("ref", "ix_order_placed_at_where_status", "38")], BY_DATE, "searched on 1 key part(s)"),
        ([my("ref", "ix_order_customer_id", "77")], ORDERS, "not the length of any prefix"),
        ([my("ref", "ix_order_customer_id", "128", "Using index condition")], COVERED, "not index-only"),
        ([my("ref", "ix_order_customer_id", "128", table="order_line")], ORDERS, "order is not in the plan"),
    ],
    ids=["type-index", "type-all", "other-index", "short-key-len", "odd-key-len", "not-covering", "other-table"],
)
def test_mysql_rejects(rows: list[dict[str, Any]], expect: Expectation, message: str) -> None:
    parts = {**ORDER_PARTS, **DATE_PARTS}
    problems = plan_problems("mysql", rows, expect, parts)
    assert any(message in p for p in problems), problems


def test_mysql_index_merge_reads_the_matching_key_len() -> None:
    rows = [my("index_merge", "uq_order_number,ix_order_customer_id", "82,128", "Using union(...)")]
    assert plan_problems("mysql", rows, ORDERS, ORDER_PARTS) == []
    short = [my("index_merge", "uq_order_number,ix_order_customer_id", "82,0", "Using union(...)")]
    assert plan_problems("mysql", short, ORDERS, ORDER_PARTS) != []


def test_mysql_fulltext_must_be_searched() -> None:
    expect = Expectation(table="post", names=frozenset({"ix_post_body_fts"}), fulltext=True)
    assert plan_problems("mysql", [my("fulltext", "ix_post_body_fts", "0", table="post")], expect) == []
    assert plan_problems("mysql", [my("index", "ix_post_body_fts", "0", table="post")], expect) != []


@pytest.mark.parametrize(
    ("column", "length"),
    [
        (MySQLColumn("char", octet_length=128, max_length=32), 128),
        (MySQLColumn("varchar", octet_length=36, max_length=9), 38),
        (MySQLColumn("varchar", nullable=True, octet_length=80, max_length=20), 83),
        (MySQLColumn("datetime", datetime_precision=6), 8),
        (MySQLColumn("datetime", datetime_precision=0, nullable=True), 6),
        (MySQLColumn("decimal", precision=12, scale=2), 6),
        (MySQLColumn("int"), 4),
        (MySQLColumn("bigint", nullable=True), 9),
        (MySQLColumn("tinyint"), 1),
        (MySQLColumn("date"), 3),
        (MySQLColumn("longtext", octet_length=4294967295, max_length=4294967295, sub_part=255), 257),
        (MySQLColumn("json"), None),
    ],
)
def test_mysql_key_part_lengths(column: MySQLColumn, length: int | None) -> None:
    assert mysql_key_part_length(column) == length


# --- SQLite ----------------------------------------------------------------------------------


SQLITE_SEARCH = ["SEARCH order USING INDEX ix_order_customer_id (customer_id=?)", "USE TEMP B-TREE FOR ORDER BY"]
SQLITE_COVERING_SEARCH = ["SEARCH order USING COVERING INDEX ix_order_customer_id (customer_id=?)"]
SQLITE_FULL_INDEX_SCAN = ["SCAN order USING COVERING INDEX ix_order_customer_id"]
SQLITE_TABLE_SCAN = ["SCAN order", "USE TEMP B-TREE FOR ORDER BY"]
SQLITE_OTHER_INDEX = ["SEARCH order USING INDEX uq_order_number (number=?)"]
# An index with the designed name but other columns: searched, on the wrong column.
SQLITE_WRONG_COLUMNS = ["SEARCH order USING INDEX ix_order_customer_id (status=?)"]


@pytest.mark.parametrize(
    ("details", "expect"),
    [
        (SQLITE_SEARCH, ORDERS),
        (SQLITE_COVERING_SEARCH, COVERED),
        (
            ["SEARCH order USING INDEX ix_order_placed_at_where_status (status=? AND placed_at>? AND placed_at<?)"],
            BY_DATE,
        ),
        (["SCAN order USING INDEX ix_order_placed_at"], LATEST),
    ],
    ids=["search", "covering-search", "search-on-two-columns", "index-scan-for-sort-only"],
)
def test_sqlite_accepts_a_search_of_the_designed_index(details: list[str], expect: Expectation) -> None:
    assert plan_problems("sqlite", details, expect) == []


@pytest.mark.parametrize(
    ("details", "expect", "message"),
    [
        (SQLITE_FULL_INDEX_SCAN, COVERED, "not searched on customer_id"),
        (SQLITE_FULL_INDEX_SCAN, ORDERS, "not searched on customer_id"),
        (SQLITE_TABLE_SCAN, ORDERS, "full scan of order"),
        (SQLITE_OTHER_INDEX, ORDERS, "none of ['ix_order_customer_id'] is used"),
        (SQLITE_WRONG_COLUMNS, ORDERS, "not searched on customer_id"),
        (SQLITE_SEARCH, COVERED, "not index-only"),
        (
            ["SEARCH order USING INDEX ix_order_placed_at_where_status (status=?)"],
            BY_DATE,
            "not searched on status, placed_at",
        ),
        (["SCAN TABLE order"], ORDERS, "full scan of order"),
    ],
    ids=[
        "covering-full-index-scan",
        "full-index-scan",
        "table-scan",
        "other-index",
        "wrong-columns",
        "not-covering",
        "range-not-searched",
        "old-scan-table-form",
    ],
)
def test_sqlite_rejects(details: list[str], expect: Expectation, message: str) -> None:
    problems = plan_problems("sqlite", details, expect)
    assert any(message in p for p in problems), problems


def test_sqlite_primary_key_forms() -> None:
    expect = Expectation(table="product_tags", names=frozenset({"PRIMARY KEY"}), condition=("product_id",))
    assert plan_problems("sqlite", ["SEARCH product_tags USING PRIMARY KEY (product_id=?)"], expect) == []
    rowid = Expectation(table="t", names=frozenset({"PRIMARY KEY"}), condition=("id",))
    assert plan_problems("sqlite", ["SEARCH t USING INTEGER PRIMARY KEY (rowid=?)"], rowid) == []
    assert plan_problems("sqlite", ["SCAN product_tags"], expect) != []


def test_sqlite_fulltext_virtual_table() -> None:
    expect = Expectation(table="post", names=frozenset({"ix_post_body"}), fulltext=True)
    details = [
        "SEARCH post USING INTEGER PRIMARY KEY (rowid=?)",
        "LIST SUBQUERY 1",
        "SCAN ix_post_body VIRTUAL TABLE INDEX 0:M1",
    ]
    assert plan_problems("sqlite", details, expect) == []


def test_assert_plan_names_the_problem_and_shows_the_plan() -> None:
    with pytest.raises(AssertionError, match=r"(?s)not searched on customer_id.*SCAN order USING COVERING INDEX"):
        explain.assert_plan("sqlite", SQLITE_FULL_INDEX_SCAN, ORDERS)
    explain.assert_plan("sqlite", SQLITE_SEARCH, ORDERS)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown relational engine"):
        plan_problems("oracle", [], ORDERS)


# --- catalog comparison ----------------------------------------------------------------------

DESIGNED = IndexShape(
    name="ix_order_placed_at_where_status",
    table="order",
    columns=(KeyPart("placed_at"),),
    where="status = 'paid'",
)


def test_catalog_equal_to_the_design_passes() -> None:
    found = IndexShape(
        "ix_order_placed_at_where_status", "order", (KeyPart("placed_at", collation="BINARY"),), (), "status  = 'paid'"
    )
    assert index_problems("sqlite", DESIGNED, found) == []
    assert IndexShape.from_data(DESIGNED.as_data()) == DESIGNED


@pytest.mark.parametrize(
    ("found", "message"),
    [
        (None, "is missing"),
        (IndexShape(DESIGNED.name, "order", (KeyPart("status"),), (), "status = 'paid'"), "key is (status)"),
        (IndexShape(DESIGNED.name, "order", (KeyPart("placed_at", descending=True),), (), "status = 'paid'"), "DESC"),
        (
            IndexShape(DESIGNED.name, "order", (KeyPart("placed_at"),), (), "status = 'shipped'"),
            "predicate is status = 'shipped'",
        ),
        (IndexShape(DESIGNED.name, "order", (KeyPart("placed_at"),)), "predicate is none"),
        (
            IndexShape(DESIGNED.name, "order", (KeyPart("placed_at"),), ("total",), "status = 'paid'"),
            "includes (total)",
        ),
        (IndexShape(DESIGNED.name, "order", (KeyPart("placed_at"),), (), "status = 'paid'", unique=True), "is unique"),
        (IndexShape(DESIGNED.name, "order", (KeyPart("placed_at"),), (), "status = 'paid'", method="brin"), "brin"),
    ],
    ids=["missing", "other-columns", "other-order", "other-predicate", "not-partial", "include", "unique", "method"],
)
def test_catalog_differences_are_reported(found: IndexShape | None, message: str) -> None:
    problems = index_problems("postgresql", DESIGNED, found)
    assert any(message in p for p in problems), problems


def test_catalog_opclass_collation_and_prefix_length() -> None:
    pattern = IndexShape("ix", "t", (KeyPart("email", opclass="varchar_pattern_ops"),))
    assert index_problems("postgresql", pattern, IndexShape("ix", "t", (KeyPart("email"),))) != []
    nocase = IndexShape("ix", "t", (KeyPart("email", collation="NOCASE"),))
    assert index_problems("sqlite", nocase, IndexShape("ix", "t", (KeyPart("email", collation="BINARY"),))) != []
    prefix = IndexShape("ix", "t", (KeyPart("body", length=255),))
    assert index_problems("mysql", prefix, IndexShape("ix", "t", (KeyPart("body"),))) != []


def test_mysql_catalog_ignores_what_mariadb_cannot_record() -> None:
    """MariaDB has no INCLUDE or partial index (the design's fallbacks make them key columns), so
    its catalog is compared on key columns, order, prefix length, uniqueness and type only."""
    found = IndexShape(DESIGNED.name, "order", (KeyPart("placed_at"),))
    assert index_problems("mysql", DESIGNED, found) == []


def test_an_always_accepting_reader_would_pass_a_bad_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sabotage this file exists to catch: with each engine's reader replaced by one that
    finds no problem, the generated tests' `assert_plan` accepts a full index scan, a table scan
    and a plan on another index. Only the rejections above would then fail."""
    bad = {
        "postgresql": PG_FULL_INDEX_SCAN,
        "mysql": [my("index", "ix_order_customer_id", "128")],
        "sqlite": SQLITE_FULL_INDEX_SCAN,
    }
    for engine, plan in bad.items():
        with pytest.raises(AssertionError):
            explain.assert_plan(engine, plan, ORDERS, ORDER_PARTS)
    for reader in ("postgresql_problems", "mysql_problems", "sqlite_problems"):
        monkeypatch.setattr(explain, reader, lambda *args, **kwargs: [])
    for engine, plan in bad.items():
        explain.assert_plan(engine, plan, ORDERS, ORDER_PARTS)  # wrongly accepted

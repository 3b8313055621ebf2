"""`polyplan scaffold` (issue 15): aggregating access patterns get typed functions that run the
GROUP BY query `relational/<engine>/queries.sql` has and return a dataclass per group row
(tests/models/sales_aggregates.yaml: count, sum of a decimal and of an integer, count distinct,
avg of an integer and of a decimal, min of a nullable float, max of a timestamp, a group through a
relationship, a sort and a limit). Each function runs on the real PostgreSQL, MariaDB and on SQLite against
rows `polyplan seed` wrote; the expected groups and values are computed here, in Python, from the
rows read back with a plain SELECT. Never skipped under POLYPLAN_REQUIRE=postgresql (or mysql).
"""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text
from polyplan.scaffold.design import design_scaffold
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import scaffolded, seed_model

MODEL = ROOT / "tests" / "models" / "sales_aggregates.yaml"
ENGINES = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with scaffolded(MODEL, tmp_path_factory.mktemp("sales")) as name:
        yield importlib.import_module(f"{name}.reads")


def test_every_aggregate_gets_a_function_and_no_pp811_line() -> None:
    scaffold = design_scaffold(plan_text(MODEL.read_text(encoding="utf-8"), str(MODEL)))
    assert scaffold.skipped == ()
    kinds = {r.pattern: r.aggregate for r in scaffold.reads}
    # The value's type is the function's: a count is an integer, a sum keeps its number type, an
    # average of integers is a float and of decimals a decimal, a min or max keeps its attribute's.
    assert kinds == {
        "revenue_by_category": ("sum_amount", "decimal"),
        "sales_of_shop": ("count", "integer"),
        "units_by_shop": ("sum_quantity", "integer"),
        "buyers_per_category": ("count_distinct_buyer", "integer"),
        "average_basket": ("avg_quantity", "float"),
        "average_ticket": ("avg_amount", "decimal"),
        "smallest_discount": ("min_discount", "float"),
        "latest_sale": ("max_sold_at", "timestamp"),
        "revenue_by_region": ("sum_amount", "decimal"),
    }
    single = {r.pattern for r in scaffold.reads if r.single}
    assert single == {"sales_of_shop", "average_ticket", "latest_sale"}  # no groups: one row


def _seed(engine_name: str, engine: sa.Engine) -> None:
    seed_model(MODEL, engine_name, engine.url.render_as_string(hide_password=False), 120)


def _rows(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every sale with its customer's region, typed by SQLAlchemy (SQLite keeps text and reals)."""
    query = sa.text(
        "SELECT s.shop, s.category, s.buyer, s.amount, s.quantity, s.discount, s.sold_at, c.region "
        "FROM sale s JOIN customer c ON c.id = s.customer_id"
    ).columns(
        sa.column("shop", sa.String()),
        sa.column("category", sa.String()),
        sa.column("buyer", sa.String()),
        sa.column("amount", sa.Numeric(10, 2, asdecimal=True)),
        sa.column("quantity", sa.Integer()),
        sa.column("discount", sa.Float()),
        sa.column("sold_at", sa.DateTime()),
        sa.column("region", sa.String()),
    )
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    for row in rows:  # SQLite answers a REAL for the decimal: its two places, as written
        row["amount"] = Decimal(str(row["amount"])).quantize(Decimal("0.01"))
    return rows


def _groups(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any], value: Callable[[list[dict[str, Any]]], Any]
) -> dict[Any, Any]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return {k: value(v) for k, v in grouped.items()}


def _close(got: Any, expected: Any, places: float = 1e-9) -> bool:
    """Equal, an average or a REAL-held sum to 1e-9 (PostgreSQL's numeric avg has 16 places,
    SQLite's sums of REALs round), or to `places` (MariaDB's avg has 4 decimals more than its
    argument: div_precision_increment)."""
    if expected is None or got is None:
        return got is expected
    if isinstance(expected, (Decimal, float)):
        return math.isclose(float(got), float(expected), rel_tol=1e-9, abs_tol=places)
    return bool(got == expected)


def _same(got: dict[Any, Any], expected: dict[Any, Any], places: float = 1e-9) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert _close(got[key], value, places), (key, got[key], value)


def _avg(values: list[Any]) -> Any:
    return sum(values) / len(values) if values else None


@pytest.mark.parametrize("engine_name", ENGINES)
def test_each_aggregate_function_returns_the_groups_computed_from_the_rows(reads: ModuleType, engine_name: str) -> None:
    averaged = 5e-5 if engine_name == "mysql" else 1e-9  # an average to MariaDB's 4 extra places
    with scratch_database(resolve_url(engine_name)) as engine:
        _seed(engine_name, engine)
        stores = importlib.import_module("sales_aggregates.settings").Stores(engine)
        rows = _rows(engine)
        assert len(rows) == 120
        shops = sorted({r["shop"] for r in rows})
        shop = max(shops, key=lambda s: sum(r["shop"] == s for r in rows))
        moments = sorted(r["sold_at"] for r in rows)
        low, high = moments[len(moments) // 4], moments[3 * len(moments) // 4]
        mine = [r for r in rows if r["shop"] == shop]

        # sum of a decimal per category, between two moments (from inclusive, to exclusive), sorted
        got = reads.revenue_by_category(stores, shop, low, high)
        assert [type(g).__name__ for g in got] == ["RevenueByCategoryRow"] * len(got)
        assert [g.category for g in got] == sorted(g.category for g in got)
        picked = [r for r in mine if low <= r["sold_at"] < high]
        assert picked
        expected = _groups(picked, lambda r: r["category"], lambda g: sum(r["amount"] for r in g))
        _same({g.category: g.sum_amount for g in got}, expected)
        if engine_name != "sqlite":  # numeric sums are exact there
            assert {g.category: g.sum_amount for g in got} == expected
        assert all(isinstance(g.sum_amount, Decimal) for g in got)

        # count of rows, no groups: one row, also for a shop with no sale (count 0)
        counted = reads.sales_of_shop(stores, shop)
        assert counted is not None and counted.count == len(mine) and isinstance(counted.count, int)
        assert reads.sales_of_shop(stores, "no such shop").count == 0

        # sum of an integer per shop: an int, though PostgreSQL answers sum(integer) as a numeric
        units = reads.units_by_shop(stores, "toys")
        toys = [r for r in rows if r["category"] == "toys"]
        _same(
            {u.shop: u.sum_quantity for u in units},
            _groups(toys, lambda r: r["shop"], lambda g: sum(r["quantity"] for r in g)),
        )
        assert all(type(u.sum_quantity) is int for u in units)

        # count distinct per category
        buyers = reads.buyers_per_category(stores, low)
        since = [r for r in rows if r["sold_at"] >= low]
        _same(
            {b.category: b.count_distinct_buyer for b in buyers},
            _groups(since, lambda r: r["category"], lambda g: len({r["buyer"] for r in g})),
        )

        # avg of an integer (a float) per shop, the first 3 shops in descending order
        baskets = reads.average_basket(stores)
        averages = _groups(toys, lambda r: r["shop"], lambda g: _avg([r["quantity"] for r in g]))
        first = sorted(averages, reverse=True)[:3]
        assert [b.shop for b in baskets] == first
        _same({b.shop: b.avg_quantity for b in baskets}, {s: averages[s] for s in first}, averaged)
        assert all(type(b.avg_quantity) is float for b in baskets)

        # avg of a decimal, no groups; a shop with no sale: one row whose value is None
        ticket = reads.average_ticket(stores, shop)
        assert ticket is not None and isinstance(ticket.avg_amount, Decimal)
        assert _close(ticket.avg_amount, _avg([r["amount"] for r in mine]), averaged)
        assert reads.average_ticket(stores, "no such shop").avg_amount is None

        # min of a nullable float per shop (NULLs skipped; a group of NULLs only would be None)
        smallest = reads.smallest_discount(stores, "food")
        food = [r for r in rows if r["category"] == "food"]

        def least(group: list[dict[str, Any]]) -> Any:
            values = [r["discount"] for r in group if r["discount"] is not None]
            return min(values) if values else None

        _same({s.shop: s.min_discount for s in smallest}, _groups(food, lambda r: r["shop"], least))

        # max of a timestamp: a datetime on both engines (SQLite keeps text)
        latest = reads.latest_sale(stores, shop)
        assert latest is not None and isinstance(latest.max_sold_at, datetime)
        assert latest.max_sold_at == max(r["sold_at"] for r in mine)

        # sum per the region a relationship reaches, sorted by it
        regions = reads.revenue_by_region(stores, low)
        assert [g.customer_region for g in regions] == sorted(g.customer_region for g in regions)
        _same(
            {g.customer_region: g.sum_amount for g in regions},
            _groups(since, lambda r: r["region"], lambda g: sum(r["amount"] for r in g)),
        )


def test_the_load_generator_runs_the_aggregates(reads: ModuleType) -> None:
    with scratch_database("sqlite://") as engine:
        _seed("sqlite", engine)
        folder = Path(reads.__file__).parent.parent
        done = subprocess.run(
            [sys.executable, "-m", "sales_aggregates.load", "--seconds", "2", "--threads", "1"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=folder,
            env={**os.environ, "SALES_AGGREGATES_DATABASE_URL": engine.url.render_as_string(hide_password=False)},
        )
        assert done.returncode == 0, done.stderr
        # `name (read, rate R): N calls, …, E errors, …`: each aggregate ran without an error.
        lines = {line.split()[0]: line for line in done.stdout.splitlines() if "(read, rate" in line}
        assert set(lines) == set(reads.__all__)
        for name, line in lines.items():
            calls = int(line.split("): ")[1].split()[0])
            assert " 0 errors" in line and calls > 0, (name, line)

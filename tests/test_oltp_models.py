"""The OLTP benchmark's models (bench/oltp/*.yaml, issue 14) plan, and the PostgreSQL schema of
each has the structures the benchmark's comparison with the expert DDL rests on."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.pipeline import plan_text
from polyplan.stores.relational.design import design_tables
from polyplan.stores.relational.indexes import design_indexes
from polyplan.stores.relational.spec import IndexSpec, TableSpec

MODELS = Path(__file__).resolve().parent.parent / "bench" / "oltp"


def tables_of(workload: str) -> dict[str, TableSpec]:
    plan = plan_text((MODELS / f"{workload}.yaml").read_text(encoding="utf-8"), f"{workload}.yaml")
    tables, _ = design_indexes(plan, design_tables(plan)[0])
    return {t.name: t for t in tables}


def index_keys_of(index: IndexSpec) -> tuple[str, ...]:
    return tuple(c.name for c in index.columns)


def index_keys(table: TableSpec) -> list[tuple[str, ...]]:
    return [index_keys_of(index) for index in table.indexes]


@pytest.mark.parametrize("workload", ["tpcb", "order_entry", "epinions", "seats"])
def test_each_benchmark_model_plans_to_postgresql_tables(workload: str) -> None:
    assert tables_of(workload)


def test_epinions_gets_the_composite_keys_the_expert_ddl_lacks() -> None:
    tables = tables_of("epinions")
    # UpdateTrustRating and the trust reads name a statement by (source, target): the key.
    assert tables["trust"].primary_key == ("source_u_id", "target_u_id")
    # UpdateReviewRating names a review by (item, user): the unique rule serves it and the
    # item's reads (its prefix).
    assert ("i_id", "u_id") in tables["review"].uniques
    # rating is updated: no index holds it, so the updates stay heap-only.
    assert all("rating" not in key for key in index_keys(tables["review"]))


def test_seats_gets_the_composite_index_the_expert_ddl_lacks() -> None:
    tables = tables_of("seats")
    flight = index_keys(tables["flight"])
    # FindFlights asks for one departure airport's flights within a day: BenchBase's DDL indexes
    # f_depart_time alone, so each call walks every airport's flights of that day. polyplan's
    # index leads with the departure airport, the equality column.
    assert any(key[0] == "f_depart_ap_id" for key in flight)
    assert all(key[0] != "f_depart_time" for key in flight)
    # f_seats_left is updated by every reservation: no flight index holds it (HOT updates).
    assert all("f_seats_left" not in (*index_keys_of(index), *index.include) for index in tables["flight"].indexes)
    # The customer's reservation on a flight is found by (flight, customer), not by the flight's
    # seats and a filter; the seat rule stays unique.
    assert ("r_f_id", "r_c_id") in [key[:2] for key in index_keys(tables["reservation"])]
    assert ("r_f_id", "r_seat") in tables["reservation"].uniques

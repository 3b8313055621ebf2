"""Keys and cardinalities of issue 14 on an order-entry model (tests/models/order_entry.yaml):
composite natural keys, composite references that reuse the child's columns, natural integer
keys without sequences, distinct counts derived from the model, and PP420 when an index
decision hinges on an assumed count."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from polyplan.diagnostics import Diagnostic
from polyplan.model.loader import load_text
from polyplan.pipeline import plan_text, write_plan
from polyplan.plan.assign import build_plan
from polyplan.stores.relational.cardinality import DEFAULT_DISTINCT, Cardinalities
from polyplan.stores.relational.design import design_tables
from polyplan.stores.relational.index_testgen import MIN_ROWS
from polyplan.stores.relational.indexes import design_indexes, index_plan_of
from polyplan.stores.relational.render import build_metadata, render_schema
from polyplan.stores.relational.spec import TableSpec
from polyplan.testkit import resolve_url
from polyplan.validate.runner import run_validation

ORDER_ENTRY = Path(__file__).resolve().parent / "models" / "order_entry.yaml"
TEXT = ORDER_ENTRY.read_text(encoding="utf-8")


def without(text: str, *relationships: str) -> str:
    """The model text without the named relationships (one line each in the fixture)."""
    lines = [line for line in text.splitlines() if not any(f"name: {r}," in line for r in relationships)]
    assert len(lines) == len(text.splitlines()) - len(relationships)
    return "\n".join(lines) + "\n"


def design(text: str) -> tuple[dict[str, TableSpec], list[Diagnostic]]:
    plan = plan_text(text)
    tables, diagnostics = design_indexes(plan, design_tables(plan)[0])
    return {t.name: t for t in tables}, diagnostics


def served(table: TableSpec, pattern: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """How `pattern` is served: via what, and the index's columns (empty unless an index)."""
    plan = index_plan_of(table)
    assert plan is not None
    route = next(r for r in plan.routes if r.pattern == pattern)
    index = next((i for i in table.indexes if i.name == route.index), None)
    return route.via, tuple((c.name, c.descending) for c in index.columns) if index else ()


# --- cardinalities ----------------------------------------------------------------------------


def test_relationships_alone_give_both_lookups_an_index() -> None:
    tables, diagnostics = design(TEXT)
    via, columns = served(tables["customer"], "customer_by_last_name")
    assert via == "index" and [c for c, _ in columns[:3]] == ["c_w_id", "c_d_id", "c_last"]
    via, columns = served(tables["order"], "newest_order_of_customer")
    assert via == "index" and columns == (("o_w_id", False), ("o_d_id", False), ("o_c_id", False), ("o_id", True))
    assert served(tables["customer"], "customer_by_id") == ("primary key", ())
    assert not [d for d in diagnostics if d.code == "PP420"]


def test_without_the_relationship_the_guess_decides_and_pp420_says_so() -> None:
    tables, diagnostics = design(without(TEXT, "district_customers"))
    # 1,000 assumed warehouses × 1,000 assumed districts: every pair looks unique.
    assert served(tables["customer"], "customer_by_last_name")[0] == "primary key"
    found = {d.path: d for d in diagnostics if d.code == "PP420"}
    warning = found["entities.Customer.attributes.c_w_id"]
    assert "assumes 1,000 distinct values" in warning.message
    assert "customer_by_last_name: primary key at 1,000, index at 10" in warning.message
    assert "declare `distinct` on Customer.c_w_id" in warning.message
    assert "entities.Customer.attributes.c_d_id" in found


def test_declaring_distinct_settles_it() -> None:
    text = without(TEXT, "district_customers")
    text = text.replace("c_w_id: {type: integer}", "c_w_id: {type: integer, distinct: 10}")
    text = text.replace("c_d_id: {type: integer}", "c_d_id: {type: integer, distinct: 10}")
    tables, diagnostics = design(text)
    assert served(tables["customer"], "customer_by_last_name")[0] == "index"
    assert not [d for d in diagnostics if d.code == "PP420" and "Customer." in d.message]


def test_counts_come_from_references_keys_and_types() -> None:
    tables, _ = design(TEXT)
    rows = {"warehouse": 10.0, "district": 100.0, "customer": 300_000.0, "order": 3_000_000.0}
    card = Cardinalities(tables, rows)
    assert card.column("district", "d_w_id").value == 10  # a reference: the parent's rows
    assert card.column("district", "d_id").value == 10  # numbered per warehouse: 100 / 10
    assert card.column("customer", "c_w_id").value == 10  # through district to warehouse
    assert card.column("customer", "c_d_id").value == 10
    assert card.column("customer", "c_id").value == 3000
    assert card.column("order", "o_c_id").value == 3000
    assert not card.guessed("customer", ["c_w_id", "c_d_id", "c_id"])
    assert card.guessed("customer", ["c_last", "c_w_id"]) == ["c_last"]
    assert card.column("customer", "c_last").value == DEFAULT_DISTINCT
    # A group is bounded by the reference it holds and by the rows, never a bare product.
    assert card.group("customer", ["c_w_id", "c_d_id"]) == 100
    assert card.group("order", ["o_w_id", "o_d_id", "o_c_id"]) == 300_000
    assert card.group("customer", ["c_w_id", "c_d_id", "c_id", "c_last"]) == 300_000
    assert card.group("customer", ["c_last", "c_first"]) == 300_000  # 1,000 × 1,000 capped by rows


def test_counts_from_enums_booleans_bounds_and_overrides() -> None:
    text = """
    name: kinds
    engines: {document: null, cache: null, search: null, wide_column: null}
    entities:
      Item:
        attributes:
          state: {type: enum, values: [a, b], weights: [1, 3]}
          flag: {type: boolean}
          level: {type: integer, min: 1, max: 5}
          code: {type: string, max_length: 8, unique: true}
          label: {type: string, max_length: 8}
        growth: {initial_rows: 50000}
    """
    tables, _ = design(re.sub(r"^    ", "", text, flags=re.M))
    card = Cardinalities(tables, {"item": 50_000.0})
    assert card.column("item", "state").value == pytest.approx(1 / (0.25**2 + 0.75**2))
    assert card.column("item", "flag").value == 2
    assert card.column("item", "level").value == 5
    assert card.column("item", "code").value == 50_000
    assert card.guessed("item", ["state", "flag", "level", "code", "label"]) == ["label"]
    assert card.with_overrides({("item", "label"): 7}).column("item", "label").value == 7


# --- keys -------------------------------------------------------------------------------------


def test_composite_references_reuse_the_declared_columns() -> None:
    tables, _ = design(TEXT)
    customer = tables["customer"]
    assert [c.name for c in customer.columns] == ["c_w_id", "c_d_id", "c_id", "c_first", "c_last", "c_balance"]
    (fk,) = customer.foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns) == (("c_w_id", "c_d_id"), "district", ("d_w_id", "d_id"))
    (fk,) = tables["order"].foreign_keys
    assert fk.columns == ("o_w_id", "o_d_id", "o_c_id") and fk.ref_columns == ("c_w_id", "c_d_id", "c_id")


def test_a_child_declaring_the_parents_key_names_refers_through_them() -> None:
    text = """
    name: same_names
    engines: {document: null, cache: null, search: null, wide_column: null}
    entities:
      District:
        key: {attributes: [w_id, d_id], kind: natural}
        attributes: {w_id: {type: integer}, d_id: {type: integer}}
      Customer:
        key: {attributes: [w_id, d_id, c_id], kind: natural}
        attributes: {w_id: {type: integer}, d_id: {type: integer}, c_id: {type: integer}}
      Visit:
        attributes: {w_id: {type: string, max_length: 4}, d_id: {type: integer}}
    relationships:
      - {name: district_customers, kind: one_to_many, from: District, to: Customer}
      - {name: district_visits, kind: one_to_many, from: District, to: Visit}
    """
    tables, _ = design(re.sub(r"^    ", "", text, flags=re.M))
    assert [c.name for c in tables["customer"].columns] == ["w_id", "d_id", "c_id"]
    assert tables["customer"].foreign_keys[0].columns == ("w_id", "d_id")
    # Another type under the same name is not the parent's key: the reference gets its own columns.
    assert tables["visit"].foreign_keys[0].columns == ("district_w_id", "district_d_id")


def test_natural_integer_keys_have_no_sequence() -> None:
    plan = build_plan(load_text(TEXT, "order_entry.yaml"))
    specs = design_tables(plan)[0]
    postgres = render_schema(plan.model, build_metadata(specs, "postgresql"))
    mysql = render_schema(plan.model, build_metadata(specs, "mysql"))
    assert "w_id INTEGER NOT NULL," in postgres and "SERIAL" not in postgres
    assert "AUTO_INCREMENT" not in mysql
    # A surrogate integer key still gets one (the database generates its values).
    surrogate = TEXT.replace("key: {attributes: [w_id], kind: natural}", "key: {attributes: [w_id]}")
    plan = build_plan(load_text(surrogate, "order_entry.yaml"))
    specs = design_tables(plan)[0]
    assert "w_id INTEGER GENERATED BY DEFAULT AS IDENTITY" in render_schema(
        plan.model, build_metadata(specs, "postgresql")
    )
    assert "AUTO_INCREMENT" in render_schema(plan.model, build_metadata(specs, "mysql"))


# --- applied and validated on every engine ----------------------------------------------------

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(scope="module")
def order_entry_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("order_entry")
    write_plan(ORDER_ENTRY, folder)
    return folder


@pytest.mark.parametrize("engine", ENGINES)
def test_order_entry_plans_applies_and_validates(order_entry_folder: Path, engine: str) -> None:
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(order_entry_folder, engine, url) == 0


def test_index_test_data_keeps_the_models_orders_per_district(order_entry_folder: Path) -> None:
    """The EXPLAIN proofs' data holds as many orders per district as the model (3,000): raising
    the only-referenced Warehouse and District to the proofs' minimum made each district hold
    about 7 orders, where MariaDB rightly read them through the primary key instead of the index."""
    data = json.loads((order_entry_folder / "tests" / "data" / "indexes.json").read_text(encoding="utf-8"))
    rows = data["rows"]
    assert rows["Customer"] >= MIN_ROWS and rows["Order"] >= MIN_ROWS  # the tables the proofs read
    per_district = rows["Order"] / rows["District"]
    assert 300_000 / 100 / 2 <= per_district <= 300_000 / 100 * 2, rows
    assert rows["District"] / rows["Warehouse"] >= 5, rows  # the model's 10 districts a warehouse, roughly

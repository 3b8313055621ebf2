"""The relational design: naming, nested objects, lists, links, keys, constraints, diagnostics."""

from __future__ import annotations

import pytest

from polyplan.model.loader import load_text
from polyplan.model.schema import OnDelete
from polyplan.plan.assign import build_plan
from polyplan.plan.ir import Plan
from polyplan.stores.relational import Target
from polyplan.stores.relational.design import MAX_IDENTIFIER, design_tables, fit, tables_from_data, tables_to_data
from polyplan.stores.relational.render import DIALECTS, build_metadata, constraints, render_schema
from polyplan.stores.relational.spec import TableKind, TableSpec

MODEL = """
name: layout
engines: {relational: postgresql}
entities:
  Customer:
    placement: {family: relational}
    description: Someone who buys.
    attributes:
      email: {type: string, max_length: 100, unique: true, pii: contact, pattern: '^[^@]+@[^@]+$'}
      status: {type: enum, values: [new, vip], default: new}
      joined: {type: timestamptz, default: now}
      address:
        type: object
        fields:
          city: {type: string, max_length: 40}
          zip: {type: string, max_length: 8}
      prefs:
        type: object
        nullable: true
        fields:
          theme: {type: string, max_length: 10}
          flags: {type: list, items: {type: string, max_length: 5}}
      billing:
        type: object
        storage: json
        fields:
          iban: {type: string, max_length: 34, pattern: '^[A-Z0-9]+$'}
      shipping:
        type: object
        storage: child_table
        nullable: true
        fields:
          street: {type: string, max_length: 80}
      tags: {type: list, items: {type: string, max_length: 20, unique: true}, max_items: 5}
      phones:
        type: list
        items:
          type: object
          fields:
            kind: {type: enum, values: [home, work]}
            number: {type: string, max_length: 20}
      history: {type: list, storage: json, items: {type: integer}}
      legacy: {type: list, storage: columns, items: {type: integer}}
  Order:
    placement: {family: relational}
    attributes:
      total: {type: decimal, precision: 10, scale: 2, min: 0, max: 100000}
      shipped_at: {type: timestamp, nullable: true}
      placed_at: {type: timestamp}
    unique: [[customer_id, placed_at]]
    checks: [{name: shipped_after_placed, left: shipped_at, op: ge, right: placed_at}]
  Product:
    placement: {family: relational}
    key: {attributes: [sku], kind: natural}
    attributes:
      sku: {type: string, max_length: 20}
  Session:
    placement: {family: cache}
    attributes:
      token: {type: string, max_length: 64}
    growth: {ttl_seconds: 3600}
  LongEntityNameForTestingIdentifierLimits:
    placement: {family: relational}
    attributes:
      "a long attribute name that goes on": {type: list, items: {type: integer}}
  Visit:
    placement: {family: relational}
    attributes:
      at: {type: timestamptz}
relationships:
  - {name: customer_orders, kind: one_to_many, from: Customer, to: Order}
  - {name: order_products, kind: many_to_many, from: Order, to: Product, attributes: {quantity: {type: integer, min: 1}}}
  - {name: session_visits, kind: one_to_many, from: Session, to: Visit, required: false, on_delete: set_null}
  - {name: profile, kind: one_to_one, from: Customer, to: Visit, required: false, on_delete: set_null}
access_patterns:
  - {name: orders_of_customer, entity: Order, filters: [{attribute: customer_id, op: eq}], sort: [{attribute: placed_at, direction: desc}], limit: 3}
  - {name: orders_by_total, entity: Order, filters: [{attribute: total, op: range}], sort: [{attribute: shipped_at}]}
  - {name: visits_in_window, entity: Visit, filters: [{attribute: at, op: range}], sort: [{attribute: at}], limit: 10}
  - {name: vip_customers, entity: Customer, filters: [{attribute: status, op: eq, value: vip}], sort: [{attribute: email}], reads: [id, email, address]}
"""


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_plan(load_text(MODEL, "layout.yaml"))


@pytest.fixture(scope="module")
def tables(plan: Plan) -> dict[str, TableSpec]:
    designed, _ = design_tables(plan)
    return {t.name: t for t in designed}


def test_table_per_entity_child_and_link(tables: dict[str, TableSpec]) -> None:
    kinds = {name: t.kind for name, t in tables.items()}
    assert kinds["customer"] is TableKind.ENTITY and kinds["order"] is TableKind.ENTITY
    assert kinds["customer_tags"] is TableKind.LIST_CHILD and kinds["customer_phones"] is TableKind.LIST_CHILD
    assert kinds["customer_shipping"] is TableKind.LIST_CHILD
    assert kinds["order_products"] is TableKind.ASSOCIATION
    assert "session" not in tables, "a cache entity gets no table"


def test_object_storage_rules(tables: dict[str, TableSpec]) -> None:
    customer = tables["customer"]
    names = [c.name for c in customer.columns]
    assert "address_city" in names and "address_zip" in names, "all-scalar object is flattened"
    assert "prefs" in names and "prefs_theme" not in names, "an object with a list field stays JSON"
    assert customer.column("prefs").nullable
    assert "billing" in names, "explicit json storage wins"
    assert "shipping" not in names, "child_table storage moves it out"
    assert customer.column("address_city").source == "Customer.address.city"
    assert "flattened into columns (storage auto" in (customer.column("address_city").comment or "")
    shipping = tables["customer_shipping"]
    assert shipping.primary_key == ("customer_id",)
    assert [c.name for c in shipping.columns] == ["customer_id", "street"]


def test_list_child_tables(tables: dict[str, TableSpec]) -> None:
    tags = tables["customer_tags"]
    assert [c.name for c in tags.columns] == ["customer_id", "position", "value"]
    assert tags.primary_key == ("customer_id", "position")
    assert tags.foreign_keys[0].on_delete is OnDelete.CASCADE and tags.foreign_keys[0].ref_table == "customer"
    assert tags.uniques == (("customer_id", "value"),), "unique items are unique within their list"
    phones = tables["customer_phones"]
    assert [c.name for c in phones.columns] == ["customer_id", "position", "kind", "number"]
    customer = tables["customer"]
    assert customer.column("history").attribute.type.value == "list", "json storage keeps a JSON column"
    assert customer.column("legacy").attribute.type.value == "list"


def test_long_names_are_fitted(tables: dict[str, TableSpec]) -> None:
    long = [name for name in tables if name.startswith("long_entity_name_for_testing_identifier_limits_")]
    assert len(long) == 1 and len(long[0]) <= MAX_IDENTIFIER
    assert fit("x" * 100) == fit("x" * 100) and len(fit("x" * 100)) == MAX_IDENTIFIER
    assert fit("x" * 100) != fit("x" * 99 + "y")


def test_keys_references_and_rules(tables: dict[str, TableSpec]) -> None:
    order = tables["order"]
    assert order.primary_key == ("id",)
    assert [(f.columns, f.ref_table, f.on_delete) for f in order.foreign_keys] == [
        (("customer_id",), "customer", OnDelete.RESTRICT)
    ]
    assert order.uniques == (("customer_id", "placed_at"),)
    assert [(c.name, c.left, c.op, c.right) for c in order.checks] == [
        ("shipped_after_placed", "shipped_at", "ge", "placed_at")
    ]
    product = tables["product"]
    assert product.primary_key == ("sku",)
    link = tables["order_products"]
    assert [c.name for c in link.columns] == ["order_id", "product_sku", "quantity"]
    assert link.primary_key == ("order_id", "product_sku")
    assert {f.ref_table for f in link.foreign_keys} == {"order", "product"}
    assert all(f.on_delete is OnDelete.CASCADE for f in link.foreign_keys)
    visit = tables["visit"]
    assert [f.ref_table for f in visit.foreign_keys] == ["customer"], "no FK to the cache's Session"
    assert ("customer_id",) in visit.uniques, "one-to-one is unique on the child"


def test_cross_store_reference_is_reported(plan: Plan) -> None:
    _, diagnostics = design_tables(plan)
    found = [d for d in diagnostics if d.code == "PP407"]
    assert len(found) == 1 and "Visit.session_id refers to Session" in found[0].message
    assert any(d.code == "PP402" and "legacy" in d.message for d in diagnostics), "a list cannot be columns"
    assert any(d.code == "PP402" and "billing" in d.message for d in diagnostics), "rules inside JSON"


def test_constraints_per_engine(tables: dict[str, TableSpec]) -> None:
    specs = list(tables.values())
    pg = {c.name: c for c in constraints(specs, DIALECTS["postgresql"])["customer"]}
    lite = {c.name: c for c in constraints(specs, DIALECTS["sqlite"])["customer"]}
    assert "ck_customer_email_pattern" in pg and "ck_customer_email_pattern" not in lite
    assert "ck_customer_email_length" in lite and "ck_customer_email_length" not in pg
    assert pg["ck_customer_status_enum"].value == ("new", "vip")
    assert pg["uq_customer_email"].kind == "unique"
    order = {c.name: c for c in constraints(specs, DIALECTS["mysql"])["order"]}
    assert order["ck_order_total_min"].value == 0 and order["ck_order_total_max"].value == 100000
    assert order["ck_order_shipped_after_placed"].rule == "entity"
    every = [
        c.name for rules in constraints(specs, DIALECTS["postgresql"]).values() for c in rules if c.kind != "not_null"
    ]
    assert len(every) == len(set(every)), "constraint names are unique across the schema"


def test_ddl_per_dialect(plan: Plan, tables: dict[str, TableSpec]) -> None:
    specs = list(tables.values())
    pg = render_schema(plan.model, build_metadata(specs, "postgresql"))
    my = render_schema(plan.model, build_metadata(specs, "mysql"))
    lite = render_schema(plan.model, build_metadata(specs, "sqlite"))
    assert 'CREATE TABLE "order"' in pg and "CREATE TABLE `order`" in my and 'CREATE TABLE "order"' in lite
    assert (
        "email ~ '^[^@]+@[^@]+$'" in pg and "email REGEXP '^[^@]+@[^@]+$'" in my and "CHECK (email REGEXP" not in lite
    )
    assert "joined TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP" in pg
    assert "joined DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)" in my
    assert "id UUID NOT NULL" in pg and "id CHAR(32) NOT NULL" in my
    assert "prefs JSONB" in pg and "prefs JSON" in my and "prefs JSON" in lite
    assert "COMMENT ON COLUMN customer.email IS 'PII: contact.'" in pg
    assert "COMMENT 'PII: contact.'" in my
    assert "ENGINE=InnoDB" in my and "utf8mb4_bin" in my
    assert "ON DELETE CASCADE" in pg and "ON DELETE RESTRICT" in pg and "ON DELETE SET NULL" in pg
    assert "status VARCHAR(3) DEFAULT 'new' NOT NULL" in pg
    assert "CONSTRAINT ck_customer_status_enum CHECK (status IN ('new', 'vip'))" in pg
    assert "length(email) <= 100" in lite


def test_engine_diagnostics_follow_the_configured_engine(plan: Plan) -> None:
    artifacts = Target().emit(plan)
    assert not [d for d in artifacts.diagnostics if d.message.startswith("sqlite:")]
    sqlite_plan = build_plan(load_text(MODEL.replace("relational: postgresql", "relational: sqlite"), "layout.yaml"))
    found = [d for d in Target().emit(sqlite_plan).diagnostics if d.code == "PP402" and d.message.startswith("sqlite:")]
    assert any("pattern of customer.email is not enforced" in d.message for d in found)
    assert any("timestamptz" in d.message for d in found)


def test_tables_round_trip_as_data(tables: dict[str, TableSpec]) -> None:
    specs = list(tables.values())
    assert tables_from_data(tables_to_data(specs)) == specs


def test_summary_names_tables_and_engines(plan: Plan) -> None:
    summary = Target().emit(plan).summary
    # The model states no relational_dialects: its own engine (PostgreSQL by default) plus SQLite.
    assert set(summary["engines"]) == {"postgresql", "sqlite"}
    assert summary["entity_tables"]["Order"] == "order"
    assert any(t["name"] == "order_products" and t["kind"] == "association" for t in summary["tables"])

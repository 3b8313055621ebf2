"""Loading seed records into relational tables: the mapping, and `polyplan seed` for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import polyplan.cli.seed  # noqa: F401  (registers the command)
from polyplan.cli.app import app
from polyplan.pipeline import plan_file
from polyplan.seed import feasible_rows, generate, rows_for_scale
from polyplan.seed.relational import table_rows
from polyplan.stores.relational.connect import create_engine, scratch_database
from polyplan.stores.relational.design import design_tables
from polyplan.testkit import resolve_url
from tests.conftest import ROOT

SHOP = ROOT / "scenarios" / "shop.yaml"


def test_records_map_onto_tables() -> None:
    plan = plan_file(SHOP)
    tables, _ = design_tables(plan)
    data = generate(plan.model, rows_for_scale(plan.model, 0.0, minimum=15), seed=5)
    rows = table_rows(tables, data, "postgresql")
    products = data["Product"]
    assert len(rows["product"]) == len(products)
    # products_tagged filters by a tag (contains): the list is one JSON column of product, in order.
    first = next(p for p in products if p["tags"])
    mine = next(r for r in rows["product"] if r["id"] == first["id"])
    assert mine["tags"] == first["tags"] and "product_tags" not in rows
    order, record = rows["order"][0], data["Order"][0]
    assert order["shipping_address_city"] == record["shipping_address"]["city"], "objects are flattened"
    assert "shipping_address" not in order
    assert len(rows["product_categories"]) == len(data["product_categories"])
    naive = table_rows(tables, data, "mysql")["order"][0]["placed_at"]
    assert naive.tzinfo is None and naive == record["placed_at"].replace(tzinfo=None), "UTC without offset"


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            quoted = engine.dialect.identifier_preparer.quote(table)
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {quoted}")).scalar_one())
    finally:
        engine.dispose()


def test_seed_command_loads_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    result = CliRunner().invoke(
        app, ["seed", str(SHOP), "--engine", "sqlite", "--url", url, "--rows", "40", "--seed", "3", "--create-schema"]
    )
    assert result.exit_code == 0, result.output
    assert _count(url, "order") == 40 and _count(url, "order_line") == 40
    assert "loaded" in result.output


def test_seed_command_rejects_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'x.db'}"
    both = runner.invoke(app, ["seed", str(SHOP), "--engine", "sqlite", "--url", url, "--rows", "5", "--scale", "0.1"])
    assert both.exit_code == 2 and "exactly one" in both.output
    neither = runner.invoke(app, ["seed", str(SHOP), "--engine", "sqlite", "--url", url])
    assert neither.exit_code == 2
    mismatch = runner.invoke(app, ["seed", str(SHOP), "--engine", "postgresql", "--url", url, "--rows", "5"])
    assert mismatch.exit_code == 2 and "sqlite URL" in mismatch.output
    missing = runner.invoke(
        app, ["seed", str(tmp_path / "none.yaml"), "--engine", "sqlite", "--url", url, "--rows", "5"]
    )
    assert missing.exit_code == 2


def test_seed_command_reports_a_failed_load(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no such folder' / 'x.db'}"  # SQLite cannot open it
    result = CliRunner().invoke(app, ["seed", str(SHOP), "--engine", "sqlite", "--url", url, "--rows", "5"])
    assert result.exit_code == 1 and "loading failed" in result.output


@pytest.mark.postgresql
def test_seed_command_loads_postgresql_by_scale() -> None:
    with scratch_database(resolve_url("postgresql")) as engine:
        url = engine.url.render_as_string(hide_password=False)
        result = CliRunner().invoke(
            app, ["seed", str(SHOP), "--engine", "postgresql", "--url", url, "--scale", "0.0001", "--create-schema"]
        )
        assert result.exit_code == 0, result.output
        assert _count(url, "order") == rows_for_scale(plan_file(SHOP).model, 0.0001)["Order"]


@pytest.mark.mysql
def test_seed_command_is_deterministic_on_mysql() -> None:
    with scratch_database(resolve_url("mysql")) as engine:
        url = engine.url.render_as_string(hide_password=False)
        args = ["seed", str(SHOP), "--engine", "mysql", "--url", url, "--rows", "12", "--seed", "9"]
        assert CliRunner().invoke(app, [*args, "--create-schema"]).exit_code == 0
        with engine.connect() as connection:
            first = connection.execute(sa.text("SELECT id, number FROM `order` ORDER BY id")).all()
        model = plan_file(SHOP).model
        expected = generate(model, feasible_rows(model, dict.fromkeys(model.entities, 12)), seed=9)["Order"]
        assert sorted(r[0] for r in first) == sorted(o["id"].hex for o in expected)

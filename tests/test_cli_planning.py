"""`polyplan explain` and `polyplan schema` through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyplan.pipeline import plan_file
from polyplan.plan.ir import EntityPlan

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "scenarios" / "shop.yaml"
SHORT = {
    "relational": "relational",
    "document": "document",
    "cache": "cache",
    "search": "search",
    "wide_column": "wide-col",
}


def run_polyplan(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m polyplan ARGS` with a wide, colourless console so tables are not truncated."""
    env = {key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "POLYPLAN_DEBUG")}
    env.update(NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "polyplan", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def table_rows(stdout: str) -> list[list[str]]:
    """The body cells of every Rich table in `stdout` (lines drawn with │)."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in stdout.splitlines() if line.startswith("│")]


def expected_rows(entity: EntityPlan) -> list[list[str]]:
    """The factor rows `explain` should print for one entity, computed from the plan itself."""
    families = [s for s in entity.scores if s.engine is not None]
    chosen = entity.score_of(entity.family)
    rows = [
        [factor.factor, f"{factor.weight:.2f}", *[f"{s.factors[i].score:.2f}" for s in families]]
        for i, factor in enumerate(chosen.factors)
    ]
    rows.append(["total", "", *[f"{s.total:.2f}" for s in families]])
    rows.append(["blocked", "", *[("yes" if s.blockers else "—") for s in families]])
    return rows


@pytest.fixture(scope="module")
def shop_plan() -> dict[str, EntityPlan]:
    return plan_file(SHOP).entities


def test_explain_one_entity_prints_its_factor_rows(shop_plan: dict[str, EntityPlan]) -> None:
    done = run_polyplan("explain", "scenarios/shop.yaml", "Cart")
    assert (done.returncode, done.stderr) == (0, "")
    cart = shop_plan["Cart"]
    assert f"Cart → {cart.family.value} ({cart.engine})" in done.stdout
    header = next(line for line in done.stdout.splitlines() if line.startswith("┃"))
    columns = [cell.strip() for cell in header.split("┃")[1:-1]]
    families = [s for s in cart.scores if s.engine is not None]
    assert columns == [
        "factor",
        "weight",
        *[SHORT[s.family.value] + ("*" if s.family is cart.family else "") for s in families],
    ]
    assert table_rows(done.stdout) == expected_rows(cart)
    assert [row[0] for row in table_rows(done.stdout)][:8] == [
        "query_fit",
        "write_scale",
        "volume",
        "latency",
        "consistency",
        "integrity",
        "lifecycle",
        "schema_flexibility",
    ]
    # The reasons under the table: one line per factor, then why the winner won.
    for factor in cart.score_of(cart.family).factors:
        assert f"  {factor.factor}: {factor.reason}" in done.stdout
    assert f"  • runner-up: {cart.runner_up_reason}" in done.stdout
    # Only the entity asked for.
    assert "Order →" not in done.stdout


def test_explain_every_entity(shop_plan: dict[str, EntityPlan]) -> None:
    done = run_polyplan("explain", "scenarios/shop.yaml")
    assert (done.returncode, done.stderr) == (0, "")
    titles = [line.strip() for line in done.stdout.splitlines() if " → " in line and "•" not in line]
    assert titles == [f"{name} → {e.family.value} ({e.engine})" for name, e in shop_plan.items()]
    expected = [row for entity in shop_plan.values() for row in expected_rows(entity)]
    assert table_rows(done.stdout) == expected


def test_explain_unknown_entity_exits_2_with_a_message() -> None:
    done = run_polyplan("explain", "scenarios/shop.yaml", "Basket")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "ENTITY: unknown entity 'Basket' (known: Customer, Category, Product, Cart, Order, OrderLine, Store) [PP201]\n"
    )
    assert "Traceback" not in done.stderr


def test_explain_missing_model_exits_2() -> None:
    done = run_polyplan("explain", "scenarios/nowhere.yaml")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "scenarios/nowhere.yaml:1:1: cannot read model file: No such file or directory [PP001]\n"


def test_usage_errors_exit_2_without_traceback() -> None:
    done = run_polyplan("explain", "scenarios/shop.yaml", "Cart", "Order")
    assert done.returncode == 2
    assert "Got unexpected extra argument" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_schema_command_prints_json() -> None:
    done = run_polyplan("schema")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("{\n") and '"title": "polyplan requirements model"' in done.stdout

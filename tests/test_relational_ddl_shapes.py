"""Tables that share a compiled DDL shape get the text SQLAlchemy compiles for each (issue 7)."""

from __future__ import annotations

import itertools

import pytest

from polyplan.model.loader import load_text
from polyplan.pipeline import plan_file
from polyplan.plan.assign import build_plan
from polyplan.plan.ir import Plan
from polyplan.stores.relational.ddl_shapes import SHAPE_INFO, TableShape
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.render import ENGINES, build_metadata, render_schema
from tests.conftest import SCENARIOS

# One shape on tables each engine must quote differently (keywords, mixed case, the stand-ins'
# own names), with comments that need escaping or look like stand-ins, constants with a quote.
ATTRIBUTES = """
    description: "{name}'s rows: 100% \\\\ 'polyplan__m0__' polyplan__n1__"
    attributes:
      code: {{type: string, max_length: 20, unique: true, description: "code of {name}; it's 'x'"}}
      status: {{type: enum, values: [new, open, "it's"], default: new}}
      created_at: {{type: timestamptz, default: now}}
      amount: {{type: decimal, precision: 8, scale: 2, min: 0}}
      flag: {{type: boolean, default: true}}
"""
ENTITIES = ["Order", "Select", "MixedCase", "polyplan__n0__", "plain"]
PATTERNS = """
  - {{name: by_code_{n}, entity: {e}, filters: [{{attribute: code, op: eq}}], rate: 50, latency_ms: 50}}
  - {{name: open_{n}, entity: {e}, filters: [{{attribute: status, op: eq, value: "it's"}}, {{attribute: created_at, op: range}}], sort: [{{attribute: created_at, direction: desc}}], limit: 20, rate: 50, latency_ms: 50}}
  - {{name: prefix_{n}, entity: {e}, filters: [{{attribute: code, op: prefix}}], rate: 50, latency_ms: 50}}
"""


def model_text() -> str:
    entities = "".join(
        f"  {name}:\n    placement: {{family: relational}}\n{ATTRIBUTES.format(name=name)}" for name in ENTITIES
    )
    patterns = "".join(PATTERNS.format(n=n, e=name) for n, name in enumerate(ENTITIES))
    relationships = "".join(
        f"  - {{name: r{n}, kind: one_to_many, from: {parent}, to: {child}}}\n"
        for n, (parent, child) in enumerate(itertools.pairwise(ENTITIES[1:]))
    )
    return (
        f"name: ddl_shapes\nengines: {{search: null}}\nentities:\n{entities}relationships:\n{relationships}"
        f"access_patterns:{patterns}"
    )


def shaped_and_direct(plan: Plan) -> list[tuple[str, str, str, list[TableShape]]]:
    """(engine, DDL through the shapes, DDL compiled table by table, the shapes used) per engine."""
    tables, _ = design_schema(plan)
    found = []
    for engine in ENGINES:
        rendered = build_metadata(tables, engine)
        shaped = render_schema(plan.model, rendered)
        shapes = [t.info.pop(SHAPE_INFO) for t in rendered.metadata.tables.values() if SHAPE_INFO in t.info]
        found.append((engine, shaped, render_schema(plan.model, rendered), shapes))
    return found


def test_shared_shapes_give_each_table_the_ddl_compiled_for_it() -> None:
    plan = build_plan(load_text(model_text(), "ddl_shapes.yaml"))
    for engine, shaped, direct, shapes in shaped_and_direct(plan):
        assert shaped == direct, engine
        if engine != "sqlite":  # SQLite keeps no comments
            # Comments that look like stand-ins came through as themselves.
            assert "''polyplan__m0__'' polyplan__n1__" in direct, engine
        # The four tables with a parent share one shape, whatever their names and comments.
        shared = [s for s in shapes if s.canonical is not s]
        assert len(shared) == 3, engine
        assert all(s.canonical is not None and s.canonical.key == s.key for s in shared)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_ddl_is_what_sqlalchemy_compiles_table_by_table(scenario: object) -> None:
    plan = plan_file(str(scenario))
    for engine, shaped, direct, shapes in shaped_and_direct(plan):
        assert shaped == direct, (engine, scenario)
        assert shapes, engine  # their tables went through the shapes

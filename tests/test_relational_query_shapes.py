"""Queries that share a compiled statement shape are the text SQLAlchemy compiles for each (issue 7)."""

from __future__ import annotations

import itertools

from polyplan.model.loader import load_text
from polyplan.model.schema import Family
from polyplan.plan.assign import build_plan
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.render import (
    DIALECTS,
    ENGINES,
    QueryShapes,
    build_metadata,
    build_query,
)
from polyplan.stores.relational.spec import TableKind

ATTRIBUTES = """
    attributes:
      code: {type: string, max_length: 20, unique: true}
      status: {type: enum, values: [new, open, "it's"]}
      created_at: {type: timestamptz}
      amount: {type: decimal, precision: 8, scale: 2}
"""
# Same filters, so the same shapes, on tables each engine must quote differently (keywords,
# mixed case, the stand-ins' own names) and whose columns differ (each has its parent's key).
ENTITIES = ["Order", "Select", "MixedCase", "polyplan__t__", "polyplan__c0__"]
PATTERNS = """
  - {{name: by_code_{n}, entity: {e}, filters: [{{attribute: code, op: eq}}], rate: 1, latency_ms: 50}}
  - {{name: open_{n}, entity: {e}, filters: [{{attribute: status, op: eq, value: "it's"}}, {{attribute: created_at, op: range}}], sort: [{{attribute: created_at, direction: desc}}], limit: 20, rate: 1, latency_ms: 50}}
  - {{name: statuses_{n}, entity: {e}, filters: [{{attribute: status, op: in}}], rate: 1, latency_ms: 50}}
  - {{name: prefix_{n}, entity: {e}, filters: [{{attribute: code, op: prefix}}], rate: 1, latency_ms: 50}}
  - {{name: cheap_{n}, entity: {e}, filters: [{{attribute: amount, op: range}}], reads: [code], rate: 1, latency_ms: 50}}
"""


def model_text() -> str:
    entities = "".join(f"  {name}:\n    placement: {{family: relational}}\n{ATTRIBUTES}" for name in ENTITIES)
    patterns = "".join(PATTERNS.format(n=n, e=name) for n, name in enumerate(ENTITIES))
    relationships = "".join(
        f"  - {{name: r{n}, kind: one_to_many, from: {parent}, to: {child}}}\n"
        for n, (parent, child) in enumerate(itertools.pairwise(ENTITIES))
    )
    return (
        f"name: shapes\nengines: {{search: null}}\nentities:\n{entities}relationships:\n{relationships}"
        f"access_patterns:{patterns}"
    )


def test_shared_shapes_give_each_table_the_text_compiled_for_it() -> None:
    plan = build_plan(load_text(model_text(), "shapes.yaml"))
    tables, _ = design_schema(plan)
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    assert all(plan.entities[name].family is Family.RELATIONAL for name in ENTITIES)
    for engine in ENGINES:
        rendered = build_metadata(tables, engine)
        shapes = QueryShapes()
        for pattern in plan.model.access_patterns:
            spec = by_entity[pattern.entity]
            table = rendered.metadata.tables[spec.name]
            shared = build_query(pattern, spec, table, DIALECTS[engine], (), shapes)
            direct = build_query(pattern, spec, table, DIALECTS[engine], ())
            assert shared == direct, (engine, pattern.name)
        # Each shape compiled once however many tables share it: the four that select every
        # column twice (the first table has no parent key, so one column fewer), `cheap` once.
        assert len(shapes.parts) == 9

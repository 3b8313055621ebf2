"""A declared `distinct` beyond the values the type allows (fuzz model 604): every store's
estimates count the type's values, and PP480 says so at the declaration."""

from __future__ import annotations

from textwrap import dedent

from polyplan.model.domains import attribute_domain, effective_distinct
from polyplan.model.schema import Attribute
from polyplan.pipeline import plan_text, render
from polyplan.stores.cache.sizing import cardinality
from polyplan.stores.search.sizing import _distinct as search_distinct
from polyplan.stores.wide_column.estimate import shares as partition_shares

OVERSTATED = dedent(
    """\
    name: overstated
    entities:
      Event:
        attributes:
          kind: {type: enum, values: [click, view, buy], distinct: 1000000}
          level: {type: integer, min: 1, max: 5, distinct: 50}
          grade: {type: decimal, precision: 2, scale: 1, min: 0, max: 1, distinct: 100}
          region: {type: string, max_length: 8, distinct: 40}
          tags: {type: list, items: {type: enum, values: [a, b], distinct: 9}}
        growth: {initial_rows: 100000, rows_per_day: 1000}
    access_patterns:
      - {name: by_kind, entity: Event, filters: [{attribute: kind}], limit: 20, rate: 50}
    """
)


def test_the_type_bounds_the_count_the_estimates_take() -> None:
    enum = Attribute.model_validate({"type": "enum", "values": ["x", "y", "x"], "distinct": 10**12})
    assert attribute_domain(enum) == 2 and effective_distinct(enum) == 2
    ranged = Attribute.model_validate({"type": "integer", "min": 1, "max": 5, "distinct": 3})
    assert effective_distinct(ranged) == 3  # within the type's values: taken as declared
    money = Attribute.model_validate({"type": "decimal", "precision": 2, "scale": 1, "min": 0, "max": 1})
    assert attribute_domain(money) == 11  # 0.0 … 1.0
    free = Attribute.model_validate({"type": "string", "max_length": 8, "distinct": 40})
    assert attribute_domain(free) is None and effective_distinct(free) == 40
    assert effective_distinct(Attribute.model_validate({"type": "boolean"})) is None  # nothing declared


def test_pp480_names_each_overstated_declaration_and_nothing_else() -> None:
    plan = plan_text(OVERSTATED, "m.yaml")
    notes = {d.path: d for d in plan.diagnostics if d.code == "PP480"}
    assert sorted(notes) == [
        "entities.Event.attributes.grade.distinct",
        "entities.Event.attributes.kind.distinct",
        "entities.Event.attributes.level.distinct",
        "entities.Event.attributes.tags.items.distinct",
    ]
    assert notes["entities.Event.attributes.kind.distinct"].message == (
        "distinct: 1,000,000 is more than the 3 values an enum of 3 values can hold; the estimates count 3 "
        "(declare distinct: 3 or fewer)"
    )
    assert "the 11 values a decimal (2, 1) can hold" in notes["entities.Event.attributes.grade.distinct"].message
    assert "the 5 values an integer from 1 to 5 can hold" in notes["entities.Event.attributes.level.distinct"].message
    # A warning: the plan is made, and the line shown is the declaration's.
    _, diagnostics = render(plan)
    kind = next(d for d in diagnostics if d.code == "PP480" and d.path.endswith("kind.distinct"))
    assert kind.location is not None and (kind.location.file, kind.location.line) == ("m.yaml", 5)


def test_every_store_counts_the_types_values() -> None:
    plan = plan_text(OVERSTATED, "m.yaml")
    model = plan.model
    event = model.entities["Event"]
    assert cardinality(model, plan, "Event", "level")[0] == 5.0  # Redis keys (was 50)
    assert search_distinct(event.attributes["level"], "level", 100_000) == 5.0  # search terms (was 50)
    (level,) = partition_shares(plan, "Event", ["level"])  # a wide-column partition's share
    assert level.fraction == 1 / 5 and level.reason == "5 distinct values (distinct)"

"""What keeps each derived attribute in step, and where the plan cannot (pure).

A derived attribute (`derived: {function, relationship, attribute}`) is kept by relational
triggers when its entity and the children are both relational (`relational/<engine>/derived.sql`).
Anywhere else no store can see the child writes it depends on, so the plan says so:

- PP468: the entity or the children live outside the relational store: the application must
  update the attribute in the same write as the child (MongoDB `$inc`, Cassandra a counter
  column, Redis `HINCRBY`), and nothing generated checks it; except where both live in one MongoDB,
  one Redis or one Cassandra, whose emitted write paths keep it (KEPT_BY_WRITE_PATHS);
- PP469: the entity has a projection (search index, cache) refreshed on the entity's own writes:
  a child write changes the attribute through a trigger, so the copy lags until the entity's
  next write (or the cache entry's TTL).
"""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived_attribute_checks import derived_attributes, derived_relationship
from polyplan.model.schema import Family
from polyplan.plan.ir import EntityPlan, Plan

# Stores whose own write paths keep a derived attribute when they hold both the parent and its
# children: MongoDB pairs each child write with the parent's update (stores/document/derived.py),
# Redis adds with HINCRBY in the child's MULTI (stores/cache/derived.py), Cassandra adds to the
# parent's counter table after each child insert and delete (stores/wide_column/derived.py). Each
# target warns itself (PP468) for what its paths cannot keep; a relational store keeps it by triggers.
KEPT_BY_WRITE_PATHS = (Family.DOCUMENT, Family.CACHE, Family.WIDE_COLUMN)


def _kept_by_write_paths(parent: EntityPlan, child: EntityPlan) -> bool:
    return parent.family is child.family and parent.family in KEPT_BY_WRITE_PATHS and parent.engine == child.engine


def derived_warnings(plan: Plan) -> list[Diagnostic]:
    """PP468 and PP469 for the model's derived attributes, in model order."""
    model = plan.model
    found: list[Diagnostic] = []
    for entity, name, attribute in derived_attributes(model):
        derived = attribute.derived
        relationship = derived_relationship(model, attribute)
        parent, child = plan.entities.get(entity), plan.entities.get(relationship.to) if relationship else None
        if derived is None or relationship is None or parent is None or child is None:
            continue
        path = f"entities.{entity}.attributes.{name}.derived"
        outside = [p for p in (parent, child) if p.family is not Family.RELATIONAL]
        if outside and _kept_by_write_paths(parent, child):
            continue
        if outside:
            where = "; ".join(f"{p.name} lives in {p.family.value} ({p.engine})" for p in outside)
            found.append(
                Diagnostic(
                    "PP468",
                    f"{entity}.{name} is the {derived.function.value} of {relationship.to} children, but {where}: no "
                    f"trigger sees the child writes, so the application must update {entity}.{name} in the same "
                    f"write as each {relationship.to} insert, delete and change (an atomic add: $inc, a counter "
                    "column, HINCRBY), and no generated test checks it",
                    path,
                    Severity.WARNING,
                )
            )
            continue
        for projection in parent.projections:
            found.append(
                Diagnostic(
                    "PP469",
                    f"{entity}.{name} changes through a trigger on every {relationship.to} write, but the "
                    f"{projection.family.value} projection ({projection.engine}) of {entity} is refreshed on "
                    f"{entity}'s own writes ({projection.sync.value}): it shows the old value until {entity} is "
                    f"written again or the copy expires; send {relationship.to} writes through the same outbox or "
                    "invalidation if the projection must follow",
                    path,
                    Severity.WARNING,
                )
            )
    return found

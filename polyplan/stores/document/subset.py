"""The subset pattern: a parent document keeps its first N children (the latest 10 comments).

A bounded load (model/bounded_loads.py) whose parent and child are both top-level MongoDB
collections is answered from the parent document alone: the parent holds a bounded array of the
first `limit` children in the load's order, kept on every insert of a child by one atomic update
of the parent, `$push` with `$each`, `$sort` and `$slice` (MongoDB's own idiom for it). The child
collection still holds every child (its index on (reference, sort) serves "load more"). Loads of
the same child in the same order share one array, as long as the largest limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.model.bounded_loads import BoundedLoad, bounded_loads
from polyplan.model.derived import all_attributes, key_of, snake
from polyplan.model.schema import Direction, Family
from polyplan.plan.ir import Plan


@dataclass(frozen=True)
class Subset:
    """One bounded array on a parent collection."""

    parent: str
    child: str
    field: str
    sort: tuple[tuple[str, int], ...]  # child document paths and 1 / -1
    limit: int
    reference: str  # the child's path that holds the parent's _id
    loads: tuple[str, ...]  # the bounded loads' read names it serves

    def describe(self) -> str:
        """The array in words."""
        order = ", ".join(f"{path} {'desc' if d < 0 else 'asc'}" for path, d in self.sort)
        return f"the first {self.limit} {self.child} by {order}"


def _path(model_entity_key: list[str], attribute: str) -> str:
    return "_id" if len(model_entity_key) == 1 and attribute == model_entity_key[0] else attribute


def _eligible(plan: Plan, load: BoundedLoad) -> bool:
    """Parent and child top-level documents of MongoDB, the child referring by one attribute to a
    parent keyed by one (its _id), with a limit: only then is the array bounded and kept by one
    update of the parent matched by _id."""
    families = {e: plan.entities[e].family for e in (load.pattern.entity, load.load.entity) if e in plan.entities}
    return (
        len(families) == 2
        and all(f is Family.DOCUMENT for f in families.values())
        and load.load.limit is not None
        and len(load.reference) == 1
        and len(key_of(plan.model.entities[load.pattern.entity]).attributes) == 1
    )


def subsets(plan: Plan, embedded_children: set[str]) -> list[Subset]:
    """The subset arrays of the design, in bounded-load order (children embedded whole need none)."""
    model = plan.model
    grouped: dict[tuple[str, str, tuple[tuple[str, int], ...]], list[BoundedLoad]] = {}
    for load in bounded_loads(model):
        if load.load.entity in embedded_children or not _eligible(plan, load):
            continue
        child_key = list(key_of(model.entities[load.load.entity]).attributes)
        sort = tuple(
            (_path(child_key, s.attribute), -1 if s.direction is Direction.DESC else 1) for s in load.load.sort
        )
        grouped.setdefault((load.pattern.entity, load.load.entity, sort), []).append(load)
    found: list[Subset] = []
    for (parent, child, sort), loads in grouped.items():
        taken = [s.field for s in found if s.parent == parent]
        field = f"{snake(child)}_subset"
        number = 2
        while field in taken or field in all_attributes(model, parent):
            field, number = f"{snake(child)}_subset_{number}", number + 1
        child_key = list(key_of(model.entities[child]).attributes)
        limits = [load.load.limit for load in loads if load.load.limit is not None]
        found.append(
            Subset(
                parent,
                child,
                field,
                sort,
                max(limits),
                _path(child_key, loads[0].reference[0]),
                tuple(load.name for load in loads),
            )
        )
    return found


def subset_schema(subset: Subset, items: dict[str, Any]) -> dict[str, Any]:
    """The parent validator's entry for the array: at most `limit` child documents."""
    return {
        "bsonType": "array",
        "description": f"Subset pattern: {subset.describe()} (kept by $push/$each/$sort/$slice)",
        "maxItems": subset.limit,
        "items": items,
    }


def subset_writes(found: list[Subset], collections: dict[str, str]) -> list[dict[str, Any]]:
    """queries.json `subset_writes`: on each insert of a child, the update of its parent."""
    return [
        {
            "on": f"insert into {collections[s.child]}",
            "collection": collections[s.parent],
            "child_collection": collections[s.child],
            "field": s.field,
            "reference": s.reference,
            # The bound as the model states it: what the generated test checks the update against.
            "sort": dict(s.sort),
            "limit": s.limit,
            "method": "update_one",
            "filter": {"_id": {"$param": s.reference}},
            "update": {
                "$push": {s.field: {"$each": [{"$param": "document"}], "$sort": dict(s.sort), "$slice": s.limit}}
            },
            "serves": list(s.loads),
            "notes": [
                f"{s.describe()}: the new {s.child} document (as inserted) joins the parent's array, which is "
                f"sorted and cut to {s.limit} in the same atomic update",
            ],
        }
        for s in found
    ]

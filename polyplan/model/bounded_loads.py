"""Bounded, ordered loads: `loads: [{entity: Comment, sort: [{attribute: created_at, direction: desc}], limit: 10}]`.

A bounded load reads, for each parent row a pattern returns, the parent's children by their
reference to it, in `sort` order, the first `limit`. The planning model carries it as an access
pattern of its own on the child, `<pattern>__loads_<child>` (`child_read`), so every store designs
it as it designs any read and its generated tests run it against the oracle: the relational
index leads with the reference then the sort columns and queries.sql holds the per-parent
`ORDER BY … LIMIT`; MongoDB indexes (reference, sort) or keeps the latest children in the parent
(the subset pattern, document/subset.py); Cassandra gets a table partitioned by the reference and
clustered by the sort, read with LIMIT. A bare name in `loads` keeps its meaning (every related
record) and adds no read.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.model.derived import all_attributes, memoised, reference_of, snake
from polyplan.model.paths import Found
from polyplan.model.schema import (
    ORDERABLE_TYPES,
    AccessPattern,
    Filter,
    Load,
    Relationship,
    RelationshipKind,
    RequirementsModel,
)

# Between the parent pattern's name and the child's in a bounded load's own read.
LOAD_MARK = "__loads_"


@dataclass(frozen=True)
class BoundedLoad:
    """One `loads` mapping with a sort or a limit, resolved against its relationship."""

    position: int  # of the parent pattern in access_patterns
    index: int  # of the item in its loads
    pattern: AccessPattern
    load: Load
    relationship: Relationship
    reference: tuple[str, ...]  # the child's attributes that refer to the parent, in key order

    @property
    def name(self) -> str:
        """The name of the child read that serves the load."""
        return f"{self.pattern.name}{LOAD_MARK}{snake(self.load.entity)}"

    @property
    def order(self) -> str:
        """The sort as written (`created_at desc`), or 'any order'."""
        return ", ".join(f"{s.attribute} {s.direction.value}" for s in self.load.sort) or "any order"

    def describe(self) -> str:
        """The bound in words, for plans and notes."""
        first = f"the first {self.load.limit}" if self.load.limit is not None else "every"
        return (
            f"{first} {self.load.entity} by {self.order} per {self.pattern.entity} row of {self.pattern.name} "
            f"(through {self.relationship.name})"
        )

    def child_read(self) -> AccessPattern:
        """The read of one parent's children: equality on the reference, the load's sort and limit.
        It runs once per parent row the pattern returns: its rate is the pattern's times its limit
        (one row when the pattern has none)."""
        return AccessPattern(
            name=self.name,
            entity=self.load.entity,
            description=f"Bounded load: {self.describe()}.",
            filters=[Filter(attribute=attribute) for attribute in self.reference],
            sort=self.load.sort,
            limit=self.load.limit,
            rate=self.pattern.rate * (self.pattern.limit or 1),
            latency_ms=self.pattern.latency_ms,
            consistency=self.pattern.consistency,
            staleness_seconds=self.pattern.staleness_seconds,
        )


def child_relationship(model: RequirementsModel, parent: str, child: str) -> Relationship | None:
    """The first one-to-many relationship from `parent` to `child`, in model order."""
    return next(
        (
            r
            for r in model.relationships
            if r.kind is RelationshipKind.ONE_TO_MANY and r.from_ == parent and r.to == child
        ),
        None,
    )


def bounded_loads(model: RequirementsModel) -> tuple[BoundedLoad, ...]:
    """Every bounded load of a valid model, in pattern then loads order."""

    def build() -> tuple[BoundedLoad, ...]:
        found: list[BoundedLoad] = []
        for position, pattern in enumerate(model.access_patterns):
            for index, item in enumerate(pattern.loads):
                if isinstance(item, str) or not (item.sort or item.limit is not None):
                    continue
                relationship = child_relationship(model, pattern.entity, item.entity)
                reference = reference_of(model, relationship) if relationship is not None else None
                if relationship is None or reference is None:
                    continue
                found.append(BoundedLoad(position, index, pattern, item, relationship, tuple(reference.columns)))
        return tuple(found)

    return memoised(model, "bounded_loads", build)


def load_problems(model: RequirementsModel) -> list[Found]:
    """PP338 (not a child by a one-to-many relationship), PP339 (a sort the child cannot take),
    PP340 (a limit with no sort) for every `loads` mapping; PP204 when a bounded load's read
    would take the name of a declared pattern."""
    found: list[Found] = []
    taken = {p.name for p in model.access_patterns}
    for position, pattern in enumerate(model.access_patterns):
        if pattern.entity not in model.entities:
            continue
        for index, item in enumerate(pattern.loads):
            if isinstance(item, str) or item.entity not in model.entities:
                continue  # a name, or an unknown entity (PP201, checks.py)
            at: tuple[str | int, ...] = ("access_patterns", position, "loads", index)
            if child_relationship(model, pattern.entity, item.entity) is None:
                found.append(
                    (
                        "PP338",
                        f"a bounded load reads children: no one_to_many relationship goes from {pattern.entity} "
                        f"to {item.entity}",
                        (*at, "entity"),
                    )
                )
            known = all_attributes(model, item.entity)
            for s_index, sort in enumerate(item.sort):
                attribute = known.get(sort.attribute)
                if attribute is None:
                    problem = f"'{sort.attribute}' is not an attribute of {item.entity}, the entity loaded"
                elif attribute.type not in ORDERABLE_TYPES:
                    problem = f"cannot sort the loaded {item.entity} on the {attribute.type.value} '{sort.attribute}'"
                else:
                    continue
                found.append(("PP339", problem, (*at, "sort", s_index, "attribute")))
            if item.limit is not None and not item.sort:
                found.append(
                    (
                        "PP340",
                        f"a limit on a load needs a sort: which {item.limit} {item.entity} records are meant "
                        "(sort: [{attribute: created_at, direction: desc}] for the latest)",
                        (*at, "limit"),
                    )
                )
            name = f"{pattern.name}{LOAD_MARK}{snake(item.entity)}"
            if item.sort or item.limit is not None:
                if name in taken:
                    found.append(("PP204", f"the bounded load's read '{name}' is defined twice", (*at, "entity")))
                taken.add(name)
    return found


def with_load_reads(model: RequirementsModel) -> RequirementsModel:
    """`model` with each bounded load's child read appended to its access patterns (after the
    declared ones, so every declared pattern keeps its position). Unchanged without any."""
    loads = bounded_loads(model)
    if not loads:
        return model
    names = {p.name for p in model.access_patterns}
    added = [load.child_read() for load in loads if load.name not in names]
    if not added:
        return model
    planned = model.model_copy(update={"access_patterns": [*model.access_patterns, *added]})
    # The copy shares the memo of derived facts, some of which describe the patterns.
    planned._derived = {}
    return planned


def load_reads(model: RequirementsModel) -> dict[str, BoundedLoad]:
    """The bounded loads by the name of their child read."""
    return {load.name: load for load in bounded_loads(model)}

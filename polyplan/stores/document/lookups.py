"""Related fields joined at read time in MongoDB: the `$lookup` pipeline of a pattern (issue 12).

plan/related_reads.py decides, per pattern and related field, between a copy kept on write and a
`$lookup` (plan/lookups.py says when MongoDB can join). For each field it joined, the pattern's
query becomes an aggregation pipeline (queries.json → `pipeline`): the find()'s filter, sort,
limit and projection as `$match`, `$sort`, `$limit`, `$project` (so the parents are looked up for
the returned documents only), then per hop a `$lookup` on the parent's `_id` (its index serves each
probe) and an `$unwind` that keeps a document whose parent is missing, then `$set` of the field
(absent when no parent holds it, as a null is an absent field here) and a `$project` that drops
the looked-up documents. `follow` is the oracle the generated tests compare with: it walks the seeded documents
by the same references, in Python.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from polyplan.plan.ir import Plan
from polyplan.stores.document.spec import CollectionSpec, JoinedField, LookupHop, QuerySpec

ID_INDEX = "_id_"


def joined_fields(plan: Plan, query: QuerySpec, collections: Sequence[CollectionSpec]) -> tuple[JoinedField, ...]:
    """The related fields of `query`'s pattern that the plan joins (in the pattern's order)."""
    by_entity = {c.entity: c for c in collections}
    found: list[JoinedField] = []
    for decision in plan.related_reads:
        if decision.pattern != query.pattern or decision.copied:
            continue
        path = decision.path
        # plan/lookups.py offers $lookup only between collections: a parent with children is never embedded.
        missing = [e for hop in path.hops for e in (hop.source, hop.target) if e not in by_entity]
        assert not missing, f"{query.pattern}: {path.text} is joined, but {missing} has no collection"
        hops = []
        for hop in path.hops:
            ((reference, key),) = hop.pairs  # plan/lookups.py offers single-attribute references only
            source, target = by_entity[hop.source], by_entity[hop.target]
            hops.append(LookupHop(source.paths[reference], target.name, target.paths[key], ID_INDEX))
        attribute = by_entity[path.target].paths[path.attribute]
        found.append(JoinedField(path.slug, path.text, tuple(hops), attribute, decision.line()))
    return tuple(found)


def _alias(field: JoinedField, position: int) -> str:
    return f"{field.field}__{position}"


def pipeline(query: QuerySpec, joined: Sequence[JoinedField]) -> tuple[dict[str, Any], ...]:
    """The aggregation that answers `query` with its `joined` fields."""
    stages: list[dict[str, Any]] = []
    if query.filter:
        stages.append({"$match": query.filter})
    if query.sort:
        stages.append({"$sort": dict(query.sort)})
    if query.limit:
        stages.append({"$limit": query.limit})
    if query.projection:
        stages.append({"$project": query.projection})
    for field in joined:
        local, aliases = "", []
        for position, hop in enumerate(field.hops):
            alias = _alias(field, position)
            stages.append(
                {
                    "$lookup": {
                        "from": hop.collection,
                        "localField": local + hop.reference,
                        "foreignField": hop.foreign,
                        "as": alias,
                    }
                }
            )
            stages.append({"$unwind": {"path": f"${alias}", "preserveNullAndEmptyArrays": True}})
            local = f"{alias}."
            aliases.append(alias)
        stages.append({"$set": {field.field: f"${local}{field.attribute}"}})
        # An exclusion $project rather than $unset: the same, and understood since MongoDB 3.4.
        stages.append({"$project": {alias: 0 for alias in aliases}})
    return tuple(stages)


def with_lookups(plan: Plan, query: QuerySpec, collections: Sequence[CollectionSpec]) -> QuerySpec:
    """`query` with its joined fields and their pipeline (unchanged when nothing is joined)."""
    joined = joined_fields(plan, query, collections)
    if not joined:
        return query
    return replace(query, joined=joined, pipeline=pipeline(query, joined))


def follow(
    field: JoinedField, document: Mapping[str, Any], documents: Mapping[str, Sequence[Mapping[str, Any]]]
) -> Any:
    """The value of `field` for `document`, by walking the seeded documents (None: no parent holds it)."""
    current: Mapping[str, Any] | None = document
    for hop in field.hops:
        value = current.get(hop.reference) if current is not None else None
        if value is None:
            return None
        current = next((d for d in documents.get(hop.collection, ()) if d.get(hop.foreign) == value), None)
    return None if current is None else current.get(field.attribute)

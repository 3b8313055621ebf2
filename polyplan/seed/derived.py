"""Seed values of derived attributes: each parent's count, sum, max or min of its seeded children.

A derived attribute is kept equal to an aggregate of its children by the store (relational
triggers, `relational/<engine>/derived.sql`), so seeded parents must hold exactly that
aggregate: the tests compare the stored value with their own computation from the same records.
Only the loaded children count (spares are inserted by tests later, when the triggers run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from polyplan.model.derived import key_of, reference_of
from polyplan.model.derived_attribute_checks import derived_attributes, derived_relationship
from polyplan.model.paths import copies_of
from polyplan.model.schema import DerivedFunction, RequirementsModel, TypeName

Record = dict[str, Any]


def derived_children(model: RequirementsModel, entities: set[str]) -> set[str]:
    """The children whose records the derived attributes of `entities` are computed from."""
    found: set[str] = set()
    for entity, _, attribute in derived_attributes(model):
        relationship = derived_relationship(model, attribute)
        if entity in entities and relationship is not None:
            found.add(relationship.to)
    return found


def _aggregate(function: DerivedFunction, values: Sequence[Any], kind: TypeName, scale: int | None) -> Any:
    present = [v for v in values if v is not None]
    if function is DerivedFunction.COUNT:
        return len(values)
    if function is DerivedFunction.SUM:
        total = sum(present, Decimal(0) if kind is TypeName.DECIMAL else 0)
        if kind is TypeName.DECIMAL:
            return Decimal(total).quantize(Decimal(1).scaleb(-(scale or 0)))
        return float(total) if kind is TypeName.FLOAT else int(total)
    if not present:
        return None
    return max(present) if function is DerivedFunction.MAX else min(present)


def fill_derived(model: RequirementsModel, produced: Mapping[str, list[Record]], loaded: Mapping[str, int]) -> None:
    """Set every derived attribute of every produced parent record from the first `loaded[child]`
    records of its children (in place)."""
    for entity, name, attribute in derived_attributes(model):
        derived = attribute.derived
        relationship = derived_relationship(model, attribute)
        reference = reference_of(model, relationship) if relationship is not None else None
        if derived is None or relationship is None or reference is None or entity not in produced:
            continue
        parent_key = key_of(model.entities[entity]).attributes
        by_parent: dict[tuple[Any, ...], list[Any]] = {}
        child_columns = {parent_attr: child_attr for child_attr, parent_attr in reference.columns.items()}
        for child in produced.get(relationship.to, [])[: loaded.get(relationship.to, 0)]:
            parent = tuple(child.get(child_columns[k]) for k in parent_key)
            if None not in parent:
                by_parent.setdefault(parent, []).append(child.get(derived.attribute) if derived.attribute else 1)
        for record in produced[entity]:
            values = by_parent.get(tuple(record.get(k) for k in parent_key), [])
            record[name] = _aggregate(derived.function, values, attribute.type, attribute.scale)


def fill_copies(model: RequirementsModel, produced: Mapping[str, list[Record]]) -> None:
    """Set every copied related field (plan/related_reads.py) of every produced record to the
    value its path reaches in the produced parents (in place): the store keeps the copy equal to
    it, so the seeded rows must hold it too. A parent not produced leaves the value generated."""
    for (entity, name), path in sorted(copies_of(model).items()):
        if entity not in produced or any(hop.target not in produced for hop in path.hops):
            continue
        indexes = [{tuple(r.get(b) for _, b in hop.pairs): r for r in produced[hop.target]} for hop in path.hops]
        for record in produced[entity]:
            current: Record | None = record
            for hop, index in zip(path.hops, indexes, strict=True):
                current = index.get(tuple(current.get(a) for a, _ in hop.pairs)) if current is not None else None
            if current is not None or model.entities[entity].attributes[name].nullable:
                record[name] = current.get(path.attribute) if current is not None else None

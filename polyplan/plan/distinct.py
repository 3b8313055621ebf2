"""PP480: a declared `distinct` beyond the values the attribute's type allows.

The count cannot hold (an enum of 5 values has at most 5 distinct values), so every store's
estimates take the type's values instead (`polyplan.model.domains.effective_distinct`); this note
says so at the declaration, so the correction is never silent.
"""

from __future__ import annotations

from collections.abc import Iterator

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.domains import attribute_domain, effective_distinct
from polyplan.model.schema import Attribute, RequirementsModel


def _declared(attributes: dict[str, Attribute], path: str) -> Iterator[tuple[str, Attribute]]:
    """Every attribute at or below `attributes` (object fields, list and set items) with its path."""
    for name, attribute in attributes.items():
        where = f"{path}.{name}"
        yield where, attribute
        if attribute.fields:
            yield from _declared(attribute.fields, f"{where}.fields")
        if attribute.items is not None:
            yield from _declared({"items": attribute.items}, where)


def distinct_notes(model: RequirementsModel) -> list[Diagnostic]:
    """PP480 for every `distinct` larger than the number of values its attribute's type allows."""
    found: list[Diagnostic] = []
    for entity_name, entity in model.entities.items():
        for where, attribute in _declared(entity.attributes, f"entities.{entity_name}.attributes"):
            domain = attribute_domain(attribute)
            if attribute.distinct is None or domain is None or attribute.distinct <= domain:
                continue
            counted = effective_distinct(attribute)
            found.append(
                Diagnostic(
                    "PP480",
                    f"distinct: {attribute.distinct:,} is more than the {domain:,} values {_article(attribute)} "
                    f"{attribute.type.value} {_bounds(attribute)}can hold; the estimates count {counted:,} "
                    f"(declare distinct: {counted:,} or fewer)",
                    f"{where}.distinct",
                    Severity.WARNING,
                )
            )
    return found


def _bounds(attribute: Attribute) -> str:
    if attribute.values:
        return f"of {len(set(attribute.values))} values "
    if attribute.precision is not None:
        return f"({attribute.precision}, {attribute.scale or 0}) "
    if attribute.min is not None and attribute.max is not None:
        return f"from {attribute.min:g} to {attribute.max:g} "
    return ""


def _article(attribute: Attribute) -> str:
    return "an" if attribute.type.value[0] in "aeiou" else "a"

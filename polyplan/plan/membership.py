"""Membership and JSON sub-field filters (issue 12), as every store's design reads them.

A `contains` filter asks whether a list or set holds one item (a genre, a tag); a `path` filter
compares one declared sub-field of a json attribute (`payload.device.model`). Both need an index
that looks inside a value, which each store builds its own way: this module says, from the model
alone, which attributes are filtered so, so that every store plans for the same workload.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.collection_checks import sub_field
from polyplan.model.derived import all_attributes, patterns_of
from polyplan.model.schema import (
    COLLECTION_TYPES,
    AccessPattern,
    Attribute,
    Family,
    Filter,
    FilterOp,
    RequirementsModel,
)
from polyplan.plan.ir import Plan


@dataclass(frozen=True)
class InsideFilter:
    """One filter that looks inside an attribute's value."""

    pattern: str
    index: int  # the filter's position in the pattern's filters
    attribute: str
    kind: str  # "contains", "fulltext" (over a list of strings) or "path"
    path: tuple[str, ...] = ()
    target: Attribute | None = None  # the item (contains) or the sub-field (path) compared


def inside_filter(attributes: dict[str, Attribute], pattern: str, index: int, flt: Filter) -> InsideFilter | None:
    """The filter as an InsideFilter, or None when it compares the attribute's own value."""
    attribute = attributes.get(flt.attribute)
    if attribute is None:
        return None
    if flt.path is not None:
        return InsideFilter(pattern, index, flt.attribute, "path", tuple(flt.path), sub_field(attribute, flt.path))
    if attribute.type in COLLECTION_TYPES and flt.op is FilterOp.CONTAINS:
        return InsideFilter(pattern, index, flt.attribute, "contains", (), attribute.items)
    if attribute.type in COLLECTION_TYPES and flt.op is FilterOp.FULLTEXT:
        return InsideFilter(pattern, index, flt.attribute, "fulltext", (), attribute.items)
    return None


def looks_inside(flt: Filter) -> bool:
    """Whether a filter compares inside its attribute's value: a JSON path or a contains (full
    text over a list is told by its attribute's type: `inside_filter`)."""
    return flt.path is not None or flt.op is FilterOp.CONTAINS


def pattern_inside_filters(model: RequirementsModel, pattern: AccessPattern) -> list[InsideFilter]:
    """The filters of one read that look inside a value, in the pattern's order."""
    attributes = all_attributes(model, pattern.entity)
    found = (inside_filter(attributes, pattern.name, i, f) for i, f in enumerate(pattern.filters))
    return [f for f in found if f is not None]


def inside_filters(model: RequirementsModel, entity: str) -> Iterator[InsideFilter]:
    """Every read's filters on `entity` that look inside a value, in model order."""
    for pattern in patterns_of(model, entity):  # indexed by entity: a scan per entity was quadratic
        yield from pattern_inside_filters(model, pattern)


def searched_collections(model: RequirementsModel, entity: str) -> list[str]:
    """The list and set attributes of `entity` some read filters by an item (contains, or full
    text over its strings), each once, in model order: stores keep these in one value they can
    index (an array, a JSON array, a keyword field) rather than a table of their own."""
    return list(dict.fromkeys(f.attribute for f in inside_filters(model, entity) if f.kind != "path"))


def json_paths(model: RequirementsModel, entity: str) -> list[tuple[str, tuple[str, ...]]]:
    """(attribute, path) of every JSON sub-field of `entity` some read filters on, each once."""
    return list(dict.fromkeys((f.attribute, f.path) for f in inside_filters(model, entity) if f.kind == "path"))


def describe(flt: InsideFilter) -> str:
    """`tags contains ?`, `payload.device.model`: how plans and warnings name the filter."""
    if flt.kind == "path":
        return ".".join((flt.attribute, *flt.path))
    return f"{flt.attribute} {'contains' if flt.kind == 'contains' else 'full-text'}"


# What would serve an inside filter in a store that does not: said by PP419.
_INSTEAD: dict[Family, str] = {
    Family.WIDE_COLUMN: "Cassandra is not given it: an SAI index on values(<list>) (Cassandra 5) or a query table "
    "keyed by the item would serve contains; a sub-field needs its own column",
    Family.SEARCH: "the search projection is not given it: a keyword array field with a term query would serve "
    "contains, an object sub-field in the mapping a path",
    Family.CACHE: "a cache answers by key, not by what a value holds: the system of record's GIN, multikey or "
    "expression index serves it, or a set per item (SADD genre:<item> <key>) kept on write",
}


# Inside filters a store does answer (the rest get PP419): a search index analyses every string
# of a list, so full text over one is a text field (stores/search/mapping.py).
_SERVED: dict[Family, frozenset[str]] = {Family.SEARCH: frozenset({"fulltext"})}


def inside_warnings(plan: Plan) -> list[Diagnostic]:
    """PP419 for each read filtering inside a value that a store serving it cannot answer (its
    system of record or a projection listing it): which store, and what would serve it."""
    found: list[Diagnostic] = []
    for index, pattern in enumerate(plan.model.access_patterns):
        decided = plan.entities.get(pattern.entity)
        filters = pattern_inside_filters(plan.model, pattern)
        if decided is None or not filters:
            continue
        families = [decided.family, *(p.family for p in decided.projections if pattern.name in p.patterns)]
        for family in dict.fromkeys(families):
            instead = _INSTEAD.get(family)
            unserved = [f for f in filters if f.kind not in _SERVED.get(family, frozenset())]
            if instead is None or not unserved:
                continue
            shown = ", ".join(describe(f) for f in unserved)
            found.append(
                Diagnostic(
                    "PP419",
                    f"{pattern.name} ({shown}): {instead}",
                    f"access_patterns.{index}.filters.{unserved[0].index}",
                    Severity.WARNING,
                )
            )
    return found

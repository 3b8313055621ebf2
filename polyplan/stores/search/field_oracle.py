"""What the model requires of each search field's mapping, stated from the model alone.

The generated tests compare the mapping the server applied with this, so that a template that
maps a field as the wrong type (an enum as `text`, a count as `keyword`) fails even though
template, queries and test data would all agree with one another. Written from the attribute
types and the served patterns' filters and sorts, never from the template under test.
"""

from __future__ import annotations

from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, AccessPattern, Attribute, FilterOp, TypeName

_BY_TYPE: dict[TypeName, list[str]] = {
    TypeName.UUID: ["keyword"],
    TypeName.ENUM: ["keyword"],
    TypeName.INTEGER: ["byte", "integer", "long", "short"],
    TypeName.DECIMAL: ["double", "scaled_float"],
    TypeName.FLOAT: ["double", "float"],
    TypeName.BOOLEAN: ["boolean"],
    TypeName.DATE: ["date"],
    TypeName.TIMESTAMP: ["date", "date_nanos"],
    TypeName.TIMESTAMPTZ: ["date", "date_nanos"],
    TypeName.BINARY: ["binary"],
    TypeName.JSON: ["object"],
    TypeName.OBJECT: ["nested", "object"],
}
_EXACT = (FilterOp.EQ, FilterOp.IN, FilterOp.PREFIX)


def _allowed(attribute: Attribute, fulltext: bool) -> list[str]:
    kind = attribute.type
    if kind in COLLECTION_TYPES and attribute.items is not None:
        return _allowed(attribute.items, fulltext)
    if kind in (TypeName.STRING, TypeName.TEXT):
        # Searched by words: analysed text; otherwise matched whole: keyword.
        return ["text"] if fulltext or kind is TypeName.TEXT else ["keyword"]
    return _BY_TYPE.get(kind, [])


def field_requirements(attributes: dict[str, Attribute], patterns: list[AccessPattern]) -> dict[str, Any]:
    """Per top-level attribute the patterns or the index hold: the mapping types its model type
    allows, and whether a pattern matches or sorts it exactly (a `text` field then needs a
    keyword sub-field)."""
    fulltext = {f.attribute for p in patterns for f in p.filters if f.op is FilterOp.FULLTEXT}
    exact = {f.attribute for p in patterns for f in p.filters if f.op in _EXACT} | {
        s.attribute for p in patterns for s in p.sort
    }
    found: dict[str, Any] = {}
    for name, attribute in attributes.items():
        types = _allowed(attribute, name in fulltext)
        if types:
            found[name] = {"model": attribute.type.value, "types": types, "exact": name in exact}
    return found


def mapping_problems(alias: str, properties: dict[str, Any], requirements: dict[str, Any]) -> list[str]:
    """Where the mapping a server applied (`properties`) breaks `field_requirements` (empty: none)."""
    problems: list[str] = []
    for field, need in requirements.items():
        applied = properties[field]
        got = applied.get("type", "object")
        if got not in need["types"]:
            problems.append(f"{alias}.{field}: mapped as {got}; a {need['model']} needs {need['types']}")
        elif need["exact"] and got == "text" and applied.get("fields", {}).get("raw", {}).get("type") != "keyword":
            problems.append(f"{alias}.{field}: matched or sorted exactly, but has no keyword sub-field")
    return problems

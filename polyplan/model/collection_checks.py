"""Checks of collections and JSON sub-fields (issue 12): sets, `contains`, full text over a list
of strings, and filters with a `path` into a json attribute.

Kept apart from checks.py so the membership and sub-field rules live in one place. Codes:
PP328 an op that does not fit a collection (contains on a scalar, full text over a list of
non-strings), PP329 a JSON `path` that names nothing declared, or names it on an attribute that
is not json, PP334 a collection whose items cannot be compared one by one (a set or a contained
list of non-scalar items).
"""

from __future__ import annotations

from polyplan.model.schema import (
    COLLECTION_TYPES,
    SCALAR_TYPES,
    TEXTUAL_TYPES,
    Attribute,
    Filter,
    FilterOp,
    TypeName,
)

Path = tuple[str | int, ...]
Found = tuple[str, str, Path]


def collection_problems(attribute: Attribute, path: Path) -> list[Found]:
    """A set's items must be scalar (an object or list has no equality every store agrees on),
    and json `fields` declare the typed sub-fields filters may name."""
    found: list[Found] = []
    if attribute.type is TypeName.SET and attribute.items is not None and attribute.items.type not in SCALAR_TYPES:
        found.append(("PP334", f"a set holds scalar items, not {attribute.items.type.value}", (*path, "items", "type")))
    if attribute.type is TypeName.SET and attribute.items is not None and attribute.items.unique:
        found.append(
            (
                "PP334",
                "a set's items are unique within it already; unique here would mean across records",
                (*path, "items", "unique"),
            )
        )
    if attribute.type is TypeName.JSON:
        for name, field in (attribute.fields or {}).items():
            found.extend(_sub_field_problems(field, (*path, "fields", name)))
    return found


def _sub_field_problems(field: Attribute, path: Path) -> list[Found]:
    """A declared JSON sub-field is a scalar, or an object of declared sub-fields."""
    if field.type is TypeName.OBJECT:
        found: list[Found] = []
        for name, inner in (field.fields or {}).items():
            found.extend(_sub_field_problems(inner, (*path, "fields", name)))
        return found
    if field.type not in SCALAR_TYPES:
        return [
            ("PP329", f"a json sub-field is a scalar or an object of them, not {field.type.value}", (*path, "type"))
        ]
    return []


def sub_field(attribute: Attribute, keys: list[str]) -> Attribute | None:
    """The declared sub-field `keys` names inside a json attribute, or None."""
    current: Attribute | None = attribute
    for key in keys:
        fields = current.fields if current is not None else None
        current = (fields or {}).get(key)
        if current is None:
            return None
    return current


def filter_target(attribute: Attribute, flt: Filter) -> Attribute:
    """The attribute a filter's op applies to: the declared sub-field for a `path` filter (call
    only after `filter_problems` found none), the attribute itself otherwise."""
    if flt.path is None:
        return attribute
    found = sub_field(attribute, flt.path)
    return found if found is not None else attribute


def filter_problems(name: str, attribute: Attribute, flt: Filter, path: Path) -> list[Found]:
    """Problems of one filter's `path` and collection ops. Returns PP-coded findings; when the
    list is not empty the caller skips its own scalar checks of the filter."""
    found: list[Found] = []
    target = attribute
    if flt.path is not None:
        if attribute.type is not TypeName.JSON:
            return [("PP329", f"path applies to a json attribute; '{name}' is {attribute.type.value}", (*path, "path"))]
        resolved = sub_field(attribute, flt.path)
        dotted = ".".join(flt.path)
        if resolved is None:
            return [
                (
                    "PP329",
                    f"'{name}.{dotted}' is not a declared sub-field: declare it under {name}'s fields with its type",
                    (*path, "path"),
                )
            ]
        if resolved.type is TypeName.OBJECT:
            return [
                ("PP329", f"'{name}.{dotted}' is an object: filter on one of its scalar sub-fields", (*path, "path"))
            ]
        target = resolved
    if flt.op is FilterOp.CONTAINS:
        if target.type not in COLLECTION_TYPES:
            found.append(("PP328", f"contains needs a list or set; '{name}' is {target.type.value}", (*path, "op")))
        elif target.items is not None and target.items.type not in SCALAR_TYPES:
            found.append(
                (
                    "PP334",
                    f"contains compares one item; the items of '{name}' are {target.items.type.value}, not a scalar",
                    (*path, "op"),
                )
            )
        elif flt.value is not None:
            found.append(("PP328", "contains takes its item as a parameter, not a constant value", (*path, "value")))
    elif flt.op is FilterOp.FULLTEXT and target.type in COLLECTION_TYPES:
        kind = target.items.type if target.items is not None else None
        if kind not in TEXTUAL_TYPES:
            shown = kind.value if kind is not None else "nothing"
            message = f"full-text over a {target.type.value} needs string or text items; '{name}' holds {shown}"
            found.append(("PP328", message, (*path, "op")))
    return found

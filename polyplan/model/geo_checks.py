"""Checks of geo points (`type: geo_point`, filters `near` and `within`) and of search facets.

Kept apart from checks.py so the geo and facet keys have their checks in one place. Each
finding is (code, message, path), the shape `checks.check_model` turns into a Problem:

- PP335: a geo filter or sort that does not fit (near/within on a non-geo attribute, another op
  on a geo point, a constant point, a distance sort without a near filter to measure from);
- PP336: a geo point where a scalar is needed (a key, a unique rule, a check, a nested field
  or a list item; aggregates and the time attribute already refuse non-scalars, PP304/PP322/PP303);
- PP337: a facet that cannot be counted (unknown attribute, full-text-only text, a non-scalar
  type, a facet named twice, facets beside an aggregate).
"""

from __future__ import annotations

from polyplan.model.derived import all_attributes, key_of
from polyplan.model.schema import (
    SCALAR_TYPES,
    Attribute,
    Direction,
    Filter,
    FilterOp,
    RequirementsModel,
    TypeName,
)

GEO_OPS = frozenset({FilterOp.NEAR, FilterOp.WITHIN})

Found = tuple[str, str, tuple[str | int, ...]]


def _filter_found(
    known: dict[str, Attribute], filters: list[Filter], path: tuple[str | int, ...], writes: bool
) -> list[Found]:
    found: list[Found] = []
    for index, flt in enumerate(filters):
        attribute = known.get(flt.attribute)
        if attribute is None:
            continue  # PP202, reported by checks.py
        at = (*path, index)
        geo = attribute.type is TypeName.GEO_POINT
        if flt.op in GEO_OPS and not geo:
            found.append(
                (
                    "PP335",
                    f"{flt.op.value} needs a geo_point attribute; '{flt.attribute}' is {attribute.type.value}",
                    (*at, "op"),
                )
            )
        elif geo and flt.op not in GEO_OPS:
            found.append(
                (
                    "PP335",
                    f"the geo_point '{flt.attribute}' is filtered with near or within, not {flt.op.value}",
                    (*at, "op"),
                )
            )
        elif geo and writes:
            found.append(("PP335", "a write's where takes no geo filter: write by key or by a scalar", (*at, "op")))
        elif geo and "value" in flt.model_fields_set:
            found.append(
                (
                    "PP335",
                    "a geo filter's point (and radius or box) are parameters of the query, not a constant",
                    (*at, "value"),
                )
            )
    return found


def _sort_found(model: RequirementsModel, index: int) -> list[Found]:
    pattern = model.access_patterns[index]
    known = all_attributes(model, pattern.entity)
    near = {f.attribute for f in pattern.filters if f.op is FilterOp.NEAR}
    found: list[Found] = []
    for s_index, sort in enumerate(pattern.sort):
        attribute = known.get(sort.attribute)
        if attribute is None or attribute.type is not TypeName.GEO_POINT:
            continue
        at = ("access_patterns", index, "sort", s_index)
        if sort.attribute not in near:
            found.append(
                (
                    "PP335",
                    f"sorting on the geo_point '{sort.attribute}' means by distance from a near filter's point; "
                    "the pattern has no near filter on it",
                    (*at, "attribute"),
                )
            )
        elif sort.direction is Direction.DESC:
            found.append(("PP335", "a distance sort is nearest first (direction asc)", (*at, "direction")))
    return found


def _nested_geo(attribute: Attribute) -> bool:
    inner = [*(attribute.fields or {}).values(), *([attribute.items] if attribute.items else [])]
    return any(a.type is TypeName.GEO_POINT or _nested_geo(a) for a in inner)


def _placement_found(model: RequirementsModel) -> list[Found]:
    """Geo points where a scalar value is needed."""
    found: list[Found] = []
    for name, entity in model.entities.items():
        path: tuple[str | int, ...] = ("entities", name)
        geo = {a for a, attribute in entity.attributes.items() if attribute.type is TypeName.GEO_POINT}
        for attr_name, attribute in entity.attributes.items():
            if _nested_geo(attribute):
                found.append(
                    (
                        "PP336",
                        f"a geo_point is an entity's own attribute, not a field or item inside '{attr_name}'",
                        (*path, "attributes", attr_name, "type"),
                    )
                )
            if attr_name in geo and attribute.unique:
                found.append(("PP336", "a geo_point cannot be unique", (*path, "attributes", attr_name, "unique")))
        for k_index, key_attr in enumerate(key_of(entity).attributes):
            if key_attr in geo:
                found.append(
                    ("PP336", f"a key cannot be the geo_point '{key_attr}'", (*path, "key", "attributes", k_index))
                )
        for u_index, group in enumerate(entity.unique):
            for position, attr_name in enumerate(group):
                if attr_name in geo:
                    found.append(
                        (
                            "PP336",
                            f"unique cannot include the geo_point '{attr_name}'",
                            (*path, "unique", u_index, position),
                        )
                    )
    return found


def _facet_found(model: RequirementsModel, index: int) -> list[Found]:
    pattern = model.access_patterns[index]
    known = all_attributes(model, pattern.entity)
    path: tuple[str | int, ...] = ("access_patterns", index)
    found: list[Found] = []
    if pattern.facets and pattern.aggregate is not None:
        found.append(
            ("PP337", "facets count the rows a search returns; an aggregate returns no rows", (*path, "facets"))
        )
    seen: set[str] = set()
    for f_index, name in enumerate(pattern.facets):
        at = (*path, "facets", f_index)
        attribute = known.get(name)
        if name in seen:
            found.append(("PP337", f"facet '{name}' is named twice", at))
        seen.add(name)
        if attribute is None:
            found.append(("PP337", f"facet '{name}' is not an attribute of {pattern.entity}", at))
        elif attribute.type is TypeName.TEXT:
            found.append(
                (
                    "PP337",
                    f"'{name}' is text (analysed for full-text, no exact values to count); facet a string or enum",
                    at,
                )
            )
        elif attribute.type not in SCALAR_TYPES:
            found.append(("PP337", f"cannot count values of the {attribute.type.value} attribute '{name}'", at))
    if "facet_size" in pattern.model_fields_set and not pattern.facets:
        found.append(("PP337", "facet_size without facets", (*path, "facet_size")))
    return found


def geo_problems(model: RequirementsModel) -> list[Found]:
    """Every geo and facet problem of the model, in file order of their sections."""
    found = _placement_found(model)
    for index, pattern in enumerate(model.access_patterns):
        if pattern.entity not in model.entities:
            continue
        known = all_attributes(model, pattern.entity)
        found += _filter_found(known, pattern.filters, ("access_patterns", index, "filters"), writes=False)
        found += _sort_found(model, index)
        found += _facet_found(model, index)
    for index, write in enumerate(model.write_patterns):
        if write.entity in model.entities:
            known = all_attributes(model, write.entity)
            found += _filter_found(known, write.where, ("write_patterns", index, "where"), writes=True)
    return found

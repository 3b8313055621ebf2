"""Cross-field checks pydantic cannot express: references and contradictions.

Each finding carries the path of the field at fault so the loader can point at its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from polyplan.diagnostics import CODES
from polyplan.model.derived import all_attributes, key_attributes, key_of, reference_of, related_entities
from polyplan.model.schema import (
    ORDERABLE_TYPES,
    TEXTUAL_TYPES,
    Attribute,
    Entity,
    FilterOp,
    Isolation,
    OnDelete,
    RelationshipKind,
    RequirementsModel,
    TypeName,
)

# Names must survive every target: no dots (MongoDB paths), no leading digit, and short enough
# that "<entity>_<attribute>_idx"-style names fit PostgreSQL's 63-byte limit after hashing.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ $-]{0,47}$")
NUMERIC = frozenset({TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT})
UNINDEXABLE = frozenset({TypeName.LIST, TypeName.OBJECT, TypeName.JSON})

Path = tuple[str | int, ...]


# What NAME allows, in words, for messages.
NAME_RULE = "start with a letter or _, then letters, digits, _, $, - or spaces, at most 48 characters"


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    path: Path
    at_key: bool = False  # the problem is the key at `path` (a name), not the value under it


def _attribute_problems(attribute: Attribute, path: Path) -> list[Problem]:
    found: list[Problem] = []
    kind = attribute.type

    def bad(field: str, message: str) -> None:
        found.append(Problem("PP303", message, (*path, field)))

    if attribute.max_length is not None and kind is not TypeName.STRING:
        bad("max_length", f"max_length applies to string, not {kind.value}")
    if kind is TypeName.STRING and attribute.max_length is None:
        bad("type", "a string needs max_length (use type: text for unbounded text)")
    if (attribute.precision is not None or attribute.scale is not None) and kind is not TypeName.DECIMAL:
        bad("precision", f"precision and scale apply to decimal, not {kind.value}")
    if kind is TypeName.DECIMAL:
        if attribute.precision is None:
            bad("type", "a decimal needs precision")
        elif (attribute.scale or 0) > attribute.precision:
            bad("scale", "scale cannot exceed precision")
    if kind is TypeName.ENUM:
        if not attribute.values:
            bad("type", "an enum needs values")
        elif len(set(attribute.values)) != len(attribute.values):
            bad("values", "enum values repeat")
        if attribute.weights is not None and len(attribute.weights) != len(attribute.values or []):
            bad("weights", "weights must have one entry per enum value")
    elif attribute.values is not None:
        bad("values", f"values apply to enum, not {kind.value}")
    if kind is TypeName.LIST and attribute.items is None:
        bad("type", "a list needs items")
    if kind is not TypeName.LIST and attribute.items is not None:
        bad("items", f"items apply to list, not {kind.value}")
    if kind is TypeName.OBJECT and not attribute.fields:
        bad("type", "an object needs fields")
    if kind is not TypeName.OBJECT and attribute.fields is not None:
        bad("fields", f"fields apply to object, not {kind.value}")
    if (attribute.min is not None or attribute.max is not None) and kind not in NUMERIC:
        bad("min", f"min and max apply to numbers, not {kind.value}")
    if attribute.min is not None and attribute.max is not None and attribute.min > attribute.max:
        bad("min", "min is greater than max")
    if attribute.pattern is not None:
        if kind not in TEXTUAL_TYPES:
            bad("pattern", f"pattern applies to string or text, not {kind.value}")
        else:
            try:
                re.compile(attribute.pattern)
            except re.error as exc:
                bad("pattern", f"invalid regular expression: {exc}")
    if attribute.unique and kind in UNINDEXABLE:
        found.append(Problem("PP302", f"unique cannot apply to a {kind.value} attribute", (*path, "unique")))
    if attribute.default is not None and not _value_fits(attribute, attribute.default, allow_now=True):
        bad("default", f"default {attribute.default!r} does not fit type {kind.value}")
    if attribute.items is not None:
        found.extend(_attribute_problems(attribute.items, (*path, "items")))
    for field_name, field in (attribute.fields or {}).items():
        if not NAME.match(field_name):
            found.append(
                Problem(
                    "PP203",
                    f"'{field_name}' is not a valid name ({NAME_RULE})",
                    (*path, "fields", field_name),
                    at_key=True,
                )
            )
        found.extend(_attribute_problems(field, (*path, "fields", field_name)))
    return found


def _value_fits(attribute: Attribute, value: Any, allow_now: bool = False) -> bool:
    kind = attribute.type
    if kind is TypeName.ENUM:
        return value in (attribute.values or [])
    if kind is TypeName.BOOLEAN:
        return isinstance(value, bool)
    if kind is TypeName.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (TypeName.DECIMAL, TypeName.FLOAT):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is TypeName.STRING:
        return isinstance(value, str) and len(value) <= (attribute.max_length or 0)
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.DATE):
        return (allow_now and value == "now") or isinstance(value, str)
    if kind in (TypeName.TEXT, TypeName.UUID):
        return isinstance(value, str)
    return True


def _entity_problems(model: RequirementsModel, name: str, entity: Entity) -> list[Problem]:
    path: Path = ("entities", name)
    found: list[Problem] = []
    if not NAME.match(name):
        found.append(Problem("PP203", f"entity name '{name}' is not a valid name ({NAME_RULE})", path, at_key=True))
    for attr_name, attribute in entity.attributes.items():
        if not NAME.match(attr_name):
            found.append(
                Problem(
                    "PP203",
                    f"'{attr_name}' is not a valid name ({NAME_RULE})",
                    (*path, "attributes", attr_name),
                    at_key=True,
                )
            )
        found.extend(_attribute_problems(attribute, (*path, "attributes", attr_name)))
    known = all_attributes(model, name)
    key = key_of(entity)
    for index, key_attr in enumerate(key.attributes):
        if entity.key is not None and key_attr not in entity.attributes:
            found.append(
                Problem(
                    "PP202",
                    f"key attribute '{key_attr}' is not an attribute of {name}",
                    (*path, "key", "attributes", index),
                )
            )
        elif key_attr in entity.attributes:
            attribute = entity.attributes[key_attr]
            if attribute.nullable:
                found.append(
                    Problem("PP303", "a key attribute cannot be nullable", (*path, "attributes", key_attr, "nullable"))
                )
            if attribute.type in UNINDEXABLE:
                found.append(
                    Problem(
                        "PP302",
                        f"a key cannot be a {attribute.type.value} attribute",
                        (*path, "attributes", key_attr, "type"),
                    )
                )
    for index, group in enumerate(entity.unique):
        for position, attr_name in enumerate(group):
            member = known.get(attr_name)
            if member is None:
                found.append(
                    Problem("PP202", f"'{attr_name}' is not an attribute of {name}", (*path, "unique", index, position))
                )
            elif member.type in UNINDEXABLE:
                found.append(
                    Problem(
                        "PP302",
                        f"unique cannot include the {member.type.value} attribute '{attr_name}'",
                        (*path, "unique", index, position),
                    )
                )
    for index, check in enumerate(entity.checks):
        for side in ("left", "right"):
            attr_name = getattr(check, side)
            compared = known.get(attr_name)
            if compared is None:
                found.append(
                    Problem("PP202", f"'{attr_name}' is not an attribute of {name}", (*path, "checks", index, side))
                )
            elif compared.type not in ORDERABLE_TYPES:
                found.append(
                    Problem(
                        "PP304",
                        f"'{attr_name}' ({compared.type.value}) cannot be compared",
                        (*path, "checks", index, side),
                    )
                )
    growth = entity.growth
    if growth.must_keep and growth.ttl_seconds is not None:
        found.append(
            Problem("PP301", f"{name} must be kept, so it cannot have a TTL", (*path, "growth", "ttl_seconds"))
        )
    if growth.must_keep and growth.retention_days is not None:
        found.append(
            Problem(
                "PP301",
                f"{name} must be kept, so it cannot have a retention period",
                (*path, "growth", "retention_days"),
            )
        )
    if growth.retention_days and growth.archive_after_days and growth.archive_after_days >= growth.retention_days:
        found.append(
            Problem(
                "PP308",
                "archive_after_days must be shorter than retention_days",
                (*path, "growth", "archive_after_days"),
            )
        )
    if growth.time_attribute is not None:
        ager = known.get(growth.time_attribute)
        if ager is None:
            found.append(
                Problem(
                    "PP202",
                    f"'{growth.time_attribute}' is not an attribute of {name}",
                    (*path, "growth", "time_attribute"),
                )
            )
        elif ager.type not in (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
            found.append(
                Problem("PP303", "time_attribute must be a date or timestamp", (*path, "growth", "time_attribute"))
            )
    if (growth.retention_days or growth.archive_after_days) and growth.time_attribute is None:
        found.append(
            Problem(
                "PP102",
                "retention and archiving need a time_attribute that ages rows",
                (*path, "growth", "time_attribute"),
            )
        )
    if entity.placement is not None:
        family = entity.placement.family
        if model.engines.engine_for(family) is None:
            found.append(
                Problem(
                    "PP307",
                    f"{name} is placed in {family.value}, but engines.{family.value} is null (the organisation runs none)",
                    (*path, "placement", "family"),
                )
            )
        if family.value == "cache" and growth.ttl_seconds is None:
            found.append(
                Problem(
                    "PP310",
                    f"{name} is placed in the cache as its only store, so it needs growth.ttl_seconds",
                    (*path, "placement", "family"),
                )
            )
        if family.value == "search":
            found.append(
                Problem(
                    "PP307",
                    "a search engine cannot be a system of record; it is planned as a projection",
                    (*path, "placement", "family"),
                )
            )
    return found


def _relationship_problems(model: RequirementsModel) -> list[Problem]:
    found: list[Problem] = []
    seen: set[str] = set()
    for index, relationship in enumerate(model.relationships):
        path: Path = ("relationships", index)
        if relationship.name in seen:
            found.append(Problem("PP204", f"relationship '{relationship.name}' is defined twice", (*path, "name")))
        seen.add(relationship.name)
        for side, entity_name in (("from", relationship.from_), ("to", relationship.to)):
            if entity_name not in model.entities:
                found.append(Problem("PP201", f"unknown entity '{entity_name}'", (*path, side)))
        if relationship.on_delete is OnDelete.SET_NULL and relationship.required:
            found.append(Problem("PP306", "on_delete set_null needs required: false", (*path, "on_delete")))
        if relationship.attributes and relationship.kind is not RelationshipKind.MANY_TO_MANY:
            found.append(
                Problem("PP312", "only a many_to_many relationship has attributes of its own", (*path, "attributes"))
            )
        for attr_name, attribute in relationship.attributes.items():
            found.extend(_attribute_problems(attribute, (*path, "attributes", attr_name)))
        if relationship.foreign_key and relationship.to in model.entities and relationship.from_ in model.entities:
            # Naming a declared attribute reuses it (e.g. when it is part of a natural key), so its
            # type must be the type of the parent's key.
            declared = model.entities[relationship.to].attributes.get(relationship.foreign_key)
            parent_keys = list(key_attributes(model.entities[relationship.from_]).values())
            if declared is not None and (len(parent_keys) != 1 or declared.type is not parent_keys[0].type):
                expected = parent_keys[0].type.value if len(parent_keys) == 1 else "a composite key"
                found.append(
                    Problem(
                        "PP303",
                        f"'{relationship.foreign_key}' is a {declared.type.value} but {relationship.from_}'s key is {expected}",
                        (*path, "foreign_key"),
                    )
                )
    return found


def _reference_clashes(model: RequirementsModel) -> list[Problem]:
    """Two relationships into one child that imply the same reference column would share it silently."""
    found: list[Problem] = []
    claimed: dict[tuple[str, str], str] = {}
    for index, relationship in enumerate(model.relationships):
        if relationship.from_ not in model.entities or relationship.to not in model.entities:
            continue
        reference = reference_of(model, relationship)
        for column in reference.columns if reference else {}:
            first = claimed.setdefault((relationship.to, column), relationship.name)
            if first != relationship.name:
                found.append(
                    Problem(
                        "PP204",
                        f"relationships '{first}' and '{relationship.name}' both imply the column '{column}' on "
                        f"{relationship.to}; give one of them a foreign_key name",
                        ("relationships", index, "name"),
                    )
                )
    return found


def _pattern_problems(model: RequirementsModel) -> list[Problem]:
    found: list[Problem] = []
    seen: set[str] = set()
    for index, pattern in enumerate(model.access_patterns):
        path: Path = ("access_patterns", index)
        if pattern.name in seen:
            found.append(Problem("PP204", f"access pattern '{pattern.name}' is defined twice", (*path, "name")))
        seen.add(pattern.name)
        if pattern.entity not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{pattern.entity}'", (*path, "entity")))
            continue
        known = all_attributes(model, pattern.entity)
        for f_index, flt in enumerate(pattern.filters):
            attribute = known.get(flt.attribute)
            f_path = (*path, "filters", f_index)
            if attribute is None:
                found.append(
                    Problem(
                        "PP202", f"'{flt.attribute}' is not an attribute of {pattern.entity}", (*f_path, "attribute")
                    )
                )
                continue
            if flt.op is FilterOp.FULLTEXT and attribute.type not in TEXTUAL_TYPES:
                found.append(
                    Problem(
                        "PP305",
                        f"full-text needs a string or text attribute; '{flt.attribute}' is {attribute.type.value}",
                        (*f_path, "op"),
                    )
                )
            if flt.op is FilterOp.PREFIX and attribute.type is not TypeName.STRING:
                found.append(
                    Problem(
                        "PP305",
                        f"prefix needs a string attribute; '{flt.attribute}' is {attribute.type.value}",
                        (*f_path, "op"),
                    )
                )
            if flt.op is FilterOp.RANGE and attribute.type not in ORDERABLE_TYPES:
                found.append(
                    Problem(
                        "PP304",
                        f"range needs an ordered type; '{flt.attribute}' is {attribute.type.value}",
                        (*f_path, "op"),
                    )
                )
            if flt.op in (FilterOp.EQ, FilterOp.IN) and attribute.type in UNINDEXABLE:
                found.append(
                    Problem(
                        "PP304",
                        f"cannot filter by equality on the {attribute.type.value} attribute '{flt.attribute}'",
                        (*f_path, "op"),
                    )
                )
            if flt.value is None and "value" in flt.model_fields_set:
                found.append(
                    Problem(
                        "PP309",
                        "value: null is not supported (IS NULL filters are not modelled); omit value to make the filter a "
                        "parameter, or filter on an enum state",
                        (*f_path, "value"),
                    )
                )
            if flt.value is not None:
                values = flt.value if flt.op is FilterOp.IN and isinstance(flt.value, list) else [flt.value]
                if flt.op not in (FilterOp.EQ, FilterOp.IN):
                    found.append(
                        Problem("PP309", f"a constant value needs op eq or in, not {flt.op.value}", (*f_path, "value"))
                    )
                elif not all(_value_fits(attribute, v) for v in values):
                    found.append(
                        Problem(
                            "PP309",
                            f"constant {flt.value!r} does not fit '{flt.attribute}' ({attribute.type.value}, op {flt.op.value})",
                            (*f_path, "value"),
                        )
                    )
        for s_index, sort in enumerate(pattern.sort):
            attribute = known.get(sort.attribute)
            if attribute is None:
                found.append(
                    Problem(
                        "PP202",
                        f"'{sort.attribute}' is not an attribute of {pattern.entity}",
                        (*path, "sort", s_index, "attribute"),
                    )
                )
            elif attribute.type not in ORDERABLE_TYPES:
                found.append(
                    Problem(
                        "PP304",
                        f"cannot sort on the {attribute.type.value} attribute '{sort.attribute}'",
                        (*path, "sort", s_index, "attribute"),
                    )
                )
        for r_index, attr_name in enumerate(pattern.reads):
            if attr_name not in known:
                found.append(
                    Problem(
                        "PP202", f"'{attr_name}' is not an attribute of {pattern.entity}", (*path, "reads", r_index)
                    )
                )
        related = related_entities(model, pattern.entity)
        for l_index, other in enumerate(pattern.loads):
            if other not in model.entities:
                found.append(Problem("PP201", f"unknown entity '{other}'", (*path, "loads", l_index)))
            elif other not in related:
                found.append(
                    Problem("PP201", f"{pattern.entity} has no relationship with {other}", (*path, "loads", l_index))
                )
    for index, write in enumerate(model.write_patterns):
        path = ("write_patterns", index)
        if write.name in seen:
            found.append(Problem("PP204", f"pattern '{write.name}' is defined twice", (*path, "name")))
        seen.add(write.name)
        if write.entity not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{write.entity}'", (*path, "entity")))
            continue
        known = all_attributes(model, write.entity)
        for a_index, attr_name in enumerate(write.attributes):
            if attr_name not in known:
                found.append(
                    Problem(
                        "PP202", f"'{attr_name}' is not an attribute of {write.entity}", (*path, "attributes", a_index)
                    )
                )
    for index, transaction in enumerate(model.transactions):
        for e_index, entity_name in enumerate(transaction.entities):
            if entity_name not in model.entities:
                found.append(
                    Problem("PP201", f"unknown entity '{entity_name}'", ("transactions", index, "entities", e_index))
                )
    return found


def _governance_problems(model: RequirementsModel) -> list[Problem]:
    found: list[Problem] = []
    tenancy = model.tenancy
    if tenancy.isolation is not Isolation.NONE and tenancy.tenant_key is None:
        found.append(
            Problem("PP313", f"isolation '{tenancy.isolation.value}' needs a tenant_key", ("tenancy", "tenant_key"))
        )
    scoped = tenancy.entities or (list(model.entities) if tenancy.isolation is Isolation.ROW else [])
    for index, entity_name in enumerate(tenancy.entities):
        if entity_name not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{entity_name}'", ("tenancy", "entities", index)))
    if tenancy.tenant_key:
        for entity_name in scoped:
            if entity_name in model.entities and tenancy.tenant_key not in all_attributes(model, entity_name):
                found.append(
                    Problem(
                        "PP202",
                        f"tenant key '{tenancy.tenant_key}' is not an attribute of {entity_name}",
                        ("tenancy", "tenant_key"),
                    )
                )
    for r_index, role in enumerate(model.security.roles):
        for entity_name in role.grants:
            if entity_name != "*" and entity_name not in model.entities:
                found.append(
                    Problem(
                        "PP201",
                        f"unknown entity '{entity_name}'",
                        ("security", "roles", r_index, "grants", entity_name),
                        at_key=True,
                    )
                )
    for index, entity_name in enumerate(model.security.audit):
        if entity_name not in model.entities:
            found.append(Problem("PP201", f"unknown entity '{entity_name}'", ("security", "audit", index)))
    for index, code in enumerate(model.options.suppress):
        if code not in CODES:
            found.append(Problem("PP103", f"unknown diagnostic code '{code}'", ("options", "suppress", index)))
    return found


def check_model(model: RequirementsModel) -> list[Problem]:
    """Every reference and contradiction problem in the model, in file order of their sections."""
    found: list[Problem] = []
    for name, entity in model.entities.items():
        found.extend(_entity_problems(model, name, entity))
    found.extend(_relationship_problems(model))
    found.extend(_reference_clashes(model))
    # Patterns resolve attributes through relationships: skip them if those are broken.
    if not any(p.code == "PP201" and p.path[0] == "relationships" for p in found):
        found.extend(_pattern_problems(model))
        found.extend(_governance_problems(model))
    return found

"""Checks of derived attributes (`derived: {function, relationship, attribute}`): an attribute kept
equal to the count, sum, max or min of a relationship's children.

Kept apart from checks.py so the key has its checks in one place. Each finding is
(code, message, path), the shape `checks.check_model` turns into a Problem:

- PP345: the relationship is unknown, is many-to-many, does not start at this entity, or links
  the entity to itself (a trigger may not write the table that fired it on MariaDB);
- PP346: the function and `attribute` do not go together (count takes none; sum, max and min
  need one of the children's attributes);
- PP347: the types do not fit (count is an integer; sum adds numbers into a number; max and
  min keep the children's type and are nullable, since a parent without children has none;
  count and sum start at 0 and are not nullable);
- PP348: something else writes it: a write pattern, the key, a unique rule or a reference.
"""

from __future__ import annotations

from polyplan.model.derived import all_attributes, key_of, memoised, reference_of
from polyplan.model.schema import (
    Attribute,
    DerivedFunction,
    Relationship,
    RelationshipKind,
    RequirementsModel,
    TypeName,
)

NUMBERS = frozenset({TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT})
ORDERED = NUMBERS | {TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ}

Found = tuple[str, str, tuple[str | int, ...]]


def derived_attributes(model: RequirementsModel) -> tuple[tuple[str, str, Attribute], ...]:
    """(entity, attribute, its declaration) for every derived attribute, in model order.

    Memoised per model: the stores ask once per entity and per write (every attribute of every
    entity was scanned each time, quadratic in the model); a tuple, so no caller can change it."""
    return memoised(model, _DERIVED_ATTRIBUTES, lambda: _derived_attributes(model))


_DERIVED_ATTRIBUTES = "derived_attribute_checks.derived_attributes"


def _derived_attributes(model: RequirementsModel) -> tuple[tuple[str, str, Attribute], ...]:
    return tuple(
        (entity_name, name, attribute)
        for entity_name, entity in model.entities.items()
        for name, attribute in entity.attributes.items()
        if attribute.derived is not None
    )


def derived_relationship(model: RequirementsModel, attribute: Attribute) -> Relationship | None:
    """The relationship a derived attribute aggregates the children of (None when not derived or unknown)."""
    derived = attribute.derived
    if derived is None:
        return None
    return next((r for r in model.relationships if r.name == derived.relationship), None)


def _fit(
    model: RequirementsModel, entity: str, name: str, attribute: Attribute, path: tuple[str | int, ...]
) -> list[Found]:
    derived = attribute.derived
    assert derived is not None
    at = (*path, "derived")
    relationship = derived_relationship(model, attribute)
    if (
        relationship is None
        or relationship.kind is RelationshipKind.MANY_TO_MANY
        or relationship.from_ != entity
        or relationship.to == entity
    ):
        why = (
            "no relationship has that name"
            if relationship is None
            else f"it links {relationship.from_} to {relationship.to} ({relationship.kind.value})"
        )
        return [
            (
                "PP345",
                f"{entity}.{name} derives from relationship '{derived.relationship}', but {why}: it must be a "
                f"one_to_many or one_to_one relationship from {entity} to another entity",
                (*at, "relationship"),
            )
        ]
    function = derived.function
    if function is DerivedFunction.COUNT:
        if derived.attribute is not None:
            return [("PP346", "count counts the children: it takes no attribute", (*at, "attribute"))]
        source = None
    else:
        children = all_attributes(model, relationship.to)
        source = children.get(derived.attribute) if derived.attribute is not None else None
        if source is None:
            missing = "needs" if derived.attribute is None else f"names '{derived.attribute}', not"
            return [
                (
                    "PP346",
                    f"{function.value} {missing} an attribute of {relationship.to} to aggregate",
                    (*at, "attribute"),
                )
            ]
    return _type_found(entity, name, attribute, function, source, path)


def _type_found(
    entity: str,
    name: str,
    attribute: Attribute,
    function: DerivedFunction,
    source: Attribute | None,
    path: tuple[str | int, ...],
) -> list[Found]:
    here = f"{entity}.{name}"
    if function is DerivedFunction.COUNT and attribute.type is not TypeName.INTEGER:
        return [("PP347", f"{here} counts children: its type must be integer", (*path, "type"))]
    if function is DerivedFunction.SUM and (
        source is None or source.type not in NUMBERS or attribute.type not in NUMBERS
    ):
        return [("PP347", f"{here} sums the children's attribute: both must be numbers", (*path, "type"))]
    if function in (DerivedFunction.MAX, DerivedFunction.MIN):
        if source is None or source.type not in ORDERED or source.type is not attribute.type:
            kept = "" if source is None else f" ({source.type.value})"
            return [
                (
                    "PP347",
                    f"{here} keeps the {function.value} of an ordered attribute (number, date or timestamp): its "
                    f"type must be that attribute's{kept}",
                    (*path, "type"),
                )
            ]
        if not attribute.nullable:
            return [
                (
                    "PP347",
                    f"{here} has no value while the parent has no children: it must be nullable",
                    (*path, "nullable"),
                )
            ]
    if function in (DerivedFunction.COUNT, DerivedFunction.SUM):
        if attribute.nullable:
            return [("PP347", f"{here} starts at 0 and is never null: it cannot be nullable", (*path, "nullable"))]
        if attribute.default not in (None, 0):
            return [("PP347", f"{here} starts at 0: its default can only be 0", (*path, "default"))]
    return []


def _written_elsewhere(model: RequirementsModel) -> list[Found]:
    derived = {(entity, name) for entity, name, _ in derived_attributes(model)}
    found: list[Found] = []
    for index, write in enumerate(model.write_patterns):
        for position, name in enumerate(write.attributes):
            if (write.entity, name) in derived:
                found.append(
                    (
                        "PP348",
                        f"{write.name} writes {write.entity}.{name}, which the store keeps in step with its children: "
                        "no write pattern may set it",
                        ("write_patterns", index, "attributes", position),
                    )
                )
    # The reference columns each entity holds, from one pass over the relationships (a pass per
    # entity was quadratic in the model); the same reference_of calls as asking entity by entity.
    referenced: dict[str, set[str]] = {}
    for relationship in model.relationships:
        if relationship.to in model.entities:
            reference = reference_of(model, relationship)
            if reference is not None:
                referenced.setdefault(relationship.to, set()).update(reference.columns)
    for entity_name, entity in model.entities.items():
        held = set(key_of(entity).attributes) | {a for group in entity.unique for a in group}
        held |= referenced.get(entity_name, set())
        for name, attribute in entity.attributes.items():
            if attribute.derived is not None and (name in held or attribute.unique):
                found.append(
                    (
                        "PP348",
                        f"{entity_name}.{name} is derived from children, so it cannot be part of the key, a unique "
                        "rule or a reference",
                        ("entities", entity_name, "attributes", name, "derived"),
                    )
                )
    return found


def derived_attribute_problems(model: RequirementsModel) -> list[Found]:
    """Every problem of the model's derived attributes, in model order."""
    found: list[Found] = []
    for entity, name, attribute in derived_attributes(model):
        found += _fit(model, entity, name, attribute, ("entities", entity, "attributes", name))
    return found + _written_elsewhere(model)

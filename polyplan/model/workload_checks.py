"""Cross-checks of the workload additions (issues 12 and 14): increments and write predicates.

Kept apart from checks.py so that each family of workload keys has its checks in one place.
Each finding is (code, message, path), the shape `checks.check_model` turns into a Problem.
"""

from __future__ import annotations

from collections.abc import Mapping

from polyplan.model.derived import all_attributes, key_of, reference_of
from polyplan.model.paths import PathError, is_path, resolve
from polyplan.model.schema import (
    ORDERABLE_TYPES,
    SCALAR_TYPES,
    AggregateFunction,
    Attribute,
    FilterOp,
    RelationshipKind,
    RequirementsModel,
    TypeName,
    WriteKind,
)

# Numbers a store can add to atomically; every other type has no meaning for "+ step".
COUNTABLE = frozenset({TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT})

Found = tuple[str, str, tuple[str | int, ...]]


def _fixed_attributes(model: RequirementsModel, entity: str) -> dict[str, str]:
    """Attributes an increment must not touch → why: identity, references and unique values."""
    declared = model.entities[entity]
    fixed = {name: "part of the key" for name in key_of(declared).attributes}
    for relationship in model.relationships:
        reference = reference_of(model, relationship) if relationship.to == entity else None
        for column in reference.columns if reference else {}:
            fixed.setdefault(column, f"the reference of relationship '{relationship.name}'")
    for name, attribute in declared.attributes.items():
        if attribute.unique:
            fixed.setdefault(name, "unique")
    for rule in declared.unique:
        for name in rule:
            fixed.setdefault(name, "part of a unique rule")
    return fixed


def increment_problems(model: RequirementsModel) -> list[Found]:
    """Increment write patterns that name no counter, a non-number, a fixed attribute or a bad step."""
    found: list[Found] = []
    for index, write in enumerate(model.write_patterns):
        path: tuple[str | int, ...] = ("write_patterns", index)
        if write.entity not in model.entities:
            continue  # PP201, reported by the reference checks
        if write.kind is not WriteKind.INCREMENT:
            if write.step is not None:
                found.append(("PP333", f"step needs kind: increment, not {write.kind.value}", (*path, "step")))
            continue
        if not write.attributes:
            found.append(("PP330", "an increment names the numeric attributes it adds to", (*path, "attributes")))
        known = all_attributes(model, write.entity)
        fixed = _fixed_attributes(model, write.entity)
        step = 1.0 if write.step is None else write.step
        if step == 0:
            found.append(("PP333", "an increment's step cannot be 0", (*path, "step")))
        for a_index, name in enumerate(write.attributes):
            attribute = known.get(name)
            a_path = (*path, "attributes", a_index)
            if attribute is None:
                continue  # PP202, reported by the reference checks
            if attribute.type not in COUNTABLE:
                found.append(
                    ("PP331", f"cannot increment '{name}': it is {attribute.type.value}, not a number", a_path)
                )
            elif name in fixed:
                found.append(("PP332", f"cannot increment '{name}': it is {fixed[name]}", a_path))
            elif attribute.type is TypeName.INTEGER and step != int(step):
                found.append(
                    ("PP333", f"step {step:g} is not a whole number, but '{name}' is an integer", (*path, "step"))
                )
    return found


# The kinds that select existing rows: only they have a predicate (an insert names no rows, an
# upsert and an increment address one record by its key).
PREDICATED = (WriteKind.UPDATE, WriteKind.DELETE)


def predicate_problems(model: RequirementsModel) -> list[Found]:
    """Write predicates (`where`) and locks on kinds that cannot have them, full-text predicates,
    and predicated updates that do not say what they set. The filters themselves are checked
    like an access pattern's (checks._filter_problems)."""
    found: list[Found] = []
    for index, write in enumerate(model.write_patterns):
        path: tuple[str | int, ...] = ("write_patterns", index)
        if write.where and write.kind not in PREDICATED:
            found.append(("PP319", f"where needs kind: update or delete, not {write.kind.value}", (*path, "where")))
        if write.lock is not None and write.kind is not WriteKind.UPDATE:
            found.append(("PP319", f"lock needs kind: update, not {write.kind.value}", (*path, "lock")))
        for f_index, flt in enumerate(write.where):
            if flt.op is FilterOp.FULLTEXT:
                found.append(
                    (
                        "PP320",
                        "a write predicate cannot be full-text: the rows written must match exactly",
                        (*path, "where", f_index, "op"),
                    )
                )
        if write.where and write.kind is WriteKind.UPDATE and not write.attributes:
            found.append(("PP321", "an update with where names the attributes it sets", (*path, "attributes")))
    return found


ARITHMETIC = (AggregateFunction.SUM, AggregateFunction.AVG)
ORDERED = (AggregateFunction.MIN, AggregateFunction.MAX)


def _group_attribute(
    model: RequirementsModel, entity: str, name: str, known: Mapping[str, Attribute]
) -> Attribute | None:
    """The attribute a group_by name reads: the entity's own, or the one a path reaches (None when
    it names neither, or its path does not resolve: paths.py reports that)."""
    if not is_path(name):
        return known.get(name)
    try:
        return resolve(model, entity, name).kind
    except PathError:
        return None


def aggregate_problems(model: RequirementsModel) -> list[Found]:
    """Aggregates over unknown or unfit attributes, and the keys of a pattern an aggregate gives no
    meaning to (reads, loads, a sort on something other than the groups)."""
    found: list[Found] = []
    for index, pattern in enumerate(model.access_patterns):
        aggregate = pattern.aggregate
        if aggregate is None or pattern.entity not in model.entities:
            continue
        path: tuple[str | int, ...] = ("access_patterns", index, "aggregate")
        known = all_attributes(model, pattern.entity)
        function = aggregate.function
        if aggregate.attribute is not None and is_path(aggregate.attribute):
            pass  # PP326 (paths.py)
        elif aggregate.attribute is None:
            if function is not AggregateFunction.COUNT:
                found.append(("PP323", f"{function.value} needs an attribute to aggregate", (*path, "function")))
        elif aggregate.attribute not in known:
            found.append(
                ("PP202", f"'{aggregate.attribute}' is not an attribute of {pattern.entity}", (*path, "attribute"))
            )
        else:
            kind = known[aggregate.attribute].type
            if function in ARITHMETIC and kind not in COUNTABLE:
                found.append(
                    (
                        "PP322",
                        f"{function.value} needs a number; '{aggregate.attribute}' is {kind.value}",
                        (*path, "attribute"),
                    )
                )
            elif (function in ORDERED and kind not in ORDERABLE_TYPES) or kind not in SCALAR_TYPES:
                found.append(
                    (
                        "PP322",
                        f"{function.value} of the {kind.value} attribute '{aggregate.attribute}'",
                        (*path, "attribute"),
                    )
                )
        for g_index, name in enumerate(aggregate.group_by):
            group = _group_attribute(model, pattern.entity, name, known)
            if is_path(name) and group is None:
                continue  # PP324 or PP326 (paths.py)
            if group is None:
                found.append(
                    ("PP202", f"'{name}' is not an attribute of {pattern.entity}", (*path, "group_by", g_index))
                )
            elif group.type not in SCALAR_TYPES:
                found.append(
                    (
                        "PP304",
                        f"cannot group by the {group.type.value} attribute '{name}'",
                        (*path, "group_by", g_index),
                    )
                )
        for key in ("reads", "loads"):
            if getattr(pattern, key):
                found.append(
                    (
                        "PP323",
                        f"{key} has no meaning with aggregate: the result is the groups and the value",
                        ("access_patterns", index, key),
                    )
                )
        for s_index, sort in enumerate(pattern.sort):
            if sort.attribute not in aggregate.group_by:
                found.append(
                    (
                        "PP323",
                        f"an aggregate's result is sorted by its group_by attributes only, not '{sort.attribute}'",
                        ("access_patterns", index, "sort", s_index, "attribute"),
                    )
                )
    return found


# A declared skew means something only where values repeat and the model has not said it already.
SKEW_IMPLIED = {
    TypeName.BOOLEAN: "a boolean's share follows from its two values",
    TypeName.ENUM: "an enum's most frequent value is stated by its weights",
}


def skew_problems(model: RequirementsModel) -> list[Found]:
    """`hot_share` where it cannot hold: below the average share, on a unique or implied value, per pair."""
    found: list[Found] = []
    for name, entity in model.entities.items():
        for attribute_name, attribute in entity.attributes.items():
            if attribute.hot_share is None:
                continue
            path: tuple[str | int, ...] = ("entities", name, "attributes", attribute_name, "hot_share")
            if attribute.type not in SCALAR_TYPES:
                found.append(("PP341", f"hot_share applies to a scalar attribute, not {attribute.type.value}", path))
            elif attribute.type in SKEW_IMPLIED:
                found.append(("PP341", f"hot_share has no meaning here: {SKEW_IMPLIED[attribute.type]}", path))
            elif attribute.unique or key_of(entity).attributes == [attribute_name]:
                found.append(("PP341", f"'{attribute_name}' is unique: no value repeats, so none is hot", path))
            elif attribute.distinct and attribute.hot_share < 1 / attribute.distinct:
                found.append(
                    (
                        "PP341",
                        f"hot_share {attribute.hot_share:g} is below the average share of {attribute.distinct:,} "
                        f"distinct values (1/{attribute.distinct:,}); the most frequent value holds at least that",
                        path,
                    )
                )
    for index, relationship in enumerate(model.relationships):
        if relationship.hot_share is None:
            continue
        path = ("relationships", index, "hot_share")
        if relationship.kind is not RelationshipKind.ONE_TO_MANY:
            found.append(
                (
                    "PP341",
                    f"hot_share applies to one_to_many relationships (the busiest parent's share of the children), "
                    f"not {relationship.kind.value}",
                    path,
                )
            )
    return found

"""Derived attributes of a parent held in Redis: `HINCRBY` on the parent's hash beside each child write.

A `count` or `sum` of children (docs/model.md, derived attributes) whose parent and children are
both Redis records is kept the way a relational trigger would keep it: each child insert adds 1
(or the child's value) to the parent's hash field, each child delete subtracts it, in the MULTI
that writes the child's keys. Redis has no trigger, so the add is part of the designed write path
(`keys.json` `commands`), and the generated tests run it and read the parent back.

PP468 stays where this cannot be exact: `max`/`min` (a delete would need the other children), a
sum over a non-integer (HINCRBYFLOAT drifts), an upsert (insert or replace: the add would count
a replaced child twice), an update that changes the summed attribute or moves the child to
another parent (the add needs the old value), a parent stored as a JSON string, or a parent key
the child's reference cannot name.
"""

from __future__ import annotations

from dataclasses import replace

from polyplan.model.derived import all_attributes, reference_of, snake, writes_of
from polyplan.model.derived_attribute_checks import derived_attributes, derived_relationship
from polyplan.model.schema import Attribute, DerivedFunction, Family, RequirementsModel, WriteKind
from polyplan.plan.increments import integral
from polyplan.stores.cache.keys import KeyTemplate
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.spec import Structure, WritePath, value_token

# Adds only while the parent is stored: HINCRBY on a missing (expired, evicted) parent would
# create a hash holding that one field, which a read would take for the parent. KEYS[1] the
# parent, ARGV[1] the field, ARGV[2] the child's part (empty for a null value, which adds 0),
# ARGV[3] 1 or -1 (insert or delete). A zero is written 0, never Lua's -0, which HINCRBY refuses.
GUARDED_ADD = (
    "local d = (tonumber(ARGV[2]) or 0) * tonumber(ARGV[3]) if d == 0 then d = 0 end "
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HINCRBY', KEYS[1], ARGV[1], d) end return nil"
)


def _why_not(ctx: DesignContext, entity: str, name: str, attribute: Attribute) -> str | None:
    """Why the Redis design cannot keep `entity.name` exact (None when it can)."""
    derived = attribute.derived
    relationship = derived_relationship(ctx.model, attribute)
    assert derived is not None and relationship is not None
    child = relationship.to
    if derived.function not in (DerivedFunction.COUNT, DerivedFunction.SUM):
        return f"a {derived.function.value} cannot be kept by adding (a delete would need the other children)"
    if derived.function is DerivedFunction.SUM:
        summed = derived.attribute or ""
        if not integral(all_attributes(ctx.model, child)[summed]):
            return f"{child}.{summed} is not a whole number, so HINCRBY cannot add it (HINCRBYFLOAT drifts)"
    parent_key = next((k for k in ctx.keys if k.entity == entity and k.name == snake(entity)), None)
    if parent_key is None or parent_key.structure is not Structure.HASH:
        return f"{entity}'s record is not a hash, so no field can be added to in place"
    reference = reference_of(ctx.model, relationship)
    named = set(reference.columns.values()) if reference else set()
    if not set(parent_key.template.attributes) <= named:
        return f"{entity}'s record key is named by values a {child} does not hold"
    moved = set(reference.columns) if reference else set()
    if derived.function is DerivedFunction.SUM and derived.attribute:
        moved.add(derived.attribute)
    for write in writes_of(ctx.model, child):
        if write.kind is WriteKind.UPSERT:
            return f"{write.name} is an upsert: adding on it would count a replaced {child} twice"
        if write.kind in (WriteKind.UPDATE, WriteKind.INCREMENT) and (
            not write.attributes or moved & set(write.attributes)
        ):
            return f"{write.name} may change {', '.join(sorted(moved))}: the add would need the old value"
    return None


def _parent_template(ctx: DesignContext, entity: str, child_reference: dict[str, str]) -> KeyTemplate:
    """The parent's record key with each placeholder named by the child's reference attribute."""
    parent_key = next(k for k in ctx.keys if k.entity == entity and k.name == snake(entity))
    by_parent = {parent: child for child, parent in child_reference.items()}
    segments = tuple(
        replace(s, attribute=by_parent[s.attribute]) if s.attribute is not None else s
        for s in parent_key.template.segments
    )
    return KeyTemplate(segments)


def keep_derived(ctx: DesignContext) -> None:
    """Add the parent's HINCRBY to the child's insert and delete paths for every derived
    attribute whose parent and children are Redis records; PP468 for those it cannot keep."""
    records = set(ctx.plan.records_in(Family.CACHE))
    for entity, name, attribute in derived_attributes(ctx.model):
        relationship = derived_relationship(ctx.model, attribute)
        derived = attribute.derived
        if relationship is None or derived is None or {entity, relationship.to} - records:
            continue
        path = f"entities.{entity}.attributes.{name}.derived"
        problem = _why_not(ctx, entity, name, attribute)
        if problem is not None:
            ctx.warn(
                "PP468",
                f"{entity}.{name} is the {derived.function.value} of {relationship.to} children, both in Redis, but "
                f"{problem}: the application must keep it in the same write as each {relationship.to} insert, delete "
                "and change, and no generated test checks it",
                path,
            )
            continue
        reference = reference_of(ctx.model, relationship)
        assert reference is not None
        parent = _parent_template(ctx, entity, reference.columns).render()
        amount = "1" if derived.function is DerivedFunction.COUNT else value_token(derived.attribute or "")
        what = "1" if derived.function is DerivedFunction.COUNT else f"the {relationship.to}'s {derived.attribute}"
        adds = {
            WriteKind.INSERT: (
                ("EVAL", GUARDED_ADD, "1", parent, name, amount, "1"),
                f"HINCRBY {parent} {name} {amount}: add {what}",
            ),
            WriteKind.DELETE: (
                ("EVAL", GUARDED_ADD, "1", parent, name, amount, "-1"),
                f"HINCRBY {parent} {name} by minus {what} (read the {relationship.to} first: its key names only it)",
            ),
        }
        for position, write in enumerate(ctx.writes):
            if write.entity != relationship.to or write.kind not in adds:
                continue
            command, step = adds[write.kind]
            ctx.writes[position] = _with_add(write, command, step, snake(entity))


def _with_add(write: WritePath, command: tuple[str, ...], step: str, parent: str) -> WritePath:
    """`write` with the parent's add in its MULTI: atomic on one node; in a cluster the parent's
    key is on another slot, so the add is pipelined right after the child's keys."""
    return replace(
        write,
        keys=(*write.keys, parent) if parent not in write.keys else write.keys,
        commands=(*write.commands, command),
        steps=(
            *write.steps,
            f"derived: {step}, only while the parent is stored (one script), in the same MULTI as the child's keys "
            "on one node (in a cluster the parent's key is on another slot: pipelined right after them)",
        ),
        atomic=False,
    )


def added_in_place(ctx: DesignContext, entity: str) -> str:
    """Why `entity`'s record is a hash for its derived attributes ('' when none is added to)."""
    records = set(ctx.plan.records_in(Family.CACHE))
    for parent, name, attribute in derived_attributes(ctx.model):
        relationship = derived_relationship(ctx.model, attribute)
        derived = attribute.derived
        if parent != entity or relationship is None or derived is None or relationship.to not in records:
            continue
        if derived.function in (DerivedFunction.COUNT, DerivedFunction.SUM):
            return f"{relationship.to} writes add to {name} in place (HINCRBY)"
    return ""


def oracle(model: RequirementsModel, entities: list[str]) -> list[dict[str, str | None]]:
    """Each count or sum whose parent and children are among `entities`, from the model alone
    (the generated test's expectation, independent of the designed commands)."""
    found: list[dict[str, str | None]] = []
    for parent, name, attribute in derived_attributes(model):
        relationship = derived_relationship(model, attribute)
        derived = attribute.derived
        if relationship is None or derived is None or {parent, relationship.to} - set(entities):
            continue
        if derived.function in (DerivedFunction.COUNT, DerivedFunction.SUM):
            found.append(
                {
                    "parent": parent,
                    "field": name,
                    "child": relationship.to,
                    "function": derived.function.value,
                    "attribute": derived.attribute,
                }
            )
    return found

"""Facts implied by a model but not written in it: default keys, reference attributes.

Kept apart from the pydantic classes so that the schema stays a plain description of the YAML.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    Entity,
    Key,
    KeyKind,
    Relationship,
    RelationshipKind,
    RequirementsModel,
    TypeName,
    WritePattern,
)

T = TypeVar("T")


def _memo(model: RequirementsModel, key: Any, compute: Callable[[], T]) -> T:
    """Compute a derived fact once per model: models are immutable, and checking, profiling
    and planning ask the same questions per pattern, which was quadratic without this."""
    # The private attribute read straight from pydantic's documented store of private values:
    # `model._derived` goes through BaseModel.__getattr__, which cost more than most of the
    # lookups it guards (hundreds of thousands per large model).
    private = model.__pydantic_private__
    cache: dict[Any, Any] = private["_derived"] if private is not None else model._derived
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = cache[key] = compute()
    found: T = value
    return found


_MISSING = object()


def memoised(model: RequirementsModel, key: Any, compute: Callable[[], T]) -> T:
    """`compute()` once per model and `key`, for facts derived outside this module (models are
    immutable once loaded). Keys are shared with this module's own: use a distinct one."""
    return _memo(model, key, compute)


DEFAULT_KEY = Key(attributes=["id"], kind=KeyKind.SURROGATE)
SURROGATE_ID = Attribute(type=TypeName.UUID, description="Surrogate primary key.")


def snake(name: str) -> str:
    """OrderLine → order_line; used for implied names."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").lower()


def key_of(entity: Entity) -> Key:
    """The declared key, or the default surrogate `id`."""
    return entity.key or DEFAULT_KEY


def is_keyless(entity: Entity) -> bool:
    """Whether the entity is an append-only history without a key (`key: {kind: none}`)."""
    return entity.key is not None and entity.key.kind is KeyKind.NONE


def key_attributes(entity: Entity) -> dict[str, Attribute]:
    """Key attribute name → attribute (a surrogate key may be implied)."""
    key = key_of(entity)
    return {name: entity.attributes.get(name, SURROGATE_ID) for name in key.attributes}


@dataclass(frozen=True)
class Reference:
    """A child's reference attributes to its parent, implied by a one-to-* relationship."""

    relationship: Relationship
    columns: dict[str, str]  # child attribute → parent key attribute


def reference_of(model: RequirementsModel, relationship: Relationship) -> Reference | None:
    """The reference attributes a one-to-* relationship adds to its child; None for many-to-many."""
    if relationship.kind is RelationshipKind.MANY_TO_MANY:
        return None
    parent = model.entities.get(relationship.from_)
    if parent is None:
        return None
    parent_key = key_of(parent).attributes
    named = relationship.foreign_key
    if isinstance(named, list):  # the child's own attributes, one per parent key attribute
        return Reference(relationship, dict(zip(named, parent_key, strict=False)))
    if named and len(parent_key) == 1:
        return Reference(relationship, {named: parent_key[0]})
    if (
        not named
        and len(parent_key) > 1
        and relationship.from_ != relationship.to
        and _declares_key(model, relationship.to, parent)
    ):
        # A child that declares the parent's key attributes under the same names and types (an
        # order-entry `w_id`, `d_id`) refers through them instead of growing `district_w_id`;
        # not a self-reference, whose own key attributes are the parent's key.
        return Reference(relationship, {attr: attr for attr in parent_key})
    prefix = named or snake(relationship.from_)
    if len(parent_key) == 1 and not relationship.foreign_key:
        return Reference(relationship, {f"{prefix}_{parent_key[0]}": parent_key[0]})
    return Reference(relationship, {f"{prefix}_{attr}": attr for attr in parent_key})


def _declares_key(model: RequirementsModel, child: str, parent: Entity) -> bool:
    """Whether entity `child` declares every key attribute of `parent`, same name and type."""
    declared = model.entities[child].attributes if child in model.entities else {}
    return all(
        name in declared and declared[name].type is attribute.type for name, attribute in key_attributes(parent).items()
    )


def references_into(model: RequirementsModel, child: str) -> Iterator[Reference]:
    """Every reference that entity `child` carries."""

    def build() -> dict[str, list[Reference]]:
        found: dict[str, list[Reference]] = defaultdict(list)
        for relationship in model.relationships:
            reference = reference_of(model, relationship)
            if reference is not None:
                found[relationship.to].append(reference)
        return found

    yield from _memo(model, "references", build).get(child, [])


def all_attributes(model: RequirementsModel, name: str) -> dict[str, Attribute]:
    """Declared attributes plus the implied key and reference attributes, in a stable order.

    The returned mapping is shared (memoised): do not mutate it."""
    return _memo(model, ("attributes", name), lambda: _all_attributes(model, name))


def _all_attributes(model: RequirementsModel, name: str) -> dict[str, Attribute]:
    entity = model.entities[name]
    result: dict[str, Attribute] = {}
    for attr_name, attribute in key_attributes(entity).items():
        result[attr_name] = attribute
    result.update(entity.attributes)
    for reference in references_into(model, name):
        parent = model.entities[reference.relationship.from_]
        parent_keys = key_attributes(parent)
        for column, parent_attr in reference.columns.items():
            if column in result:
                continue
            referenced = parent_keys[parent_attr]
            nullable = not reference.relationship.required
            result[column] = referenced.model_copy(
                update={
                    "nullable": nullable,
                    # A composite reference is unique as a whole (the relational design adds that
                    # rule), not column by column: two parents may share one part of their key.
                    "unique": reference.relationship.kind is RelationshipKind.ONE_TO_ONE
                    and len(reference.columns) == 1,
                    "description": f"Reference to {reference.relationship.from_} ({reference.relationship.name}).",
                    "default": None,
                    "pii": referenced.pii,
                }
            )
    return result


def related_entities(model: RequirementsModel, name: str) -> dict[str, Relationship]:
    """Entities linked to `name` by a relationship, in either direction."""

    def build() -> dict[str, dict[str, Relationship]]:
        related: dict[str, dict[str, Relationship]] = defaultdict(dict)
        for relationship in model.relationships:
            related[relationship.from_].setdefault(relationship.to, relationship)
            related[relationship.to].setdefault(relationship.from_, relationship)
        return related

    return _memo(model, "related", build).get(name, {})


def relationships_of(model: RequirementsModel, name: str) -> list[Relationship]:
    """Relationships that involve entity `name`, in model order."""

    def build() -> dict[str, list[Relationship]]:
        found: dict[str, list[Relationship]] = defaultdict(list)
        for relationship in model.relationships:
            found[relationship.from_].append(relationship)
            if relationship.to != relationship.from_:
                found[relationship.to].append(relationship)
        return found

    return _memo(model, "relationships_of", build).get(name, [])


def patterns_of(model: RequirementsModel, name: str) -> list[AccessPattern]:
    """Access patterns on entity `name`, in model order."""

    def build() -> dict[str, list[AccessPattern]]:
        found: dict[str, list[AccessPattern]] = defaultdict(list)
        for pattern in model.access_patterns:
            found[pattern.entity].append(pattern)
        return found

    return _memo(model, "patterns", build).get(name, [])


def writes_of(model: RequirementsModel, name: str) -> list[WritePattern]:
    """Write patterns on entity `name`, in model order."""

    def build() -> dict[str, list[WritePattern]]:
        found: dict[str, list[WritePattern]] = defaultdict(list)
        for write in model.write_patterns:
            found[write.entity].append(write)
        return found

    return _memo(model, "writes", build).get(name, [])


def transactions_of(model: RequirementsModel, name: str) -> list[str]:
    """Names of the transactions that write entity `name`."""

    def build() -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for transaction in model.transactions:
            for entity in dict.fromkeys(transaction.entities):
                found[entity].append(transaction.name)
        return found

    return _memo(model, "transactions", build).get(name, [])


def entities_named_as(model: RequirementsModel, attribute: str) -> list[str]:
    """Entities with a one-attribute key that `attribute` names by convention (<entity>_<key>,
    as `device_id` names Device), in model order."""

    def build() -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for name, entity in model.entities.items():
            key = key_of(entity).attributes
            if len(key) == 1:
                found[f"{snake(name)}_{key[0]}"].append(name)
        return found

    return _memo(model, "entities_named_as", build).get(attribute, [])


def pattern_named(model: RequirementsModel, name: str) -> AccessPattern | None:
    """The access pattern called `name`, if any."""
    return _memo(model, "pattern_names", lambda: {p.name: p for p in model.access_patterns}).get(name)


def pattern_positions(model: RequirementsModel) -> dict[str, int]:
    """Access pattern name → its index in `access_patterns` (the dotted path diagnostics use)."""
    return _memo(model, "pattern_positions", lambda: {p.name: i for i, p in enumerate(model.access_patterns)})

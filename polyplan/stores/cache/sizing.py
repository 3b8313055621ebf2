"""Sizes shared by the read models: unique sets, record estimates, key counts, memory."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from polyplan.model.derived import all_attributes, key_of, reference_of
from polyplan.model.domains import effective_distinct
from polyplan.model.schema import (
    COLLECTION_TYPES,
    AccessPattern,
    Attribute,
    FilterOp,
    RelationshipKind,
    RequirementsModel,
    TypeName,
)
from polyplan.plan.ir import Plan
from polyplan.seed.lengths import NULL_SHARE
from polyplan.seed.values import int_bounds
from polyplan.stores.cache import codec, memory
from polyplan.stores.cache.spec import (
    FRAGMENTATION_HEADROOM,
    FieldSpec,
    MemorySpec,
)


def unique_sets(model: RequirementsModel, entity: str) -> list[tuple[str, ...]]:
    """Attribute sets that identify one record: the key, unique attributes, unique groups."""
    key = tuple(key_of(model.entities[entity]).attributes)
    found = [key] if key else []  # a keyless history (kind: none) has no identifying set
    found += [(name,) for name, attribute in all_attributes(model, entity).items() if attribute.unique]
    found += [tuple(group) for group in model.entities[entity].unique]
    return found


def lookup_set(model: RequirementsModel, pattern: AccessPattern) -> tuple[str, ...] | None:
    """The unique attribute set an equality-only pattern looks up, else None."""
    if pattern.sort or not pattern.filters:
        return None
    if any(f.op is not FilterOp.EQ or f.value is not None for f in pattern.filters):
        return None
    wanted = {f.attribute for f in pattern.filters}
    for unique in unique_sets(model, pattern.entity):
        if set(unique) == wanted:
            return unique
    return None


def listpack_value_bytes(attribute: Attribute, length: float) -> float:
    """Average listpack bytes of one value (integers and booleans are stored as integers)."""
    if attribute.type is TypeName.BOOLEAN:
        return 2.0
    if attribute.type is TypeName.INTEGER:
        low, high = int_bounds(attribute)  # the seeder's range: the midpoint's width is typical
        return float(memory.listpack_int_bytes(int((low + high) / 2)))
    return memory.listpack_string_bytes(length)


# Seeded values vary around their mean (words: one to three; text: ±50 %): the longest of a few
# dozen is about twice the mean, the bound a listpack's value limit is checked against.
LONGEST_TO_MEAN = 2.0


def longest_text(attribute: Attribute, length: float) -> float:
    """The longest stored text to expect of an attribute whose texts average `length` bytes."""
    if attribute.type in (TypeName.STRING, TypeName.TEXT, TypeName.JSON, TypeName.BINARY):
        return min(float(attribute.max_length or math.inf), LONGEST_TO_MEAN * length)
    if attribute.type in (*COLLECTION_TYPES, TypeName.OBJECT):
        return LONGEST_TO_MEAN * length
    return length


def field_specs(model: RequirementsModel, entity: str, names: Sequence[str]) -> tuple[FieldSpec, ...]:
    """The fields `names` of `entity` with their average text lengths (the seeder's)."""
    attributes = all_attributes(model, entity)
    key = tuple(key_of(model.entities[entity]).attributes)
    return tuple(FieldSpec(n, attributes[n], codec.text_length(attributes[n], n, (n,) == key)) for n in names)


def fields_json_length(fields: Sequence[FieldSpec]) -> float:
    """Average length of the compact JSON of these fields (`codec.record_json`)."""
    members = [len(f.name) + 3 + codec.json_of_text(f.attribute, f.text_length) for f in fields]
    return 2 + sum(members) + max(len(members) - 1, 0)


VARIABLE = (
    TypeName.STRING,
    TypeName.TEXT,
    TypeName.JSON,
    TypeName.LIST,
    TypeName.SET,
    TypeName.OBJECT,
    TypeName.BINARY,
)


def value_spread(fields: Sequence[FieldSpec], spread: float) -> float:
    """Standard deviation of a record's stored length: each variable-length value varies by
    `spread` of its mean (`length_spread` in the Redis profile), independently of the others."""
    return math.sqrt(sum((spread * f.text_length) ** 2 for f in fields if f.attribute.type in VARIABLE))


def record_estimates(
    redis: memory.RedisMemory, fields: tuple[FieldSpec, ...], key_length: float
) -> tuple[memory.Estimate, memory.Estimate]:
    """MEMORY USAGE of one record as a JSON string and as a hash (null fields left out)."""
    spread = value_spread(fields, redis.length_spread)
    as_string = redis.string_key(key_length, fields_json_length(fields), spread)
    present = [1 - NULL_SHARE if f.attribute.nullable else 1.0 for f in fields]
    pairs = [
        (float(len(f.name.encode())), f.text_length, listpack_value_bytes(f.attribute, f.text_length)) for f in fields
    ]
    longest = max((longest_text(f.attribute, f.text_length) for f in fields), default=0.0)
    as_hash = redis.hash_key(key_length, pairs, present, spread)
    if as_hash.encoding == "listpack" and longest > redis.hash_max_listpack_value:
        # Some values may exceed the listpack value limit: Redis converts such a hash for good.
        as_hash = redis.hash_key(
            key_length, [(f, max(v, redis.hash_max_listpack_value + 1), e) for f, v, e in pairs], present, spread
        )
    return as_string, as_hash


def part_lengths(attributes: Mapping[str, Attribute], key: Sequence[str] = ()) -> dict[str, float]:
    """Average length of each attribute inside a key name (`key`: the entity's key attributes)."""
    # Percent-encoding lengthens values with spaces or separators; ~10 % covers typical text.
    lengths: dict[str, float] = {}
    for name, attribute in attributes.items():
        base = codec.text_length(attribute, name, tuple(key) == (name,))
        textual = attribute.type in (TypeName.STRING, TypeName.TEXT)
        # An ISO timestamp's two ':' are escaped as %3A: two more characters each.
        timed = attribute.type in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ)
        lengths[name] = base * 1.1 if textual else base + (4 if timed else 0)
    return lengths


def entity_part_lengths(model: RequirementsModel, entity: str) -> dict[str, float]:
    """`part_lengths` of every attribute of `entity` (its key attributes drawn as keys)."""
    return part_lengths(all_attributes(model, entity), key_of(model.entities[entity]).attributes)


def cardinality(model: RequirementsModel, plan: Plan, entity: str, attribute: str) -> tuple[float, str]:
    """Distinct values of one attribute at the horizon, and how that was estimated."""
    rows = plan.entities[entity].profile.rows_at_horizon
    spec = all_attributes(model, entity)[attribute]
    if spec.type is TypeName.BOOLEAN:
        return 2.0, "boolean"
    if spec.type is TypeName.ENUM:
        return float(len(spec.values or [])), "enum values"
    declared = effective_distinct(spec)
    if declared is not None:
        return float(min(declared, rows)), "declared distinct"
    for relationship in model.relationships:
        if relationship.to == entity and relationship.kind is not RelationshipKind.MANY_TO_MANY:
            reference = reference_of(model, relationship)
            if reference is not None and attribute in reference.columns and relationship.from_ in plan.entities:
                parents = plan.entities[relationship.from_].profile.rows_at_horizon
                return float(max(1.0, min(parents, rows))), f"one per {relationship.from_}"
    # Only a unique attribute on its own: one part of a composite key repeats across records.
    if (attribute,) in unique_sets(model, entity):
        return float(max(rows, 1.0)), "unique"
    return float(max(1.0, math.sqrt(rows))), "assumed √rows (declare `distinct`)"


def constant_share(spec: Attribute, value: object) -> float:
    if spec.type is TypeName.ENUM and spec.values:
        if spec.weights and value in spec.values:
            return spec.weights[spec.values.index(str(value))] / sum(spec.weights)
        return 1 / len(spec.values)
    if spec.type is TypeName.BOOLEAN:
        return 0.5
    return 0.1


def memory_spec(
    redis: memory.RedisMemory, estimate: memory.Estimate, keys: float, ttl: int | None, why: str
) -> MemorySpec:
    """The memory of one key family: `keys` keys of `estimate` each (`redis`: the plan's formulas)."""
    per_key = redis.total_per_key(estimate.usage_bytes, ttl is not None)
    return MemorySpec(estimate.usage_bytes, per_key, keys, per_key * keys, estimate.encoding, why)


def maxmemory(total: float) -> int:
    """Recommended maxmemory: the estimate plus headroom, rounded up to whole MiB."""
    mib = 1 << 20
    return int(-(-(total * FRAGMENTATION_HEADROOM) // mib) * mib)

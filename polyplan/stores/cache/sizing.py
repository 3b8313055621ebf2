"""Sizes shared by the read models: unique sets, record estimates, key counts, memory."""

from __future__ import annotations

import math
from collections.abc import Mapping

from polyplan.model.derived import all_attributes, key_of, reference_of
from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    FilterOp,
    RelationshipKind,
    RequirementsModel,
    TypeName,
)
from polyplan.plan.ir import Plan
from polyplan.stores.cache import codec, memory
from polyplan.stores.cache.spec import (
    FRAGMENTATION_HEADROOM,
    FieldSpec,
    MemorySpec,
)


def unique_sets(model: RequirementsModel, entity: str) -> list[tuple[str, ...]]:
    """Attribute sets that identify one record: the key, unique attributes, unique groups."""
    found = [tuple(key_of(model.entities[entity]).attributes)]
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
        low = attribute.min if attribute.min is not None else 0.0
        high = attribute.max if attribute.max is not None else 10 ** codec.integer_text_length(attribute)
        return float(memory.listpack_int_bytes(int((low + high) / 2)))
    return memory.listpack_string_bytes(length)


def max_text_length(attribute: Attribute) -> float | None:
    """The longest stored text, when the model bounds it (for the listpack value limit)."""
    if attribute.type is TypeName.STRING:
        return float(attribute.max_length or 0)
    if attribute.type in (TypeName.TEXT, TypeName.JSON, TypeName.BINARY, TypeName.LIST, TypeName.OBJECT):
        return None
    return codec.text_length(attribute)


def record_estimates(fields: tuple[FieldSpec, ...], key_length: float) -> tuple[memory.Estimate, memory.Estimate]:
    json_length = codec.record_json_length({f.name: f.attribute for f in fields})
    as_string = memory.string_key(key_length, json_length)
    pairs = [
        (float(len(f.name.encode())), f.text_length, listpack_value_bytes(f.attribute, f.text_length)) for f in fields
    ]
    unbounded = any(
        max_text_length(f.attribute) is None or (max_text_length(f.attribute) or 0) > memory.HASH_MAX_LISTPACK_VALUE
        for f in fields
    )
    as_hash = memory.hash_key(key_length, pairs)
    if unbounded and as_hash.encoding == "listpack":
        # Some values may exceed the listpack value limit: Redis converts such a hash for good.
        as_hash = memory.hash_key(key_length, [(f, max(v, memory.HASH_MAX_LISTPACK_VALUE + 1), e) for f, v, e in pairs])
    return as_string, as_hash


def part_lengths(attributes: Mapping[str, Attribute]) -> dict[str, float]:
    # Percent-encoding lengthens values with spaces or separators; ~10 % covers typical text.
    lengths: dict[str, float] = {}
    for name, attribute in attributes.items():
        base = codec.text_length(attribute)
        textual = attribute.type in (TypeName.STRING, TypeName.TEXT)
        lengths[name] = base * 1.1 if textual else base
    return lengths


def cardinality(model: RequirementsModel, plan: Plan, entity: str, attribute: str) -> tuple[float, str]:
    """Distinct values of one attribute at the horizon, and how that was estimated."""
    rows = plan.entities[entity].profile.rows_at_horizon
    spec = all_attributes(model, entity)[attribute]
    if spec.type is TypeName.BOOLEAN:
        return 2.0, "boolean"
    if spec.type is TypeName.ENUM:
        return float(len(spec.values or [])), "enum values"
    if spec.distinct is not None:
        return float(min(spec.distinct, rows)), "declared distinct"
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


def memory_spec(estimate: memory.Estimate, keys: float, ttl: int | None, why: str) -> MemorySpec:
    """The memory of one key family: `keys` keys of `estimate` each."""
    per_key = memory.total_per_key(estimate.usage_bytes, ttl is not None)
    return MemorySpec(estimate.usage_bytes, per_key, keys, per_key * keys, estimate.encoding, why)


def maxmemory(total: float) -> int:
    """Recommended maxmemory: the estimate plus headroom, rounded up to whole MiB."""
    mib = 1 << 20
    return int(-(-(total * FRAGMENTATION_HEADROOM) // mib) * mib)

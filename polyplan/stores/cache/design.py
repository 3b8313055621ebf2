"""The Redis design: one key family per access pattern, with structure, TTL, tag and memory.

Inputs are the entities whose system of record is the cache (ephemeral state such as carts or
sessions) and the cache projections of entities held elsewhere (cached answers of hot key
lookups). Pure: plan in, dataclasses out.

Decisions, each with its reason in the output:
- key names: `<model>:<entity>:…` for records, `<model>:cache:<entity>:…` for projections, so
  state and cache can be told apart (and split over two instances) by prefix;
- structure: a hash when attributes are read or written individually, else whichever of a
  JSON string or a hash is smaller; sorted sets for non-unique lookups and sorted reads;
  string pointers for secondary unique lookups;
- hash tags: keys read or written together (an index and the records it lists) share a tag
  when every pattern of the entity names the tag's value, so a MULTI or pipeline stays on one
  cluster slot; otherwise keys are left untagged so they spread evenly;
- TTL: the entity's `ttl_seconds` (sliding: every write re-sets it); a projection's TTL is the
  staleness its patterns tolerate (a bound even if an invalidation is lost);
- memory: `memory.py` formulas per key, times the number of keys at the planning horizon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import all_attributes, key_of, pattern_named, patterns_of, reference_of, snake, writes_of
from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    Direction,
    Family,
    FilterOp,
    RelationshipKind,
    RequirementsModel,
    TypeName,
    WriteKind,
    WritePattern,
)
from polyplan.plan.increments import counters_of, increments_of
from polyplan.plan.ir import Plan, Projection, SyncMechanism
from polyplan.security.redis_acl import tenant_segments
from polyplan.stores.cache import codec, memory
from polyplan.stores.cache.increments import guarded_commands, hash_commands, inexact, invalidation_warning
from polyplan.stores.cache.keys import KeyTemplate, template

# Placeholders in command templates besides `<attribute>` inside key names (see keys.json).
JSON = "<json>"  # the compact JSON of the key's fields
FIELDS = "<fields…>"  # field/value pairs of the key's non-null fields
MEMBER = "<member>"  # an index member: the record key's untagged values joined by ':'
RECORD_KEY = "<record key>"  # the full name of the record key
STORE = "store"  # name of the canonical write path that stores one record with all its keys


def value_token(attribute: str) -> str:
    """Placeholder for one attribute's field text."""
    return f"<value:{attribute}>"


def score_token(attribute: str) -> str:
    """Placeholder for one attribute's sorted-set score."""
    return f"<score:{attribute}>"


def bound_token(bound: str, attribute: str) -> str:
    """Placeholder for a range bound (min or max) on a score attribute."""
    return f"<{bound}:{attribute}>"


# A write-through cache has no staleness bound to derive a TTL from: this one only keeps cold
# entries from piling up (a read after expiry refills the key).
WRITE_THROUGH_TTL = 3600


def staleness_bound(staleness_seconds: float, sync: SyncMechanism | None) -> int | None:
    """A cached answer's TTL when the pattern's staleness bounds it: invalidated cache-aside
    answers live as long as the pattern tolerates (so a lost invalidation is bounded); None for
    written-through answers, which keep WRITE_THROUGH_TTL."""
    if sync is SyncMechanism.CACHE_ASIDE_INVALIDATE and staleness_seconds >= 1:
        return int(staleness_seconds)
    return None


# Headroom over the estimate for allocator fragmentation and replication/AOF rewrite buffers.
FRAGMENTATION_HEADROOM = 1.3


class Structure(StrEnum):
    STRING = "string"
    HASH = "hash"
    ZSET = "zset"


class Role(StrEnum):
    RECORD = "record"  # an entity's record (system of record in Redis)
    POINTER = "pointer"  # secondary unique lookup → record key
    INDEX = "index"  # sorted set listing record keys
    CACHED = "cached"  # a projection: the cached answer of a pattern


@dataclass(frozen=True)
class FieldSpec:
    """One attribute stored in a record (hash field or JSON member)."""

    name: str
    attribute: Attribute
    text_length: float  # average bytes of the stored text


@dataclass(frozen=True)
class IndexSpec:
    """What a sorted-set key lists: members are record key parts, scores a sort attribute."""

    partition: tuple[str, ...]  # attributes whose values name one sorted set
    constants: tuple[tuple[str, str], ...]  # constant filters baked into the key name
    score: str | None  # attribute giving the score; None = 0 (members ordered by name)
    descending: bool
    range_on_score: bool
    limit: int | None
    members_per_key: float


@dataclass(frozen=True)
class MemorySpec:
    """Memory of one key family."""

    usage_bytes: int  # MEMORY USAGE of one key (average)
    total_per_key: float  # plus keyspace slot and expires entry
    keys: float  # keys at the planning horizon
    total_bytes: float
    encoding: str
    keys_reason: str


@dataclass(frozen=True)
class KeySpec:
    """A family of keys: one template, one structure, one TTL."""

    name: str
    entity: str
    role: Role
    template: KeyTemplate
    structure: Structure
    structure_reason: str
    fields: tuple[FieldSpec, ...]
    ttl_seconds: int | None
    ttl_reason: str
    tag_reason: str
    serves: tuple[str, ...]
    memory: MemorySpec
    record_key: str | None = None  # for pointers and indexes: the record key family they lead to
    index: IndexSpec | None = None
    sync: SyncMechanism | None = None


@dataclass(frozen=True)
class ReadPath:
    """How one access pattern is answered, as Redis commands on key templates."""

    pattern: str
    entity: str
    keys: tuple[str, ...]  # key family names, in the order they are read
    commands: tuple[tuple[str, ...], ...]
    steps: tuple[str, ...]


@dataclass(frozen=True)
class WritePath:
    """What a write pattern does to Redis keys, in order relative to the system-of-record commit."""

    write: str
    entity: str
    kind: WriteKind
    keys: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    steps: tuple[str, ...]
    atomic: bool


@dataclass(frozen=True)
class Instance:
    """A Redis deployment with one eviction policy."""

    name: str
    policy: str
    prefixes: tuple[str, ...]
    keys: tuple[str, ...]
    estimated_bytes: float
    maxmemory_bytes: int
    why: str


@dataclass(frozen=True)
class CacheDesign:
    """Everything the Redis target emits, as data."""

    model: str
    namespace: str
    keys: tuple[KeySpec, ...]
    reads: tuple[ReadPath, ...]
    writes: tuple[WritePath, ...]
    stores: tuple[WritePath, ...]  # per record entity: how one record is stored with all its keys
    instances: tuple[Instance, ...]
    shared_policy: str
    shared_why: str
    total_bytes: float
    diagnostics: tuple[Diagnostic, ...]

    def key(self, name: str) -> KeySpec:
        """The key family called `name`."""
        return next(k for k in self.keys if k.name == name)


# --- helpers ---------------------------------------------------------------------------------


def literal(name: str) -> str:
    """An attribute or entity name used literally in a key (escaped like values)."""
    return quote(name, safe=codec.KEY_SAFE)


def unique_sets(model: RequirementsModel, entity: str) -> list[tuple[str, ...]]:
    """Attribute sets that identify one record: the key, unique attributes, unique groups."""
    found = [tuple(key_of(model.entities[entity]).attributes)]
    found += [(name,) for name, attribute in all_attributes(model, entity).items() if attribute.unique]
    found += [tuple(group) for group in model.entities[entity].unique]
    return found


def _lookup_set(model: RequirementsModel, pattern: AccessPattern) -> tuple[str, ...] | None:
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


def _listpack_value_bytes(attribute: Attribute, length: float) -> float:
    """Average listpack bytes of one value (integers and booleans are stored as integers)."""
    if attribute.type is TypeName.BOOLEAN:
        return 2.0
    if attribute.type is TypeName.INTEGER:
        low = attribute.min if attribute.min is not None else 0.0
        high = attribute.max if attribute.max is not None else 10 ** codec.integer_text_length(attribute)
        return float(memory.listpack_int_bytes(int((low + high) / 2)))
    return memory.listpack_string_bytes(length)


def _max_text_length(attribute: Attribute) -> float | None:
    """The longest stored text, when the model bounds it (for the listpack value limit)."""
    if attribute.type is TypeName.STRING:
        return float(attribute.max_length or 0)
    if attribute.type in (TypeName.TEXT, TypeName.JSON, TypeName.BINARY, TypeName.LIST, TypeName.OBJECT):
        return None
    return codec.text_length(attribute)


def _record_estimates(fields: tuple[FieldSpec, ...], key_length: float) -> tuple[memory.Estimate, memory.Estimate]:
    json_length = codec.record_json_length({f.name: f.attribute for f in fields})
    as_string = memory.string_key(key_length, json_length)
    pairs = [
        (float(len(f.name.encode())), f.text_length, _listpack_value_bytes(f.attribute, f.text_length)) for f in fields
    ]
    unbounded = any(
        _max_text_length(f.attribute) is None or (_max_text_length(f.attribute) or 0) > memory.HASH_MAX_LISTPACK_VALUE
        for f in fields
    )
    as_hash = memory.hash_key(key_length, pairs)
    if unbounded and as_hash.encoding == "listpack":
        # Some values may exceed the listpack value limit: Redis converts such a hash for good.
        as_hash = memory.hash_key(key_length, [(f, max(v, memory.HASH_MAX_LISTPACK_VALUE + 1), e) for f, v, e in pairs])
    return as_string, as_hash


def _part_lengths(attributes: Mapping[str, Attribute]) -> dict[str, float]:
    # Percent-encoding lengthens values with spaces or separators; ~10 % covers typical text.
    lengths: dict[str, float] = {}
    for name, attribute in attributes.items():
        base = codec.text_length(attribute)
        textual = attribute.type in (TypeName.STRING, TypeName.TEXT)
        lengths[name] = base * 1.1 if textual else base
    return lengths


def _cardinality(model: RequirementsModel, plan: Plan, entity: str, attribute: str) -> tuple[float, str]:
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
    if any(attribute in unique for unique in unique_sets(model, entity)):
        return float(max(rows, 1.0)), "unique"
    return float(max(1.0, math.sqrt(rows))), "assumed √rows (declare `distinct`)"


def _constant_share(spec: Attribute, value: object) -> float:
    if spec.type is TypeName.ENUM and spec.values:
        if spec.weights and value in spec.values:
            return spec.weights[spec.values.index(str(value))] / sum(spec.weights)
        return 1 / len(spec.values)
    if spec.type is TypeName.BOOLEAN:
        return 0.5
    return 0.1


# --- the designer ----------------------------------------------------------------------------


class _Designer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.model = plan.model
        self.namespace = literal(self.model.name)
        self.keys: list[KeySpec] = []
        self.reads: list[ReadPath] = []
        self.writes: list[WritePath] = []
        self.stores: list[WritePath] = []
        self.diagnostics: list[Diagnostic] = []

    def warn(self, code: str, message: str, path: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, Severity.WARNING))

    # -- records (cache is the system of record) --

    def _lifecycle_rules(self, entity: str) -> None:
        """PP413 for the rules a cache cannot carry out: it expires keys, it never archives them."""
        growth = self.model.entities[entity].growth
        if growth.archive_after_days:
            self.warn(
                "PP413",
                f"{entity}: archive_after_days ({growth.archive_after_days}) cannot be carried out in a cache: Redis "
                "only expires keys; nothing is archived (place the entity in a durable store to archive it)",
                f"entities.{entity}.growth.archive_after_days",
            )
        if growth.retention_days and growth.ttl_seconds is None:
            self.warn(
                "PP413",
                f"{entity}: retention_days ({growth.retention_days}) is not a Redis TTL: keys expire only by "
                f"growth.ttl_seconds (from the last write); set ttl_seconds to {growth.retention_days * 86400} to expire them",
                f"entities.{entity}.growth.retention_days",
            )

    def record_entity(self, entity: str) -> None:
        model = self.model
        spec = model.entities[entity]
        attributes = all_attributes(model, entity)
        profile = self.plan.entities[entity].profile
        ttl = spec.growth.ttl_seconds
        if ttl is None:
            ttl_reason = "none: the entity declares no growth.ttl_seconds, so its keys never expire (see eviction)"
            self.warn(
                "PP310",
                f"{entity} lives only in the cache but has no growth.ttl_seconds: its keys are designed without a TTL "
                f"and the state instance uses noeviction, so memory grows with every record "
                f"({profile.rows_at_horizon:,.0f} at the horizon). Add ttl_seconds, or place it in a durable store.",
                f"entities.{entity}.growth",
            )
        else:
            ttl_reason = f"growth.ttl_seconds: a record expires {ttl} s after its last write (every write re-sets it)"
        self._lifecycle_rules(entity)
        patterns = patterns_of(model, entity)
        lookups: list[tuple[AccessPattern, tuple[str, ...]]] = []
        indexed: list[AccessPattern] = []
        for pattern in patterns:
            found = _lookup_set(model, pattern)
            if found is not None:
                lookups.append((pattern, found))
            elif self._indexable(entity, pattern, attributes):
                indexed.append(pattern)
        key_attrs = tuple(key_of(spec).attributes)
        primary = next((u for _, u in lookups if u == key_attrs), lookups[0][1] if lookups else key_attrs)
        partition = self._partition(lookups, indexed)
        tag_reason = (
            f"{{{', '.join(partition)}}}: every pattern of {entity} names {', '.join(partition)}, so its record and "
            "index keys share a cluster slot and are written in one MULTI"
            if partition
            else "none: each key is read on its own, so untagged keys spread evenly over the cluster"
        )
        e = literal(snake(entity))
        by = [] if primary == key_attrs else [literal("_".join(primary))]
        rest = [a for a in primary if a not in partition]
        record_template = template(
            self.namespace,
            *tenant_segments(model, entity),
            e,
            *by,
            *[(a, True) for a in partition],
            *[(a, False) for a in rest],
        )
        fields = tuple(
            FieldSpec(name, attribute, codec.text_length(attribute)) for name, attribute in attributes.items()
        )
        parts = _part_lengths(attributes)
        key_length = record_template.length(parts)
        partial = self._partial_access(entity, patterns, attributes)
        as_string, as_hash = _record_estimates(fields, key_length)
        if partial:
            structure, estimate = Structure.HASH, as_hash
            structure_reason = f"hash: {partial}, so fields are read or written one by one (HMGET/HSET)"
        elif as_hash.usage_bytes <= as_string.usage_bytes:
            structure, estimate = Structure.HASH, as_hash
            structure_reason = (
                f"hash: read and written whole, and as a {as_hash.encoding} hash a record takes ~{as_hash.usage_bytes} B "
                f"vs ~{as_string.usage_bytes} B as a JSON string (a hash also lets a later partial update skip the rest)"
            )
        else:
            structure, estimate = Structure.STRING, as_string
            structure_reason = (
                f"string (compact JSON): read and written whole; ~{as_string.usage_bytes} B vs ~{as_hash.usage_bytes} B "
                f"as a {as_hash.encoding} hash"
            )
        record_name = snake(entity)
        rows = profile.rows_at_horizon
        serves = tuple(p.name for p, u in lookups if u == primary)
        record = KeySpec(
            name=record_name,
            entity=entity,
            role=Role.RECORD,
            template=record_template,
            structure=structure,
            structure_reason=structure_reason,
            fields=fields,
            ttl_seconds=ttl,
            ttl_reason=ttl_reason,
            tag_reason=tag_reason,
            serves=serves,
            memory=self._memory(estimate, rows, ttl, f"one per {entity} record at the horizon"),
        )
        self.keys.append(record)
        for pattern, unique in lookups:
            if unique == primary:
                self.reads.append(self._record_read(pattern, record))
            else:
                self._pointer(entity, pattern, unique, record, parts, rows, ttl, ttl_reason)
        for pattern in indexed:
            self._index(entity, pattern, record, partition, parts, ttl, ttl_reason)
        self._record_writes(entity, record)

    def _indexable(self, entity: str, pattern: AccessPattern, attributes: Mapping[str, Attribute]) -> bool:
        path = f"access_patterns.{pattern.name}"
        problems: list[str] = []
        if len(pattern.sort) > 1:
            problems.append("it sorts on more than one attribute (a sorted set has one score)")
        sort_attr = pattern.sort[0].attribute if pattern.sort else None
        if sort_attr is not None and attributes[sort_attr].type not in codec.SCORABLE:
            problems.append(f"it sorts on {sort_attr} ({attributes[sort_attr].type.value}), which has no numeric score")
        for flt in pattern.filters:
            if flt.op is FilterOp.EQ:
                continue
            if flt.op is FilterOp.RANGE and flt.attribute == sort_attr:
                continue
            problems.append(f"its {flt.op.value} filter on {flt.attribute} has no Redis key structure")
        if problems:
            self.warn(
                "PP403",
                f"{pattern.name} on {entity} cannot be served by a Redis key design: {'; '.join(problems)}. "
                "Serve it from another store or reshape the pattern.",
                path,
            )
            return False
        return True

    def _partition(
        self, lookups: list[tuple[AccessPattern, tuple[str, ...]]], indexed: list[AccessPattern]
    ) -> tuple[str, ...]:
        if not indexed:
            return ()
        sets = [[f.attribute for f in p.filters if f.op is FilterOp.EQ and f.value is None] for p in indexed] + [
            list(u) for _, u in lookups
        ]
        common = [a for a in sets[0] if all(a in s for s in sets[1:])]
        return tuple(common)

    def _partial_access(self, entity: str, patterns: list[AccessPattern], attributes: Mapping[str, Attribute]) -> str:
        everything = set(attributes)
        for pattern in patterns:
            if pattern.reads and set(pattern.reads) < everything:
                return f"{pattern.name} reads {len(pattern.reads)} of {len(everything)} attributes"
        for write in self.model.write_patterns:
            if (
                write.entity == entity
                and write.kind is WriteKind.UPDATE
                and write.attributes
                and set(write.attributes) < everything
            ):
                return f"{write.name} updates {', '.join(write.attributes)} only"
        for increment in increments_of(self.model, entity):
            if not inexact(counters_of(self.model, entity), increment.attributes):
                return f"{increment.write} adds to {', '.join(increment.attributes)} in place (HINCRBY)"
        return ""

    def _memory(self, estimate: memory.Estimate, keys: float, ttl: int | None, why: str) -> MemorySpec:
        per_key = memory.total_per_key(estimate.usage_bytes, ttl is not None)
        return MemorySpec(estimate.usage_bytes, per_key, keys, per_key * keys, estimate.encoding, why)

    def _record_read(self, pattern: AccessPattern, record: KeySpec) -> ReadPath:
        key = record.template.render()
        if record.structure is Structure.HASH:
            if pattern.reads and set(pattern.reads) < {f.name for f in record.fields}:
                command: tuple[str, ...] = ("HMGET", key, *pattern.reads)
            else:
                command = ("HGETALL", key)
        else:
            command = ("GET", key)
        steps = [f"{command[0]} {key}: one round trip; a missing key means no such {record.entity} (or it expired)"]
        steps += self._loads_notes(pattern)
        return ReadPath(pattern.name, pattern.entity, (record.name,), (command,), tuple(steps))

    def _loads_notes(self, pattern: AccessPattern) -> list[str]:
        notes = []
        for other in pattern.loads:
            other_plan = self.plan.entities.get(other)
            where = other_plan.family.value if other_plan else "another"
            notes.append(f"{other} is loaded by the application from the {where} store (not part of this key)")
        return notes

    def _pointer(
        self,
        entity: str,
        pattern: AccessPattern,
        unique: tuple[str, ...],
        record: KeySpec,
        parts: Mapping[str, float],
        rows: float,
        ttl: int | None,
        ttl_reason: str,
    ) -> None:
        pointer_template = template(
            self.namespace,
            *tenant_segments(self.model, entity),
            literal(snake(entity)),
            literal("_".join(unique)),
            *[(a, False) for a in unique],
        )
        record_length = record.template.length(parts)
        estimate = memory.string_key(pointer_template.length(parts), record_length)
        spec = KeySpec(
            name=f"{snake(entity)}.by_{'_'.join(unique)}",
            entity=entity,
            role=Role.POINTER,
            template=pointer_template,
            structure=Structure.STRING,
            structure_reason=f"string holding the record key: {', '.join(unique)} is unique, so one pointer per record",
            fields=(),
            ttl_seconds=ttl,
            ttl_reason=f"same as the record ({ttl_reason}); re-set with it",
            tag_reason="none: the pointer's value is not known when the record key is, so they cannot share a tag",
            serves=(pattern.name,),
            memory=self._memory(estimate, rows, ttl, f"one per {entity} record"),
            record_key=record.name,
        )
        self.keys.append(spec)
        get = "HGETALL" if record.structure is Structure.HASH else "GET"
        self.reads.append(
            ReadPath(
                pattern.name,
                entity,
                (spec.name, record.name),
                (("GET", pointer_template.render()), (get, RECORD_KEY)),
                (
                    f"GET {pointer_template.render()} → the record key",
                    f"{get} <record key>; if the record is gone, DEL the stale pointer",
                ),
            )
        )

    def _index(
        self,
        entity: str,
        pattern: AccessPattern,
        record: KeySpec,
        partition: tuple[str, ...],
        parts: Mapping[str, float],
        ttl: int | None,
        ttl_reason: str,
    ) -> None:
        model = self.model
        attributes = all_attributes(model, entity)
        eq = [f.attribute for f in pattern.filters if f.op is FilterOp.EQ and f.value is None]
        constants = tuple(
            (f.attribute, codec.key_part(f.value, attributes[f.attribute]))
            for f in pattern.filters
            if f.op is FilterOp.EQ and f.value is not None
        )
        sort = pattern.sort[0] if pattern.sort else None
        score = sort.attribute if sort else None
        ranged = any(f.op is FilterOp.RANGE for f in pattern.filters)
        rows = self.plan.entities[entity].profile.rows_at_horizon
        share = 1.0
        for name, _ in constants:
            value = next(f.value for f in pattern.filters if f.attribute == name and f.value is not None)
            share *= _constant_share(attributes[name], value)
        keys_count = 1.0
        reasons = []
        for name in eq:
            distinct, why = _cardinality(model, self.plan, entity, name)
            keys_count *= distinct
            reasons.append(f"{name}: {distinct:,.0f} ({why})")
        keys_count = max(1.0, min(keys_count, rows * share)) if eq else 1.0
        members = max(1.0, rows * share / keys_count)
        by = "by_" + "_".join(eq) if eq else "all"
        pieces: list[str | tuple[str, bool]] = [
            self.namespace,
            *tenant_segments(self.model, entity),
            literal(snake(entity)),
            "idx",
            literal(by),
        ]
        pieces += [f"{literal(name)}={value}" for name, value in constants]
        if score:
            pieces.append(literal(f"{score}_{'desc' if sort and sort.direction is Direction.DESC else 'asc'}"))
        pieces += [(a, a in partition) for a in eq]
        index_template = template(*pieces)
        record_parts = [a for a in record.template.attributes if a not in partition]
        member_length = sum(parts[a] for a in record_parts) + max(len(record_parts) - 1, 0)
        score_bytes = (
            float(memory.listpack_int_bytes(1_700_000_000_000))
            if score and attributes[score].type in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.DATE)
            else 2.0
        )
        estimate = memory.zset_key(index_template.length(parts), members, member_length, score_bytes)
        index = IndexSpec(
            partition=tuple(eq),
            constants=constants,
            score=score,
            descending=bool(sort and sort.direction is Direction.DESC),
            range_on_score=ranged,
            limit=pattern.limit,
            members_per_key=members,
        )
        keys_reason = "; ".join(reasons) if reasons else "a single sorted set for the whole entity"
        spec = KeySpec(
            name=f"{snake(entity)}.idx.{pattern.name}",
            entity=entity,
            role=Role.INDEX,
            template=index_template,
            structure=Structure.ZSET,
            structure_reason=(
                f"sorted set of record keys scored by {score}"
                if score
                else "sorted set of record keys (score 0: ordered by key)"
            )
            + f": {pattern.name} is not a unique lookup; ~{members:,.0f} members per key ({estimate.encoding})",
            fields=(),
            ttl_seconds=ttl,
            ttl_reason=f"{ttl_reason}; re-set on every ZADD, members of expired records are removed when a read misses them"
            if ttl
            else "none, like its records",
            tag_reason=record.tag_reason if partition else "none: one index key per value, read alone",
            serves=(pattern.name,),
            memory=self._memory(estimate, keys_count, ttl, keys_reason),
            record_key=record.name,
            index=index,
        )
        self.keys.append(spec)
        self.reads.append(self._index_read(pattern, spec, record))

    def _index_read(self, pattern: AccessPattern, index: KeySpec, record: KeySpec) -> ReadPath:
        assert index.index is not None
        spec = index.index
        key = index.template.render()
        count = str(pattern.limit) if pattern.limit else "-1"
        if spec.range_on_score:
            low, high = bound_token("min", spec.score or ""), bound_token("max", spec.score or "")
            bounds = (high, low) if spec.descending else (low, high)
            command: tuple[str, ...] = (
                "ZRANGE",
                key,
                *bounds,
                "BYSCORE",
                *(("REV",) if spec.descending else ()),
                "LIMIT",
                "0",
                count,
            )
        else:
            stop = str(pattern.limit - 1) if pattern.limit else "-1"
            command = ("ZRANGE", key, "0", stop, *(("REV",) if spec.descending else ()))
        get = "HGETALL" if record.structure is Structure.HASH else "GET"
        steps = [
            " ".join(command)
            + " → record keys"
            + (f" by {spec.score} descending" if spec.descending else (f" by {spec.score}" if spec.score else "")),
            f"{get} each record key in one pipeline"
            + (" (same slot: one node)" if index.template.tag_attributes else "")
            + "; ZREM members whose record has expired",
        ]
        steps += self._loads_notes(pattern)
        return ReadPath(
            pattern.name, pattern.entity, (index.name, record.name), (command, (get, RECORD_KEY)), tuple(steps)
        )

    def _record_writes(self, entity: str, record: KeySpec) -> None:
        related = [k for k in self.keys if k.entity == entity and k.role in (Role.POINTER, Role.INDEX)]
        self.stores.append(self._record_write(STORE, entity, WriteKind.UPSERT, (), record, related))
        for write in self.model.write_patterns:
            if write.entity == entity and write.kind is WriteKind.INCREMENT:
                self.writes.append(self._increment_write(write, record, None))
            elif write.entity == entity:
                self.writes.append(
                    self._record_write(write.name, entity, write.kind, tuple(write.attributes), record, related)
                )

    def _record_write(
        self, name: str, entity: str, kind: WriteKind, changed: tuple[str, ...], record: KeySpec, related: list[KeySpec]
    ) -> WritePath:
        key = record.template.render()
        ttl = record.ttl_seconds
        ex: tuple[str, ...] = ("EX", str(ttl)) if ttl else ()
        commands: list[tuple[str, ...]] = []
        steps: list[str] = []
        names = [record.name]
        if kind is WriteKind.DELETE:
            commands.append(("DEL", key))
            steps.append(f"DEL {key}")
            for other in related:
                names.append(other.name)
                if other.role is Role.POINTER:
                    commands.append(("DEL", other.template.render()))
                    steps.append(
                        f"DEL {other.template.render()} (read the record first: the pointer is named by its value)"
                    )
                else:
                    commands.append(("ZREM", other.template.render(), MEMBER))
                    steps.append(f"ZREM {other.template.render()} {MEMBER}")
        else:
            partial = kind is WriteKind.UPDATE and bool(changed)
            if record.structure is Structure.HASH:
                pairs = [token for a in changed for token in (a, value_token(a))] if partial else [FIELDS]
                commands.append(("HSET", key, *pairs))
                if ttl:
                    commands.append(("EXPIRE", key, str(ttl)))
                what = f"HSET {key} {'the changed fields' if partial else 'every non-null field'}"
                if not partial and kind is not WriteKind.INSERT:
                    what += " (HDEL fields that became null: an absent field means null)"
            else:
                commands.append(("SET", key, JSON, *ex))
                what = f"SET {key} to the record's JSON"
            steps.append(what + (f", TTL re-set to {ttl} s" if ttl else ", no TTL"))
            for other in related:
                touched = set(other.template.attributes)
                if other.index is not None:
                    touched |= {name for name, _ in other.index.constants}
                    if other.index.score:
                        touched.add(other.index.score)
                if partial and not touched & set(changed):
                    steps.append(f"{other.name}: untouched ({name} does not change {', '.join(sorted(touched))})")
                    continue
                names.append(other.name)
                other_key = other.template.render()
                if other.role is Role.POINTER:
                    commands.append(("SET", other_key, RECORD_KEY, *ex))
                    steps.append(f"SET {other_key} to the record key (DEL the old pointer if its value changed)")
                else:
                    score = score_token(other.index.score) if other.index and other.index.score else "0"
                    commands.append(("ZADD", other_key, score, MEMBER))
                    if ttl:
                        commands.append(("EXPIRE", other_key, str(ttl)))
                    only = (
                        " only for records with " + ", ".join(f"{n} = {v}" for n, v in other.index.constants)
                        if other.index and other.index.constants
                        else ""
                    )
                    steps.append(
                        f"ZADD {other_key}{only} (ZREM from the old index key first if a partition or constant "
                        "value changed)"
                    )
        tagged = bool(record.template.tag_attributes)
        atomic = len(names) == 1 or (tagged and all(self.key_by_name(n).template.tag_attributes for n in names))
        if len(names) == 1:
            steps.append("atomic: " + ("one MULTI/EXEC (HSET + EXPIRE)" if len(commands) > 1 else "one command"))
        elif atomic:
            steps.append("atomic: one MULTI/EXEC, every key shares the hash tag (one cluster slot)")
        else:
            steps.append(
                "pipelined, not atomic: the keys live on different slots; readers tolerate an index member or pointer "
                "whose record is missing"
            )
        return WritePath(name, entity, kind, tuple(names), tuple(commands), tuple(steps), atomic)

    def key_by_name(self, name: str) -> KeySpec:
        return next(k for k in self.keys if k.name == name)

    # -- projections (cache in front of another store) --

    def projection(self, entity: str, projection: Projection) -> None:
        model = self.model
        attributes = all_attributes(model, entity)
        plan = self.plan.entities[entity]
        for pattern_name in projection.patterns:
            pattern = pattern_named(model, pattern_name)
            if pattern is None:  # projections are built from the model's own patterns
                raise KeyError(pattern_name)
            unique = _lookup_set(model, pattern)
            if unique is None:
                self.warn(
                    "PP403",
                    f"{pattern.name} is projected into the cache but is not a unique key lookup; it stays on {plan.engine}",
                    f"access_patterns.{pattern.name}",
                )
                continue
            read_set = list(pattern.reads) or list(attributes)
            cached = {name: attributes[name] for name in read_set}
            e = literal(snake(entity))
            by = [] if unique == tuple(key_of(model.entities[entity]).attributes) else [literal("_".join(unique))]
            cache_template = template(
                self.namespace, *tenant_segments(model, entity), "cache", e, *by, *[(a, False) for a in unique]
            )
            fields = tuple(
                FieldSpec(name, attribute, codec.text_length(attribute)) for name, attribute in cached.items()
            )
            parts = _part_lengths(attributes)
            as_string, as_hash = _record_estimates(fields, cache_template.length(parts))
            adders = [
                i
                for i in increments_of(model, entity)
                if set(i.attributes) & set(cached) and not inexact(counters_of(model, entity), i.attributes)
            ]
            if adders:
                structure, estimate = Structure.HASH, as_hash
                reason = (
                    f"hash: {', '.join(i.write for i in adders)} add to its counters in place (HINCRBY) "
                    f"{sum(i.rate for i in adders):g} times a second instead of invalidating it; "
                    f"~{as_hash.usage_bytes} B as a {as_hash.encoding} hash vs ~{as_string.usage_bytes} B as JSON"
                )
            elif as_hash.usage_bytes < as_string.usage_bytes:
                structure, estimate = Structure.HASH, as_hash
                reason = f"hash: the cached answer is replaced whole; ~{as_hash.usage_bytes} B as a {as_hash.encoding} hash vs ~{as_string.usage_bytes} B as JSON"
            else:
                structure, estimate = Structure.STRING, as_string
                reason = f"string (compact JSON of the answer): replaced whole on refill; ~{as_string.usage_bytes} B vs ~{as_hash.usage_bytes} B as a {as_hash.encoding} hash"
            staleness = pattern.staleness_seconds
            bound = staleness_bound(staleness, projection.sync)
            ttl = bound if bound is not None else WRITE_THROUGH_TTL
            if bound is not None:
                ttl_reason = (
                    f"{pattern.name} tolerates {staleness:g} s of staleness: the TTL bounds it even when an "
                    "invalidation is lost"
                )
            else:
                ttl_reason = f"written through on every change; the {WRITE_THROUGH_TTL} s TTL only lets cold entries go"
            writes = writes_of(model, entity)
            rate = pattern.rate + (sum(w.rate for w in writes) if projection.sync is SyncMechanism.WRITE_THROUGH else 0)
            rows = plan.profile.rows_at_horizon
            keys_count = max(1.0, min(rows, rate * ttl))
            keys_reason = f"at most min({rows:,.0f} {entity} records, {rate:,.0f} lookups/s × {ttl} s TTL) distinct keys live at once"
            spec = KeySpec(
                name=f"cache.{snake(entity)}.{pattern.name}",
                entity=entity,
                role=Role.CACHED,
                template=cache_template,
                structure=structure,
                structure_reason=reason,
                fields=fields,
                ttl_seconds=ttl,
                ttl_reason=ttl_reason,
                tag_reason="none: each cached answer is read and invalidated on its own",
                serves=(pattern.name,),
                memory=self._memory(estimate, keys_count, ttl, keys_reason),
                sync=projection.sync,
            )
            self.keys.append(spec)
            self.reads.append(self._cached_read(pattern, spec, plan.engine))
            if not writes:
                self.warn(
                    "PP310",
                    f"{entity} is cached for {pattern.name} but the model declares no write pattern for it: the invalidation "
                    f"path cannot be designed, so staleness is bounded only by the {ttl} s TTL. Declare its writes.",
                    f"access_patterns.{pattern.name}",
                )
            if pattern.loads:
                self.warn(
                    "PP310",
                    f"{pattern.name} loads {', '.join(pattern.loads)}; writes to those entities do not invalidate the cached "
                    f"answer, so their changes show after at most {ttl} s (the TTL)",
                    f"access_patterns.{pattern.name}.loads",
                )
            for write in writes:
                self.writes.append(self._projection_write(write, spec, unique, read_set, plan.engine))

    def _cached_read(self, pattern: AccessPattern, spec: KeySpec, engine: str) -> ReadPath:
        key = spec.template.render()
        get = ("HGETALL", key) if spec.structure is Structure.HASH else ("GET", key)
        put: tuple[str, ...] = (
            ("HSET", key, FIELDS)
            if spec.structure is Structure.HASH
            else ("SET", key, JSON, "EX", str(spec.ttl_seconds))
        )
        steps = (
            f"{get[0]} {key}: a hit answers {pattern.name}",
            f"on a miss: run {pattern.name} on {engine}; if it found a record, {put[0]} {key} with EX {spec.ttl_seconds} "
            "(absent records are not cached, so a later insert needs no invalidation)",
        )
        commands: tuple[tuple[str, ...], ...] = (get, put)
        if spec.structure is Structure.HASH:
            commands = (*commands, ("EXPIRE", key, str(spec.ttl_seconds)))
        return ReadPath(pattern.name, pattern.entity, (spec.name,), commands, steps)

    def _projection_write(
        self, write: WritePattern, spec: KeySpec, unique: tuple[str, ...], read_set: list[str], engine: str
    ) -> WritePath:
        key = spec.template.render()
        cached = set(read_set) | set(unique)
        changed = set(write.attributes)
        if write.kind is WriteKind.INCREMENT and changed & cached:
            return self._increment_write(write, spec, engine)
        if write.kind is WriteKind.UPDATE and changed and not changed & cached:
            return WritePath(
                write.name,
                write.entity,
                write.kind,
                (),
                (),
                (
                    f"no cache key touched: {write.name} changes {', '.join(write.attributes)}, which {spec.name} does not hold",
                ),
                True,
            )
        rekey = write.kind is not WriteKind.INSERT and (not changed or bool(changed & set(unique)))
        steps = [f"commit {write.name} in {engine} first"]
        commands: list[tuple[str, ...]] = []
        if spec.sync is SyncMechanism.WRITE_THROUGH and write.kind is not WriteKind.DELETE:
            put: tuple[str, ...] = ("SET", key, JSON, "EX", str(spec.ttl_seconds))
            if spec.structure is Structure.HASH:
                put = ("HSET", key, FIELDS)
            commands.append(put)
            steps.append(
                f"then {put[0]} {key} from the committed row (EX {spec.ttl_seconds}); if that fails, DEL {key} so the "
                "next read refills it"
            )
            if spec.structure is Structure.HASH:
                commands.append(("EXPIRE", key, str(spec.ttl_seconds)))
        elif write.kind is WriteKind.INSERT and spec.sync is SyncMechanism.CACHE_ASIDE_INVALIDATE:
            return WritePath(
                write.name,
                write.entity,
                write.kind,
                (),
                (),
                (f"no invalidation: a new {write.entity} has no cached answer (misses are never cached)",),
                True,
            )
        else:
            commands.append(("DEL", key))
            steps.append(
                f"then DEL {key} — after the commit, never before: a read between an early DEL and the commit "
                f"would cache the old row again for up to {spec.ttl_seconds} s"
            )
        if rekey:
            steps.append(
                f"if the write changes {', '.join(unique)}, read the old value before the write and DEL its key too"
            )
        return WritePath(write.name, write.entity, write.kind, (spec.name,), tuple(commands), tuple(steps), True)

    def _increment_write(self, write: WritePattern, spec: KeySpec, engine: str | None) -> WritePath:
        """An increment: added in place to a hash (HINCRBY), or the JSON string invalidated (PP430)."""
        key = spec.template.render()
        increment = next(i for i in increments_of(self.model, write.entity) if i.write == write.name)
        counters = counters_of(self.model, write.entity)
        steps = [f"commit {write.name} in {engine} first (the system of record adds atomically)" if engine else ""]
        drifting = inexact(counters, increment.attributes)
        if spec.structure is Structure.HASH and not drifting:
            commands = (
                hash_commands(key, increment, counters)
                if spec.role is Role.RECORD
                else guarded_commands(key, increment, counters)
            )
            steps.append(
                f"then add {increment.step_literal()} to {', '.join(write.attributes)} of {key} in place, atomically "
                "(only while it is cached: EXISTS and the add are one script, so a miss never leaves a partial hash)"
                if spec.role is not Role.RECORD
                else f"add {increment.step_literal()} to {', '.join(write.attributes)} of {key} in place, atomically"
            )
            if spec.role is Role.RECORD and spec.ttl_seconds:
                # An increment is a write: ephemeral records expire counted from their last one.
                commands.append(("EXPIRE", key, str(spec.ttl_seconds)))
                steps.append(f"EXPIRE {key} {spec.ttl_seconds}: the TTL counts from the last write")
        else:
            why = (
                f"would drift if {', '.join(drifting)} (decimal) were added to in place: HINCRBYFLOAT rounds "
                "through a long double"
                if drifting
                else "holds the record as a JSON string, which Redis cannot add to in place"
            )
            commands = [("DEL", key)]
            steps.append(f"then DEL {key}: {spec.name} {why}")
            path = f"write_patterns.{self.model.write_patterns.index(write)}"
            self.diagnostics.append(invalidation_warning(increment, spec.name, why, path))
        return WritePath(
            write.name, write.entity, write.kind, (spec.name,), tuple(commands), tuple(s for s in steps if s), True
        )

    # -- eviction --

    def instances(self) -> tuple[tuple[Instance, ...], str, str]:
        state = [k for k in self.keys if k.role is not Role.CACHED]
        cache = [k for k in self.keys if k.role is Role.CACHED]
        found: list[Instance] = []
        if state:
            total = sum(k.memory.total_bytes for k in state)
            found.append(
                Instance(
                    "state",
                    "noeviction",
                    (f"{self.namespace}:",),
                    tuple(k.name for k in state),
                    total,
                    _maxmemory(total),
                    "these keys are the only copy of their records: evicting one loses data, so at maxmemory writes "
                    "fail loudly instead; size maxmemory from the estimate (TTLs keep the key count bounded)",
                )
            )
        if cache:
            total = sum(k.memory.total_bytes for k in cache)
            found.append(
                Instance(
                    "cache",
                    "allkeys-lru",
                    (f"{self.namespace}:cache:",),
                    tuple(k.name for k in cache),
                    total,
                    _maxmemory(total),
                    "every key can be rebuilt from its system of record: under memory pressure evict the least "
                    "recently used, keeping the hot working set",
                )
            )
        if state and cache:
            shared = "noeviction"
            why = (
                "two instances are recommended (state: noeviction, cache: allkeys-lru); if one instance must hold both, "
                "use noeviction and size it for both estimates — a volatile-* policy would evict state keys, which all "
                "carry TTLs, and the application treats a failed cache SET as a miss"
            )
        elif state:
            shared, why = "noeviction", found[0].why
        else:
            shared, why = "allkeys-lru", found[0].why if found else "no keys"
        return tuple(found), shared, why


def _maxmemory(total: float) -> int:
    """Recommended maxmemory: the estimate plus headroom, rounded up to whole MiB."""
    mib = 1 << 20
    return int(-(-(total * FRAGMENTATION_HEADROOM) // mib) * mib)


def design(plan: Plan) -> CacheDesign:
    """The Redis design for every cache record entity and cache projection of `plan`."""
    designer = _Designer(plan)
    for entity in plan.records_in(Family.CACHE):
        designer.record_entity(entity)
    for entity, projection in plan.projections_in(Family.CACHE):
        designer.projection(entity, projection)
    instances, shared, why = designer.instances()
    return CacheDesign(
        model=plan.model.name,
        namespace=designer.namespace,
        keys=tuple(designer.keys),
        reads=tuple(designer.reads),
        writes=tuple(designer.writes),
        stores=tuple(designer.stores),
        instances=instances,
        shared_policy=shared,
        shared_why=why,
        total_bytes=sum(k.memory.total_bytes for k in designer.keys),
        diagnostics=tuple(designer.diagnostics),
    )

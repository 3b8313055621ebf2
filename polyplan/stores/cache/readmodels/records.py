"""Records of entities whose system of record is the cache: the record key, pointers for other
unique lookups, the write paths that keep them and their indexes together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from polyplan.model.bounded_loads import load_reads
from polyplan.model.caps import cap_of
from polyplan.model.derived import all_attributes, key_of, patterns_of, snake
from polyplan.model.schema import (
    AccessPattern,
    Attribute,
    FilterOp,
    WriteKind,
)
from polyplan.plan.increments import counters_of, increments_of
from polyplan.security.redis_acl import tenant_segments
from polyplan.stores.cache import codec, derived
from polyplan.stores.cache.increments import inexact
from polyplan.stores.cache.keys import template
from polyplan.stores.cache.readmodels import cap, counter, index
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.sizing import (
    entity_part_lengths,
    field_specs,
    lookup_set,
    memory_spec,
    record_estimates,
)
from polyplan.stores.cache.spec import (
    FIELDS,
    JSON,
    MEMBER,
    RECORD_KEY,
    STORE,
    KeySpec,
    ReadPath,
    Role,
    Structure,
    WritePath,
    literal,
    score_token,
    value_token,
)


def lifecycle_rules(ctx: DesignContext, entity: str) -> None:
    """PP413 for the rules a cache cannot carry out: it expires keys, it never archives them;
    PP476 for loss tolerance (the cap is trimmed by the write paths, or PP475: cap.py)."""
    growth = ctx.model.entities[entity].growth
    if ctx.model.entities[entity].loss_tolerable:
        ctx.warn(
            "PP476",
            f"{entity}: loss_tolerable: its keys need no persistence (no AOF, RDB snapshots optional); a restart "
            "without them empties the entity",
            f"entities.{entity}.loss_tolerable",
        )
    if growth.archive_after_days:
        ctx.warn(
            "PP413",
            f"{entity}: archive_after_days ({growth.archive_after_days}) cannot be carried out in a cache: Redis "
            "only expires keys; nothing is archived (place the entity in a durable store to archive it)",
            f"entities.{entity}.growth.archive_after_days",
        )
    if growth.retention_days and growth.ttl_seconds is None:
        ctx.warn(
            "PP413",
            f"{entity}: retention_days ({growth.retention_days}) is not a Redis TTL: keys expire only by "
            f"growth.ttl_seconds (from the last write); set ttl_seconds to {growth.retention_days * 86400} to expire them",
            f"entities.{entity}.growth.retention_days",
        )


def build_records(ctx: DesignContext, entity: str) -> None:
    model = ctx.model
    spec = model.entities[entity]
    attributes = all_attributes(model, entity)
    profile = ctx.plan.entities[entity].profile
    ttl = spec.growth.ttl_seconds
    rule = cap_of(model, entity)
    if ttl is None and rule is not None:
        # A capped entity is bounded by its trim (cap.py: in the write paths, or PP475 says who
        # must run it), not by expiry: no TTL is the design, not a missing key.
        ttl_reason = (
            f"none: the cap keeps the newest {rule.max_records:,} records (trimmed after each insert), so "
            "memory stays bounded without expiry"
        )
    elif ttl is None:
        ttl_reason = "none: the entity declares no growth.ttl_seconds, so its keys never expire (see eviction)"
        ctx.warn(
            "PP310",
            f"{entity} lives only in the cache but has no growth.ttl_seconds: its keys are designed without a TTL "
            f"and the state instance uses noeviction, so memory grows with every record "
            f"({profile.rows_at_horizon:,.0f} at the horizon). Add ttl_seconds, or place it in a durable store.",
            f"entities.{entity}.growth",
        )
    else:
        ttl_reason = f"growth.ttl_seconds: a record expires {ttl} s after its last write (every write re-sets it)"
    lifecycle_rules(ctx, entity)
    patterns = patterns_of(model, entity)
    lookups: list[tuple[AccessPattern, tuple[str, ...]]] = []
    indexed: list[AccessPattern] = []
    for pattern in patterns:
        found = lookup_set(model, pattern)
        if found is not None:
            lookups.append((pattern, found))
        elif indexable(ctx, entity, pattern, attributes):
            indexed.append(pattern)
    key_attrs = tuple(key_of(spec).attributes)
    primary = next((u for _, u in lookups if u == key_attrs), lookups[0][1] if lookups else key_attrs)
    partition = partition_of(ctx, lookups, indexed)
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
        ctx.namespace,
        *tenant_segments(model, entity),
        e,
        *by,
        *[(a, True) for a in partition],
        *[(a, False) for a in rest],
    )
    fields = field_specs(model, entity, list(attributes))
    parts = entity_part_lengths(model, entity)
    key_length = record_template.length(parts)
    partial = partial_access(ctx, entity, patterns, attributes)
    as_string, as_hash = record_estimates(ctx.memory, fields, key_length)
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
        memory=memory_spec(ctx.memory, estimate, rows, ttl, f"one per {entity} record at the horizon"),
    )
    ctx.keys.append(record)
    for pattern, unique in lookups:
        if unique == primary:
            ctx.reads.append(record_read(ctx, pattern, record))
        else:
            pointer(ctx, entity, pattern, unique, record, parts, rows, ttl, ttl_reason)
    for pattern in indexed:
        index.build_index(ctx, entity, pattern, record, partition, parts, ttl, ttl_reason)
    record_writes(ctx, entity, record, cap.cap_index(ctx, entity, record))


def indexable(ctx: DesignContext, entity: str, pattern: AccessPattern, attributes: Mapping[str, Attribute]) -> bool:
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
    bounded = load_reads(ctx.model).get(pattern.name)
    if problems and bounded is not None:
        ctx.warn(
            "PP463",
            f"{bounded.describe()}: Redis cannot keep {entity} in this load's order ({'; '.join(problems)}), so the "
            f"bound is not honoured there: the application reads every {entity} of the {bounded.pattern.entity} and "
            "sorts and cuts them itself; sort the load on one numeric or time attribute, or keep "
            f"{entity} in a store that can",
            path,
        )
        return False
    if problems:
        ctx.warn(
            "PP403",
            f"{pattern.name} on {entity} cannot be served by a Redis key design: {'; '.join(problems)}. "
            "Serve it from another store or reshape the pattern.",
            path,
        )
        return False
    return True


def partition_of(
    ctx: DesignContext, lookups: list[tuple[AccessPattern, tuple[str, ...]]], indexed: list[AccessPattern]
) -> tuple[str, ...]:
    if not indexed:
        return ()
    sets = [[f.attribute for f in p.filters if f.op is FilterOp.EQ and f.value is None] for p in indexed] + [
        list(u) for _, u in lookups
    ]
    common = [a for a in sets[0] if all(a in s for s in sets[1:])]
    return tuple(common)


def partial_access(
    ctx: DesignContext, entity: str, patterns: list[AccessPattern], attributes: Mapping[str, Attribute]
) -> str:
    everything = set(attributes)
    for pattern in patterns:
        if pattern.reads and set(pattern.reads) < everything:
            return f"{pattern.name} reads {len(pattern.reads)} of {len(everything)} attributes"
    for write in ctx.model.write_patterns:
        if (
            write.entity == entity
            and write.kind is WriteKind.UPDATE
            and write.attributes
            and set(write.attributes) < everything
        ):
            return f"{write.name} updates {', '.join(write.attributes)} only"
    for increment in increments_of(ctx.model, entity):
        if not inexact(counters_of(ctx.model, entity), increment.attributes):
            return f"{increment.write} adds to {', '.join(increment.attributes)} in place (HINCRBY)"
    return derived.added_in_place(ctx, entity)


def record_read(ctx: DesignContext, pattern: AccessPattern, record: KeySpec) -> ReadPath:
    key = record.template.render()
    if record.structure is Structure.HASH:
        if pattern.reads and set(pattern.reads) < {f.name for f in record.fields}:
            command: tuple[str, ...] = ("HMGET", key, *pattern.reads)
        else:
            command = ("HGETALL", key)
    else:
        command = ("GET", key)
    steps = [f"{command[0]} {key}: one round trip; a missing key means no such {record.entity} (or it expired)"]
    steps += ctx.loads_notes(pattern)
    return ReadPath(pattern.name, pattern.entity, (record.name,), (command,), tuple(steps))


def pointer(
    ctx: DesignContext,
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
        ctx.namespace,
        *tenant_segments(ctx.model, entity),
        literal(snake(entity)),
        literal("_".join(unique)),
        *[(a, False) for a in unique],
    )
    record_length = record.template.length(parts)
    estimate = ctx.memory.string_key(pointer_template.length(parts), record_length)
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
        memory=memory_spec(ctx.memory, estimate, rows, ttl, f"one per {entity} record"),
        record_key=record.name,
    )
    ctx.keys.append(spec)
    get = "HGETALL" if record.structure is Structure.HASH else "GET"
    ctx.reads.append(
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


def record_writes(ctx: DesignContext, entity: str, record: KeySpec, capped: KeySpec | None) -> None:
    """The store path and every write pattern of a record entity; inserts of a capped entity end
    with its trim (`capped`: the sorted set listing every record by the cap's order)."""
    related = [k for k in ctx.keys if k.entity == entity and k.role in (Role.POINTER, Role.INDEX)]
    rule = cap_of(ctx.model, entity)
    deletes = record_write(ctx, "trim", entity, WriteKind.DELETE, (), record, related).commands

    def trimmed(path: WritePath) -> WritePath:
        if capped is None or rule is None or path.kind not in (WriteKind.INSERT, WriteKind.UPSERT):
            return path
        return replace(
            path,
            commands=path.commands + cap.trim_commands(capped, rule.max_records),
            steps=path.steps + cap.trim_steps(capped, rule.max_records),
            trim=cap.trim_of(capped, rule.max_records, deletes),
        )

    ctx.stores.append(trimmed(record_write(ctx, STORE, entity, WriteKind.UPSERT, (), record, related)))
    for write in ctx.model.write_patterns:
        if write.entity == entity and write.kind is WriteKind.INCREMENT:
            ctx.writes.append(counter.increment_write(ctx, write, record, None))
        elif write.entity == entity:
            path = record_write(ctx, write.name, entity, write.kind, tuple(write.attributes), record, related)
            ctx.writes.append(trimmed(path))


def record_write(
    ctx: DesignContext,
    name: str,
    entity: str,
    kind: WriteKind,
    changed: tuple[str, ...],
    record: KeySpec,
    related: list[KeySpec],
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
    atomic = len(names) == 1 or (tagged and all(ctx.key_by_name(n).template.tag_attributes for n in names))
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

"""The key cache: one cached answer per unique key lookup of an entity held elsewhere."""

from __future__ import annotations

from polyplan.model.derived import all_attributes, key_of, snake, writes_of
from polyplan.model.schema import (
    AccessPattern,
    WriteKind,
    WritePattern,
)
from polyplan.plan.increments import counters_of, increments_of
from polyplan.plan.ir import Projection, SyncMechanism
from polyplan.plan.related_reads import EntryUpkeep
from polyplan.security.redis_acl import tenant_segments
from polyplan.stores.cache.increments import inexact
from polyplan.stores.cache.keys import template
from polyplan.stores.cache.readmodels import Merit, counter
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.joined import copied_fields, copy_writes, held_fields, parent_writes
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
    WRITE_THROUGH_TTL,
    KeySpec,
    ReadPath,
    Role,
    Structure,
    WritePath,
    literal,
    staleness_bound,
)


def lookup_of(ctx: DesignContext, pattern: AccessPattern) -> tuple[str, ...]:
    """The unique attribute set `pattern` looks up (only called when the key cache fits)."""
    unique = lookup_set(ctx.model, pattern)
    assert unique is not None, pattern.name
    return unique


class KeyCache:
    """One cached answer per key: the answer of a unique key lookup, invalidated or written through."""

    name = "key_cache"
    answer_is_value = True

    def fits(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> str | None:
        """Only unique key lookups: any other answer changes with writes to other records."""
        return None if lookup_set(ctx.model, pattern) is not None else "is not a unique key lookup"

    def merit(self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection) -> Merit:
        """At most rate × TTL keys live, each invalidated by the entity's writes."""
        writes = sum(w.rate for w in writes_of(ctx.model, entity))
        rows = ctx.plan.entities[entity].profile.rows_at_horizon
        size = ctx.plan.entities[entity].profile.record_bytes
        ttl = staleness_bound(pattern.staleness_seconds, projection.sync) or WRITE_THROUGH_TTL
        keys = max(1.0, min(rows, pattern.rate * ttl))
        return Merit(keys * size, writes, f"a key cache (~{keys:,.0f} keys, one per looked-up record)")

    def build(
        self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection, runner_up: str
    ) -> None:
        """The cached-answer key, its read path (hit, else refill) and one write path per write."""
        build(ctx, entity, projection, pattern, runner_up)


READ_MODEL = KeyCache()


def build(ctx: DesignContext, entity: str, projection: Projection, pattern: AccessPattern, runner_up: str = "") -> None:
    """The key cache of one unique key lookup: key, read path, write paths, warnings."""
    model = ctx.model
    attributes = all_attributes(model, entity)
    plan = ctx.plan.entities[entity]
    unique = lookup_of(ctx, pattern)
    read_set = list(pattern.reads) or list(attributes)
    cached = {name: attributes[name] for name in read_set}
    e = literal(snake(entity))
    by = [] if unique == tuple(key_of(model.entities[entity]).attributes) else [literal("_".join(unique))]
    cache_template = template(
        ctx.namespace, *tenant_segments(model, entity), "cache", e, *by, *[(a, False) for a in unique]
    )
    joined = held_fields(ctx, pattern)
    fields = field_specs(model, entity, list(cached)) + tuple(held.spec for held in joined)
    parts = entity_part_lengths(model, entity)
    as_string, as_hash = record_estimates(ctx.memory, fields, cache_template.length(parts))
    adders = [
        i
        for i in increments_of(model, entity)
        if set(i.attributes) & set(cached) and not inexact(counters_of(model, entity), i.attributes)
    ]
    updated = [held.decision.path.text for held in joined if held.decision.entry is EntryUpkeep.UPDATE]
    if updated:
        structure, estimate = Structure.HASH, as_hash
        reason = (
            f"hash: the parent's writes rewrite {', '.join(updated)} in place (HSET of one field) in every "
            f"cached answer holding it; ~{as_hash.usage_bytes} B as a {as_hash.encoding} hash vs "
            f"~{as_string.usage_bytes} B as JSON"
        )
    elif adders:
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
    keys_reason = (
        f"at most min({rows:,.0f} {entity} records, {rate:,.0f} lookups/s × {ttl} s TTL) distinct keys live at once"
    )
    spec = KeySpec(
        name=f"cache.{snake(entity)}.{pattern.name}",
        entity=entity,
        role=Role.CACHED,
        template=cache_template,
        structure=structure,
        structure_reason=reason + (f"; {runner_up}" if runner_up else ""),
        fields=fields,
        ttl_seconds=ttl,
        ttl_reason=ttl_reason,
        tag_reason="none: each cached answer is read and invalidated on its own",
        serves=(pattern.name,),
        memory=memory_spec(ctx.memory, estimate, keys_count, ttl, keys_reason),
        sync=projection.sync,
        read_model=READ_MODEL.name,
    )
    ctx.keys.append(spec)
    ctx.reads.append(cached_read(ctx, pattern, spec, plan.engine, [h.decision.path.text for h in joined]))
    if not writes:
        ctx.warn(
            "PP310",
            f"{entity} is cached for {pattern.name} but the model declares no write pattern for it: the invalidation "
            f"path cannot be designed, so staleness is bounded only by the {ttl} s TTL. Declare its writes.",
            f"access_patterns.{pattern.name}",
        )
    if pattern.loads:
        ctx.warn(
            "PP310",
            f"{pattern.name} loads {', '.join(pattern.loaded)}; writes to those entities do not invalidate the cached "
            f"answer, so their changes show after at most {ttl} s (the TTL)",
            f"access_patterns.{pattern.name}.loads",
        )
    # A child write that moves the reference changes the joined fields its answer holds.
    references = [a for held in joined for a, _ in held.decision.path.hops[0].pairs]
    for write in writes:
        ctx.writes.append(projection_write(ctx, write, spec, unique, [*read_set, *references], plan.engine))
    ctx.writes += parent_writes(ctx, spec, joined, plan.engine)
    ctx.writes += copy_writes(ctx, spec, copied_fields(ctx, pattern), plan.engine)


def cached_read(
    ctx: DesignContext, pattern: AccessPattern, spec: KeySpec, engine: str, joined: list[str] | None = None
) -> ReadPath:
    key = spec.template.render()
    get = ("HGETALL", key) if spec.structure is Structure.HASH else ("GET", key)
    put: tuple[str, ...] = (
        ("HSET", key, FIELDS) if spec.structure is Structure.HASH else ("SET", key, JSON, "EX", str(spec.ttl_seconds))
    )
    steps = (
        f"{get[0]} {key}: a hit answers {pattern.name}",
        f"on a miss: run {pattern.name} on {engine}"
        + (f" (joining {', '.join(joined)} into the answer)" if joined else "")
        + f"; if it found a record, {put[0]} {key} with EX {spec.ttl_seconds} "
        "(absent records are not cached, so a later insert needs no invalidation)",
    )
    commands: tuple[tuple[str, ...], ...] = (get, put)
    if spec.structure is Structure.HASH:
        commands = (*commands, ("EXPIRE", key, str(spec.ttl_seconds)))
    return ReadPath(pattern.name, pattern.entity, (spec.name,), commands, steps)


def projection_write(
    ctx: DesignContext, write: WritePattern, spec: KeySpec, unique: tuple[str, ...], read_set: list[str], engine: str
) -> WritePath:
    key = spec.template.render()
    cached = set(read_set) | set(unique)
    changed = set(write.attributes)
    if write.kind is WriteKind.INCREMENT and changed & cached:
        return counter.increment_write(ctx, write, spec, engine)
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

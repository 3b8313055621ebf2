"""Sorted-set indexes of record keys (cache-held entities): non-unique lookups and sorted reads."""

from __future__ import annotations

from collections.abc import Mapping

from polyplan.model.derived import snake
from polyplan.model.schema import (
    AccessPattern,
    Direction,
    FilterOp,
)
from polyplan.security.redis_acl import tenant_segments
from polyplan.stores.cache.keys import template
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.partition import score_bytes, split
from polyplan.stores.cache.sizing import (
    memory_spec,
)
from polyplan.stores.cache.spec import (
    RECORD_KEY,
    IndexSpec,
    KeySpec,
    ReadPath,
    Role,
    Structure,
    bound_token,
    literal,
)


def build_index(
    ctx: DesignContext,
    entity: str,
    pattern: AccessPattern,
    record: KeySpec,
    partition: tuple[str, ...],
    parts: Mapping[str, float],
    ttl: int | None,
    ttl_reason: str,
) -> None:
    keys = split(ctx, entity, pattern)
    eq, constants, keys_count, members = list(keys.eq), keys.constants, keys.keys, keys.members
    sort = pattern.sort[0] if pattern.sort else None
    score = sort.attribute if sort else None
    ranged = any(f.op is FilterOp.RANGE for f in pattern.filters)
    by = keys.by
    pieces: list[str | tuple[str, bool]] = [
        ctx.namespace,
        *tenant_segments(ctx.model, entity),
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
    estimate = ctx.memory.zset_key(
        index_template.length(parts), members, member_length, score_bytes(ctx, entity, score)
    )
    index = IndexSpec(
        partition=tuple(eq),
        constants=constants,
        score=score,
        descending=bool(sort and sort.direction is Direction.DESC),
        range_on_score=ranged,
        limit=pattern.limit,
        members_per_key=members,
    )
    keys_reason = keys.keys_reason or "a single sorted set for the whole entity"
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
        memory=memory_spec(ctx.memory, estimate, keys_count, ttl, keys_reason),
        record_key=record.name,
        index=index,
    )
    ctx.keys.append(spec)
    ctx.reads.append(index_read(ctx, pattern, spec, record))


def index_read(ctx: DesignContext, pattern: AccessPattern, index: KeySpec, record: KeySpec) -> ReadPath:
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
    steps += ctx.loads_notes(pattern)
    return ReadPath(pattern.name, pattern.entity, (index.name, record.name), (command, (get, RECORD_KEY)), tuple(steps))

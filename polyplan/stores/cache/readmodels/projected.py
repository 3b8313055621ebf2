"""Pieces shared by the read models that list records of an entity held elsewhere (sorted set,
capped list, table hash): their key names, members and what a write touches."""

from __future__ import annotations

from polyplan.model.derived import key_of, snake
from polyplan.model.schema import AccessPattern, FilterOp, WriteKind, WritePattern
from polyplan.security.redis_acl import tenant_segments
from polyplan.stores.cache.keys import KeyTemplate, template
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.partition import Split
from polyplan.stores.cache.sizing import entity_part_lengths, lookup_set
from polyplan.stores.cache.spec import literal

# Guarded edits of a read model that is kept in step on write (KEYS[1]; ARGV as named): they apply
# only while the key exists, because the same edit on an evicted or expired key would create a
# key holding one record, which a later read would take for the whole answer.
GUARDED_ZADD = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) end return nil"
)
GUARDED_ZINCRBY = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2]) end return nil"
)
# Push one member and trim to the cap (ARGV[1] member, ARGV[2] last index kept): the list never
# grows past its cap, and both run as one step.
GUARDED_PUSH = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('LPUSH', KEYS[1], ARGV[1]); "
    "redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2])); return redis.call('LLEN', KEYS[1]) end return nil"
)


def listing_problems(ctx: DesignContext, pattern: AccessPattern) -> list[str]:
    """Why a pattern cannot be answered by one key per value of its equality parameters."""
    problems = []
    if lookup_set(ctx.model, pattern) is not None:
        problems.append("it is a unique key lookup (the key cache serves it)")
    for flt in pattern.filters:
        if flt.op is not FilterOp.EQ:
            problems.append(f"its {flt.op.value} filter on {flt.attribute} cannot name a key")
    return problems


def listing_template(ctx: DesignContext, entity: str, kind: str, keys: Split, *extra: str) -> KeyTemplate:
    """`<model>:cache:<entity>:<kind>:<by…>:<constant=value…>:<extra…>:<parameter values…>`."""
    pieces: list[str | tuple[str, bool]] = [
        ctx.namespace,
        *tenant_segments(ctx.model, entity),
        "cache",
        literal(snake(entity)),
        kind,
        literal(keys.by),
    ]
    pieces += [f"{literal(name)}={value}" for name, value in keys.constants]
    pieces += [literal(piece) for piece in extra]
    pieces += [(a, False) for a in keys.eq]
    return template(*pieces)


def member_of(ctx: DesignContext, entity: str) -> tuple[str, ...]:
    """A member names its record by the record's key in the system of record."""
    return tuple(key_of(ctx.model.entities[entity]).attributes)


def member_length(ctx: DesignContext, entity: str) -> float:
    """Average bytes of one member (the key values joined by ':')."""
    parts = entity_part_lengths(ctx.model, entity)
    member = member_of(ctx, entity)
    return sum(parts[a] for a in member) + max(len(member) - 1, 0)


def touched(write: WritePattern, attributes: set[str]) -> bool:
    """Whether `write` may change which key a record is in, or its place there."""
    if write.kind in (WriteKind.UPDATE, WriteKind.INCREMENT) and write.attributes:
        return bool(set(write.attributes) & attributes)
    return True


def untouched(write: WritePattern, name: str) -> tuple[str, ...]:
    """The step of a write that leaves a read model alone."""
    return (f"no cache key touched: {write.name} changes {', '.join(write.attributes)}, which {name} does not hold",)

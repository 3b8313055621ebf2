"""The trim of a capped entity held in Redis (`growth.cap`): keep the newest N records, delete the rest.

Every record is listed in one sorted set scored by the cap's order (an index a pattern already
reads, else a key family of its own). Each insert ends with ZRANGE <index> 0 -(N+1) and
ZREMRANGEBYRANK <index> 0 -(N+1) in one MULTI: on one key, so one cluster slot, and the ZRANGE
reply is exactly what the ZREMRANGEBYRANK removes, so each trimmed member is handed to one
writer only, which deletes its record (no orphan record, however many writers race). The
records are named by the member, so the delete needs no scan.

Where the sorted set cannot be kept (an order with no numeric score, a tenant-scoped entity whose
keys are per tenant), PP475 keeps saying what the application must do.
"""

from __future__ import annotations

from polyplan.model.caps import CapRule, cap_of
from polyplan.model.derived import all_attributes, snake
from polyplan.security.redis_acl import tenant_segments
from polyplan.stores.cache import codec
from polyplan.stores.cache.keys import template
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.partition import score_bytes
from polyplan.stores.cache.sizing import entity_part_lengths, memory_spec
from polyplan.stores.cache.spec import CapTrim, IndexSpec, KeySpec, Role, Structure, literal


def why_not(ctx: DesignContext, entity: str, rule: CapRule) -> str | None:
    """Why no sorted set can list every record by the cap's order (None when one can)."""
    order = all_attributes(ctx.model, entity)[rule.order]
    if order.type not in codec.SCORABLE:
        return f"its order {rule.order} ({order.type.value}) has no sorted-set score"
    if tenant_segments(ctx.model, entity):
        return "its keys are per tenant, so no one sorted set lists every record"
    return None


def cap_index(ctx: DesignContext, entity: str, record: KeySpec) -> KeySpec | None:
    """The sorted set that lists every record of a capped `entity` by the cap's order: an index
    already designed for a pattern when one fits, else a new key family; None (and PP475) when the
    entity has no cap or the cap cannot be kept this way."""
    rule = cap_of(ctx.model, entity)
    if rule is None:
        return None
    problem = why_not(ctx, entity, rule)
    if problem is not None:
        ctx.warn(
            "PP475",
            f"{entity}: {rule.describe()}: the generated write paths cannot trim it ({problem}); after each insert "
            f"the application deletes the records past the newest {rule.max_records:,} itself (or keeps the "
            f"records in one list: LPUSH then LTRIM 0 {rule.max_records - 1})",
            f"entities.{entity}.growth.cap",
        )
        return None
    for key in ctx.keys:
        listed = key.index
        if key.entity != entity or key.role is not Role.INDEX or listed is None:
            continue
        if not listed.partition and not listed.constants and listed.score == rule.order:
            return key
    parts = entity_part_lengths(ctx.model, entity)
    index_template = template(ctx.namespace, literal(snake(entity)), "cap", literal(rule.order))
    member_length = sum(parts[a] for a in record.template.attributes) + max(len(record.template.attributes) - 1, 0)
    members = float(rule.max_records)
    estimate = ctx.memory.zset_key(
        index_template.length(parts), members, member_length, score_bytes(ctx, entity, rule.order)
    )
    spec = KeySpec(
        name=f"{snake(entity)}.cap",
        entity=entity,
        role=Role.INDEX,
        template=index_template,
        structure=Structure.ZSET,
        structure_reason=(
            f"sorted set of every record key scored by {rule.order}: {rule.describe()}, and no pattern's index "
            f"lists them all in that order, so this one does (~{members:,.0f} members, {estimate.encoding}); "
            "each insert trims it and deletes the records it drops"
        ),
        fields=(),
        ttl_seconds=None,
        ttl_reason="none, like its records: the trim bounds it",
        tag_reason="none: one key, trimmed in a MULTI of its own",
        serves=(),
        memory=memory_spec(ctx.memory, estimate, 1, None, "a single sorted set for the whole entity"),
        record_key=record.name,
        index=IndexSpec(
            partition=(),
            constants=(),
            score=rule.order,
            descending=True,
            range_on_score=False,
            limit=None,
            members_per_key=members,
        ),
    )
    ctx.keys.append(spec)
    return spec


def trim_commands(index: KeySpec, keep: int) -> tuple[tuple[str, ...], ...]:
    """After the insert's ZADD: name and remove the members past the newest `keep`."""
    key = index.template.render()
    past = str(-(keep + 1))
    return (("ZRANGE", key, "0", past), ("ZREMRANGEBYRANK", key, "0", past))


def trim_of(index: KeySpec, keep: int, deletes: tuple[tuple[str, ...], ...]) -> CapTrim:
    """The trim a write path runs; `deletes` are the entity's delete commands, run per trimmed
    member, less the cap index's own ZREM (ZREMRANGEBYRANK already removed the member)."""
    key = index.template.render()
    return CapTrim(index.name, keep, tuple(c for c in deletes if not (c[0] == "ZREM" and c[1] == key)))


def trim_steps(index: KeySpec, keep: int) -> tuple[str, ...]:
    """The trim in words (cache.md)."""
    key = index.template.render()
    past = -(keep + 1)
    return (
        f"cap: ZRANGE {key} 0 {past} and ZREMRANGEBYRANK {key} 0 {past} in one MULTI/EXEC (one key, one slot): "
        f"the members past the newest {keep:,}, named and removed at once, so each is handed to one writer",
        "then, for each member ZRANGE returned, delete its record and its other keys (the delete path, with the "
        "record read first where a key is named by a value the member lacks); a writer that dies in between "
        "leaves that record unlisted, and nothing else",
    )

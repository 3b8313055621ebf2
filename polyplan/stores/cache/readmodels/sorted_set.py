"""The sorted set: top-N and leaderboard reads (one sort attribute, a limit, equality filters).

One sorted set per value of the pattern's parameters holds every record of that value, scored by
the sort attribute: `ZRANGE … REV LIMIT` answers the top N in order, and a record whose score
changes moves in place (ZADD/ZINCRBY), so the next one rises into the top N without a query. It
is kept in step on every write (guarded: a write never recreates a missing key, which the next
read rebuilds whole), so the answer is as fresh as the system of record.
"""

from __future__ import annotations

from polyplan.model.derived import all_attributes, snake, writes_of
from polyplan.model.schema import AccessPattern, Direction, WriteKind, WritePattern
from polyplan.plan.increments import Increment, increments_of
from polyplan.plan.ir import Projection, SyncMechanism
from polyplan.stores.cache import codec, memory
from polyplan.stores.cache.readmodels import Merit
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.partition import Split, score_bytes, split
from polyplan.stores.cache.readmodels.projected import (
    GUARDED_ZADD,
    GUARDED_ZINCRBY,
    listing_problems,
    listing_template,
    member_length,
    member_of,
    touched,
    untouched,
)
from polyplan.stores.cache.sizing import entity_part_lengths, memory_spec
from polyplan.stores.cache.spec import (
    MEMBER,
    WRITE_THROUGH_TTL,
    IndexSpec,
    KeySpec,
    ReadPath,
    Role,
    Structure,
    WritePath,
    score_token,
)


class SortedSet:
    """Every record of one parameter value, scored by the sort attribute; kept in step on write."""

    name = "sorted_set"
    answer_is_value = False

    def fits(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> str | None:
        """Sorted, limited reads with equality filters only, on a numeric (scorable) sort attribute."""
        problems = listing_problems(ctx, pattern)
        attributes = all_attributes(ctx.model, entity)
        if len(pattern.sort) != 1:
            problems.append("it does not sort on exactly one attribute (a sorted set has one score)")
        elif attributes[pattern.sort[0].attribute].type not in codec.SCORABLE:
            sort = pattern.sort[0].attribute
            problems.append(f"it sorts on {sort} ({attributes[sort].type.value}), which has no numeric score")
        if pattern.limit is None:
            problems.append("it has no limit (a top-N read model answers the first N)")
        return "; ".join(problems) or None

    def merit(self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection) -> Merit:
        """Memory of every record's member and score; one command per write that moves a record."""
        keys = split(ctx, entity, pattern)
        estimate = self._estimate(ctx, entity, pattern, keys)
        writes = sum(w.rate for w in self._moving(ctx, entity, pattern))
        return Merit(
            keys.live(pattern.rate, WRITE_THROUGH_TTL)[0] * estimate.usage_bytes,
            writes,
            f"a sorted set of every record (~{keys.members:,.0f} members per key), moved in place on each write",
        )

    def _estimate(self, ctx: DesignContext, entity: str, pattern: AccessPattern, keys: Split) -> memory.Estimate:
        score = pattern.sort[0].attribute
        key = listing_template(ctx, entity, "top", keys, self._order(pattern))
        length = key.length(entity_part_lengths(ctx.model, entity))
        return ctx.memory.zset_key(length, keys.members, member_length(ctx, entity), score_bytes(ctx, entity, score))

    @staticmethod
    def _order(pattern: AccessPattern) -> str:
        sort = pattern.sort[0]
        return f"{sort.attribute}_{'desc' if sort.direction is Direction.DESC else 'asc'}"

    @staticmethod
    def _placing(pattern: AccessPattern) -> set[str]:
        """Attributes that decide a record's key and place: parameters, constants, the score."""
        return {f.attribute for f in pattern.filters} | {pattern.sort[0].attribute}

    def _moving(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> list[WritePattern]:
        return [w for w in writes_of(ctx.model, entity) if touched(w, self._placing(pattern))]

    def build(
        self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection, runner_up: str
    ) -> None:
        """The sorted set, its read path (ZRANGE, rebuilt whole on a miss) and a guarded write per write."""
        keys = split(ctx, entity, pattern)
        estimate = self._estimate(ctx, entity, pattern, keys)
        sort = pattern.sort[0]
        descending = sort.direction is Direction.DESC
        live, live_reason = keys.live(pattern.rate, WRITE_THROUGH_TTL)
        key_template = listing_template(ctx, entity, "top", keys, self._order(pattern))
        engine = ctx.plan.entities[entity].engine
        reason = (
            f"sorted set of {entity} keys scored by {sort.attribute}: {pattern.name} reads the top {pattern.limit} "
            f"{pattern.rate:,.0f} times a second; ZRANGE answers it in order from memory, and a record whose "
            f"{sort.attribute} changes moves in place, so the set holds every record (~{keys.members:,.0f} per key, "
            f"{estimate.encoding}) and the next one rises into the top {pattern.limit} without a query"
        )
        spec = KeySpec(
            name=f"cache.{snake(entity)}.{pattern.name}",
            entity=entity,
            role=Role.CACHED,
            template=key_template,
            structure=Structure.ZSET,
            structure_reason=reason + (f"; {runner_up}" if runner_up else ""),
            fields=(),
            ttl_seconds=WRITE_THROUGH_TTL,
            ttl_reason=f"kept in step on every write; the {WRITE_THROUGH_TTL} s TTL only lets cold keys go "
            "(a miss rebuilds the whole key)",
            tag_reason="none: each sorted set is read and written on its own",
            serves=(pattern.name,),
            memory=memory_spec(ctx.memory, estimate, live, WRITE_THROUGH_TTL, live_reason),
            index=IndexSpec(
                partition=keys.eq,
                constants=keys.constants,
                score=sort.attribute,
                descending=descending,
                range_on_score=False,
                limit=pattern.limit,
                members_per_key=keys.members,
                member=member_of(ctx, entity),
            ),
            sync=SyncMechanism.WRITE_THROUGH,
            read_model=self.name,
        )
        ctx.keys.append(spec)
        key = key_template.render()
        top = ("ZRANGE", key, "0", str((pattern.limit or 1) - 1), *(("REV",) if descending else ()))
        ctx.reads.append(
            ReadPath(
                pattern.name,
                entity,
                (spec.name,),
                (top, ("ZADD", key, score_token(sort.attribute), MEMBER), ("EXPIRE", key, str(WRITE_THROUGH_TTL))),
                (
                    " ".join(top) + f" → the keys of the top {pattern.limit}, in order",
                    f"fetch those rows by key from {engine} in one query (or from their key cache)",
                    f"on a miss (key absent): read every {entity} of this key's values from {engine} and ZADD them all "
                    f"with EXPIRE {WRITE_THROUGH_TTL} in one MULTI",
                ),
            )
        )
        increments = {i.write: i for i in increments_of(ctx.model, entity)}
        for write in writes_of(ctx.model, entity):
            ctx.writes.append(self._write(write, spec, pattern, engine, increments))

    def _write(
        self, write: WritePattern, spec: KeySpec, pattern: AccessPattern, engine: str, increments: dict[str, Increment]
    ) -> WritePath:
        key = spec.template.render()
        score = pattern.sort[0].attribute
        if not touched(write, self._placing(pattern)):
            return WritePath(write.name, write.entity, write.kind, (), (), untouched(write, spec.name), True)
        steps = [f"commit {write.name} in {engine} first"]
        if write.kind is WriteKind.DELETE:
            command: tuple[str, ...] = ("ZREM", key, MEMBER)
            steps.append(f"then ZREM {key} {MEMBER}")
        elif write.kind is WriteKind.INCREMENT and score in write.attributes and write.name in increments:
            step = increments[write.name].step_literal()
            command = ("EVAL", GUARDED_ZINCRBY, "1", key, str(step), MEMBER)
            steps.append(f"then ZINCRBY {key} {step} {MEMBER}, only while the key exists (one script)")
        else:
            command = ("EVAL", GUARDED_ZADD, "1", key, score_token(score), MEMBER)
            steps.append(
                f"then ZADD {key} with the committed {score}, only while the key exists (one script: a ZADD on a "
                "missing key would make a one-member leaderboard); if a parameter or constant value changed, ZREM "
                "the member from its old key first"
            )
        return WritePath(write.name, write.entity, write.kind, (spec.name,), (command,), tuple(steps), True)


READ_MODEL = SortedSet()

"""The table hash: a small table read whole (or a constant slice of it), at a high rate.

The whole table lives in one hash: one field per record (its key) holding the record's JSON, so
one HGETALL answers the read and a record is one HGET. It is rebuilt whole from the system of
record when it is missing; any write deletes it (after the commit), and its TTL, the staleness
the pattern tolerates, bounds a lost delete. Only for tables small enough to read whole at the
pattern's rate.
"""

from __future__ import annotations

from polyplan.model.derived import all_attributes, snake, writes_of
from polyplan.model.schema import AccessPattern, FilterOp, WritePattern
from polyplan.plan.ir import Projection, SyncMechanism
from polyplan.stores.cache import memory
from polyplan.stores.cache.readmodels import Merit
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.partition import Split, split
from polyplan.stores.cache.readmodels.projected import listing_template, member_length, member_of
from polyplan.stores.cache.sizing import entity_part_lengths, field_specs, fields_json_length, memory_spec
from polyplan.stores.cache.spec import (
    JSON,
    MEMBER,
    FieldSpec,
    IndexSpec,
    KeySpec,
    ReadPath,
    Role,
    Structure,
    WritePath,
)

# The largest table read whole from one hash: HGETALL of more fields, at a hot rate, ties up the
# server (it is single-threaded) longer than the read it replaces.
MAX_ROWS = 1000
MAX_BYTES = 1 << 20


class TableHash:
    """A small table (or a constant slice of it) in one hash, refreshed whole, bounded by staleness."""

    name = "table_hash"
    answer_is_value = False

    def fits(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> str | None:
        """Reads of the whole table (no parameters) that tolerate staleness, on a small table."""
        problems = []
        if any(f.value is None or f.op is not FilterOp.EQ for f in pattern.filters):
            problems.append("it has parameters (a table hash answers reads of the whole table)")
        if pattern.staleness_seconds < 1:
            problems.append("it tolerates no staleness (the table is refreshed whole)")
        keys = split(ctx, entity, pattern)
        if keys.members > MAX_ROWS:
            problems.append(
                f"the table is too big to read whole at this rate (~{keys.members:,.0f} rows; at most {MAX_ROWS:,})"
            )
        elif (size := self._bytes(ctx, entity, pattern, keys)) > MAX_BYTES:
            problems.append(
                f"the table is too big to read whole at this rate (~{size:,.0f} B; at most {MAX_BYTES:,} B)"
            )
        return "; ".join(problems) or None

    def _fields(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> tuple[FieldSpec, ...]:
        attributes = all_attributes(ctx.model, entity)
        names = list(pattern.reads) or list(attributes)
        return field_specs(ctx.model, entity, names)

    def _estimate(self, ctx: DesignContext, entity: str, pattern: AccessPattern, keys: Split) -> memory.Estimate:
        fields = self._fields(ctx, entity, pattern)
        json_length = fields_json_length(fields)
        member = member_length(ctx, entity)
        pair = (member, json_length, memory.listpack_string_bytes(json_length))
        length = listing_template(ctx, entity, "table", keys).length(entity_part_lengths(ctx.model, entity))
        return ctx.memory.hash_key(length, [pair] * max(1, round(keys.members)))

    def _bytes(self, ctx: DesignContext, entity: str, pattern: AccessPattern, keys: Split) -> float:
        return float(self._estimate(ctx, entity, pattern, keys).usage_bytes)

    def merit(self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection) -> Merit:
        """The whole table once; each write deletes it."""
        keys = split(ctx, entity, pattern)
        writes = sum(w.rate for w in writes_of(ctx.model, entity))
        return Merit(self._bytes(ctx, entity, pattern, keys), writes, "the whole table in one hash")

    def build(
        self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection, runner_up: str
    ) -> None:
        """The hash, its read path (HGETALL, rebuilt whole on a miss) and a DEL per write."""
        keys = split(ctx, entity, pattern)
        estimate = self._estimate(ctx, entity, pattern, keys)
        ttl = int(pattern.staleness_seconds)
        key_template = listing_template(ctx, entity, "table", keys)
        engine = ctx.plan.entities[entity].engine
        reason = (
            f"hash of the whole {entity} table (~{keys.members:,.0f} rows, ~{estimate.usage_bytes:,} B, "
            f"{estimate.encoding}), one field per record holding its JSON: {pattern.name} reads it whole "
            f"{pattern.rate:,.0f} times a second and tolerates {pattern.staleness_seconds:g} s of staleness, so one "
            f"HGETALL answers it and {engine} is read once per refill instead of once per read"
        )
        spec = KeySpec(
            name=f"cache.{snake(entity)}.{pattern.name}",
            entity=entity,
            role=Role.CACHED,
            template=key_template,
            structure=Structure.HASH,
            structure_reason=reason + (f"; {runner_up}" if runner_up else ""),
            fields=self._fields(ctx, entity, pattern),
            ttl_seconds=ttl,
            ttl_reason=f"{pattern.name} tolerates {pattern.staleness_seconds:g} s of staleness: the TTL bounds it "
            "even when a delete is lost",
            tag_reason="none: one key",
            serves=(pattern.name,),
            memory=memory_spec(ctx.memory, estimate, keys.keys, ttl, f"one hash for the {entity} table"),
            index=IndexSpec(
                partition=(),
                constants=keys.constants,
                score=None,
                descending=False,
                range_on_score=False,
                limit=None,
                members_per_key=keys.members,
                member=member_of(ctx, entity),
            ),
            sync=SyncMechanism.CACHE_ASIDE_INVALIDATE,
            read_model=self.name,
        )
        ctx.keys.append(spec)
        key = key_template.render()
        ctx.reads.append(
            ReadPath(
                pattern.name,
                entity,
                (spec.name,),
                (("HGETALL", key), ("HSET", key, MEMBER, JSON), ("EXPIRE", key, str(ttl))),
                (
                    f"HGETALL {key} → every record's JSON by key (HGET {key} <key> for one record)"
                    + ("; sort and limit in the application" if pattern.sort or pattern.limit else ""),
                    f"on a miss: one caller (SET {key}:refill NX EX {ttl}) reads the table from {engine} and HSETs "
                    f"every record with EXPIRE {ttl} in one MULTI; the others read {engine} until it is back",
                ),
            )
        )
        for write in writes_of(ctx.model, entity):
            ctx.writes.append(self._write(write, spec, engine))

    @staticmethod
    def _write(write: WritePattern, spec: KeySpec, engine: str) -> WritePath:
        key = spec.template.render()
        return WritePath(
            write.name,
            write.entity,
            write.kind,
            (spec.name,),
            (("DEL", key),),
            (
                f"commit {write.name} in {engine} first",
                f"then DEL {key}: the next read rebuilds the whole table (never before the commit)",
            ),
            True,
        )


READ_MODEL = TableHash()

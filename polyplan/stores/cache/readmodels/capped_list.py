"""The capped list: timelines and "latest N" reads (newest first by a time attribute, a limit).

One list per value of the pattern's parameters holds the keys of its newest N records, newest
first; LRANGE answers the read. Records arrive in time order and never change their time, so a
new record belongs at the head: fan-out on write pushes it there and trims the list to N (one
script, so it never grows past its cap). When inserts outnumber reads, pushing every insert
would be wasted work: fan-out on read builds the list when it is read (the newest N from the
system of record) and lets it live as long as the pattern tolerates staleness.
"""

from __future__ import annotations

from polyplan.model.derived import all_attributes, snake, writes_of
from polyplan.model.schema import AccessPattern, Direction, TypeName, WriteKind, WritePattern
from polyplan.plan.ir import Projection, SyncMechanism
from polyplan.stores.cache import memory
from polyplan.stores.cache.readmodels import Merit
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.partition import Split, split
from polyplan.stores.cache.readmodels.projected import (
    GUARDED_PUSH,
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
)

TIME_TYPES = (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.DATE)
INSERTS = (WriteKind.INSERT, WriteKind.UPSERT)


class CappedList:
    """The keys of the newest N records per parameter value, newest first, never longer than N."""

    name = "capped_list"
    answer_is_value = False

    def fits(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> str | None:
        """Newest-first reads by a time attribute that no write changes, with a limit."""
        problems = listing_problems(ctx, pattern)
        attributes = all_attributes(ctx.model, entity)
        if len(pattern.sort) != 1 or pattern.sort[0].direction is not Direction.DESC:
            problems.append("it does not read newest first by one attribute")
        elif attributes[pattern.sort[0].attribute].type not in TIME_TYPES:
            problems.append(f"its sort attribute {pattern.sort[0].attribute} is not a time (insert order)")
        if pattern.limit is None:
            problems.append("it has no limit (a capped list holds the newest N)")
        if pattern.sort and not problems:
            moved = [
                w.name
                for w in writes_of(ctx.model, entity)
                if w.kind not in INSERTS and w.kind is not WriteKind.DELETE and touched(w, self._placing(pattern))
            ]
            if moved:
                problems.append(
                    f"{', '.join(moved)} change {pattern.sort[0].attribute} or a filtered attribute, so records "
                    "would not stay in insert order"
                )
        return "; ".join(problems) or None

    @staticmethod
    def _placing(pattern: AccessPattern) -> set[str]:
        return {f.attribute for f in pattern.filters} | {pattern.sort[0].attribute}

    @staticmethod
    def fan_out_on_write(ctx: DesignContext, entity: str, pattern: AccessPattern) -> tuple[bool, str]:
        """Push each insert (reads at least as frequent as inserts, or no staleness allowed), else build on read."""
        inserts = sum(w.rate for w in writes_of(ctx.model, entity) if w.kind in INSERTS)
        if pattern.staleness_seconds < 1:
            return True, (
                f"fan-out on write: {pattern.name} allows no staleness, so every insert ({inserts:,.0f}/s) is pushed "
                "to its list when it commits"
            )
        if pattern.rate >= inserts:
            ratio = f"{pattern.rate / inserts:,.0f}× " if inserts else ""
            return True, (
                f"fan-out on write: {pattern.name} is read {ratio}more often ({pattern.rate:,.0f}/s) than {entity} is "
                f"inserted ({inserts:,.0f}/s), so each insert is pushed once (LPUSH + LTRIM) and served from memory "
                "by every read after it"
            )
        return False, (
            f"fan-out on read: {entity} is inserted more often ({inserts:,.0f}/s) than {pattern.name} is read "
            f"({pattern.rate:,.0f}/s), so pushing every insert would mostly feed lists nobody reads; a list is built "
            f"when read and lives {int(pattern.staleness_seconds)} s (the staleness {pattern.name} tolerates)"
        )

    def _ttl(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> tuple[int, bool, str]:
        on_write, why = self.fan_out_on_write(ctx, entity, pattern)
        return (WRITE_THROUGH_TTL if on_write else int(pattern.staleness_seconds)), on_write, why

    def _estimate(self, ctx: DesignContext, entity: str, keys: Split, cap: int) -> memory.Estimate:
        length = listing_template(ctx, entity, "latest", keys).length(entity_part_lengths(ctx.model, entity))
        entries = min(float(cap), keys.members)
        return ctx.memory.list_key(length, entries, memory.listpack_string_bytes(member_length(ctx, entity)))

    def merit(self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection) -> Merit:
        """Memory of N members per key; one push per insert when fanned out on write, else nothing."""
        keys = split(ctx, entity, pattern)
        cap = pattern.limit or 1
        estimate = self._estimate(ctx, entity, keys, cap)
        ttl, on_write, _ = self._ttl(ctx, entity, pattern)
        writes = sum(w.rate for w in writes_of(ctx.model, entity) if on_write and w.kind in INSERTS)
        return Merit(
            keys.live(pattern.rate, ttl)[0] * estimate.usage_bytes,
            writes,
            f"a capped list of the newest {cap} per key",
        )

    def build(
        self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection, runner_up: str
    ) -> None:
        """The list, its read path (LRANGE, rebuilt on a miss) and the pushes of a fan-out on write."""
        keys = split(ctx, entity, pattern)
        cap = pattern.limit or 1
        estimate = self._estimate(ctx, entity, keys, cap)
        ttl, on_write, why = self._ttl(ctx, entity, pattern)
        live, live_reason = keys.live(pattern.rate, ttl)
        key_template = listing_template(ctx, entity, "latest", keys)
        engine = ctx.plan.entities[entity].engine
        time = pattern.sort[0].attribute
        reason = (
            f"list of {entity} keys, newest {time} first, capped at {cap}: {pattern.name} reads the newest {cap} "
            f"{pattern.rate:,.0f} times a second and {time} is set once, on insert, so a new record always goes "
            f"to the head; {why}"
        )
        spec = KeySpec(
            name=f"cache.{snake(entity)}.{pattern.name}",
            entity=entity,
            role=Role.CACHED,
            template=key_template,
            structure=Structure.LIST,
            structure_reason=reason + (f"; {runner_up}" if runner_up else ""),
            fields=(),
            ttl_seconds=ttl,
            ttl_reason=(
                f"pushed on every insert; the {ttl} s TTL only lets cold lists go (a miss rebuilds the list)"
                if on_write
                else f"{pattern.name} tolerates {pattern.staleness_seconds:g} s of staleness: the list is rebuilt "
                "when it expires"
            ),
            tag_reason="none: each list is read and written on its own",
            serves=(pattern.name,),
            memory=memory_spec(ctx.memory, estimate, live, ttl, live_reason),
            index=IndexSpec(
                partition=keys.eq,
                constants=keys.constants,
                score=time,
                descending=True,
                range_on_score=False,
                limit=cap,
                members_per_key=min(float(cap), keys.members),
                member=member_of(ctx, entity),
            ),
            sync=SyncMechanism.WRITE_THROUGH if on_write else SyncMechanism.CACHE_ASIDE_INVALIDATE,
            read_model=self.name,
        )
        ctx.keys.append(spec)
        key = key_template.render()
        last = str(cap - 1)
        ctx.reads.append(
            ReadPath(
                pattern.name,
                entity,
                (spec.name,),
                (
                    ("LRANGE", key, "0", last),
                    ("RPUSH", key, MEMBER),
                    ("LTRIM", key, "0", last),
                    ("EXPIRE", key, str(ttl)),
                ),
                (
                    f"LRANGE {key} 0 {last} → the keys of the newest {cap}, newest first",
                    f"fetch those rows by key from {engine} in one query (or from their key cache)",
                    f"on a miss (key absent): read the newest {cap} from {engine} and RPUSH their keys in that order, "
                    f"LTRIM to {cap} and EXPIRE {ttl}, in one MULTI",
                ),
            )
        )
        for write in writes_of(ctx.model, entity):
            ctx.writes.append(self._write(write, spec, pattern, engine, on_write))

    def _write(
        self, write: WritePattern, spec: KeySpec, pattern: AccessPattern, engine: str, on_write: bool
    ) -> WritePath:
        key = spec.template.render()
        cap = pattern.limit or 1
        if not on_write:
            return WritePath(
                write.name,
                write.entity,
                write.kind,
                (),
                (),
                (f"no cache key touched: {spec.name} is built on read and expires after {spec.ttl_seconds} s",),
                True,
            )
        if write.kind in INSERTS:
            command: tuple[str, ...] = ("EVAL", GUARDED_PUSH, "1", key, MEMBER, str(cap - 1))
            step = (
                f"then LPUSH {MEMBER} onto {key} and LTRIM it to {cap}, only while the list exists (one script: the "
                f"list never holds more than {cap}, and a push never creates a one-entry list)"
            )
        elif write.kind is WriteKind.DELETE:
            command = ("DEL", key)
            step = f"then DEL {key}: the next read rebuilds the newest {cap} without the deleted record"
        else:
            return WritePath(write.name, write.entity, write.kind, (), (), untouched(write, spec.name), True)
        return WritePath(
            write.name,
            write.entity,
            write.kind,
            (spec.name,),
            (command,),
            (f"commit {write.name} in {engine} first", step),
            True,
        )


READ_MODEL = CappedList()

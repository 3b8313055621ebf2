"""The Redis design: one key family per access pattern, with structure, TTL, tag and memory.

Inputs are the entities whose system of record is the cache (ephemeral state such as carts or
sessions) and the cache projections of entities held elsewhere (read models of hot patterns).
Pure: plan in, dataclasses out. The work is split by read model (readmodels/): records with
their pointers and indexes, the key cache, counters; this module only orders them and asks the
registry which read model serves each projected pattern.

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

from polyplan.model.derived import pattern_named
from polyplan.model.schema import AccessPattern, Family
from polyplan.plan.ir import Plan, Projection
from polyplan.stores.cache.derived import keep_derived
from polyplan.stores.cache.eviction import instances
from polyplan.stores.cache.readmodels import ReadModel, registry
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.readmodels.records import build_records
from polyplan.stores.cache.spec import (
    FIELDS,
    FRAGMENTATION_HEADROOM,
    JSON,
    MEMBER,
    RECORD_KEY,
    STORE,
    WRITE_THROUGH_TTL,
    CacheDesign,
    FieldSpec,
    IndexSpec,
    Instance,
    KeySpec,
    MemorySpec,
    ReadPath,
    Role,
    Structure,
    WritePath,
    bound_token,
    literal,
    score_token,
    staleness_bound,
    value_token,
)

__all__ = [
    "FIELDS",
    "FRAGMENTATION_HEADROOM",
    "JSON",
    "MEMBER",
    "RECORD_KEY",
    "STORE",
    "WRITE_THROUGH_TTL",
    "CacheDesign",
    "FieldSpec",
    "IndexSpec",
    "Instance",
    "KeySpec",
    "MemorySpec",
    "ReadPath",
    "Role",
    "Structure",
    "WritePath",
    "bound_token",
    "design",
    "literal",
    "score_token",
    "staleness_bound",
    "value_token",
]


def _choose(
    ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection
) -> tuple[ReadModel | None, str, list[str]]:
    """The cheapest read model that fits (least memory, then fewest write commands), why the
    runner-up lost, and why each other read model does not fit."""
    fitting: list[tuple[float, float, int, ReadModel, str]] = []
    refused: list[str] = []
    for order, model in enumerate(registry()):
        why_not = model.fits(ctx, entity, pattern)
        if why_not is not None:
            refused.append(f"{model.name}: {why_not}")
            continue
        merit = model.merit(ctx, entity, pattern, projection)
        fitting.append((merit.bytes, merit.write_commands, order, model, merit.summary))
    if not fitting:
        return None, "", refused
    fitting.sort(key=lambda item: item[:3])
    runner_up = ""
    if len(fitting) > 1:
        best, second = fitting[0], fitting[1]
        runner_up = (
            f"runner-up {second[3].name}: {second[4]}, ~{second[0]:,.0f} B and {second[1]:,.0f} write commands/s "
            f"vs ~{best[0]:,.0f} B and {best[1]:,.0f}/s"
        )
    return fitting[0][3], runner_up, refused


def _projection(ctx: DesignContext, entity: str, projection: Projection) -> None:
    engine = ctx.plan.entities[entity].engine
    for pattern_name in projection.patterns:
        pattern = pattern_named(ctx.model, pattern_name)
        if pattern is None:  # projections are built from the model's own patterns
            raise KeyError(pattern_name)
        chosen, runner_up, refused = _choose(ctx, entity, pattern, projection)
        if chosen is None:
            ctx.warn(
                "PP431",
                f"{pattern.name} is hot ({pattern.rate:,.0f} reads/s) but gets no cache: no read model serves it ("
                + "; ".join(refused)
                + f"); it stays on {engine}. A key lookup, a whole small table, a newest-first list with a limit or "
                "a top-N by one numeric attribute would be served from memory",
                f"access_patterns.{pattern.name}",
            )
            continue
        chosen.build(ctx, entity, pattern, projection, runner_up)
        if not chosen.answer_is_value:
            _joined_not_held(ctx, pattern, chosen.name)


def _joined_not_held(ctx: DesignContext, pattern: AccessPattern, read_model: str) -> None:
    """PP471 for the joined fields the plan would have a cached answer hold, where the read model
    serving the pattern lists records instead of holding one answer."""
    for decision in ctx.plan.related_reads:
        if decision.pattern == pattern.name and decision.entry is not None:
            ctx.warn(
                "PP471",
                f"{pattern.name}: the {read_model} serving it lists {pattern.entity} records, which hold their own "
                f"fields, but {decision.path.text} is joined at read time ({decision.line()}): a cache hit lacks it, "
                f"so the application reads {decision.path.target}.{decision.path.attribute} from the system of "
                "record; only a key cache (one answer per key) holds a joined field",
                f"access_patterns.{pattern.name}.reads",
            )


def design(plan: Plan) -> CacheDesign:
    """The Redis design for every cache record entity and cache projection of `plan`."""
    ctx = DesignContext(plan)
    for entity in plan.records_in(Family.CACHE):
        build_records(ctx, entity)
    keep_derived(ctx)
    for entity, projection in plan.projections_in(Family.CACHE):
        _projection(ctx, entity, projection)
    found, shared, why = instances(ctx)
    return CacheDesign(
        model=plan.model.name,
        namespace=ctx.namespace,
        keys=tuple(ctx.keys),
        reads=tuple(ctx.reads),
        writes=tuple(ctx.writes),
        stores=tuple(ctx.stores),
        instances=found,
        shared_policy=shared,
        shared_why=why,
        total_bytes=sum(k.memory.total_bytes for k in ctx.keys),
        diagnostics=tuple(ctx.diagnostics),
        memory=ctx.memory,
    )

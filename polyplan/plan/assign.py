"""Assign each entity a system of record and derived projections.

Order of decisions: explicit placement wins; otherwise the best-scoring eligible family; then
transactions pull all their entities into one store (a commit cannot span stores); then
projections are added where patterns need what the system of record does poorly.
"""

from __future__ import annotations

from collections.abc import Mapping

from polyplan.analyse.capabilities import Capability, load_targets
from polyplan.analyse.profile import EntityProfile, PatternShape, profile_entity
from polyplan.analyse.scoring import score_family
from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.model.bounded_loads import bounded_loads
from polyplan.model.derived import is_keyless, patterns_of
from polyplan.model.loader import LoadedModel
from polyplan.model.schema import Family, FilterOp, RequirementsModel
from polyplan.plan.distinct import distinct_notes
from polyplan.plan.hot import hot_for_cache
from polyplan.plan.ir import EntityPlan, FamilyScore, Plan, Projection, SyncMechanism
from polyplan.plan.keyless import keyless_blockers, keyless_cache, keyless_search
from polyplan.plan.related_reads import decide_related_reads, related_read_warnings, with_copies
from polyplan.plan.skew import skew_notes

# A full-text workload "at scale": beyond either bound a relational full-text index is a
# liability (ranking, typo tolerance, stemming per language, and load on the primary).
FULLTEXT_RATE_AT_SCALE = 50.0
FULLTEXT_ROWS_AT_SCALE = 1_000_000


def _engine_capability(
    model: RequirementsModel, family: Family, capabilities: Mapping[str, Capability]
) -> Capability | None:
    engine = model.engines.engine_for(family)
    return capabilities.get(engine) if engine else None


def _best(scores: tuple[FamilyScore, ...], allowed: set[Family] | None = None) -> list[FamilyScore]:
    eligible = [s for s in scores if s.eligible and (allowed is None or s.family in allowed)]
    return sorted(eligible, key=lambda s: (-s.total, list(Family).index(s.family)))


def _why_lost(winner: FamilyScore, loser: FamilyScore) -> str:
    gaps = sorted(
        ((won.score - lost.score) * won.weight, won.factor, lost.reason)
        for won, lost in zip(winner.factors, loser.factors, strict=True)
    )
    gap, factor, _ = gaps[-1]
    return (
        f"{loser.family.value} scored {loser.total:.2f} vs {winner.total:.2f}; "
        f"it lost most on {factor} ({gap:+.2f} weighted)"
    )


def _upkeep(hot: list[PatternShape], profile: EntityProfile) -> str:
    """The cache's read savings against its upkeep, and the runner-up (the system of record alone)."""
    reads = sum(p.rate for p in hot)
    changes = profile.write_rate - profile.insert_rate
    hits = reads / (reads + changes) if reads + changes else 1.0
    return (
        f"; {changes:,.0f} changes/s against {reads:,.0f} reads/s: about {hits:.0%} of reads answered from memory "
        "(runner-up: the system of record alone, chosen when changes outnumber reads)"
    )


def _scattered_prefix_reads(model: RequirementsModel, name: str) -> set[str]:
    """Wide-column reads by prefix with no equality parameter: their table has nothing to partition
    by but a hash bucket, so every read would query every bucket."""
    found = set()
    for pattern in patterns_of(model, name):
        if pattern.aggregate is not None:
            continue
        prefix = any(f.op is FilterOp.PREFIX for f in pattern.filters)
        partitioned = any(f.op in (FilterOp.EQ, FilterOp.IN) and f.value is None for f in pattern.filters)
        if prefix and not partitioned:
            found.add(pattern.name)
    return found


def _fulltext_without_search(
    model: RequirementsModel, profile: EntityProfile, family: Family, capabilities: Mapping[str, Capability], name: str
) -> list[Diagnostic]:
    """Full-text at scale with no search engine run: the record store's own text index, or PP314."""
    record = _engine_capability(model, family, capabilities)
    load = f"{profile.fulltext_rate:,.0f} full-text queries/s over {profile.rows_at_horizon:,.0f} rows"
    if record is not None and record.has("text_index"):
        # MongoDB's text index is a real inverted index: it serves the pattern, only with less
        # than a search engine offers, so this is a warning and not a refusal.
        return [
            Diagnostic(
                "PP461",
                f"{load} are served by {record.title}'s text index (one per collection, stemming by one language, "
                "no typo tolerance or relevance tuning), since no search engine is run; a search engine "
                "(engines.search) would rank and scale them better",
                f"entities.{name}",
                Severity.WARNING,
            )
        ]
    if family is Family.RELATIONAL and model.options.fulltext_fallback == "relational":
        return []
    # A keyless history has the search engine but cannot be projected there (PP444).
    searched = model.engines.search is not None and is_keyless(model.entities[name])
    remedies = [
        "a key, so that the search engine can hold a projection" if searched else "a search engine (engines.search)"
    ]
    if family is Family.RELATIONAL:
        remedies.append("options.fulltext_fallback: relational (the relational store's own full-text index)")
    elif model.engines.document is not None:
        remedies.append("placement in the document store (MongoDB's text index)")
    return [Diagnostic("PP314", f"{load}: full-text at scale needs {' or '.join(remedies)}", f"entities.{name}")]


def _projections(
    model: RequirementsModel, profile: EntityProfile, family: Family, capabilities: Mapping[str, Capability], name: str
) -> tuple[list[Projection], list[Diagnostic]]:
    found: list[Projection] = []
    notes: list[Diagnostic] = []
    fulltext = [p for p in profile.patterns if "fulltext" in p.shapes]
    search, refused = keyless_search(model, name, _engine_capability(model, Family.SEARCH, capabilities), fulltext)
    notes += refused
    at_scale = profile.fulltext_rate >= FULLTEXT_RATE_AT_SCALE or profile.rows_at_horizon >= FULLTEXT_ROWS_AT_SCALE
    scattered = _scattered_prefix_reads(model, name) if family is Family.WIDE_COLUMN else set()
    if scattered and search is not None:
        found.append(
            Projection(
                Family.SEARCH,
                search.engine,
                tuple(p.name for p in profile.patterns if p.name in scattered or "fulltext" in p.shapes),
                SyncMechanism.OUTBOX_CDC,
                f"prefix reads with no equality filter ({', '.join(sorted(scattered))}) would have to query every "
                "bucket of a Cassandra table; a search index answers them in one query"
                + ("; full-text reads too" if fulltext else "")
                + "; changes flow through a transactional outbox",
            )
        )
    elif fulltext and family is not Family.SEARCH:
        if search is not None and (at_scale or model.options.fulltext_fallback == "none"):
            found.append(
                Projection(
                    Family.SEARCH,
                    search.engine,
                    tuple(p.name for p in fulltext),
                    SyncMechanism.OUTBOX_CDC,
                    f"{profile.fulltext_rate:,.0f} full-text queries/s over {profile.rows_at_horizon:,.0f} rows need "
                    "relevance ranking and analyzers; changes flow through a transactional outbox",
                )
            )
        elif at_scale:
            notes.extend(_fulltext_without_search(model, profile, family, capabilities, name))
    cache = _engine_capability(model, Family.CACHE, capabilities)
    searched = {p for projection in found for p in projection.patterns}
    record = _engine_capability(model, family, capabilities)
    hot, warnings = hot_for_cache(profile, family, record, cache, searched)
    notes += warnings
    if hot and cache is not None:
        hot, refused = keyless_cache(model, name, hot)
        notes += refused
    if hot and cache is not None:
        tolerant = all(p.staleness_seconds > 0 for p in hot)
        sync = SyncMechanism.CACHE_ASIDE_INVALIDATE if tolerant else SyncMechanism.WRITE_THROUGH
        lookups = all(p.key_lookup for p in hot)
        found.append(
            Projection(
                Family.CACHE,
                cache.engine,
                tuple(p.name for p in hot),
                sync,
                f"{sum(p.rate for p in hot):,.0f} {'key lookups' if lookups else 'hot reads'}/s tolerate staleness "
                f"{min(p.staleness_seconds for p in hot):g} s; "
                + (
                    ("read-through cache invalidated on write" if tolerant else "written through so reads see writes")
                    + _upkeep(hot, profile)
                    if lookups
                    else "each served by the Redis read model that fits it at least cost (key cache, table hash, "
                    "capped list or sorted set), kept in step as redis/cache.md says"
                ),
            )
        )
    return found, notes


def build_plan(loaded: LoadedModel, capabilities: Mapping[str, Capability] | None = None) -> Plan:
    """Score every entity, choose its store, add projections, against `capabilities` (engine →
    target profile; default: the bundled profiles, `load_targets`). Pure; raises DiagnosticError."""
    model = loaded.model
    capabilities = dict(capabilities) if capabilities is not None else load_targets()
    profiles = {name: profile_entity(model, name) for name in model.entities}
    scores = {
        name: keyless_blockers(
            model,
            name,
            tuple(score_family(profile, family, _engine_capability(model, family, capabilities)) for family in Family),
        )
        for name, profile in profiles.items()
    }
    chosen: dict[str, Family] = {}
    reasons: dict[str, list[str]] = {name: [] for name in model.entities}
    forced: set[str] = set()
    errors: list[Diagnostic] = []
    for name, entity in model.entities.items():
        ranked = _best(scores[name])
        if entity.placement is not None:
            chosen[name] = entity.placement.family
            forced.add(name)
            reasons[name].append(f"placed in {entity.placement.family.value} by the model (placement)")
        elif ranked:
            chosen[name] = ranked[0].family
            reasons[name].append(f"highest eligible score ({ranked[0].total:.2f})")
        else:
            errors.append(
                Diagnostic("PP401", "no family the organisation runs can hold this entity", f"entities.{name}")
            )
    for t_index, transaction in enumerate(model.transactions):
        members = [e for e in transaction.entities if e in chosen]
        if len({chosen[e] for e in members}) <= 1:
            continue
        allowed = set(Family)
        for member in members:
            allowed &= {s.family for s in scores[member] if s.eligible}
        if any(m in forced for m in members):
            allowed &= {chosen[m] for m in members if m in forced}
        if not allowed:
            errors.append(
                Diagnostic("PP401", f"no single store can hold {', '.join(members)}", f"transactions.{t_index}")
            )
            continue
        best = max(
            sorted(allowed), key=lambda f: sum(next(s.total for s in scores[m] if s.family is f) for m in members)
        )
        for member in members:
            if chosen[member] is not best:
                reasons[member].append(
                    f"moved to {best.value}: transaction {transaction.name} must commit {', '.join(members)} atomically in one store"
                )
                chosen[member] = best
    if errors:
        raise DiagnosticError([loaded_locate(loaded, d) for d in errors])
    entities: dict[str, EntityPlan] = {}
    notes: list[Diagnostic] = []
    for load in bounded_loads(model):
        # The bound stated where the child is placed (plan.md, explain): its read is one of the child's patterns.
        reasons[load.load.entity].append(
            f"bounded load: {load.describe()}, read by {load.name} at {load.child_read().rate:g}/s"
        )
    for name in model.entities:
        family = chosen[name]
        ranked = [s for s in _best(scores[name]) if s.family is not family]
        winner = next(s for s in scores[name] if s.family is family)
        runner_up = ranked[0] if ranked else None
        projections, projection_notes = _projections(model, profiles[name], family, capabilities, name)
        notes.extend(projection_notes)
        capability = _engine_capability(model, family, capabilities)
        if (
            profiles[name].ephemeral
            and capability is not None
            and not capability.has("ttl")
            and not capability.has("ttl_index")
        ):
            notes.append(
                Diagnostic(
                    "PP311",
                    f"expires after {profiles[name].ttl_seconds} s but {capability.title} has no native expiry; "
                    "plan a scheduled purge on the time attribute",
                    f"entities.{name}.growth.ttl_seconds",
                    Severity.WARNING,
                )
            )
        entities[name] = EntityPlan(
            name=name,
            family=family,
            engine=model.engines.engine_for(family) or "",
            scores=scores[name],
            projections=tuple(projections),
            reasons=tuple(reasons[name]),
            runner_up=runner_up.family if runner_up else None,
            runner_up_reason=_why_lost(winner, runner_up) if runner_up else "no other family is eligible",
            profile=profiles[name],
            forced=name in forced,
        )
    notes.extend(skew_notes(model, entities))
    notes.extend(distinct_notes(model))
    hard = [d for d in notes if d.severity is Severity.ERROR]
    if hard:
        raise DiagnosticError([loaded_locate(loaded, d) for d in hard])
    # Related fields read: joined or copied, now that every entity's store is known; a copy is
    # an attribute of the planning model from here on, so every store designs it.
    related = decide_related_reads(model, loaded.paths, entities)
    notes.extend(related_read_warnings(related))
    loaded = with_copies(loaded, related)
    return Plan(loaded, entities, capabilities, tuple(loaded_locate(loaded, d) for d in notes), related)


_NAMED_LISTS = ("access_patterns", "write_patterns", "relationships", "transactions")


def loaded_locate(loaded: LoadedModel, diagnostic: Diagnostic) -> Diagnostic:
    """Attach the file position of a diagnostic's dotted path.

    Targets may name list items by their `name` (access_patterns.orders_of_customer); the path is
    rewritten to the item's index so that it matches the file, and so that users see one form.
    """
    if diagnostic.location is not None:
        return diagnostic
    parts: list[str | int] = list(diagnostic.path.split(".")) if diagnostic.path else []
    if len(parts) >= 2 and parts[0] in _NAMED_LISTS and not str(parts[1]).isdigit():
        items = getattr(loaded.model, str(parts[0]))
        index = next((i for i, item in enumerate(items) if item.name == parts[1]), None)
        if index is not None:
            parts[1] = index
    path = ".".join(map(str, parts))
    return Diagnostic(diagnostic.code, diagnostic.message, path, diagnostic.severity, loaded.locate_value(tuple(parts)))

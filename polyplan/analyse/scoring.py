"""Score an entity's profile against each family's capability profile, factor by factor.

Every factor returns a 0..1 score and a sentence saying why, so `polyplan explain` can show
the whole arithmetic. Hard constraints are returned separately as blockers: a blocked family
keeps its score (for the explanation) but cannot be the system of record.
"""

from __future__ import annotations

from collections.abc import Callable

from polyplan.analyse.capabilities import Capability
from polyplan.analyse.profile import EntityProfile
from polyplan.model.schema import Family
from polyplan.plan.ir import FactorScore, FamilyScore

# Weights sum to 1. Query fit dominates because a store that cannot answer the workload's
# questions natively forces application-side work on every request.
WEIGHTS: dict[str, float] = {
    "query_fit": 0.30,
    "write_scale": 0.15,
    "volume": 0.10,
    "latency": 0.10,
    "consistency": 0.10,
    "integrity": 0.10,
    "lifecycle": 0.10,
    "schema_flexibility": 0.05,
}


# Shapes a capped list answers (no filter: the whole list, newest first), and how well.
CAPPED_LIST_SHAPES = frozenset({"sort", "scan"})
CAPPED_LIST_FIT = 0.9


def _ratio_score(need: float, capacity: float) -> float:
    """1 while `need` is at most half of `capacity`, falling towards 0 beyond it."""
    if need <= 0 or need <= capacity / 2:
        return 1.0
    return max(0.0, min(1.0, capacity / (2 * need)))


def _query_fit(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    if not profile.patterns:
        return 0.7, "no read patterns declared; neutral"
    total_rate = sum(p.rate for p in profile.patterns) or float(len(profile.patterns))
    weighted = 0.0
    worst: tuple[float, str] = (2.0, "")
    for pattern in profile.patterns:
        # A pattern is only as well served as its hardest predicate shape.
        # sorted(): ties between equally hard shapes must not depend on the hash seed.
        hardest = min(sorted(pattern.shapes), key=lambda s: cap.query_shapes.get(s, 0.0))
        fit = cap.query_shapes.get(hardest, 0.0)
        if cap.family is Family.CACHE and profile.transient and pattern.shapes <= CAPPED_LIST_SHAPES:
            # Newest-first reads of a capped, disposable entity are what a Redis capped list is
            # (LPUSH + LTRIM on write, LRANGE on read): no filter to index, the cap bounds memory.
            fit = max(fit, CAPPED_LIST_FIT)
        elif cap.family is Family.CACHE and not pattern.key_lookup:
            fit = min(fit, 0.2)
        if cap.family is Family.WIDE_COLUMN and not (pattern.shapes & {"eq", "in"}):
            fit = min(fit, cap.query_shapes.get("scan", 0.0))
        share = (pattern.rate or 1.0) / total_rate
        weighted += fit * share
        if fit < worst[0]:
            worst = (fit, f"{pattern.name} ({hardest})")
    return weighted, f"rate-weighted fit of {len(profile.patterns)} pattern(s); weakest: {worst[1]} at {worst[0]:.1f}"


def _write_scale(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    # Query-first stores keep one table per read pattern, so each logical write lands once per table.
    tables = max(1, len(profile.patterns)) if cap.family is Family.WIDE_COLUMN else 1
    score = _ratio_score(profile.write_rate * tables, cap.write_capacity)
    amplified = f" × {tables} query tables" if tables > 1 else ""
    return score, f"peak {profile.write_rate:,.0f} writes/s{amplified} vs ~{cap.write_capacity:,.0f}/s comfortable"


def _volume(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    score = _ratio_score(profile.bytes_at_horizon, cap.storage_capacity)
    gigabytes = profile.bytes_at_horizon / 1e9
    return (
        score,
        f"{profile.rows_at_horizon:,.0f} rows ≈ {gigabytes:,.1f} GB at horizon vs {cap.storage_capacity / 1e9:,.0f} GB",
    )


def _latency(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    target = profile.tightest_latency_ms
    if target is None:
        return 1.0, "no latency target"
    score = min(1.0, target / (4 * cap.typical_latency_ms))
    return score, f"tightest p99 target {target:g} ms vs typical {cap.typical_latency_ms:g} ms"


def _consistency(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    need = profile.strongest_consistency.value
    return cap.consistency.get(need, 0.0), f"needs {need.replace('_', '-')} reads"


def _integrity(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    if profile.integrity_links == 0:
        return 1.0, "no required relationships to enforce"
    links = profile.integrity_links
    score = 1.0 - (1.0 - cap.referential_integrity) * min(1.0, links / 2)
    return score, f"{links} required relationship(s) to keep consistent"


def _lifecycle(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    if profile.ephemeral:
        return cap.lifecycle["ephemeral"], f"ephemeral: expires after {profile.ttl_seconds} s"
    if profile.transient:
        # Bounded (the cap) and disposable (loss tolerance): what a TTL gives, so scored as ephemeral;
        # an in-memory store's capped list is the natural home, its durability is not needed.
        return cap.lifecycle["ephemeral"], (
            f"capped to the newest {profile.cap_records:,} and loss-tolerable: bounded, disposable data, scored as "
            "ephemeral (durability not needed)"
        )
    if profile.append_only and profile.insert_rate >= 100:
        return cap.lifecycle["time_series"], f"append-only time series at {profile.insert_rate:,.0f} inserts/s"
    return cap.lifecycle["durable"], "durable records"


def _schema_flexibility(profile: EntityProfile, cap: Capability) -> tuple[float, str]:
    need = {"low": 0.0, "medium": 0.5, "high": 1.0}[profile.schema_variability]
    score = 1.0 - need * (1.0 - cap.schema_flexibility)
    return score, f"schema variability {profile.schema_variability}"


FACTORS: dict[str, Callable[[EntityProfile, Capability], tuple[float, str]]] = {
    "query_fit": _query_fit,
    "write_scale": _write_scale,
    "volume": _volume,
    "latency": _latency,
    "consistency": _consistency,
    "integrity": _integrity,
    "lifecycle": _lifecycle,
    "schema_flexibility": _schema_flexibility,
}


def blockers(profile: EntityProfile, cap: Capability | None, family: Family) -> tuple[str, ...]:
    """Hard constraints that rule `family` out as this entity's system of record."""
    found: list[str] = []
    if cap is None:
        return (f"the organisation runs no {family.value.replace('_', '-')} store",)
    if family is Family.SEARCH:
        # Its data is on disk, not volatile: what rules it out is said here, once.
        found.append("a search engine is not a system of record (no transactions, refresh-delayed reads)")
    elif not cap.durable and not profile.ephemeral and not profile.transient:
        # Capped, loss-tolerable (transient) data may too: docs/model.md#caps-and-loss-tolerance.
        found.append(f"{cap.title} is volatile; only ephemeral (TTL) data may live there alone")
    if not cap.durable and profile.must_keep and family is not Family.SEARCH:
        found.append("the entity must be kept")
    if profile.transactions and cap.transactions != "multi_entity":
        found.append(
            f"transaction(s) {', '.join(profile.transactions)} span entities; {cap.title} cannot commit them atomically"
        )
    return tuple(found)


def score_family(profile: EntityProfile, family: Family, cap: Capability | None) -> FamilyScore:
    """Score one family for one entity; a family the organisation does not run scores 0."""
    if cap is None:
        return FamilyScore(family, None, 0.0, (), blockers(profile, cap, family))
    factors = []
    for name, weigh in FACTORS.items():
        score, reason = weigh(profile, cap)
        factors.append(FactorScore(name, round(score, 3), WEIGHTS[name], reason))
    total = round(sum(f.score * f.weight for f in factors), 3)
    return FamilyScore(family, cap.engine, total, tuple(factors), blockers(profile, cap, family))

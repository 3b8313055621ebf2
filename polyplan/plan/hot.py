"""Hot read patterns: which ones earn a cache read model, and a coded warning for each that does not.

A pattern is hot when its rate reaches HOT_READ_RATE, or when its latency target is below what
the system of record typically answers in: either way the system of record alone does not meet
it. A hot pattern goes to the cache (where a read model — key cache, table hash, capped list,
sorted set — is chosen for it by the Redis design) when an answer from memory is allowed: it
tolerates staleness, or asks less than strong consistency (then the read model is kept in step
on write). Otherwise it stays on the system of record with PP431, which says what would meet it.
"""

from __future__ import annotations

from polyplan.analyse.capabilities import Capability
from polyplan.analyse.profile import EntityProfile, PatternShape
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Consistency, Family

# Reads per second beyond which a pattern is served from memory rather than the system of record.
HOT_READ_RATE = 500.0
# A key cache emptied by every change of its record misses once per change: below this share of
# reads answered from memory it costs more (a miss, a refill and an invalidation) than it saves.
# The same line (reads = changes) bounds a cache written through, which pays one write per change.
MIN_HIT_RATIO = 0.5


def invalidated_hit_ratio(pattern: PatternShape, profile: EntityProfile) -> float | None:
    """The share of a key lookup's reads a cache invalidated on every change can answer, or None
    for other patterns (their read models are maintained on write, not emptied).

    Reads and changes are assumed spread alike over the records, so each change of a record costs
    one later read of it a miss: hits = reads / (reads + changes).
    """
    if not pattern.key_lookup:
        return None
    changes = profile.write_rate - profile.insert_rate  # updates and deletes change a cached record
    total = pattern.rate + changes
    return pattern.rate / total if total > 0 else 1.0


def is_hot(pattern: PatternShape, record: Capability | None) -> bool:
    """The system of record alone does not meet the pattern: too frequent, or too fast a target."""
    too_fast = record is not None and pattern.latency_ms < record.typical_latency_ms
    return pattern.rate >= HOT_READ_RATE or too_fast


def cacheable(pattern: PatternShape) -> bool:
    """An answer from memory is allowed: staleness tolerated, or weaker than strong consistency."""
    return pattern.staleness_seconds > 0 or pattern.consistency is not Consistency.STRONG


def hot_for_cache(
    profile: EntityProfile,
    family: Family,
    record: Capability | None,
    cache: Capability | None,
    elsewhere: set[str],
) -> tuple[list[PatternShape], list[Diagnostic]]:
    """The hot patterns of an entity held in `family` that go to the cache, and PP431 for the hot
    ones that cannot (patterns in `elsewhere` are served by another projection, e.g. search)."""
    chosen: list[PatternShape] = []
    notes: list[Diagnostic] = []
    if family is Family.CACHE:
        return chosen, notes
    for pattern in profile.patterns:
        if pattern.name in elsewhere or "fulltext" in pattern.shapes or not is_hot(pattern, record):
            continue
        why = f"{pattern.rate:,.0f} reads/s" if pattern.rate >= HOT_READ_RATE else f"a {pattern.latency_ms:g} ms target"
        if cache is None:
            notes.append(
                Diagnostic(
                    "PP431",
                    f"{pattern.name} is hot ({why}) but gets no cache: the organisation runs no cache engine "
                    "(engines.cache); add one, or size the system of record for this rate",
                    f"access_patterns.{pattern.name}",
                    Severity.WARNING,
                )
            )
        elif not cacheable(pattern):
            notes.append(
                Diagnostic(
                    "PP431",
                    f"{pattern.name} is hot ({why}) but gets no cache: it asks strong consistency with no staleness, "
                    "which no copy kept beside the system of record can promise; declare staleness_seconds (a cache "
                    "bounded by it) or consistency: read_your_writes (a cache written through), or serve it from "
                    "read replicas",
                    f"access_patterns.{pattern.name}",
                    Severity.WARNING,
                )
            )
        else:
            hits = invalidated_hit_ratio(pattern, profile)
            if hits is not None and hits < MIN_HIT_RATIO:
                changes = profile.write_rate - profile.insert_rate
                notes.append(
                    Diagnostic(
                        "PP462",
                        f"{pattern.name} is hot ({why}) but gets no cache: {profile.name} changes {changes:,.0f} "
                        f"times/s against {pattern.rate:,.0f} reads/s, so a cache kept in step would do more upkeep "
                        f"than it saves reads (emptied by each change it would answer {hits:.0%} of them, below "
                        f"{MIN_HIT_RATIO:.0%}; written through, one cache write per change); serve it from the "
                        "system of record (read replicas for the rate)",
                        f"access_patterns.{pattern.name}",
                        Severity.WARNING,
                    )
                )
                continue
            chosen.append(pattern)
    return chosen, notes

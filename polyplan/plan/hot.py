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
            chosen.append(pattern)
    return chosen, notes

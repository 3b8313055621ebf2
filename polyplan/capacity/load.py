"""Each store's need at one point in time: bytes (its own estimate), peak reads and writes per
second, and the connections that load keeps busy.

Assumptions (stated in capacity.md): the model's pattern rates are today's peaks, and traffic
grows as the entity's inserts do (its `monthly_growth_rate`, compounding monthly). A read goes
to the store whose projection serves its pattern, else to the system of record; every write
reaches the system of record (once per Cassandra query table) and each projection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from polyplan.analyse.capabilities import Capability
from polyplan.capacity.estimates import FAMILY_SIZERS, Designs, relational
from polyplan.capacity.spec import EntitySize
from polyplan.model.derived import writes_of
from polyplan.model.schema import AccessPattern, Consistency, Family, WriteKind
from polyplan.plan.ir import Plan

DAYS_PER_MONTH = 365.0 / 12.0  # month m is m * 365 / 12 days: year y falls exactly on month 12 y
# Little's law gives the connections busy at peak; twice that absorbs bursts and slow queries.
CONNECTION_HEADROOM = 2.0


def store_name(family: Family, engine: str) -> str:
    """The name a store is reported under: `family (engine)`."""
    return f"{family.value} ({engine})"


@dataclass
class Need:
    """One store's need at one point in time."""

    family: Family
    engine: str
    rows: float = 0.0
    data_bytes: float = 0.0
    index_bytes: float = 0.0
    free_bytes: float = 0.0  # disk compaction needs free beside the data (Cassandra)
    reads: float = 0.0
    primary_reads: float = 0.0  # reads a replica may not serve (strong, read-your-writes, tight staleness)
    writes: float = 0.0
    latency_ms: float = 1.0  # the engine's typical latency (its profile), for Little's law

    @property
    def total_bytes(self) -> float:
        return self.data_bytes + self.index_bytes

    def connections(self) -> float:
        """Connections busy at peak, with headroom (Little's law: rate × the engine's latency)."""
        return math.ceil((self.reads + self.writes) * self.latency_ms / 1000.0 * CONNECTION_HEADROOM)


def traffic_factor(plan: Plan, entity: str, days: float) -> float:
    """How much the entity's traffic has grown after `days` (its monthly growth rate, compounded)."""
    rate = plan.model.entities[entity].growth.monthly_growth_rate
    return float((1.0 + rate) ** (days / DAYS_PER_MONTH))


def replica_may_serve(pattern: AccessPattern, lag_seconds: float | None) -> bool:
    """Whether a read replica may answer `pattern`: eventual consistency and a staleness budget
    above the replica's lag (read-your-writes and strong reads go to the primary)."""
    if lag_seconds is None:
        return False
    return pattern.consistency is Consistency.EVENTUAL and pattern.staleness_seconds >= lag_seconds


def _served_by(plan: Plan, entity: str, pattern: str) -> tuple[Family, str]:
    decision = plan.entities[entity]
    for projection in decision.projections:
        if pattern in projection.patterns:
            return projection.family, projection.engine
    return decision.family, decision.engine


def _need(needs: dict[str, Need], family: Family, engine: str, capabilities: Mapping[str, Capability]) -> Need:
    """The store's need, made on first use."""
    name = store_name(family, engine)
    if name not in needs:
        needs[name] = Need(family, engine, latency_ms=capabilities[engine].typical_latency_ms)
    return needs[name]


# (entity, family, engine, role, source, size) of one entity or projection.
SizeLine = tuple[str, Family, str, str, str, EntitySize]


def entity_sizes(plan: Plan, designs: Designs, days: float) -> list[SizeLine]:
    """(entity, family, engine, role, source, size) of every entity and projection at `days`."""
    found: list[SizeLine] = []
    engines = sorted({d.engine for d in plan.entities.values() if d.family is Family.RELATIONAL})
    for engine in engines:
        sizes, source = relational(plan, designs, engine, days)
        found += [(name, Family.RELATIONAL, engine, "system of record", source, s) for name, s in sizes.items()]
    for name, decision in plan.entities.items():
        if decision.family is not Family.RELATIONAL:
            size, source = FAMILY_SIZERS[decision.family](plan, designs, name, days)
            found.append((name, decision.family, decision.engine, "system of record", source, size))
        for projection in decision.projections:
            sizer = FAMILY_SIZERS.get(projection.family)
            if sizer is None:  # a relational projection: no family model for it on its own
                continue
            size, source = sizer(plan, designs, name, days)
            found.append((name, projection.family, projection.engine, "projection", source, size))
    return found


def store_needs(
    plan: Plan,
    designs: Designs,
    days: float,
    capabilities: Mapping[str, Capability],
    sizes: Sequence[SizeLine] | None = None,
) -> dict[str, Need]:
    """Every store's need after `days` (`capabilities`: the engines' target profiles); `sizes`:
    `entity_sizes` at `days` when the caller has them already (the capacity plan reports them too)."""
    needs: dict[str, Need] = {}
    for _entity, family, engine, _role, _source, size in entity_sizes(plan, designs, days) if sizes is None else sizes:
        need = _need(needs, family, engine, capabilities)
        need.rows += size.rows
        need.data_bytes += size.data_bytes
        need.index_bytes += size.index_bytes
        need.free_bytes += size.free_bytes
    for pattern in plan.model.access_patterns:
        if pattern.entity not in plan.entities:
            continue
        family, engine = _served_by(plan, pattern.entity, pattern.name)
        need = _need(needs, family, engine, capabilities)
        rate = pattern.rate * traffic_factor(plan, pattern.entity, days)
        need.reads += rate
        node = capabilities[engine].node
        if not replica_may_serve(pattern, node.replica_lag_seconds if node else None):
            need.primary_reads += rate
    for name, decision in plan.entities.items():
        writes = write_rate(plan, name) * traffic_factor(plan, name, days)
        need = _need(needs, decision.family, decision.engine, capabilities)
        need.writes += writes * _write_copies(designs, decision.family, name)
        for projection in decision.projections:
            target = _need(needs, projection.family, projection.engine, capabilities)
            target.writes += writes
    return needs


def write_rate(plan: Plan, entity: str) -> float:
    """Peak write operations per second today: the profile's rate, with an upsert counted once
    (the profile counts it as an insert and as an update, for scoring)."""
    upserts = sum(w.rate for w in writes_of(plan.model, entity) if w.kind is WriteKind.UPSERT)
    return plan.entities[entity].profile.write_rate - upserts


def _write_copies(designs: Designs, family: Family, entity: str) -> int:
    """Rows written per entity write: one per Cassandra query table (denormalized), else one."""
    if family is not Family.WIDE_COLUMN or designs.wide_column is None:
        return 1
    found = designs.of("wide_column", entity)
    return max(1, len(found.tables)) if found is not None else 1

"""The capacity plan (pure): sizes, load, node counts, thresholds and scaling steps per store.

Each store's need (load.py) is measured against one node of its target profile (`node:`): the
first month a resource exceeds one node is its threshold, the first month it exceeds the largest
single machine (`vertical_factor` nodes) is when the store must scale out. Needs only grow with
time (growth is never negative), so each crossing is found by bisection over the months.
Relational tables also get the year they must be partitioned: when a table outgrows the node's
memory, or when its retention or archive rule first removes rows (partitions are dropped whole).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial

from polyplan.analyse.capabilities import Capability, NodeCapacity
from polyplan.capacity.estimates import Designs, relational
from polyplan.capacity.load import Need, SizeLine, entity_sizes, replica_may_serve, store_needs
from polyplan.capacity.scale import scale_out
from polyplan.capacity.spec import CapacityPlan, EntityLine, EntitySize, Step, StoreCapacity, StoreYear, Threshold
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan

RESOURCES = ("storage", "writes", "reads", "connections", "memory")


def report_years(plan: Plan, years: float | None = None) -> tuple[float, ...]:
    """The years reported: 0 (today), each whole year, and the horizon (`years` overrides it)."""
    horizon = years if years is not None else plan.model.options.horizon_years
    return tuple(sorted({0.0, *[float(y) for y in range(1, math.ceil(horizon))], float(horizon)}))


def _ratio(need: Need, node: NodeCapacity, resource: str) -> float:
    """The need as a multiple of one node's capacity."""
    if resource == "storage":  # the data and the free space its compaction needs on the same disks
        return (need.total_bytes + need.free_bytes) / node.storage_bytes
    if resource == "writes":
        return need.writes / node.writes_per_second
    if resource == "reads":  # reads a replica cannot take; the rest are spread over replicas
        return need.primary_reads / node.reads_per_second
    if resource == "connections":
        return need.connections() / node.connections if node.connections else 0.0
    if need.family is Family.CACHE and node.memory_bytes:  # memory: Redis holds its data set in RAM
        return need.total_bytes / node.memory_bytes
    return 0.0


def _nodes(need: Need, node: NodeCapacity) -> tuple[int, int]:
    """(profile-sized nodes, read replicas): nodes for the largest need, at least the replication
    factor; replicas for the reads a replica may serve beyond what the nodes serve."""
    # Every copy is stored and written: a replicated store needs its replication factor times the
    # nodes one copy takes.
    copies = max(_ratio(need, node, r) for r in ("storage", "writes", "memory")) * node.replication_factor
    ratio = max(copies, *(_ratio(need, node, r) for r in ("reads", "connections")))
    nodes = max(node.replication_factor, math.ceil(ratio - 1e-9), 1)
    replicas = 0
    if node.replica_lag_seconds is not None and node.replication_factor == 1:
        # The primary serves one node's worth of reads; replicas take the excess they may serve.
        movable = min(need.reads - need.primary_reads, max(0.0, need.reads - node.reads_per_second))
        replicas = math.ceil(movable / node.reads_per_second - 1e-9)
    return nodes, replicas


class _Timeline:
    """Store needs by month, computed once each."""

    def __init__(self, plan: Plan, designs: Designs, horizon: float, capabilities: Mapping[str, Capability]) -> None:
        self.plan = plan
        self.capabilities = capabilities
        self.designs = designs
        self.months = max(1, math.ceil(horizon * 12))
        self.horizon = horizon
        self.years: tuple[float, ...] = ()  # the reported years (set by capacity_plan)
        self._memo: dict[float, dict[str, Need]] = {}
        self._sizes: dict[float, list[SizeLine]] = {}

    def sizes(self, days: float) -> list[SizeLine]:
        """`entity_sizes` at `days`: the reported years ask for the same days as the needs."""
        if days not in self._sizes:
            self._sizes[days] = entity_sizes(self.plan, self.designs, days)
        return self._sizes[days]

    def at(self, days: float) -> dict[str, Need]:
        if days not in self._memo:
            self._memo[days] = store_needs(self.plan, self.designs, days, self.capabilities, self.sizes(days))
        return self._memo[days]

    def month_days(self, month: int) -> float:
        return min(month * 365.0 / 12.0, self.horizon * 365.0)

    def first(self, exceeds: Callable[[float], bool]) -> float | None:
        """The first point (in years, to the month) where `exceeds(days)` holds; None within the horizon."""
        if not exceeds(self.month_days(self.months)):
            return None
        low, high = 0, self.months  # exceeds(high) holds
        if exceeds(0.0):
            return 0.0
        while high - low > 1:
            middle = (low + high) // 2
            if exceeds(self.month_days(middle)):
                high = middle
            else:
                low = middle
        return round(self.month_days(high) / 365.0, 2)


_UNITS = {
    "storage": "bytes",
    "writes": "writes/s",
    "reads": "primary reads/s",
    "connections": "connections",
    "memory": "bytes",
}


def _capacity(node: NodeCapacity, resource: str) -> float:
    return {
        "storage": node.storage_bytes,
        "writes": node.writes_per_second,
        "reads": node.reads_per_second,
        "connections": node.connections or 0.0,
        "memory": node.memory_bytes or 0.0,
    }[resource]


def _figure(value: float, unit: str) -> str:
    return f"{value / 1e9:,.1f} GB" if unit == "bytes" else f"{value:,.0f} {unit}"


def _beyond(timeline: _Timeline, store: str, node: NodeCapacity, resource: str, factor: float, days: float) -> bool:
    """Whether the store's need for `resource` after `days` exceeds `factor` nodes."""
    return _ratio(timeline.at(days)[store], node, resource) > factor


def _thresholds(timeline: _Timeline, store: str, node: NodeCapacity, factor: float) -> list[Threshold]:
    """Each resource's first month beyond `factor` nodes (1: one node; vertical_factor: the largest machine)."""
    found = []
    end = timeline.at(timeline.month_days(timeline.months))[store]
    for resource in RESOURCES:
        if _capacity(node, resource) <= 0 or (resource == "memory" and end.family is not Family.CACHE):
            continue
        year = timeline.first(partial(_beyond, timeline, store, node, resource, factor))
        if year is None:
            continue
        unit = _UNITS[resource]
        need = _ratio(end, node, resource) * _capacity(node, resource)
        limit = _capacity(node, resource) * factor
        what = "one node's" if factor == 1 else f"the largest single machine's ({factor:g}× the node)"
        why = f"{_figure(need, unit)} at the horizon vs {what} {_figure(limit, unit)}"
        if resource == "reads":
            why += " (reads that must see the primary)"
        found.append(
            Threshold(store, resource if factor == 1 else f"{resource} (vertical limit)", year, need, limit, why)
        )
    return found


def _partitioning(plan: Plan, timeline: _Timeline, designs: Designs, nodes: dict[str, NodeCapacity]) -> list[Threshold]:
    """The year each relational table group must be partitioned, and why."""
    found = []
    horizon = timeline.horizon
    for name, decision in plan.entities.items():
        if decision.family is not Family.RELATIONAL:
            continue
        store = f"{decision.family.value} ({decision.engine})"
        node = nodes.get(store)
        growth = plan.model.entities[name].growth
        reasons: list[tuple[float, str, float, float]] = []  # year, why, need, capacity
        for days, rule in ((growth.retention_days, "retention"), (growth.archive_after_days, "archiving")):
            if days is not None and days / 365.0 <= horizon and growth.time_attribute:
                why = (
                    f"its {rule} rule first removes rows after {days} days: drop or detach whole partitions "
                    f"by {growth.time_attribute} instead of deleting rows"
                )
                reasons.append((round(days / 365.0, 2), why, 0.0, 0.0))  # a rule, not a size, decides
        if node is not None and node.memory_bytes:
            memory = node.memory_bytes

            def too_big(days: float, entity: str = name, engine: str = decision.engine, limit: float = memory) -> bool:
                size = relational(plan, designs, engine, days)[0].get(entity)
                return size is not None and size.total_bytes > limit

            year = timeline.first(too_big)
            if year is not None:
                end = relational(plan, designs, decision.engine, horizon * 365.0)[0][name].total_bytes
                how = (
                    f"range partitions by {growth.time_attribute} keep the recent data and its indexes cached"
                    if growth.time_attribute
                    else "hash partitions on the column its patterns name by equality keep each partition's "
                    "indexes small enough to cache"
                )
                reasons.append(
                    (year, f"the table outgrows the node's {memory / 1e9:,.0f} GB of memory: {how}", end, memory)
                )
        if reasons:
            year, why, need, limit = min(reasons)
            found.append(Threshold(store, f"partitioning {name}", year, need, limit, why))
    return found


def _primary_warning(
    plan: Plan, timeline: _Timeline, store: str, node: NodeCapacity, warn: Callable[[str, str, str], None]
) -> None:
    """PP434 when the read load needs replicas but some patterns may not read one."""
    end = timeline.at(timeline.month_days(timeline.months))[store]
    if node.replica_lag_seconds is None or node.replication_factor > 1 or end.reads <= node.reads_per_second:
        return
    pinned = [
        p
        for p in plan.model.access_patterns
        if p.entity in plan.entities
        and _store_of(plan, p.entity, p.name) == store
        and not replica_may_serve(p, node.replica_lag_seconds)
    ]
    if not pinned:
        return
    pinned.sort(key=lambda p: (-p.rate, p.name))
    named = ", ".join(
        f"{p.name} ({p.consistency.value}"
        + (f", staleness {p.staleness_seconds:g} s" if p.consistency.value == "eventual" else "")
        + f", {p.rate:,.0f}/s)"
        for p in pinned
    )
    warn(
        "PP434",
        f"{store} needs read replicas ({end.reads:,.0f} reads/s at the horizon vs {node.reads_per_second:,.0f} per "
        f"node) but {named} must read the primary (a replica lags up to {node.replica_lag_seconds:g} s): they stay "
        "on the primary; declare consistency: eventual with a staleness_seconds the lag fits where the pattern allows",
        f"access_patterns.{pinned[0].name}",
    )


def _steps(
    plan: Plan,
    designs: Designs,
    timeline: _Timeline,
    store: str,
    capability: Capability,
    warn: Callable[[str, str, str], None],
) -> tuple[list[Threshold], list[Step], int]:
    node = capability.node
    assert node is not None
    end = timeline.at(timeline.month_days(timeline.months))[store]
    one = _thresholds(timeline, store, node, 1.0)
    vertical = _thresholds(timeline, store, node, node.vertical_factor) if node.vertical_factor > 1 else []
    steps: list[Step] = []
    pool = int(min(end.connections(), node.connections or end.connections()))
    if node.connections:
        steps.append(
            Step(
                store,
                0,
                0.0,
                f"connection pool of {max(pool, 2)} per store",
                f"Little's law: {end.reads + end.writes:,.0f} operations/s × {capability.typical_latency_ms:g} ms × {2:g} headroom at the horizon"
                + (
                    "; PgBouncer in transaction mode in front of PostgreSQL"
                    if capability.engine == "postgresql"
                    else ""
                ),
            )
        )
    first_node = [t for t in one if t.resource != "reads"]
    if first_node and node.vertical_factor > 1:
        t = min(first_node, key=lambda x: (x.year or 0.0, x.resource))
        steps.append(
            Step(
                store,
                0,
                t.year,
                f"scale up: a larger node (up to {node.vertical_factor:g}× the profile's)",
                f"{t.resource}: {t.why}",
            )
        )
    nodes, replicas = _nodes(end, node)
    replicas = max(replicas, *(_nodes(timeline.at(y * 365.0)[store], node)[1] for y in timeline.years))
    if replicas:
        year = timeline.first(lambda days: timeline.at(days)[store].reads > node.reads_per_second)
        steps.append(
            Step(
                store,
                0,
                year,
                f"up to {replicas} read replica(s)",
                f"{end.reads:,.0f} reads/s at the horizon vs {node.reads_per_second:,.0f} per node; replicas serve the eventual reads whose staleness allows {node.replica_lag_seconds:g} s of lag",
            )
        )
    _primary_warning(plan, timeline, store, node, warn)
    limit_hit = vertical if node.vertical_factor > 1 else [t for t in one if not (t.resource == "reads" and replicas)]
    scale_min = node.replication_factor
    if limit_hit or (node.vertical_factor <= 1 and nodes > scale_min):
        year = min((t.year or 0.0) for t in limit_hit) if limit_hit else None
        reason = "; ".join(f"{t.resource}: {t.why}" for t in limit_hit) or f"{nodes} nodes at the horizon"
        steps.append(Step(store, 0, year, "scale out: " + scale_out(plan, designs, end, node, nodes, warn), reason))
        if capability.scales_out and nodes > capability.max_nodes:
            warn(
                "PP437",
                f"{store} needs {nodes} nodes at the horizon, more than the profile's max_nodes {capability.max_nodes}: split the data over more stores, shorten retention, or raise max_nodes after measuring",
                f"engines.{end.family.value}",
            )
    ordered = sorted(steps, key=lambda s: s.year if s.year is not None else math.inf)
    return (
        [*one, *vertical],
        [Step(s.store, i + 1, s.year, s.action, s.why) for i, s in enumerate(ordered)],
        max(pool, 2),
    )


def capacity_plan(
    plan: Plan, designs: Designs, years: float | None = None, capabilities: Mapping[str, Capability] | None = None
) -> CapacityPlan:
    """The capacity plan of `plan` to `years` (default: the model's horizon), from the store
    designs, against `capabilities` (default: the target profiles the plan was made with)."""
    reported = report_years(plan, years)
    horizon = reported[-1]
    capabilities = capabilities if capabilities is not None else plan.capabilities
    timeline = _Timeline(plan, designs, horizon, capabilities)
    timeline.years = reported
    diagnostics: list[Diagnostic] = []

    def warn(code: str, message: str, path: str) -> None:
        diagnostics.append(Diagnostic(code, message, path, Severity.WARNING))

    lines: dict[tuple[str, str, str], list[EntitySize]] = {}
    sources: dict[tuple[str, str, str], str] = {}
    for year in reported:
        for entity, family, engine, role, source, size in timeline.sizes(year * 365.0):
            key = (entity, f"{family.value} ({engine})", role)
            lines.setdefault(key, []).append(size)
            sources[key] = source
    entities = tuple(EntityLine(e, s, r, sources[(e, s, r)], tuple(v)) for (e, s, r), v in lines.items())
    at_horizon = timeline.at(horizon * 365.0)
    stores: list[StoreCapacity] = []
    nodes: dict[str, NodeCapacity] = {}
    for store in sorted(at_horizon):
        need = at_horizon[store]
        capability = capabilities[need.engine]
        node = capability.node
        if node is None:
            warn(
                "PP436",
                f"the {need.engine} target profile has no node: section, so {store}'s node count and thresholds are not judged",
                f"engines.{need.family.value}",
            )
            continue
        nodes[store] = node
        thresholds, steps, pool = _steps(plan, designs, timeline, store, capability, warn)
        per_year = []
        for year in reported:
            now = timeline.at(year * 365.0)[store]
            count, replicas = _nodes(now, node)
            per_year.append(
                StoreYear(
                    year,
                    now.rows,
                    now.data_bytes,
                    now.index_bytes,
                    now.total_bytes * node.replication_factor,
                    now.free_bytes * node.replication_factor,
                    now.reads,
                    now.writes * node.replication_factor,
                    now.connections(),
                    count,
                    replicas,
                )
            )
        patterns = [p for p in plan.model.access_patterns if p.entity in plan.entities]
        served = [p for p in patterns if _store_of(plan, p.entity, p.name) == store]
        if node.replica_lag_seconds is None or node.replication_factor > 1:
            served = []  # no primary/replica split: every copy serves reads (Cassandra, search)
        replica = tuple(p.name for p in served if replica_may_serve(p, node.replica_lag_seconds))
        primary = tuple(p.name for p in served if p.name not in replica)
        stores.append(
            StoreCapacity(
                store,
                need.family.value,
                need.engine,
                tuple(per_year),
                tuple(thresholds),
                tuple(steps),
                pool,
                replica,
                primary,
            )
        )
    partitioning = _partitioning(plan, timeline, designs, nodes)
    return CapacityPlan(plan.model.name, reported, entities, tuple(stores), tuple(partitioning), tuple(diagnostics))


def _store_of(plan: Plan, entity: str, pattern: str) -> str:
    decision = plan.entities[entity]
    for projection in decision.projections:
        if pattern in projection.patterns:
            return f"{projection.family.value} ({projection.engine})"
    return f"{decision.family.value} ({decision.engine})"

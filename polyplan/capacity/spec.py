"""The capacity plan as data: sizes per entity and store over time, load, node counts,
thresholds and the scaling steps (what `polyplan capacity`, capacity.md and plan.json show)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.diagnostics import Diagnostic


@dataclass(frozen=True)
class EntitySize:
    """One entity's rows and bytes in one store at one point in time."""

    rows: float
    data_bytes: float
    index_bytes: float
    free_bytes: float = 0.0  # disk kept free beside them (Cassandra's compaction headroom), not stored data

    @property
    def total_bytes(self) -> float:
        return self.data_bytes + self.index_bytes


@dataclass(frozen=True)
class EntityLine:
    """One entity (or link/child table group) in one store, at each reported year."""

    entity: str
    store: str
    role: str  # "system of record" or "projection"
    source: str  # which estimate sized it (the store's own model, or payload only)
    sizes: tuple[EntitySize, ...]


@dataclass(frozen=True)
class StoreYear:
    """One store's need at one point in time, and the baseline nodes it takes."""

    year: float
    rows: float
    data_bytes: float
    index_bytes: float
    stored_bytes: float  # total bytes times the store's replication factor
    free_bytes: float  # disk compaction needs free beside the stored bytes (every copy), Cassandra
    reads: float  # peak reads per second
    writes: float  # peak writes per second (each copy written counts)
    connections: float  # connections in use at peak (Little's law, with headroom)
    nodes: int  # profile-sized nodes needed (before replicas for reads)
    read_replicas: int


@dataclass(frozen=True)
class Threshold:
    """When one node's capacity (or the largest single machine's) is first exceeded, and why."""

    store: str
    resource: str  # storage, writes, reads, connections, memory, partitioning
    year: float | None  # first point in time it is exceeded; None: not within the horizon
    need: float  # at the horizon (partitioning: the table's bytes when memory decides, else 0)
    capacity: float
    why: str


@dataclass(frozen=True)
class Step:
    """One step of a store's scaling path, in the order to take them."""

    store: str
    order: int
    year: float | None
    action: str
    why: str


@dataclass(frozen=True)
class StoreCapacity:
    """Everything the capacity plan says about one store."""

    store: str
    family: str
    engine: str
    years: tuple[StoreYear, ...]
    thresholds: tuple[Threshold, ...]
    steps: tuple[Step, ...]
    pool_size: int
    replica_patterns: tuple[str, ...]  # reads a replica may serve (eventual, staleness above the lag)
    primary_patterns: tuple[str, ...]  # reads that must go to the primary


@dataclass(frozen=True)
class CapacityPlan:
    """The capacity plan of one model."""

    model: str
    years: tuple[float, ...]
    entities: tuple[EntityLine, ...]
    stores: tuple[StoreCapacity, ...]
    partitioning: tuple[Threshold, ...]
    diagnostics: tuple[Diagnostic, ...]

    def store(self, name: str) -> StoreCapacity:
        """The store called `name` (`family (engine)`)."""
        return next(s for s in self.stores if s.store == name)

    def as_data(self) -> dict[str, Any]:
        """Plain data (plan.json's `capacity`, `polyplan capacity --json`); numbers rounded so the
        text does not change with the last bits of a float."""
        return {
            "years": list(self.years),
            "entities": [
                {
                    "entity": line.entity,
                    "store": line.store,
                    "role": line.role,
                    "source": line.source,
                    "years": [
                        {
                            "rows": _round(s.rows),
                            "data_bytes": _round(s.data_bytes),
                            "index_bytes": _round(s.index_bytes),
                            "total_bytes": _round(s.total_bytes),
                        }
                        for s in line.sizes
                    ],
                }
                for line in self.entities
            ],
            "stores": [_store_data(store) for store in self.stores],
            "partitioning": [_threshold_data(t) for t in self.partitioning],
        }


def _round(value: float) -> float | int:
    """Whole numbers for big figures, three significant decimals for small ones."""
    return round(value) if abs(value) >= 100 else round(value, 3)


def _threshold_data(threshold: Threshold) -> dict[str, Any]:
    return {
        "store": threshold.store,
        "resource": threshold.resource,
        "year": threshold.year,
        "need": _round(threshold.need),
        "capacity": _round(threshold.capacity),
        "why": threshold.why,
    }


def _store_data(store: StoreCapacity) -> dict[str, Any]:
    return {
        "store": store.store,
        "family": store.family,
        "engine": store.engine,
        "years": [
            {
                "year": y.year,
                "rows": _round(y.rows),
                "data_bytes": _round(y.data_bytes),
                "index_bytes": _round(y.index_bytes),
                "stored_bytes": _round(y.stored_bytes),
                "free_bytes": _round(y.free_bytes),
                "reads_per_second": _round(y.reads),
                "writes_per_second": _round(y.writes),
                "connections": _round(y.connections),
                "nodes": y.nodes,
                "read_replicas": y.read_replicas,
            }
            for y in store.years
        ],
        "thresholds": [_threshold_data(t) for t in store.thresholds],
        "steps": [{"order": s.order, "year": s.year, "action": s.action, "why": s.why} for s in store.steps],
        "pool_size": store.pool_size,
        "replica_patterns": list(store.replica_patterns),
        "primary_patterns": list(store.primary_patterns),
    }

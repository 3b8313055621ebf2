"""Capability profiles of store engines, read from `targets/*.yaml` (editable data)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from polyplan.model.schema import Family

BUNDLED_TARGETS = Path(__file__).resolve().parent.parent / "targets"


class NodeCapacity(BaseModel):
    """One node's capacity (the profile's `node:` section): what `polyplan capacity` measures each
    store's need against. Every figure is an assumption the profile's comments explain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage_bytes: float
    writes_per_second: float
    reads_per_second: float
    connections: float | None = None  # None: the engine's clients multiplex, connections do not bind
    memory_bytes: float | None = None
    vertical_factor: float = 1.0  # the largest single machine, as a multiple of this node
    replication_factor: int = 1  # copies of every byte the store keeps (Cassandra, search)
    replica_lag_seconds: float | None = None  # None: the engine has no read replicas


class Capability(BaseModel):
    """What one engine is good at, as numbers the scorer weighs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str
    family: Family
    title: str
    transactions: Literal["multi_entity", "single_record", "none"]
    durable: bool
    scales_out: bool
    max_nodes: int
    write_rows_per_second_per_node: float
    comfortable_bytes_per_node: float
    typical_latency_ms: float
    schema_flexibility: float
    referential_integrity: float
    query_shapes: dict[str, float]
    consistency: dict[str, float]
    lifecycle: dict[str, float]
    features: frozenset[str]
    # Storage constants of the engine's sizing model (polyplan.stores.relational.sizing); the
    # profile's comments say where each comes from.
    sizing: dict[str, float] = {}
    node: NodeCapacity | None = None

    def has(self, feature: str) -> bool:
        """Whether the emitter may use `feature` on this engine."""
        return feature in self.features

    @property
    def write_capacity(self) -> float:
        """Rows per second the engine absorbs comfortably at its largest sensible size."""
        return self.write_rows_per_second_per_node * (self.max_nodes if self.scales_out else 1)

    @property
    def storage_capacity(self) -> float:
        """Bytes the engine holds comfortably at its largest sensible size."""
        return self.comfortable_bytes_per_node * (self.max_nodes if self.scales_out else 1)


@cache
def load_capabilities(directory: Path = BUNDLED_TARGETS) -> dict[str, Capability]:
    """Engine name → capability, from every YAML file in `directory`."""
    found: dict[str, Capability] = {}
    for file in sorted(directory.glob("*.yaml")):
        capability = Capability.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
        found[capability.engine] = capability
    return found

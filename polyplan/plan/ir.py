"""The plan: which store holds each entity, what it projects to, and why.

Produced by `polyplan.plan.assign.build_plan`, consumed by every store target and emitter.
Pure data; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from polyplan.analyse.capabilities import Capability
from polyplan.analyse.profile import EntityProfile
from polyplan.diagnostics import Diagnostic
from polyplan.model.loader import LoadedModel
from polyplan.model.schema import Family, RequirementsModel
from polyplan.plan.related_reads import RelatedRead


@dataclass(frozen=True)
class FactorScore:
    """One factor of a family's score for an entity: 0 (poor) … 1 (ideal), with its weight."""

    factor: str
    score: float
    weight: float
    reason: str


@dataclass(frozen=True)
class FamilyScore:
    """How well a family fits an entity. `blockers` are hard constraints that rule it out."""

    family: Family
    engine: str | None
    total: float
    factors: tuple[FactorScore, ...]
    blockers: tuple[str, ...] = ()

    @property
    def eligible(self) -> bool:
        return not self.blockers


class SyncMechanism(StrEnum):
    """How a projection is kept in step with its system of record."""

    OUTBOX_CDC = "outbox_cdc"
    CACHE_ASIDE_INVALIDATE = "cache_aside_invalidate"
    WRITE_THROUGH = "write_through"


@dataclass(frozen=True)
class Projection:
    """A derived copy of an entity in another store, serving some patterns."""

    family: Family
    engine: str
    patterns: tuple[str, ...]
    sync: SyncMechanism
    reason: str


@dataclass(frozen=True)
class EntityPlan:
    """The decision for one entity."""

    name: str
    family: Family
    engine: str
    scores: tuple[FamilyScore, ...]
    projections: tuple[Projection, ...]
    reasons: tuple[str, ...]
    runner_up: Family | None
    runner_up_reason: str
    profile: EntityProfile
    forced: bool = False

    def score_of(self, family: Family) -> FamilyScore:
        """The score this entity got for `family`."""
        return next(score for score in self.scores if score.family is family)


@dataclass(frozen=True)
class Plan:
    """The whole assignment, plus the loaded model it came from and the target profiles it was
    planned against (`capabilities`: engine → profile, the bundled ones overlaid by the user's),
    which every later stage (sizing, capacity, sharding, expiry) reads instead of the bundled files."""

    loaded: LoadedModel
    entities: dict[str, EntityPlan]
    capabilities: Mapping[str, Capability]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # Related fields read (`reads: [item.title]`): joined, copied or cached, and why (related_reads.py).
    related_reads: tuple[RelatedRead, ...] = field(default=())

    @property
    def model(self) -> RequirementsModel:
        return self.loaded.model

    def capability(self, engine: str) -> Capability | None:
        """The target profile of `engine`, or None when no profile names it."""
        return self.capabilities.get(engine)

    def sizing(self, engine: str) -> Mapping[str, float]:
        """The storage constants (`sizing:`) of `engine`'s profile; KeyError when it has no profile."""
        return self.capabilities[engine].sizing

    def records_in(self, family: Family) -> list[str]:
        """Entities whose system of record is in `family`, in model order."""
        return list(self._by_family[0].get(family, ()))

    def projections_in(self, family: Family) -> list[tuple[str, Projection]]:
        """(entity, projection) pairs that project into `family`, in model order."""
        return list(self._by_family[1].get(family, ()))

    @cached_property
    def _by_family(self) -> tuple[dict[Family, list[str]], dict[Family, list[tuple[str, Projection]]]]:
        # Built once: targets ask per entity (the wide-column design asked for every entity's
        # search projections), which made a scan of every entity per entity.
        records: dict[Family, list[str]] = {}
        projections: dict[Family, list[tuple[str, Projection]]] = {}
        for name, entity in self.entities.items():
            records.setdefault(entity.family, []).append(name)
            for projection in entity.projections:
                projections.setdefault(projection.family, []).append((name, projection))
        return records, projections

    def families_used(self) -> list[Family]:
        """Families that hold a record or a projection, in the enum's order."""
        used = {entity.family for entity in self.entities.values()}
        used |= {p.family for entity in self.entities.values() for p in entity.projections}
        return [family for family in Family if family in used]

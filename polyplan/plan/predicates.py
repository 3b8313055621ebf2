"""Write predicates as the stores see them: which rows an update or delete writes, and how it locks.

One place reads `where:` and `lock:` from the model; every store's design asks here. A predicate
is the same filter language as a read's, so a store designs for it as for a read that selects
the rows' keys (`as_read`): the relational index design gives it an index when its rate warrants
one, and the generated tests judge the write's rows by the same oracle as a read's.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import key_of, writes_of
from polyplan.model.schema import (
    AccessPattern,
    Family,
    Filter,
    FilterOp,
    Lock,
    RequirementsModel,
    WriteKind,
    WritePattern,
)
from polyplan.plan.ir import Plan


@dataclass(frozen=True)
class WritePredicate:
    """One update or delete write pattern with a `where`: the rows it writes and what it sets."""

    write: str
    entity: str
    kind: WriteKind
    filters: tuple[Filter, ...]
    attributes: tuple[str, ...]  # what an update sets (empty for a delete)
    rate: float
    lock: Lock | None

    @property
    def locks(self) -> bool:
        """The rows are read and locked (SELECT … FOR UPDATE) before they are written."""
        return self.lock is Lock.FOR_UPDATE

    def as_read(self, model: RequirementsModel) -> AccessPattern:
        """The read that selects the same rows (their keys): what a store must find to write them."""
        key = list(key_of(model.entities[self.entity]).attributes)
        return AccessPattern(name=self.write, entity=self.entity, filters=list(self.filters), reads=key, rate=self.rate)

    def equalities(self) -> tuple[str, ...]:
        """The attributes the predicate fixes to one value (a parameter or a constant)."""
        return tuple(f.attribute for f in self.filters if f.op is FilterOp.EQ)


def _predicate(write: WritePattern) -> WritePredicate:
    setting = tuple(write.attributes) if write.kind is WriteKind.UPDATE else ()
    return WritePredicate(write.name, write.entity, write.kind, tuple(write.where), setting, write.rate, write.lock)


def predicates_of(model: RequirementsModel, entity: str) -> list[WritePredicate]:
    """The update and delete write patterns of `entity` that state a `where`, in model order."""
    return [
        _predicate(w) for w in writes_of(model, entity) if w.where and w.kind in (WriteKind.UPDATE, WriteKind.DELETE)
    ]


def all_predicates(model: RequirementsModel) -> list[WritePredicate]:
    """Every write predicate of the model, in model order."""
    return [_predicate(w) for w in model.write_patterns if w.where and w.kind in (WriteKind.UPDATE, WriteKind.DELETE)]


def locked_writes(model: RequirementsModel) -> list[WritePattern]:
    """Update write patterns that ask for `lock: for_update` (with or without a predicate)."""
    return [w for w in model.write_patterns if w.kind is WriteKind.UPDATE and w.lock is Lock.FOR_UPDATE]


def keyed_store_warnings(plan: Plan, family: Family, consequence: str) -> list[Diagnostic]:
    """PP414 for each write predicate on an entity `family` holds (as its system of record or a
    projection) when that store addresses records only by key: `consequence` says what follows."""
    positions = {w.name: i for i, w in enumerate(plan.model.write_patterns)}
    found: list[Diagnostic] = []
    for predicate in all_predicates(plan.model):
        decided = plan.entities.get(predicate.entity)
        if decided is None:
            continue
        if decided.family is not family and not any(p.family is family for p in decided.projections):
            continue
        found.append(
            Diagnostic(
                "PP414",
                f"{predicate.write}: the {family.value} store finds {predicate.entity} only by key, not by the "
                f"predicate; {consequence}",
                f"write_patterns.{positions[predicate.write]}.where",
                Severity.WARNING,
            )
        )
    return found


def lock_warnings(model: RequirementsModel, stored: set[str], why: str) -> list[Diagnostic]:
    """PP415 for each `lock: for_update` on an entity in `stored`, a store without row locks;
    `why` names the store and its substitute."""
    positions = {w.name: i for i, w in enumerate(model.write_patterns)}
    return [
        Diagnostic("PP415", f"{w.name}: {why}", f"write_patterns.{positions[w.name]}.lock", Severity.WARNING)
        for w in locked_writes(model)
        if w.entity in stored
    ]

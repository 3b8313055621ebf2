"""When a MongoDB read can join a related field with `$lookup` instead of copying it (issue 12).

A document store joins at read time with an aggregation's `$lookup` stage: for each document the
pattern returns, one probe of the parent collection's `_id` index per hop. The planner offers it
as the join candidate of plan/related_reads.py (costed like a relational join: `rate × rows ×
hops` probes a second) only where the emitted pipeline is sure to find the parent:

- every entity on the path is a MongoDB record of the same database (not another store, not a
  projection), and
- each hop goes from a child to its parent along a single-attribute reference to the parent's
  single-attribute key, which the document design stores as `_id`. A parent with children hanging
  off it is never embedded (stores/document/design.py), so it is a collection of its own and the
  `_id` index serves the probe. A composite reference (`$lookup` with `localField`/`foreignField`
  takes one field) or a hop from a parent to its one-to-one child (which may be embedded) keeps
  the copy as the only candidate, and PP470 says so.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from polyplan.model.derived import key_of
from polyplan.model.paths import Path
from polyplan.model.schema import Family, RequirementsModel


class _Placed(Protocol):
    """What is read of plan.ir.EntityPlan."""

    @property
    def family(self) -> Family: ...
    @property
    def engine(self) -> str: ...


def lookup_blocked(model: RequirementsModel, placed: Mapping[str, _Placed], engine: str, path: Path) -> str | None:
    """Why the document store (`engine`) cannot `$lookup` along `path`, or None when it can."""
    for hop in path.hops:
        other = placed.get(hop.target)
        if other is None or other.family is not Family.DOCUMENT or other.engine != engine:
            return f"{hop.target} is not a {engine} collection, so $lookup cannot reach it"
        relationship = next(r for r in model.relationships if r.name == hop.relationship)
        if hop.source != relationship.to:
            return f"{hop.source} → {hop.target} goes from a parent to its one-to-one child, which may be embedded"
        key = key_of(model.entities[hop.target]).attributes
        if len(hop.pairs) != 1 or len(key) != 1:
            return f"the reference {hop.source} → {hop.target} is composite ($lookup joins on one field)"
    return None

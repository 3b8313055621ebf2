"""Increment write patterns as the stores see them: which counters of which entity move by how much.

One place reads `kind: increment` from the model; every store's design asks here, so relational
`x = x + :delta`, MongoDB `$inc`, Redis `HINCRBY`/`INCRBY` and Cassandra counter tables all agree
on the counters and the step.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.model.derived import all_attributes, writes_of
from polyplan.model.schema import Attribute, RequirementsModel, TypeName, WriteKind

DEFAULT_STEP = 1.0


@dataclass(frozen=True)
class Increment:
    """One increment write pattern: `attributes` of `entity` each grow by `step` per execution."""

    write: str
    entity: str
    attributes: tuple[str, ...]
    step: float
    rate: float

    @property
    def whole(self) -> bool:
        """The step is a whole number (integer counters, Cassandra counters, Redis INCRBY)."""
        return self.step == int(self.step)

    def step_literal(self) -> int | float:
        """The step as the literal a statement carries: 3, not 3.0."""
        return int(self.step) if self.whole else self.step


def increments_of(model: RequirementsModel, entity: str) -> list[Increment]:
    """The increment write patterns of `entity`, in model order."""
    return [
        Increment(w.name, w.entity, tuple(w.attributes), DEFAULT_STEP if w.step is None else w.step, w.rate)
        for w in writes_of(model, entity)
        if w.kind is WriteKind.INCREMENT
    ]


def counters_of(model: RequirementsModel, entity: str) -> dict[str, Attribute]:
    """Every attribute of `entity` that some increment adds to → its attribute, in entity order."""
    named = {a for inc in increments_of(model, entity) for a in inc.attributes}
    return {name: attribute for name, attribute in all_attributes(model, entity).items() if name in named}


def integral(attribute: Attribute) -> bool:
    """Whether a counter holds whole numbers only (a 64-bit counter can hold it)."""
    return attribute.type is TypeName.INTEGER or (attribute.type is TypeName.DECIMAL and not attribute.scale)

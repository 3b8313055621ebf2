"""Index decisions that hinge on a guessed distinct count (PP420; pure: no I/O).

When nothing in the model bounds an attribute's distinct values (no `distinct`, no reference,
no key, enum or bounds: see cardinality.py), the index design assumes a count. Whether a
pattern gets an index can flip on that number: an assumed 1,000 warehouses make every
(warehouse, district) pair nearly unique, so the primary key seems to serve a lookup that in
fact reads thousands of rows. This module re-plans a table with each guessed count moved to the
ends of its plausible range and reports the guesses that change how a pattern is served.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import RequirementsModel
from polyplan.stores.relational.cardinality import Cardinalities
from polyplan.stores.relational.spec import TableSpec

# The plausible range of a guessed count: a hundredth of it to a hundred times it (bounded by
# 2 and by the table's rows). The default guess of 1,000 thus spans 10 … 100,000 values.
GUESS_SPREAD = 100.0
MAX_PROBED = 8  # guessed columns probed per table, in the order the patterns name them

# Re-plans the table with some counts replaced; returns pattern → how it is served.
Replan = Callable[[Mapping[tuple[str, str], float]], dict[str, str]]


def guess_diagnostics(
    model: RequirementsModel,
    table: TableSpec,
    columns: list[str],
    rows: float,
    card: Cardinalities,
    replan: Replan,
) -> list[Diagnostic]:
    """PP420 for each guessed column among `columns` (the equality columns of the table's
    patterns) whose plausible range changes how a pattern is served."""
    guessed = card.guessed(table.name, columns)[:MAX_PROBED]
    if not guessed:
        return []
    nominal = replan({})
    found: list[Diagnostic] = []
    for column in guessed:
        assumed = card.column(table.name, column).value
        low = max(2.0, assumed / GUESS_SPREAD)
        high = max(low, min(rows, assumed * GUESS_SPREAD))
        flipped: dict[str, str] = {}
        for probe in (low, high):
            if probe == assumed:
                continue
            trial = replan({(table.name, column): probe})
            for pattern, how in sorted(trial.items()):
                if nominal.get(pattern) != how:
                    flipped.setdefault(pattern, f"{nominal.get(pattern)} at {assumed:,.0f}, {how} at {probe:,.0f}")
        if flipped:
            found.append(_diagnostic(model, table, column, assumed, low, high, flipped))
    return found


def _diagnostic(
    model: RequirementsModel,
    table: TableSpec,
    column: str,
    assumed: float,
    low: float,
    high: float,
    flipped: dict[str, str],
) -> Diagnostic:
    spec = table.column(column)
    entity, _, attribute = spec.source.partition(".")
    declared = entity in model.entities and attribute in model.entities[entity].attributes
    path = f"entities.{entity}.attributes.{attribute}" if declared else f"entities.{entity}"
    settle = f"declare `distinct` on {entity}.{attribute}"
    if not any(column in fk.columns for fk in table.foreign_keys):
        settle += ", or a relationship that refers through it (its parent's rows bound it)"
    how = "; ".join(f"{pattern}: {change}" for pattern, change in sorted(flipped.items()))
    return Diagnostic(
        "PP420",
        f"{entity}.{attribute}: the index plan of {table.name} assumes {assumed:,.0f} distinct values, and how "
        f"patterns are served changes between {low:,.0f} and {high:,.0f} ({how}); {settle}",
        path,
        Severity.WARNING,
    )


__all__ = ["GUESS_SPREAD", "Replan", "guess_diagnostics"]

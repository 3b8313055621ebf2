"""Range filters: the two-sided `range` and the one-sided `gt`, `ge`, `lt`, `le` (issue 12).

A one-sided range (`end_date >= ?`, no upper bound) is an ordered predicate like `range`: every
store indexes it the same way (the column after the equalities, or a clustering column), but it
binds one parameter and its comparison is the one the model names. The parameter kinds are the
relational oracle's: `from` (>=), `above` (>), `to` (<), `through` (<=).
"""

from __future__ import annotations

from polyplan.model.schema import FilterOp

# One-sided op → (parameter kind, SQL/CQL comparison).
ONE_SIDED: dict[FilterOp, tuple[str, str]] = {
    FilterOp.GE: ("from", ">="),
    FilterOp.GT: ("above", ">"),
    FilterOp.LT: ("to", "<"),
    FilterOp.LE: ("through", "<="),
}
RANGE_OPS = frozenset({FilterOp.RANGE, *ONE_SIDED})
# Parameter kind → comparison, for every bound a query can carry.
COMPARISONS = {kind: symbol for kind, symbol in ONE_SIDED.values()}
LOWER = frozenset({"from", "above"})
UPPER = frozenset({"to", "through"})
# The share of rows an open-ended inequality is assumed to keep without statistics (System R).
ONE_SIDED_SELECTIVITY = 1 / 3


def is_range(op: FilterOp) -> bool:
    """Whether `op` bounds an ordered attribute (two-sided or one-sided)."""
    return op in RANGE_OPS

"""The oracle of aggregating patterns: groups and values computed in Python from the rows the
pattern's filters select, and the comparison with what an engine returned.

Values are compared as numbers where the function makes one (count exactly, sum and avg within
rounding: engines return decimals, floats or integers for the same sum), and as the attribute's
canonical value for min and max.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from polyplan.model.schema import AggregateFunction, Attribute
from polyplan.validate.oracle import canon

VALUE = "__value__"  # the aggregate's key in a result row (no column is called so)


def _number(value: Any) -> float:
    return float(Decimal(str(value))) if not isinstance(value, float) else value


def _measure(function: AggregateFunction, values: list[Any], rows: int) -> Any:
    present = [v for v in values if v is not None]
    if function is AggregateFunction.COUNT:
        return rows if not values else len(present)
    if function is AggregateFunction.COUNT_DISTINCT:
        return len(set(present))
    if not present:
        return None  # SQL: sum/avg/min/max of no value is NULL
    if function is AggregateFunction.SUM:
        return sum(_number(v) for v in present)
    if function is AggregateFunction.AVG:
        return sum(_number(v) for v in present) / len(present)
    return min(present) if function is AggregateFunction.MIN else max(present)


def aggregate_rows(
    rows: Sequence[dict[str, Any]], groups: Sequence[str], measured: str | None, function: AggregateFunction
) -> list[dict[str, Any]]:
    """One row per distinct group (in first-seen order) with its aggregate under VALUE. With no
    groups, one row even over no rows (as SQL's aggregate without GROUP BY returns)."""
    found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(tuple(row[g] for g in groups), []).append(row)
    if not groups and not found:
        found[()] = []
    return [
        {
            **dict(zip(groups, key, strict=True)),
            VALUE: _measure(function, [r[measured] for r in members] if measured else [], len(members)),
        }
        for key, members in found.items()
    ]


# MySQL/MariaDB divide with div_precision_increment (4) more decimals than the operand: AVG of an
# integer 40/3 is 13.3333, so an average is right when it agrees to within half that last digit.
AVG_TOLERANCE = 5e-5


def _same(want: Any, got: Any, attribute: Attribute | None, function: AggregateFunction) -> bool:
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        slack = AVG_TOLERANCE if function is AggregateFunction.AVG else 1e-9
        return math.isclose(_number(want), _number(got), rel_tol=1e-9, abs_tol=slack)
    return bool(want == (canon(attribute, got) if attribute is not None else got))


def compare_aggregates(
    want: list[dict[str, Any]],
    got: list[dict[str, Any]],
    groups: Sequence[str],
    ordered: bool,
    attribute: Attribute | None,
    function: AggregateFunction,
) -> str | None:
    """What differs between the expected and the returned groups, or None."""

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[g] for g in groups)

    if ordered and [key(r) for r in want] != [key(r) for r in got]:
        return f"groups in order {[key(r) for r in got]}, expected {[key(r) for r in want]}"
    expected = {key(r): r[VALUE] for r in want}
    returned = {key(r): r[VALUE] for r in got}
    if set(expected) != set(returned) or len(got) != len(returned):
        return f"{len(got)} groups {sorted(map(repr, returned))}, expected {len(want)} {sorted(map(repr, expected))}"
    wrong = [g for g in expected if not _same(expected[g], returned[g], attribute, function)]
    if wrong:
        return "; ".join(f"group {g!r}: {returned[g]!r}, expected {expected[g]!r}" for g in wrong[:3])
    return None

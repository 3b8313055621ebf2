"""How many values an attribute's type allows, and the distinct count the estimates take.

A declared `distinct` beyond what the type can hold (an enum of one value declared with 10^12
distinct values: fuzz model 604) cannot be true; every store's estimates count the type's values
instead (`effective_distinct`) and the plan says so with PP480 (`polyplan.plan.distinct`).
"""

from __future__ import annotations

import math
from decimal import Decimal

from polyplan.model.schema import Attribute, TypeName


def attribute_domain(attribute: Attribute) -> int | None:
    """How many non-null values the attribute's type allows when the model bounds them (a
    boolean, an enum, an integer with a min and a max, a decimal with a precision); None when
    unbounded."""
    if attribute.type is TypeName.BOOLEAN:
        return 2
    if attribute.type is TypeName.ENUM and attribute.values:
        return len(set(attribute.values))
    if attribute.type is TypeName.INTEGER and attribute.min is not None and attribute.max is not None:
        return max(0, math.floor(attribute.max) - math.ceil(attribute.min) + 1)
    if attribute.type is TypeName.DECIMAL and attribute.precision is not None:
        return _decimal_values(attribute.precision, attribute.scale or 0, attribute.min, attribute.max)
    return None


def effective_distinct(attribute: Attribute) -> int | None:
    """The declared `distinct`, at most the values the type allows (at least 1); None when not declared."""
    if attribute.distinct is None:
        return None
    domain = attribute_domain(attribute)
    return attribute.distinct if domain is None else max(1, min(attribute.distinct, domain))


def _decimal_values(precision: int, scale: int, low: float | None, high: float | None) -> int:
    """How many DECIMAL(precision, scale) values lie within `low`..`high` (the type's own range
    where not given): fuzz model 770's natural key DECIMAL(1, 1) holds 19 values, -0.9 to 0.9."""
    step = Decimal(1).scaleb(-scale)
    top = Decimal(10) ** (precision - scale) - step
    lowest = -top if low is None else max(-top, Decimal(str(low)))
    highest = top if high is None else min(top, Decimal(str(high)))
    return max(0, math.floor(highest / step) - math.ceil(lowest / step) + 1)

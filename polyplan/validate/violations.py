"""Rows that break exactly one constraint, for the generated constraint tests (pure).

`breaking_value` answers "which value makes this column break this rule while it still fits
the column's type" (None when no such value exists, e.g. `max` equal to the type's own bound);
`rule_violations` evaluates NOT NULL and CHECK rules in Python so a test can make sure its
violating row breaks the rule under test and no other one; `error_names` says whether a
driver's error message names that constraint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from polyplan.model.checks import decimal_limit, integer_range
from polyplan.model.schema import Attribute, CompareOp, TypeName
from polyplan.seed.generate import check_holds
from polyplan.stores.relational.render import Constraint

ORDERED_CHECK_TYPES = frozenset(
    {TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT, TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ}
)
_PATTERN_BREAKERS = ("!", "~", "#", "?", " ", "!!", "", "-")


def _fits(attribute: Attribute, value: Any) -> bool:
    kind = attribute.type
    if kind is TypeName.INTEGER:
        limit = 2 ** (attribute.bits - 1)
        return bool(-limit <= value < limit)
    if kind is TypeName.DECIMAL:
        digits = (attribute.precision or 18) - (attribute.scale or 0)
        return bool(abs(value) < Decimal(10) ** digits)
    return True


def _step(attribute: Attribute) -> Any:
    kind = attribute.type
    if kind is TypeName.INTEGER:
        return 1
    if kind is TypeName.DECIMAL:
        return Decimal(1).scaleb(-(attribute.scale or 0))
    if kind is TypeName.FLOAT:
        return 1.0
    if kind in (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return timedelta(days=1)
    raise ValueError(f"no step for {kind.value}")


def _number(attribute: Attribute, value: float) -> Any:
    if attribute.type is TypeName.INTEGER:
        return int(value)
    if attribute.type is TypeName.DECIMAL:
        return Decimal(str(value))
    return float(value)


def breaking_value(constraint: Constraint, attribute: Attribute) -> tuple[bool, Any]:
    """(found, value) that breaks a single-column CHECK and still fits the column's type."""
    rule, bound = constraint.rule, constraint.value
    if rule in ("min", "max"):
        edge = _number(attribute, bound)
        value = edge - _step(attribute) if rule == "min" else edge + _step(attribute)
        return (_fits(attribute, value), value)
    if rule == "enum":
        width = max(len(v) for v in bound)
        for candidate in ("~" * width, "#" * width, "zz"[:width]):
            if candidate not in bound:
                return True, candidate
        return False, None
    if rule == "pattern":
        limit = attribute.max_length
        for candidate in _PATTERN_BREAKERS:
            if (limit is None or len(candidate) <= limit) and re.search(bound, candidate) is None:
                return True, candidate
        return False, None
    if rule == "length":
        return True, "x" * (int(bound) + 1)
    return False, None


def feasible(
    constraint: Constraint, attributes: dict[str, Attribute], rules: Sequence[Constraint] = (), engine: str = ""
) -> str | None:
    """None when a test can build a row breaking `constraint`; otherwise why it cannot.

    `rules` are the table's constraints: a unique rule over columns that another key or unique
    rule already covers in part (unique (a, b) when a is unique) cannot be broken alone.
    """
    if constraint.kind == "not_null" and engine == "sqlite" and _rowid_alias(constraint.columns, attributes, rules):
        return "SQLite fills a NULL INTEGER PRIMARY KEY with a new rowid instead of refusing it"
    if constraint.kind == "not_null" and constraint.rule == "generated" and engine in ("mysql", "sqlite"):
        return "the database numbers this key: a NULL gets the next AUTO_INCREMENT value or rowid instead of an error"
    if constraint.kind in ("unique", "primary_key"):
        for other in rules:
            if other is constraint or other.kind not in ("unique", "primary_key"):
                continue
            rest = set(other.columns) - set(constraint.columns)
            if set(other.columns) < set(constraint.columns) or (
                rest and all(_single_valued(attributes[c]) for c in rest)
            ):
                return f"implied by {other.name}: a row repeating it repeats ({', '.join(other.columns)}) too"
        return None
    if constraint.kind != "check":
        return None
    if constraint.rule == "entity":
        for column in constraint.columns:
            if attributes[column].type not in ORDERED_CHECK_TYPES:
                return f"{column} is a {attributes[column].type.value}; only numbers and dates get a violation case"
        return _held_by_bounds(constraint, attributes)
    found, value = breaking_value(constraint, attributes[constraint.columns[0]])
    if not found:
        return "no value of the column's type breaks it (the type already enforces the rule)"
    if constraint.rule in ("min", "max"):
        implied = _implied_by(constraint, value, attributes, rules)
        if implied is not None:
            return implied
    return None


def _single_valued(attribute: Attribute) -> bool:
    """Whether every row holds the same value in this column: NOT NULL and an enum of one value
    (fuzz model 1136: the primary key (a3, a5) beside the unique (a4, a5), a4 an enum of one
    value; a row repeating (a3, a5) repeats (a4, a5) too, so no row breaks the key alone)."""
    return not attribute.nullable and attribute.type is TypeName.ENUM and len(attribute.values or ()) == 1


def _held_by_bounds(constraint: Constraint, attributes: dict[str, Attribute]) -> str | None:
    """Why no row within both columns' bounds can break `left op right` (`a5 != a1` with a5 in
    [-50, 0] and a1 in [-100, -97]); None when some pair can. A bound is the declared min or max,
    else what the type can store (fuzz model 1841: `a4 < a1`, a4 in [-100, -97] and a1 a
    decimal(2, 1), at least -9.9: the only rows breaking it overflow a1, a data error and not the
    CHECK's)."""
    left, right = (_bounds(attributes[c]) for c in constraint.columns)
    if None in left or None in right:
        return None
    held = {
        CompareOp.LT: left[1] < right[0],
        CompareOp.LE: left[1] <= right[0],
        CompareOp.GT: left[0] > right[1],
        CompareOp.GE: left[0] >= right[1],
        CompareOp.NE: left[1] < right[0] or left[0] > right[1],
    }[CompareOp(constraint.value[0])]
    return (
        "the columns' bounds (min and max, or what the type stores) already imply it: no row within them breaks it"
        if held
        else None
    )


def _storable(attribute: Attribute) -> tuple[Any, Any]:
    """The lowest and highest values the column's type can store: a decimal's digits, an
    integer's bits; (None, None) for other types."""
    if attribute.type is TypeName.DECIMAL:
        limit = decimal_limit(attribute)
        return -limit, limit
    if attribute.type is TypeName.INTEGER:
        return integer_range(attribute)
    return None, None


def _bounds(attribute: Attribute) -> tuple[Any, Any]:
    """The attribute's declared min and max, else the type's storable edges (None: unbounded)."""
    low, high = _storable(attribute)
    return (
        low if attribute.min is None else attribute.min,
        high if attribute.max is None else attribute.max,
    )


def _implied_by(
    constraint: Constraint, value: Any, attributes: dict[str, Attribute], rules: Sequence[Constraint]
) -> str | None:
    """The check between two columns that every value past `constraint`'s bound also breaks
    (`a0 <= 1000` with `a0 < a1` and a1 at most 51): the bound cannot be broken alone."""
    column = constraint.columns[0]
    for rule in rules:
        if rule.kind != "check" or rule.rule != "entity" or column not in rule.columns:
            continue
        other = next((c for c in rule.columns if c != column), None)
        if other is None or attributes[other].nullable:
            continue  # a NULL other side passes the check
        edges = _edges(other, attributes[other], rules)
        # The check is monotone in `other`: if both of its edges break it, every value does.
        op, right = rule.value
        rows = [{column: value, other: edge} for edge in edges]
        if len(edges) == 2 and all(not check_holds(row[rule.columns[0]], CompareOp(op), row[right]) for row in rows):
            return f"implied by {rule.name}: {other}'s own bounds leave no room past this one"
    return None


def _edges(column: str, attribute: Attribute, rules: Sequence[Constraint]) -> list[Any]:
    """`column`'s lowest and highest values: its min and max CHECKs, else what its type can hold
    (a decimal(3, 1) at most 99.9 either way, an integer its bits; fuzz model 41: `a2 < a1` with
    a2 a decimal(3, 1) leaves a1 no room under -100); only those known."""
    declared = {
        r.rule: r.value
        for r in rules
        if r.kind == "check" and tuple(r.columns) == (column,) and r.rule in ("min", "max")
    }
    storable = _storable(attribute)
    low, high = declared.get("min", storable[0]), declared.get("max", storable[1])
    return [edge for edge in (low, high) if edge is not None]


def _rowid_alias(columns: Sequence[str], attributes: dict[str, Attribute], rules: Sequence[Constraint]) -> bool:
    """Whether `columns` is a single 32-bit integer primary key: SQLite's INTEGER PRIMARY KEY."""
    if len(columns) != 1 or attributes[columns[0]].type is not TypeName.INTEGER or attributes[columns[0]].bits != 32:
        return False
    return any(rule.kind == "primary_key" and tuple(rule.columns) == tuple(columns) for rule in rules)


def entity_violation(
    constraint: Constraint, row: dict[str, Any], attributes: dict[str, Attribute]
) -> list[dict[str, Any]]:
    """Candidate changes to `row` that break `left op right` (left moved, or right moved)."""
    left, right = constraint.columns
    op = CompareOp(constraint.value[0])
    step_left, step_right = _step(attributes[left]), _step(attributes[right])
    candidates: list[dict[str, Any]] = []
    if row.get(left) is None or row.get(right) is None:
        return candidates
    r, lv = row[right], row[left]
    moves_left = {
        CompareOp.LT: r,
        CompareOp.GT: r,
        CompareOp.NE: r,
        CompareOp.LE: _plus(r, step_left, attributes[left]),
        CompareOp.GE: _plus(r, -step_left, attributes[left]),
    }
    moves_right = {
        CompareOp.LT: lv,
        CompareOp.GT: lv,
        CompareOp.NE: lv,
        CompareOp.LE: _plus(lv, -step_right, attributes[right]),
        CompareOp.GE: _plus(lv, step_right, attributes[right]),
    }
    candidates.append({**row, left: _convert(moves_left[op], attributes[left], row[left])})
    candidates.append({**row, right: _convert(moves_right[op], attributes[right], row[right])})
    if op is CompareOp.NE:
        # Equal values of two types (a decimal 123.4 and an integer): one side converted to the
        # other's type, and back, so that both hold the same number.
        for moved, other in ((right, left), (left, right)):
            first = _convert(row[other], attributes[moved], row[moved])
            candidates.append({**row, moved: first, other: _convert(first, attributes[other], row[other])})
    # Both sides on one bound (min or max of either): where the two ranges only touch
    # (`a3 != a5`, a3 in [0, 99], a5 in [-50, 0]) the one pair that breaks the check is there.
    bounds = [b for a in (attributes[left], attributes[right]) for b in (a.min, a.max) if b is not None]
    for bound in bounds:
        both = {
            left: _convert(bound, attributes[left], row[left]),
            right: _convert(bound, attributes[right], row[right]),
        }
        candidates.append({**row, **both})
    return [c for c in candidates if not check_holds(c[left], op, c[right])]


def _plus(value: Any, step: Any, attribute: Attribute) -> Any:
    if isinstance(value, datetime | date) and not isinstance(step, timedelta):
        step = timedelta(days=1)
    if isinstance(value, Decimal) and isinstance(step, float):
        step = Decimal(str(step))
    if isinstance(value, float) and isinstance(step, Decimal):
        step = float(step)  # a float column compared with a decimal one
    return value + step


def _convert(value: Any, attribute: Attribute, like: Any) -> Any:
    """`value` in the Python type the column holds (`like` is the value it replaces)."""
    kind = attribute.type
    if kind is TypeName.DATE and isinstance(value, datetime):
        return value.date()
    if (
        kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ)
        and isinstance(value, date)
        and not isinstance(value, datetime)
    ):
        value = datetime(value.year, value.month, value.day)
    if isinstance(like, datetime) and isinstance(value, datetime) and (like.tzinfo is None) != (value.tzinfo is None):
        value = value.replace(tzinfo=like.tzinfo)
    if kind is TypeName.INTEGER:
        return int(value)
    if kind is TypeName.DECIMAL:
        return Decimal(str(value))
    if kind is TypeName.FLOAT:
        return float(value)
    return value


def rule_violations(constraints: list[Constraint], row: dict[str, Any], attributes: dict[str, Attribute]) -> set[str]:
    """Names of the NOT NULL and CHECK constraints `row` breaks, evaluated as SQL would."""
    broken: set[str] = set()
    for constraint in constraints:
        if constraint.kind == "not_null":
            if row.get(constraint.columns[0]) is None:
                broken.add(constraint.name)
            continue
        if constraint.kind != "check":
            continue
        value = row.get(constraint.columns[0])
        rule = constraint.rule
        if rule == "entity":
            op, right = constraint.value
            if not check_holds(value, CompareOp(op), row.get(right)):
                broken.add(constraint.name)
            continue
        if value is None:
            continue
        if (
            (rule == "min" and value < constraint.value)
            or (rule == "max" and value > constraint.value)
            or (rule == "enum" and value not in constraint.value)
            or (rule == "pattern" and re.search(constraint.value, value) is None)
            or (rule == "length" and len(value) > constraint.value)
        ):
            broken.add(constraint.name)
    return broken


def error_names(message: str, constraint: Constraint, engine: str) -> bool:
    """Whether a driver's error message is about `constraint` (each engine words it its own way)."""
    text = message
    table, columns = constraint.table, constraint.columns
    if constraint.kind == "not_null":
        column = columns[0]
        return {
            "postgresql": f'null value in column "{column}"' in text,
            "mysql": f"Column '{column}' cannot be null" in text,
            "sqlite": f"NOT NULL constraint failed: {table}.{column}" in text,
        }[engine]
    if engine == "sqlite":
        if constraint.kind in ("unique", "primary_key"):
            listed = ", ".join(f"{table}.{c}" for c in columns)
            return f"UNIQUE constraint failed: {listed}" in text
        if constraint.kind == "foreign_key":
            return "FOREIGN KEY constraint failed" in text
        return f"CHECK constraint failed: {constraint.name}" in text
    if engine == "mysql" and constraint.kind == "primary_key":
        return "for key 'PRIMARY'" in text or f"for key '{table}.PRIMARY'" in text
    return constraint.name in text

"""A Python oracle for access-pattern queries, and the parser of emitted `queries.sql` files.

Pure: given the rows a test loaded, it computes what a query must return, with the engine's
own rules for NULL ordering and LIKE case sensitivity, and compares a result without
over-specifying ties (rows that tie on the sort key at a LIMIT boundary may come in any order
and either may be cut).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from polyplan.model.schema import AccessPattern, Attribute, TypeName
from polyplan.seed.relational import jsonable
from polyplan.stores.relational.spec import Query, QueryParam
from polyplan.stores.relational.sqltext import commented_blocks, sub_code
from polyplan.validate.membership import holds_item

# Engines where NULL sorts before every value in ascending order (PostgreSQL: after).
NULLS_FIRST = frozenset({"mysql", "sqlite"})
# Engines whose LIKE ignores ASCII case by default (SQLite); the emitted MySQL tables use a
# binary collation, so MySQL's LIKE is case-sensitive like PostgreSQL's.
LIKE_IGNORES_CASE = frozenset({"sqlite"})

_PARAM = re.compile(r"^-- param :(\w+)\s+(.+) \((\w+)\)$")


def parse_queries(text: str) -> dict[str, Query]:
    """Every `-- name:` block of a queries.sql file, by name."""
    found: dict[str, Query] = {}
    # Header comments are told from SQL by the SQL lexer: a constant in the SQL may hold line
    # breaks, blank lines and text such as `-- note: ` of its own.
    for comments, sql in commented_blocks(text, "-- name: "):
        header: dict[str, str] = {}
        params: list[QueryParam] = []
        notes: list[str] = []
        for line in comments:
            match = _PARAM.match(line)
            if match:
                params.append(QueryParam(match[1], match[2], match[3]))
            elif line.startswith("-- note: "):
                notes.append(line[len("-- note: ") :])
            elif line.startswith("-- ") and ": " in line:
                key, value = line[3:].split(": ", 1)
                header[key] = value
        found[header["name"]] = Query(
            header["name"],
            header["entity"],
            header["table"],
            tuple(header["columns"].split(", ")),
            tuple(params),
            sql,
            tuple(notes),
        )
    return found


def expand_lists(sql: str, params: Mapping[str, Any], lists: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Rewrite `IN (:name)` for a sequence parameter into `IN (:name_0, :name_1, …)`."""
    bound = {k: v for k, v in params.items() if k not in lists}
    for name in lists:
        values = list(params[name])
        names = [f"{name}_{i}" for i in range(len(values))]
        sql = sub_code(rf":{name}\b", ", ".join(f":{n}" for n in names), sql)
        bound.update(zip(names, values, strict=True))
    return sql, bound


# --- canonical values ----------------------------------------------------------------------


def canon(attribute: Attribute, value: Any) -> Any:
    """A value as the oracle compares it, whatever driver or engine produced it."""
    if value is None:
        return None
    kind = attribute.type
    if kind in (TypeName.JSON, TypeName.LIST, TypeName.SET, TypeName.OBJECT):
        if isinstance(value, str):
            value = json.loads(value)
        return json.dumps(jsonable(value), sort_keys=True)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ) and isinstance(value, str):
        return canon(attribute, datetime.fromisoformat(value))
    if kind is TypeName.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is TypeName.UUID:
        # Drivers and the seed give uuid.UUID, a model constant gives text: compare as UUIDs.
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if kind is TypeName.DECIMAL:
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-(attribute.scale or 0)))
    if kind is TypeName.FLOAT:
        return round(float(value), 9)
    if kind is TypeName.BOOLEAN:
        return bool(value)
    if kind is TypeName.INTEGER:
        return int(value)
    return value


# --- evaluating a pattern ------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One predicate on a column: op is eq, in, from (>=), to (<), prefix, search (a word of the
    searched columns) or is_null; above (>) and through (<=) are the bounds made wrong, which the
    case chooser uses to find data that tells them apart."""

    column: str
    op: str
    value: Any


def holds(condition: Condition, value: Any, engine: str) -> bool:
    """Whether a canonical column value satisfies the condition as SQL would (NULL fails)."""
    op, expected = condition.op, condition.value
    if op == "is_null":
        return value is None
    if value is None:
        return False
    if op == "eq":
        return bool(value == expected)
    if op == "in":
        return value in expected
    if op == "from":
        return bool(value >= expected)
    if op == "to":
        return bool(value < expected)
    if op == "above":
        return bool(value > expected)
    if op == "through":
        return bool(value <= expected)
    if op == "contains":
        return holds_item(value, expected)
    if op == "prefix":
        if engine in LIKE_IGNORES_CASE:
            return str(value).lower().startswith(str(expected).lower())
        return str(value).startswith(str(expected))
    raise ValueError(f"unknown condition {op}")


def _compare(a: Any, b: Any, descending: bool, nulls_first_asc: bool) -> int:
    if a is None and b is None:
        return 0
    if a is None or b is None:
        null_low = nulls_first_asc  # NULL is the smallest value on these engines
        a_is_null = a is None
        result = (-1 if a_is_null else 1) if null_low else (1 if a_is_null else -1)
        return -result if descending else result
    result = int(a > b) - int(a < b)
    return -result if descending else result


def sort_rows(rows: list[dict[str, Any]], sort: Sequence[tuple[str, bool]], engine: str) -> list[dict[str, Any]]:
    """Rows ordered by (column, descending) pairs with the engine's NULL placement (stable)."""
    nulls_first = engine in NULLS_FIRST

    def compare(left: dict[str, Any], right: dict[str, Any]) -> int:
        for column, descending in sort:
            result = _compare(left[column], right[column], descending, nulls_first)
            if result:
                return result
        return 0

    return sorted(rows, key=functools.cmp_to_key(compare))


def compare_result(
    pattern: AccessPattern,
    matching: list[dict[str, Any]],
    result: list[dict[str, Any]],
    columns: Sequence[str],
    sort: Sequence[tuple[str, bool]],
    engine: str,
) -> list[str]:
    """Problems with `result` (canonical rows) against every matching row (empty: it is right)."""
    problems: list[str] = []
    ordered = sort_rows(matching, sort, engine) if sort else list(matching)
    limit = pattern.limit
    expected = ordered[:limit] if limit is not None else ordered

    def project(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c in columns)

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c, _ in sort)

    if len(result) != len(expected):
        problems.append(f"returned {len(result)} rows, expected {len(expected)} (of {len(matching)} matching)")
        return problems
    if sort and [key(r) for r in result] != [key(r) for r in expected]:
        problems.append(
            f"sort keys differ: got {[key(r) for r in result][:10]}, expected {[key(r) for r in expected][:10]}"
        )
        return problems
    boundary = key(expected[-1]) if (sort and expected and limit is not None and len(ordered) > limit) else None
    got_sure = Counter(project(r) for r in result if boundary is None or key(r) != boundary)
    want_sure = Counter(project(r) for r in expected if boundary is None or key(r) != boundary)
    if not sort and limit is not None and len(ordered) > limit:
        # No order and a limit: any `limit` matching rows are right.
        available = Counter(project(r) for r in matching)
        if got_sure - available:
            problems.append(f"rows that do not match the filters: {list((got_sure - available).elements())[:5]}")
        return problems
    if got_sure != want_sure:
        problems.append(
            f"rows differ: unexpected {list((got_sure - want_sure).elements())[:5]}, "
            f"missing {list((want_sure - got_sure).elements())[:5]}"
        )
    if boundary is not None:
        tied = Counter(project(r) for r in matching if key(r) == boundary)
        got_tied = Counter(project(r) for r in result if key(r) == boundary)
        if got_tied - tied:
            problems.append(f"rows at the limit boundary do not match: {list((got_tied - tied).elements())[:5]}")
    return problems

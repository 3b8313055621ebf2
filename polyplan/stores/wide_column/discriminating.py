"""Runs of a wide-column pattern whose data can fail a wrong query (pure).

A Cassandra pattern reads one partition per run, so the data that can tell a right query from a
wrong one must sit in *one* parameter group: `polyplan.seed.discriminating` gives each limited
pattern a hot group (more records sharing its equality values than the limit, plus `OUTSIDE`
records per range bound, every other one failing the table's conditions). Here that group's
ordered attribute (the range or first sort column) is laid out in one time bucket, with ties
where the primary key allows them, and the pattern gets the runs that make each of its
properties observable — its limit, each sort direction, ties, each range bound and each
membership condition: a *wide* window (more rows inside than the limit, rows outside each bound)
and, for a limited range, a *narrow* one (fewer rows than the limit, so the far bound shows too).

Per run the data records what it shows and, per bound or condition, the answer the query would
give without it; the generated test asserts these properties of its own data before it asserts
anything about the engine, and a property the data cannot have is stated with its reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from polyplan.model.schema import Direction
from polyplan.stores.wide_column.runtime import next_bucket, time_bucket
from polyplan.stores.wide_column.spec import Query, Table

OUTSIDE = 2  # records of a hot group per range bound that the bound excludes
LOWER = ("range_from", "range_above")
UPPER = ("range_to", "range_through")
Record = dict[str, Any]


def plain(value: Any) -> Any:
    """A seed value as Cassandra compares it (naive UTC, milliseconds)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def equality_attributes(query: Query) -> list[str]:
    """The attributes a run binds one value of (equality and IN parameters)."""
    return [p.attribute for p in query.params if p.attribute and p.op in ("eq", "in")]


def ordered_attribute(query: Query) -> str | None:
    """The attribute a run's window is cut on: the range's, else the first sort column."""
    ranged = next((p.attribute for p in query.params if p.attribute and p.op in LOWER + UPPER), None)
    return ranged or (query.order[0][0] if query.order else None)


def group_of(records: list[Record], table: Table, query: Query, members: bool = True) -> list[Record]:
    """The largest parameter group of the pattern among the table's members (the hot group, when
    the seed made one), in record order; the first group of that size on a tie. With `members`
    False: every record sharing that group's values, those the table's conditions keep out too."""
    attributes = equality_attributes(query)
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in records:
        if all(c.holds(record) for c in table.conditions) and all(record.get(a) is not None for a in attributes):
            groups.setdefault(tuple(plain(record[a]) for a in attributes), []).append(record)
    group = max(groups.values(), key=len, default=[])
    if members or not group:
        return group
    shared = [plain(group[0][a]) for a in attributes]
    return [r for r in records if [plain(r.get(a)) for a in attributes] == shared]


def ties_impossible(table: Table, column: str, uniques: list[frozenset[str]], shared: list[str]) -> str | None:
    """Why no two rows of a run can share `column`'s value, or None when they can: they can only
    where the rest of the table's primary key holds a unique set of the entity without `column`
    (so tied rows stay distinct rows), and no unique set lies within the run's shared values and
    `column`."""
    names = [name for name, _ in table.clustering]
    if names and names[-1] == column:
        return f"{column} is the last primary-key column of {table.name}: unique within a partition"
    for unique in uniques:
        if unique <= {*shared, column}:
            return f"{column} with {', '.join(sorted(shared)) or 'nothing else'} is unique in the model"
    rest = set(table.primary_key) - {column}
    if not any(column not in unique and unique <= rest for unique in uniques):
        return f"the rest of {table.name}'s primary key does not keep rows tied on {column} apart"
    return None


def _step(table: Table, attribute: str, value: Any, count: int) -> dt.timedelta | None:
    """The distance between laid-out values: one second (a day for dates), less where the
    values must fit one time bucket; None when they cannot."""
    if isinstance(value, dt.datetime):
        step = dt.timedelta(seconds=1)
        bucket = table.bucket
        if bucket is not None and bucket.kind == "time" and bucket.source[0] == attribute:
            unit = bucket.unit or "day"
            start = time_bucket(plain(value), unit)
            room = next_bucket(start, unit) - start
            step = min(step, dt.timedelta(milliseconds=room // dt.timedelta(milliseconds=1) // (count + 1)))
        return step if step >= dt.timedelta(milliseconds=1) else None
    if isinstance(value, dt.date):
        bucket = table.bucket
        if bucket is not None and bucket.kind == "time" and bucket.source[0] == attribute:
            return None  # days do not fit a date bucket
        return dt.timedelta(days=1)
    return None


def lay_out(group: list[Record], table: Table, attribute: str, ties: bool) -> None:
    """Give the group consecutive values of `attribute` in one time bucket (every third member of
    the table repeating the member before it when `ties`), so that one run reads all of them. Values of other
    types are left as the seed drew them, every third member's repeating the one before when `ties`."""
    first = next((r[attribute] for r in group if r.get(attribute) is not None), None)
    step = None if first is None else _step(table, attribute, first, len(group))
    if step is None or first is None:
        if ties:
            _tie(group, table, attribute)
        return
    base = plain(first)
    bucket = table.bucket
    if isinstance(base, dt.datetime):
        unit = (bucket.unit or "day") if bucket is not None and bucket.kind == "time" else None
        moment = time_bucket(base, unit) + step if unit is not None else base.replace(microsecond=0)
        assert isinstance(moment, dt.datetime)  # a datetime's bucket is a datetime
        if isinstance(first, dt.datetime) and first.tzinfo is not None:
            moment = moment.replace(tzinfo=dt.UTC)
        base = moment
    # Ties are counted among the table's members only: the group may hold records its conditions
    # keep out (a constant dealt to every other record), and a tie between a member and such a
    # record is one no run can read.
    position, members = 0, 0
    tied_to: Any = None
    for record in group:
        member = all(c.holds(record) for c in table.conditions)
        if ties and member and members % 3 == 2 and tied_to is not None:
            record[attribute] = tied_to
        else:
            record[attribute] = base + step * position
            position += 1
        if member:
            members += 1
            tied_to = record[attribute]


def _tie(group: list[Record], table: Table, attribute: str) -> None:
    """Every third member of the table holding a value of `attribute` repeats the member before
    it, the others keep the values the seed drew (a decimal or a text is not laid out; without
    repeated values no run could show how ties are broken: fuzz 616)."""
    members, tied_to = 0, None
    for record in group:
        if record.get(attribute) is None or not all(c.holds(record) for c in table.conditions):
            continue
        if members % 3 == 2 and tied_to is not None:
            record[attribute] = tied_to
        members += 1
        tied_to = record[attribute]


def _check(attribute: str, op: str, bound: Any) -> Callable[[Record], bool]:
    """How Cassandra evaluates one restriction, restated in Python on seeded records."""

    def check(record: Record) -> bool:
        value = plain(record.get(attribute))
        if value is None:
            return False
        if op in ("eq", "in"):
            return bool(value == bound)
        if op == "range_from":
            return bool(value >= bound)
        if op == "range_to":
            return bool(value < bound)
        if op == "range_above":
            return bool(value > bound)
        if op == "range_through":
            return bool(value <= bound)
        return str(value).startswith(str(bound))

    return check


def windows(query: Query, values: list[Any]) -> list[tuple[int, int]]:
    """Index windows [low, high) over the group's sorted distinct values: a wide one (more rows
    than the limit inside, `OUTSIDE` values outside each bound) and, for a limited range, a
    narrow one (fewer rows than the limit inside, so a bound the sort reads last shows too)."""
    ops = {p.op for p in query.params if p.attribute}
    lower, upper = bool(ops & set(LOWER)), bool(ops & set(UPPER))
    if not (lower or upper):
        return [(0, len(values))]
    outside = OUTSIDE if len(values) > 2 * OUTSIDE + 1 else min(1, len(values) // 3)
    low, high = (outside if lower else 0), (len(values) - outside if upper else len(values))
    found = [(low, high)]
    if query.limit is not None:
        # Fewer rows inside than the limit (none under LIMIT 1: fuzz 248), two where the limit
        # leaves room, so that the order shows inside the narrow window too.
        width = max(min(2, query.limit - 1), min(query.limit - 1, high - low - 1) // 2)
        if width < high - low:
            if lower and upper:
                found.append((low, low + width))
            elif lower:
                found.append((high - width, high))
            else:
                found.append((low, low + width))
    return found


def bound_values(
    query: Query, values: list[Any], window: tuple[int, int], above: Callable[[Any], Any], below: Callable[[Any], Any]
) -> dict[str, Any]:
    """The range parameters' values for a window over the sorted distinct `values`; `above` and
    `below` give a value past the last or before the first."""
    low, high = window
    found: dict[str, Any] = {}
    for param in query.params:
        if param.op == "range_from":
            found[param.name] = values[low] if low < len(values) else above(values[-1])
        elif param.op == "range_above":
            found[param.name] = values[low - 1] if low > 0 else below(values[0])
        elif param.op == "range_to":
            found[param.name] = values[high] if high < len(values) else above(values[-1])
        elif param.op == "range_through":
            found[param.name] = values[high - 1] if high > 0 else below(values[0])
    return found


def checks_of(query: Query, values: dict[str, Any]) -> dict[str, Callable[[Record], bool]]:
    """Per bound parameter (not bucket or prefix end), the check its value makes."""
    return {
        p.name: _check(p.attribute, p.op, plain(values[p.name]))
        for p in query.params
        if p.attribute and p.op not in ("prefix_end",) and p.name in values
    }


def _sort_key(column: str) -> Callable[[Record], Any]:
    """A record's sort value on `column`, NULL before every value. A table's rows never hold a NULL
    on a clustering column (the table's `is not null` condition keeps such records out); only
    the answer without that condition, which `testgen._run` asks for, has them (fuzz model 616)."""

    def key(record: Record) -> Any:
        value = plain(record[column])
        return (value is not None, value)

    return key


def answer(
    rows: list[Record], order: tuple[tuple[str, Direction], ...], limit: int | None
) -> tuple[list[Record], list[list[Any]]]:
    """The rows a query returns (sorted, cut at the limit) and their sort values."""
    result = list(rows)
    for column, direction in reversed(order):  # stable sorts, last key first
        result.sort(key=_sort_key(column), reverse=direction is Direction.DESC)
    shown = result[:limit] if limit is not None else result
    return shown, [[plain(r[c]) for c, _ in order] for r in shown]


def observable(
    right: tuple[list[Record], list[list[Any]]], wrong: tuple[list[Record], list[list[Any]]], allowed: list[Record]
) -> bool:
    """Whether the generated test tells `wrong` from `right`: another count, other sort values,
    or a row outside the allowed ones."""
    ids = {id(r) for r in allowed}
    return len(wrong[0]) != len(right[0]) or wrong[1] != right[1] or any(id(r) not in ids for r in wrong[0])


def flipped(order: tuple[tuple[str, Direction], ...]) -> tuple[tuple[str, Direction], ...]:
    """The order with every direction reversed."""
    return tuple((c, Direction.ASC if d is Direction.DESC else Direction.DESC) for c, d in order)

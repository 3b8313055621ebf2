"""The oracle's side of `contains` and JSON sub-field filters (issue 12).

Rows reach the oracle with a list, set or json column as canonical JSON text. A contains
condition holds when the parsed list holds the item; a sub-field filter compares the value at
its path, which `with_sub_fields` copies into the rows under the parameter's column
(`payload#device.model`) so that every other rule of the oracle (equality, ranges, the case
chooser's groups) applies to it unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import Attribute, TypeName
from polyplan.seed.relational import jsonable
from polyplan.stores.relational.membership import SUB_FIELD_SEP, column_attribute
from polyplan.stores.relational.spec import QueryParam, TableSpec

SEP = SUB_FIELD_SEP
ITEMS_TRIED = 6  # items tried per contains parameter: the commonest, some in between, the rarest


def is_sub_field(column: str) -> bool:
    """Whether an oracle column names a JSON sub-field (`payload#device.model`)."""
    return SEP in column


def _parsed(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def holds_item(value: Any, item: Any) -> bool:
    """Whether a canonical list or set value holds `item` (in its JSON form)."""
    return value is not None and jsonable(item) in _parsed(value)


def inside_value(column: str, op: str, value: Any) -> Any:
    """A probe's parameter from one loaded JSON value: its first item (contains), or the value
    at the column's sub-field path (the same for every comparison: the probe wants rows)."""
    if op == "contains":
        items = _parsed(value) or [None]
        return items[0]
    return _at(value, column.split(SEP, 1)[1].split("."))


def _at(value: Any, path: Sequence[str]) -> Any:
    found = _parsed(value)
    for key in path:
        if not isinstance(found, dict):
            return None
        found = found.get(key)
    return found


def with_sub_fields(
    table: TableSpec,
    params: Sequence[QueryParam],
    raw: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    constants: Sequence[Any] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`raw` and canonical `rows` with the value of each sub-field that a parameter or a constant
    (`constants`: oracle Conditions) compares at its column."""
    from polyplan.validate.oracle import canon  # oracle imports this module

    columns = sorted({p.column for p in [*params, *constants] if is_sub_field(p.column)})
    if not columns:
        return list(raw), list(rows)
    new_raw: list[dict[str, Any]] = []
    new_rows: list[dict[str, Any]] = []
    for bound, row in zip(raw, rows, strict=True):
        bound, row = dict(bound), dict(row)
        for column in columns:
            name, dotted = column.split(SEP, 1)
            value = _at(row[name], dotted.split("."))
            bound[column] = jsonable(value)
            row[column] = canon(column_attribute(table, column), value)
        new_raw.append(bound)
        new_rows.append(row)
    return new_raw, new_rows


def item_choices(rows: Sequence[dict[str, Any]], column: str) -> list[Any]:
    """Items to look for in `column`: the commonest (a large answer), a spread of the others and
    the rarest (a small one), as their JSON form."""
    counts = Counter(json.dumps(item, sort_keys=True) for row in rows for item in set_of(row[column]))
    ordered = sorted(counts, key=lambda item: (-counts[item], item))
    if len(ordered) <= ITEMS_TRIED:
        picked = ordered
    else:
        step = max(1, (len(ordered) - 1) // (ITEMS_TRIED - 1))
        picked = list(dict.fromkeys([*ordered[::step][: ITEMS_TRIED - 1], ordered[-1]]))
    return [json.loads(item) for item in picked]


def set_of(value: Any) -> list[Any]:
    """The distinct items of a canonical list value (none for NULL)."""
    if value is None:
        return []
    unique: dict[str, Any] = {}
    for item in _parsed(value):
        unique.setdefault(json.dumps(item, sort_keys=True), item)
    return list(unique.values())


def item_attribute(table: TableSpec, column: str) -> Attribute:
    """The item type of a list or set column."""
    attribute = table.column(column).attribute
    return attribute.items or Attribute(type=TypeName.TEXT)


def membership_bind_type(spec: TableSpec, table: sa.Table, param: QueryParam) -> sa.types.TypeEngine[Any]:
    """How a generated test binds a parameter: as its column, or, for an item or a sub-field, as
    the JSON form's scalar (the query casts it where the engine needs a type)."""
    from polyplan.stores.relational.membership import bind_type  # it imports the relational renderer

    if param.op == "contains":
        return bind_type(item_attribute(spec, param.column).type)
    if is_sub_field(param.column):
        return bind_type(column_attribute(spec, param.column).type)
    return table.c[param.column].type

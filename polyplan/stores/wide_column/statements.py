"""CQL statements for tables and queries, with named bind markers (pure, hand-written CQL).

Bind markers are named after the column (`:device_id`), so an application binds a record's
values by name; names that need quoting are quoted the same way as the column. Tables are named
with their keyspace (`iot.device_window`): no statement depends on the session's keyspace.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from polyplan.model.schema import Direction
from polyplan.stores.wide_column.cql import qualified, quote
from polyplan.stores.wide_column.spec import Query, Table


def marker(name: str) -> str:
    """A named bind marker."""
    return f":{quote(name)}"


def _where(pairs: Iterable[tuple[str, str, str]]) -> str:
    return " AND ".join(f"{quote(column)} {op} {marker(param)}" for column, op, param in pairs)


def key_restriction(table: Table) -> str:
    """WHERE text that names one row by its full primary key."""
    return _where((column, "=", column) for column in table.primary_key)


def _name(table: Table) -> str:
    return qualified(table.keyspace, table.name)


def insert(table: Table, if_not_exists: bool = False) -> str:
    """INSERT of a whole row (an upsert in Cassandra)."""
    names = [c.name for c in table.columns]
    text = (
        f"INSERT INTO {_name(table)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join(marker(n) for n in names)})"
    )
    return text + (" IF NOT EXISTS" if if_not_exists else "")


def delete(table: Table, if_exists: bool = False) -> str:
    """DELETE of one row by its full primary key."""
    text = f"DELETE FROM {_name(table)} WHERE {key_restriction(table)}"
    return text + (" IF EXISTS" if if_exists else "")


def update(table: Table, columns: list[str], if_exists: bool = False) -> str:
    """UPDATE of some non-key columns of one row."""
    assignments = ", ".join(f"{quote(c)} = {marker(c)}" for c in columns)
    text = f"UPDATE {_name(table)} SET {assignments} WHERE {key_restriction(table)}"
    return text + (" IF EXISTS" if if_exists else "")


def owner_check(table: Table, owner: list[str]) -> str:
    """A lightweight transaction applied only while the row still holds `owner`'s values (a claim
    row still held by the record): it rewrites the first of them as it is, so it changes nothing."""
    conditions = " AND ".join(f"{quote(c)} = {marker(c)}" for c in owner)
    return f"UPDATE {_name(table)} SET {quote(owner[0])} = {marker(owner[0])} WHERE {key_restriction(table)} IF {conditions}"


def add(table: Table, columns: list[str], suffix: str = "", zero: Collection[str] = ()) -> str:
    """UPDATE that adds to counter columns (`c = c + :c<suffix>`): atomic on the replicas; the
    columns in `zero` get `+ 0` (the row exists, their value comes from elsewhere)."""
    assignments = ", ".join(f"{quote(c)} = {quote(c)} + {'0' if c in zero else marker(c + suffix)}" for c in columns)
    return f"UPDATE {_name(table)} SET {assignments} WHERE {key_restriction(table)}"


def compare_and_set(table: Table, column: str) -> str:
    """UPDATE of one column only if it still holds the value read (a lightweight transaction)."""
    return (
        f"UPDATE {_name(table)} SET {quote(column)} = {marker(column + '_new')} WHERE {key_restriction(table)} "
        f"IF {quote(column)} = {marker(column + '_old')}"
    )


def select_row(table: Table) -> str:
    """SELECT of one whole row by its full primary key (the base table read before a change)."""
    names = ", ".join(quote(c.name) for c in table.columns)
    return f"SELECT {names} FROM {_name(table)} WHERE {key_restriction(table)}"


def select(query: Query) -> str:
    """The SELECT of an access pattern. Never ALLOW FILTERING: the design guarantees the key is restricted."""
    lines = [f"SELECT {', '.join(quote(c) for c in query.select)}", f"  FROM {qualified(query.keyspace, query.table)}"]
    lines.append(f"  WHERE {_where((r.column, r.op, r.param) for r in query.restrictions)}")
    if query.order:
        order = ", ".join(f"{quote(c)} {'DESC' if d is Direction.DESC else 'ASC'}" for c, d in query.order)
        lines.append(f"  ORDER BY {order}")
    if query.limit:
        lines.append(f"  LIMIT {query.limit}")
    return "\n".join(lines)

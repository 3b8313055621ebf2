"""Map logical records (from `polyplan.seed.generate`) onto relational tables, and load them.

A column's `source` says where its value comes from (see `polyplan.stores.relational.design`):
`Entity.attr` (a column), `Entity.attr.field` (a flattened object field, or a field of a
child-table item), `Entity.attr.#position` / `Entity.attr.#value` (list child tables),
`relationship.column` (association tables). Lists are split into child-table rows, objects are
flattened; values are converted to what each engine stores (UTC without offset where the engine
has no time-zone-aware type, JSON-safe structures inside JSON columns).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.sql.ddl import sort_tables_and_constraints

from polyplan.model.schema import TypeName
from polyplan.stores.relational.design import ATTRIBUTE, HOLDS, NON_SCALAR
from polyplan.stores.relational.spec import ColumnSpec, TableKind, TableSpec

Row = dict[str, Any]
NAIVE_UTC_ENGINES = frozenset({"mysql", "sqlite"})


def jsonable(value: Any) -> Any:
    """`value` with uuids, dates, decimals and bytes turned into JSON scalars (sorted dict keys)."""
    if isinstance(value, dict):
        return {str(k): jsonable(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def db_value(column: ColumnSpec, value: Any, engine: str) -> Any:
    """A logical value as `engine` stores it in `column`."""
    if value is None:
        return None
    kind = column.attribute.type
    if kind in NON_SCALAR:
        return jsonable(value)
    if kind is TypeName.TIMESTAMPTZ and engine in NAIVE_UTC_ENGINES and isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _field(record: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = record
    for part in path:
        if value is None:
            return None
        value = value.get(part)
    return value


def _entity_rows(table: TableSpec, records: Sequence[Mapping[str, Any]], engine: str) -> Iterator[Row]:
    paths = [(c, c.source.split(".")[1:]) for c in table.columns]
    for record in records:
        yield {column.name: db_value(column, _field(record, path), engine) for column, path in paths}


def _child_rows(table: TableSpec, records: Sequence[Mapping[str, Any]], engine: str) -> Iterator[Row]:
    attribute = str(table.extra.get(ATTRIBUTE, ""))
    holds = table.extra.get(HOLDS, "list")
    prefix = f"{table.entity}.{attribute}"
    for record in records:
        content = record.get(attribute)
        if content is None:
            continue
        items = list(enumerate(content)) if holds == "list" else [(0, content)]
        for position, item in items:
            row: Row = {}
            for column in table.columns:
                source = column.source
                if source == f"{prefix}.#position":
                    value: Any = position
                elif source == f"{prefix}.#value":
                    value = item
                elif source.startswith(prefix + "."):
                    value = None if item is None else item.get(source[len(prefix) + 1 :])
                else:  # the owner's key
                    value = record[source.split(".", 1)[1]]
                row[column.name] = db_value(column, value, engine)
            yield row


def _link_rows(table: TableSpec, records: Sequence[Mapping[str, Any]], engine: str) -> Iterator[Row]:
    paths = [(c, c.source.split(".", 1)[1]) for c in table.columns]
    for record in records:
        yield {column.name: db_value(column, record.get(key), engine) for column, key in paths}


def table_rows(
    tables: Sequence[TableSpec], data: Mapping[str, Sequence[Mapping[str, Any]]], engine: str
) -> dict[str, list[Row]]:
    """Rows per table (table name → rows) for `engine`, from logical records per entity/relationship."""
    result: dict[str, list[Row]] = {}
    for table in tables:
        records = data.get(table.entity, [])
        if table.kind is TableKind.ENTITY:
            result[table.name] = list(_entity_rows(table, records, engine))
        elif table.kind is TableKind.LIST_CHILD:
            result[table.name] = list(_child_rows(table, records, engine))
        else:
            result[table.name] = list(_link_rows(table, records, engine))
    return result


def load_rows(
    connection: sa.Connection,
    metadata: sa.MetaData,
    rows: Mapping[str, Sequence[Row]],
    chunk: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Insert rows table by table, parents first (metadata's dependency order); counts per table.

    `progress(table, n)` is called after each chunk of `n` rows (for a progress bar)."""
    counts: dict[str, int] = {}
    if connection.dialect.name == "mysql":
        # A key value of 0 in an AUTO_INCREMENT column means "draw the next one" unless this mode
        # is on: loaded rows keep their own keys (what mysqldump's dumps set for the same reason).
        connection.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
    order, deferred = _load_order(metadata, rows)
    for table in order:
        table_rows_ = rows.get(table.name, [])
        late = [c.name for constraint in deferred.get(table.name, ()) for c in constraint.columns]
        for start in range(0, len(table_rows_), chunk):
            batch = [{**row, **dict.fromkeys(late, None)} for row in table_rows_[start : start + chunk]]
            connection.execute(sa.insert(table), batch)
            if progress is not None:
                progress(table.name, len(batch))
        counts[table.name] = len(table_rows_)
        if table_rows_:
            _advance_sequence(connection, table)
    for name, constraints in sorted(deferred.items()):
        _set_late_references(connection, metadata.tables[name], constraints, rows.get(name, []))
    return counts


def _load_order(
    metadata: sa.MetaData, rows: Mapping[str, Sequence[Row]]
) -> tuple[list[sa.Table], dict[str, list[sa.ForeignKeyConstraint]]]:
    """Tables parents first, and the optional references to insert NULL and set afterwards.

    The seed breaks a cycle of references (Order needs an Audit, an Order may name one) at an
    optional side, filled once both tables have records (`polyplan.seed.generate._fill_late`).
    `metadata.sorted_tables` drops the whole cycle's order (it may load the child first): a
    reference NULL in every row to load is no dependency, and when a cycle remains, its
    nullable references (on a table with a primary key to update by) are left out of the order,
    inserted NULL and set by an UPDATE once every table is loaded."""

    def unused(constraint: sa.ForeignKeyConstraint) -> bool:
        loaded = rows.get(constraint.table.name, [])
        return all(row.get(column.name) is None for row in loaded for column in constraint.columns)

    def breakable(constraint: sa.ForeignKeyConstraint) -> bool:
        table = constraint.table
        return bool(table.primary_key.columns) and all(
            column.nullable and column.name not in table.primary_key.columns for column in constraint.columns
        )

    # filter_fn True: not a dependency; None: one SQLAlchemy may drop to break a cycle (listed
    # under None in its answer); False would make a cycle an error.
    tables = sorted(metadata.tables.values(), key=lambda t: t.name)
    deferred: set[sa.ForeignKeyConstraint] = set()
    while True:
        ordered = sort_tables_and_constraints(  # type: ignore[no-untyped-call]
            tables, filter_fn=lambda c, out=frozenset(deferred): True if unused(c) or c in out else None
        )
        cycle = [c for table, found in ordered if table is None for c in found if not unused(c) and c not in deferred]
        more = {c for c in cycle if breakable(c)} - deferred
        if not more:
            break
        deferred |= more
    late: dict[str, list[sa.ForeignKeyConstraint]] = {}
    for constraint in sorted(deferred, key=lambda c: (c.table.name, sorted(col.name for col in c.columns))):
        late.setdefault(constraint.table.name, []).append(constraint)
    return [table for table, _ in ordered if isinstance(table, sa.Table)], late


def _set_late_references(
    connection: sa.Connection, table: sa.Table, constraints: Sequence[sa.ForeignKeyConstraint], rows: Sequence[Row]
) -> None:
    """Set the references `load_rows` inserted NULL (a broken cycle's), by primary key."""
    columns = [c.name for constraint in constraints for c in constraint.columns]
    key = [c.name for c in table.primary_key.columns]
    updates = [
        {**{f"k_{c}": row[c] for c in key}, **{f"v_{c}": row[c] for c in columns}}
        for row in rows
        if any(row.get(c) is not None for c in columns)
    ]
    if not updates:
        return
    statement = (
        sa.update(table)
        .where(*(table.c[c] == sa.bindparam(f"k_{c}") for c in key))
        .values({c: sa.bindparam(f"v_{c}") for c in columns})
    )
    connection.execute(statement, updates)


def _advance_sequence(connection: sa.Connection, table: sa.Table) -> None:
    """Move a PostgreSQL identity (or serial) column's sequence past the rows just loaded with
    their own keys, so the application's next insert does not draw a key already taken. MariaDB's
    AUTO_INCREMENT and SQLite's rowid follow the largest key by themselves."""
    column = table.autoincrement_column
    if connection.dialect.name != "postgresql" or column is None:
        return
    name = connection.dialect.identifier_preparer.format_table(table)
    connection.execute(
        sa.select(
            sa.func.setval(sa.func.pg_get_serial_sequence(name, column.name), sa.func.greatest(sa.func.max(column), 1))
        ).select_from(table)
    )

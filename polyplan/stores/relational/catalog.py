"""Reads one index back from an engine's catalog, for the generated index tests (I/O).

Each reader returns the index as an `explain.IndexShape` (None when it does not exist), so that
`explain.index_problems` can compare it with the design. What each engine's catalog records:

- PostgreSQL: `pg_index` (key and included columns, DESC, non-default operator classes,
  uniqueness, access method) and `pg_get_expr(indpred)` for the partial predicate.
  `postgresql_predicate` normalises the design's predicate the same way: it builds a probe index
  with it inside a transaction that is rolled back, so both texts come from `pg_get_expr`.
- MariaDB/MySQL: `information_schema.STATISTICS` — columns, order, direction (MariaDB ≥ 10.8
  records DESC), prefix length, uniqueness and type. It has no INCLUDE and no partial predicate.
  `mysql_key_parts` also gives each key part's byte length, for the `key_len` check.
- SQLite: `pragma_index_xinfo` (key columns, DESC, collation), `pragma_index_list` (unique) and the
  WHERE clause of the CREATE INDEX text in `sqlite_master`.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from polyplan.stores.relational.explain import IndexShape, KeyPart, MySQLColumn, mysql_key_part_length
from polyplan.stores.relational.sqltext import text_clause

_PROBE = "polyplan_predicate_probe"


def read_index(connection: sa.Connection, engine: str, table: str, name: str) -> IndexShape | None:
    """The index `name` of `table` as `engine`'s catalog describes it, or None when missing."""
    readers = {"postgresql": _postgresql, "mysql": _mysql, "sqlite": _sqlite}
    return readers[engine](connection, table, name)


def _postgresql(connection: sa.Connection, table: str, name: str) -> IndexShape | None:
    head = connection.execute(
        sa.text(
            "SELECT i.indisunique, am.amname, i.indnkeyatts, pg_get_expr(i.indpred, i.indrelid) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE i.indexrelid = to_regclass(quote_ident(:name)) AND i.indrelid = to_regclass(quote_ident(:table))"
        ),
        {"name": name, "table": table},
    ).first()
    if head is None:
        return None
    unique, method, key_count, predicate = head
    # indoption and indclass are 0-based vectors with one entry per key column.
    parts = connection.execute(
        sa.text(
            "SELECT k.n, coalesce(a.attname, pg_get_indexdef(i.indexrelid, k.n::int, true)), "
            "coalesce(i.indoption[k.n - 1] & 1 = 1, false), "
            "CASE WHEN oc.opcdefault THEN NULL ELSE oc.opcname END "
            "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) "
            "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0 "
            "LEFT JOIN pg_opclass oc ON k.n <= i.indnkeyatts AND oc.oid = i.indclass[k.n - 1] "
            "WHERE i.indexrelid = to_regclass(quote_ident(:name)) ORDER BY k.n"
        ),
        {"name": name},
    ).all()
    keys = tuple(KeyPart(str(r[1]), bool(r[2]), opclass=r[3]) for r in parts if r[0] <= key_count)
    include = tuple(str(r[1]) for r in parts if r[0] > key_count)
    return IndexShape(name, table, keys, include, predicate, bool(unique), str(method))


def postgresql_predicate(connection: sa.Connection, table: str, column: str, where: str) -> str:
    """The design's partial predicate `where` as PostgreSQL normalises it (`pg_get_expr`).

    A probe index with that predicate is created and dropped again by rolling back, so the
    catalog's text and the design's are rendered by the same function.
    """
    quote = connection.dialect.identifier_preparer.quote
    with connection.begin_nested() if connection.in_transaction() else connection.begin() as transaction:
        # `where` holds the design's constants, which may contain `%` or `:name`.
        connection.execute(text_clause(f"CREATE INDEX {_PROBE} ON {quote(table)} ({quote(column)}) WHERE {where}"))
        text = connection.execute(
            sa.text("SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = to_regclass(:probe)"),
            {"probe": _PROBE},
        ).scalar_one()
        transaction.rollback()
    return str(text)


_MYSQL_PARTS = (
    "SELECT s.SEQ_IN_INDEX, s.COLUMN_NAME, s.COLLATION, s.SUB_PART, s.NON_UNIQUE, s.INDEX_TYPE, "
    "c.DATA_TYPE, c.IS_NULLABLE, c.CHARACTER_OCTET_LENGTH, c.CHARACTER_MAXIMUM_LENGTH, "
    "c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION "
    "FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c "
    "ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "
    "WHERE s.TABLE_SCHEMA = DATABASE() AND s.TABLE_NAME = :table AND s.INDEX_NAME = :name ORDER BY s.SEQ_IN_INDEX"
)


def _mysql(connection: sa.Connection, table: str, name: str) -> IndexShape | None:
    rows = connection.execute(sa.text(_MYSQL_PARTS), {"table": table, "name": name}).all()
    if not rows:
        return None
    method = str(rows[0][5]).lower()
    # A SPATIAL key part reports SUB_PART 32 (its bounding box's bytes), not a prefix anyone chose.
    spatial = method == "spatial"
    columns = tuple(
        KeyPart(str(r[1]), r[2] == "D", length=int(r[3]) if r[3] is not None and not spatial else None) for r in rows
    )
    return IndexShape(name, table, columns, unique=not int(rows[0][4]), method=method)


def mysql_key_parts(connection: sa.Connection, table: str, name: str) -> list[int | None]:
    """Each key part's byte length in `key_len` terms (None where the type is not known)."""
    rows = connection.execute(sa.text(_MYSQL_PARTS), {"table": table, "name": name}).all()
    return [
        mysql_key_part_length(
            MySQLColumn(
                data_type=str(r[6]),
                nullable=r[7] == "YES",
                octet_length=r[8],
                max_length=r[9],
                precision=r[10],
                scale=r[11],
                datetime_precision=r[12],
                sub_part=r[3],
            )
        )
        for r in rows
    ]


def _sqlite(connection: sa.Connection, table: str, name: str) -> IndexShape | None:
    listed = connection.execute(
        sa.text('SELECT "unique", partial FROM pragma_index_list(:table) WHERE name = :name'),
        {"table": table, "name": name},
    ).first()
    if listed is None:
        return None
    parts = connection.execute(
        sa.text('SELECT name, "desc", coll FROM pragma_index_xinfo(:name) WHERE key = 1 ORDER BY seqno'),
        {"name": name},
    ).all()
    columns = tuple(KeyPart(str(r[0]), bool(r[1]), collation=str(r[2]).upper()) for r in parts)
    where = None
    if listed[1]:
        sql = connection.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"), {"name": name}
        ).scalar_one()
        where = sqlite_where(str(sql))
    return IndexShape(name, table, columns, (), where, bool(listed[0]))


def sqlite_where(create_index: str) -> str | None:
    """The WHERE clause of a CREATE INDEX statement (SQLite keeps the text as written)."""
    # The key list ends at the last `)` before WHERE; column names cannot hold one unquoted.
    found = re.search(r"\)\s*WHERE\s+(.*)$", create_index, re.IGNORECASE | re.DOTALL)
    return " ".join(found.group(1).split()).rstrip(";") if found else None

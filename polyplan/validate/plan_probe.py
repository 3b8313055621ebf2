"""Asking a loaded database for a pattern's plan: parameters from the loaded rows, the EXPLAIN itself.

Shared by the generated `test_<engine>_indexes.py` (the index proofs) and `polyplan tune`, which
both EXPLAIN each access pattern's query as `queries.sql` holds it against seeded rows. A
`check` is one engine's entry of a proof in `tests/data/indexes.json`
(`polyplan.stores.relational.index_testgen`): the query's parameters (`name`, `column`, `op`)
and the SQL of the pattern's constant filters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.stores.relational.index_needs import PREFIX_SELECTIVITY
from polyplan.stores.relational.sqltext import text_clause
from polyplan.validate.membership import SEP, inside_value, is_sub_field
from polyplan.validate.oracle import expand_lists

EXPLAIN_PREFIX = {"postgresql": "EXPLAIN (FORMAT JSON) ", "mysql": "EXPLAIN ", "sqlite": "EXPLAIN QUERY PLAN "}
_ALL_VISIBLE_TRIES = 100
# A prefix proof's value matches at most this many seeded rows, or the design's share of them.
PREFIX_PROOF_ROWS = 10


def quote(connection: sa.Connection, name: str) -> str:
    """`name` quoted as the connection's dialect quotes identifiers."""
    return str(connection.dialect.identifier_preparer.quote(name))


def vacuum_until_all_visible(connection: sa.Connection) -> bool:
    """VACUUM ANALYZE (PostgreSQL, autocommit connection) until every heap page is all-visible,
    so that index-only scans are costed as such; False when 20 s were not enough.

    An autovacuum ANALYZE that started while the load was still running holds a snapshot older
    than the last rows, and a VACUUM during it cannot mark their pages all-visible.
    """
    lagging = (
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace AND relallvisible < relpages"
    )
    for _ in range(_ALL_VISIBLE_TRIES):
        connection.exec_driver_sql("VACUUM ANALYZE")
        if not connection.exec_driver_sql(lagging).scalar():
            return True
        time.sleep(0.2)
    return False


def _word(text: Any) -> str:
    words = [w for w in re.split(r"[^0-9A-Za-z]+", str(text)) if len(w) >= 4]
    return max(words, key=lambda w: (len(w), w)) if words else str(text)


def _selective_prefix(connection: sa.Connection, matching: str, value: str, count: int) -> str:
    """A prefix of `value` for a prefix search's proof: its first alphanumeric characters (up to
    4), lengthened one character at a time while it matches more than the design's share
    (`PREFIX_SELECTIVITY` of `count` rows, at least PREFIX_PROOF_ROWS): the design prices a prefix
    search at that share. Fuzz model 1384: values of `(red|green|blue)-[0-9]{1,3}`, where `blue`
    matches a third of the rows and PostgreSQL rightly scanned to the LIMIT'th match; `blue-12`
    matches the few rows the design counted. `matching` is `table WHERE ... AND column`; the
    prefix stops before a LIKE wildcard or escape character."""
    found = re.match(r"[0-9A-Za-z]{1,4}|.", value)
    prefix = found.group(0) if found else value
    enough = max(PREFIX_PROOF_ROWS, count * PREFIX_SELECTIVITY)
    counted = text_clause(f"SELECT count(*) FROM {matching} LIKE :p")
    while len(prefix) < len(value) and value[len(prefix)] not in "%_\\":
        if (connection.execute(counted, {"p": prefix + "%"}).scalar() or 0) <= enough:
            break
        prefix = value[: len(prefix) + 1]
    return prefix


def pattern_params(connection: sa.Connection, table: str, check: dict[str, Any]) -> dict[str, Any]:
    """Values for the pattern's parameters, taken from a loaded row a third of the way into the
    rows that match its constants (so that each parameter finds rows, and a typical number), or
    from the largest group when the check asks for it (an ordered read of a group's first rows)."""
    params = check["params"]
    if not params:
        return {}

    def q(name: str) -> str:
        return quote(connection, name)

    where = f" WHERE {check['constants']}" if check["constants"] else ""
    # A contains or JSON sub-field parameter (`payload#device.model`) reads its JSON column.
    columns = sorted({p["column"].split(SEP, 1)[0] for p in params})
    selected = ", ".join(q(c) for c in columns)
    not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in columns)
    where = f"{where} AND {not_null}" if where else f" WHERE {not_null}"
    # Counted among the rows that can give the parameters: an optional reference may be set on few.
    # `where` holds the pattern's constants (model values: `%`, `:name`…), hence text_clause.
    count = connection.execute(text_clause(f"SELECT count(*) FROM {q(table)}{where}")).scalar() or 0
    if check.get("group") == "largest":
        # The first rows of a group in an order: the group the ordered index saves most on.
        largest = f"GROUP BY {selected} ORDER BY count(*) DESC, {selected} LIMIT 1"
        row = connection.execute(text_clause(f"SELECT {selected} FROM {q(table)}{where} {largest}")).first()
    else:
        row = connection.execute(
            text_clause(f"SELECT {selected} FROM {q(table)}{where} ORDER BY {selected} LIMIT 1 OFFSET {count // 3}")
        ).first()
    if row is None:
        raise LookupError(f"no seeded row of {table} matches the pattern's constants")
    sample = dict(zip(columns, row, strict=True))
    values: dict[str, Any] = {}
    for param in params:
        column, value = param["column"], sample[param["column"].split(SEP, 1)[0]]
        if param["op"] == "contains" or is_sub_field(column):
            values[param["name"]] = inside_value(column, param["op"], value)
        elif param["op"] in ("eq", "from", "above"):
            values[param["name"]] = value
        elif param["op"] == "in":
            others = connection.exec_driver_sql(
                f"SELECT DISTINCT {q(column)} FROM {q(table)} WHERE {q(column)} IS NOT NULL ORDER BY 1 LIMIT 2"
            ).scalars()
            values[param["name"]] = [value, *[o for o in others if o != value][:1]]
        elif param["op"] in ("to", "through"):
            step = max(1, count // 100)
            above = sa.text(
                f"SELECT {q(column)} FROM {q(table)} WHERE {q(column)} > :v ORDER BY 1 LIMIT 1 OFFSET {step}"
            )
            upper = connection.execute(above, {"v": value}).scalar()
            values[param["name"]] = upper if upper is not None else value
        elif param["op"] == "prefix":
            prefix = _selective_prefix(connection, f"{q(table)}{where} AND {q(column)}", str(value), count)
            values[param["name"]] = prefix + ("%" if param.get("wildcard") else "")
        else:
            values[param["name"]] = _word(value)
    return values


def list_params(check: dict[str, Any]) -> list[str]:
    """The names of a check's IN-list parameters (bound as one value each)."""
    return [p["name"] for p in check["params"] if p["op"] == "in"]


def explain(connection: sa.Connection, engine: str, sql: str, params: dict[str, Any], lists: Sequence[str]) -> Any:
    """The engine's EXPLAIN rows of `sql` with `params` (IN lists expanded)."""
    sql, bound = expand_lists(sql, params, lists)
    return connection.execute(text_clause(EXPLAIN_PREFIX[engine] + sql), bound).fetchall()


def partition_indexes(connection: sa.Connection, engine: str, names: set[str]) -> set[str]:
    """The indexes of a partitioned table's partitions attached to `names` (PostgreSQL plans name
    the partition's index, e.g. alert_default_device_id_idx): they are the designed index too."""
    if engine != "postgresql" or not names:
        return set()
    sql = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(:names)"
    )
    return {str(r[0]) for r in connection.execute(sa.text(sql), {"names": sorted(names)})}


def serving_index_names(connection: sa.Connection, engine: str, table: str, columns: Sequence[str]) -> set[str]:
    """`constraint_index_names` with the indexes a partitioned table's partitions attach to them,
    which PostgreSQL's plans name (fuzz model 242: `line_item_default_a0_idx` for the plain `(a0)`
    index a proof accepts beside the routed partial one)."""
    names = constraint_index_names(connection, engine, table, columns)
    return names | partition_indexes(connection, engine, names)


def constraint_index_names(connection: sa.Connection, engine: str, table: str, columns: Sequence[str]) -> set[str]:
    """Indexes of `table` whose key starts with exactly `columns` (any order): the primary key,
    unique constraints and indexes that can serve a pattern routed to a constraint."""
    inspector = sa.inspect(connection)
    wanted = set(columns)
    # SQLite's automatic indexes (of UNIQUE and PRIMARY KEY constraints) only when asked for.
    listed = (
        inspector.get_indexes(table, include_auto_indexes=True) if engine == "sqlite" else inspector.get_indexes(table)
    )
    found = {str(i["name"]) for i in listed if set(i["column_names"][: len(wanted)]) == wanted}
    primary = inspector.get_pk_constraint(table)
    if set(primary["constrained_columns"][: len(wanted)]) == wanted:
        found.add({"postgresql": str(primary["name"]), "mysql": "PRIMARY", "sqlite": "PRIMARY KEY"}[engine])
    for unique in inspector.get_unique_constraints(table):
        if set(unique["column_names"][: len(wanted)]) == wanted and unique["name"]:
            found.add(str(unique["name"]))
    if engine == "sqlite":
        # Names as bound parameters: a Python repr is not a SQL literal.
        for (name,) in connection.execute(sa.text("SELECT name FROM pragma_index_list(:table)"), {"table": table}):
            info = [r[2] for r in connection.execute(sa.text("SELECT * FROM pragma_index_info(:name)"), {"name": name})]
            if set(info[: len(wanted)]) == wanted:
                found.add(str(name))
    return found

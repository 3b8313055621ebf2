"""Drift: how a live relational database differs from the design of a model (`polyplan status`).

Alembic's own comparison (the one autogenerate uses) reads the database and compares it with
the SQLAlchemy metadata `polyplan plan` renders for that engine: tables, columns, nullability,
indexes, unique and foreign-key constraints. CHECK constraints, which Alembic does not compare,
are compared by name. polyplan's own bookkeeping (alembic_version, the archives of dropped
columns, full-text shadow tables, the partitions and archive tables of retention) is not drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from polyplan.migrate.diff import designs_of
from polyplan.plan.ir import Plan
from polyplan.stores.relational.heap_fill import unlogged
from polyplan.stores.relational.index_render import fts_table
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.spec import IndexKind

ENGINE_OF_DIALECT = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
_OWN_PREFIXES = ("polyplan_dropped_", "_polyplan_new_", "alembic_version")


@dataclass(frozen=True, order=True)
class Drift:
    """One difference. `change`: "added" (the database has it, the model does not), "missing"
    (the model has it, the database does not) or "changed"."""

    table: str
    kind: str
    name: str
    change: str

    def describe(self) -> str:
        """One line for `polyplan status`."""
        where = self.table if self.kind == "table" else f"{self.table}.{self.name}"
        return f"{self.change}: {self.kind} {where}"


_KINDS = {
    "table": "table",
    "column": "column",
    "index": "index",
    "constraint": "unique constraint",
    "fk": "foreign key",
}


def _drift_of(entry: tuple[Any, ...]) -> Drift:
    action, _, what = entry[0].partition("_")
    change = {"add": "missing", "remove": "added"}.get(action, "changed")
    if what == "table":
        return Drift(entry[1].name, "table", entry[1].name, change)
    if what == "column":
        return Drift(entry[2], "column", entry[3].name, change)
    if what in ("index", "constraint", "fk"):
        item = entry[1]
        return Drift(item.table.name, _KINDS[what], str(item.name), change)
    # ("modify_nullable", schema, table, column, ...): a column's definition changed by hand.
    return Drift(entry[2], "column", f"{entry[3]} ({what})", "changed")


def _fillfactor(options: Any) -> str | None:
    """The fillfactor among a table's PostgreSQL options, reflected (`postgresql_with`, text
    values) or designed (`with`, numbers), as text; None for the default."""
    found = options.get("postgresql_with") if "postgresql_with" in options else options.get("with")
    value = (found or {}).get("fillfactor")
    return None if value is None or str(value) == "100" else str(value)


def drift(plan: Plan, connection: sa.Connection) -> list[Drift]:
    """Every difference between the database behind `connection` and `plan`'s relational design."""
    engine = ENGINE_OF_DIALECT[connection.dialect.name]
    design = designs_of(plan)[engine]
    own = {fts_table(i) for t in design.tables.values() for i in t.indexes if i.kind is IndexKind.FULLTEXT}
    aged = [rule for t in design.tables.values() if (rule := retention_of(t)) is not None]

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ != "table" or name is None:
            # A partition's own indexes are its table's: left out with the partition.
            table = parent_names.get("table_name") if isinstance(parent_names, dict) else None
            return table is None or not any(rule.owns(table) for rule in aged)
        return (
            not name.startswith(_OWN_PREFIXES)
            and not any(name.startswith(t) for t in own)
            and not any(rule.owns(name) for rule in aged)
        )

    context = MigrationContext.configure(connection, opts={"compare_type": False, "include_name": include_name})
    found: list[Drift] = []
    for entry in compare_metadata(context, design.rendered.metadata):
        for item in entry if isinstance(entry, list) else [entry]:
            found.append(_drift_of(item))
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    for table in sorted(design.tables):
        if table not in existing:
            continue
        wanted = {c.name for c in design.rendered.constraints.get(table, []) if c.kind == "check"}
        json_columns = {c.name for c in design.table(table).columns if isinstance(c.type, sa.JSON)}
        # MariaDB adds a CHECK (json_valid(col)) named after each JSON column by itself.
        have = {str(c["name"]) for c in inspector.get_check_constraints(table) if c.get("name")} - json_columns
        found += [Drift(table, "check constraint", name, "added") for name in sorted(have - wanted)]
        found += [Drift(table, "check constraint", name, "missing") for name in sorted(wanted - have)]
        if engine == "postgresql" and _fillfactor(inspector.get_table_options(table)) != _fillfactor(
            design.table(table).dialect_options["postgresql"]
        ):
            found.append(Drift(table, "storage parameter", "fillfactor", "changed"))
        if engine == "postgresql":
            logged = connection.execute(
                sa.text("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(:name)"), {"name": table}
            ).scalar()
            if (logged == "u") != unlogged(design.spec(table)):
                found.append(Drift(table, "persistence", "unlogged", "changed"))
    return sorted(set(found))

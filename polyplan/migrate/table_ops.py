"""Migration operations on tables and their columns: add, drop (its values archived), rename,
restore from an archive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.schema import CreateColumn

from polyplan.migrate.context import Context
from polyplan.migrate.op_base import (
    Operation,
    Order,
    allow,
    column_sql,
    comment_steps,
    name_sql,
    not_null_steps,
)
from polyplan.migrate.sql import (
    Step,
    compile_ddl,
    guards,
    mysql_online,
    online_guards,
    table_ddl,
)
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.index_render import (
    fts_table,
)
from polyplan.stores.relational.retention_sql import install_statements, uninstall_statements
from polyplan.stores.relational.spec import IndexKind


@dataclass(frozen=True)
class AddTable(Operation):
    table: str
    kind: ClassVar[str] = "add_table"

    order: ClassVar[Order] = Order.TABLE

    def reverse(self) -> Operation:
        return DropTable(self.table)

    def describe(self) -> str:
        return f"+ table {self.table}"

    def steps(self, ctx: Context) -> list[Step]:
        # A new table is empty: its indexes are built with it, nothing waits on them. An aged one
        # also gets what schema.sql installs after it (partitions, archive table, jobs).
        created = table_ddl(ctx.after.table(self.table), ctx.engine)
        aging = install_statements(ctx.after.spec(self.table), ctx.after.table(self.table), ctx.engine)
        return guards(ctx.engine) + [Step(sql) for sql in [*created, *aging]]


@dataclass(frozen=True)
class DropTable(Operation):
    table: str
    kind: ClassVar[str] = "drop_table"

    order: ClassVar[Order] = Order.TABLE

    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        return AddTable(self.table)

    def describe(self) -> str:
        return f"- table {self.table}"

    def steps(self, ctx: Context) -> list[Step]:
        steps = guards(ctx.engine)
        if ctx.engine == "sqlite":
            # FTS5 shadow tables and their triggers belong to the table (see index_render.fts5_ddl).
            for spec in ctx.before.spec(self.table).indexes:
                if spec.kind is IndexKind.FULLTEXT:
                    steps.append(Step(f"DROP TABLE IF EXISTS {name_sql(ctx, fts_table(spec))}"))
        steps += [Step(sql) for sql in uninstall_statements(ctx.before.spec(self.table), ctx.engine)]
        return [*steps, Step(f"DROP TABLE {name_sql(ctx, self.table)}")]


@dataclass(frozen=True)
class RenameTable(Operation):
    old: str
    table: str
    kind: ClassVar[str] = "rename_table"

    order: ClassVar[Order] = Order.RENAME_TABLE

    def reverse(self) -> Operation:
        return RenameTable(self.table, self.old)

    def describe(self) -> str:
        return f"~ table {self.old} → {self.table} (renamed)"

    def steps(self, ctx: Context) -> list[Step]:
        old, new = name_sql(ctx, self.old), name_sql(ctx, self.table)
        sql = f"RENAME TABLE {old} TO {new}" if ctx.engine == "mysql" else f"ALTER TABLE {old} RENAME TO {new}"
        steps = [*guards(ctx.engine), Step(sql)]
        before_key = ctx.before.table(self.old).primary_key.name
        after_key = ctx.after.table(self.table).primary_key.name
        if ctx.engine == "postgresql" and before_key != after_key:
            # The key's name follows the table's, as in a fresh schema (MariaDB's is always PRIMARY;
            # SQLite's is rebuilt with the table when anything else changes).
            steps.append(
                Step(
                    f"ALTER TABLE {new} RENAME CONSTRAINT {name_sql(ctx, str(before_key))} TO {name_sql(ctx, str(after_key))}"
                )
            )
        return steps


def _constant_default(column: sa.Column[Any]) -> bool:
    default = column.server_default
    if default is None:
        return True
    text = str(getattr(default, "arg", ""))
    return "CURRENT_" not in text.upper() and "(" not in text


@dataclass(frozen=True)
class AddColumn(Operation):
    table: str
    column: str
    kind: ClassVar[str] = "add_column"

    order: ClassVar[Order] = Order.COLUMN

    def reverse(self) -> Operation:
        return DropColumn(self.table, self.column)

    def describe(self) -> str:
        return f"+ column {self.table}.{self.column}"

    def steps(self, ctx: Context) -> list[Step]:
        sql = f"ALTER TABLE {name_sql(ctx, self.table)} ADD COLUMN {column_sql(ctx, self.table, self.column)}"
        if ctx.engine == "mysql":
            sql = mysql_online(sql, "INSTANT")
        return [*guards(ctx.engine), Step(sql), *comment_steps(ctx, self.table, self.column)]

    def sqlite_rebuild(self, ctx: Context) -> bool:
        # SQLite adds a column in place only with a constant default (or none, when nullable).
        column = ctx.after.table(self.table).c[self.column]
        return not _constant_default(column) or (not column.nullable and column.server_default is None)


def archive_table(table: str, column: str) -> str:
    """Where the contract keeps a dropped column's values, keyed by the row's primary key."""
    return fit(f"polyplan_dropped_{table}_{column}")


def _key_columns(ctx: Context, table: str, after: bool) -> list[str]:
    design = ctx.after if after else ctx.before
    return [c.name for c in design.table(table).primary_key.columns]


def archive_steps(ctx: Context, table: str, column: str, archive_name: str) -> list[Step]:
    """Copy a column's values aside before it is dropped, so that a downgrade can restore them."""
    archive = name_sql(ctx, archive_name)
    selected = ", ".join(name_sql(ctx, c) for c in [*_key_columns(ctx, table, after=False), column])
    # A plain copy under a share lock: writes go on; the scan may take long, so no statement timeout.
    return [
        *online_guards(ctx.engine),
        Step(allow("PP807", "a copy left by an earlier, failed run", f"DROP TABLE IF EXISTS {archive}")),
        Step(f"CREATE TABLE {archive} AS SELECT {selected} FROM {name_sql(ctx, table)}"),
    ]


def restored_value(ctx: Context, table: str, column: str, archive_name: str) -> str:
    """The archived value of `column` for the current row of `table` (a correlated subquery)."""
    archive, alias = name_sql(ctx, archive_name), name_sql(ctx, table)
    match = " AND ".join(
        f"a.{name_sql(ctx, k)} = {alias}.{name_sql(ctx, k)}" for k in _key_columns(ctx, table, after=True)
    )
    return f"(SELECT a.{name_sql(ctx, column)} FROM {archive} a WHERE {match})"


@dataclass(frozen=True)
class DropColumn(Operation):
    """A column dropped. `keep`: the contract first copies its values into an archive table (see
    `archive_table`), and the reverse restores them; a column that only the new version added is
    dropped without."""

    table: str
    column: str
    keep: bool = False
    archive: str = ""  # the archive table's name, fixed when the drop is planned
    kind: ClassVar[str] = "drop_column"

    order: ClassVar[Order] = Order.COLUMN

    removes: ClassVar[bool] = True

    def reverse(self) -> Operation:
        if self.keep:
            return RestoreColumn(self.table, self.column, self.archive or archive_table(self.table, self.column))
        return AddColumn(self.table, self.column)

    def describe(self) -> str:
        kept = f" (values kept in {self.archive or archive_table(self.table, self.column)})" if self.keep else ""
        return f"- column {self.table}.{self.column}{kept}"

    def steps(self, ctx: Context) -> list[Step]:
        sql = f"ALTER TABLE {name_sql(ctx, self.table)} DROP COLUMN {name_sql(ctx, self.column)}"
        if ctx.engine == "mysql":
            sql = mysql_online(sql, "INSTANT")
        name = self.archive or archive_table(self.table, self.column)
        archive = archive_steps(ctx, self.table, self.column, name) if self.keep else []
        return [*archive, *guards(ctx.engine), Step(sql)]

    def sqlite_rebuild(self, ctx: Context) -> bool:
        return True  # SQLite refuses DROP COLUMN on a column any index or constraint names


@dataclass(frozen=True)
class RestoreColumn(AddColumn):
    """The reverse of a kept drop: the column comes back with the values archived when it went."""

    archive: str = ""
    kind: ClassVar[str] = "restore_column"

    @property
    def archive_name(self) -> str:
        """The table the values come back from."""
        return self.archive or archive_table(self.table, self.column)

    def reverse(self) -> Operation:
        return DropColumn(self.table, self.column, keep=True, archive=self.archive_name)

    def describe(self) -> str:
        return f"+ column {self.table}.{self.column} (restored from {self.archive_name})"

    def sqlite_rebuild(self, ctx: Context) -> bool:
        return True

    def steps(self, ctx: Context) -> list[Step]:
        engine, table, column = ctx.engine, name_sql(ctx, self.table), name_sql(ctx, self.column)
        built = ctx.after.table(self.table).c[self.column]
        loose = built._copy()
        loose.nullable = True  # filled first, required after: rows written since the drop have no value
        definition = compile_ddl(CreateColumn(loose), engine)
        add = f"ALTER TABLE {table} ADD COLUMN {definition}"
        steps = [*guards(engine), Step(mysql_online(add, "INSTANT") if engine == "mysql" else add)]
        steps += [
            *online_guards(engine),
            Step(f"UPDATE {table} SET {column} = {restored_value(ctx, self.table, self.column, self.archive_name)}"),
        ]
        if not built.nullable:
            if engine == "postgresql":
                steps += not_null_steps(ctx, self.table, self.column)
            else:
                required = column_sql(ctx, self.table, self.column)
                steps += [
                    *guards(engine),
                    Step(mysql_online(f"ALTER TABLE {table} MODIFY {required}", "COPY", "SHARED")),
                ]
        return [
            *steps,
            *comment_steps(ctx, self.table, self.column),
            Step(f"DROP TABLE {name_sql(ctx, self.archive_name)}"),
        ]

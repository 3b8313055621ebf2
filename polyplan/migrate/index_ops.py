"""Migration operations on indexes and constraints, by name: built and dropped online per engine,
constraints added unvalidated then validated, an index replaced under a temporary name."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint as SAAddConstraint
from sqlalchemy.schema import CreateColumn, CreateIndex

from polyplan.migrate.context import Context, renamed_index
from polyplan.migrate.op_base import (
    Operation,
    Order,
    allow,
    name_sql,
)
from polyplan.migrate.sql import (
    Step,
    autocommit,
    compile_ddl,
    guards,
    mysql_online,
    online_guards,
)
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.index_render import (
    attach_index,
    fts5_ddl,
    fts_table,
    tsvector_column,
)
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableSpec

if TYPE_CHECKING:
    from polyplan.migrate.column_ops import ColumnChange


@dataclass(frozen=True)
class _Named(Operation):
    """An index or a constraint of a table, by name; subclasses say what and how."""

    table: str
    name: str
    what: ClassVar[str] = ""
    sign: ClassVar[str] = "+"
    order: ClassVar[Order] = Order.INDEX
    removes: ClassVar[bool] = False
    opposite: ClassVar[str] = ""  # the class of the reverse operation
    note: ClassVar[str] = ""

    def reverse(self) -> Operation:
        opposite = next(c for c in _Named.__subclasses__() if c.__name__ == self.opposite)
        return opposite(self.table, self.name)

    def describe(self) -> str:
        return f"{self.sign} {self.what} {self.name} on {self.table}{self.note}"


@dataclass(frozen=True)
class _Built:
    """An index as one engine creates it, with the table it is created on."""

    index: sa.Index
    spec: IndexSpec
    table: sa.Table


def _index_on(
    table: sa.Table,
    spec: IndexSpec,
    engine: str,
    name: str,
    columns: dict[str, str],
    types: dict[str, Any],
    table_name: str | None = None,
) -> _Built | None:
    """`spec` rendered for `engine` under `name`, on a copy of `table` (named `table_name`) whose
    columns `columns` renames (and `types`, keyed by the new names, retypes): an index on columns
    that are called otherwise while a change is under way. None when the engine creates no index
    for it.

    Rendered by the planner's own `attach_index`, so that it is exactly the index `polyplan plan`
    creates, only on other column names."""
    copy = sa.Table(
        table_name or table.name,
        sa.MetaData(),
        *(
            sa.Column(columns.get(c.name, c.name), types.get(columns.get(c.name, c.name), c.type), nullable=c.nullable)
            for c in table.columns
            if c.computed is None  # a full-text index's generated column: attach_index adds its own
        ),
    )

    renamed = renamed_index(spec, name, copy.name, columns)
    attach_index(copy, renamed, engine, copy.metadata)
    index = next((i for i in copy.indexes if i.name == name), None)
    return _Built(index, renamed, copy) if index is not None else None


def _ddl(built: _Built | None, engine: str) -> str | None:
    return compile_ddl(CreateIndex(built.index), engine) if built is not None else None


def _build_steps(ctx: Context, table_name: str, built: _Built) -> list[Step]:
    """The steps that build `built` while the application reads and writes the table."""
    engine, table, spec = ctx.engine, name_sql(ctx, table_name), built.spec
    create = compile_ddl(CreateIndex(built.index), engine)
    if engine == "mysql":
        lock = "SHARED" if spec.kind is IndexKind.FULLTEXT else "NONE"
        return [*guards(engine), Step(f"{create} ALGORITHM=INPLACE LOCK={lock}")]
    if engine == "sqlite":
        return [Step(create)]
    steps: list[Step] = []
    if spec.kind is IndexKind.FULLTEXT:
        # The generated tsvector column rewrites the table (lint PP801): stated, not hidden.
        column = compile_ddl(CreateColumn(built.table.c[tsvector_column(spec)]), engine)
        steps += [*guards(engine), Step(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}")]
    if _partitioned(ctx.after.spec(table_name)):
        # PostgreSQL builds no index CONCURRENTLY on a partitioned table: writes wait for the
        # build (lint PP802 says so); smaller in a partition-per-period table than in one heap.
        return [*steps, *guards(engine), Step(create.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))]
    concurrent = create.replace("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1).replace(
        "CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX CONCURRENTLY ", 1
    )
    # A failed concurrent build leaves an INVALID index behind: drop it so that a rerun builds anew.
    drop = f"DROP INDEX CONCURRENTLY IF EXISTS {name_sql(ctx, str(built.index.name))}"
    return steps + autocommit([*online_guards(engine), Step(drop), Step(concurrent)])


def _partitioned(spec: TableSpec) -> bool:
    """Whether PostgreSQL range-partitions the table (retention.py)."""
    rule = retention_of(spec)
    return rule is not None and "postgresql" in rule.partitioned


@dataclass(frozen=True)
class _IndexOperation(_Named):
    """An index of a table, by name. `moves`: the column changes of the same revision on the
    columns the index reads (before or after): while they are under way the new version's
    columns have other names (`ColumnChange.middle`), and an index the expand phase builds must
    name those."""

    moves: tuple[ColumnChange, ...] = ()
    what: ClassVar[str] = "index"
    order: ClassVar[Order] = Order.INDEX

    def reverse(self) -> Operation:
        opposite = next(c for c in _IndexOperation.__subclasses__() if c.__name__ == self.opposite)
        moves = tuple(m.reverse() for m in self.moves)
        return opposite(self.table, self.name, moves)

    def to_json(self) -> dict[str, Any]:
        moves = [{"table": m.table, "old": m.old, "column": m.column} for m in self.moves]
        return {**super().to_json(), "moves": moves}

    def _moves(self) -> tuple[ColumnChange, ...]:
        # A reversed operation may name its table as the other version does: its moves follow it.
        return tuple(replace(m, table=self.table) for m in self.moves)

    def _middle(self, ctx: Context, name: str) -> _Built | None:
        """The index `ctx.after` designs under `name`, on the columns that hold the new version's
        values between the expand and the contract."""
        spec = ctx.after.index_spec(self.table, self.name)
        moves = self._moves()
        columns = {m.column: m.middle(ctx) for m in moves}
        # A column used where it stands (MariaDB, or a change PostgreSQL makes in place) keeps its
        # old type until the contract.
        kept = [m.old for m in moves if m.middle(ctx) == m.old]
        types = {old: ctx.before.table(self.table).c[old].type for old in kept}
        return _index_on(ctx.after.table(self.table), spec, ctx.engine, name, columns, types)


@dataclass(frozen=True)
class AddIndex(_IndexOperation):
    kind: ClassVar[str] = "add_index"
    sign: ClassVar[str] = "+"
    opposite: ClassVar[str] = "DropIndex"

    def steps(self, ctx: Context) -> list[Step]:
        spec = ctx.after.index_spec(self.table, self.name)
        if ctx.engine == "sqlite" and spec.kind is IndexKind.FULLTEXT:
            fts = name_sql(ctx, fts_table(spec))
            return [Step(sql) for sql in fts5_ddl(self.table, spec)] + [
                Step(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            ]
        if ctx.after.index(self.table, self.name) is None:
            return []  # this engine substitutes nothing for it (see index-plan.md)
        built = self._middle(ctx, self.name)
        return _build_steps(ctx, self.table, built) if built is not None else []


@dataclass(frozen=True)
class DropIndex(_IndexOperation):
    kind: ClassVar[str] = "drop_index"
    sign: ClassVar[str] = "-"
    removes: ClassVar[bool] = True
    opposite: ClassVar[str] = "AddIndex"

    def steps(self, ctx: Context) -> list[Step]:
        spec = ctx.before.index_spec(self.table, self.name)
        engine, name, table = ctx.engine, name_sql(ctx, self.name), name_sql(ctx, self.table)
        if engine == "sqlite" and spec.kind is IndexKind.FULLTEXT:
            fts = fts_table(spec)
            triggers = [Step(f"DROP TRIGGER IF EXISTS {name_sql(ctx, fts + s)}") for s in ("_ai", "_ad", "_au")]
            return [*triggers, Step(f"DROP TABLE IF EXISTS {name_sql(ctx, fts)}")]
        if ctx.before.index(self.table, self.name) is None:
            return []
        if engine == "mysql":
            return [*guards(engine), Step(mysql_online(f"ALTER TABLE {table} DROP INDEX {name}", "INPLACE"))]
        if engine == "sqlite":
            return [Step(f"DROP INDEX IF EXISTS {name}")]
        steps = _drop_postgresql_index(ctx, self.table, name)
        if spec.kind is IndexKind.FULLTEXT:
            column = name_sql(ctx, tsvector_column(spec))
            steps += [*guards(engine), Step(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")]
        return steps


def _drop_postgresql_index(ctx: Context, table: str, name: str) -> list[Step]:
    """DROP INDEX on PostgreSQL: CONCURRENTLY (reads and writes go on), except on a partitioned
    table, which has no concurrent drop."""
    if _partitioned(ctx.before.spec(table)):
        return [*guards(ctx.engine), Step(f"DROP INDEX IF EXISTS {name}")]
    return autocommit([*guards(ctx.engine), Step(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")])


@dataclass(frozen=True)
class AddConstraint(_Named):
    kind: ClassVar[str] = "add_constraint"
    what: ClassVar[str] = "constraint"
    sign: ClassVar[str] = "+"
    order: ClassVar[Order] = Order.CONSTRAINT
    opposite: ClassVar[str] = "DropConstraint"

    def sqlite_rebuild(self, ctx: Context) -> bool:
        return True

    def steps(self, ctx: Context) -> list[Step]:
        found = ctx.after.constraint(self.table, self.name)
        if found is None or ctx.engine == "sqlite":
            return []
        rule, built = found
        engine, table, name = ctx.engine, name_sql(ctx, self.table), name_sql(ctx, self.name)
        # Not isolated: the constraint stays part of its table for every later CREATE TABLE.
        add = compile_ddl(SAAddConstraint(built, isolate_from_table=False), engine)
        if engine == "mysql":
            # A primary key rebuilds the table in place while writes go on (InnoDB online DDL).
            algorithm = ("INPLACE", "NONE") if rule.kind in ("unique", "primary_key") else ("COPY", "SHARED")
            return [*guards(engine), Step(mysql_online(add, *algorithm))]
        if rule.kind in ("unique", "primary_key"):
            what = "UNIQUE" if rule.kind == "unique" else "PRIMARY KEY"
            # PostgreSQL takes no NOT VALID primary key: build its unique index concurrently, then
            # attach it (the key columns are already NOT NULL: key attributes cannot be nullable).
            columns = ", ".join(name_sql(ctx, c) for c in rule.columns)
            build = f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns})"
            return [
                *autocommit(
                    [
                        *online_guards(engine),
                        Step(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"),
                        Step(build),
                    ]
                ),
                *guards(engine),
                Step(f"ALTER TABLE {table} ADD CONSTRAINT {name} {what} USING INDEX {name}"),
            ]
        # Checked for new rows at once, for existing rows by VALIDATE, which lets writes run.
        return [
            *guards(engine),
            Step(f"{add} NOT VALID"),
            *autocommit([*online_guards(engine), Step(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")]),
        ]


@dataclass(frozen=True)
class DropConstraint(_Named):
    kind: ClassVar[str] = "drop_constraint"
    what: ClassVar[str] = "constraint"
    sign: ClassVar[str] = "-"
    order: ClassVar[Order] = Order.CONSTRAINT
    removes: ClassVar[bool] = True
    opposite: ClassVar[str] = "AddConstraint"

    def sqlite_rebuild(self, ctx: Context) -> bool:
        return True

    def steps(self, ctx: Context) -> list[Step]:
        found = ctx.before.constraint(self.table, self.name)
        if found is None or ctx.engine == "sqlite":
            return []
        rule, _ = found
        engine, table, name = ctx.engine, name_sql(ctx, self.table), name_sql(ctx, self.name)
        if engine == "postgresql":
            return [*guards(engine), Step(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")]
        if rule.kind == "primary_key":
            # InnoDB then clusters on a hidden row id: dropping a key without adding one is a copy,
            # which blocks writes (not reads) while it runs.
            return [*guards(engine), Step(mysql_online(f"ALTER TABLE {table} DROP PRIMARY KEY", "COPY", "SHARED"))]
        what = {"unique": "INDEX", "foreign_key": "FOREIGN KEY"}.get(rule.kind, "CONSTRAINT")
        steps = [*guards(engine), Step(mysql_online(f"ALTER TABLE {table} DROP {what} {name}", "INPLACE"))]
        if rule.kind == "foreign_key" and self.name not in {str(i.name) for i in ctx.after.table(self.table).indexes}:
            # InnoDB made an index named after the foreign key when no designed index served it;
            # dropping the key leaves that index behind, which the new design does not have.
            steps.append(Step(mysql_online(f"ALTER TABLE {table} DROP INDEX IF EXISTS {name}", "INPLACE")))
        return steps


@dataclass(frozen=True)
class ReplaceConstraint(_Named):
    """A constraint whose rule changes (an enum gains a value): replaced in the expand phase, so
    that the new rule holds before the new application version writes."""

    kind: ClassVar[str] = "replace_constraint"
    what: ClassVar[str] = "constraint"
    sign: ClassVar[str] = "~"
    order: ClassVar[Order] = Order.CONSTRAINT
    opposite: ClassVar[str] = "ReplaceConstraint"
    note: ClassVar[str] = " (new rule)"

    def sqlite_rebuild(self, ctx: Context) -> bool:
        return True

    def steps(self, ctx: Context) -> list[Step]:
        return DropConstraint(self.table, self.name).steps(ctx) + AddConstraint(self.table, self.name).steps(ctx)


def replacement_name(name: str) -> str:
    """The name a replacement index is built under, until the contract gives it `name`."""
    return fit(f"{name}__polyplan_new")


@dataclass(frozen=True)
class ReplaceIndex(_IndexOperation):
    """An index whose definition changes under the same name (`redefined`), or whose columns a
    change of the same revision moves to new ones (`moves`): on PostgreSQL the old columns go,
    and their indexes with them.

    The replacement is built in the expand phase under a temporary name (concurrently on
    PostgreSQL, LOCK=NONE on MariaDB), on the columns the new version's values are in by then
    (`ColumnChange.middle`); the contract drops the old index and renames the replacement into
    place, catalog changes only, before any column is swapped. So the table is never without
    one of the two, and the contract has nothing long to wait for. A change PostgreSQL makes in
    place (a longer VARCHAR) and a rename MariaDB's CHANGE COLUMN carries touch no index: where
    the index's definition on the engine is the same on both sides, there are no steps at all."""

    redefined: bool = True
    kind: ClassVar[str] = "replace_index"
    sign: ClassVar[str] = "~"
    opposite: ClassVar[str] = "ReplaceIndex"

    def reverse(self) -> Operation:
        return ReplaceIndex(self.table, self.name, tuple(m.reverse() for m in self.moves), self.redefined)

    def describe(self) -> str:
        if self.redefined:
            return f"~ index {self.name} on {self.table} (new definition)"
        columns = ", ".join(m.column for m in self.moves)
        return f"~ index {self.name} on {self.table} (rebuilt where {columns} move to new columns)"

    def needed(self, ctx: Context) -> bool:
        """Whether `ctx.engine` has anything to do: a column of the index moves to a new one, or
        the index the engine creates differs once the revision's renames are applied."""
        if any(m.middle(ctx) != m.old for m in self._moves()):
            return True
        before, after = ctx.before.index(self.table, self.name), ctx.after.index(self.table, self.name)
        if before is None or after is None:
            return before is not after
        # The old index as it is once the revision's renames are made (under the new table name),
        # against the new one rendered the same way.
        table = ctx.after.table(self.table)
        renames = {m.old: m.column for m in self._moves()}
        old_spec, new_spec = (d.index_spec(self.table, self.name) for d in (ctx.before, ctx.after))
        old = _index_on(ctx.before.table(self.table), old_spec, ctx.engine, self.name, renames, {}, table.name)
        new = _index_on(table, new_spec, ctx.engine, self.name, {}, {})
        return _ddl(old, ctx.engine) != _ddl(new, ctx.engine)

    def expand(self, ctx: Context) -> list[Step]:
        if ctx.engine == "sqlite":
            # One connection writes at a time: nothing waits on the build, and no rename is needed.
            return DropIndex(self.table, self.name).steps(ctx) + AddIndex(self.table, self.name).steps(ctx)
        if not self.needed(ctx) or ctx.after.index(self.table, self.name) is None:
            return []
        built = self._middle(ctx, replacement_name(self.name))
        return _build_steps(ctx, self.table, built) if built is not None else []

    def contract(self, ctx: Context) -> list[Step]:
        if ctx.engine == "sqlite" or not self.needed(ctx):
            return []
        has_old = ctx.before.index(self.table, self.name) is not None
        has_new = ctx.after.index(self.table, self.name) is not None
        if not has_new:
            return DropIndex(self.table, self.name).steps(ctx)
        engine, table, name = ctx.engine, name_sql(ctx, self.table), name_sql(ctx, self.name)
        temporary = name_sql(ctx, replacement_name(self.name))
        if engine == "mysql":
            # One statement: the old index goes and the new one takes its name at once.
            drop = f"DROP INDEX {name}, " if has_old else ""
            sql = f"ALTER TABLE {table} {drop}RENAME INDEX {temporary} TO {name}"
            return [*guards(engine), Step(mysql_online(sql, "INPLACE"))]
        steps = _drop_postgresql_index(ctx, self.table, name) if has_old else []
        spec = ctx.after.index_spec(self.table, self.name)
        if spec.kind is IndexKind.FULLTEXT:
            steps += self._tsvector_columns(ctx)
        # ALTER INDEX ... RENAME locks the index only (SHARE UPDATE EXCLUSIVE): reads and writes go on.
        return steps + autocommit([*guards(engine), Step(f"ALTER INDEX IF EXISTS {temporary} RENAME TO {name}")])

    def _tsvector_columns(self, ctx: Context) -> list[Step]:
        """PostgreSQL full text: the old index's generated column goes (a column it is generated
        from could not be dropped), and the replacement's takes the name the new design gives it."""
        table = name_sql(ctx, self.table)
        middle = self._middle(ctx, replacement_name(self.name))
        new = tsvector_column(ctx.after.index_spec(self.table, self.name))
        used = tsvector_column(middle.spec) if middle is not None else new
        steps: list[Step] = []
        if ctx.before.index(self.table, self.name) is not None:
            old = tsvector_column(ctx.before.index_spec(self.table, self.name))
            if old != used:
                steps += [*guards(ctx.engine), Step(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {name_sql(ctx, old)}")]
        if used != new:
            rename = f"ALTER TABLE {table} RENAME COLUMN {name_sql(ctx, used)} TO {name_sql(ctx, new)}"
            steps += [*guards(ctx.engine), Step(allow("PP808", "no application reads the generated column", rename))]
        return steps

"""Migration operations: one object per schema change, each with its reverse.

An operation renders itself per engine in two phases of expand/contract: `expand` steps run in
the first revision (the old application version keeps working after them), `contract` steps in
the second (after the new version is deployed everywhere). A revision's downgrade renders the
reversed operations in the opposite phase, so `reverse()` is the only undo logic there is:
downgrading the contract revision is `expand` of the reverse, downgrading the expand revision
is `contract` of the reverse.

Per engine:
- PostgreSQL: lock and statement timeouts on every step; indexes built and dropped
  CONCURRENTLY outside the transaction; constraints added NOT VALID then validated; NOT NULL
  through a validated CHECK; a rename or a rewriting type change becomes a new column kept in
  step by a trigger and backfilled in batches (expand), then the swap (contract).
- MariaDB: ALGORITHM=INSTANT or INPLACE with LOCK=NONE where the change allows it, stated
  ALGORITHM=COPY where it does not (the lint reports it); renames and type changes run in the
  contract revision, together with the new application version.
- SQLite: a table whose change SQLite cannot ALTER is rebuilt (see `polyplan.migrate.sqlite`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint as SAAddConstraint
from sqlalchemy.schema import CreateColumn, CreateIndex

from polyplan.migrate.context import Context, renamed_index
from polyplan.migrate.sql import (
    BACKFILL_BATCH,
    Step,
    autocommit,
    compile_ddl,
    guards,
    mysql_online,
    online_guards,
    quote,
    table_ddl,
)
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.index_render import (
    attach_index,
    dialect_of,
    fts5_ddl,
    fts_table,
    tsvector_column,
)
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.retention_sql import install_statements, uninstall_statements
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableSpec


class Order(IntEnum):
    """Where an operation runs within its phase: names first, then what depends on them."""

    RENAME_TABLE = 0
    TABLE = 1
    COLUMN = 2
    REBUILD = 3
    CONSTRAINT = 4
    INDEX = 5
    TRIGGER = 6  # derived attributes' triggers: on the columns they read and write


class Conversion(IntEnum):
    """How a type change treats existing values."""

    SAME = 0
    WIDEN = 1  # every old value fits the new type
    NARROW = 2  # some old values may not fit: the backfill fails on them (lint PP805)


class Operation(ABC):
    """One schema change. `table` is the table's name after the change."""

    kind: ClassVar[str]
    # Position within a phase (removals run in the opposite order to additions).
    order: ClassVar[Order]
    # Operations that take something away run in the contract phase.
    removes: ClassVar[bool] = False
    table: str

    @abstractmethod
    def reverse(self) -> Operation:
        """The operation that undoes this one."""

    @abstractmethod
    def describe(self) -> str:
        """One line for `polyplan diff`."""

    def to_json(self) -> dict[str, Any]:
        """The operation as data (`polyplan diff --json`)."""
        fields = {k: (v.name.lower() if isinstance(v, IntEnum) else v) for k, v in vars(self).items()}
        return {"op": self.kind, **fields}

    def expand(self, ctx: Context) -> list[Step]:
        """Steps of the first revision."""
        return self.steps(ctx) if not self.removes else []

    def contract(self, ctx: Context) -> list[Step]:
        """Steps of the second revision."""
        return self.steps(ctx) if self.removes else []

    def steps(self, ctx: Context) -> list[Step]:
        """The steps of a single-phase operation."""
        return []

    def sqlite_rebuild(self, ctx: Context) -> bool:
        """True when SQLite cannot make this change in place and the table must be rebuilt."""
        return False


def _t(ctx: Context, name: str) -> str:
    return quote(ctx.engine, name)


# --- tables ---------------------------------------------------------------------------------


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
                    steps.append(Step(f"DROP TABLE IF EXISTS {_t(ctx, fts_table(spec))}"))
        steps += [Step(sql) for sql in uninstall_statements(ctx.before.spec(self.table), ctx.engine)]
        return [*steps, Step(f"DROP TABLE {_t(ctx, self.table)}")]


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
        old, new = _t(ctx, self.old), _t(ctx, self.table)
        sql = f"RENAME TABLE {old} TO {new}" if ctx.engine == "mysql" else f"ALTER TABLE {old} RENAME TO {new}"
        steps = [*guards(ctx.engine), Step(sql)]
        before_key = ctx.before.table(self.old).primary_key.name
        after_key = ctx.after.table(self.table).primary_key.name
        if ctx.engine == "postgresql" and before_key != after_key:
            # The key's name follows the table's, as in a fresh schema (MariaDB's is always PRIMARY;
            # SQLite's is rebuilt with the table when anything else changes).
            steps.append(
                Step(f"ALTER TABLE {new} RENAME CONSTRAINT {_t(ctx, str(before_key))} TO {_t(ctx, str(after_key))}")
            )
        return steps


# --- columns --------------------------------------------------------------------------------


def _column_sql(ctx: Context, table: str, column: str, after: bool = True) -> str:
    design = ctx.after if after else ctx.before
    return compile_ddl(CreateColumn(design.table(table).c[column]), ctx.engine)


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
        sql = f"ALTER TABLE {_t(ctx, self.table)} ADD COLUMN {_column_sql(ctx, self.table, self.column)}"
        if ctx.engine == "mysql":
            sql = mysql_online(sql, "INSTANT")
        return [*guards(ctx.engine), Step(sql), *_comment(ctx, self.table, self.column)]

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
    archive = _t(ctx, archive_name)
    selected = ", ".join(_t(ctx, c) for c in [*_key_columns(ctx, table, after=False), column])
    # A plain copy under a share lock: writes go on; the scan may take long, so no statement timeout.
    return [
        *online_guards(ctx.engine),
        Step(allow("PP807", "a copy left by an earlier, failed run", f"DROP TABLE IF EXISTS {archive}")),
        Step(f"CREATE TABLE {archive} AS SELECT {selected} FROM {_t(ctx, table)}"),
    ]


def restored_value(ctx: Context, table: str, column: str, archive_name: str) -> str:
    """The archived value of `column` for the current row of `table` (a correlated subquery)."""
    archive, alias = _t(ctx, archive_name), _t(ctx, table)
    match = " AND ".join(f"a.{_t(ctx, k)} = {alias}.{_t(ctx, k)}" for k in _key_columns(ctx, table, after=True))
    return f"(SELECT a.{_t(ctx, column)} FROM {archive} a WHERE {match})"


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
        sql = f"ALTER TABLE {_t(ctx, self.table)} DROP COLUMN {_t(ctx, self.column)}"
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
        engine, table, column = ctx.engine, _t(ctx, self.table), _t(ctx, self.column)
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
                steps += _not_null(ctx, self.table, self.column)
            else:
                required = _column_sql(ctx, self.table, self.column)
                steps += [
                    *guards(engine),
                    Step(mysql_online(f"ALTER TABLE {table} MODIFY {required}", "COPY", "SHARED")),
                ]
        return [*steps, *_comment(ctx, self.table, self.column), Step(f"DROP TABLE {_t(ctx, self.archive_name)}")]


@dataclass(frozen=True)
class ColumnChange(Operation):
    """A column renamed, retyped, or both: the value moves to the new shape, row by row."""

    table: str
    old: str
    column: str
    old_type: str
    new_type: str
    conversion: Conversion

    order: ClassVar[Order] = Order.REBUILD

    @abstractmethod
    def reverse(self) -> ColumnChange:
        """The change back, from the new column to the old."""

    def describe(self) -> str:
        parts = []
        if self.old != self.column:
            parts.append(f"{self.table}.{self.old} → {self.column} (renamed)")
        else:
            parts.append(f"{self.table}.{self.column}")
        if self.old_type != self.new_type:
            parts.append(f"{self.old_type} → {self.new_type} ({self.conversion.name.lower()})")
        return "~ column " + ", ".join(parts)

    def sqlite_rebuild(self, ctx: Context) -> bool:
        return True

    # -- PostgreSQL: expand/contract through a new column kept in step by a trigger

    def _middle(self) -> str:
        """The new column while both exist: the new name, or a shadow when only the type changes."""
        return self.column if self.column != self.old else fit(f"{self.column}__polyplan_new")

    def _sa(self, ctx: Context) -> tuple[sa.Column[Any], sa.Column[Any]]:
        return ctx.before.table(self.table).c[self.old], ctx.after.table(self.table).c[self.column]

    def _in_place(self, ctx: Context) -> bool:
        """PostgreSQL changes this type without rewriting the table (a longer varchar, varchar to
        text, more numeric precision at the same scale), so no second column is needed."""
        if self.old != self.column:
            return False
        old, new = (c.type for c in self._sa(ctx))
        if isinstance(old, sa.String) and isinstance(new, sa.String) and type(old) is type(new):
            return new.length is None or (old.length is not None and new.length >= old.length)
        if isinstance(old, sa.String) and isinstance(new, sa.Text):
            return True
        if isinstance(old, sa.Numeric) and isinstance(new, sa.Numeric) and type(old) is type(new):
            return old.scale == new.scale and (old.precision or 0) <= (new.precision or 0)
        return False

    def _type_sql(self, ctx: Context, column: sa.Column[Any]) -> str:
        return str(column.type.compile(dialect=dialect_of(ctx.engine)))

    def _names(self) -> dict[str, str]:
        base = fit(f"polyplan_sync_{self.table}_{self.column}")
        return {"function": base, "trigger": base}

    def expand(self, ctx: Context) -> list[Step]:
        if ctx.engine != "postgresql" or self._in_place(ctx):
            return []
        old_col, new_col = self._sa(ctx)
        table, old, middle = _t(ctx, self.table), _t(ctx, self.old), _t(ctx, self._middle())
        old_type, new_type = self._type_sql(ctx, old_col), self._type_sql(ctx, new_col)
        names = self._names()
        function, trigger = _t(ctx, names["function"]), _t(ctx, names["trigger"])
        # Both columns stay writable: a row written by either application version gets the other.
        body = (
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $polyplan$\n"
            "BEGIN\n"
            "  IF TG_OP = 'INSERT' THEN\n"
            f"    IF NEW.{middle} IS NULL THEN NEW.{middle} := CAST(NEW.{old} AS {new_type});\n"
            f"    ELSIF NEW.{old} IS NULL THEN NEW.{old} := CAST(NEW.{middle} AS {old_type}); END IF;\n"
            f"  ELSIF NEW.{middle} IS DISTINCT FROM OLD.{middle} THEN NEW.{old} := CAST(NEW.{middle} AS {old_type});\n"
            f"  ELSE NEW.{middle} := CAST(NEW.{old} AS {new_type});\n"
            "  END IF;\n"
            "  RETURN NEW;\n"
            "END $polyplan$"
        )
        key = [_t(ctx, c.name) for c in ctx.before.table(self.table).primary_key.columns]
        backfill = _backfill(
            table, key, f"{middle} = CAST({old} AS {new_type})", f"{middle} IS DISTINCT FROM CAST({old} AS {new_type})"
        )
        return [
            *guards(ctx.engine),
            Step(f"ALTER TABLE {table} ADD COLUMN {middle} {new_type}"),
            Step(body),
            Step(f"DROP TRIGGER IF EXISTS {trigger} ON {table}"),
            Step(
                f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
            ),
            *autocommit([*online_guards(ctx.engine), Step(backfill)]),
        ]

    def middle(self, ctx: Context) -> str:
        """The column that holds this column's values on `ctx.engine` between the expand and the
        contract: where an index the expand builds for the new version must point. PostgreSQL's
        new column (or shadow) when it makes one, else the old column (MariaDB's CHANGE COLUMN and
        SQLite's rebuild run in the contract and carry the indexes of the column along)."""
        if ctx.engine == "postgresql" and not self._in_place(ctx):
            return self._middle()
        return self.old

    def contract(self, ctx: Context) -> list[Step]:
        if ctx.engine == "sqlite":
            return []  # the table rebuild does it
        # The indexes of the column are not this operation's: an index operation of the table
        # (diff._indexes) builds what the new version needs in the expand phase, on the column
        # `middle` names, and retires the old one in the contract before this swap, so that the
        # table never goes without one.
        constraints_before, _ = ctx.before.touching(self.table, self.old)
        constraints_after, _ = ctx.after.touching(self.table, self.column)
        if ctx.engine == "mysql" or self._in_place(ctx):
            # The column keeps its identity: only the constraints that change around it are replaced.
            same = _same_constraints(ctx, self.table, constraints_before, constraints_after)
            constraints_before = [c for c in constraints_before if c not in same]
            constraints_after = [c for c in constraints_after if c not in same]
        steps: list[Step] = []
        for name in constraints_before:
            steps += DropConstraint(self.table, name).contract(ctx)
        steps += self._swap(ctx)
        for name in constraints_after:
            steps += AddConstraint(self.table, name).expand(ctx)
        return steps

    def _swap(self, ctx: Context) -> list[Step]:
        old_col, new_col = self._sa(ctx)
        table, old = _t(ctx, self.table), _t(ctx, self.old)
        if ctx.engine == "mysql":
            old_kind, new_kind = self._type_sql(ctx, old_col), self._type_sql(ctx, new_col)
            sql = f"ALTER TABLE {table} CHANGE COLUMN {old} {_column_sql(ctx, self.table, self.column)}"
            if old_kind == new_kind:  # a rename only: MariaDB changes the dictionary, not the rows
                return [*guards(ctx.engine), Step(mysql_online(sql, "INSTANT"))]
            if _mysql_inplace(old_col.type, new_col.type):
                return [*guards(ctx.engine), Step(mysql_online(sql, "INPLACE"))]
            # MariaDB rewrites the table for a type change; it still lets reads run (stated plan).
            return [*guards(ctx.engine), Step(mysql_online(sql, "COPY", "SHARED"))]
        column = _t(ctx, self.column)
        if self._in_place(ctx):
            new_type = self._type_sql(ctx, new_col)
            sql = f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type}"
            return [*guards(ctx.engine), Step(allow("PP801", "this change of type rewrites nothing", sql))]
        middle = _t(ctx, self._middle())
        names = self._names()
        steps = guards(ctx.engine)
        if not new_col.nullable:
            steps += _not_null(ctx, self.table, self._middle())
        # The trigger goes in the transaction that drops the old column, not before the NOT NULL
        # check is validated: until the swap commits, the running version still writes only the
        # column it knows, and without the trigger its inserts would break the check (or the old
        # column's NOT NULL) and its updates of a retyped column would be lost in the swap.
        steps += [
            Step(f"DROP TRIGGER IF EXISTS {_t(ctx, names['trigger'])} ON {table}"),
            Step(f"DROP FUNCTION IF EXISTS {_t(ctx, names['function'])}()"),
        ]
        if new_col.server_default is not None:
            default = compile_ddl(CreateColumn(new_col), ctx.engine).split(" DEFAULT ", 1)[1].split(" NOT NULL")[0]
            steps.append(Step(f"ALTER TABLE {table} ALTER COLUMN {middle} SET DEFAULT {default}"))
        kept = f"its values live on in {self._middle()}"
        steps.append(Step(allow("PP807", kept, f"ALTER TABLE {table} DROP COLUMN {old}")))
        if self._middle() != self.column:
            rename = f"ALTER TABLE {table} RENAME COLUMN {middle} TO {column}"
            steps.append(Step(allow("PP808", "no application uses the shadow column's name", rename)))
        return steps + _comment(ctx, self.table, self.column)


def _backfill(table: str, key: list[str], assignment: str, pending: str) -> str:
    """A PL/pgSQL block that runs `UPDATE table SET assignment` on the rows where `pending` holds,
    in batches of BACKFILL_BATCH rows in primary-key order, each committed.

    Each batch is found through the primary key's index from where the last one ended, so no
    batch scans the rows already done (a `WHERE pending LIMIT n` batch rescans them all, which
    makes the backfill quadratic and each batch's row locks last as long as that scan), and a
    concurrent write waits at most for one small batch. The variables carry a prefix so that
    they cannot be taken for a column of the table. Rows written after the sync trigger
    exists are kept in step by it, so one pass over the keys is enough."""
    keys = ", ".join(key)
    descending = ", ".join(f"{k} DESC" for k in key)
    after_last = f"({keys}) > ({', '.join(f'polyplan_last.{k}' for k in key)})"
    up_to = f"({keys}) <= ({', '.join(f'polyplan_upto.{k}' for k in key)})"

    def batch(where: str) -> list[str]:
        bound = f" WHERE {where}" if where else ""
        condition = f"{where} AND " if where else ""
        return [
            f"      SELECT {keys} INTO polyplan_upto FROM (SELECT {keys} FROM {table}{bound} ORDER BY {keys}"
            f" LIMIT {BACKFILL_BATCH}) batch ORDER BY {descending} LIMIT 1;",
            "      EXIT WHEN NOT FOUND;",
            f"      UPDATE {table} SET {assignment} WHERE {condition}{up_to} AND {pending};",
        ]

    return "\n".join(
        [
            "DO $polyplan$",
            "DECLARE polyplan_last record; polyplan_upto record; polyplan_started boolean := false;",
            "BEGIN",
            "  LOOP",
            # A batch need not wait for its WAL to reach the disk: a later step's commit (and the
            # revision's) does, and WAL is written in order; the application's commits keep the
            # disk's flushes to themselves.
            "    SET LOCAL synchronous_commit = off;",
            "    IF polyplan_started THEN",
            *batch(after_last),
            "    ELSE",
            *batch(""),
            "    END IF;",
            "    polyplan_last := polyplan_upto;",
            "    polyplan_started := true;",
            "    COMMIT;",
            "  END LOOP;",
            "END $polyplan$",
        ]
    )


def _mysql_inplace(old: Any, new: Any) -> bool:
    """MariaDB lengthens a VARCHAR in place while its length prefix stays 1 byte (≤ 255 bytes of
    utf8mb4, 63 characters) or was already 2 bytes."""
    if type(old) is not sa.String or type(new) is not sa.String or not old.length or not new.length:
        return False
    return new.length >= old.length and (new.length * 4 <= 255 or old.length * 4 > 255)


def allow(code: str, why: str, sql: str) -> str:
    """`sql` marked for the lint as deliberately doing what `code` warns about, and why."""
    return f"-- polyplan-lint: ignore {code} ({why})\n{sql}"


def _comment(ctx: Context, table: str, column: str) -> list[Step]:
    """PostgreSQL keeps a column's comment apart from its definition (MariaDB's is in it)."""
    comment = ctx.after.table(table).c[column].comment
    if ctx.engine != "postgresql" or not comment:
        return []
    return [Step(f"COMMENT ON COLUMN {_t(ctx, table)}.{_t(ctx, column)} IS {_literal(comment)}")]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _not_null(ctx: Context, table: str, column: str) -> list[Step]:
    """PostgreSQL NOT NULL without a long ACCESS EXCLUSIVE scan: a CHECK added NOT VALID, validated
    under a weaker lock, then SET NOT NULL, which trusts the validated check instead of scanning."""
    check = _t(ctx, fit(f"polyplan_nn_{table}_{column}"))
    t, c = _t(ctx, table), _t(ctx, column)
    return [
        Step(f"ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID"),
        *autocommit([*online_guards(ctx.engine), Step(f"ALTER TABLE {t} VALIDATE CONSTRAINT {check}")]),
        *guards(ctx.engine),
        Step(f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
        Step(f"ALTER TABLE {t} DROP CONSTRAINT {check}"),
    ]


def _same_constraints(ctx: Context, table: str, before: list[str], after: list[str]) -> set[str]:
    same: set[str] = set()
    for name in set(before) & set(after):
        old, new = ctx.before.constraint(table, name), ctx.after.constraint(table, name)
        if (
            old
            and new
            and compile_ddl(SAAddConstraint(old[1], isolate_from_table=False), ctx.engine)
            == compile_ddl(SAAddConstraint(new[1], isolate_from_table=False), ctx.engine)
        ):
            same.add(name)
    return same


@dataclass(frozen=True)
class RenameColumn(ColumnChange):
    kind: ClassVar[str] = "rename_column"

    def reverse(self) -> ColumnChange:
        return RenameColumn(self.table, self.column, self.old, self.new_type, self.old_type, _reversed(self.conversion))


@dataclass(frozen=True)
class AlterColumnType(ColumnChange):
    kind: ClassVar[str] = "alter_column_type"

    def reverse(self) -> ColumnChange:
        return AlterColumnType(
            self.table, self.column, self.old, self.new_type, self.old_type, _reversed(self.conversion)
        )


def _reversed(conversion: Conversion) -> Conversion:
    return {Conversion.WIDEN: Conversion.NARROW, Conversion.NARROW: Conversion.WIDEN}.get(conversion, conversion)


# --- indexes and constraints -----------------------------------------------------------------


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
    engine, table, spec = ctx.engine, _t(ctx, table_name), built.spec
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
    drop = f"DROP INDEX CONCURRENTLY IF EXISTS {_t(ctx, str(built.index.name))}"
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
            fts = _t(ctx, fts_table(spec))
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
        engine, name, table = ctx.engine, _t(ctx, self.name), _t(ctx, self.table)
        if engine == "sqlite" and spec.kind is IndexKind.FULLTEXT:
            fts = fts_table(spec)
            triggers = [Step(f"DROP TRIGGER IF EXISTS {_t(ctx, fts + s)}") for s in ("_ai", "_ad", "_au")]
            return [*triggers, Step(f"DROP TABLE IF EXISTS {_t(ctx, fts)}")]
        if ctx.before.index(self.table, self.name) is None:
            return []
        if engine == "mysql":
            return [*guards(engine), Step(mysql_online(f"ALTER TABLE {table} DROP INDEX {name}", "INPLACE"))]
        if engine == "sqlite":
            return [Step(f"DROP INDEX IF EXISTS {name}")]
        steps = _drop_postgresql_index(ctx, self.table, name)
        if spec.kind is IndexKind.FULLTEXT:
            column = _t(ctx, tsvector_column(spec))
            steps += [*guards(engine), Step(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")]
        return steps


def _drop_postgresql_index(ctx: Context, table: str, name: str) -> list[Step]:
    """DROP INDEX on PostgreSQL: CONCURRENTLY (reads and writes go on), except on a partitioned
    table, which has no concurrent drop."""
    if _partitioned(ctx.before.spec(table)):
        return [*guards(ctx.engine), Step(f"DROP INDEX IF EXISTS {name}")]
    return autocommit([*guards(ctx.engine), Step(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")])


# --- constraints ----------------------------------------------------------------------------


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
        engine, table, name = ctx.engine, _t(ctx, self.table), _t(ctx, self.name)
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
            columns = ", ".join(_t(ctx, c) for c in rule.columns)
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
        engine, table, name = ctx.engine, _t(ctx, self.table), _t(ctx, self.name)
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


# --- replacements (same name, new definition) ------------------------------------------------


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
        engine, table, name = ctx.engine, _t(ctx, self.table), _t(ctx, self.name)
        temporary = _t(ctx, replacement_name(self.name))
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
        table = _t(ctx, self.table)
        middle = self._middle(ctx, replacement_name(self.name))
        new = tsvector_column(ctx.after.index_spec(self.table, self.name))
        used = tsvector_column(middle.spec) if middle is not None else new
        steps: list[Step] = []
        if ctx.before.index(self.table, self.name) is not None:
            old = tsvector_column(ctx.before.index_spec(self.table, self.name))
            if old != used:
                steps += [*guards(ctx.engine), Step(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {_t(ctx, old)}")]
        if used != new:
            rename = f"ALTER TABLE {table} RENAME COLUMN {_t(ctx, used)} TO {_t(ctx, new)}"
            steps += [*guards(ctx.engine), Step(allow("PP808", "no application reads the generated column", rename))]
        return steps

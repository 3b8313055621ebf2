"""A column renamed or retyped in place of use: a shadow column kept in step by a trigger and
backfilled in batches (expand), then the swap (contract); per engine where it can be done in place."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint as SAAddConstraint
from sqlalchemy.schema import CreateColumn

from polyplan.migrate.context import Context
from polyplan.migrate.index_ops import AddConstraint, DropConstraint
from polyplan.migrate.op_base import (
    Conversion,
    Operation,
    Order,
    allow,
    column_sql,
    comment_steps,
    name_sql,
    not_null_steps,
)
from polyplan.migrate.sql import (
    BACKFILL_BATCH,
    Step,
    autocommit,
    compile_ddl,
    guards,
    mysql_online,
    online_guards,
)
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.index_render import (
    dialect_of,
)


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
        table, old, middle = name_sql(ctx, self.table), name_sql(ctx, self.old), name_sql(ctx, self._middle())
        old_type, new_type = self._type_sql(ctx, old_col), self._type_sql(ctx, new_col)
        names = self._names()
        function, trigger = name_sql(ctx, names["function"]), name_sql(ctx, names["trigger"])
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
        key = [name_sql(ctx, c.name) for c in ctx.before.table(self.table).primary_key.columns]
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
        table, old = name_sql(ctx, self.table), name_sql(ctx, self.old)
        if ctx.engine == "mysql":
            old_kind, new_kind = self._type_sql(ctx, old_col), self._type_sql(ctx, new_col)
            sql = f"ALTER TABLE {table} CHANGE COLUMN {old} {column_sql(ctx, self.table, self.column)}"
            if old_kind == new_kind:  # a rename only: MariaDB changes the dictionary, not the rows
                return [*guards(ctx.engine), Step(mysql_online(sql, "INSTANT"))]
            if _mysql_inplace(old_col.type, new_col.type):
                return [*guards(ctx.engine), Step(mysql_online(sql, "INPLACE"))]
            # MariaDB rewrites the table for a type change; it still lets reads run (stated plan).
            return [*guards(ctx.engine), Step(mysql_online(sql, "COPY", "SHARED"))]
        column = name_sql(ctx, self.column)
        if self._in_place(ctx):
            new_type = self._type_sql(ctx, new_col)
            sql = f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type}"
            return [*guards(ctx.engine), Step(allow("PP801", "this change of type rewrites nothing", sql))]
        middle = name_sql(ctx, self._middle())
        names = self._names()
        steps = guards(ctx.engine)
        if not new_col.nullable:
            steps += not_null_steps(ctx, self.table, self._middle())
        # The trigger goes in the transaction that drops the old column, not before the NOT NULL
        # check is validated: until the swap commits, the running version still writes only the
        # column it knows, and without the trigger its inserts would break the check (or the old
        # column's NOT NULL) and its updates of a retyped column would be lost in the swap.
        steps += [
            Step(f"DROP TRIGGER IF EXISTS {name_sql(ctx, names['trigger'])} ON {table}"),
            Step(f"DROP FUNCTION IF EXISTS {name_sql(ctx, names['function'])}()"),
        ]
        if new_col.server_default is not None:
            default = compile_ddl(CreateColumn(new_col), ctx.engine).split(" DEFAULT ", 1)[1].split(" NOT NULL")[0]
            steps.append(Step(f"ALTER TABLE {table} ALTER COLUMN {middle} SET DEFAULT {default}"))
        kept = f"its values live on in {self._middle()}"
        steps.append(Step(allow("PP807", kept, f"ALTER TABLE {table} DROP COLUMN {old}")))
        if self._middle() != self.column:
            rename = f"ALTER TABLE {table} RENAME COLUMN {middle} TO {column}"
            steps.append(Step(allow("PP808", "no application uses the shadow column's name", rename)))
        return steps + comment_steps(ctx, self.table, self.column)


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

"""What every migration operation is (`Operation`: its phases, its order, its reverse) and the
SQL helpers the table, column, index and constraint operations share (names, columns, comments,
NOT NULL, allowed lint findings)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import IntEnum
from typing import Any, ClassVar

from sqlalchemy.schema import CreateColumn

from polyplan.migrate.context import Context
from polyplan.migrate.sql import (
    Step,
    autocommit,
    compile_ddl,
    guards,
    online_guards,
    quote,
)
from polyplan.stores.relational.design import fit


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


def name_sql(ctx: Context, name: str) -> str:
    return quote(ctx.engine, name)


def column_sql(ctx: Context, table: str, column: str, after: bool = True) -> str:
    design = ctx.after if after else ctx.before
    return compile_ddl(CreateColumn(design.table(table).c[column]), ctx.engine)


def allow(code: str, why: str, sql: str) -> str:
    """`sql` marked for the lint as deliberately doing what `code` warns about, and why."""
    return f"-- polyplan-lint: ignore {code} ({why})\n{sql}"


def comment_steps(ctx: Context, table: str, column: str) -> list[Step]:
    """PostgreSQL keeps a column's comment apart from its definition (MariaDB's is in it)."""
    comment = ctx.after.table(table).c[column].comment
    if ctx.engine != "postgresql" or not comment:
        return []
    return [Step(f"COMMENT ON COLUMN {name_sql(ctx, table)}.{name_sql(ctx, column)} IS {_literal(comment)}")]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def not_null_steps(ctx: Context, table: str, column: str) -> list[Step]:
    """PostgreSQL NOT NULL without a long ACCESS EXCLUSIVE scan: a CHECK added NOT VALID, validated
    under a weaker lock, then SET NOT NULL, which trusts the validated check instead of scanning."""
    check = name_sql(ctx, fit(f"polyplan_nn_{table}_{column}"))
    t, c = name_sql(ctx, table), name_sql(ctx, column)
    return [
        Step(f"ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID"),
        *autocommit([*online_guards(ctx.engine), Step(f"ALTER TABLE {t} VALIDATE CONSTRAINT {check}")]),
        *guards(ctx.engine),
        Step(f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
        Step(f"ALTER TABLE {t} DROP CONSTRAINT {check}"),
    ]

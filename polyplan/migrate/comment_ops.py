"""A table's or column's comment that the model's description changes.

A comment is metadata: PostgreSQL sets it with `COMMENT ON`, MariaDB with `ALTER TABLE … COMMENT`
or by restating the column with its new comment (`CHANGE`, an instant metadata change), SQLite
keeps none. SQLAlchemy's SetTableComment/SetColumnComment constructs write the statements; the
operation is its own reverse, rendered from the other version's design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.schema import DropColumnComment, DropTableComment, SetColumnComment, SetTableComment

from polyplan.migrate.context import Context
from polyplan.migrate.ops import Operation, Order
from polyplan.migrate.sql import Step, compile_ddl, guards, mysql_online


@dataclass(frozen=True)
class ChangeComment(Operation):
    """The comment of `table`, or of its `column` when one is named, becomes the new design's."""

    table: str
    column: str = ""
    kind: ClassVar[str] = "change_comment"
    order: ClassVar[Order] = Order.COLUMN

    def reverse(self) -> Operation:
        # The downgrade renders it with the versions swapped: the old comment comes back.
        return self

    def describe(self) -> str:
        return f"~ comment {self.table}{'.' + self.column if self.column else ''}"

    def steps(self, ctx: Context) -> list[Step]:
        if ctx.engine == "sqlite":
            return []
        table = ctx.after.table(self.table)
        if self.column:
            column = table.c[self.column]
            if ctx.engine == "mysql":
                # MariaDB restates the column (SQLAlchemy's CHANGE); no comment drops it.
                sql = mysql_online(compile_ddl(SetColumnComment(column), ctx.engine), "INSTANT")
            else:
                sql = compile_ddl(SetColumnComment(column) if column.comment else DropColumnComment(column), ctx.engine)
        else:
            sql = compile_ddl(SetTableComment(table) if table.comment else DropTableComment(table), ctx.engine)
            if ctx.engine == "mysql":
                sql = mysql_online(sql, "INSTANT")
        return [*guards(ctx.engine), Step(sql)]

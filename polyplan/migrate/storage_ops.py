"""Table storage that the design changes on PostgreSQL: the heap fillfactor
(stores/relational/heap_fill.py) and whether the table is logged (stores/relational/caps.py).

`ALTER TABLE … SET (fillfactor = N)` (or `RESET` back to the default) changes a catalog entry
under a SHARE UPDATE EXCLUSIVE lock: reads and writes go on. It governs the pages written from
then on; the pages already full stay full until the table is rewritten (VACUUM FULL, CLUSTER or
pg_repack), so the room for heap-only updates appears as rows move. MariaDB/MySQL and SQLite
have no per-table fillfactor: nothing to run. The operation is its own reverse, rendered from
the other version's design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from polyplan.migrate.context import Context
from polyplan.migrate.ops import Operation, Order
from polyplan.migrate.sql import Step, guards, quote
from polyplan.stores.relational.heap_fill import unlogged


@dataclass(frozen=True)
class ChangeFillfactor(Operation):
    """The heap fillfactor of `table` becomes the new design's."""

    table: str
    kind: ClassVar[str] = "change_fillfactor"
    order: ClassVar[Order] = Order.TABLE

    def reverse(self) -> Operation:
        # The downgrade renders it with the versions swapped: the old fillfactor comes back.
        return self

    def describe(self) -> str:
        return f"~ fillfactor {self.table}"

    def steps(self, ctx: Context) -> list[Step]:
        if ctx.engine != "postgresql":
            return []
        table = ctx.after.table(self.table)
        options = table.dialect_options["postgresql"]["with"] or {}
        name = quote(ctx.engine, table.name)
        fillfactor = options.get("fillfactor")
        sql = (
            f"ALTER TABLE {name} RESET (fillfactor)"
            if fillfactor is None
            else f"ALTER TABLE {name} SET (fillfactor = {int(fillfactor)})"
        )
        return [*guards(ctx.engine), Step(sql)]


@dataclass(frozen=True)
class ChangePersistence(Operation):
    """`table` becomes UNLOGGED (its entity became loss-tolerable) or LOGGED again.

    Both rewrite the table under an ACCESS EXCLUSIVE lock (SET LOGGED also writes all of it to
    the WAL): the lint says so (PP801). There is no online form short of a copy and swap."""

    table: str
    kind: ClassVar[str] = "change_persistence"
    order: ClassVar[Order] = Order.TABLE

    def reverse(self) -> Operation:
        # The downgrade renders it with the versions swapped: the old persistence comes back.
        return self

    def describe(self) -> str:
        return f"~ logged/unlogged {self.table}"

    def steps(self, ctx: Context) -> list[Step]:
        if ctx.engine != "postgresql":
            return []
        spec = ctx.after.spec(self.table)
        persistence = "UNLOGGED" if unlogged(spec) else "LOGGED"
        return [*guards(ctx.engine), Step(f"ALTER TABLE {quote(ctx.engine, spec.name)} SET {persistence}")]

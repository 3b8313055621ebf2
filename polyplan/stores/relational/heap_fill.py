"""Heap storage of PostgreSQL tables (pure: no I/O): the fillfactor for in-place updates, and whether a table is UNLOGGED.

PostgreSQL writes every update as a new row version. When no indexed column changes and the
page holding the row has room, the new version stays on that page (a heap-only tuple, HOT): no
index gets an entry, and the old version is pruned without VACUUM. A table filled at the default
fillfactor (100) has full pages, so an update finds no room until pruning has freed some: the new
version goes to another page and every index of the table gets an entry. pgbench's accounts
(TPC-B-like, scale 5) ran 79 % HOT that way and 100 % at fillfactor 90 (bench/oltp.py).

The rule, for an entity table on PostgreSQL that is not partitioned (PostgreSQL takes storage
parameters only on the leaf partitions):

- its HOT-eligible updates are the update, upsert and increment patterns that name the
  attributes they write and write no indexed column (key, unique rule, index key, INCLUDE or
  WHERE column, after the index design);
- they pay for room on the page when they touch each row at least once a day on average
  (`TURNOVER_PER_DAY`) and the table fills more than one page (a table of one page has room);
- the room is a tenth of the page (fillfactor 90), which PostgreSQL's pruning keeps free
  anyway once a page fills (heap_page_prune_opt prunes on access when the free space falls under
  a tenth of the page or under the fillfactor's room), and at least one new version of a row:
  fillfactor = min(90, 100 − ⌈100 × row bytes / 8192⌉). Rows so wide that this falls under
  `LOWEST_FILLFACTOR` keep the default: the heap would grow by a quarter or more.

Measured on the real PostgreSQL (3,000 single-row increments over 20,000 rows, each its own
transaction): HOT share 100 % at fillfactor 90 against 91.8 % at 100 for 120-byte rows, 58.3 %
for 450-byte rows and 39.3 % for 700-byte rows (tests/test_heap_fill.py measures the first).

The price is a heap 100/fillfactor times larger: every scan and the cache read that many more
pages. MariaDB/MySQL (InnoDB updates in place and keeps its own page reserve) and SQLite have no
per-table equivalent and need none; the design is PostgreSQL's only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from polyplan.model.schema import WriteKind
from polyplan.plan.ir import Plan
from polyplan.stores.relational.design import CAP
from polyplan.stores.relational.index_load import PAGE_BYTES, columns_of
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.spec import TableKind, TableSpec

HEAP_FILL = "heap_fill"  # TableSpec.extra key: the table's HeapFill
TURNOVER_PER_DAY = 1.0  # HOT-eligible updates per row per day from which room on the page pays
HIGHEST_FILLFACTOR = 90  # the room PostgreSQL's pruning keeps anyway: a tenth of the page
LOWEST_FILLFACTOR = 80  # below, the heap grows by a quarter or more: rows that wide keep the default
SECONDS_PER_DAY = 86_400.0
UPDATE_KINDS = (WriteKind.UPDATE, WriteKind.UPSERT, WriteKind.INCREMENT)


@dataclass(frozen=True)
class HeapFill:
    """A table's lowered heap fillfactor and the updates that decided it."""

    fillfactor: int
    updates_per_second: float  # HOT-eligible update executions per second
    turnover_per_day: float  # of them, per row per day
    row_bytes: float  # one row version's room on a page (tuple after TOAST, line pointer)
    patterns: tuple[str, ...]  # the write patterns counted

    def describe(self) -> str:
        """One line for the schema report and the design documents."""
        return (
            f"heap fillfactor {self.fillfactor} on PostgreSQL: {', '.join(self.patterns)} "
            f"{'writes' if len(self.patterns) == 1 else 'write'} no indexed column "
            f"({self.updates_per_second:,.1f} updates/s, {self.turnover_per_day:,.1f} per row per day), so each page "
            f"keeps room for their new row versions (heap-only updates: no index entries); the heap is "
            f"{100 / self.fillfactor:.2f}× the size of a full one"
        )


def unlogged(spec: TableSpec) -> bool:
    """Whether PostgreSQL creates `spec` UNLOGGED: a loss-tolerable entity's table (caps.py's
    design) that is not range-partitioned (a partitioned table cannot be unlogged). The one rule
    the DDL, the migrations and the drift check share."""
    design, rule = spec.extra.get(CAP) or {}, retention_of(spec)
    return bool(design.get("unlogged")) and not (rule is not None and "postgresql" in rule.partitioned)


def heap_fill_of(spec: TableSpec) -> HeapFill | None:
    """The heap fillfactor design a table carries, or None (the engine's default)."""
    found = spec.extra.get(HEAP_FILL)
    return found if isinstance(found, HeapFill) else None


def table_fillfactor(spec: TableSpec, engine: str) -> int | None:
    """The fillfactor `engine`'s DDL gives the table: PostgreSQL's lowered one, else None."""
    design = heap_fill_of(spec)
    return design.fillfactor if design is not None and engine == "postgresql" else None


def indexed_columns(spec: TableSpec) -> set[str]:
    """Every column whose change takes an update off the HOT path: keys, unique rules, index
    keys, INCLUDE and WHERE columns."""
    found = set(spec.primary_key)
    for unique in spec.uniques:
        found.update(unique)
    for index in spec.indexes:
        found.update(column.name for column in index.columns)
        found.update(index.include)
        found.update(column for column, _ in index.where)
    return found


def fillfactor_for(row_bytes: float) -> int:
    """The fillfactor that leaves a tenth of the page and at least one row version free."""
    return min(HIGHEST_FILLFACTOR, 100 - math.ceil(100 * row_bytes / PAGE_BYTES))


def _heap_fill(plan: Plan, spec: TableSpec, sizing: Mapping[str, float]) -> HeapFill | None:
    # The sizing model builds on this module's table_fillfactor: imported here, not at the top.
    from polyplan.stores.relational.sizing import pg_heap_item_bytes

    model = plan.model
    decided = plan.entities.get(spec.entity)
    if spec.kind is not TableKind.ENTITY or decided is None:
        return None
    indexed = indexed_columns(spec)
    rate = 0.0
    patterns = []
    for write in model.write_patterns:
        if write.entity != spec.entity or write.kind not in UPDATE_KINDS or not write.attributes:
            continue
        written = {c for a in write.attributes for c in columns_of(spec, spec.entity, a) or []}
        if written and not written & indexed:
            rate += write.rate
            patterns.append(write.name)
    rows = decided.profile.rows_at_horizon
    row_bytes = pg_heap_item_bytes(spec, sizing)
    fillfactor = fillfactor_for(row_bytes)
    if rate <= 0 or rows * row_bytes <= PAGE_BYTES or fillfactor < LOWEST_FILLFACTOR:
        return None
    turnover = rate * SECONDS_PER_DAY / rows
    if turnover < TURNOVER_PER_DAY:
        return None
    return HeapFill(fillfactor, rate, turnover, row_bytes, tuple(patterns))


def design_heap_fill(plan: Plan, tables: Sequence[TableSpec]) -> list[TableSpec]:
    """Tables with a lowered PostgreSQL heap fillfactor in `extra[HEAP_FILL]` where their
    in-place updates pay for it (the module docstring's rule); run after the index and retention
    designs. Only the PostgreSQL rendering reads it."""
    sizing = plan.sizing("postgresql")
    result = []
    for spec in tables:
        rule = retention_of(spec)
        partitioned = rule is not None and "postgresql" in rule.partitioned
        design = None if partitioned else _heap_fill(plan, spec, sizing)
        result.append(spec if design is None else replace(spec, extra={**spec.extra, HEAP_FILL: design}))
    return result

"""What an index costs an engine's updates beyond its own entries (pure: no I/O).

PostgreSQL writes an update as a new row version. When no indexed column changes (and the page
has room), the new version is a heap-only tuple (HOT): no index is touched at all. An index
whose key, INCLUDE list or WHERE holds a column that an update pattern writes ends that: every
such update then inserts an entry into *every* index of the table and usually writes a second
heap page. The index's own entries are already in its write cost; this module prices the rest,
so that a frequently updated column (a stock quantity, a rating) stays out of the indexes unless
the reads it serves are worth more.

Other engines: InnoDB and SQLite update secondary indexes only when their columns change, so an
index costs no more than its own entries there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOT_ENGINES = frozenset({"postgresql"})


@dataclass(frozen=True)
class HotLoss:
    """The updates an index would take off the HOT path, and what that costs."""

    updates_per_second: float  # update executions that stop being HOT
    columns: frozenset[str]  # the updated columns that the index holds
    indexes_written: int  # entries each of them then writes into the table's other indexes
    cost: float  # page-read equivalents per second

    def describe(self) -> str:
        """One line for index-plan.md."""
        return (
            f"ends heap-only (HOT) updates of {', '.join(sorted(self.columns))}: {self.updates_per_second:,.1f} "
            f"updates/s then also write {self.indexes_written} other index(es) and a new heap page "
            f"(≈ {self.cost:,.1f} page reads/s)"
        )


def hot_loss(
    engine: str | None,
    updates: Sequence[tuple[float, frozenset[str] | None]],
    columns: set[str],
    others: Sequence[set[str]],
    entry_cost: float,
) -> HotLoss | None:
    """The HOT updates an index over `columns` would end, given the table's `others` indexes
    (primary key, unique rules, indexes already chosen) and `updates` (rate, columns written;
    None = every column). `entry_cost` is the cost of writing one index entry. None when the
    engine has no HOT path or no update loses it."""
    if engine not in HOT_ENGINES:
        return None
    indexed = set().union(*others) if others else set()
    rate = 0.0
    hit: set[str] = set()
    for update_rate, touched in updates:
        # An update writing every column, or one that already changes an indexed column, is
        # not HOT to begin with.
        if touched is None or not touched & columns or touched & indexed:
            continue
        rate += update_rate
        hit |= touched & columns
    if rate <= 0:
        return None
    # Each lost HOT update writes one entry per other index, and a heap page elsewhere (counted
    # like one more entry).
    return HotLoss(rate, frozenset(hit), len(others), rate * (len(others) + 1) * entry_cost)


__all__ = ["HOT_ENGINES", "HotLoss", "hot_loss"]

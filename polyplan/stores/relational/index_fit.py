"""Whether an index shape serves a need, on the need's structure alone (pure: no I/O).

The index design asks this of every (candidate, need) pair, and each PP420 probe designs a
table again with other distinct counts: the answer depends only on which columns a need fixes,
lists, sorts, bounds and searches, never on those counts, so it is memoised on that structure.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from polyplan.stores.relational.spec import IndexColumn, IndexKind


class NeedForm(NamedTuple):
    """The structure of a Need: which columns it fixes, lists, sorts, bounds and searches."""

    eq: tuple[str, ...]
    ins: tuple[str, ...]
    where: tuple[tuple[str, Any], ...]
    sort: tuple[IndexColumn, ...]
    ranges: tuple[str, ...]
    prefix: frozenset[str]
    fulltext: tuple[str, ...]
    brin: bool


# Bounded: a long-lived process (the test suite) plans many models; one model's shapes fit.
@functools.lru_cache(maxsize=1 << 16)
def fits(
    kind: IndexKind, columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: NeedForm
) -> tuple[bool, bool]:
    """(serves, usable) of an index shape for a need's structure: usable when it serves it, or an
    equality seek on leading key columns finds its group or part of it (`lead_width`)."""
    if _serves(kind, columns, where, need):
        return True, True
    if kind not in (IndexKind.BTREE, IndexKind.UNIQUE) or need.fulltext or not set(where) <= set(need.where):
        return False, False
    return False, lead_width(columns, where, need) > 0


def lead_width(columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: NeedForm) -> int:
    """How many leading key columns an equality seek on the need's group can use: the run of key
    columns in the group (`group_of`), up to the first that is not or is not seekable. An index
    on part of the group finds the rows that part matches, the rest filtered after (fuzz model
    214: `r0_ref = :r AND a5 = 'alpha'` through `(r0_ref)`, chosen for `r0_ref = :r`; without
    that reach a partial `(r0_ref) WHERE a5 = 'alpha'` was made that saves nothing over it, and
    MariaDB, where it is a whole (r0_ref, a5), rightly took `(r0_ref)`)."""
    group = group_of(need, where)
    width = 0
    while width < len(columns) and columns[width].name in group and _seekable(columns[width : width + 1]):
        width += 1
    return width


def _seekable(columns: tuple[IndexColumn, ...]) -> bool:
    """Whether an equality can seek these key columns: not when one is a prefix-search column,
    which SQLite (emitted with every plan unless `relational_dialects` leaves it out) keys
    `COLLATE NOCASE` so that its case-blind LIKE can use it, and a NOCASE key cannot answer a
    BINARY `=` (fuzz model 719: `fk:select(r0_ref)` routed to `(r0_ref COLLATE NOCASE) WHERE v`
    scanned). Such an equality gets its own index."""
    return not any(c.prefix for c in columns)


def _serves(
    kind: IndexKind, columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: NeedForm
) -> bool:
    """`serves`, on the need's structure."""
    if not set(where) <= set(need.where):
        return False
    names = [c.name for c in columns]
    if need.fulltext:
        return kind is IndexKind.FULLTEXT and tuple(names) == need.fulltext
    if kind is IndexKind.BRIN:
        return need.brin and names[:1] == list(need.ranges[:1])
    if kind not in (IndexKind.BTREE, IndexKind.UNIQUE):
        return False
    equal = set(need.eq) | {column for column, value in need.where if (column, value) not in where}
    # Unsorted IN columns behave like equality columns: they follow the fixed ones.
    sorted_names = {c.name for c in need.sort}
    equal |= {c for c in need.ins if c not in sorted_names}
    count = len(equal)
    if len(names) < count or set(names[:count]) != equal or not _seekable(columns[:count]):
        return False
    position = count
    if need.sort:
        segment = columns[position : position + len(need.sort)]
        if len(segment) < len(need.sort) or any(
            a.name != b.name or a.prefix for a, b in zip(segment, need.sort, strict=True)
        ):
            return False
        if len({a.descending != b.descending for a, b in zip(segment, need.sort, strict=True)}) > 1:
            return False
        position += len(need.sort)
    if need.ranges:
        first = need.ranges[0]
        if first not in names[count:position]:
            if position >= len(columns) or columns[position].name != first:
                return False
            if columns[position].prefix != (first in need.prefix):
                return False
    return count > 0 or bool(need.sort) or bool(need.ranges) or bool(where)


def group_of(need: NeedForm, where: tuple[tuple[str, Any], ...] = ()) -> set[str]:
    """The equality group: parameters, unsorted IN lists and constants not in the index WHERE."""
    sorted_names = {c.name for c in need.sort}
    group = set(need.eq) | {c for c in need.ins if c not in sorted_names}
    return group | {column for column, value in need.where if (column, value) not in where}


__all__ = ["NeedForm", "fits", "group_of", "lead_width"]

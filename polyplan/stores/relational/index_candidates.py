"""Candidate indexes: the shapes the index design chooses among (pure: no I/O).

A need that the primary key or a unique rule already serves takes no index. The others merge,
longest first: a need joins an existing candidate whose column order already serves it (its
equality columns in any order, then its sort columns in order or all reversed, then its range
column), widening the INCLUDE list when it wants covering. Each B-tree for a need with a sort
or range also gets a narrower alternative on its equality group alone (the group is then sorted
or filtered in memory). On an engine with heap-only updates (hot_updates.py), a candidate that
includes an updated column is preceded by a copy without it. The pool is named here, once per
table (`Frame`); which candidates are taken is index_select's decision, at index_costs' prices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from polyplan.stores.relational.hot_updates import HOT_ENGINES
from polyplan.stores.relational.index_fit import NeedForm, fits, group_of
from polyplan.stores.relational.index_load import DesignContext, Load
from polyplan.stores.relational.index_names import index_name
from polyplan.stores.relational.index_needs import Need
from polyplan.stores.relational.spec import IndexColumn, IndexKind, TableSpec


@dataclass
class Candidate:
    """An index under consideration (mutable while needs merge into it)."""

    table: str
    kind: IndexKind
    columns: tuple[IndexColumn, ...]
    where: tuple[tuple[str, Any], ...]
    include: tuple[str, ...] = ()
    needs: list[Need] = field(default_factory=list)
    name: str = ""


# --- serving -------------------------------------------------------------------------------


def serves(kind: IndexKind, columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: Need) -> bool:
    """Whether an index of this shape answers `need` by a scan of its key order."""
    return fits(kind, columns, where, need.form)[0]


def usable(kind: IndexKind, columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: Need) -> bool:
    """Whether the index finds the need's rows: it serves it outright, or its leading columns are
    exactly the need's equality group (the rest is then filtered and sorted in memory)."""
    return fits(kind, columns, where, need.form)[1]


def _unique_lookup(columns: tuple[str, ...], need: Need) -> bool:
    """A unique constraint answers any need that fixes all its columns (at most one row): by
    parameter, by a constant, or by a constant IN list of one value (`a2 IN ('x') AND a1 = :a1`
    with a2 unique; the fuzz model of test_a_pattern_another_unique_key_serves_as_well_passes_its_index_proof)."""
    fixed = set(need.eq) | {c for c, v in need.where if v is not None and (not isinstance(v, tuple) or len(v) == 1)}
    return not need.fulltext and bool(columns) and set(columns) <= fixed


def _whole_key(table: TableSpec, need: Need) -> bool:
    """Whether `need` fixes every column of the primary key or of a unique rule: an index of its
    own could save it a level at most (a partial index of one row, with a constant)."""
    return any(_unique_lookup(tuple(cols), need) for cols in (table.primary_key, *table.uniques))


def _copies_a_key(table: TableSpec, candidate: Candidate, labels: tuple[str | None, ...], needs: list[Need]) -> bool:
    """Whether `candidate` is the primary key or a unique rule again (same columns, no INCLUDE or
    WHERE) for needs that key already answers: it could save none of them a page."""
    if candidate.include or candidate.where:
        return False
    keys = {tuple(table.primary_key), *(tuple(u) for u in table.uniques)}
    answered = {n.name for n, label in zip(needs, labels, strict=True) if label is not None}
    return tuple(c.name for c in candidate.columns) in keys and all(n.name in answered for n in candidate.needs)


def _constraint_route(table: TableSpec, need: Need) -> str | None:
    constraints = [("primary key", table.primary_key)] + [(f"unique ({', '.join(u)})", u) for u in table.uniques]
    for label, cols in constraints:
        shape = tuple(IndexColumn(c) for c in cols)
        if _unique_lookup(cols, need) or serves(IndexKind.UNIQUE, shape, (), need):
            return label
    return None


def _layout(need: Need, popularity: dict[str, int], declared: list[str]) -> tuple[IndexColumn, ...]:
    """Equality columns (most shared first), then sort columns, then range columns."""

    def rank(column: str) -> tuple[int, int, str]:
        return (-popularity.get(column, 0), declared.index(column) if column in declared else 0, column)

    sorted_names = {c.name for c in need.sort}
    equal = sorted(need.eq, key=rank) + sorted((c for c in need.ins if c not in sorted_names), key=rank)
    columns = [IndexColumn(c) for c in equal]
    columns += list(need.sort)
    taken = {c.name for c in columns}
    for column in need.ranges:
        if column not in taken:
            columns.append(IndexColumn(column, prefix=column in need.prefix))
            taken.add(column)
    if not columns:  # only constants: index the constant columns themselves
        columns = [IndexColumn(c) for c, _ in need.where]
    return tuple(columns)


def _candidates(needs: list[Need], table: TableSpec) -> list[Candidate]:
    popularity: dict[str, int] = {}
    for need in needs:
        for column in need.equal | set(need.ins):
            popularity[column] = popularity.get(column, 0) + 1
    declared = [c.name for c in table.columns]
    found: list[Candidate] = []

    def size(need: Need) -> tuple[int, str]:
        return (-(len(need.eq) + len(need.ins) + len(need.sort) + len(need.ranges) + len(need.fulltext)), need.name)

    for need in sorted(needs, key=size):
        if need.fulltext:
            kind, columns = IndexKind.FULLTEXT, tuple(IndexColumn(c) for c in need.fulltext)
        elif need.brin:
            kind, columns = IndexKind.BRIN, (IndexColumn(need.ranges[0]),)
        else:
            kind, columns = IndexKind.BTREE, _layout(need, popularity, declared)
        home = next((c for c in found if serves(c.kind, c.columns, c.where, need)), None)
        if home is None:
            home = Candidate(table.name, kind, columns, need.where)
            found.append(home)
        _attach(home, need, declared)
        # The equality group alone, as a narrower alternative: when a group holds few rows,
        # sorting or range-filtering them in memory costs less than keeping the extra key columns
        # in every entry (and a narrow key with repeated values deduplicates on PostgreSQL).
        if kind is IndexKind.BTREE and (need.sort or need.ranges):
            prefix = tuple(c for c in columns if c.name in group_of(need.form, need.where))
            if prefix and len(prefix) < len(columns):
                alternative = next(
                    (c for c in found if c.kind is kind and c.columns == prefix and c.where == need.where), None
                )
                if alternative is None:
                    alternative = Candidate(table.name, kind, prefix, need.where)
                    found.append(alternative)
                _attach(alternative, need, declared)
    return found


def _attach(candidate: Candidate, need: Need, declared: list[str]) -> None:
    if need not in candidate.needs:
        candidate.needs.append(need)
    if need.reads is not None and candidate.kind is IndexKind.BTREE:
        keys = {c.name for c in candidate.columns}
        extra = sorted((need.reads - keys) - {c for c, _ in candidate.where}, key=declared.index)
        candidate.include = tuple(sorted(set(candidate.include) | set(extra), key=declared.index))


def _hot_free(pool: list[Candidate], load: Load) -> list[Candidate]:
    """Each candidate INCLUDE-ing an updated column, preceded by a copy without it (keeps HOT).

    The copy keeps the other included columns only while it still covers one of its reads: once
    the updated column is out, an index that covers none of them is read through to the heap
    anyway, and its included columns would be bytes in every entry that no read uses (the
    order-entry customer-by-name index: 7.6 MiB with (c_id, c_first) included, 6.9 MiB without).
    """
    written = {c for _, touched in load.updates if touched is not None for c in touched}
    found: list[Candidate] = []
    for candidate in pool:
        kept = tuple(c for c in candidate.include if c not in written)
        if kept != candidate.include and not _covers_one(candidate, kept):
            kept = ()
        if kept != candidate.include:
            found.append(replace(candidate, include=kept, needs=list(candidate.needs)))
        found.append(candidate)
    return found


def _covers_one(candidate: Candidate, include: tuple[str, ...]) -> bool:
    """Whether `candidate`'s key with `include` holds every column one of its needs reads."""
    held = {c.name for c in candidate.columns} | set(include) | {c for c, _ in candidate.where}
    return any(need.reads is not None and need.reads <= held for need in candidate.needs)


# Per candidate, per need: (the candidate serves the need, it finds the need's rows).
Fitting = tuple[tuple[tuple[bool, bool], ...], ...]


@dataclass(frozen=True)
class Frame:
    """What a table's design takes from its needs' structure alone, never from a distinct count:
    which key or unique rule answers each need, and the named candidate pool. Made once per
    table and shared by its PP420 re-designs (the needs differ there only in their numbers)."""

    needs: tuple[str, ...]  # the need names, in order: a re-design must bring the same ones
    labels: tuple[str | None, ...]  # per need: the key or unique rule that answers it, if any
    pool: tuple[Candidate, ...]  # never handed out: each design works on copies (it trims them)
    # `fitting`'s answer, made by the first design and shared by the PP420 re-designs: which
    # candidate serves or finds which need depends on the needs' structure alone.
    _fit: list[tuple[tuple[NeedForm, ...], Fitting]] = field(default_factory=list, compare=False, repr=False)

    def candidates(self) -> list[Candidate]:
        """Fresh copies of the pool, for one design to merge, choose and trim."""
        return [Candidate(c.table, c.kind, c.columns, c.where, c.include, list(c.needs), c.name) for c in self.pool]

    def fitting(self, needs: list[Need]) -> Fitting:
        """Per candidate of the pool (in order), per need of `needs` (in order): (serves, usable).

        Computed once per table: a re-design brings the same needs with other numbers, and the
        answer depends only on their structure (checked: other structures get their own)."""
        forms = tuple(n.form for n in needs)
        for known, found in self._fit:
            if known == forms:
                return found
        made = tuple(tuple(fits(c.kind, c.columns, c.where, form) for form in forms) for c in self.pool)
        self._fit.append((forms, made))
        return made


def _numbered_name(table: str, candidate: Candidate, number: int) -> str:
    return index_name(table, candidate.kind, candidate.columns, (*candidate.where, ("v", number)))


def first_free(variant: Callable[[int], str], taken: set[str], start: int) -> str:
    """The first of variant(start), variant(start + 1), … not in `taken`. (The loop this replaces
    rebuilt variant(len(taken)) without changing it, and hung the planner when that name was taken.)"""
    number = start
    while (name := variant(number)) in taken:
        number += 1
    return name


def frame_of(ctx: DesignContext, table: TableSpec, needs: list[Need]) -> Frame:
    """The structural part of `table`'s design; takes the candidates' names into `ctx.names`."""
    labels = tuple(_constraint_route(table, need) for need in needs)
    # A need a key or unique rule answers by its leading columns only (many rows a lookup) gets
    # candidates too: a shorter index of its own may read it at fewer pages (index_select._counts
    # decides whether that saving counts). A lookup that fixes a whole key or unique rule does not.
    open_needs = [
        need for need, label in zip(needs, labels, strict=True) if label is None or not _whole_key(table, need)
    ]
    engine = ctx.plan.model.engines.relational
    load = ctx.loads[table.name]
    pool = _hot_free(_candidates(open_needs, table), load) if engine in HOT_ENGINES else _candidates(open_needs, table)
    pool = [c for c in pool if not _copies_a_key(table, c, labels, needs)]
    taken_names = ctx.names
    for candidate in pool:
        name = index_name(table.name, candidate.kind, candidate.columns, candidate.where)
        if name in taken_names and candidate.include:  # beside its copy without HOT-updated columns
            name = index_name(table.name, candidate.kind, candidate.columns, candidate.where, "covering")
        if name in taken_names:
            name = first_free(partial(_numbered_name, table.name, candidate), taken_names, len(taken_names))
        candidate.name = name
        taken_names.add(name)
    return Frame(tuple(n.name for n in needs), labels, tuple(pool))


__all__ = ["Candidate", "Fitting", "Frame", "frame_of", "serves", "usable"]

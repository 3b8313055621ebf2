"""What each index structure costs, per read and per write (pure: no I/O).

The unit is one 8 KiB page read; the constants below are stated, not tuned. A read through an
index pays the tree's height (`levels`: its own leaf pages and key width), the leaf pages its
entries fill and the heap pages of the rows fetched (none when the index covers the read;
`heap_pages`: a page per row, unless the rows arrived in the order the index finds them,
PostgreSQL's `pg_stats.correlation`); without a new index it pays a scan, or the key/unique
prefix that finds its equality group (`baseline`). An index costs every write that touches its
columns (key, INCLUDE, WHERE) a few dirtied pages, more for wider entries, and its bytes kept
(the PostgreSQL sizing model of sizing.py, with B-tree deduplication). What an index costs the
engine's *other* updates — PostgreSQL's heap-only updates it ends — is hot_updates.py. The
latency estimate of PP501 is `estimate_ms`.
"""

from __future__ import annotations

from typing import Any

from polyplan.analyse.sizing import attribute_bytes
from polyplan.stores.relational import sizing
from polyplan.stores.relational.design import time_ordered_key
from polyplan.stores.relational.index_candidates import Candidate, serves
from polyplan.stores.relational.index_fit import group_of, lead_width
from polyplan.stores.relational.index_load import PAGE_BYTES, DesignContext, Load
from polyplan.stores.relational.index_needs import IN_LIST_VALUES, Need, constant_share
from polyplan.stores.relational.index_results import IndexMetrics
from polyplan.stores.relational.spec import IndexKind, TableSpec

INDEX_TUPLE_OVERHEAD = 16  # index tuple header + heap pointer
HEAP_POINTER_BYTES = 6  # one more row under a deduplicated key
INDEX_FILL = 0.9  # B-tree leaves are built 90 % full
WRITE_WEIGHT = 4.0  # one page dirtied (WAL + write-back) costs about four page reads
MAINTENANCE_PAGES = {
    IndexKind.BTREE: 2.0,
    IndexKind.UNIQUE: 2.0,
    IndexKind.FULLTEXT: 8.0,
    IndexKind.GIN: 8.0,
    IndexKind.BRIN: 0.05,
}
ENTRY_WRITE_COST = MAINTENANCE_PAGES[IndexKind.BTREE] * WRITE_WEIGHT
STORAGE_UNITS_PER_GIB = 1.0  # an index's standing cost: one page read per second per GiB kept
FULLTEXT_SCAN_FACTOR = 10.0  # parsing every row's text on a scan costs ~10× reading it
# An index entry wider than this costs proportionally more to write (more pages, more WAL).
ENTRY_BYTES_PER_PAGE_WRITE = 64.0
# Latency estimate for PP501: a round trip plus a random page read per page touched.
BASE_MS = 0.5
PAGE_MS = 0.1
GEO_PAGES = 4  # root, inner and leaf pages of the spatial index, and the nearby rows' heap page


def levels(
    ctx: DesignContext,
    table: TableSpec,
    columns: tuple[str, ...],
    unique: bool,
    include: tuple[str, ...] = (),
    where: tuple[tuple[str, Any], ...] = (),
) -> float:
    """Pages one lookup reads from the root of a B-tree over `columns` (+ `include`, `where`'s
    rows) to its first leaf: `sizing.btree_levels` on the model's relational engine, from the
    index's leaf pages (entry width, deduplication of a repeated key) and its inner pages'
    fan-out. Indexes of the same table differ: a deduplicated (a) can be a level shorter than a
    unique (a, b) over the same rows. SQLite is sized as PostgreSQL (no model of its own)."""
    rows = max(1.0, ctx.loads[table.name].rows * _indexed_share(ctx, table, where))
    keys = rows if unique else ctx.card.group(table.name, list(columns), bound=rows)
    key = (table.name, columns, rows, keys, unique, include)
    found = ctx.index_levels.get(key)
    if found is None:
        engine = "mysql" if ctx.plan.model.engines.relational == "mysql" else "postgresql"
        found = ctx.index_levels[key] = sizing.btree_levels(
            table, columns, rows, keys, unique, engine, ctx.plan.sizing(engine), include
        )
    return float(found)


def heap_pages(ctx: DesignContext, table: TableSpec, columns: tuple[str, ...], fetched: float) -> float:
    """Pages read to fetch `fetched` rows found through a B-tree over `columns`, after its own.

    PostgreSQL writes a row where the heap has room, so its heap is in the order rows arrive. The
    model knows one such order: `design.time_ordered_key`, a generated or UUIDv7 key, or the
    owner's key of a list child written with an owner so numbered. When that column leads the
    index, the rows it finds together arrived together (`pg_stats.correlation` near 1): a run of
    `fetched` rows starting anywhere on a page spans 1 + (fetched - 1) ÷ (rows a page) pages.
    Otherwise rows arrive in no order the index knows (correlation near 0), and each row fetched
    is a heap page of its own (a caller that reads every match caps it at the table's pages).
    Checked on the real server, a table loaded in key order and the same rows shuffled:
    tests/test_heap_pages.py::test_heap_pages_follow_arrival_order_on_postgresql.

    InnoDB (`engines.relational: mysql`) has no heap: the rows are the primary key's leaves. Rows
    found through the primary key lie in its order, on the leaf its descent reached and the next
    (16 KiB pages); a secondary entry (a unique rule is one) holds the row's primary key, and
    each row is then a descent of the primary key from its root, its levels in pages:
    tests/test_heap_pages.py::test_innodb_fetches_a_row_by_a_primary_key_descent."""
    load = ctx.loads[table.name]
    if ctx.plan.model.engines.relational == "mysql" and table.primary_key:
        key = tuple(table.primary_key)
        if columns == key:
            page = ctx.plan.sizing("mysql")["page_bytes"]
            return max(fetched - 1.0, 0.0) * load.row_bytes / page
        return fetched * levels(ctx, table, key, True)
    if columns and columns[0] == time_ordered_key(table):
        per_page = max(1.0, PAGE_BYTES / max(load.row_bytes, 1.0))
        return min(load.pages, 1.0 + max(fetched - 1.0, 0.0) / per_page)
    return fetched


def _candidate_levels(ctx: DesignContext, table: TableSpec, candidate: Candidate) -> float:
    columns = tuple(c.name for c in candidate.columns)
    return levels(ctx, table, columns, candidate.kind is IndexKind.UNIQUE, candidate.include, candidate.where)


def _key_bytes(table: TableSpec, names: list[str]) -> float:
    return sum(attribute_bytes(table.column(n).attribute) for n in names)


def _entry_bytes(ctx: DesignContext, table: TableSpec, candidate: Candidate) -> float:
    """Average bytes one row adds to the index.

    A key repeated across rows is stored once per leaf page as a posting list on PostgreSQL 13+
    (B-tree deduplication): each further row then costs only its heap pointer. Keys that are
    mostly unique, and indexes with INCLUDE columns, are not deduplicated.
    """
    key = (table.name, candidate.kind, candidate.columns, candidate.include, candidate.where)
    found = ctx.entry_bytes.get(key)
    if found is None:
        found = ctx.entry_bytes[key] = _entry_bytes_of(ctx, table, candidate)
    return found


def _entry_bytes_of(ctx: DesignContext, table: TableSpec, candidate: Candidate) -> float:
    names = [c.name for c in candidate.columns] + list(candidate.include)
    raw = _key_bytes(table, names) + INDEX_TUPLE_OVERHEAD
    if candidate.include or candidate.kind is not IndexKind.BTREE:
        return raw
    rows = max(1.0, ctx.loads[table.name].rows * _indexed_share(ctx, table, candidate.where))
    keys = ctx.card.group(table.name, [c.name for c in candidate.columns], bound=rows)
    if keys >= rows / 2:
        return raw
    return (keys * raw + (rows - keys) * HEAP_POINTER_BYTES) / rows


def _indexed_share(ctx: DesignContext, table: TableSpec, where: tuple[tuple[str, Any], ...]) -> float:
    rows = ctx.loads[table.name].rows
    share = 1.0
    for column, value in where:
        share *= constant_share(ctx, table, column, value, rows)
    return share


def scan_cost(load: Load, need: Need) -> float:
    """Pages one execution reads by a scan (full-text parses every row: FULLTEXT_SCAN_FACTOR).

    With a LIMIT and no sort the scan stops at the LIMIT'th matching row, about LIMIT ÷ the
    pattern's selectivity rows in: `a0 = false LIMIT 20` over half the rows reads one page, and
    PostgreSQL rightly scans for it, where a partial index sized at half the table was designed
    and its proof failed (fuzz9pg's models 319, 554, 643). An engine costs a LIMIT so."""
    pages = load.pages
    if need.limit and not need.sort:
        read = float(need.limit) / max(need.selectivity, 1.0 / max(load.rows, 1.0))
        pages = min(pages, max(1.0, read * load.row_bytes / PAGE_BYTES))
    return pages * (FULLTEXT_SCAN_FACTOR if need.fulltext else 1.0)


def index_cost(
    ctx: DesignContext, table: TableSpec, candidate: Candidate, need: Need, serving: bool | None = None
) -> float:
    """Pages one execution of `need` reads through `candidate` (`serving`: whether it serves the
    need, when the caller knows it already: `serves`)."""
    load = ctx.loads[table.name]
    matched = max(1.0, load.rows * need.selectivity)
    if candidate.kind is IndexKind.BRIN:
        ranges = load.pages / 128.0  # one summary per 128 heap pages
        return ranges / 100.0 + matched * load.row_bytes / PAGE_BYTES + 1.0
    if serves(candidate.kind, candidate.columns, candidate.where, need) if serving is None else serving:
        # An ordered walk checks a filter inside a value on each row: LIMIT ÷ its share rows.
        walked = float(need.limit) / need.inside[1] if need.limit and need.inside else float(need.limit or 0)
        fetched = min(matched, walked) if need.limit else matched
    else:  # only the equality group (or its leading part) is found through the index: read it all, filter, sort
        fetched = max(matched, load.rows * _lead_share(ctx, table, candidate, need))
    entries_per_page = PAGE_BYTES * INDEX_FILL / _entry_bytes(ctx, table, candidate)
    leaf = fetched / entries_per_page
    covered = need.reads is not None and need.reads <= {c.name for c in candidate.columns} | set(candidate.include)
    columns = tuple(c.name for c in candidate.columns)
    heap = 0.0 if covered else min(heap_pages(ctx, table, columns, fetched), load.pages)
    return _candidate_levels(ctx, table, candidate) + leaf + heap


def _lead_share(ctx: DesignContext, table: TableSpec, candidate: Candidate, need: Need) -> float:
    """Share of rows an equality seek on `candidate`'s leading columns in the need's group finds:
    the group's own selectivity when the seek covers it, else the part's (its parameters' group,
    its constants' and IN lists' shares), never under the whole group's."""
    part = {c.name for c in candidate.columns[: lead_width(candidate.columns, candidate.where, need.form)]}
    if part == group_of(need.form, candidate.where):
        return need.group_selectivity
    rows = ctx.loads[table.name].rows
    share = 1.0
    for column, value in need.where:
        if column in part and (column, value) not in candidate.where:
            share *= constant_share(ctx, table, column, value, rows)
    for column in need.ins:
        if column in part:
            share *= min(1.0, IN_LIST_VALUES / max(1.0, min(ctx.card.column(table.name, column).value, rows)))
    equal = [c for c in need.eq if c in part]
    if equal:
        share /= ctx.card.group(table.name, equal)
    return max(share, need.group_selectivity, 1.0 / max(rows, 1.0))


def constraint_cost(ctx: DesignContext, table: TableSpec, need: Need, label: str) -> float:
    """Pages one execution reads through the primary key or unique rule that serves it (`label`:
    "primary key" or "unique (a, b)", as index_candidates names them)."""
    columns = next((tuple(u) for u in table.uniques if label == f"unique ({', '.join(u)})"), tuple(table.primary_key))
    load = ctx.loads[table.name]
    matched = max(1.0, load.rows * need.selectivity)
    fetched = min(matched, float(need.limit)) if need.limit else matched
    return levels(ctx, table, columns, True) + heap_pages(ctx, table, columns, fetched)


def _touching_writes(load: Load, columns: set[str]) -> float:
    rate = load.inserts + load.deletes
    for update_rate, touched in load.updates:
        if touched is None or touched & columns:
            rate += update_rate
    return rate


def inside_upkeep(load: Load, column: str, kind: str) -> tuple[float, float, float]:
    """An inside-value index on `column` (a GIN for contains, a B-tree on a sub-field's expression
    for path): the writes per second that maintain it, the pages each dirties, and their cost in
    page reads per second (WRITE_WEIGHT a page)."""
    writes = _touching_writes(load, {column})
    pages = MAINTENANCE_PAGES[IndexKind.GIN if kind == "contains" else IndexKind.BTREE]
    return writes, pages, writes * pages * WRITE_WEIGHT


def index_metrics(ctx: DesignContext, table: TableSpec, candidate: Candidate, benefit: float) -> IndexMetrics:
    """A candidate's size, entries written per second, and write and storage cost (`benefit`: the
    read benefit to record beside them)."""
    load = ctx.loads[table.name]
    share = _indexed_share(ctx, table, candidate.where)
    if candidate.kind is IndexKind.BRIN:
        size = load.pages / 128.0 * 32.0
    elif candidate.kind is IndexKind.FULLTEXT:
        size = load.rows * share * _key_bytes(table, [c.name for c in candidate.columns]) * 0.6
    else:  # the PostgreSQL sizing model, as capacity.md counts it (random inserts, deduplication)
        rows = max(1.0, load.rows * share)
        columns = [c.name for c in candidate.columns]
        keys = ctx.card.group(table.name, columns, bound=rows)
        unique = candidate.kind is IndexKind.UNIQUE
        key = (table.name, tuple(columns), rows, keys, unique, candidate.include)
        found = ctx.index_sizes.get(key)
        if found is None:
            found = ctx.index_sizes[key] = sizing.index_bytes(
                table, columns, rows, keys, unique, ctx.plan.sizing("postgresql"), candidate.include
            )
        size = found
    touched = indexed_columns(candidate)
    writes = _touching_writes(load, touched) * (share if candidate.where else 1.0)
    # A B-tree write costs more the wider its entries: more leaf pages to fill, split and log.
    width = (
        0.5 + _entry_bytes(ctx, table, candidate) / ENTRY_BYTES_PER_PAGE_WRITE
        if candidate.kind is IndexKind.BTREE
        else 1.0
    )
    write_cost = writes * MAINTENANCE_PAGES[candidate.kind] * WRITE_WEIGHT * width
    storage = size / 2**30 * STORAGE_UNITS_PER_GIB
    return IndexMetrics(candidate.name, size, writes, benefit, write_cost, storage)


def indexed_columns(candidate: Candidate) -> set[str]:
    """Every column an index holds: key, INCLUDE and WHERE (a change to any one rewrites it)."""
    return {c.name for c in candidate.columns} | set(candidate.include) | {c for c, _ in candidate.where}


def prefix_route(ctx: DesignContext, table: TableSpec, need: Need) -> tuple[str, tuple[str, ...], float] | None:
    """The key or unique rule whose leading columns the need fixes by equality, and the cost of
    finding the rows through it and filtering and sorting them (the plan it has without a new
    index). None when no such rule exists."""
    if need.fulltext:
        return None
    load = ctx.loads[table.name]
    fixed = {c: v for c, v in need.where if not isinstance(v, tuple)}
    fixed.update(dict.fromkeys(need.eq))
    best: tuple[str, tuple[str, ...], float] | None = None
    constraints = [("primary key", table.primary_key)] + [(f"unique ({', '.join(u)})", u) for u in table.uniques]
    for label, columns in constraints:
        width = 0
        while width < len(columns) and columns[width] in fixed:
            width += 1
        if width == 0:
            continue
        share = 1.0 / ctx.card.group(table.name, [c for c in columns[:width] if c in need.eq])
        for column in columns[:width]:
            if column not in need.eq:
                share *= constant_share(ctx, table, column, fixed[column], load.rows)
        fetched = max(1.0, load.rows * share)
        cost = levels(ctx, table, tuple(columns), True) + heap_pages(ctx, table, tuple(columns), fetched)
        if best is None or cost < best[2]:
            best = (label, columns[:width], cost)
    return best


def baseline(load: Load, need: Need, prefix: tuple[str, tuple[str, ...], float] | None) -> float:
    """Pages one execution reads without a new index: a scan, the key/unique prefix plan, or the
    inside-value index of an ordered walk's need."""
    found = min(scan_cost(load, need), prefix[2]) if prefix is not None else scan_cost(load, need)
    return min(found, inside_cost(load, need.inside[1])) if need.inside is not None else found


def inside_cost(load: Load, share: float) -> float:
    """Pages a read through an inside-value index (GIN or expression) touches: a page per
    matching row, as a B-tree lookup that is not covering, at most the table's."""
    return min(load.pages, max(1.0, load.rows * share))


def estimate_ms(pages: float) -> float:
    """The latency estimate of PP501 for a read touching `pages` pages."""
    return round(BASE_MS + pages * PAGE_MS, 2)


__all__ = [
    "ENTRY_WRITE_COST",
    "GEO_PAGES",
    "baseline",
    "constraint_cost",
    "estimate_ms",
    "heap_pages",
    "index_cost",
    "index_metrics",
    "indexed_columns",
    "inside_cost",
    "inside_upkeep",
    "levels",
    "prefix_route",
    "scan_cost",
]

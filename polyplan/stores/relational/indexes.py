"""Workload-driven index design for the relational target (pure: no I/O).

Three steps, each explained again in `docs/index-plan.md`:

1. **Needs.** Every read pattern of a relationally stored entity becomes a *need*: equality
   columns, then sort columns in their direction, then the range column (equality–sort–range).
   Constant predicates (`status = 'paid'`, `acknowledged_at IS NULL`) become the WHERE of a
   partial index; a pattern that reads a few narrow columns at a high rate asks for a covering
   index; full-text that stays relational asks for a full-text index; a time range over a large
   append-only table asks for BRIN. A foreign key becomes a need when a pattern loads children
   through it or parent rows are deleted (the engine then looks the children up by that key).
   (GIN on JSON would serve containment filters, but the model rejects every filter on a JSON
   attribute — PP304 — so no need can ask for one yet.)
2. **Candidates.** A need the primary key or a unique rule already serves takes no index. The
   others merge, longest first: a need joins an existing candidate whose column order already
   serves it (its equality columns in any order, then its sort columns in order or all reversed,
   then its range column), widening the INCLUDE list when it wants covering.
3. **Selection.** A candidate's read benefit (rate × page reads saved) is weighed against its
   write cost (writes that touch its columns × pages maintained) and its storage. Candidates are
   taken greedily by net benefit while that stays positive and the entity's write budget (the
   more it is written, the fewer indexes) has room. Every pattern ends with a route: the index
   or constraint that serves it, or the reason none does (PP403).

The unit of cost is one 8 KiB page read; the constants below are stated, not tuned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from polyplan.analyse.sizing import attribute_bytes
from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import pattern_named, patterns_of
from polyplan.model.ranges import ONE_SIDED_SELECTIVITY, is_range
from polyplan.model.schema import (
    COLLECTION_TYPES,
    AccessPattern,
    Direction,
    Family,
    FilterOp,
    RequirementsModel,
    TypeName,
    WriteKind,
)
from polyplan.plan.aggregates import rows_read
from polyplan.plan.geo import geo_filters, is_geo
from polyplan.plan.ir import Plan
from polyplan.plan.membership import looks_inside
from polyplan.plan.predicates import WritePredicate, all_predicates
from polyplan.stores.relational import sizing
from polyplan.stores.relational.cardinality import Cardinalities, enum_shares
from polyplan.stores.relational.hot_updates import HOT_ENGINES, HotLoss, hot_loss
from polyplan.stores.relational.index_fit import NeedForm, fits, group_of
from polyplan.stores.relational.index_guesses import Replan, guess_diagnostics
from polyplan.stores.relational.index_names import MAX_NAME, index_name, shorten, slug
from polyplan.stores.relational.membership import inside_route
from polyplan.stores.relational.path_queries import path_legs
from polyplan.stores.relational.spec import ForeignKeySpec, IndexColumn, IndexKind, IndexSpec, TableKind, TableSpec

# --- cost model constants ----------------------------------------------------------------
PAGE_BYTES = 8192
HEAP_TUPLE_OVERHEAD = 28  # tuple header + line pointer (PostgreSQL; InnoDB is similar)
INDEX_TUPLE_OVERHEAD = 16  # index tuple header + heap pointer
HEAP_POINTER_BYTES = 6  # one more row under a deduplicated key
INDEX_FILL = 0.9  # B-tree leaves are built 90 % full
BTREE_FANOUT = 256
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
IN_LIST_VALUES = 3
INSIDE_SELECTIVITY = 0.1  # share of rows a contains or JSON sub-field filter keeps (no statistics)  # values assumed in a parameterised IN list
RANGE_SELECTIVITY = 0.01  # a range parameter selects 1 % of rows
PREFIX_SELECTIVITY = 0.001
FULLTEXT_SELECTIVITY = 0.001
NULL_SHARE = 0.1  # rows where a nullable attribute is null
DEFAULT_LIST_ITEMS = 3.0
DEFAULT_CHILDREN = 2.0
# Covering: only when a pattern names the few narrow columns it reads beyond the key and runs
# often enough that heap fetches dominate its cost.
COVERING_MIN_RATE = 10.0
COVERING_MAX_COLUMNS = 4
COVERING_MAX_BYTES = 64
# An index entry wider than this costs proportionally more to write (more pages, more WAL).
ENTRY_BYTES_PER_PAGE_WRITE = 64.0
UNCOVERABLE = frozenset({TypeName.TEXT, TypeName.JSON, TypeName.BINARY, TypeName.LIST, TypeName.SET, TypeName.OBJECT})
BRIN_MIN_ROWS = 1_000_000
MIN_IMPROVEMENT = 2.0  # a new index must at least halve a pattern's cost to count for it
# Per-entity write budget: at most this many secondary indexes up to this many writes/s.
WRITE_BUDGET: tuple[tuple[float, int], ...] = ((10.0, 6), (100.0, 5), (1000.0, 3), (math.inf, 2))
# Latency estimate for PP501: a round trip plus a random page read per page touched.
BASE_MS = 0.5
PAGE_MS = 0.1


# --- public result types -------------------------------------------------------------------


# A geo read's route: GiST on PostGIS geography, SPATIAL on MariaDB, else the B-tree on (lat, lon).
GEO_VIA = "geo index (GiST, SPATIAL or B-tree on lat, lon)"
GEO_PAGES = 4  # root, inner and leaf pages of the spatial index, and the nearby rows' heap page


@dataclass(frozen=True)
class PatternRoute:
    """How one access pattern (or foreign-key lookup) is served."""

    pattern: str  # access pattern name, or "fk:<table>(<columns>)"
    table: str
    shape: str  # "customer_id =, ORDER BY placed_at DESC" — for humans
    rate: float
    index: str | None  # index name; None when a constraint serves it or nothing does
    via: str  # "index", "primary key", "unique (sku)", "inside index" (relational.membership) or "none"
    covering: bool = False
    reason: str = ""
    estimated_ms: float = 0.0
    latency_ms: float | None = None
    fulltext: bool = False


@dataclass(frozen=True)
class IndexMetrics:
    """The numbers behind one chosen index."""

    name: str
    estimated_bytes: float
    writes_per_second: float  # index entries maintained per second
    benefit: float  # page reads saved per second
    write_cost: float  # page-read equivalents per second spent maintaining it
    storage_cost: float
    hot: str = ""  # the heap-only updates it ends (PostgreSQL), for index-plan.md
    # Per pattern it was chosen for: (pattern, reads/s, pages a read touched before it, through it),
    # so index-plan.md can show the saving per read, not only a per-second total against scans.
    reads: tuple[tuple[str, float, float, float], ...] = ()


@dataclass(frozen=True)
class TableIndexPlan:
    """The index design of one table, kept in `TableSpec.extra[INDEX_PLAN]` for docs and tests."""

    table: str
    entity: str
    rows: float
    write_rate: float
    budget: int
    routes: tuple[PatternRoute, ...]
    metrics: tuple[IndexMetrics, ...]
    rejected: tuple[str, ...] = ()  # candidates not taken, with why
    unindexed_foreign_keys: tuple[str, ...] = ()


INDEX_PLAN = "index_plan"


def index_plan_of(table: TableSpec) -> TableIndexPlan | None:
    """The index design recorded on `table`, if `design_indexes` produced it."""
    found = table.extra.get(INDEX_PLAN)
    return found if isinstance(found, TableIndexPlan) else None


# --- needs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """What one pattern asks of an index, in engine-neutral terms."""

    name: str
    table: str
    rate: float
    eq: tuple[str, ...] = ()
    ins: tuple[str, ...] = ()  # parameterised IN lists
    where: tuple[tuple[str, Any], ...] = ()  # constant predicates, sorted by column
    sort: tuple[IndexColumn, ...] = ()
    ranges: tuple[str, ...] = ()  # the first bounds the scan; later ones are checked in the index
    prefix: frozenset[str] = frozenset()
    fulltext: tuple[str, ...] = ()
    reads: frozenset[str] | None = None  # columns read when covering is wanted
    limit: int | None = None
    selectivity: float = 1.0
    group_selectivity: float = 1.0  # of the equality group alone (equalities, unsorted IN lists)
    latency_ms: float | None = None
    brin: bool = False
    shape: str = ""
    # What `serves` and `usable` read (never the numbers a guessed distinct count moves): the
    # key of their memo, so the PP420 re-designs of a table test each index shape only once.
    form: NeedForm = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        form = NeedForm(self.eq, self.ins, self.where, self.sort, self.ranges, self.prefix, self.fulltext, self.brin)
        object.__setattr__(self, "form", form)

    @property
    def equal(self) -> frozenset[str]:
        """Columns the pattern fixes to one value (parameters and constants)."""
        return frozenset(self.eq) | {column for column, _ in self.where}


@dataclass(frozen=True)
class Load:
    """Row count and write traffic of one table at the planning horizon."""

    rows: float
    row_bytes: float
    inserts: float
    deletes: float
    updates: tuple[tuple[float, frozenset[str] | None], ...] = ()  # (rate, columns; None = all)

    @property
    def pages(self) -> float:
        return max(1.0, self.rows * self.row_bytes / PAGE_BYTES)

    @property
    def write_rate(self) -> float:
        return self.inserts + self.deletes + sum(rate for rate, _ in self.updates)


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


@dataclass
class _Context:
    plan: Plan
    tables: dict[str, TableSpec]
    loads: dict[str, Load]
    names: set[str] = field(default_factory=set)
    card: Cardinalities = field(init=False)
    # _entry_bytes per (table, kind, columns, include, where): it depends on nothing else of a
    # candidate, and the cost of every (candidate, need) pair and every upkeep asked for it again.
    entry_bytes: dict[tuple[Any, ...], float] = field(default_factory=dict)
    # sizing.index_bytes per (table, columns, rows, keys, unique, include): its arguments are all
    # it depends on, so the re-plans of PP420 (index_guesses) share it with the design they
    # probe; most candidates' distinct counts do not move with the one count a probe changes.
    index_sizes: dict[tuple[Any, ...], float] = field(default_factory=dict)


def _model(plan: Plan) -> RequirementsModel:
    return plan.model


def _relational(plan: Plan, entity: str) -> bool:
    decided = plan.entities.get(entity)
    return decided is not None and decided.family is Family.RELATIONAL


def column_of(table: TableSpec, entity: str, attribute: str) -> str | None:
    """The column that stores `entity.attribute` in `table`, or None when it lives elsewhere."""
    for column in table.columns:
        if column.source == f"{entity}.{attribute}":
            return column.name
    for column in table.columns:
        if column.name == attribute and column.attribute.type not in (TypeName.OBJECT, *COLLECTION_TYPES):
            return column.name
    return None


def _columns_of(table: TableSpec, entity: str, attribute: str) -> list[str] | None:
    """Every column of an attribute (a flattened object has several)."""
    single = column_of(table, entity, attribute)
    if single is not None:
        return [single]
    nested = [c.name for c in table.columns if c.source.startswith(f"{entity}.{attribute}.")]
    return nested or None


def _table_load(ctx: _Context, table: TableSpec) -> Load:
    model = _model(ctx.plan)
    row_bytes = HEAP_TUPLE_OVERHEAD + sum(attribute_bytes(c.attribute) for c in table.columns)
    if table.kind is TableKind.ENTITY and table.entity in ctx.plan.entities:
        profile = ctx.plan.entities[table.entity].profile
        entity = model.entities[table.entity]
        deletes = sum(w.rate for w in model.write_patterns if w.entity == table.entity and w.kind is WriteKind.DELETE)
        if entity.growth.retention_days is not None or entity.growth.ttl_seconds is not None:
            deletes += profile.insert_rate  # at steady state, as many rows age out as come in
        updates = tuple(
            (
                w.rate,
                frozenset(c for a in w.attributes for c in (_columns_of(table, table.entity, a) or []))
                if w.attributes
                else None,
            )
            for w in model.write_patterns
            if w.entity == table.entity and w.kind in (WriteKind.UPDATE, WriteKind.UPSERT)
        )
        return Load(profile.rows_at_horizon, row_bytes, profile.insert_rate, deletes, updates)
    # Child tables (lists, many-to-many links) grow with the entities they hang from.
    parents = [
        ctx.loads[fk.ref_table] for fk in table.foreign_keys if fk.ref_table in ctx.loads and fk.ref_table != table.name
    ]
    if not parents:
        return Load(1.0, row_bytes, 0.0, 0.0)
    factor = DEFAULT_LIST_ITEMS if table.kind is TableKind.LIST_CHILD else DEFAULT_CHILDREN
    if table.kind is TableKind.ASSOCIATION:
        relationship = next((r for r in model.relationships if r.name == table.entity), None)
        if relationship is not None and relationship.avg_children:
            factor = relationship.avg_children
    if table.kind is TableKind.LIST_CHILD:
        items = _list_items(model, table)
        factor = items or factor
    base = max(parents, key=lambda load: load.rows)
    return Load(base.rows * factor, row_bytes, base.inserts * factor, base.deletes * factor)


def _list_items(model: RequirementsModel, table: TableSpec) -> float | None:
    attribute = _child_attribute(table)
    entity = model.entities.get(table.entity)
    found = entity.attributes.get(attribute) if entity is not None and attribute else None
    return found.avg_items if found is not None and found.type in COLLECTION_TYPES else None


def _child_attribute(table: TableSpec) -> str | None:
    """The list/object attribute a child table stores (design.py records it in `extra`)."""
    recorded = table.extra.get("attribute")
    return recorded if isinstance(recorded, str) else None


# --- selectivity --------------------------------------------------------------------------


def _distinct(ctx: _Context, table: TableSpec, column: str, rows: float) -> float:
    """Distinct values of one column among `rows` rows (see cardinality.py for the sources)."""
    return max(1.0, min(ctx.card.column(table.name, column).value, rows))


def _constant_share(ctx: _Context, table: TableSpec, column: str, value: Any, rows: float) -> float:
    attribute = table.column(column).attribute
    values = value if isinstance(value, (list, tuple)) else [value]
    share = 0.0
    for item in values:
        if item is None:
            share += NULL_SHARE if attribute.nullable else 0.0
        elif attribute.type is TypeName.ENUM and attribute.values:
            share += enum_shares(attribute).get(str(item), 0.0)
        elif attribute.type is TypeName.BOOLEAN:
            share += 0.5
        else:
            share += 1.0 / _distinct(ctx, table, column, rows)
    return min(1.0, max(share, 1.0 / max(rows, 1.0)))


# --- building needs ------------------------------------------------------------------------


def _constant(flt_value: Any) -> Any:
    return tuple(flt_value) if isinstance(flt_value, list) else flt_value


def _describe(
    need_eq: list[str],
    ins: list[str],
    where: list[tuple[str, Any]],
    sort: list[IndexColumn],
    ranges: list[str],
    prefix: set[str],
    fulltext: list[str],
) -> str:
    parts = [f"{c} =" for c in need_eq] + [f"{c} IN (…)" for c in ins]
    parts += [f"{c} IS NULL" if v is None else f"{c} = {v!r}" for c, v in where]
    parts += [f"{c} LIKE prefix" if c in prefix else f"{c} range" for c in ranges]
    parts += [f"{c} full-text" for c in fulltext]
    if sort:
        parts.append("ORDER BY " + ", ".join(f"{c.name}{' DESC' if c.descending else ''}" for c in sort))
    return ", ".join(parts) or "whole table"


def _pattern_need(ctx: _Context, pattern: AccessPattern, table: TableSpec) -> Need | str:
    """The need of one pattern, or the reason no index can serve it."""
    pattern = rows_read(pattern)  # an aggregate: the rows it reads, grouped in order and covered
    entity = pattern.entity
    load = ctx.loads[table.name]
    eq: list[str] = []
    in_params: list[str] = []
    where: list[tuple[str, Any]] = []
    ranges: list[str] = []
    prefix: set[str] = set()
    fulltext: list[str] = []
    selectivity = 1.0
    group = 1.0
    if any(looks_inside(flt) for flt in pattern.filters):
        # Its GIN or expression index (relational.membership) serves it: the engines pick that
        # one (or scan) over a B-tree on the pattern's other columns, so none is routed here.
        return "it filters inside a value (contains, JSON path): served by its GIN or expression index"
    for flt in pattern.filters:
        column = column_of(table, entity, flt.attribute)
        if column is None:
            return f"{flt.attribute} is not a column of {table.name} (stored in another table)"
        if table.column(column).attribute.type in COLLECTION_TYPES:
            return f"full text over the items of {flt.attribute} is the search projection's"
        constant = "value" in flt.model_fields_set
        if flt.op in (FilterOp.EQ, FilterOp.IN) and constant:
            where.append((column, _constant(flt.value)))
            share = _constant_share(ctx, table, column, flt.value, load.rows)
            selectivity *= share
            group *= share
        elif flt.op is FilterOp.EQ:
            eq.append(column)
        elif flt.op is FilterOp.IN:
            in_params.append(column)
            share = min(1.0, IN_LIST_VALUES / _distinct(ctx, table, column, load.rows))
            selectivity *= share
            group *= share
        elif flt.op is FilterOp.RANGE:
            ranges.append(column)
            selectivity *= RANGE_SELECTIVITY
        elif is_range(flt.op):
            ranges.append(column)
            selectivity *= ONE_SIDED_SELECTIVITY
        elif flt.op is FilterOp.PREFIX:
            ranges.append(column)
            prefix.add(column)
            selectivity *= PREFIX_SELECTIVITY
        else:
            fulltext.append(column)
            selectivity *= FULLTEXT_SELECTIVITY
    # The equality parameters together: a group is bounded by its references and the table's rows.
    selectivity /= ctx.card.group(table.name, eq)
    group /= ctx.card.group(table.name, eq)
    # Columns fixed to one value sort trivially; an IN list still yields several values, so a
    # sort on an IN column stays in the sort (the index then walks the values in order).
    fixed = set(eq) | {c for c, v in where if not isinstance(v, tuple)}
    sort: list[IndexColumn] = []
    for item in pattern.sort:
        column = column_of(table, entity, item.attribute)
        if column is None:
            return f"sort attribute {item.attribute} is not a column of {table.name}"
        if column not in fixed:
            sort.append(IndexColumn(column, descending=item.direction is Direction.DESC))
    sorted_columns = {c.name for c in sort}
    # A column both sorted and prefix-searched keeps its ordinary order (the sort needs it).
    prefix -= sorted_columns
    ordered_ranges = [c for c in ranges if c not in fixed and c not in in_params]
    where.sort(key=lambda item: item[0])
    shape = _describe(eq, in_params, where, sort, ordered_ranges, prefix, fulltext)
    if not (eq or in_params or where or sort or ordered_ranges or fulltext):
        return "it reads the whole table without order; no index makes that cheaper than a scan"
    if not (eq or in_params or where or ordered_ranges or fulltext) and pattern.limit is None:
        return "it returns every row in order; a scan and sort beats walking an index over the whole table"
    reads = _covering_reads(pattern, table)
    rows = load.rows
    decided = ctx.plan.entities[entity]
    time_attribute = _model(ctx.plan).entities[entity].growth.time_attribute
    brin = (
        decided.profile.append_only
        and not (eq or in_params or fulltext)
        and len(ordered_ranges) == 1
        and time_attribute is not None
        and ordered_ranges[0] == column_of(table, entity, time_attribute)
        and rows >= BRIN_MIN_ROWS
        and not (sort and pattern.limit is not None)
    )
    return Need(
        name=pattern.name,
        table=table.name,
        rate=pattern.rate,
        eq=tuple(eq),
        ins=tuple(c for c in in_params if c not in eq),
        where=tuple(where),
        sort=tuple(sort),
        ranges=tuple(ordered_ranges),
        prefix=frozenset(prefix),
        fulltext=tuple(fulltext),
        reads=reads,
        limit=pattern.limit,
        selectivity=max(selectivity, 1.0 / max(rows, 1.0)),
        group_selectivity=max(group, selectivity, 1.0 / max(rows, 1.0)),
        latency_ms=pattern.latency_ms,
        brin=brin,
        shape=shape,
    )


def _covering_reads(pattern: AccessPattern, table: TableSpec) -> frozenset[str] | None:
    """The columns a covering index must hold for `pattern`, or None when covering does not pay.

    Only the columns beyond the key (filters and sort) are copied into the index, and only when
    they are few and narrow: every insert writes them again, so a wide INCLUDE costs more in
    writes (and WAL) than the heap fetches it saves.
    """
    if not pattern.reads or pattern.rate < COVERING_MIN_RATE or pattern.loads:
        return None
    columns: set[str] = set()
    for attribute in pattern.reads:
        found = _columns_of(table, pattern.entity, attribute)
        if found is None:
            return None
        columns.update(found)
    keyed: set[str] = set()
    for attribute in [f.attribute for f in pattern.filters if not looks_inside(f)] + [
        s.attribute for s in pattern.sort
    ]:
        keyed.update(_columns_of(table, pattern.entity, attribute) or [])
    extra = [table.column(c) for c in columns - keyed]
    if any(spec.attribute.type in UNCOVERABLE for spec in extra):
        return None
    if len(extra) > COVERING_MAX_COLUMNS or sum(attribute_bytes(s.attribute) for s in extra) > COVERING_MAX_BYTES:
        return None
    return frozenset(columns | keyed)


def _foreign_key_needs(ctx: _Context, table: TableSpec) -> tuple[list[Need], list[str]]:
    """Needs for foreign keys that loads or parent deletes look up; notes for the rest."""
    model = _model(ctx.plan)
    needs: list[Need] = []
    notes: list[str] = []
    for fk in table.foreign_keys:
        parent = ctx.tables.get(fk.ref_table)
        if parent is None or parent.kind is not TableKind.ENTITY:
            continue
        parent_entity = parent.entity
        readers: list[AccessPattern] = []
        for pattern in patterns_of(model, parent_entity):
            if not _relational(ctx.plan, parent_entity) or _projected_away(ctx.plan, pattern):
                continue
            if (
                (table.kind is TableKind.ENTITY and table.entity in pattern.loaded)
                or (table.kind is TableKind.LIST_CHILD and _reads_list(pattern, table))
                or (table.kind is TableKind.ASSOCIATION and _association_loaded(ctx, table, fk.ref_table, pattern))
            ):
                readers.append(pattern)
        parent_deletes = ctx.loads[parent.name].deletes
        rate = sum(p.rate for p in readers) + parent_deletes
        label = f"fk:{table.name}({', '.join(fk.columns)})"
        if rate <= 0:
            notes.append(
                f"{label} → {fk.ref_table}: no pattern loads through it and {parent_entity} rows are never deleted"
            )
            continue
        why = [f"loaded by {', '.join(p.name for p in readers)}"] if readers else []
        if parent_deletes:
            why.append(f"{parent_deletes:g} {parent_entity} deletes/s look children up ({fk.on_delete.value})")
        parent_rows = max(1.0, ctx.loads[parent.name].rows)
        needs.append(
            Need(
                name=label,
                table=table.name,
                rate=rate,
                eq=fk.columns,
                selectivity=1.0 / parent_rows,
                group_selectivity=1.0 / parent_rows,
                shape=f"{', '.join(c + ' =' for c in fk.columns)} ({'; '.join(why)})",
            )
        )
    return needs, notes


def _unneeded_foreign_keys(ctx: _Context, table: TableSpec) -> list[ForeignKeySpec]:
    """The foreign keys `_foreign_key_needs` wrote a note for, in the same order."""
    needed = {n.eq for n in _foreign_key_needs(ctx, table)[0]}
    return [
        fk
        for fk in table.foreign_keys
        if fk.ref_table in ctx.tables and ctx.tables[fk.ref_table].kind is TableKind.ENTITY and fk.columns not in needed
    ]


def _reads_list(pattern: AccessPattern, table: TableSpec) -> bool:
    attribute = _child_attribute(table)
    return not pattern.reads or (attribute is not None and attribute in pattern.reads)


def _association_loaded(ctx: _Context, table: TableSpec, parent_table: str, pattern: AccessPattern) -> bool:
    others = {
        ctx.tables[fk.ref_table].entity
        for fk in table.foreign_keys
        if fk.ref_table != parent_table and fk.ref_table in ctx.tables
    }
    if not others:  # a self-referencing link: the pattern loads its own entity
        others = {ctx.tables[parent_table].entity}
    return bool(others & set(pattern.loaded))


def _projected_away(plan: Plan, pattern: AccessPattern) -> str | None:
    """The search projection that answers `pattern` instead of the relational store, if any."""
    decided = plan.entities.get(pattern.entity)
    if decided is None:
        return None
    for projection in decided.projections:
        if projection.family is Family.SEARCH and pattern.name in projection.patterns:
            return projection.engine
    return None


# --- serving -------------------------------------------------------------------------------


def serves(kind: IndexKind, columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: Need) -> bool:
    """Whether an index of this shape answers `need` by a scan of its key order."""
    return fits(kind, columns, where, need.form)[0]


def usable(kind: IndexKind, columns: tuple[IndexColumn, ...], where: tuple[tuple[str, Any], ...], need: Need) -> bool:
    """Whether the index finds the need's rows: it serves it outright, or its leading columns are
    exactly the need's equality group (the rest is then filtered and sorted in memory)."""
    return fits(kind, columns, where, need.form)[1]


def _unique_lookup(columns: tuple[str, ...], need: Need) -> bool:
    """A unique constraint answers any need that fixes all its columns (at most one row)."""
    return (
        not need.fulltext
        and bool(columns)
        and set(columns) <= need.equal
        and set(columns) <= set(need.eq) | {c for c, v in need.where if v is not None and not isinstance(v, tuple)}
    )


def _constraint_route(table: TableSpec, need: Need) -> str | None:
    constraints = [("primary key", table.primary_key)] + [(f"unique ({', '.join(u)})", u) for u in table.uniques]
    for label, cols in constraints:
        shape = tuple(IndexColumn(c) for c in cols)
        if _unique_lookup(cols, need) or serves(IndexKind.UNIQUE, shape, (), need):
            return label
    return None


def _prefix_route(ctx: _Context, table: TableSpec, need: Need) -> tuple[str, tuple[str, ...], float] | None:
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
                share *= _constant_share(ctx, table, column, fixed[column], load.rows)
        cost = _height(load.rows) + max(1.0, load.rows * share)
        if best is None or cost < best[2]:
            best = (label, columns[:width], cost)
    return best


def _baseline(load: Load, need: Need, prefix: tuple[str, tuple[str, ...], float] | None) -> float:
    """Pages one execution reads without a new index: a scan, or the key/unique prefix plan."""
    return min(_scan_cost(load, need), prefix[2]) if prefix is not None else _scan_cost(load, need)


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


# --- costs ---------------------------------------------------------------------------------


def _height(rows: float) -> float:
    return 1.0 + math.log(max(rows, 2.0), BTREE_FANOUT)


def _key_bytes(table: TableSpec, names: list[str]) -> float:
    return sum(attribute_bytes(table.column(n).attribute) for n in names)


def _entry_bytes(ctx: _Context, table: TableSpec, candidate: Candidate) -> float:
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


def _entry_bytes_of(ctx: _Context, table: TableSpec, candidate: Candidate) -> float:
    names = [c.name for c in candidate.columns] + list(candidate.include)
    raw = _key_bytes(table, names) + INDEX_TUPLE_OVERHEAD
    if candidate.include or candidate.kind is not IndexKind.BTREE:
        return raw
    rows = max(1.0, ctx.loads[table.name].rows * _indexed_share(ctx, table, candidate.where))
    keys = ctx.card.group(table.name, [c.name for c in candidate.columns], bound=rows)
    if keys >= rows / 2:
        return raw
    return (keys * raw + (rows - keys) * HEAP_POINTER_BYTES) / rows


def _indexed_share(ctx: _Context, table: TableSpec, where: tuple[tuple[str, Any], ...]) -> float:
    rows = ctx.loads[table.name].rows
    share = 1.0
    for column, value in where:
        share *= _constant_share(ctx, table, column, value, rows)
    return share


def _scan_cost(load: Load, need: Need) -> float:
    return load.pages * (FULLTEXT_SCAN_FACTOR if need.fulltext else 1.0)


def _index_cost(ctx: _Context, table: TableSpec, candidate: Candidate, need: Need) -> float:
    """Pages one execution of `need` reads through `candidate`."""
    load = ctx.loads[table.name]
    matched = max(1.0, load.rows * need.selectivity)
    if candidate.kind is IndexKind.BRIN:
        ranges = load.pages / 128.0  # one summary per 128 heap pages
        return ranges / 100.0 + matched * load.row_bytes / PAGE_BYTES + 1.0
    if serves(candidate.kind, candidate.columns, candidate.where, need):
        fetched = min(matched, float(need.limit)) if need.limit else matched
    else:  # only the equality group is found through the index: read it all, filter, sort
        fetched = max(matched, load.rows * need.group_selectivity)
    entries_per_page = PAGE_BYTES * INDEX_FILL / _entry_bytes(ctx, table, candidate)
    leaf = fetched / entries_per_page
    covered = need.reads is not None and need.reads <= {c.name for c in candidate.columns} | set(candidate.include)
    heap = 0.0 if covered else min(fetched, load.pages)
    return _height(load.rows) + leaf + heap


def _constraint_cost(ctx: _Context, table: TableSpec, need: Need) -> float:
    load = ctx.loads[table.name]
    matched = max(1.0, load.rows * need.selectivity)
    fetched = min(matched, float(need.limit)) if need.limit else matched
    return _height(load.rows) + fetched


def _touching_writes(load: Load, columns: set[str]) -> float:
    rate = load.inserts + load.deletes
    for update_rate, touched in load.updates:
        if touched is None or touched & columns:
            rate += update_rate
    return rate


def _metrics(ctx: _Context, table: TableSpec, candidate: Candidate, benefit: float) -> IndexMetrics:
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
    touched = _indexed(candidate)
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


def _indexed(candidate: Candidate) -> set[str]:
    """Every column an index holds: key, INCLUDE and WHERE (a change to any one rewrites it)."""
    return {c.name for c in candidate.columns} | set(candidate.include) | {c for c, _ in candidate.where}


def write_budget(write_rate: float) -> int:
    """The most secondary indexes an entity written `write_rate` times a second may carry."""
    return next(limit for bound, limit in WRITE_BUDGET if write_rate <= bound)


# --- the design ----------------------------------------------------------------------------


def _estimate_ms(pages: float) -> float:
    return round(BASE_MS + pages * PAGE_MS, 2)


def _gain(reach: list[tuple[Need, float]], current: dict[str, float]) -> float:
    """Page reads per second a candidate saves over the needs' plans now (`reach`: the needs it
    finds, each with its cost through it). An index that does not at least halve a pattern's
    cost is not worth its upkeep for it: this keeps near-duplicates of a chosen index out."""
    gain = 0.0
    for need, cost in reach:
        if cost * MIN_IMPROVEMENT <= current[need.name]:
            gain += need.rate * (current[need.name] - cost)
    return gain


@dataclass(frozen=True)
class _Frame:
    """What a table's design takes from its needs' structure alone, never from a distinct count:
    which key or unique rule answers each need, and the named candidate pool. Made once per
    table and shared by its PP420 re-designs (the needs differ there only in their numbers)."""

    needs: tuple[str, ...]  # the need names, in order: a re-design must bring the same ones
    labels: tuple[str | None, ...]  # per need: the key or unique rule that answers it, if any
    pool: tuple[Candidate, ...]  # never handed out: each design works on copies (it trims them)

    def candidates(self) -> list[Candidate]:
        """Fresh copies of the pool, for one design to merge, choose and trim."""
        return [replace(c, needs=list(c.needs)) for c in self.pool]


def _frame(ctx: _Context, table: TableSpec, needs: list[Need]) -> _Frame:
    """The structural part of `table`'s design; takes the candidates' names into `ctx.names`."""
    labels = tuple(_constraint_route(table, need) for need in needs)
    open_needs = [need for need, label in zip(needs, labels, strict=True) if label is None]
    engine = _model(ctx.plan).engines.relational
    load = ctx.loads[table.name]
    pool = _hot_free(_candidates(open_needs, table), load) if engine in HOT_ENGINES else _candidates(open_needs, table)
    taken_names = ctx.names
    for candidate in pool:
        name = index_name(table.name, candidate.kind, candidate.columns, candidate.where)
        if name in taken_names and candidate.include:  # beside its copy without HOT-updated columns
            name = index_name(table.name, candidate.kind, candidate.columns, candidate.where, "covering")
        while name in taken_names:
            name = index_name(
                table.name, candidate.kind, candidate.columns, (*candidate.where, ("v", len(taken_names)))
            )
        candidate.name = name
        taken_names.add(name)
    return _Frame(tuple(n.name for n in needs), labels, tuple(pool))


def _design_table(
    ctx: _Context, table: TableSpec, needs: list[Need], early: list[PatternRoute], frame: _Frame
) -> TableSpec:
    """`table` with its chosen indexes and its TableIndexPlan (routes, numbers, rejections);
    `frame`: `_frame` of the same needs (their numbers may differ)."""
    if frame.needs != tuple(n.name for n in needs):
        raise ValueError(f"the frame of {table.name} was made for other needs")
    load = ctx.loads[table.name]
    routes: list[PatternRoute] = list(early)
    open_needs: list[Need] = []
    for need, label in zip(needs, frame.labels, strict=True):
        if label is None:
            open_needs.append(need)
            continue
        routes.append(
            PatternRoute(
                need.name,
                table.name,
                need.shape,
                need.rate,
                None,
                label,
                reason=f"the {label} already answers it",
                estimated_ms=_estimate_ms(_constraint_cost(ctx, table, need)),
                latency_ms=need.latency_ms,
            )
        )
    engine = _model(ctx.plan).engines.relational
    pool = frame.candidates()
    budget = write_budget(load.write_rate)
    prefixes = {need.name: _prefix_route(ctx, table, need) for need in open_needs}
    current = {need.name: _baseline(load, need, prefixes[need.name]) for need in open_needs}
    # What a candidate finds, at what cost, and its upkeep stay the same from round to round.
    reach = {
        c.name: [(n, _index_cost(ctx, table, c, n)) for n in open_needs if usable(c.kind, c.columns, c.where, n)]
        for c in pool
    }
    upkeep = {c.name: _metrics(ctx, table, c, 0.0) for c in pool}
    chosen: list[Candidate] = []
    benefits: dict[str, float] = {}
    savings: dict[str, tuple[tuple[str, float, float, float], ...]] = {}
    losses: dict[str, HotLoss | None] = {}
    rejected: list[str] = []
    remaining = list(pool)
    while remaining:
        scored = []
        others = [set(table.primary_key), *(set(u) for u in table.uniques), *(_indexed(c) for c in chosen)]
        for candidate in remaining:
            gain = _gain(reach[candidate.name], current)
            cost = upkeep[candidate.name].write_cost + upkeep[candidate.name].storage_cost
            # The HOT loss depends on what is already chosen, so it is the one cost computed per round.
            loss = losses[candidate.name] = hot_loss(
                engine, load.updates, _indexed(candidate), others, ENTRY_WRITE_COST
            )
            hot = loss.cost if loss is not None else 0.0
            scored.append((gain - cost - hot, candidate.name, candidate, gain))
        scored.sort(key=lambda item: (-item[0], item[1]))
        net, _, best, gain = scored[0]
        if net <= 0:
            for net_value, name, _, gain_value in scored:
                rejected.append(
                    f"{name}: adds no read benefit over the indexes chosen"
                    if gain_value <= 0
                    else f"{name}: read benefit {gain_value:,.1f} does not pay its write and storage cost"
                    + (f" and the HOT updates it ends ({ended.cost:,.1f})" if (ended := losses[name]) else "")
                    + f" (net {net_value:,.1f})"
                )
            break
        if len(chosen) >= budget:
            for _, name, _, _ in scored:
                rejected.append(
                    f"{name}: the write budget of {table.name} ({budget} indexes at {load.write_rate:,.1f} writes/s) is full"
                )
            break
        chosen.append(best)
        benefits[best.name] = gain
        savings[best.name] = tuple(
            (need.name, need.rate, current[need.name], cost)
            for need, cost in reach[best.name]
            if cost * MIN_IMPROVEMENT <= current[need.name]
        )
        remaining.remove(best)
        for need, cost in reach[best.name]:
            current[need.name] = min(current[need.name], cost)
    # Route each need to its cheapest chosen index; an index that ends up serving nothing goes.
    served: dict[str, list[Need]] = {c.name: [] for c in chosen}
    for need in open_needs:
        options = [c for c in chosen if usable(c.kind, c.columns, c.where, need)]
        prefix = prefixes[need.name]
        if not options and prefix is not None and prefix[2] < _scan_cost(load, need):
            label, columns, through = prefix
            matched = max(1.0, load.rows * need.selectivity)
            routes.append(
                PatternRoute(
                    need.name,
                    table.name,
                    need.shape,
                    need.rate,
                    None,
                    label,
                    reason=f"the {label} finds its rows by {', '.join(columns)}; filtering and sorting "
                    f"~{matched:,.0f} of them costs less than maintaining another index",
                    estimated_ms=_estimate_ms(through),
                    latency_ms=need.latency_ms,
                )
            )
            continue
        if not options:
            why = next(
                (
                    r.split(": ", 1)[1]
                    for r in rejected
                    if any(n.name == need.name for c in pool if r.startswith(c.name + ":") for n in c.needs)
                ),
                "no candidate serves it",
            )
            routes.append(
                PatternRoute(
                    need.name,
                    table.name,
                    need.shape,
                    need.rate,
                    None,
                    "none",
                    reason=why,
                    estimated_ms=_estimate_ms(_scan_cost(load, need)),
                    latency_ms=need.latency_ms,
                    fulltext=bool(need.fulltext),
                )
            )
            continue
        best = min(options, key=lambda c: (_index_cost(ctx, table, c, need), c.name))
        served[best.name].append(need)
        covered = need.reads is not None and need.reads <= {c.name for c in best.columns} | set(best.include)
        routes.append(
            PatternRoute(
                need.name,
                table.name,
                need.shape,
                need.rate,
                best.name,
                "index",
                covering=covered,
                reason=_route_reason(best, need, covered),
                estimated_ms=_estimate_ms(_index_cost(ctx, table, best, need)),
                latency_ms=need.latency_ms,
                fulltext=bool(need.fulltext),
            )
        )
    indexes: list[IndexSpec] = []
    metrics: list[IndexMetrics] = []
    for candidate in sorted(chosen, key=lambda c: c.name):
        users = served[candidate.name]
        if not users:
            continue
        include = candidate.include if any(n.reads for n in users) else ()
        candidate.include = include
        indexes.append(
            IndexSpec(
                name=candidate.name,
                table=table.name,
                columns=candidate.columns,
                kind=candidate.kind,
                include=include,
                where=candidate.where,
                serves=tuple(sorted(n.name for n in users)),
                reason=_index_reason(candidate, users),
                equality=min(_equality_width(n) for n in users),
            )
        )
        loss = losses.get(candidate.name)
        found = replace(_metrics(ctx, table, candidate, benefits[candidate.name]), reads=savings[candidate.name])
        metrics.append(replace(found, hot=loss.describe()) if loss else found)
    routes.sort(key=lambda r: r.pattern)
    result = TableIndexPlan(
        table=table.name,
        entity=table.entity,
        rows=load.rows,
        write_rate=load.write_rate,
        budget=budget,
        routes=tuple(routes),
        metrics=tuple(metrics),
        rejected=tuple(sorted(set(rejected))),
    )
    updated = replace(table, indexes=(*table.indexes, *indexes), extra={**table.extra, INDEX_PLAN: result})
    return updated


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


def _equality_width(need: Need) -> int:
    sorted_names = {c.name for c in need.sort}
    return len(set(need.eq) | {c for c in need.ins if c not in sorted_names})


def _route_reason(index: Candidate, need: Need, covered: bool) -> str:
    parts = [f"{need.shape}"]
    if not serves(index.kind, index.columns, index.where, need):
        rest = "sorts" if need.sort else "filters"
        parts.append(f"finds the equality group through the index and {rest} it in memory")
    if index.where:
        parts.append("partial on " + " AND ".join(_where_text(c, v) for c, v in index.where))
    if covered:
        parts.append("index-only (covering)")
    return "; ".join(parts)


def _where_text(column: str, value: Any) -> str:
    if value is None:
        return f"{column} IS NULL"
    if isinstance(value, tuple):
        return f"{column} IN ({', '.join(repr(v) for v in value)})"
    return f"{column} = {value!r}"


def _index_reason(candidate: Candidate, users: list[Need]) -> str:
    kind = {
        IndexKind.FULLTEXT: "full-text index",
        IndexKind.BRIN: "BRIN over an append-only time column",
        IndexKind.GIN: "GIN index",
    }.get(candidate.kind, "equality–sort–range B-tree")
    in_memory = any(not serves(candidate.kind, candidate.columns, candidate.where, n) for n in users)
    if all(n.name.startswith("fk:") for n in users):
        kind = "foreign-key index"
    elif in_memory:
        kind = "B-tree on the equality columns"
    text = f"{kind} for " + "; ".join(
        f"{n.name} ({n.rate:g}/s: {n.shape})" for n in sorted(users, key=lambda n: n.name)
    )
    if in_memory:
        text += (
            "; the sort/range columns stay out of the key: each equality group holds few rows, so sorting or "
            "filtering them in memory costs less than wider entries on every write"
        )
    if candidate.where:
        text += "; partial: only rows where " + " AND ".join(_where_text(c, v) for c, v in candidate.where)
    if candidate.include:
        text += f"; covers the columns read ({', '.join(candidate.include)} included)"
    return text


def _predicate_need(ctx: _Context, predicate: WritePredicate, table: TableSpec) -> Need | PatternRoute:
    """The need of a write predicate (no latency target, nothing to cover: the write visits each
    row), or its route when no index can serve it."""
    need = _pattern_need(ctx, predicate.as_read(_model(ctx.plan)), table)
    if isinstance(need, str):
        load = ctx.loads[table.name]
        return PatternRoute(
            predicate.write,
            table.name,
            "",
            predicate.rate,
            None,
            "none",
            reason=need,
            estimated_ms=_estimate_ms(load.pages),
        )
    return replace(need, reads=None, latency_ms=None, shape=f"{predicate.kind.value} where {need.shape}")


def design_indexes(plan: Plan, tables: list[TableSpec]) -> tuple[list[TableSpec], list[Diagnostic]]:
    """Return `tables` with `.indexes` filled from the workload, plus the design's diagnostics.

    Each table also gets `extra["index_plan"]` (a TableIndexPlan): the route of every pattern
    and foreign-key lookup, the numbers behind every index, and what was rejected and why.
    """
    model = _model(plan)
    by_name = {t.name: t for t in tables}
    entity_table = {t.entity: t.name for t in tables if t.kind is TableKind.ENTITY}
    ctx = _Context(plan, by_name, {}, {i.name for t in tables for i in t.indexes})
    for table in sorted(tables, key=lambda t: (t.kind is not TableKind.ENTITY, t.name)):
        ctx.loads[table.name] = _table_load(ctx, table)
    ctx.card = Cardinalities(by_name, {name: load.rows for name, load in ctx.loads.items()})
    needs: dict[str, list[Need]] = {t.name: [] for t in tables}
    early: dict[str, list[PatternRoute]] = {t.name: [] for t in tables}
    diagnostics: list[Diagnostic] = []
    # A pattern through relationships is served leg by leg (path_queries.path_legs): each parent's
    # filter, then the foreign keys down to the pattern's own table, which keeps its name.
    legs = {read.name: path_legs(model, read) for read in plan.loaded.paths}
    reads = [leg for pattern in model.access_patterns for leg in legs.get(pattern.name, [pattern])]
    for pattern in reads:
        if not _relational(plan, pattern.entity) or pattern.entity not in entity_table:
            continue
        table = by_name[entity_table[pattern.entity]]
        engine = _projected_away(plan, pattern)
        if engine is not None:
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    "full-text",
                    pattern.rate,
                    None,
                    "none",
                    reason=f"answered by the search projection ({engine}); the relational store keeps no full-text index for it",
                    fulltext=True,
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        if is_geo(pattern):
            # A geo filter is served by the point's own indexes (stores/relational/geo.py), not a
            # B-tree this planner designs: a spatial walk reads about GEO_PAGES pages.
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    ", ".join(f"{f.attribute} {f.op.value}" for f in geo_filters(pattern)),
                    pattern.rate,
                    None,
                    GEO_VIA,
                    reason="the geo point's indexes (geo.py) serve it",
                    estimated_ms=_estimate_ms(GEO_PAGES),
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        inside = inside_route(model, pattern, table)
        if inside is not None:
            index, share, shape = inside
            load = ctx.loads[table.name]
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    shape,
                    pattern.rate,
                    index,
                    "inside index",
                    reason="a GIN or expression index looks inside the value (index-plan: inside-value indexes)",
                    # A page per matching row, as a B-tree lookup that is not covering.
                    estimated_ms=_estimate_ms(min(load.pages, max(1.0, load.rows * share))),
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        need = _pattern_need(ctx, pattern, table)
        if isinstance(need, str):
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    "",
                    pattern.rate,
                    None,
                    "none",
                    reason=need,
                    estimated_ms=_estimate_ms(ctx.loads[table.name].pages),
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        needs[table.name].append(need)
    for predicate in all_predicates(model):
        # An update or delete by predicate finds its rows as a read of their keys would.
        if _relational(plan, predicate.entity) and predicate.entity in entity_table:
            table = by_name[entity_table[predicate.entity]]
            found = _predicate_need(ctx, predicate, table)
            if isinstance(found, Need):
                needs[table.name].append(found)
            else:
                early[table.name].append(found)
    fk_notes: dict[str, list[str]] = {}
    for table in tables:
        fk_needs, notes = _foreign_key_needs(ctx, table)
        needs[table.name].extend(fk_needs)
        fk_notes[table.name] = notes
    result: list[TableSpec] = []
    for table in tables:
        frame = _frame(ctx, table, needs[table.name])
        designed = _design_table(ctx, table, needs[table.name], early[table.name], frame)
        # The design just made is the replan without overrides (the early routes aside, which no
        # replan has): the probes compare against it instead of designing the table once more.
        replan = _replan(ctx, table, needs[table.name], frame, _served(designed))
        probed = [c for n in needs[table.name] if not n.name.startswith("fk:") for c in (*n.eq, *n.ins, *dict(n.where))]
        rows = ctx.loads[table.name].rows
        diagnostics.extend(guess_diagnostics(model, table, probed, rows, ctx.card, replan))
        index_plan = index_plan_of(designed)
        leading = [
            designed.primary_key,
            *designed.uniques,
            *(tuple(c.name for c in i.columns) for i in designed.indexes),
        ]
        fk_notes[table.name] = [
            note
            for note, fk in zip(fk_notes[table.name], _unneeded_foreign_keys(ctx, table), strict=True)
            if not any(set(cols[: len(fk.columns)]) == set(fk.columns) for cols in leading)
        ]
        if index_plan is not None and fk_notes[table.name]:
            designed = replace(
                designed,
                extra={
                    **designed.extra,
                    INDEX_PLAN: replace(index_plan, unindexed_foreign_keys=tuple(fk_notes[table.name])),
                },
            )
        result.append(designed)
    diagnostics.extend(_route_diagnostics(model, result))
    return result, diagnostics


def _served(table: TableSpec) -> dict[str, str]:
    """Pattern (or foreign-key lookup) → how the designed `table` serves it."""
    planned = index_plan_of(table)
    return {r.pattern: r.via for r in planned.routes} if planned is not None else {}


def _replan(
    ctx: _Context,
    table: TableSpec,
    needs: list[Need],
    frame: _Frame,
    nominal: dict[str, str],
) -> Replan:
    """Design `table` again with some distinct counts replaced: pattern → how it is served.

    `nominal`: the answer without overrides (the table's own design). Patterns are looked up
    through the model's memoised name map: a map built per table was quadratic in the model."""
    model = _model(ctx.plan)

    def run(overrides: Mapping[tuple[str, str], float]) -> dict[str, str]:
        if not overrides:
            return dict(nominal)
        trial = _Context(ctx.plan, ctx.tables, ctx.loads, index_sizes=ctx.index_sizes)
        trial.card = ctx.card.with_overrides(overrides)
        redone = [
            n if (pattern := pattern_named(model, n.name)) is None else _pattern_need(trial, pattern, table)
            for n in needs
        ]
        return _served(_design_table(trial, table, [n for n in redone if isinstance(n, Need)], [], frame))

    return run


def _route_diagnostics(model: RequirementsModel, tables: list[TableSpec]) -> list[Diagnostic]:
    positions = {p.name: i for i, p in enumerate(model.access_patterns)}
    found: list[Diagnostic] = []
    for table in tables:
        index_plan = index_plan_of(table)
        if index_plan is None:
            continue
        for route in index_plan.routes:
            if route.pattern not in positions:
                continue
            path = f"access_patterns.{positions[route.pattern]}"
            if route.via == "none":
                found.append(
                    Diagnostic(
                        "PP403",
                        f"{route.pattern}: no index serves it on {table.name}: {route.reason}",
                        path,
                        Severity.WARNING,
                    )
                )
            if (
                route.latency_ms is not None
                and route.estimated_ms > route.latency_ms
                and "search projection" not in route.reason
            ):
                found.append(
                    Diagnostic(
                        "PP501",
                        f"{route.pattern}: estimated {route.estimated_ms:g} ms on {table.name} exceeds its {route.latency_ms:g} ms target",
                        path,
                        Severity.WARNING,
                    )
                )
    return found


__all__ = [
    "INDEX_PLAN",
    "MAX_NAME",
    "IndexMetrics",
    "Need",
    "PatternRoute",
    "TableIndexPlan",
    "column_of",
    "design_indexes",
    "index_name",
    "index_plan_of",
    "serves",
    "shorten",
    "slug",
    "write_budget",
]

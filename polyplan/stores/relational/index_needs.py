"""What each pattern asks of an index: the *needs* of the index design (pure: no I/O).

Every read pattern of a relationally stored entity becomes a `Need`: equality columns, then sort
columns in their direction, then the range column (equality–sort–range). Constant predicates
(`status = 'paid'`, `acknowledged_at IS NULL`) become the WHERE of a partial index; a pattern that
reads a few narrow columns at a high rate asks for a covering index; full-text that stays
relational asks for a full-text index; a time range over a large append-only table asks for
BRIN. A foreign key becomes a need when a pattern loads children through it or parent rows are
deleted (the engine then looks the children up by that key). Each need also carries how many
rows it matches (its selectivity), estimated here from the model's distinct counts
(cardinality.py) and the constants below. (GIN on JSON would serve containment filters, but
the model rejects every filter on a JSON attribute — PP304 — so no need can ask for one yet.)

What an index of a given shape does for a need is index_candidates' `serves`/`usable`; what it
costs is index_costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from polyplan.analyse.sizing import attribute_bytes
from polyplan.model.derived import patterns_of
from polyplan.model.ranges import ONE_SIDED_SELECTIVITY, is_range
from polyplan.model.schema import COLLECTION_TYPES, AccessPattern, Direction, Family, FilterOp, TypeName
from polyplan.plan.aggregates import rows_read
from polyplan.plan.ir import Plan
from polyplan.plan.membership import looks_inside
from polyplan.stores.relational.cardinality import enum_shares
from polyplan.stores.relational.index_fit import NeedForm
from polyplan.stores.relational.index_load import (
    DesignContext,
    child_attribute,
    column_of,
    columns_of,
    stored_relationally,
)
from polyplan.stores.relational.spec import ForeignKeySpec, IndexColumn, TableKind, TableSpec

# --- how many rows a filter keeps (no statistics: stated, not tuned) ---------------------------
IN_LIST_VALUES = 3  # values assumed in a parameterised IN list
RANGE_SELECTIVITY = 0.01  # a range parameter selects 1 % of rows
PREFIX_SELECTIVITY = 0.001
FULLTEXT_SELECTIVITY = 0.001
NULL_SHARE = 0.1  # rows where a nullable attribute is null
# Covering: only when a pattern names the few narrow columns it reads beyond the key and runs
# often enough that heap fetches dominate its cost.
COVERING_MIN_RATE = 10.0
COVERING_MAX_COLUMNS = 4
COVERING_MAX_BYTES = 64
UNCOVERABLE = frozenset({TypeName.TEXT, TypeName.JSON, TypeName.BINARY, TypeName.LIST, TypeName.SET, TypeName.OBJECT})
BRIN_MIN_ROWS = 1_000_000


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
    # An ordered walk (`walk_need`): the inside-value index that serves the pattern otherwise,
    # the share of rows its filter keeps (checked on each row the walk reads) and its shape.
    inside: tuple[str, float, str] | None = None
    # What `serves` and `usable` read (never the numbers a guessed distinct count moves): the
    # key of their memo, so the PP420 re-designs of a table test each index shape only once.
    form: NeedForm = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        form = NeedForm(self.eq, self.ins, self.where, self.sort, self.ranges, self.prefix, self.fulltext, self.brin)
        object.__setattr__(self, "form", form)

    def priced(self, selectivity: float, group_selectivity: float) -> Need:
        """This need with other selectivities: its structure, `form` included, is shared (what
        `replace` would rebuild field by field, for each need of each PP420 re-design)."""
        made = object.__new__(Need)
        made.__dict__.update(self.__dict__, selectivity=selectivity, group_selectivity=group_selectivity)
        return made

    @property
    def equal(self) -> frozenset[str]:
        """Columns the pattern fixes to one value (parameters and constants)."""
        return frozenset(self.eq) | {column for column, _ in self.where}


# --- selectivity --------------------------------------------------------------------------


def _distinct(ctx: DesignContext, table: TableSpec, column: str, rows: float) -> float:
    """Distinct values of one column among `rows` rows (see cardinality.py for the sources)."""
    return max(1.0, min(ctx.card.column(table.name, column).value, rows))


def constant_share(ctx: DesignContext, table: TableSpec, column: str, value: Any, rows: float) -> float:
    """Share of `rows` where `column` equals `value` (or one of a list of values): enum weights,
    half for a boolean, NULL_SHARE for NULL, else one over the column's distinct values."""
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


@dataclass(frozen=True)
class Draft:
    """What `pattern_need` takes from a pattern's structure alone, never from a distinct count:
    the need with both selectivities left at 1 (or the reason no index serves it), and the
    factors that price them, in the filters' order. Made once per (pattern, table) and shared by
    the PP420 re-designs, which move only the counts."""

    need: Need | str
    # ("constant", column, value): the share of rows where column = value; ("in", column, None):
    # an IN list's share; ("fixed", "", factor): a range, prefix or full-text selectivity.
    factors: tuple[tuple[str, str, Any], ...] = ()
    eq: tuple[str, ...] | None = None  # the equality group it divides by (None: it ended before)


def pattern_need(ctx: DesignContext, pattern: AccessPattern, table: TableSpec) -> Need | str:
    """The need of one pattern, or the reason no index can serve it."""
    key = (id(pattern), table.name)
    held = ctx.drafts.get(key)
    if held is None or held[0] is not pattern:  # the pattern is kept: its id is not reused
        held = ctx.drafts[key] = (pattern, _draft(ctx, pattern, table))
    draft = held[1]
    assert isinstance(draft, Draft)
    return _priced(ctx, table, draft)


def _priced(ctx: DesignContext, table: TableSpec, draft: Draft) -> Need | str:
    """The draft's need with its selectivities counted from `ctx`'s distinct counts (each count
    asked for in the order the unsplit computation asked, so that the memo fills alike)."""
    rows = ctx.loads[table.name].rows
    selectivity = 1.0
    group = 1.0
    for kind, column, value in draft.factors:
        if kind == "fixed":
            selectivity *= value
            continue
        if kind == "constant":
            share = constant_share(ctx, table, column, value, rows)
        else:
            share = min(1.0, IN_LIST_VALUES / _distinct(ctx, table, column, rows))
        selectivity *= share
        group *= share
    if draft.eq is None or isinstance(draft.need, str):
        if draft.eq is not None:
            ctx.card.group(table.name, draft.eq)
        return draft.need
    # The equality parameters together: a group is bounded by its references and the table's rows.
    selectivity /= ctx.card.group(table.name, draft.eq)
    group /= ctx.card.group(table.name, draft.eq)
    return draft.need.priced(max(selectivity, 1.0 / max(rows, 1.0)), max(group, selectivity, 1.0 / max(rows, 1.0)))


def _draft(ctx: DesignContext, pattern: AccessPattern, table: TableSpec) -> Draft:
    """`pattern_need` without the distinct counts (see `Draft`)."""
    pattern = rows_read(pattern)  # an aggregate: the rows it reads, grouped in order and covered
    entity = pattern.entity
    load = ctx.loads[table.name]
    eq: list[str] = []
    in_params: list[str] = []
    where: list[tuple[str, Any]] = []
    ranges: list[str] = []
    prefix: set[str] = set()
    fulltext: list[str] = []
    factors: list[tuple[str, str, Any]] = []
    if any(looks_inside(flt) for flt in pattern.filters):
        # Its GIN or expression index (relational.membership) serves it: the engines pick that
        # one (or scan) over a B-tree on the pattern's other columns, so none is routed here.
        return Draft("it filters inside a value (contains, JSON path): served by its GIN or expression index")
    for flt in pattern.filters:
        column = column_of(table, entity, flt.attribute)
        if column is None:
            return Draft(f"{flt.attribute} is not a column of {table.name} (stored in another table)", tuple(factors))
        if table.column(column).attribute.type in COLLECTION_TYPES:
            return Draft(f"full text over the items of {flt.attribute} is the search projection's", tuple(factors))
        constant = "value" in flt.model_fields_set
        if flt.op in (FilterOp.EQ, FilterOp.IN) and constant:
            where.append((column, _constant(flt.value)))
            factors.append(("constant", column, flt.value))
        elif flt.op is FilterOp.EQ:
            eq.append(column)
        elif flt.op is FilterOp.IN:
            in_params.append(column)
            factors.append(("in", column, None))
        elif flt.op is FilterOp.RANGE:
            ranges.append(column)
            factors.append(("fixed", "", RANGE_SELECTIVITY))
        elif is_range(flt.op):
            ranges.append(column)
            factors.append(("fixed", "", ONE_SIDED_SELECTIVITY))
        elif flt.op is FilterOp.PREFIX:
            ranges.append(column)
            prefix.add(column)
            factors.append(("fixed", "", PREFIX_SELECTIVITY))
        else:
            fulltext.append(column)
            factors.append(("fixed", "", FULLTEXT_SELECTIVITY))
    priced = tuple(factors)
    # Columns fixed to one value sort trivially; an IN list still yields several values, so a
    # sort on an IN column stays in the sort (the index then walks the values in order).
    fixed = set(eq) | {c for c, v in where if not isinstance(v, tuple)}
    sort: list[IndexColumn] = []
    for item in pattern.sort:
        column = column_of(table, entity, item.attribute)
        if column is None:
            return Draft(f"sort attribute {item.attribute} is not a column of {table.name}", priced, tuple(eq))
        if column not in fixed:
            sort.append(IndexColumn(column, descending=item.direction is Direction.DESC))
    sorted_columns = {c.name for c in sort}
    # A column both sorted and prefix-searched keeps its ordinary order (the sort needs it).
    prefix -= sorted_columns
    ordered_ranges = [c for c in ranges if c not in fixed and c not in in_params]
    where.sort(key=lambda item: item[0])
    shape = _describe(eq, in_params, where, sort, ordered_ranges, prefix, fulltext)
    if not (eq or in_params or where or sort or ordered_ranges or fulltext):
        reason = "it reads the whole table without order; no index makes that cheaper than a scan"
        return Draft(reason, priced, tuple(eq))
    if not (eq or in_params or where or ordered_ranges or fulltext) and pattern.limit is None:
        reason = "it returns every row in order; a scan and sort beats walking an index over the whole table"
        return Draft(reason, priced, tuple(eq))
    reads = _covering_reads(pattern, table)
    rows = load.rows
    decided = ctx.plan.entities[entity]
    time_attribute = ctx.plan.model.entities[entity].growth.time_attribute
    brin = (
        decided.profile.append_only
        and not (eq or in_params or fulltext)
        and len(ordered_ranges) == 1
        and time_attribute is not None
        and ordered_ranges[0] == column_of(table, entity, time_attribute)
        and rows >= BRIN_MIN_ROWS
        and not (sort and pattern.limit is not None)
    )
    need = Need(
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
        latency_ms=pattern.latency_ms,
        brin=brin,
        shape=shape,
    )
    return Draft(need, priced, tuple(eq))


def walk_need(
    ctx: DesignContext, pattern: AccessPattern, table: TableSpec, inside: tuple[str, float, str]
) -> Need | None:
    """The need of an ordered walk for a sorted, limited read that filters inside a value, or None.

    `inside`: the inside-value index that serves the read otherwise (membership.inside_route:
    name, share of rows its filter keeps, shape). A GIN bitmap finds every matching row and
    sorts them; an index on the pattern's other columns and its sort, walked in order with the
    filter checked on each row, stops after about LIMIT ÷ share rows. Which is cheaper is the
    selection's call (index_costs.baseline prices the inside route). Only one filter inside a
    value: with several, the share a row passes is not known well enough to stop early.
    """
    if not pattern.sort or pattern.limit is None or sum(looks_inside(f) for f in pattern.filters) != 1:
        return None
    rest = pattern.model_copy(update={"filters": [f for f in pattern.filters if not looks_inside(f)]})
    need = pattern_need(ctx, rest, table)
    if isinstance(need, str) or not need.sort:
        return None
    rows = max(ctx.loads[table.name].rows, 1.0)
    return replace(
        need,
        reads=None,  # the walk reads the filtered value from the row: nothing to cover
        selectivity=max(need.selectivity * inside[1], 1.0 / rows),
        inside=inside,
        shape=f"{inside[2]}, {need.shape}",
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
        found = columns_of(table, pattern.entity, attribute)
        if found is None:
            return None
        columns.update(found)
    keyed: set[str] = set()
    for attribute in [f.attribute for f in pattern.filters if not looks_inside(f)] + [
        s.attribute for s in pattern.sort
    ]:
        keyed.update(columns_of(table, pattern.entity, attribute) or [])
    extra = [table.column(c) for c in columns - keyed]
    if any(spec.attribute.type in UNCOVERABLE for spec in extra):
        return None
    if len(extra) > COVERING_MAX_COLUMNS or sum(attribute_bytes(s.attribute) for s in extra) > COVERING_MAX_BYTES:
        return None
    return frozenset(columns | keyed)


def foreign_key_needs(ctx: DesignContext, table: TableSpec) -> tuple[list[Need], list[str]]:
    """Needs for foreign keys that loads or parent deletes look up; notes for the rest."""
    model = ctx.plan.model
    needs: list[Need] = []
    notes: list[str] = []
    for fk in table.foreign_keys:
        parent = ctx.tables.get(fk.ref_table)
        if parent is None or parent.kind is not TableKind.ENTITY:
            continue
        parent_entity = parent.entity
        readers: list[AccessPattern] = []
        for pattern in patterns_of(model, parent_entity):
            if not stored_relationally(ctx.plan, parent_entity) or projected_away(ctx.plan, pattern):
                continue
            if (
                (table.kind is TableKind.ENTITY and table.entity in pattern.loaded)
                or (table.kind is TableKind.LIST_CHILD and _reads_list(pattern, table))
                or (table.kind is TableKind.ASSOCIATION and _association_loaded(ctx, table, fk.ref_table, pattern))
            ):
                readers.append(pattern)
        # A reference left to the application (enforced: false) has no check to look children up.
        parent_deletes = ctx.loads[parent.name].deletes if fk.enforced else 0.0
        rate = sum(p.rate for p in readers) + parent_deletes
        label = f"fk:{table.name}({', '.join(fk.columns)})"
        if rate <= 0:
            deletes = (
                f"{parent_entity} rows are never deleted"
                if fk.enforced or not ctx.loads[parent.name].deletes
                else f"no check looks children up when {parent_entity} rows are deleted (enforced: false)"
            )
            notes.append(f"{label} → {fk.ref_table}: no pattern loads through it and {deletes}")
            continue
        why = [f"loaded by {', '.join(p.name for p in readers)}"] if readers else []
        if parent_deletes:
            why.append(f"{parent_deletes:g} {parent_entity} deletes/s look children up ({fk.on_delete.value})")
        # The parent's rows, or its cap when its keys bound them (fuzz model 1394: 4 Customers at
        # most, so each one's children are a quarter of the table, whatever Customer's growth).
        parent_rows = ctx.card.reference_rows(parent.name)
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


def unneeded_foreign_keys(ctx: DesignContext, table: TableSpec) -> list[ForeignKeySpec]:
    """The foreign keys `foreign_key_needs` wrote a note for, in the same order."""
    needed = {n.eq for n in foreign_key_needs(ctx, table)[0]}
    return [
        fk
        for fk in table.foreign_keys
        if fk.ref_table in ctx.tables and ctx.tables[fk.ref_table].kind is TableKind.ENTITY and fk.columns not in needed
    ]


def _reads_list(pattern: AccessPattern, table: TableSpec) -> bool:
    attribute = child_attribute(table)
    return not pattern.reads or (attribute is not None and attribute in pattern.reads)


def _association_loaded(ctx: DesignContext, table: TableSpec, parent_table: str, pattern: AccessPattern) -> bool:
    others = {
        ctx.tables[fk.ref_table].entity
        for fk in table.foreign_keys
        if fk.ref_table != parent_table and fk.ref_table in ctx.tables
    }
    if not others:  # a self-referencing link: the pattern loads its own entity
        others = {ctx.tables[parent_table].entity}
    return bool(others & set(pattern.loaded))


def projected_away(plan: Plan, pattern: AccessPattern) -> str | None:
    """The search projection that answers `pattern` instead of the relational store, if any."""
    decided = plan.entities.get(pattern.entity)
    if decided is None:
        return None
    for projection in decided.projections:
        if projection.family is Family.SEARCH and pattern.name in projection.patterns:
            return projection.engine
    return None


__all__ = [
    "COVERING_MIN_RATE",
    "Need",
    "constant_share",
    "foreign_key_needs",
    "pattern_need",
    "projected_away",
    "unneeded_foreign_keys",
    "walk_need",
]

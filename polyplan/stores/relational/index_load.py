"""What the index design knows of each table before it decides anything (pure: no I/O).

A table's rows, row width and write traffic at the planning horizon (`Load`), where an
attribute's column is, and the state one design shares across its steps (`DesignContext`: the
loads, the distinct counts of cardinality.py, the index names taken, and the memos of the costs
that depend on nothing a PP420 probe changes). Every other index_* module reads these; this
one decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polyplan.analyse.sizing import attribute_bytes
from polyplan.model.schema import COLLECTION_TYPES, Family, RequirementsModel, TypeName, WriteKind
from polyplan.plan.ir import Plan
from polyplan.stores.relational.cardinality import Cardinalities
from polyplan.stores.relational.spec import TableKind, TableSpec

PAGE_BYTES = 8192  # the unit of every cost in the index design: one 8 KiB page read
HEAP_TUPLE_OVERHEAD = 28  # tuple header + line pointer (PostgreSQL; InnoDB is similar)
DEFAULT_LIST_ITEMS = 3.0
DEFAULT_CHILDREN = 2.0


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
        """Heap pages the table fills (at least one)."""
        return max(1.0, self.rows * self.row_bytes / PAGE_BYTES)

    @property
    def write_rate(self) -> float:
        """Row writes per second: inserts, deletes and updates."""
        return self.inserts + self.deletes + sum(rate for rate, _ in self.updates)


@dataclass
class DesignContext:
    """The state one index design shares across its steps (a PP420 re-plan makes its own)."""

    plan: Plan
    tables: dict[str, TableSpec]
    loads: dict[str, Load]
    names: set[str] = field(default_factory=set)
    card: Cardinalities = field(init=False)
    # index_costs' entry bytes per (table, kind, columns, include, where): it depends on nothing else of a
    # candidate, and the cost of every (candidate, need) pair and every upkeep asked for it again.
    entry_bytes: dict[tuple[Any, ...], float] = field(default_factory=dict)
    # sizing.index_bytes per (table, columns, rows, keys, unique, include): its arguments are all
    # it depends on, so the re-plans of PP420 (index_guesses) share it with the design they
    # probe; most candidates' distinct counts do not move with the one count a probe changes.
    index_sizes: dict[tuple[Any, ...], float] = field(default_factory=dict)
    # sizing.btree_levels per (table, columns, rows, keys, unique, include), shared the same way.
    index_levels: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # index_needs' Draft per (pattern id, table) with the pattern itself: what a pattern's need is
    # apart from its distinct counts, shared with the PP420 re-plans like `index_sizes`.
    drafts: dict[tuple[int, str], tuple[Any, Any]] = field(default_factory=dict)


def stored_relationally(plan: Plan, entity: str) -> bool:
    """Whether the plan keeps `entity` in the relational store."""
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


def columns_of(table: TableSpec, entity: str, attribute: str) -> list[str] | None:
    """Every column of an attribute (a flattened object has several)."""
    single = column_of(table, entity, attribute)
    if single is not None:
        return [single]
    nested = [c.name for c in table.columns if c.source.startswith(f"{entity}.{attribute}.")]
    return nested or None


def heap_row_bytes(table: TableSpec) -> float:
    """Bytes one row of `table` takes in its heap, as the index design counts them."""
    return HEAP_TUPLE_OVERHEAD + sum(attribute_bytes(c.attribute) for c in table.columns)


def table_load(ctx: DesignContext, table: TableSpec) -> Load:
    """Rows and write traffic of `table` at the horizon; a child table's follow its parents'
    (already in `ctx.loads`: entity tables are loaded first)."""
    model = ctx.plan.model
    row_bytes = heap_row_bytes(table)
    if table.kind is TableKind.ENTITY and table.entity in ctx.plan.entities:
        profile = ctx.plan.entities[table.entity].profile
        entity = model.entities[table.entity]
        deletes = sum(w.rate for w in model.write_patterns if w.entity == table.entity and w.kind is WriteKind.DELETE)
        if entity.growth.retention_days is not None or entity.growth.ttl_seconds is not None:
            deletes += profile.insert_rate  # at steady state, as many rows age out as come in
        updates = tuple(
            (
                w.rate,
                frozenset(c for a in w.attributes for c in (columns_of(table, table.entity, a) or []))
                if w.attributes
                else None,
            )
            for w in model.write_patterns
            # An increment (x = x + :step) rewrites its row like any update: index upkeep and HOT alike.
            if w.entity == table.entity and w.kind in (WriteKind.UPDATE, WriteKind.UPSERT, WriteKind.INCREMENT)
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
    attribute = child_attribute(table)
    entity = model.entities.get(table.entity)
    found = entity.attributes.get(attribute) if entity is not None and attribute else None
    return found.avg_items if found is not None and found.type in COLLECTION_TYPES else None


def child_attribute(table: TableSpec) -> str | None:
    """The list/object attribute a child table stores (design.py records it in `extra`)."""
    recorded = table.extra.get("attribute")
    return recorded if isinstance(recorded, str) else None


__all__ = [
    "PAGE_BYTES",
    "DesignContext",
    "Load",
    "child_attribute",
    "column_of",
    "columns_of",
    "stored_relationally",
    "table_load",
]

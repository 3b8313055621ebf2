"""Each store's own size estimate of an entity at a point in time: one function per family.

One source of truth: a store is sized by its own design's estimate (the relational sizing model,
the Redis key families' memory, the search index's projected bytes, the MongoDB collection's
BSON documents, the Cassandra tables), never by re-counting the entity's payload. A design that
holds figures at the horizon only is scaled by the entity's live rows at the asked time.

Where a family's sizing model grows (an engine-level model for Redis, MongoDB, search, Cassandra
or SQLite), it plugs in here: `FAMILY_SIZERS[family]` is the one function to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from polyplan.analyse.sizing import live_rows
from polyplan.capacity.spec import EntitySize
from polyplan.model.derived import all_attributes
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.cache.capacity import family_keys
from polyplan.stores.document.capacity import index_entry_bytes
from polyplan.stores.relational.sizing import ENGINES, Layouts, table_rows, table_size
from polyplan.stores.relational.spec import TableSpec
from polyplan.stores.search.sizing import index_size as search_index_size
from polyplan.stores.wide_column.sizing import compression_range
from polyplan.stores.wide_column.sizing import table_size as cassandra_table_size

PAYLOAD = "payload only (attribute sizes; no engine overhead)"


@dataclass(frozen=True)
class Designs:
    """The store designs the estimates read (any may be absent: the family is then not used, or
    its figures fall back to payload)."""

    tables: tuple[TableSpec, ...] = ()
    cache: Any = None  # polyplan.stores.cache.spec.CacheDesign
    search: Any = None  # polyplan.stores.search.design.SearchDesign
    document: Any = None  # polyplan.stores.document.spec.DocumentDesign
    wide_column: Any = None  # polyplan.stores.wide_column.spec.WideColumnDesign
    memo: dict[tuple[str, float], dict[str, EntitySize]] = field(default_factory=dict, compare=False)
    by_entity: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)
    # What sizing.table_size takes from a table's columns alone: the same at every horizon.
    layouts: Layouts = field(default_factory=dict, compare=False)

    def of(self, family: str, entity: str) -> Any:
        """The design's part for `entity` in `family` (cache: its key families; search: its index;
        document: its collection; wide_column: its tables), indexed once (a model has thousands)."""
        if family not in self.by_entity:
            self.by_entity[family] = _by_entity(self, family)
        return self.by_entity[family].get(entity)


def _by_entity(designs: Designs, family: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if family == "cache" and designs.cache is not None:
        for key in designs.cache.keys:
            found.setdefault(key.entity, []).append(key)
    elif family == "search" and designs.search is not None:
        for index in designs.search.indexes:
            found.setdefault(index.entity, index)
    elif family == "document" and designs.document is not None:
        for collection in designs.document.collections:
            found.setdefault(collection.entity, collection)
    elif family == "wide_column" and designs.wide_column is not None:
        for entity in designs.wide_column.entities:
            found.setdefault(entity.entity, entity)
    return found


def _rows(plan: Plan, entity: str, days: float) -> float:
    return live_rows(plan.model.entities[entity].growth, days)


def _payload(plan: Plan, entity: str, days: float) -> EntitySize:
    rows = _rows(plan, entity, days)
    return EntitySize(rows, rows * plan.entities[entity].profile.record_bytes, 0.0)


def relational(plan: Plan, designs: Designs, engine: str, days: float) -> tuple[dict[str, EntitySize], str]:
    """Every relational table group (by the entity or relationship it stores) on `engine`: the
    engine's sizing model (`stores.relational.sizing`) for PostgreSQL, MariaDB/MySQL and SQLite."""
    key = (f"relational:{engine}", days)
    if key in designs.memo:
        return designs.memo[key], _relational_source(engine, designs)
    entities = [n for n, d in plan.entities.items() if d.family is Family.RELATIONAL and d.engine == engine]
    found: dict[str, EntitySize] = {}
    if _sized(engine) and designs.tables:
        mine = [t for t in designs.tables if t.entity in entities or t.entity not in plan.entities]
        rows = table_rows(plan.model, mine, {n: _rows(plan, n, days) for n in entities})
        for table in mine:
            size = table_size(
                table, rows[table.name], engine, plan.sizing(engine), parents=rows, layouts=designs.layouts
            )
            old = found.get(table.entity, EntitySize(0.0, 0.0, 0.0))
            # A child or link table adds bytes to its group, not rows (the group's rows are its entity's).
            found[table.entity] = EntitySize(
                old.rows if old.rows else size.rows,
                old.data_bytes + size.data_bytes,
                old.index_bytes + size.index_bytes,
            )
    else:
        found = {n: _payload(plan, n, days) for n in entities}
    designs.memo[key] = found
    return found, _relational_source(engine, designs)


def _sized(engine: str) -> bool:
    """Engines with a sizing model (`table_size`): PostgreSQL and MariaDB in `ENGINES`, and SQLite
    (`sizing_sqlite.py`), which the index plan does not size."""
    return engine in ENGINES or engine == "sqlite"


def _relational_source(engine: str, designs: Designs) -> str:
    if _sized(engine) and designs.tables:
        return f"{engine} sizing model (stores/relational/sizing.py)"
    return PAYLOAD


def cache(plan: Plan, designs: Designs, entity: str, days: float) -> tuple[EntitySize, str]:
    """The entity's Redis key families (records, pointers, indexes, cached answers): each family's
    keys at `days` (`stores.cache.capacity.family_keys`: records follow the live rows, cached
    answers stay bounded by reads × TTL) × its per-key memory (`stores.cache.memory`), the figure
    keys.json gives and bench/capacity.py checks against MEMORY USAGE."""
    if designs.cache is None:
        return _payload(plan, entity, days), PAYLOAD
    keys = designs.of("cache", entity) or []
    sized = [(k, family_keys(plan, k, days) * k.memory.total_per_key) for k in keys]
    index = sum(b for k, b in sized if k.role.value in ("index", "pointer"))
    data = sum(b for _, b in sized) - index
    return EntitySize(_rows(plan, entity, days), data, index), "Redis key memory (cache design)"


def search(plan: Plan, designs: Designs, entity: str, days: float) -> tuple[EntitySize, str]:
    """The entity's search index on one copy (`stores.search.sizing`): `_source` as data; the
    inverted index, doc values and points as its index; the replicas are the plan's."""
    index = designs.of("search", entity)
    if index is None:
        return _payload(plan, entity, days), PAYLOAD
    rows = _rows(plan, entity, days)
    engine = designs.search.engine.name
    size = search_index_size(index.fields, index.doc_id, all_attributes(plan.model, entity), rows, plan.sizing(engine))
    return (
        EntitySize(rows, size.stored_bytes, size.inverted_bytes + size.columnar_bytes),
        "Lucene model: _source, inverted index, doc values (stores/search/sizing.py)",
    )


def document(plan: Plan, designs: Designs, entity: str, days: float) -> tuple[EntitySize, str]:
    """The entity's MongoDB collection: average BSON document bytes (`document.bson_size`) ×
    documents, and its index entries (`document.capacity`: uncompressed, an upper bound)."""
    collection = designs.of("document", entity)
    if collection is None:
        return _payload(plan, entity, days), PAYLOAD
    rows = _rows(plan, entity, days)
    return (
        EntitySize(rows, rows * collection.avg_document_bytes, rows * index_entry_bytes(plan, collection)),
        "BSON documents and index entries, uncompressed (document design)",
    )


def wide_column(plan: Plan, designs: Designs, entity: str, days: float) -> tuple[EntitySize, str]:
    """The entity's Cassandra query tables (one copy each: denormalized), by the SSTable model
    (`stores.wide_column.sizing`): Data.db as stored and the index files of one replica, with the
    free disk each table's compaction strategy needs (`free_bytes`); the replication factor is
    the plan's (the profile's node)."""
    found = designs.of("wide_column", entity)
    if found is None or not found.tables:
        return _payload(plan, entity, days), PAYLOAD
    rows = _rows(plan, entity, days)
    horizon = max(1.0, plan.entities[entity].profile.rows_at_horizon)
    attributes = all_attributes(plan.model, entity)
    data = index = free = 0.0
    for table in found.tables:
        share = min(1.0, table.estimate.rows / horizon) if table.estimate.rows else 1.0
        size = cassandra_table_size(table, attributes, rows * share, plan.sizing("cassandra"))
        data += size.data_bytes
        index += size.index_bytes
        free += size.total_bytes * size.compaction_headroom
    low, high = compression_range(plan.sizing("cassandra"))
    return (
        EntitySize(rows, data, index, free),
        f"SSTable model, {len(found.tables)} query table(s), LZ4 {low:g}–{high:g} of Data.db "
        "(stores/wide_column/sizing.py)",
    )


FAMILY_SIZERS: Mapping[Family, Callable[[Plan, Designs, str, float], tuple[EntitySize, str]]] = {
    Family.CACHE: cache,
    Family.SEARCH: search,
    Family.DOCUMENT: document,
    Family.WIDE_COLUMN: wide_column,
}

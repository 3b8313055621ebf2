"""What the index design records for each table, for the docs, the tests and `polyplan tune` (pure).

The design (`indexes.design_indexes`) keeps one TableIndexPlan in `TableSpec.extra[INDEX_PLAN]`:
the route of every pattern and foreign-key lookup (which index, key or unique rule serves it, or
why none does) and the numbers behind every index chosen. index-plan.md (index_docs), the
generated index proofs (index_testgen), serving.md and `polyplan tune` read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.stores.relational.spec import TableSpec

# A geo read's route: GiST on PostGIS geography, SPATIAL on MariaDB, else the B-tree on (lat, lon).
GEO_VIA = "geo index (GiST, SPATIAL or B-tree on lat, lon)"


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


__all__ = ["GEO_VIA", "INDEX_PLAN", "IndexMetrics", "PatternRoute", "TableIndexPlan", "index_plan_of"]

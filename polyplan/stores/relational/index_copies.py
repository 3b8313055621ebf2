"""What a partial index's MariaDB copy costs the reads routed to it (pure: no I/O).

MariaDB has no partial indexes: a PostgreSQL design's `(a) WHERE b = 'x'` is written there as a
plain `(a, b)` over every row (index_render, PP402). The seek still finds only the rows the
partial index holds, but InnoDB fetches each through a descent of the primary key from its root
(`index_costs.heap_pages`), where PostgreSQL reads a heap page: a read of many matches that the
partial index rightly serves on PostgreSQL can cost more than a scan on MariaDB, which then scans
(fuzz model 698: `a3 = 'beta'`, 26 % of the rows of 4 KB, ≈ 875 pages through the partial index on
PostgreSQL against a ≈ 2,788-page scan; MariaDB scanned past the copy). The design stays the
model engine's; the MariaDB proof of such a read expects the scan (index_proof_plans).
"""

from __future__ import annotations

from polyplan.stores.relational import sizing
from polyplan.stores.relational.index_candidates import serves
from polyplan.stores.relational.index_load import DesignContext
from polyplan.stores.relational.index_needs import Need
from polyplan.stores.relational.index_results import index_plan_of
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableSpec

# Key of TableSpec.extra: pattern → why MariaDB reads it by a scan rather than through the copy
# of the partial index it is routed to (not in plan.json: the generated proofs read it).
INNODB_SCANS = "innodb_scans"


def _copy_reads(ctx: DesignContext, table: TableSpec, index: IndexSpec, need: Need) -> tuple[float, float] | None:
    """(pages a read of `need` touches through the InnoDB copy of the partial `index`, pages of
    an InnoDB scan), both in InnoDB's 16 KiB pages. Through the copy: its levels and a descent of
    the primary key per row fetched, its leaf pages left out (a lower bound); the scan reads the
    primary key's leaves, the rows (`index_costs.heap_pages` counts a run of them so). None when
    the copy covers the read (no row is fetched) or MySQL has no storage profile."""
    held = {c.name for c in index.columns} | set(index.include) | {c for c, _ in index.where}
    if (need.reads is not None and need.reads <= held) or not table.primary_key:
        return None
    try:
        constants = ctx.plan.sizing("mysql")
    except KeyError:
        return None
    load = ctx.loads[table.name]
    matched = max(1.0, load.rows * need.selectivity)
    if serves(index.kind, index.columns, index.where, need):  # as index_costs.index_cost counts them
        fetched = min(matched, float(need.limit)) if need.limit else matched
    else:
        fetched = max(matched, load.rows * need.group_selectivity)
    lead = [c.name for c in index.columns[: index.equality]]
    copy = tuple(dict.fromkeys([*lead, *(c for c, _ in index.where), *(c.name for c in index.columns)]))
    rows = max(1.0, load.rows)
    keys = ctx.card.group(table.name, list(copy), bound=rows)
    levels = sizing.btree_levels(table, copy, rows, keys, False, "mysql", constants, index.include)
    key = tuple(table.primary_key)
    descent = sizing.btree_levels(table, key, rows, rows, True, "mysql", constants)
    scan = max(1.0, rows * load.row_bytes / constants["page_bytes"])
    return float(levels) + fetched * float(descent), scan


def innodb_scans(ctx: DesignContext, table: TableSpec, needs: list[Need]) -> dict[str, str]:
    """Pattern → the reason MariaDB scans rather than reads the copy of the partial index the
    design routes it to: the copy's reads (a lower bound) exceed the scan's. Empty when the model's
    engine is MySQL/MariaDB (its own design costs InnoDB's fetches) or no route is to a partial
    B-tree."""
    index_plan = index_plan_of(table)
    if index_plan is None or ctx.plan.model.engines.relational == "mysql":
        return {}
    by_name = {n.name: n for n in needs}
    partial = {i.name: i for i in table.indexes if i.where and i.kind is IndexKind.BTREE}
    found: dict[str, str] = {}
    for route in index_plan.routes:
        index = partial.get(route.index or "")
        need = by_name.get(route.pattern)
        if route.via != "index" or index is None or need is None:
            continue
        found_reads = _copy_reads(ctx, table, index, need)
        # The whole scan: one stopped early at a LIMIT reads fewer pages, so a copy dearer than
        # the whole scan is dearer than any scan.
        if found_reads is not None and found_reads[0] > found_reads[1]:
            through, scan = found_reads
            found[route.pattern] = (
                f"MariaDB has no partial index: {index.name} is a plain index there, whose matches each cost "
                f"a descent of the primary key (≈ {through:,.0f} pages at the horizon) against a scan of "
                f"≈ {scan:,.0f} (16 KiB pages): MariaDB rightly scans"
            )
    return found


__all__ = ["INNODB_SCANS", "innodb_scans"]

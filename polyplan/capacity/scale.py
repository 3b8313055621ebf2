"""How each store scales out once the largest single machine is not enough: Citus for PostgreSQL
(distribution column, co-located and reference tables, unique keys), MongoDB shard keys (the
document design's `shard.py` choice) and zones, search primary shards and replicas, Cassandra
nodes at its replication factor, Redis Cluster; a coded warning where the engine cannot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

from polyplan.analyse.capabilities import NodeCapacity
from polyplan.capacity.estimates import Designs
from polyplan.capacity.load import Need
from polyplan.model.schema import Family, FilterOp, TypeName
from polyplan.plan.ir import Plan
from polyplan.stores.relational.spec import TableSpec

# A table at most this share of the store's bytes is replicated to every worker (a Citus
# reference table) rather than distributed: joins to it stay local.
REFERENCE_SHARE = 0.01

Warn = Callable[[str, str, str], None]


def _equality_weights(plan: Plan, entities: Sequence[str]) -> dict[str, float]:
    """Reads per second that name each attribute by equality, over the patterns of `entities`."""
    weights: dict[str, float] = defaultdict(float)
    for pattern in plan.model.access_patterns:
        if pattern.entity in entities:
            for flt in pattern.filters:
                if flt.op is FilterOp.EQ and flt.value is None:
                    weights[flt.attribute] += pattern.rate
    return weights


def distribution_column(plan: Plan, tables: Sequence[TableSpec]) -> tuple[str | None, str]:
    """The Citus distribution column, and why: the tenant key when tables carry it, else the column
    the most reads name by equality (targeted: one worker answers)."""
    columns = {c.name for t in tables for c in t.columns}
    tenant = plan.model.tenancy.tenant_key
    if tenant and tenant in columns:
        return tenant, f"the tenant key {tenant}: every tenant's rows on one worker"
    weights = _equality_weights(plan, sorted({t.entity for t in tables}))
    ranked = sorted(((-rate, name) for name, rate in weights.items() if name in columns and rate > 0))
    if not ranked:
        return None, "no access pattern names a column by equality"
    rate, name = ranked[0]
    return name, f"{-rate:,.0f} reads/s name {name} by equality (routed to one worker)"


def citus(plan: Plan, designs: Designs, need: Need, warn: Warn) -> str:
    """The Citus layout of the store's tables."""
    tables = [
        t for t in designs.tables if t.entity not in plan.entities or plan.entities[t.entity].engine == need.engine
    ]
    column, why = distribution_column(plan, tables)
    if column is None:
        warn(
            "PP435",
            f"{need.family.value} ({need.engine}) must scale out but {why}: distribute the largest table on its "
            "primary key, and every query fans out to all workers; add an equality filter (a tenant or owner "
            "key) to the hot patterns",
            "access_patterns",
        )
        return "Citus: no distribution column (see PP435)"
    carriers = [t for t in tables if any(c.name == column for c in t.columns)]
    roots = sorted({fk.ref_table for t in carriers for fk in t.foreign_keys if column in fk.columns})
    distributed = sorted({t.name for t in carriers} | set(roots))
    total = need.total_bytes or 1.0
    from polyplan.stores.relational.sizing import table_rows, table_size  # sized once, at the horizon

    rows = table_rows(plan.model, tables, {n: plan.entities[n].profile.rows_at_horizon for n in plan.entities})
    reference: list[str] = []
    alone: list[str] = []
    for table in tables:
        if table.name in distributed:
            continue
        size = (
            table_size(
                table, rows.get(table.name, 0.0), need.engine, plan.sizing(need.engine), parents=rows
            ).total_bytes
            if need.engine in ("postgresql", "mysql")
            else 0.0
        )
        (reference if size <= REFERENCE_SHARE * total else alone).append(table.name)
    widened: list[str] = []
    for table in tables:
        if table.name not in distributed:
            continue
        key = column if table.name not in roots else (table.primary_key[0] if len(table.primary_key) == 1 else column)
        if key not in table.primary_key:  # a generated key stays unique with the column added
            widened.append(f"{table.name} ({', '.join((*table.primary_key, key))})")
        for unique in table.uniques:
            if key not in unique:
                warn(
                    "PP433",
                    f"{table.name}: unique rule ({', '.join(unique)}) cannot be enforced once the table is distributed "
                    f"on {key} (Citus enforces only unique keys that include the distribution column); keep the "
                    "unique values in a reference table, or check them in the application",
                    f"entities.{table.entity}" if table.entity in plan.entities else "relationships",
                )
    parts = [f"Citus: distribute on {column} ({why})", f"co-located: {', '.join(distributed)}"]
    if roots:
        parts.append(f"{', '.join(roots)} distributed on {'its' if len(roots) == 1 else 'their'} primary key")
    if reference:
        parts.append(f"reference tables (copied to every worker): {', '.join(sorted(reference))}")
    if widened:
        parts.append(f"primary keys gain the distribution column: {', '.join(widened)}")
    if alone:
        parts.append(f"distributed on their own key, not co-located: {', '.join(sorted(alone))}")
    return "; ".join(parts)


def _mongodb(plan: Plan, designs: Designs, need: Need) -> str:
    if designs.document is None:
        return "shard the collections (no document design)"
    parts = []
    for collection in designs.document.collections:
        if not collection.shard.sharded:
            continue
        keys = ", ".join(f"{p}: {d}" for p, d in collection.shard.keys)
        first = collection.shard.keys[0][0]
        attribute = next((a for a, p in collection.paths.items() if p == first), None)
        spec = plan.model.entities[collection.entity].attributes.get(attribute or "")
        zoned = spec is not None and (spec.type is TypeName.ENUM or attribute == plan.model.tenancy.tenant_key)
        zones = (
            f"zones by {first} (pin its values to shards)"
            if zoned
            else "no zones (the key's leading field has no region or tier values)"
        )
        parts.append(f"{collection.name} on {{{keys}}} ({zones})")
    return "shard: " + ("; ".join(parts) if parts else "the document design left every collection unsharded")


def _search(designs: Designs, need: Need, node: NodeCapacity) -> str:
    copies = max(2, math.ceil(need.reads / node.reads_per_second))
    shards = ", ".join(f"{i.alias} {i.shards} primary" for i in designs.search.indexes) if designs.search else ""
    return (
        f"primary shards per index ({shards or 'one per 50 GB'}), {copies - 1} replica(s) per shard for the read load"
    )


def scale_out(plan: Plan, designs: Designs, need: Need, node: NodeCapacity, nodes: int, warn: Warn) -> str:
    """The scale-out step for the store, at `nodes` profile-sized nodes."""
    store = f"{need.family.value} ({need.engine})"
    if need.family is Family.RELATIONAL and need.engine == "postgresql":
        return f"{nodes} workers; " + citus(plan, designs, need, warn)
    if need.family is Family.RELATIONAL:
        warn(
            "PP432",
            f"{store} outgrows the largest single machine within the horizon and {need.engine} has no built-in "
            "scale-out: shard in the application (or a proxy such as Vitess), or plan this data on PostgreSQL "
            "with Citus or on a store that scales out",
            "engines.relational",
        )
        return "no built-in scale-out (see PP432)"
    if need.family is Family.DOCUMENT:
        return f"{nodes} shards (replica sets); " + _mongodb(plan, designs, need)
    if need.family is Family.SEARCH:
        return f"{nodes} nodes; " + _search(designs, need, node)
    if need.family is Family.WIDE_COLUMN:
        return f"{nodes} nodes at replication factor {node.replication_factor} (add nodes; tokens rebalance)"
    return (
        f"Redis Cluster with {nodes} primaries (hash slots; the design's hash tags keep multi-key commands on one slot)"
    )

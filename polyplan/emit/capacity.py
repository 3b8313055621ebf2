"""capacity.md: rows and bytes per entity and per store, year by year to the horizon.

Relational stores on PostgreSQL and MariaDB/MySQL are sized by their engine's sizing model
(`polyplan.stores.relational.sizing`: row overhead, pages, primary-key, unique, designed and
InnoDB foreign-key indexes, child and link tables), the same model docs/index-plan.md uses; the
other stores still count payload bytes (attribute sizes) only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from polyplan.analyse.sizing import live_rows
from polyplan.diagnostics import Diagnostic
from polyplan.emit.lifecycle import lifecycle_lines
from polyplan.markdown import cell
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.relational.sizing import ENGINES, TableSize, table_rows, table_size
from polyplan.stores.relational.spec import TableSpec


def human(count: float, byte_units: bool = False) -> str:
    """`count` with a k/M/G/T suffix (or B/kB/MB/... with `byte_units`)."""
    suffixes = [" B", " kB", " MB", " GB", " TB"] if byte_units else ["", " k", " M", " G", " T"]
    scale = min(int(math.log(count, 1000)), 4) if count >= 1 else 0
    if scale == 0:
        return f"{count:,.0f}{suffixes[0]}"
    return f"{count / 1000**scale:,.1f}{suffixes[scale]}"


def capacity_years(plan: Plan) -> list[float]:
    """The years reported: 0 (today), each whole year, and the horizon itself."""
    horizon = plan.model.options.horizon_years
    years = [0.0, *[float(y) for y in range(1, math.ceil(horizon))], horizon]
    return sorted(set(years))


def relational_sizes(plan: Plan, tables: Sequence[TableSpec], engine: str, days: float) -> list[TableSize]:
    """Every relational table's size on `engine` after `days` (the engine's sizing model)."""
    model = plan.model
    entity_rows = {
        name: live_rows(model.entities[name].growth, days)
        for name, decision in plan.entities.items()
        if decision.family is Family.RELATIONAL
    }
    rows = table_rows(model, tables, entity_rows)
    return [table_size(table, rows[table.name], engine, parents=rows) for table in tables]


def _sized_engine(plan: Plan, tables: Sequence[TableSpec]) -> str | None:
    """The relational engine the sizing model covers, when the plan's relational tables use one."""
    engines = {d.engine for d in plan.entities.values() if d.family is Family.RELATIONAL}
    engine = next(iter(engines)) if len(engines) == 1 else None
    return engine if tables and engine in ENGINES else None


def store_bytes(plan: Plan, tables: Sequence[TableSpec] = ()) -> dict[str, list[float]]:
    """Bytes per store (`family (engine)`) at each of `capacity_years`: the relational store from
    its engine's sizing model when `tables` (the relational design) are given, others payload; a
    projection counts at full size in its store (used by capacity.md and by the report's chart)."""
    model = plan.model
    years = capacity_years(plan)
    per_store: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(years))
    sized = _sized_engine(plan, tables)
    if sized is not None:
        for index, year in enumerate(years):
            total = sum(t.total_bytes for t in relational_sizes(plan, tables, sized, year * 365.0))
            per_store[f"{Family.RELATIONAL.value} ({sized})"][index] += total
    for name, decision in plan.entities.items():
        size = decision.profile.record_bytes
        if sized is not None and decision.family is Family.RELATIONAL:
            for projection in decision.projections:
                for index, year in enumerate(years):
                    payload = live_rows(model.entities[name].growth, year * 365.0) * size
                    per_store[f"{projection.family.value} ({projection.engine})"][index] += payload
            continue
        for index, year in enumerate(years):
            payload = live_rows(model.entities[name].growth, year * 365.0) * size
            per_store[f"{decision.family.value} ({decision.engine})"][index] += payload
            for projection in decision.projections:
                per_store[f"{projection.family.value} ({projection.engine})"][index] += payload
    return dict(per_store)


def _relational_lines(plan: Plan, tables: Sequence[TableSpec]) -> list[str]:
    """The `## Relational tables` section: each table's rows, data and indexes at the horizon."""
    engine = _sized_engine(plan, tables)
    if engine is None:
        return []
    horizon = capacity_years(plan)[-1]
    sizes = relational_sizes(plan, tables, engine, horizon * 365.0)
    header = ["table", "rows", "bytes per row", "data", "indexes", "total"]
    lines = [
        f"## Relational tables on {engine} at year {horizon:g} (sizing model)",
        "",
        "Data is the heap with its TOAST table on PostgreSQL and the clustered primary key on InnoDB; "
        "indexes are the primary key (PostgreSQL), unique rules, designed indexes and the foreign-key "
        "indexes InnoDB adds. Constants and their sources: the engine's targets profile (`sizing`).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for size in sizes:
        indexes = ", ".join(
            f"{cell(i.name)} {human(i.bytes, byte_units=True)}"
            for i in size.indexes
            if not (engine == "mysql" and i.role == "primary key")
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    cell(size.table),
                    human(size.rows),
                    human(size.row_bytes, byte_units=True),
                    human(size.data_bytes, byte_units=True),
                    f"{human(size.index_bytes, byte_units=True)} ({indexes})" if indexes else "0 B",
                    human(size.total_bytes, byte_units=True),
                ]
            )
            + " |"
        )
    return [*lines, ""]


def render_capacity_md(
    plan: Plan,
    stores: Mapping[str, Any] | None = None,
    diagnostics: Sequence[Diagnostic] = (),
    tables: Sequence[TableSpec] = (),
) -> str:
    """The capacity plan as Markdown; `stores` (plan.json's) and `diagnostics` give the retention
    and archive design of each aged entity (`lifecycle.lifecycle_lines`); `tables` (the relational
    design) size the relational store with its engine's model."""
    model = plan.model
    years = capacity_years(plan)
    header = ["entity", "store", "record", *[f"year {y:g}" for y in years]]
    lines = [f"# Capacity plan: {model.name}", "", "Live rows (and payload bytes) after TTL and retention.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for name, decision in plan.entities.items():
        entity = model.entities[name]
        size = decision.profile.record_bytes
        cells = []
        for year in years:
            rows = live_rows(entity.growth, year * 365.0)
            cells.append(f"{human(rows)} ({human(rows * size, byte_units=True)})")
        store = f"{decision.family.value} ({decision.engine})"
        lines.append("| " + " | ".join([cell(name), store, human(size, byte_units=True), *cells]) + " |")
    per_store = store_bytes(plan, tables)
    lines += ["", *_relational_lines(plan, tables)]
    sized = _sized_engine(plan, tables)
    title = "## Per store" + (
        f" (relational ({sized}): the sizing model above; others: payload, before indexes and replication)"
        if sized
        else " (payload, before indexes and replication)"
    )
    lines += [title, ""]
    store_header = ["store", *[f"year {y:g}" for y in years]]
    lines += ["| " + " | ".join(store_header) + " |", "|" + "|".join("---" for _ in store_header) + "|"]
    for store in sorted(per_store):
        lines.append("| " + " | ".join([store, *[human(b, byte_units=True) for b in per_store[store]]]) + " |")
    lines += ["", "Projections (search index, cache) are counted at full size in their store.", ""]
    lines += lifecycle_lines(plan, stores or {}, diagnostics)
    return "\n".join(lines)

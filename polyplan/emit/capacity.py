"""capacity.md: rows and bytes per entity and per store year by year, load, node counts, the
year each threshold is crossed and the scaling steps, from the capacity plan (`polyplan.capacity`).

Every store is sized by its own estimate (`polyplan.capacity.estimates`): relational stores on
PostgreSQL and MariaDB/MySQL by their engine's sizing model, the same model docs/index-plan.md
uses; Redis by its key families' memory; search by its index estimate; MongoDB by BSON documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from polyplan.analyse.sizing import live_rows
from polyplan.capacity.plan import report_years
from polyplan.capacity.spec import CapacityPlan
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
    return list(report_years(plan))


def relational_sizes(plan: Plan, tables: Sequence[TableSpec], engine: str, days: float) -> list[TableSize]:
    """Every relational table's size on `engine` after `days` (the engine's sizing model)."""
    model = plan.model
    entity_rows = {
        name: live_rows(model.entities[name].growth, days)
        for name, decision in plan.entities.items()
        if decision.family is Family.RELATIONAL
    }
    rows = table_rows(model, tables, entity_rows)
    return [table_size(table, rows[table.name], engine, plan.sizing(engine), parents=rows) for table in tables]


def _sized_engine(plan: Plan, tables: Sequence[TableSpec]) -> str | None:
    """The relational engine the sizing model covers, when the plan's relational tables use one."""
    engines = {d.engine for d in plan.entities.values() if d.family is Family.RELATIONAL}
    engine = next(iter(engines)) if len(engines) == 1 else None
    return engine if tables and engine in ENGINES else None


def planned_store_bytes(capacity: CapacityPlan) -> dict[str, list[float]]:
    """Bytes per store (`family (engine)`) at each reported year, every copy counted (replication
    factor), from the capacity plan: each store's own estimate (used by capacity.md and by the
    report's chart)."""
    return {store.store: [y.stored_bytes for y in store.years] for store in capacity.stores}


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


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str]) -> list[str]:
    return [_row(header), "|" + "|".join("---" for _ in header) + "|"]


def _when(year: float | None) -> str:
    """A crossing point: `year 1.25 (month 15)`, or not within the horizon."""
    if year is None:
        return "not within the horizon"
    return f"year {year:g} (month {round(year * 12)})"


def _entity_lines(capacity: CapacityPlan) -> list[str]:
    years = capacity.years
    lines = [
        "## Per entity",
        "",
        "Live rows after TTL and retention, and bytes as the entity's store estimates them (its own model; "
        "a projection is sized by its store's design, not as a copy of the entity).",
        "",
        *_table(["entity", "store", "role", "sized by", "", *[f"year {y:g}" for y in years]]),
    ]
    for line in capacity.entities:
        for index, (label, values) in enumerate(
            (
                ("rows", [human(s.rows) for s in line.sizes]),
                ("data", [human(s.data_bytes, byte_units=True) for s in line.sizes]),
                ("indexes", [human(s.index_bytes, byte_units=True) for s in line.sizes]),
                ("total", [human(s.total_bytes, byte_units=True) for s in line.sizes]),
            )
        ):
            head = [cell(line.entity), line.store, line.role, cell(line.source)] if index == 0 else ["", "", "", ""]
            lines.append(_row([*head, label, *values]))
    return [*lines, ""]


def _store_lines(capacity: CapacityPlan) -> list[str]:
    lines = [
        "## Per store",
        "",
        "Stored bytes count every copy (the replication factor of the node profile); peak reads and writes "
        "per second assume the model's rates are today's peaks and grow as each entity's inserts do; "
        "connections are Little's law (operations/s × the engine's latency) with 2× headroom. Nodes are "
        "profile-sized nodes (`node:` in the target profile: an assumption to override).",
        "",
    ]
    for store in capacity.stores:
        lines += [f"### {store.store}", "", *_table(["", *[f"year {y.year:g}" for y in store.years]])]
        figures = (
            ("rows", [human(y.rows) for y in store.years]),
            ("data", [human(y.data_bytes, byte_units=True) for y in store.years]),
            ("indexes", [human(y.index_bytes, byte_units=True) for y in store.years]),
            ("stored (all copies)", [human(y.stored_bytes, byte_units=True) for y in store.years]),
            *(
                [("kept free for compaction", [human(y.free_bytes, byte_units=True) for y in store.years])]
                if any(y.free_bytes for y in store.years)
                else []
            ),
            ("peak reads/s", [human(y.reads) for y in store.years]),
            ("peak writes/s", [human(y.writes) for y in store.years]),
            ("connections", [human(y.connections) for y in store.years]),
            ("profile-sized nodes", [str(y.nodes) for y in store.years]),
            ("read replicas", [str(y.read_replicas) for y in store.years]),
        )
        lines += [_row([label, *values]) for label, values in figures]
        lines.append("")
        if store.thresholds:
            lines += [*_table(["threshold", "crossed", "why"])]
            lines += [_row([t.resource, _when(t.year), cell(t.why)]) for t in store.thresholds]
        else:
            lines.append("One node holds this store to the horizon.")
        lines.append("")
        if store.steps:
            lines += ["Steps, in order:", ""]
            lines += [f"{s.order}. {_when(s.year)}: {s.action} — {s.why}" for s in store.steps]
            lines.append("")
        if store.replica_patterns:
            lines.append(f"Reads a replica may serve: {', '.join(store.replica_patterns)}.")
        if store.primary_patterns:
            lines.append(f"Reads that go to the primary: {', '.join(store.primary_patterns)}.")
        lines.append("")
    return lines


def _partitioning_lines(capacity: CapacityPlan) -> list[str]:
    if not capacity.partitioning:
        return []
    lines = ["## Partitioning", "", *_table(["table", "store", "needed from", "why"])]
    for t in capacity.partitioning:
        lines.append(_row([cell(t.resource.removeprefix("partitioning ")), t.store, _when(t.year), cell(t.why)]))
    return [*lines, ""]


def render_capacity_md(
    plan: Plan,
    capacity: CapacityPlan,
    stores: Mapping[str, Any] | None = None,
    diagnostics: Sequence[Diagnostic] = (),
    tables: Sequence[TableSpec] = (),
    charts: Sequence[str] = (),
) -> str:
    """The capacity plan as Markdown: `capacity` (capacity.plan) per entity and store, thresholds
    and steps; `stores` (plan.json's) and `diagnostics` give the retention and archive design of
    each aged entity (`lifecycle.lifecycle_lines`); `tables` (the relational design) list the
    relational tables; `charts` are the chart files under docs/."""
    lines = [f"# Capacity plan: {plan.model.name}", ""]
    if charts:  # named, not linked: the HTML report embeds this file and fetches nothing
        lines += ["Charts of size and load per store over time: " + ", ".join(f"`{path}`" for path in charts) + ".", ""]
    lines += _entity_lines(capacity)
    lines += _relational_lines(plan, tables)
    lines += _store_lines(capacity)
    lines += _partitioning_lines(capacity)
    lines += lifecycle_lines(plan, stores or {}, diagnostics)
    return "\n".join(lines)

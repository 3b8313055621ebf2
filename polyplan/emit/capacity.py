"""capacity.md: rows and bytes per entity and per store, year by year to the horizon.

Payload bytes only (attribute sizes); each store adds its own overhead (indexes, replication,
row headers), which the store targets report in their own artifacts where they can estimate it.
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
from polyplan.plan.ir import Plan


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


def store_bytes(plan: Plan) -> dict[str, list[float]]:
    """Payload bytes per store (`family (engine)`) at each of `capacity_years`; a projection counts
    at full size in its store (used by capacity.md and by the report's chart)."""
    model = plan.model
    years = capacity_years(plan)
    per_store: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(years))
    for name, decision in plan.entities.items():
        size = decision.profile.record_bytes
        for index, year in enumerate(years):
            payload = live_rows(model.entities[name].growth, year * 365.0) * size
            per_store[f"{decision.family.value} ({decision.engine})"][index] += payload
            for projection in decision.projections:
                per_store[f"{projection.family.value} ({projection.engine})"][index] += payload
    return dict(per_store)


def render_capacity_md(
    plan: Plan, stores: Mapping[str, Any] | None = None, diagnostics: Sequence[Diagnostic] = ()
) -> str:
    """The capacity plan as Markdown; `stores` (plan.json's) and `diagnostics` give the retention
    and archive design of each aged entity (`lifecycle.lifecycle_lines`)."""
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
    per_store = store_bytes(plan)
    lines += ["", "## Per store (payload, before indexes and replication)", ""]
    store_header = ["store", *[f"year {y:g}" for y in years]]
    lines += ["| " + " | ".join(store_header) + " |", "|" + "|".join("---" for _ in store_header) + "|"]
    for store in sorted(per_store):
        lines.append("| " + " | ".join([store, *[human(b, byte_units=True) for b in per_store[store]]]) + " |")
    lines += ["", "Projections (search index, cache) are counted at full size in their store.", ""]
    lines += lifecycle_lines(plan, stores or {}, diagnostics)
    return "\n".join(lines)

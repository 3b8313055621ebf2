"""Which candidate indexes a table gets, and how each pattern is then served (pure: no I/O).

A candidate's read benefit (rate × page reads saved, index_costs) is weighed against its write
cost (writes that touch its columns × pages maintained), its storage and, on PostgreSQL, the
heap-only updates it ends (hot_updates.py). Candidates are taken greedily by net benefit while
that stays positive and the entity's write budget (the more it is written, the fewer indexes)
has room; a candidate counts for a pattern only if it at least halves its cost. Every need then
ends with a route: its cheapest chosen index, the key or unique rule that answers it, or the
reason none does (PP403). The numbers and the rejections are recorded for index-plan.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import replace
from typing import Any

from polyplan.stores.relational.hot_updates import HotLoss, hot_loss
from polyplan.stores.relational.index_candidates import Candidate, Frame, serves, usable
from polyplan.stores.relational.index_costs import (
    ENTRY_WRITE_COST,
    baseline,
    constraint_cost,
    estimate_ms,
    index_cost,
    index_metrics,
    indexed_columns,
    inside_cost,
    prefix_route,
    scan_cost,
)
from polyplan.stores.relational.index_load import DesignContext, Load
from polyplan.stores.relational.index_needs import Need
from polyplan.stores.relational.index_results import INDEX_PLAN, IndexMetrics, PatternRoute, TableIndexPlan
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableSpec

MIN_IMPROVEMENT = 2.0  # a new index must at least halve a pattern's cost to count for it
# Per-entity write budget: at most this many secondary indexes up to this many writes/s.
WRITE_BUDGET: tuple[tuple[float, int], ...] = ((10.0, 6), (100.0, 5), (1000.0, 3), (math.inf, 2))


def write_budget(write_rate: float) -> int:
    """The most secondary indexes an entity written `write_rate` times a second may carry."""
    return next(limit for bound, limit in WRITE_BUDGET if write_rate <= bound)


def _gain(reach: list[tuple[Need, float]], current: dict[str, float]) -> float:
    """Page reads per second a candidate saves over the needs' plans now (`reach`: the needs it
    finds, each with its cost through it). An index that does not at least halve a pattern's
    cost is not worth its upkeep for it: this keeps near-duplicates of a chosen index out."""
    gain = 0.0
    for need, cost in reach:
        if cost * MIN_IMPROVEMENT <= current[need.name]:
            gain += need.rate * (current[need.name] - cost)
    return gain


def _route(
    need: Need,
    table: str,
    via: str,
    reason: str,
    cost: float,
    index: str | None = None,
    covering: bool = False,
    fulltext: bool = False,
) -> PatternRoute:
    """How `need` is served: its own name, shape, rate and latency target, and the cost in ms."""
    return PatternRoute(
        need.name,
        table,
        need.shape,
        need.rate,
        index,
        via,
        covering=covering,
        reason=reason,
        estimated_ms=estimate_ms(cost),
        latency_ms=need.latency_ms,
        fulltext=fulltext,
    )


def design_table(
    ctx: DesignContext, table: TableSpec, needs: list[Need], early: list[PatternRoute], frame: Frame
) -> TableSpec:
    """`table` with its chosen indexes and its TableIndexPlan (routes, numbers, rejections);
    `frame`: `frame_of` of the same needs (their numbers may differ)."""
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
            _route(need, table.name, label, f"the {label} already answers it", constraint_cost(ctx, table, need))
        )
    engine = ctx.plan.model.engines.relational
    pool = frame.candidates()
    budget = write_budget(load.write_rate)
    prefixes = {need.name: prefix_route(ctx, table, need) for need in open_needs}
    current = {need.name: baseline(load, need, prefixes[need.name]) for need in open_needs}
    # What a candidate finds, at what cost, and its upkeep stay the same from round to round.
    reach = {
        c.name: [(n, index_cost(ctx, table, c, n)) for n in open_needs if usable(c.kind, c.columns, c.where, n)]
        for c in pool
    }
    upkeep = {c.name: index_metrics(ctx, table, c, 0.0) for c in pool}
    chosen: list[Candidate] = []
    benefits: dict[str, float] = {}
    savings: dict[str, tuple[tuple[str, float, float, float], ...]] = {}
    losses: dict[str, HotLoss | None] = {}
    rejected: list[str] = []
    remaining = list(pool)
    while remaining:
        scored = []
        others = [set(table.primary_key), *(set(u) for u in table.uniques), *(indexed_columns(c) for c in chosen)]
        for candidate in remaining:
            gain = _gain(reach[candidate.name], current)
            cost = upkeep[candidate.name].write_cost + upkeep[candidate.name].storage_cost
            # The HOT loss depends on what is already chosen, so it is the one cost computed per round.
            loss = losses[candidate.name] = hot_loss(
                engine, load.updates, indexed_columns(candidate), others, ENTRY_WRITE_COST
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
        if need.inside is not None and all(  # no ordered walk cheaper than the inside-value index
            index_cost(ctx, table, c, need) >= inside_cost(load, need.inside[1]) for c in options
        ):
            routes.append(inside_index_route(need.name, table.name, need.rate, need.latency_ms, need.inside, load))
            continue
        if not options and prefix is not None and prefix[2] < scan_cost(load, need):
            label, columns, through = prefix
            matched = max(1.0, load.rows * need.selectivity)
            reason = (
                f"the {label} finds its rows by {', '.join(columns)}; filtering and sorting "
                f"~{matched:,.0f} of them costs less than maintaining another index"
            )
            routes.append(_route(need, table.name, label, reason, through))
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
            scan = scan_cost(load, need)
            if need.limit and scan < scan_cost(load, dataclasses.replace(need, limit=None)):
                # An unsorted LIMIT over many matches: the scan stops early (index_costs.scan_cost).
                why = (
                    f"a scan finds its LIMIT {need.limit} rows after ≈ {scan:,.0f} page(s), the matching rows "
                    f"being ≈ {need.selectivity:.0%} of the table; no index reads fewer"
                )
            routes.append(_route(need, table.name, "none", why, scan_cost(load, need), fulltext=bool(need.fulltext)))
            continue
        best = min(options, key=lambda c: (index_cost(ctx, table, c, need), c.name))
        cost = index_cost(ctx, table, best, need)
        # An index chosen for other needs may find this one's rows at more pages than the plan
        # it has without it (a wide range read through to the heap): the cheaper plan serves it.
        scan = scan_cost(load, need)
        if prefix is not None and prefix[2] < cost and prefix[2] <= scan:
            label, columns, through = prefix
            reason = (
                f"the {label} finds its rows by {', '.join(columns)} at ≈ {through:,.0f} pages, "
                f"fewer than through {best.name} (≈ {cost:,.0f})"
            )
            routes.append(_route(need, table.name, label, reason, through))
            continue
        if scan < cost:
            reason = (
                f"a scan of {table.name} reads fewer pages (≈ {scan:,.0f}) than {best.name} would "
                f"(≈ {cost:,.0f}: each matching row's heap page after the index's)"
            )
            routes.append(_route(need, table.name, "none", reason, scan, fulltext=bool(need.fulltext)))
            continue
        served[best.name].append(need)
        covered = need.reads is not None and need.reads <= {c.name for c in best.columns} | set(best.include)
        reason = _route_reason(best, need, covered)
        routes.append(
            _route(need, table.name, "index", reason, cost, best.name, covering=covered, fulltext=bool(need.fulltext))
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
        found = replace(index_metrics(ctx, table, candidate, benefits[candidate.name]), reads=savings[candidate.name])
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


def inside_index_route(
    pattern: str, table: str, rate: float, latency_ms: float | None, inside: tuple[str, float, str], load: Load
) -> PatternRoute:
    """The route of a read served by its inside-value index (`inside`: membership.inside_route)."""
    index, share, shape = inside
    return PatternRoute(
        pattern,
        table,
        shape,
        rate,
        index,
        "inside index",
        reason="a GIN or expression index looks inside the value (index-plan: inside-value indexes)",
        estimated_ms=estimate_ms(inside_cost(load, share)),
        latency_ms=latency_ms,
    )


def _equality_width(need: Need) -> int:
    sorted_names = {c.name for c in need.sort}
    return len(set(need.eq) | {c for c in need.ins if c not in sorted_names})


def _route_reason(index: Candidate, need: Need, covered: bool) -> str:
    parts = [f"{need.shape}"]
    if not serves(index.kind, index.columns, index.where, need):
        rest = "sorts" if need.sort else "filters"
        parts.append(f"finds the equality group through the index and {rest} it in memory")
    elif need.inside is not None and need.limit:
        walked = need.limit / need.inside[1]
        parts.append(
            f"walks the index in order checking {need.inside[2]} on each row: about {walked:,.0f} rows "
            f"for LIMIT {need.limit}, not the {need.inside[0]} bitmap over every match and a sort"
        )
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


__all__ = ["MIN_IMPROVEMENT", "WRITE_BUDGET", "design_table", "inside_index_route", "write_budget"]

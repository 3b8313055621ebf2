"""Which candidate indexes a table gets, and how each pattern is then served (pure: no I/O).

A candidate's read benefit (rate × page reads saved, index_costs) is weighed against its write
cost (writes that touch its columns × pages maintained), its storage and, on PostgreSQL, the
heap-only updates it ends (hot_updates.py). Candidates are taken greedily by net benefit while
that stays positive and the entity's write budget (the more it is written, the fewer indexes)
has room; a candidate counts for a pattern only if it at least halves its cost, or, when no
write touches it (no write cost, no HOT updates ended), saves at least MIN_PAGES_SAVED a read
(`_counts`). Every need then
ends with a route: its cheapest chosen index, the key or unique rule that answers it, or the
reason none does (PP403). The numbers and the rejections are recorded for index-plan.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from polyplan.stores.relational.hot_updates import HotLoss, hot_loss
from polyplan.stores.relational.index_candidates import Candidate, Frame, serves
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
from polyplan.stores.relational.index_fit import group_of, lead_width
from polyplan.stores.relational.index_load import DesignContext, Load
from polyplan.stores.relational.index_needs import Need
from polyplan.stores.relational.index_results import INDEX_PLAN, IndexMetrics, PatternRoute, TableIndexPlan
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableSpec

MIN_IMPROVEMENT = 2.0  # a new index must at least halve a pattern's cost to count for it
# ... unless no write touches it: then a saving of at least this many pages a read counts
# (`_counts`). Half a page: one B-tree level less (the smallest whole-page difference between
# two indexes over the same rows) passes it; a difference of amortized leaf fractions does not.
MIN_PAGES_SAVED = 0.5
# Per-entity write budget: at most this many secondary indexes up to this many writes/s.
WRITE_BUDGET: tuple[tuple[float, int], ...] = ((10.0, 6), (100.0, 5), (1000.0, 3), (math.inf, 2))


def write_budget(write_rate: float) -> int:
    """The most secondary indexes an entity written `write_rate` times a second may carry."""
    return next(limit for bound, limit in WRITE_BUDGET if write_rate <= bound)


def _counts(cost: float, now: float, unwritten: bool) -> bool:
    """Whether a read's saving (`now` pages a read, `cost` through the candidate) counts for the
    candidate. It must halve the read (MIN_IMPROVEMENT): an index costs every write that touches
    it for certain, while a read's pages are an estimate dominated by the heap pages both routes
    share (a page per row where the heap's order is unknown, often 4× the real count), so a
    small share of that estimate does not pay a near-duplicate's upkeep. An index that no write
    touches (`unwritten`: no entries maintained, no HOT update ended) has no such upkeep to pay:
    its saving counts when it is at least MIN_PAGES_SAVED a read, and the net benefit (read
    benefit − storage) decides. Epinions' (i_id) beside the unique (i_id, u_id): one level,
    ≈ 0.95 of ≈ 18.4 pages a read (docs/benchmarks.md, branch oltp19)."""
    saved = now - cost
    return cost * MIN_IMPROVEMENT <= now or (unwritten and saved >= MIN_PAGES_SAVED)


def _gain(reach: list[tuple[Need, float]], current: dict[str, float], unwritten: bool) -> float:
    """Page reads per second a candidate saves over the needs' plans now (`reach`: the needs it
    finds, each with its cost through it), counting only the savings `_counts` admits: this
    keeps near-duplicates of a chosen index out."""
    gain = 0.0
    for need, cost in reach:
        if _counts(cost, current[need.name], unwritten):
            gain += need.rate * (current[need.name] - cost)
    return gain


def _closest(reach: list[tuple[Need, float]], current: dict[str, float]) -> str:
    """Why a candidate saves nothing, in numbers: the read it cuts most, its pages through the
    candidate against its pages now, when that falls short of MIN_IMPROVEMENT (a one-level
    shorter B-tree over a few rows' heap pages is such a case). Empty when it cuts none."""
    best = min(reach, key=lambda pair: (pair[1] / max(current[pair[0].name], 1e-9), pair[0].name), default=None)
    if best is None or best[1] >= current[best[0].name]:
        return ""
    need, cost = best
    return (
        f" ({need.name}: ≈ {cost:,.1f} pages a read through it against ≈ {current[need.name]:,.1f} now; "
        f"a new index must cut a read's pages {MIN_IMPROVEMENT:g}×, or {MIN_PAGES_SAVED:g} page if no write touches it)"
    )


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


@dataclass
class _Design:
    """One design of a table: the candidates taken (in order), what each serves, the numbers and
    rejections that index-plan.md records, and the routes. A PP420 re-design compares only how
    each need is served: unrecorded, it keeps that in `via` and makes no route."""

    load: Load
    budget: int
    chosen: list[Candidate]
    routes: list[PatternRoute]
    served: dict[str, list[Need]]
    benefits: dict[str, float] = field(default_factory=dict)
    savings: dict[str, tuple[tuple[str, float, float, float], ...]] = field(default_factory=dict)
    losses: dict[str, HotLoss | None] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    via: dict[str, str] = field(default_factory=dict)
    record: bool = True

    def take(self, need: Need, via: str, route: Callable[[], PatternRoute]) -> None:
        """Serve `need` `via` something: its route (made only when recording), or only `via`."""
        if self.record:
            self.routes.append(route())
        else:
            self.via[need.name] = via


def _design(ctx: DesignContext, table: TableSpec, needs: list[Need], frame: Frame, record: bool) -> _Design:
    """Choose `table`'s indexes for `needs` and route each need (see `design_table`). Without
    `record`, only how each need is served (`_Design.via`) is kept: no route (nor its reason)
    is made."""
    if frame.needs != tuple(n.name for n in needs):
        raise ValueError(f"the frame of {table.name} was made for other needs")
    load = ctx.loads[table.name]
    budget = write_budget(load.write_rate)
    made = _Design(load, budget, [], [], {}, record=record)
    fitting = frame.fitting(needs)
    open_needs: list[tuple[int, Need]] = []
    answered: list[tuple[int, Need, str, float]] = []  # routed to a key or unique rule, unless an index reads less
    for position, (need, label) in enumerate(zip(needs, frame.labels, strict=True)):
        if label is None:
            open_needs.append((position, need))
            continue
        reason = f"the {label} already answers it"
        through = constraint_cost(ctx, table, need, label)
        scan = scan_cost(load, need)
        if not need.sort and scan * MIN_IMPROVEMENT < through:
            # A key prefix holding many matches: the key finds each on its own heap page, where a
            # scan reads the table once, or under an unsorted LIMIT stops at the LIMIT'th match
            # (fuzz models 966: `a1 = false LIMIT 500` and 804: `a4 = :a4 AND a4 IN (false)`,
            # a boolean leading a unique rule over half the rows; the engines rightly scanned).
            # The key costs no upkeep, so a scan must more than halve its reads: a lookup in a
            # table of one page (2 by the key) or a few stays on its key. Not for a sorted read:
            # the key gives its order, and `scan_cost` does not count the sort a scan would need.
            made.take(need, "none", partial(_scan_route, need, table.name, scan, f"the {label}", through))
            continue
        answered.append((position, need, label, through))
    engine = ctx.plan.model.engines.relational
    pool = frame.candidates()
    prefixes = {need.name: prefix_route(ctx, table, need) for _, need in open_needs}
    current = {need.name: baseline(load, need, prefixes[need.name]) for _, need in open_needs}
    # A need the key or a unique rule answers weighs in too: an index chosen for others may read
    # it at fewer pages (a deduplicated (a) a level shorter than the unique (a, b) it prefixes).
    current.update({need.name: through for _, need, _, through in answered})
    reachable = sorted([*open_needs, *((position, need) for position, need, _, _ in answered)], key=lambda p: p[0])
    # What a candidate finds, at what cost, and its upkeep stay the same from round to round.
    reach: dict[str, list[tuple[Need, float]]] = {}
    costs: dict[str, dict[int, float]] = {}  # candidate → position of a need it finds → cost
    for candidate, fit in zip(pool, fitting, strict=True):
        found = costs[candidate.name] = {
            position: index_cost(ctx, table, candidate, need, fit[position][0])
            for position, need in reachable
            if fit[position][1]
        }
        reach[candidate.name] = [(needs[position], cost) for position, cost in found.items()]
    upkeep = {c.name: index_metrics(ctx, table, c, 0.0) for c in pool}
    held = {c.name: indexed_columns(c) for c in pool}
    chosen = made.chosen
    losses = made.losses
    remaining = list(pool)
    unwritten: dict[str, bool] = {}
    while remaining:
        scored = []
        others = [set(table.primary_key), *(set(u) for u in table.uniques), *(held[c.name] for c in chosen)]
        for candidate in remaining:
            # The HOT loss depends on what is already chosen, so it is the one cost computed per round.
            loss = losses[candidate.name] = hot_loss(
                engine, load.updates, held[candidate.name], others, ENTRY_WRITE_COST
            )
            hot = loss.cost if loss is not None else 0.0
            unwritten[candidate.name] = upkeep[candidate.name].write_cost <= 0 and loss is None
            gain = _gain(reach[candidate.name], current, unwritten[candidate.name])
            cost = upkeep[candidate.name].write_cost + upkeep[candidate.name].storage_cost
            scored.append((gain - cost - hot, candidate.name, candidate, gain))
        scored.sort(key=lambda item: (-item[0], item[1]))
        net, _, best, gain = scored[0]
        if net <= 0:
            for net_value, name, _, gain_value in scored:
                made.rejected.append(
                    f"{name}: adds no read benefit over the indexes chosen{_closest(reach[name], current)}"
                    if gain_value <= 0
                    else f"{name}: read benefit {gain_value:,.1f} does not pay its write and storage cost"
                    + (f" and the HOT updates it ends ({ended.cost:,.1f})" if (ended := losses[name]) else "")
                    + f" (net {net_value:,.1f})"
                )
            break
        if len(chosen) >= budget:
            for _, name, _, _ in scored:
                made.rejected.append(
                    f"{name}: the write budget of {table.name} ({budget} indexes at {load.write_rate:,.1f} writes/s) is full"
                )
            break
        chosen.append(best)
        made.benefits[best.name] = gain
        made.savings[best.name] = tuple(
            (need.name, need.rate, current[need.name], cost)
            for need, cost in reach[best.name]
            if _counts(cost, current[need.name], unwritten[best.name])
        )
        remaining.remove(best)
        for need, cost in reach[best.name]:
            current[need.name] = min(current[need.name], cost)
    # Route each need to its cheapest chosen index; an index that ends up serving nothing goes.
    made.served = {c.name: [] for c in chosen}
    for position, need, label, through in answered:
        # As a candidate's saving: less than half a page is amortized leaf fractions, no read's.
        options = [c for c in chosen if costs[c.name].get(position, through) <= through - MIN_PAGES_SAVED]
        if not options:
            reason = f"the {label} already answers it"
            made.take(need, label, partial(_route, need, table.name, label, reason, through))
            continue
        best = min(options, key=lambda c: (costs[c.name][position], c.name))
        made.served[best.name].append(need)
        made.take(need, "index", partial(_index_route, need, table.name, best, costs[best.name][position]))
    for position, need in open_needs:
        options = [c for c in chosen if position in costs[c.name]]
        prefix = prefixes[need.name]
        if need.inside is not None and all(  # no ordered walk cheaper than the inside-value index
            costs[c.name][position] >= inside_cost(load, need.inside[1]) for c in options
        ):
            route = partial(inside_index_route, need.name, table.name, need.rate, need.latency_ms, need.inside, load)
            made.take(need, "inside index", route)
            continue
        if not options and prefix is not None and prefix[2] < scan_cost(load, need):
            made.take(need, prefix[0], partial(_prefix_route, need, table.name, prefix, load, None))
            continue
        if not options:
            made.take(need, "none", partial(_unserved, need, table.name, pool, made.rejected, load))
            continue
        best = min(options, key=lambda c: (costs[c.name][position], c.name))
        cost = costs[best.name][position]
        # An index chosen for other needs may find this one's rows at more pages than the plan
        # it has without it (a wide range read through to the heap): the cheaper plan serves it.
        scan = scan_cost(load, need)
        if prefix is not None and prefix[2] < cost and prefix[2] <= scan:
            made.take(need, prefix[0], partial(_prefix_route, need, table.name, prefix, load, (best.name, cost)))
            continue
        if scan < cost:
            made.take(need, "none", partial(_scan_route, need, table.name, scan, best.name, cost))
            continue
        made.served[best.name].append(need)
        made.take(need, "index", partial(_index_route, need, table.name, best, cost))
    return made


def _prefix_route(
    need: Need,
    table: str,
    prefix: tuple[str, tuple[str, ...], float],
    load: Load,
    instead: tuple[str, float] | None,
) -> PatternRoute:
    """The route of a need served by the leading columns of its key or a unique rule (`prefix`:
    index_costs.prefix_route), with no index chosen for it or (`instead`) one dearer to read."""
    label, columns, through = prefix
    if instead is None:
        matched = max(1.0, load.rows * need.selectivity)
        reason = (
            f"the {label} finds its rows by {', '.join(columns)}; filtering and sorting "
            f"~{matched:,.0f} of them costs less than maintaining another index"
        )
    else:
        reason = (
            f"the {label} finds its rows by {', '.join(columns)} at ≈ {through:,.0f} pages, "
            f"fewer than through {instead[0]} (≈ {instead[1]:,.0f})"
        )
    return _route(need, table, label, reason, through)


def _scan_route(need: Need, table: str, scan: float, best: str, cost: float) -> PatternRoute:
    """The route of a need that a scan reads at fewer pages than its cheapest chosen index."""
    reason = (
        f"a scan of {table} reads fewer pages (≈ {scan:,.0f}) than {best} would "
        f"(≈ {cost:,.0f}: each matching row's heap page after the index's)"
    )
    return _route(need, table, "none", reason, scan, fulltext=bool(need.fulltext))


def _unserved(need: Need, table: str, pool: list[Candidate], rejected: list[str], load: Load) -> PatternRoute:
    """The route of a need no candidate finds: a scan, with the reason its candidates were not taken."""
    why = next(
        (
            r.split(": ", 1)[1]
            for r in rejected
            if any(n.name == need.name for c in pool if r.startswith(c.name + ":") for n in c.needs)
        ),
        "no candidate serves it",
    )
    scan = scan_cost(load, need)
    if need.limit and scan < scan_cost(load, replace(need, limit=None)):
        # An unsorted LIMIT over many matches: the scan stops early (index_costs.scan_cost).
        why = (
            f"a scan finds its LIMIT {need.limit} rows after ≈ {scan:,.0f} page(s), the matching rows "
            f"being ≈ {need.selectivity:.0%} of the table; no index reads fewer"
        )
    return _route(need, table, "none", why, scan, fulltext=bool(need.fulltext))


def _index_route(need: Need, table: str, best: Candidate, cost: float) -> PatternRoute:
    """The route of a need served by the chosen index `best`."""
    covered = need.reads is not None and need.reads <= {c.name for c in best.columns} | set(best.include)
    reason = _route_reason(best, need, covered)
    return _route(need, table, "index", reason, cost, best.name, covering=covered, fulltext=bool(need.fulltext))


def served_by(ctx: DesignContext, table: TableSpec, needs: list[Need], frame: Frame) -> dict[str, str]:
    """Need → how `design_table` would serve it (the route's `via`), without recording the
    design: what a PP420 re-design compares."""
    return _design(ctx, table, needs, frame, record=False).via


def design_table(
    ctx: DesignContext, table: TableSpec, needs: list[Need], early: list[PatternRoute], frame: Frame
) -> TableSpec:
    """`table` with its chosen indexes and its TableIndexPlan (routes, numbers, rejections);
    `frame`: `frame_of` of the same needs (their numbers may differ)."""
    made = _design(ctx, table, needs, frame, record=True)
    load = made.load
    routes = [*early, *made.routes]
    indexes: list[IndexSpec] = []
    metrics: list[IndexMetrics] = []
    for candidate in sorted(made.chosen, key=lambda c: c.name):
        users = made.served[candidate.name]
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
                equality=min(_equality_width(n, candidate) for n in users),
            )
        )
        loss = made.losses.get(candidate.name)
        found = replace(
            index_metrics(ctx, table, candidate, made.benefits[candidate.name]), reads=made.savings[candidate.name]
        )
        metrics.append(replace(found, hot=loss.describe()) if loss else found)
    routes.sort(key=lambda r: r.pattern)
    result = TableIndexPlan(
        table=table.name,
        entity=table.entity,
        rows=load.rows,
        write_rate=load.write_rate,
        budget=made.budget,
        routes=tuple(routes),
        metrics=tuple(metrics),
        rejected=tuple(sorted(set(made.rejected))),
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


def _equality_width(need: Need, index: Candidate) -> int:
    """The equality columns a seek of `index` for `need` uses: the need's group, or the part of
    it that leads the key (an index on part of the group, `index_fit.lead_width`)."""
    sorted_names = {c.name for c in need.sort}
    width = len(set(need.eq) | {c for c in need.ins if c not in sorted_names})
    if serves(index.kind, index.columns, index.where, need):
        return width
    return min(width, lead_width(index.columns, index.where, need.form))


def _route_reason(index: Candidate, need: Need, covered: bool) -> str:
    parts = [f"{need.shape}"]
    if not serves(index.kind, index.columns, index.where, need):
        rest = "sorts" if need.sort else "filters"
        width = lead_width(index.columns, index.where, need.form)
        if width < len(group_of(need.form, index.where)):
            found = ", ".join(c.name for c in index.columns[:width])
            parts.append(f"finds the rows of its {found} through the index and {rest} them in memory")
        else:
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
    found_by = [n for n in users if not serves(candidate.kind, candidate.columns, candidate.where, n)]
    # Found by part of their equality group (index_fit.lead_width): the rest of it is filtered after.
    by_part = [
        n
        for n in found_by
        if lead_width(candidate.columns, candidate.where, n.form) < len(group_of(n.form, candidate.where))
    ]
    in_memory = len(by_part) < len(found_by)
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
    for need in sorted(by_part, key=lambda n: n.name):
        lead = [c.name for c in candidate.columns[: lead_width(candidate.columns, candidate.where, need.form)]]
        rest = sorted(group_of(need.form, candidate.where) - set(lead))
        text += f"; {need.name} found by {', '.join(lead)}, its {', '.join(rest)} filtered after"
    if candidate.where:
        text += "; partial: only rows where " + " AND ".join(_where_text(c, v) for c, v in candidate.where)
    if candidate.include:
        text += f"; covers the columns read ({', '.join(candidate.include)} included)"
    return text


__all__ = [
    "MIN_IMPROVEMENT",
    "MIN_PAGES_SAVED",
    "WRITE_BUDGET",
    "design_table",
    "inside_index_route",
    "served_by",
    "write_budget",
]

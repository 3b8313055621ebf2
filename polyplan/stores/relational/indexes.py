"""Workload-driven index design for the relational target: the public entry (pure: no I/O).

`design_indexes` fills every table's `.indexes` from the workload and records why (a
TableIndexPlan, index_results.py). The design is split by concern, one module each, so that a
reader finds the cost of one choice in one place (each step is explained again in the
generated index-plan.md):

- index_load.py — what a table holds and takes: rows, row width, write traffic at the horizon.
- index_needs.py — what each pattern (and foreign-key lookup) asks of an index, and how many
  rows it matches.
- index_candidates.py — the index shapes considered: needs merged by the column orders that
  serve them, narrower equality-group alternatives, HOT-keeping copies; which shape serves which
  need (index_fit.py) and their names (index_names.py).
- index_costs.py — what each structure costs per read and per write (page reads, the unit);
  hot_updates.py — what an index costs PostgreSQL's other updates; cardinality.py — the
  distinct counts the estimates rest on.
- index_select.py — which candidates are taken (net benefit, write budget) and each
  pattern's route.
- This module — the whole design in order, the write predicates' needs, the routes served
  elsewhere (search projection, geo, inside-value indexes), PP403/PP501, and the PP420 re-plans
  (index_guesses.py) with guessed distinct counts moved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import pattern_named
from polyplan.model.schema import RequirementsModel
from polyplan.plan.geo import geo_filters, is_geo
from polyplan.plan.ir import Plan
from polyplan.plan.predicates import WritePredicate, all_predicates
from polyplan.stores.relational.cardinality import Cardinalities
from polyplan.stores.relational.index_candidates import Frame, frame_of, serves, usable
from polyplan.stores.relational.index_copies import INNODB_SCANS, innodb_scans
from polyplan.stores.relational.index_costs import GEO_PAGES, WRITE_WEIGHT, estimate_ms, inside_upkeep
from polyplan.stores.relational.index_guesses import Replan, guess_diagnostics
from polyplan.stores.relational.index_load import DesignContext, column_of, stored_relationally, table_load
from polyplan.stores.relational.index_names import MAX_NAME, index_name, shorten, slug
from polyplan.stores.relational.index_needs import (
    Need,
    foreign_key_needs,
    pattern_need,
    projected_away,
    unneeded_foreign_keys,
    walk_need,
)
from polyplan.stores.relational.index_results import (
    GEO_VIA,
    INDEX_PLAN,
    IndexMetrics,
    PatternRoute,
    TableIndexPlan,
    index_plan_of,
)
from polyplan.stores.relational.index_select import (
    MIN_IMPROVEMENT,
    design_table,
    inside_index_route,
    served_by,
    write_budget,
)
from polyplan.stores.relational.membership import (
    MEMBERSHIP,
    Inside,
    inside_index_name,
    inside_route,
    insides_of,
    scan_warnings,
)
from polyplan.stores.relational.path_queries import path_legs
from polyplan.stores.relational.spec import TableKind, TableSpec


def _predicate_need(ctx: DesignContext, predicate: WritePredicate, table: TableSpec) -> Need | PatternRoute:
    """The need of a write predicate (no latency target, nothing to cover: the write visits each
    row), or its route when no index can serve it."""
    read = predicate.as_read(ctx.plan.model)
    load = ctx.loads[table.name]
    inside = inside_route(ctx.plan.model, read, table)
    if inside is not None:  # it finds its rows as a read filtering there would: the index inside
        return inside_index_route(predicate.write, table.name, predicate.rate, None, inside, load)
    need = pattern_need(ctx, read, table)
    if isinstance(need, str):
        return PatternRoute(
            predicate.write,
            table.name,
            "",
            predicate.rate,
            None,
            "none",
            reason=need,
            estimated_ms=estimate_ms(load.pages),
        )
    return replace(need, reads=None, latency_ms=None, shape=f"{predicate.kind.value} where {need.shape}")


@dataclass(frozen=True)
class Probes:
    """Each table's PP420 probes (`guess_diagnostics`), in table order, made when asked.

    They read the finished design and nothing designed reads them (only the diagnostics do), so
    `render(plan, jobs=2)` makes them after the fork, part in each process, instead of on the
    serial path before it. Each probe reads the design's memos, which hold pure results by key:
    made later, or in another process, it gives the same diagnostics."""

    probes: tuple[Callable[[], list[Diagnostic]], ...]

    def run(self, start: int = 0, stop: int | None = None) -> list[Diagnostic]:
        """The diagnostics of the probes `start:stop`, in table order."""
        return [d for probe in self.probes[start:stop] for d in probe()]


def design_indexes(plan: Plan, tables: list[TableSpec]) -> tuple[list[TableSpec], list[Diagnostic]]:
    """Return `tables` with `.indexes` filled from the workload, plus the design's diagnostics.

    Each table also gets `extra["index_plan"]` (a TableIndexPlan): the route of every pattern
    and foreign-key lookup, the numbers behind every index, and what was rejected and why.
    """
    result, probes, diagnostics = design_indexes_probed(plan, tables)
    return result, [*probes.run(), *diagnostics]


def design_indexes_probed(plan: Plan, tables: list[TableSpec]) -> tuple[list[TableSpec], Probes, list[Diagnostic]]:
    """`design_indexes` with the PP420 probes not yet made: the tables, the probes, and the
    diagnostics that follow the probes' in `design_indexes`."""
    model = plan.model
    by_name = {t.name: t for t in tables}
    entity_table = {t.entity: t.name for t in tables if t.kind is TableKind.ENTITY}
    ctx = DesignContext(plan, by_name, {}, {i.name for t in tables for i in t.indexes})
    for table in sorted(tables, key=lambda t: (t.kind is not TableKind.ENTITY, t.name)):
        ctx.loads[table.name] = table_load(ctx, table)
    ctx.card = Cardinalities(by_name, {name: load.rows for name, load in ctx.loads.items()})
    needs: dict[str, list[Need]] = {t.name: [] for t in tables}
    early: dict[str, list[PatternRoute]] = {t.name: [] for t in tables}
    diagnostics: list[Diagnostic] = []
    # A pattern through relationships is served leg by leg (path_queries.path_legs): each parent's
    # filter, then the foreign keys down to the pattern's own table, which keeps its name.
    legs = {read.name: path_legs(model, read) for read in plan.loaded.paths}
    reads = [leg for pattern in model.access_patterns for leg in legs.get(pattern.name, [pattern])]
    for pattern in reads:
        if not stored_relationally(plan, pattern.entity) or pattern.entity not in entity_table:
            continue
        table = by_name[entity_table[pattern.entity]]
        engine = projected_away(plan, pattern)
        if engine is not None:
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    "full-text",
                    pattern.rate,
                    None,
                    "none",
                    reason=f"answered by the search projection ({engine}); the relational store keeps no full-text index for it",
                    fulltext=True,
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        if is_geo(pattern):
            # A geo filter is served by the point's own indexes (stores/relational/geo.py), not a
            # B-tree this planner designs: a spatial walk reads about GEO_PAGES pages.
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    ", ".join(f"{f.attribute} {f.op.value}" for f in geo_filters(pattern)),
                    pattern.rate,
                    None,
                    GEO_VIA,
                    reason="the geo point's indexes (geo.py) serve it",
                    estimated_ms=estimate_ms(GEO_PAGES),
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        inside = inside_route(model, pattern, table)
        if inside is not None:
            walk = walk_need(ctx, pattern, table, inside)
            if walk is not None:  # the selection weighs an ordered walk against the inside index
                needs[table.name].append(walk)
            else:
                early[table.name].append(
                    inside_index_route(
                        pattern.name, table.name, pattern.rate, pattern.latency_ms, inside, ctx.loads[table.name]
                    )
                )
            continue
        need = pattern_need(ctx, pattern, table)
        if isinstance(need, str):
            early[table.name].append(
                PatternRoute(
                    pattern.name,
                    table.name,
                    "",
                    pattern.rate,
                    None,
                    "none",
                    reason=need,
                    estimated_ms=estimate_ms(ctx.loads[table.name].pages),
                    latency_ms=pattern.latency_ms,
                )
            )
            continue
        needs[table.name].append(need)
    for predicate in all_predicates(model):
        # An update or delete by predicate finds its rows as a read of their keys would.
        if stored_relationally(plan, predicate.entity) and predicate.entity in entity_table:
            table = by_name[entity_table[predicate.entity]]
            found = _predicate_need(ctx, predicate, table)
            if isinstance(found, Need):
                needs[table.name].append(found)
            else:
                early[table.name].append(found)
    fk_notes: dict[str, list[str]] = {}
    probes: list[Callable[[], list[Diagnostic]]] = []
    for table in tables:
        fk_needs, notes = foreign_key_needs(ctx, table)
        needs[table.name].extend(fk_needs)
        fk_notes[table.name] = notes
    result: list[TableSpec] = []
    for table in tables:
        frame = frame_of(ctx, table, needs[table.name])
        designed = design_table(ctx, table, needs[table.name], early[table.name], frame)
        # The design just made is the replan without overrides (the early routes aside, which no
        # replan has): the probes compare against it instead of designing the table once more.
        replan = _replan(ctx, table, needs[table.name], frame, _served(designed))
        probed = [c for n in needs[table.name] if not n.name.startswith("fk:") for c in (*n.eq, *n.ins, *dict(n.where))]
        rows = ctx.loads[table.name].rows
        probes.append(partial(guess_diagnostics, model, table, probed, rows, ctx.card, replan))
        index_plan = index_plan_of(designed)
        leading = [
            designed.primary_key,
            *designed.uniques,
            *(tuple(c.name for c in i.columns) for i in designed.indexes),
        ]
        fk_notes[table.name] = [
            note
            for note, fk in zip(fk_notes[table.name], unneeded_foreign_keys(ctx, table), strict=True)
            if not any(set(cols[: len(fk.columns)]) == set(fk.columns) for cols in leading)
        ]
        if index_plan is not None and fk_notes[table.name]:
            designed = replace(
                designed,
                extra={
                    **designed.extra,
                    INDEX_PLAN: replace(index_plan, unindexed_foreign_keys=tuple(fk_notes[table.name])),
                },
            )
        scans = innodb_scans(ctx, designed, needs[table.name])
        if scans:  # the MariaDB proofs of reads its copy of a partial index would not serve
            designed = replace(designed, extra={**designed.extra, INNODB_SCANS: scans})
        result.append(_unrouted_insides(ctx, designed))
    diagnostics.extend(_route_diagnostics(model, result))
    for designed in result:
        if designed.kind is TableKind.ENTITY and (planned := index_plan_of(designed)) is not None:
            diagnostics.extend(scan_warnings(model, designed, {r.pattern: r for r in planned.routes}))
    return result, Probes(tuple(probes)), diagnostics


def _unrouted_insides(ctx: DesignContext, table: TableSpec) -> TableSpec:
    """`table` with each inside-value index that no route uses marked not created (membership.Inside).

    Each read filtering there was then walked in order through a B-tree (index_needs.walk_need),
    which the selection found cheaper: the index would only cost the writes of its column."""
    insides = insides_of(table.extra)
    planned = index_plan_of(table)
    if not insides or planned is None:
        return table
    model = ctx.plan.model
    routed = {r.index for r in planned.routes if r.via == "inside index"}
    walks: dict[str, list[str]] = {}  # inside-value index → "`pattern` walks `index`"
    for route in planned.routes:
        pattern = pattern_named(model, route.pattern) if route.via == "index" else None
        walked = inside_route(model, pattern, table) if pattern is not None else None
        if walked is not None:  # only an ordered walk routes a read filtering inside to a B-tree
            walks.setdefault(walked[0], []).append(f"`{route.pattern}` walks `{route.index}` in order")
    marked: list[Inside] = []
    for inside in insides:
        name = inside_index_name(table.name, inside)
        if name in routed:
            marked.append(inside)
            continue
        writes, pages, cost = inside_upkeep(ctx.loads[table.name], inside.column, inside.kind)
        served = "; ".join(walks.get(name, [])) or "no read filters there"
        structure = "GIN" if inside.kind == "contains" else "expression B-tree"
        note = (
            f"{served}; without it, the {writes:,.2f} writes/s that change `{inside.column}` maintain no "
            f"{structure} (≈ {cost:,.1f} page reads/s saved: {pages:g} pages a write × {WRITE_WEIGHT:g})"
        )
        marked.append(replace(inside, indexed=False, note=note))
    return replace(table, extra={**table.extra, MEMBERSHIP: [i.as_data() for i in marked]})


def _served(table: TableSpec) -> dict[str, str]:
    """Pattern (or foreign-key lookup) → how the designed `table` serves it."""
    planned = index_plan_of(table)
    return {r.pattern: r.via for r in planned.routes} if planned is not None else {}


def _replan(
    ctx: DesignContext,
    table: TableSpec,
    needs: list[Need],
    frame: Frame,
    nominal: dict[str, str],
) -> Replan:
    """Design `table` again with some distinct counts replaced: pattern → how it is served.

    `nominal`: the answer without overrides (the table's own design). Patterns are looked up
    through the model's memoised name map: a map built per table was quadratic in the model."""
    model = ctx.plan.model

    def run(overrides: Mapping[tuple[str, str], float]) -> dict[str, str]:
        if not overrides:
            return dict(nominal)
        trial = DesignContext(
            ctx.plan,
            ctx.tables,
            ctx.loads,
            index_sizes=ctx.index_sizes,
            index_levels=ctx.index_levels,
            drafts=ctx.drafts,
        )
        trial.card = ctx.card.with_overrides(overrides)
        redone = [
            n
            if (pattern := pattern_named(model, n.name)) is None
            else walk_need(trial, pattern, table, n.inside)
            if n.inside is not None
            else pattern_need(trial, pattern, table)
            for n in needs
        ]
        return served_by(trial, table, [n for n in redone if isinstance(n, Need)], frame)

    return run


def _route_diagnostics(model: RequirementsModel, tables: list[TableSpec]) -> list[Diagnostic]:
    positions = {p.name: i for i, p in enumerate(model.access_patterns)}
    found: list[Diagnostic] = []
    for table in tables:
        index_plan = index_plan_of(table)
        if index_plan is None:
            continue
        for route in index_plan.routes:
            if route.pattern not in positions:
                continue
            path = f"access_patterns.{positions[route.pattern]}"
            if route.via == "none":
                found.append(
                    Diagnostic(
                        "PP403",
                        f"{route.pattern}: no index serves it on {table.name}: {route.reason}",
                        path,
                        Severity.WARNING,
                    )
                )
            if (
                route.latency_ms is not None
                and route.estimated_ms > route.latency_ms
                and "search projection" not in route.reason
            ):
                found.append(
                    Diagnostic(
                        "PP501",
                        f"{route.pattern}: estimated {route.estimated_ms:g} ms on {table.name} exceeds its {route.latency_ms:g} ms target",
                        path,
                        Severity.WARNING,
                    )
                )
    return found


__all__ = [
    "GEO_VIA",
    "INDEX_PLAN",
    "MAX_NAME",
    "MIN_IMPROVEMENT",
    "IndexMetrics",
    "Need",
    "PatternRoute",
    "Probes",
    "TableIndexPlan",
    "column_of",
    "design_indexes",
    "design_indexes_probed",
    "index_name",
    "index_plan_of",
    "serves",
    "shorten",
    "slug",
    "usable",
    "write_budget",
]

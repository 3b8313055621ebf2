"""Which structure serves each access pattern, in which store: one table across every family.

Each family's design already decides this for its own patterns (a relational index route, a
MongoDB index, a Cassandra query table, a Redis key family, a search template); this module only
reads those decisions back, pattern by pattern in model order, and adds the pattern's rate, its
latency target, the estimate where the store gives one, and the codes of the warnings that name
it. A pattern whose store answers it with no structure at all (a collection scan, a full table
scan) and that no other warning already names gets PP467, so that no pattern is left unserved
in silence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.markdown import cell, code
from polyplan.model.derived import pattern_positions
from polyplan.model.schema import AccessPattern, Family
from polyplan.plan.ir import Plan
from polyplan.stores.designs import Designs
from polyplan.stores.relational.indexes import PatternRoute, index_plan_of
from polyplan.stores.search.design import SearchIndex
from polyplan.stores.search.queries import SearchQuery
from polyplan.stores.wide_column.spec import Query as CqlQuery

UNSERVED = "PP467"


@dataclass(frozen=True)
class Serving:
    """One store's part in answering one access pattern."""

    pattern: str
    entity: str
    store: str  # "relational (postgresql)"
    role: str  # "answers", or "on a cache miss" for the system of record behind a cache
    structure: str  # what the store reads: "index ix_order_customer (customer_id =, …)"
    served: bool  # False when the store reads without a structure made for the pattern
    estimated_ms: float | None = None


def _relational(designs: Designs) -> dict[str, list[PatternRoute]]:
    found: dict[str, list[PatternRoute]] = {}
    for table in designs.relational.tables if designs.relational is not None else ():
        index_plan = index_plan_of(table)
        for route in index_plan.routes if index_plan is not None else ():
            if not route.pattern.startswith("fk:"):
                found.setdefault(route.pattern, []).append(route)
    return found


def _route_text(route: PatternRoute) -> str:
    if route.via == "index":
        return f"index {route.index} on {route.table} ({route.shape})"
    if route.via == "none":
        return f"{route.table} read without an index ({route.reason})" if route.reason else f"{route.table} scan"
    return f"{route.via} of {route.table} ({route.shape})"


def _relational_rows(pattern: AccessPattern, store: str, role: str, routes: Sequence[PatternRoute]) -> list[Serving]:
    if not routes:
        return [Serving(pattern.name, pattern.entity, store, role, "no route recorded", False)]
    return [
        Serving(
            pattern.name,
            pattern.entity,
            store,
            role,
            _route_text(route),
            route.via != "none",
            route.estimated_ms if route.estimated_ms else None,
        )
        for route in routes
    ]


class _Lookup:
    """The families' per-pattern decisions, indexed once (a scan per pattern is quadratic)."""

    def __init__(self, designs: Designs) -> None:
        self.routes = _relational(designs)
        self.documents = {q.pattern: q for q in designs.document.queries} if designs.document else {}
        self.cached = {r.pattern: r for r in designs.cache.reads} if designs.cache else {}
        self.searched: dict[str, tuple[SearchIndex, SearchQuery]] = {}
        for index in designs.search.indexes if designs.search else ():
            for template in index.queries:
                self.searched.setdefault(template.pattern, (index, template))
        self.cql: dict[str, CqlQuery] = {}
        for entity in designs.wide_column.entities if designs.wide_column else ():
            for select in entity.queries:
                self.cql.setdefault(select.pattern, select)

    def rows(self, pattern: AccessPattern, family: Family, store: str, role: str) -> list[Serving]:
        name, entity = pattern.name, pattern.entity
        if family is Family.RELATIONAL:
            return _relational_rows(pattern, store, role, self.routes.get(name, ()))
        if family is Family.DOCUMENT and name in self.documents:
            query = self.documents[name]
            if query.index is None:
                return [Serving(name, entity, store, role, f"collection {query.collection} scan", False)]
            return [Serving(name, entity, store, role, f"index {query.index} of {query.collection}", True)]
        if family is Family.CACHE and name in self.cached:
            read = self.cached[name]
            command = " ".join(read.commands[0][:1]) if read.commands else "read"
            keys = ", ".join(f"{key}" for key in read.keys)
            return [Serving(name, entity, store, role, f"{command} on key family {keys}", True)]
        if family is Family.SEARCH and name in self.searched:
            index, template = self.searched[name]
            return [Serving(name, entity, store, role, f"template {template.template_id} on {index.alias}", True)]
        if family is Family.WIDE_COLUMN and name in self.cql:
            select = self.cql[name]
            statements = len(select.read_plan) if select.read_plan else 1
            how = f"table {select.table}" + (f", {statements} statements per read" if statements > 1 else "")
            return [Serving(name, entity, store, role, how, True)]
        return [Serving(name, entity, store, role, "no structure designed for it", False)]


def serving(plan: Plan, designs: Designs) -> list[Serving]:
    """Every store's part in every access pattern, in model order: the projection that answers
    a pattern first (and the system of record behind a cache, on a miss), else the system of
    record."""
    lookup = _Lookup(designs)
    found: list[Serving] = []
    for pattern in plan.model.access_patterns:
        decision = plan.entities.get(pattern.entity)
        if decision is None:
            continue
        record = f"{decision.family.value} ({decision.engine})"
        projection = next((p for p in decision.projections if pattern.name in p.patterns), None)
        if projection is None:
            found += lookup.rows(pattern, decision.family, record, "answers")
            continue
        found += lookup.rows(pattern, projection.family, f"{projection.family.value} ({projection.engine})", "answers")
        if projection.family is Family.CACHE:
            found += lookup.rows(pattern, decision.family, record, "on a cache miss")
    return found


def _named(diagnostics: Iterable[Diagnostic], plan: Plan) -> dict[str, list[str]]:
    """Pattern name → the codes of the warnings raised at that pattern's place in the model."""
    names = {f"access_patterns.{index}": name for name, index in pattern_positions(plan.model).items()}
    found: dict[str, list[str]] = {}
    for diagnostic in diagnostics:
        head = ".".join(diagnostic.path.split(".")[:2])
        name = names.get(head)
        if name is not None and diagnostic.code not in found.setdefault(name, []):
            found[name].append(diagnostic.code)
    return found


def unserved_warnings(plan: Plan, rows: Sequence[Serving], diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """PP467 for each pattern that the store answering it reads with no structure (and, where the
    store estimates the read, not within its latency target), when no other warning at the
    pattern already says so (the stores' own PP403, PP423 or PP501)."""
    named = _named(diagnostics, plan)
    positions = pattern_positions(plan.model)
    targets = {p.name: p.latency_ms for p in plan.model.access_patterns}
    warned: list[Diagnostic] = []
    for row in rows:
        if row.served or row.role != "answers" or named.get(row.pattern) or row.pattern not in positions:
            continue
        if row.estimated_ms is not None and row.estimated_ms <= targets[row.pattern]:
            continue  # a scan the store estimates within the target (a small table) needs no warning
        warned.append(
            Diagnostic(
                UNSERVED,
                f"{row.pattern}: {row.store} answers it with {row.structure}: every read examines the "
                "whole collection or table; add a filter an index can serve, or a projection",
                f"access_patterns.{positions[row.pattern]}",
                Severity.WARNING,
            )
        )
        named[row.pattern] = [UNSERVED]
    return warned


def serving_json(rows: Sequence[Serving], diagnostics: Iterable[Diagnostic], plan: Plan) -> list[dict[str, Any]]:
    """plan.json's `serving`: one entry per pattern and store, with the codes naming the pattern."""
    named = _named(diagnostics, plan)
    return [
        {
            "pattern": row.pattern,
            "entity": row.entity,
            "store": row.store,
            "role": row.role,
            "structure": row.structure,
            "served": row.served,
            "estimated_ms": row.estimated_ms,
            "warnings": named.get(row.pattern, []),
        }
        for row in rows
    ]


def render_serving_md(plan: Plan, rows: Sequence[Serving], diagnostics: Iterable[Diagnostic]) -> str:
    """docs/access-patterns.md: the serving table, one row per pattern and store."""
    named = _named(diagnostics, plan)
    patterns = {p.name: p for p in plan.model.access_patterns}
    lines = [
        f"# Access patterns: what serves each one ({plan.model.name})",
        "",
        "Every access pattern of the model, in model order, with the store that answers it and the "
        "structure that store reads (the system of record behind a cache is listed for misses). "
        "Estimates are the relational index design's (round trip plus pages touched at the horizon); "
        "the warnings column gives the codes of the diagnostics raised at the pattern (see "
        "docs/diagnostics.md of polyplan).",
        "",
        "| pattern | entity | reads/s | target ms | store | role | structure | est. ms | warnings |",
        "|---|---|---:|---:|---|---|---|---:|---|",
    ]
    for row in rows:
        pattern = patterns[row.pattern]
        target = f"{pattern.latency_ms:g}"
        estimate = f"{row.estimated_ms:g}" if row.estimated_ms is not None else ""
        codes = ", ".join(named.get(row.pattern, [])) or "—"
        lines.append(
            f"| {code(row.pattern, in_table=True)} | {cell(row.entity)} | {pattern.rate:g} | {target} | {row.store} | {row.role} "
            f"| {cell(row.structure)} | {estimate} | {codes} |"
        )
    if not rows:
        lines.append("| — | | | | | | the model has no access patterns | | |")
    return "\n".join(lines) + "\n"

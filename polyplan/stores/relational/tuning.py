"""`polyplan tune`, the pure half: which index sets to show the optimizer, and what its answers mean.

For each relational access pattern (and foreign-key lookup) that the index design routes to an
index or a key, `tune_cases` lists the index sets of its table to EXPLAIN it under: the planned
set (every designed secondary index), no designed secondary index (only the key and unique
constraints), and each designed index alone. `polyplan.validate.tune` builds the schema in a
scratch PostgreSQL database, loads the index proofs' seed rows, and EXPLAINs each pattern under
each set; `verdict` then compares the optimizer's costs with polyplan's choice:

- **agree**: the set the optimizer costs lowest (ties, within `TIE`, go to the set with fewer
  indexes) is the one polyplan's route implies — the designed index alone, or no secondary
  index for a pattern routed to the primary key or a unique constraint — and under the planned
  set the plan uses that index or key as the index proofs require;
- **PP425**: under the planned set the optimizer does not use the index or key polyplan routes
  the pattern to (the proof reader's problems say how);
- **PP426**: the optimizer costs the pattern no higher without the designed index: it would build
  none for it;
- **PP427**: the optimizer costs the pattern lower with another designed index of the table than
  with the one polyplan routes it to (or than with the key polyplan counts on), or — where the
  server has HypoPG — at most half as much with the pattern's own index (`own_index`, added
  hypothetically) as with the key or unique constraint polyplan judged enough;
- **PP428**: the pattern could not be EXPLAINed (no seeded row matches its constants, or the
  server refused the query).

Costs are the optimizer's own (`Total Cost` of the plan's root, in its page-read units), on the
seeded rows: `seed` is the number of rows per table, and the explanation puts it beside the
rows the model expects, since an index that pays off at the model's size may not at the seed's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyplan.model.derived import pattern_named
from polyplan.model.schema import Direction, RequirementsModel
from polyplan.stores.relational.explain import Expectation, postgresql_nodes, postgresql_problems
from polyplan.stores.relational.indexes import MIN_IMPROVEMENT, PatternRoute, column_of, index_plan_of
from polyplan.stores.relational.spec import TableSpec

ENGINE = "postgresql"
# Two costs within 1 % (or half a page read) are a tie: the optimizer would take either.
TIE = 0.01
TIE_ABSOLUTE = 0.5
NONE_LABEL = "no designed index"
PLANNED_LABEL = "planned"
RANGE_OPS = ("from", "above", "to", "through", "prefix")


@dataclass(frozen=True)
class IndexSet:
    """A set of the table's designed secondary indexes to keep while EXPLAINing (the rest dropped)."""

    label: str
    kept: tuple[str, ...]


@dataclass(frozen=True)
class TuneCase:
    """One pattern to EXPLAIN: its query and parameters (a proof's PostgreSQL check), polyplan's
    route, and the index sets of its table to compare."""

    pattern: str
    table: str
    sql: str
    check: Mapping[str, Any]
    route: PatternRoute
    designed: tuple[str, ...]  # every designed secondary index of the table on PostgreSQL
    sets: tuple[IndexSet, ...]
    expect: Mapping[str, Any]
    model_rows: float
    opclasses: tuple[str, ...] = ()  # non-default operator classes of the chosen index's key
    own: tuple[tuple[str, bool], ...] = ()  # the pattern's own index, (column, descending), for a key route

    @property
    def chosen(self) -> tuple[str, ...]:
        """The designed indexes polyplan's route implies the pattern needs (none for a key route)."""
        index = self.expect.get("index") if self.expect.get("via") == "index" else None
        return (index,) if index in self.designed else ()


@dataclass(frozen=True)
class Measured:
    """The optimizer's answer for one pattern under one index set."""

    label: str
    kept: tuple[str, ...]
    cost: float
    plan: str  # the plan's nodes, for people: "Limit > Index Scan using x on t"
    rows: float  # the optimizer's row estimate at the root
    document: Any = field(default=None, compare=False)  # the EXPLAIN (FORMAT JSON) document


@dataclass(frozen=True)
class Finding:
    """The verdict on one pattern."""

    pattern: str
    table: str
    agree: bool
    code: str | None
    polyplan: str  # what polyplan chose, for people
    optimizer: str  # the set the optimizer would take
    explanation: str
    measured: tuple[Measured, ...] = ()

    def as_data(self) -> dict[str, Any]:
        """The JSON form (`polyplan tune --json`)."""
        return {
            "pattern": self.pattern,
            "table": self.table,
            "agree": self.agree,
            "code": self.code,
            "polyplan": self.polyplan,
            "optimizer": self.optimizer,
            "explanation": self.explanation,
            "costs": [
                {"set": m.label, "indexes": list(m.kept), "cost": m.cost, "rows": m.rows, "plan": m.plan}
                for m in self.measured
            ],
        }


def index_sets(designed: Sequence[str]) -> tuple[IndexSet, ...]:
    """No designed index, each one alone, and all of them (the planned set), without repeats."""
    found = [IndexSet(NONE_LABEL, ())]
    found += [IndexSet(f"only {name}", (name,)) for name in designed]
    if len(designed) > 1:
        found.append(IndexSet(PLANNED_LABEL, tuple(designed)))
    return tuple(found)


def tune_cases(
    tables: Sequence[TableSpec],
    data: Mapping[str, Any],
    queries: Mapping[str, str],
    model: RequirementsModel | None = None,
) -> list[TuneCase]:
    """Every PostgreSQL index proof of `data` (the content of `tests/data/indexes.json`) as a case,
    in (table, pattern) order. `queries`: pattern name → its SQL in `queries.sql`; `model` gives
    the patterns' sort order for their own index (`own_index`), left without sort when None."""
    specs = {spec.name: spec for spec in tables}
    designed: dict[str, list[str]] = {}
    opclasses: dict[str, tuple[str, ...]] = {}
    for index in data["indexes"].get(ENGINE, []):
        designed.setdefault(index["table"], []).append(index["name"])
        opclasses[index["name"]] = tuple(c["opclass"] for c in index["columns"] if c.get("opclass"))
    routes = {
        (spec.name, route.pattern): (route, plan.rows)
        for spec in tables
        if (plan := index_plan_of(spec)) is not None
        for route in plan.routes
    }
    cases = []
    for proof in data["proofs"]:
        check = proof["engines"].get(ENGINE)
        found = routes.get((proof["table"], proof["name"]))
        if check is None or found is None:
            continue
        sql = check.get("sql") or queries.get(proof["name"])
        if sql is None:
            continue
        names = tuple(sorted(designed.get(proof["table"], [])))
        keyed = check["expect"].get("via") != "index"
        sort = _sort_columns(model, specs[proof["table"]], proof["name"]) if model is not None else ()
        cases.append(
            TuneCase(
                pattern=proof["name"],
                table=proof["table"],
                sql=sql,
                check=check,
                route=found[0],
                designed=names,
                sets=index_sets(names),
                expect=check["expect"],
                model_rows=found[1],
                opclasses=opclasses.get(check["expect"].get("index", ""), ()),
                own=own_index(check, sort) if keyed else (),
            )
        )
    return sorted(cases, key=lambda c: (c.table, c.pattern))


def _sort_columns(model: RequirementsModel, table: TableSpec, pattern_name: str) -> tuple[tuple[str, bool], ...]:
    pattern = pattern_named(model, pattern_name)
    if pattern is None:
        return ()
    found = []
    for sort in pattern.sort:
        column = column_of(table, pattern.entity, sort.attribute)
        if column is None:
            return ()  # sorted on something the table does not hold: no single index orders it
        found.append((column, sort.direction is Direction.DESC))
    return tuple(found)


def own_index(check: Mapping[str, Any], sort: Sequence[tuple[str, bool]]) -> tuple[tuple[str, bool], ...]:
    """The index this pattern would have alone: its equality columns (by name), its sort columns
    in their direction, then its first range column (equality–sort–range, as the design orders
    a need). Empty when the pattern fixes and sorts on nothing."""
    equal = sorted({p["column"] for p in check["params"] if p["op"] in ("eq", "in")})
    key = [(c, False) for c in equal]
    key += [(c, d) for c, d in sort if c not in equal]
    ranged = [p["column"] for p in check["params"] if p["op"] in RANGE_OPS and p["column"] not in equal]
    if ranged and all(c != ranged[0] for c, _ in key):
        key.append((ranged[0], False))
    return tuple(key)


def own_index_sql(table: str, key: Sequence[tuple[str, bool]]) -> str:
    """`CREATE INDEX ON "table" ("a", "b" DESC)`: HypoPG's argument for the pattern's own index."""

    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    columns = ", ".join(quoted(c) + (" DESC" if d else "") for c, d in key)
    return f"CREATE INDEX ON {quoted(table)} ({columns})"


def own_label(key: Sequence[tuple[str, bool]]) -> str:
    """How people see the pattern's own index: `hypothetical (a, b DESC)`."""
    return "hypothetical (" + ", ".join(c + (" DESC" if d else "") for c, d in key) + ")"


def plan_summary(document: Sequence[Mapping[str, Any]]) -> str:
    """The plan's nodes as one line: node type, the index or relation, outermost first."""
    parts = []
    for node in postgresql_nodes(document[0]["Plan"]):
        text = str(node["Node Type"])
        if node.get("Index Name"):
            text += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            text += f" on {node['Relation Name']}"
        parts.append(text)
    return " > ".join(parts)


def measured(label: str, kept: tuple[str, ...], document: Sequence[Mapping[str, Any]]) -> Measured:
    """A Measured from one EXPLAIN (FORMAT JSON) document."""
    root = document[0]["Plan"]
    return Measured(label, kept, float(root["Total Cost"]), plan_summary(document), float(root["Plan Rows"]), document)


def _cheaper(a: float, b: float) -> bool:
    """`a` is cheaper than `b` by more than a tie."""
    return a < b - max(TIE_ABSOLUTE, TIE * b)


def optimizer_choice(results: Sequence[Measured]) -> Measured:
    """The set the optimizer would take: the lowest cost; a tie goes to fewer indexes, then the label."""
    best = results[0]
    for candidate in sorted(results, key=lambda m: (len(m.kept), m.label)):
        if _cheaper(candidate.cost, best.cost):
            best = candidate
    # Among those tied with the cheapest, the fewest indexes (an index that saves nothing is upkeep).
    tied = [m for m in results if not _cheaper(best.cost, m.cost)]
    return min(tied, key=lambda m: (len(m.kept), m.label))


def _polyplan_label(case: TuneCase) -> str:
    route = case.route
    if case.chosen:
        return f"index {case.chosen[0]}"
    if route.via == "index":
        return f"index {route.index} (a constraint index on PostgreSQL)"
    return route.via


def _seed_note(case: TuneCase, seeded: Mapping[str, int]) -> str:
    rows = seeded.get(case.table)
    if rows is None:
        return ""
    return f" ({case.table}: {rows:,} seeded rows; the model expects {case.model_rows:,.0f})"


def _cost_list(results: Sequence[Measured]) -> str:
    return "; ".join(f"{m.label}: {m.cost:,.2f} ({m.plan})" for m in results)


def _expectation(case: TuneCase, accepted: frozenset[str]) -> Expectation:
    expect = case.expect
    names = accepted | {expect["index"]} if expect.get("via") == "index" else accepted
    return Expectation(
        table=case.table,
        names=names,
        condition=tuple(expect.get("condition", ())),
        covering=bool(expect.get("covering")),
        fulltext=bool(expect.get("fulltext")),
    )


def verdict(
    case: TuneCase,
    results: Sequence[Measured],
    accepted: frozenset[str] = frozenset(),
    seeded: Mapping[str, int] | None = None,
    own: Measured | None = None,
) -> Finding:
    """Compare the optimizer's costs of `case` under each index set with polyplan's route.

    `results` holds one Measured per `case.sets` entry. `accepted`: the index names that count
    as the route's — the key and unique indexes that may serve a pattern routed to a constraint,
    and the partitions' indexes of a partitioned table's index (PostgreSQL's plan names those);
    `seeded`: rows per table in the scratch database. `own`: the optimizer's answer with the
    pattern's own index added hypothetically (HypoPG), for a pattern routed to a key.
    """
    note = _seed_note(case, seeded or {})
    ours = _polyplan_label(case)
    by_kept = {m.kept: m for m in results}
    planned = by_kept[tuple(case.designed)]
    best = optimizer_choice(results)

    shown = (*results, own) if own is not None else tuple(results)

    def finding(agree: bool, code: str | None, explanation: str, choice: str = best.label) -> Finding:
        return Finding(case.pattern, case.table, agree, code, ours, choice, explanation, shown)

    problems = postgresql_problems(planned.document, _expectation(case, accepted))
    if problems:
        return finding(
            False,
            "PP425",
            f"with the planned indexes the optimizer does not use {ours} as designed: {'; '.join(problems)}. "
            f"Its plan: {planned.plan}, cost {planned.cost:,.2f}{note}. Costs per set: {_cost_list(results)}",
        )
    ours_set = by_kept[case.chosen]
    if case.chosen and best.kept == ():
        return finding(
            False,
            "PP426",
            f"without {case.chosen[0]} the optimizer's cost is {best.cost:,.2f} ({best.plan}) against "
            f"{ours_set.cost:,.2f} with it ({ours_set.plan}): it would build no index for this pattern, "
            f"as it reads ~{best.rows:,.0f} row(s) either way{note}{_why_unneeded(case, best)}",
        )
    if best.kept != case.chosen and _cheaper(best.cost, ours_set.cost):
        return finding(
            False,
            "PP427",
            f"the optimizer costs it lower with {best.label} ({best.cost:,.2f}, {best.plan}) than with "
            f"{ours} ({ours_set.cost:,.2f}, {ours_set.plan}){note}",
        )
    if own is not None and own.cost * MIN_IMPROVEMENT <= ours_set.cost:
        return finding(
            False,
            "PP427",
            f"the optimizer costs it {ours_set.cost / own.cost:,.1f}× lower with its own index, {own.label} "
            f"({own.cost:,.2f}, {own.plan}), than with {ours} alone ({ours_set.cost:,.2f}, {ours_set.plan}): "
            f"polyplan judged the {ours} enough{note}",
            own.label,
        )
    saving = ""
    if own is not None:
        saving = f"; its own index, {own.label}, would cost {own.cost:,.2f} (less than halving it)"
    if case.chosen:
        without = by_kept[()]
        factor = without.cost / ours_set.cost if ours_set.cost > 0 else float("inf")
        saving = f"; without it {without.cost:,.2f} ({without.plan}), {factor:,.1f}× more"
    return finding(
        True,
        None,
        f"the optimizer takes {ours} too: cost {ours_set.cost:,.2f} ({ours_set.plan}){saving}{note}",
    )


def _why_unneeded(case: TuneCase, best: Measured) -> str:
    """The known reason an index polyplan needs on PostgreSQL costs nothing less in the scratch database."""
    pattern_ops = [o for o in case.opclasses if o.endswith("_pattern_ops")]
    if pattern_ops and " using " in best.plan:
        return (
            f". The scratch database uses the C collation, where a plain B-tree (here the key or unique "
            f"index the plan names) answers LIKE 'prefix%' too; under any other collation only an index "
            f"with {pattern_ops[0]} does, which is why polyplan builds {case.chosen[0]}: not a cost disagreement"
        )
    return ""


def failed(case: TuneCase, error: str) -> Finding:
    """The finding for a pattern the server could not EXPLAIN (PP428)."""
    return Finding(
        case.pattern, case.table, False, "PP428", _polyplan_label(case), "unknown", f"not EXPLAINed: {error}"
    )


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    """Counts: patterns, agreeing, disagreeing, and per code."""
    counts = {"patterns": len(findings), "agree": sum(f.agree for f in findings)}
    counts["disagree"] = counts["patterns"] - counts["agree"]
    for item in findings:
        if item.code:
            counts[item.code] = counts.get(item.code, 0) + 1
    return counts


def disagreements(findings: Sequence[Finding]) -> Iterator[Finding]:
    """The findings where the optimizer and polyplan differ."""
    return (f for f in findings if not f.agree)

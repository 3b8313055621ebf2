"""Aggregating read patterns as the stores see them: the rows an aggregate reads, and its result.

One place reads `aggregate:` from the model. A store that aggregates (relational GROUP BY) designs
its index for the rows read (`rows_read`: the filters, the group columns in order, the value
column covered); a store that cannot is told so here (PP416), and the generated tests compute the
expected groups from the rows the pattern's filters select (`selection`).
"""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import AccessPattern, AggregateFunction, Direction, Family, FilterOp, Sort
from polyplan.plan.ir import Plan

EXTREMES = (AggregateFunction.MIN, AggregateFunction.MAX)


def value_name(pattern: AccessPattern) -> str:
    """The result column of the aggregate: `count`, `sum_amount`, `count_distinct_buyer_id`."""
    aggregate = pattern.aggregate
    assert aggregate is not None
    if aggregate.attribute is None:
        return aggregate.function.value
    return f"{aggregate.function.value}_{aggregate.attribute}"


def selection(pattern: AccessPattern) -> AccessPattern:
    """The plain read of the rows an aggregate works on (every column, no order, no limit)."""
    return pattern.model_copy(update={"aggregate": None, "sort": [], "limit": None, "reads": []})


def rows_read(pattern: AccessPattern) -> AccessPattern:
    """What an index must serve for an aggregate: its filters, the groups in order (a group can then
    be computed as the index is walked), and the group and value columns (covering, no row visits)."""
    aggregate = pattern.aggregate
    if aggregate is None:
        return pattern
    value = [aggregate.attribute] if aggregate.attribute is not None else []
    reads = list(dict.fromkeys([*aggregate.group_by, *value]))
    if aggregate.function in EXTREMES and aggregate.attribute is not None and not aggregate.group_by:
        # One min or max: the first entry of an index ordered by the attribute (no other row read).
        direction = Direction.ASC if aggregate.function is AggregateFunction.MIN else Direction.DESC
        order = [Sort(attribute=aggregate.attribute, direction=direction)]
        return pattern.model_copy(update={"aggregate": None, "sort": order, "reads": reads, "limit": 1})
    order = pattern.sort or [Sort(attribute=g) for g in aggregate.group_by]
    if pattern.limit is None and any(f.op not in (FilterOp.EQ, FilterOp.IN) for f in pattern.filters):
        # A range bounds the rows read better than an order of the groups does; with no limit the
        # few rows it leaves are grouped in memory (the engines' planners take that index too).
        order = []
    return pattern.model_copy(update={"aggregate": None, "sort": order, "reads": reads})


def counts_rows(pattern: AccessPattern) -> bool:
    """Whether the aggregate counts rows (count with no attribute)."""
    return pattern.aggregate is not None and pattern.aggregate.function is AggregateFunction.COUNT


def unaggregated_warnings(plan: Plan) -> list[Diagnostic]:
    """PP416 for each aggregate pattern served by a store other than a relational one (its system of
    record, or the search projection that answers it): the store returns the selected rows and the
    application aggregates them."""
    found: list[Diagnostic] = []
    for index, pattern in enumerate(plan.model.access_patterns):
        decided = plan.entities.get(pattern.entity)
        if pattern.aggregate is None or decided is None:
            continue
        # A search projection answers with hits, not the system of record's GROUP BY.
        serving = [p.family for p in decided.projections if pattern.name in p.patterns and p.family is Family.SEARCH]
        family = serving[0] if serving else decided.family
        if family is Family.RELATIONAL:
            continue
        found.append(
            Diagnostic(
                "PP416",
                f"{pattern.name}: the {family.value} store returns the rows its filters select and the "
                f"application computes {pattern.aggregate.function.value} per group; keep a maintained aggregate "
                "(an increment on a parent) if the rows are many",
                f"access_patterns.{index}.aggregate",
                Severity.WARNING,
            )
        )
    return found

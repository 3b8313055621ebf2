"""Aggregating access patterns as relational queries: `SELECT g, sum(x) AS sum_x FROM t WHERE …
GROUP BY g ORDER BY g`.

The WHERE is the one a plain read of the pattern gets (`render.filter_conditions`,
`render.where_clause`, same parameter names), so the generated tests bind it alike and compute the
expected groups from the rows the oracle selects. The index design serves `plan.aggregates.rows_read`:
the filters, then the group columns in order, with the value column covered.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import AccessPattern, AggregateFunction
from polyplan.plan.aggregates import value_name
from polyplan.stores.relational.render import Dialect, column_for, filter_conditions, where_clause
from polyplan.stores.relational.spec import Query, TableSpec
from polyplan.stores.relational.sqltext import sub_code


def aggregate_value(function: AggregateFunction, column: Any) -> Any:
    """The SQL expression of `function` over `column` (None: count rows)."""
    if function is AggregateFunction.COUNT:
        return sa.func.count() if column is None else sa.func.count(column)
    if function is AggregateFunction.COUNT_DISTINCT:
        return sa.func.count(sa.distinct(column))
    return getattr(sa.func, function.value)(column)


def aggregate_query(
    pattern: AccessPattern, spec: TableSpec, table: sa.Table, dialect: Dialect, notes: tuple[str, ...]
) -> Query | str:
    """The GROUP BY query of an aggregating pattern, or the reason it cannot be written on `spec`."""
    aggregate = pattern.aggregate
    assert aggregate is not None
    built = filter_conditions(pattern.filters, pattern.entity, spec, set())
    if isinstance(built, str):
        return built
    params, conditions = built
    groups = [column_for(spec, pattern.entity, g) for g in aggregate.group_by]
    value = column_for(spec, pattern.entity, aggregate.attribute) if aggregate.attribute else None
    if None in groups or (aggregate.attribute is not None and value is None):
        return "it aggregates an attribute stored in another table"
    grouped = [table.c[g] for g in groups if g is not None]
    name = value_name(pattern)
    measured = aggregate_value(aggregate.function, table.c[value] if value is not None else None).label(name)
    statement = sa.select(*grouped, measured).where(*where_clause(conditions, table, dialect)).group_by(*grouped)
    for item in pattern.sort:
        column = table.c[column_for(spec, pattern.entity, item.attribute) or item.attribute]
        statement = statement.order_by(column.desc() if item.direction.value == "desc" else column.asc())
    if pattern.limit is not None:
        statement = statement.limit(pattern.limit)
    compiled = statement.compile(dialect=dialect.sa_dialect())
    sql = str(compiled).strip()
    ours = {p.name for p in params}
    for bound, number in compiled.params.items():
        if bound not in ours:  # LIMIT: inline, as queries.sql writes it
            sql = sub_code(rf":{bound}\b", str(int(number)), sql)
    sql = sub_code(r"__\[POSTCOMPILE_(\w+)\]", r":\1", sql)
    sql = sql.removesuffix(" OFFSET 0")  # SQLite's compiler always adds one
    columns = (*(g for g in groups if g is not None), name)
    return Query(pattern.name, pattern.entity, spec.name, columns, tuple(params), sql, notes)

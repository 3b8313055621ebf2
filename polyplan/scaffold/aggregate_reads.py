"""Aggregating access patterns as typed functions of the scaffolded package (pure).

An aggregate's query is the one `relational/<engine>/queries.sql` has (`SELECT category,
sum(amount) AS sum_amount FROM sale WHERE … GROUP BY category`): its result is one row per group,
the group columns (named after the path for a group through a relationship, `customer_region`)
and the value (`plan.aggregates.value_name`). This module types that row: each group column keeps
its attribute's type, and the value gets the type the function gives, whatever the engine answers
(PostgreSQL and MariaDB answer `sum` of integers as a decimal, SQLite `avg` as a float), so the
generated function converts the value to it (`runtime.aggregate_value`).
"""

from __future__ import annotations

from polyplan.model.derived import all_attributes
from polyplan.model.schema import AccessPattern, AggregateFunction, Attribute, TypeName
from polyplan.plan.ir import Plan
from polyplan.scaffold.design import Column, ResultClass, class_name, identifiers
from polyplan.scaffold.names import _kind_of
from polyplan.stores.relational.spec import Query

_COUNTS = (AggregateFunction.COUNT, AggregateFunction.COUNT_DISTINCT)


def value_kind(function: AggregateFunction, attribute: Attribute | None) -> str:
    """The model type of an aggregate's value: a count is an integer; a sum keeps its attribute's
    number type; an average is a decimal over decimals and a float otherwise (an average of integers
    is seldom whole); a min or max keeps its attribute's type."""
    if function in _COUNTS or attribute is None:
        return "integer"
    if function is AggregateFunction.AVG:
        return "decimal" if attribute.type is TypeName.DECIMAL else "float"
    return _kind_of(attribute)


def aggregate_result(plan: Plan, pattern: AccessPattern, query: Query) -> tuple[ResultClass, tuple[str, str]]:
    """The row class of an aggregating pattern (`<Pattern>Row`: its groups, then its value) and the
    value column with the kind the function gives, which the generated function converts to."""
    aggregate = pattern.aggregate
    assert aggregate is not None
    attributes = all_attributes(plan.model, pattern.entity)  # with the implied keys and references
    # The plan's model keeps an aggregate's local groups only; the pattern as written has them all,
    # and a group through a relationship is typed by the attribute its path reaches.
    groups = next((r.groups for r in plan.loaded.paths if r.name == pattern.name), None)
    if groups is None:
        groups = tuple((name, None) for name in aggregate.group_by)
    grouped = [attributes[name] if path is None else path.kind for name, path in groups]
    value_attribute = attributes[aggregate.attribute] if aggregate.attribute is not None else None
    kind = value_kind(aggregate.function, value_attribute)
    # NULL where no value counts: a sum, average, min or max of no rows (one row with no groups),
    # or of a group whose values are all NULL. A count is 0 then.
    nullable = aggregate.function not in _COUNTS and (
        not groups or (value_attribute is not None and value_attribute.nullable)
    )
    names = list(query.columns)
    assert len(names) == len(grouped) + 1, (pattern.name, names)
    fields = identifiers(names)
    columns = [
        Column(name, _kind_of(attribute), attribute.nullable, field)
        for name, attribute, field in zip(names, grouped, fields, strict=False)
    ]
    columns.append(Column(names[-1], kind, nullable, fields[-1]))
    return ResultClass(class_name(pattern.name) + "Row", pattern.entity, tuple(columns)), (names[-1], kind)

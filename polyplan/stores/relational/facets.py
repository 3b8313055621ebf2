"""Facets of a read the relational store serves: one GROUP BY count per facet beside the query.

`SELECT brand, count(*) AS count FROM product WHERE <the pattern's filters> GROUP BY brand
ORDER BY count DESC, brand LIMIT <facet_size>`: the most frequent values first, ties by value,
the same WHERE (and parameter names) as the pattern's own query, so the application runs them
with the same binds. They are written to `relational/<engine>/facets.sql`, one block named
`<pattern>__facet_<attribute>`. A read a search projection serves gets its facets there, as terms
aggregations, and none here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import AccessPattern, Family, FilterOp
from polyplan.plan.geo import GEO_OPS, is_geo, serving
from polyplan.plan.ir import Plan
from polyplan.stores.relational.geo import geo_params, geo_predicates
from polyplan.stores.relational.spec import IndexKind, Query, TableKind, TableSpec

COUNT = "count"  # the count column of a facet query


def facet_name(pattern: str, attribute: str) -> str:
    """The block name of one facet query."""
    return f"{pattern}__facet_{attribute}"


def _facet_queries(pattern: AccessPattern, spec: TableSpec, table: sa.Table, dialect: Any) -> list[Query] | str:
    # render.py builds on this module's caller: imported here, not at the top.
    from polyplan.stores.relational.render import column_for, compiled_text, filter_conditions, where_clause

    taken: set[str] = set()
    built = filter_conditions([f for f in pattern.filters if f.op not in GEO_OPS], pattern.entity, spec, taken)
    if isinstance(built, str):
        return built
    params, conditions = built
    geo = geo_params(pattern, spec, taken) if is_geo(pattern) else []
    terms, _ = geo_predicates(table, spec, dialect.name, pattern, geo) if geo else ([], {})
    searched = [column_for(spec, pattern.entity, f.attribute) for f in pattern.filters if f.op is FilterOp.FULLTEXT]
    fulltext = [c for c in searched if c is not None]
    indexes = [i for i in spec.indexes if i.kind is IndexKind.FULLTEXT]
    where = [*where_clause(conditions, table, dialect, fulltext, indexes), *terms]
    queries: list[Query] = []
    for attribute in pattern.facets:
        name = column_for(spec, pattern.entity, attribute)
        if name is None:
            return f"facet {attribute} is not a column of {spec.name}"
        column = table.c[name]
        counted = sa.func.count().label(COUNT)
        statement = (
            sa.select(column, counted)
            .where(*where)
            .group_by(column)
            .order_by(sa.desc(sa.literal_column(COUNT)), column.asc())
            .limit(pattern.facet_size)
        )
        all_params = (*params, *geo)
        sql = compiled_text(statement, dialect, {p.name for p in all_params})
        note = f"facet {attribute} of {pattern.name}: the {pattern.facet_size} most frequent values and their counts"
        queries.append(
            Query(
                facet_name(pattern.name, attribute), pattern.entity, spec.name, (name, COUNT), all_params, sql, (note,)
            )
        )
    return queries


def build_facets(
    plan: Plan, tables: Sequence[TableSpec], metadata: sa.MetaData, dialect: Any
) -> tuple[list[Query], list[str]]:
    """The facet queries of every read with facets that the relational store serves, and notes
    on those that cannot be written."""
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    queries: list[Query] = []
    skipped: list[str] = []
    for pattern in plan.model.access_patterns:
        served = serving(plan, pattern)
        if not pattern.facets or served is None or served.family is not Family.RELATIONAL:
            continue
        spec = by_entity.get(pattern.entity)
        if spec is None:
            continue
        built = _facet_queries(pattern, spec, metadata.tables[spec.name], dialect)
        if isinstance(built, str):
            skipped.append(f"{pattern.name}: {built}")
        else:
            queries += built
    return queries, skipped

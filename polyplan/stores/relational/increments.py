"""Increment write patterns as relational statements: `UPDATE t SET x = x + :x_delta WHERE key = :key`.

The database adds under the row lock it takes for the UPDATE, so concurrent increments never
lose one another; a read-modify-write (`SELECT x`, then `SET x = :new`) would. `writes.sql`
uses the same block format as `queries.sql` (`-- name:` headers, `-- param` lines), so the
generated tests read it back with `polyplan.validate.oracle.parse_queries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import Family, RequirementsModel
from polyplan.plan.increments import increments_of
from polyplan.plan.ir import Plan
from polyplan.stores.relational.render import DIALECTS, Rendered, column_for, header
from polyplan.stores.relational.spec import Query, QueryParam, TableKind, TableSpec
from polyplan.stores.relational.sqltext import trim_lines

DELTA_SUFFIX = "_delta"


def _statement(table: sa.Table, spec: TableSpec, counters: list[str]) -> tuple[Any, list[QueryParam]]:
    params = [QueryParam(f"{c}{DELTA_SUFFIX}", c, "delta") for c in counters]
    values: dict[str, Any] = {}
    for counter, param in zip(counters, params, strict=True):
        current: Any = table.c[counter]
        if spec.column(counter).nullable:
            # NULL + 1 is NULL: a counter that was never set starts from 0.
            current = sa.func.coalesce(current, sa.literal_column("0"))
        values[counter] = current + sa.bindparam(param.name)
    keys = [QueryParam(k, k, "eq") for k in spec.primary_key]
    statement = sa.update(table).values(values).where(*(table.c[k.column] == sa.bindparam(k.name) for k in keys))
    return statement, [*keys, *params]


def build_increments(plan: Plan, tables: Sequence[TableSpec], rendered: Rendered) -> list[Query]:
    """One UPDATE per increment write pattern on a relationally stored entity, for one engine."""
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    dialect = DIALECTS[rendered.engine].sa_dialect()
    found: list[Query] = []
    for name, decided in plan.entities.items():
        spec = by_entity.get(name)
        if decided.family is not Family.RELATIONAL or spec is None:
            continue
        table = rendered.metadata.tables[spec.name]
        for increment in increments_of(plan.model, name):
            counters = [column_for(spec, name, a) for a in increment.attributes]
            columns = [c for c in counters if c is not None]
            statement, params = _statement(table, spec, columns)
            sql = str(statement.compile(dialect=dialect)).strip()
            step = increment.step_literal()
            notes = (
                f"step {step}: bind every :*{DELTA_SUFFIX} to it (negative decrements)",
                "atomic: the engine adds under the row lock of the UPDATE; never read the value and write it back",
            )
            found.append(Query(increment.write, name, spec.name, tuple(columns), tuple(params), sql, notes))
    return found


def render_writes(model: RequirementsModel, engine: str, writes: Sequence[Query]) -> str:
    """`writes.sql`: one block per increment write pattern (and per predicated or locked write,
    write_predicates), in the format of `queries.sql`."""
    if all(any(p.op == "delta" for p in w.params) for w in writes):
        title = "Increment statements"
        legend = "(eq) binds the row's key, (delta) the amount added"
    else:
        title = "Write statements"
        legend = "(delta) binds the amount added, (set) a value written, the others the predicate as in queries.sql"
    parts = [header(model, title, engine) + f"-- Parameters are named (:name); {legend}.\n"]
    for write in writes:
        lines = [f"-- name: {write.name}", f"-- entity: {write.entity}", f"-- table: {write.table}"]
        lines.append(f"-- columns: {', '.join(write.columns)}")
        lines += [f"-- param :{p.name}  {p.column} ({p.op})" for p in write.params]
        lines += [f"-- note: {note}" for note in write.notes]
        parts.append("\n".join(lines) + "\n" + trim_lines(write.sql) + ";\n")
    return "\n".join(parts)

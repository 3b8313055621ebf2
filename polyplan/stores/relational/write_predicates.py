"""Write predicates as relational statements: `UPDATE t SET … WHERE <predicate>`, `DELETE FROM t
WHERE <predicate>`, and the `SELECT … FOR UPDATE` of a locked update.

The predicate is written with the same conditions and parameter names as a read's WHERE
(`render.filter_conditions`, `render.where_clause`), so the generated tests bind it exactly as
they bind a query and judge the rows it writes by the same oracle. The blocks go to `writes.sql`
beside the increments, in the format of `queries.sql`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.derived import key_of
from polyplan.model.schema import Family, Filter, RequirementsModel, WriteKind, WritePattern
from polyplan.plan.ir import Plan
from polyplan.plan.predicates import locked_writes
from polyplan.stores.relational.indexes import index_plan_of
from polyplan.stores.relational.render import (
    DIALECTS,
    Rendered,
    column_for,
    filter_conditions,
    param_name,
    where_clause,
)
from polyplan.stores.relational.spec import Query, QueryParam, TableKind, TableSpec
from polyplan.stores.relational.sqltext import sub_code

LOCK_SUFFIX = ".lock"  # a lock block's name: the write's name and this (no pattern name has a dot)
SET_SUFFIX = "new"  # `:status_new`: the value an update writes


def lock_name(write: str) -> str:
    """The name of the `SELECT … FOR UPDATE` block of a locked update in writes.sql."""
    return f"{write}{LOCK_SUFFIX}"


def selecting_filters(model: RequirementsModel, write: WritePattern) -> list[Filter]:
    """The rows a write touches: its `where`, or its record by key (a locked update without one)."""
    if write.where:
        return list(write.where)
    return [Filter(attribute=a) for a in key_of(model.entities[write.entity]).attributes]


def _compiled(statement: Any, rendered: Rendered) -> str:
    sql = str(statement.compile(dialect=DIALECTS[rendered.engine].sa_dialect())).strip()
    return sub_code(r"__\[POSTCOMPILE_(\w+)\]", r":\1", sql)  # IN lists, as queries.sql writes them


def _route_note(spec: TableSpec, name: str) -> str:
    """How the index design serves the predicate (index-plan.md has the numbers)."""
    planned = index_plan_of(spec)
    route = next((r for r in planned.routes if r.pattern == name), None) if planned else None
    if route is None or route.via == "none":
        reason = f": {route.reason}" if route is not None and route.reason else ""
        return f"the predicate is found by scanning {spec.name}{reason}"
    where = f"index {route.index}" if route.via == "index" else route.via
    return f"the predicate is found through {where} (index-plan.md)"


def _statement(
    write: WritePattern, model: RequirementsModel, spec: TableSpec, rendered: Rendered
) -> tuple[Query, Query | None] | None:
    """The write statement of a predicated or locked write, and its lock block if it locks."""
    table = rendered.metadata.tables[spec.name]
    dialect = DIALECTS[rendered.engine]
    taken: set[str] = set()
    built = filter_conditions(selecting_filters(model, write), write.entity, spec, taken)
    if isinstance(built, str):
        return None
    params, conditions = built
    keys = [c for a in key_of(model.entities[write.entity]).attributes if (c := column_for(spec, write.entity, a))]
    notes = [f"rows: every row the predicate matches; {_route_note(spec, write.name)}"] if write.where else []
    if write.kind is WriteKind.DELETE:
        statement: Any = sa.delete(table).where(*where_clause(conditions, table, dialect))
        columns = keys
    else:
        sets = [c for a in write.attributes if (c := column_for(spec, write.entity, a)) is not None]
        setting = [QueryParam(param_name(c, taken, SET_SUFFIX), c, "set") for c in sets]
        values: dict[str, Any] = {p.column: sa.bindparam(p.name) for p in setting}
        statement = sa.update(table).values(values).where(*where_clause(conditions, table, dialect))
        params = [*params, *setting]
        columns = sets
    lock: Query | None = None
    if write.lock is not None:
        selected = sa.select(*(table.c[k] for k in keys)).where(*where_clause(conditions, table, dialect))
        lock_notes = ["run first, in the transaction of the write: it locks the rows the write then changes"]
        if rendered.engine == "sqlite":
            # SQLite has no row locks; a write transaction begun IMMEDIATE holds the database's
            # write lock from its first statement, which is what FOR UPDATE is for.
            lock_notes.append("SQLite has no FOR UPDATE: begin the transaction with BEGIN IMMEDIATE instead")
        else:
            selected = selected.with_for_update()
        lock = Query(
            lock_name(write.name),
            write.entity,
            spec.name,
            tuple(keys),
            tuple(p for p in params if p.op != "set"),
            _compiled(selected, rendered),
            tuple(lock_notes),
        )
        notes.append(f"locked first by {lock_name(write.name)}")
    sql = _compiled(statement, rendered)
    return Query(write.name, write.entity, spec.name, tuple(columns), tuple(params), sql, tuple(notes)), lock


def build_predicate_writes(plan: Plan, tables: Sequence[TableSpec], rendered: Rendered) -> list[Query]:
    """One statement per predicated update/delete and locked update on a relationally stored
    entity (its lock block first), for one engine, in model order."""
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    model = plan.model
    locked = {w.name for w in locked_writes(model)}
    found: list[Query] = []
    for write in model.write_patterns:
        if not (write.where and write.kind in (WriteKind.UPDATE, WriteKind.DELETE)) and write.name not in locked:
            continue
        decided = plan.entities.get(write.entity)
        spec = by_entity.get(write.entity)
        if decided is None or decided.family is not Family.RELATIONAL or spec is None:
            continue
        built = _statement(write, model, spec, rendered)
        if built is None:
            continue
        statement, lock = built
        found += [lock, statement] if lock is not None else [statement]
    return found


def is_lock(name: str) -> bool:
    """Whether a writes.sql block is the lock of a locked update."""
    return name.endswith(LOCK_SUFFIX)

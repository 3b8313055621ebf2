"""The scaffold's functions for the write patterns `relational/<engine>/writes.sql` holds (pure):
increments (`SET x = x + :x_delta`), updates and deletes by predicate (`where:`) and locked updates
(`lock: for_update`, the lock block first in the function's transaction).

Each function runs the writes.sql blocks themselves (the same `Query` objects: `build_increments`
and `build_predicate_writes`), not statements of its own. When the entity feeds a projection, the
function also reads the rows it changes (before, locked, and after, by key) for their outbox events,
in the same transaction: writes.sql has no RETURNING, and the events must name every row written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import Attribute, WriteKind, WritePattern
from polyplan.plan.ir import Plan
from polyplan.stores.relational.increments import build_increments
from polyplan.stores.relational.render import DIALECTS, EngineBuild, filter_conditions, where_clause
from polyplan.stores.relational.spec import Query, TableSpec
from polyplan.stores.relational.sqltext import trim_lines
from polyplan.stores.relational.write_predicates import build_predicate_writes, lock_name, selecting_filters

# The statements of one planned write, by name (the keys of sql.WRITES[engine][pattern]).
WRITE, LOCK, ROWS, ROW = "write", "lock", "rows", "row"


@dataclass(frozen=True)
class PlannedParam:
    """A parameter of a writes.sql block: its bind name, the function's argument, kind and op."""

    name: str
    field: str
    column: str
    kind: str
    op: str  # eq, from, to, in, …, `delta` (bound to the step) or `set` (the value written)


@dataclass(frozen=True)
class PlannedWrite:
    """One write pattern run as writes.sql has it."""

    name: str
    entity: str
    kind: str  # increment, update or delete
    result: str  # the entity's row class (the outbox events' rows)
    params: tuple[PlannedParam, ...]
    step: int | float  # an increment's default step (the model's)
    sql: dict[str, dict[str, str]]  # engine → statement name (WRITE, LOCK, ROWS, ROW) → text
    binds: dict[str, tuple[str, ...]]  # statement name → the parameters it binds
    key: tuple[tuple[str, str], ...]  # (column, kind) of the primary key: ROW binds `key_<column>`
    outbox: bool
    locked: bool  # the plan's lock block runs first (on SQLite: BEGIN IMMEDIATE, its note)


def _compiled(statement: Any, engine: str) -> str:
    return trim_lines(str(statement.compile(dialect=DIALECTS[engine].sa_dialect())).strip())


def _escaped(sql: str) -> str:
    from polyplan.scaffold.design import escaped

    return escaped(trim_lines(sql))


def _row_statements(
    model_write: WritePattern, plan: Plan, spec: TableSpec, build: EngineBuild, query: Query
) -> dict[str, str]:
    """ROWS (every column of the rows the write touches, locked) and ROW (one row by key) for the
    outbox events; the same conditions and parameter names as the writes.sql block."""
    engine = build.rendered.engine
    table = build.rendered.metadata.tables[spec.name]
    if model_write.kind is WriteKind.INCREMENT:
        keys = [p for p in query.params if p.op == "eq"]
        conditions: list[Any] = [table.c[p.column] == sa.bindparam(p.name) for p in keys]
    else:
        built = filter_conditions(selecting_filters(plan.model, model_write), model_write.entity, spec, set())
        assert not isinstance(built, str)  # writes.sql has the block, so its predicate was built
        conditions = where_clause(built[1], table, DIALECTS[engine])
    rows = sa.select(*table.c).where(*conditions).with_for_update()
    row = sa.select(*table.c).where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in spec.primary_key))
    return {ROWS: _escaped(_compiled(rows, engine)), ROW: _escaped(_compiled(row, engine))}


def design_planned_write(
    plan: Plan,
    write: WritePattern,
    spec: TableSpec,
    builds: Mapping[str, EngineBuild],
    result: str,
    outbox: bool,
    param_kind: Callable[[TableSpec, str, str, Mapping[str, Attribute]], str],
) -> PlannedWrite | None:
    """The function of an increment, predicated or locked write on a relational entity, or None
    when writes.sql has no block for it (a predicate the relational target cannot write)."""
    from polyplan.scaffold.design import identifiers

    sql: dict[str, dict[str, str]] = {}
    first: Query | None = None
    lock: Query | None = None
    for engine, build in builds.items():
        found = {
            q.name: q
            for q in (
                build_increments(plan, [spec], build.rendered)
                if write.kind is WriteKind.INCREMENT
                else build_predicate_writes(plan, [spec], build.rendered)
            )
        }
        query = found.get(write.name)
        if query is None:
            return None
        first = first or query
        lock = lock or found.get(lock_name(write.name))
        statements = {WRITE: _escaped(query.sql)}
        if lock_name(write.name) in found:
            statements[LOCK] = _escaped(found[lock_name(write.name)].sql)
        if outbox:
            statements |= _row_statements(write, plan, spec, build, query)
        sql[engine] = statements
    assert first is not None
    fields = identifiers([p.name for p in first.params])
    params = tuple(
        PlannedParam(p.name, field, p.column, param_kind(spec, p.column, p.op, {}), p.op)
        for p, field in zip(first.params, fields, strict=True)
    )
    predicate = tuple(p.name for p in first.params if p.op not in ("set", "delta"))
    binds = {WRITE: tuple(p.name for p in first.params), ROW: tuple(f"key_{k}" for k in spec.primary_key)}
    binds[ROWS] = predicate
    if lock is not None:
        binds[LOCK] = tuple(p.name for p in lock.params)
    kind = "increment" if write.kind is WriteKind.INCREMENT else write.kind.value
    step = 1 if write.step is None else (int(write.step) if write.step == int(write.step) else write.step)
    key = tuple((c, param_kind(spec, c, "eq", {})) for c in spec.primary_key)
    return PlannedWrite(write.name, write.entity, kind, result, params, step, sql, binds, key, outbox, lock is not None)


def _annotation_of(kinds: Sequence[str], annotation: Callable[[str], str]) -> str:
    names = list(dict.fromkeys(annotation(k) for k in kinds))
    if names == ["float"] or names == ["int", "float"] or names == ["float", "int"]:
        return "float"
    return " | ".join(names)


def _step_default(step: int | float, kinds: Sequence[str]) -> str:
    if all(k == "decimal" for k in kinds) or ("decimal" in kinds and isinstance(step, float)):
        return f"Decimal({str(step)!r})"
    if "float" in kinds and isinstance(step, int):
        return f"{float(step)!r}"
    return repr(step)


def render_planned_write(write: PlannedWrite, annotation: Callable[[str], str]) -> str:
    """The function of one planned write in writes.py (it calls write_runtime.run_planned)."""
    deltas = [p for p in write.params if p.op == "delta"]
    others = [p for p in write.params if p.op != "delta"]
    signature = [f"{p.field}: {annotation(p.kind)}" for p in others]
    values = [f"{p.name!r}: {p.field}" for p in others]
    if deltas:
        kinds = [p.kind for p in deltas]
        signature.append(f"step: {_annotation_of(kinds, annotation)} = {_step_default(write.step, kinds)}")
        values += [f"{p.name!r}: step" for p in deltas]
    kinds_literal = "{" + ", ".join(f"{p.name!r}: {p.kind!r}" for p in write.params) + "}"
    key_literal = "(" + "".join(f"({c!r}, {k!r}), " for c, k in write.key).removesuffix(", ")
    key_literal += ",)" if len(write.key) == 1 else ")"
    binds = "{" + ", ".join(f"{name!r}: {names!r}" for name, names in write.binds.items()) + "}"
    if write.kind == "increment":
        what = f"increment: adds `step` to {', '.join(p.name.removesuffix('_delta') for p in deltas)} of one {write.entity}"
        returns, answer = "bool", "changed.count == 1"
        tail = "; True when the key's row exists"
    else:
        what = f"{write.kind} every {write.entity} the predicate matches"
        returns, answer = "int", "changed.count"
        tail = "; returns the number of rows written"
    locked = " after the plan's lock (SELECT … FOR UPDATE; BEGIN IMMEDIATE on SQLite)" if write.locked else ""
    event = (
        "; each row written and its outbox event commit in one transaction, then the cached answers are invalidated"
        if write.outbox
        else ""
    )
    doc = f"{write.name}: {what}, as relational/<engine>/writes.sql has it{locked}{event}{tail}."
    outbox = (
        f"        for before, after in zip(changed.before, changed.after, strict=True):\n"
        "            connection.execute(\n"
        "                statement(OUTBOX[stores.engine]['insert'], {}, {}),\n"
        f"                {{'entity': {write.entity!r}, 'op': 'update' if after is not None else 'delete', "
        f"'before': {write.result}.from_mapping(before).to_json(), "
        f"'after': None if after is None else {write.result}.from_mapping(after).to_json()}},\n"
        "            )\n"
        if write.outbox
        else ""
    )
    invalidate = (
        "    for before, after in zip(changed.before, changed.after, strict=True):\n"
        f"        invalidate(stores, {write.result}.from_mapping(before), "
        f"None if after is None else {write.result}.from_mapping(after))\n"
        if write.outbox
        else ""
    )
    return (
        f"def {write.name}(stores: Stores, {', '.join(signature)}) -> {returns}:\n"
        f'    """{doc}"""\n'
        f"    params: dict[str, Any] = {{{', '.join(values)}}}\n"
        "    with transaction(stores.database, immediate=True) as connection:\n"
        f"        changed = run_planned(\n"
        f"            connection,\n"
        f"            WRITES[stores.engine][{write.name!r}],\n"
        f"            {binds},\n"
        f"            params,\n"
        f"            {kinds_literal},\n"
        f"            {write.result}.KINDS,\n"
        f"            {key_literal},\n"
        f"        )\n" + outbox + invalidate + f"    return {answer}\n"
    )


def runtime_code(package: str) -> str:
    """write_runtime.py of the package: this module's runtime, importing the package's runtime."""
    from polyplan.emit.embed import module_code

    return module_code("polyplan.scaffold", "relational_writes_runtime.py").replace(
        "from polyplan.scaffold.runtime import", f"from {package}.runtime import"
    )

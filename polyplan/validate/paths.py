"""The oracle of patterns that filter or sort through relationships (model/paths.py).

It follows each path on the seeded rows itself (child reference → parent key, hop by hop), never
through the SQL under test: each root row gets the value its path reaches (None when a reference
is NULL, which no comparison selects, as in SQL). Local parameters come from the ordinary case
chooser (cases.py) on the pattern's local predicate; each path parameter is then taken from the
values the path reaches on the rows the local case selects, so that the path filter keeps some
rows and drops others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyplan.model.paths import Path, PathRead
from polyplan.model.ranges import ONE_SIDED
from polyplan.model.schema import FilterOp
from polyplan.seed.relational import Row
from polyplan.stores.relational.render import column_for, param_name
from polyplan.stores.relational.spec import TableKind, TableSpec
from polyplan.validate.cases import Case, Evaluator, choose_cases, expected_query
from polyplan.validate.oracle import Condition, canon, holds

# Local cases tried per pattern: each runs the query once per engine.
MAX_CASES = 4


def _entity_table(tables: Sequence[TableSpec], entity: str) -> TableSpec:
    return next(t for t in tables if t.kind is TableKind.ENTITY and t.entity == entity)


def reached(
    path: Path, rows: Sequence[Row], tables: Sequence[TableSpec], canonical: Mapping[str, list[Row]]
) -> list[Any]:
    """The value `path` reaches from each of `rows` (canonical rows of its entity's table)."""
    current: list[Row | None] = list(rows)
    for hop in path.hops:
        source, target = _entity_table(tables, hop.source), _entity_table(tables, hop.target)
        left = [column_for(source, hop.source, a) or a for a, _ in hop.pairs]
        right = [column_for(target, hop.target, b) or b for _, b in hop.pairs]
        by_key = {tuple(r[c] for c in right): r for r in canonical[target.name]}
        current = [None if row is None else by_key.get(tuple(row[c] for c in left)) for row in current]
    column = column_for(_entity_table(tables, path.target), path.target, path.attribute) or path.attribute
    return [None if row is None else row[column] for row in current]


@dataclass(frozen=True)
class PathCase:
    """Parameter values as bound, and every condition (local and path) the oracle applies."""

    params: dict[str, Any]
    conditions: tuple[Condition, ...]


def _choose(values: list[Any], op: FilterOp) -> tuple[tuple[str, Any], ...] | None:
    """(parameter kind, value) for a path filter, from the values it reaches on the selected rows."""
    present = sorted({v for v in values if v is not None})
    if not present:
        return None
    if op is FilterOp.EQ:
        counts = Counter(v for v in values if v is not None)
        return (("eq", max(present, key=lambda v: counts[v])),)
    if op is FilterOp.IN:
        return (("in", tuple(present[: max(1, len(present) // 2)])),)
    middle = present[len(present) // 2]
    if op is FilterOp.RANGE:
        return (("from", present[len(present) // 4]), ("to", present[(3 * len(present)) // 4]))
    if op in ONE_SIDED:
        return ((ONE_SIDED[op][0], middle),)
    if op is FilterOp.PREFIX:
        return (("prefix", str(middle)[:2]),)
    return None


def path_cases(
    read: PathRead,
    tables: Sequence[TableSpec],
    raw: Mapping[str, list[Row]],
    canonical: Mapping[str, list[Row]],
    engine: str,
) -> tuple[list[Row], list[PathCase]]:
    """The root rows with each path's value added under its dotted name, and the cases to run."""
    spec = _entity_table(tables, read.pattern.entity)
    rows = [dict(r) for r in canonical[spec.name]]
    for followed in read.paths:
        for row, value in zip(rows, reached(followed, rows, tables, canonical), strict=True):
            row[followed.text] = value
    local = read.pattern.model_copy(
        update={"filters": [f for f, p in read.filters if p is None], "sort": [], "limit": None}
    )
    expected = expected_query(local, spec)
    evaluator = Evaluator(expected, rows, engine)
    taken = {p.name for p in expected.params}
    names: dict[int, list[str]] = {}
    for index, (flt, path) in enumerate(read.filters):
        if path is None or "value" in flt.model_fields_set:
            continue
        if flt.op is FilterOp.RANGE:
            names[index] = [param_name(flt.attribute, taken, "from"), param_name(flt.attribute, taken, "to")]
        else:
            kind = ONE_SIDED[flt.op][0] if flt.op in ONE_SIDED else "prefix" if flt.op is FilterOp.PREFIX else ""
            names[index] = [param_name(flt.attribute, taken, kind)]
    found: list[PathCase] = []
    local_cases = choose_cases(expected, raw[spec.name], canonical[spec.name], engine) if expected.params else []
    tried: list[Case | None] = [*local_cases[:MAX_CASES]] or [None]  # no parameter: one case
    for case in tried:
        params = dict(case.params) if case is not None else {}
        conditions = list(case.conditions) if case is not None else list(expected.constants)
        selected = evaluator.matching(conditions)
        usable = True
        for index, (flt, path) in enumerate(read.filters):
            if path is None:
                continue
            if "value" in flt.model_fields_set:
                values = flt.value if isinstance(flt.value, list) else [flt.value]
                constants = tuple(canon(path.kind, v) for v in values)
                op = "in" if flt.op is FilterOp.IN or isinstance(flt.value, list) else "eq"
                conditions.append(Condition(path.text, op, constants if op == "in" else constants[0]))
                continue
            chosen = _choose([r[path.text] for r in selected], flt.op)
            if chosen is None:
                usable = False
                break
            for name, (kind, value) in zip(names[index], chosen, strict=True):
                # A prefix is bound with its wildcard, as queries.sql's LIKE expects.
                params[name] = list(value) if kind == "in" else f"{value}%" if kind == "prefix" else value
                conditions.append(Condition(path.text, kind, value))
            selected = [r for r in selected if all(holds(c, r[c.column], engine) for c in conditions[-len(chosen) :])]
        if usable:
            found.append(PathCase(params, tuple(conditions)))
    return rows, found


def matching(rows: Sequence[Row], case: PathCase, engine: str) -> list[Row]:
    """The rows every condition of `case` selects (path values included)."""
    return [r for r in rows if all(holds(c, r[c.column], engine) for c in case.conditions)]

"""The oracle of patterns that filter or sort through relationships (model/paths.py).

It follows each path on the seeded rows itself (child reference → parent key, hop by hop), never
through the SQL under test: each root row gets the value its path reaches (None when a reference
is NULL, which no comparison selects, as in SQL). Local parameters come from the ordinary case
chooser (cases.py) on the pattern's local predicate; each path parameter is then taken from the
values the path reaches on the rows the local case selects, so that the path filter keeps some
rows and drops others.

A limited pattern needs a case with more matches than its limit too (or a query that lost or
changed its LIMIT returns the same rows): when no case above has one, the local case selecting
the most rows is tried once more with each path range bound placed so that more rows than the
limit pass it and at least one does not (the seeded data gives such a group: see
seed/discriminating.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyplan.model.paths import Path, PathRead, is_path
from polyplan.model.ranges import ONE_SIDED, is_range
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


def path_parameters(values: list[Any], op: FilterOp) -> tuple[tuple[str, Any], ...] | None:
    """(parameter kind, value) for a path filter, from the values it reaches on the selected rows."""
    present = sorted({v for v in values if v is not None})
    if not present:
        return None
    if op is FilterOp.EQ:
        counts = Counter(v for v in values if v is not None)
        # A value with others above and below it, where there are: an `=` turned into `>=` or
        # `<=` then selects more rows (the most frequent value is often the largest or smallest).
        inner = present[1:-1] or present
        return (("eq", max(inner, key=lambda v: counts[v])),)
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


def _beyond(values: list[Any], kinds: tuple[str, ...], keep: int, engine: str) -> tuple[tuple[str, Any], ...] | None:
    """A range bound (or pair) on the values the path reaches that more than `keep` of them pass
    and at least one fails (the one passing the fewest such rows), or None."""
    present = sorted({v for v in values if v is not None})
    options: list[tuple[Any, ...]] = [(v,) for v in present]
    if kinds == ("from", "to"):
        # Dropping the lowest or the highest value: the widest ranges that still leave one out.
        options = [(present[1], present[-1]), (present[0], present[-2])] if len(present) > 1 else []
    best: tuple[int, tuple[tuple[str, Any], ...]] | None = None
    for option in options:
        bounds = tuple(zip(kinds, option, strict=True))
        passing = sum(all(holds(Condition("v", k, b), v, engine) for k, b in bounds) for v in values)
        if keep < passing < len(values) and (best is None or passing < best[0]):
            best = (passing, bounds)
    return None if best is None else best[1]


def _path_case(
    read: PathRead,
    case: Case | None,
    evaluator: Evaluator,
    constants: Sequence[Condition],
    names: Mapping[int, list[str]],
    engine: str,
    keep: int | None = None,
) -> PathCase | None:
    """The path parameters for one local case (None: a path reaches no value on its rows); with
    `keep`, each path range bound lets more than `keep` rows through (see `_beyond`)."""
    params = dict(case.params) if case is not None else {}
    conditions = list(case.conditions) if case is not None else list(constants)
    selected = evaluator.matching(conditions)
    for index, (flt, path) in enumerate(read.filters):
        if path is None:
            continue
        if "value" in flt.model_fields_set:
            values = flt.value if isinstance(flt.value, list) else [flt.value]
            fixed = tuple(canon(path.kind, v) for v in values)
            op = "in" if flt.op is FilterOp.IN or isinstance(flt.value, list) else "eq"
            conditions.append(Condition(path.text, op, fixed if op == "in" else fixed[0]))
            continue
        reached_values = [r[path.text] for r in selected]
        chosen = path_parameters(reached_values, flt.op)
        if keep is not None and chosen is not None and is_range(flt.op):
            chosen = _beyond(reached_values, tuple(kind for kind, _ in chosen), keep, engine)
        if chosen is None:
            return None
        for name, (kind, value) in zip(names[index], chosen, strict=True):
            # A prefix is bound with its wildcard, as queries.sql's LIKE expects.
            params[name] = list(value) if kind == "in" else f"{value}%" if kind == "prefix" else value
            conditions.append(Condition(path.text, kind, value))
        selected = [r for r in selected if all(holds(c, r[c.column], engine) for c in conditions[-len(chosen) :])]
    return PathCase(params, tuple(conditions))


def path_cases(
    read: PathRead,
    tables: Sequence[TableSpec],
    raw: Mapping[str, list[Row]],
    canonical: Mapping[str, list[Row]],
    engine: str,
) -> tuple[list[Row], list[PathCase]]:
    """The root rows with each path's value added under its dotted name (a related field read
    under its label, `item_title`), and the cases to run."""
    spec = _entity_table(tables, read.pattern.entity)
    rows = [dict(r) for r in canonical[spec.name]]
    for followed in read.paths:
        for row, value in zip(rows, reached(followed, rows, tables, canonical), strict=True):
            row[followed.text] = value
    for followed in read.reads:  # a related field joined into the result, under its label
        for row, value in zip(rows, reached(followed, rows, tables, canonical), strict=True):
            row[followed.slug] = value
    local = read.pattern.model_copy(
        update={
            "filters": [f for f, p in read.filters if p is None],
            "sort": [],
            "limit": None,
            "reads": [name for name in read.pattern.reads if not is_path(name)],
        }
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
    local_cases = choose_cases(expected, raw[spec.name], canonical[spec.name], engine) if expected.params else []
    tried: list[Case | None] = [*local_cases[:MAX_CASES]] or [None]  # no parameter: one case
    made = [_path_case(read, case, evaluator, expected.constants, names, engine) for case in tried]
    found = [case for case in made if case is not None]
    limit = read.pattern.limit
    if limit is not None and not any(len(matching(rows, case, engine)) > limit for case in found):
        options: list[Case | None] = [*local_cases] or [None]
        widest = max(
            options,
            key=lambda c: len(evaluator.matching(c.conditions if c is not None else expected.constants)),
        )
        extra = _path_case(read, widest, evaluator, expected.constants, names, engine, keep=limit)
        if extra is not None and len(matching(rows, extra, engine)) > limit:
            found.append(extra)
    return rows, found


def matching(rows: Sequence[Row], case: PathCase, engine: str) -> list[Row]:
    """The rows every condition of `case` selects (path values included)."""
    return [r for r in rows if all(holds(c, r[c.column], engine) for c in case.conditions)]

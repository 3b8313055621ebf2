"""What an access pattern's query must return, from the model alone, and the parameter sets
(cases) on which a wrong query returns something else.

The generated SQL is what the relational tests check, so nothing here reads it: the table,
the selected columns, the parameters (with the names `queries.sql` documents), the constant
filters, the sort and the limit all come from the access pattern in the model and the table
layout planned for it. A case is a set of parameter values taken from the seeded rows; the
cases of a pattern are chosen so that each of its properties is *observable* — the answer
changes if the property is lost:

* its limit: more rows match than the limit (a missing or smaller LIMIT returns another count);
* each filter (constant, equality, IN, prefix, full-text, each range bound): dropping it, or
  making a bound inclusive/exclusive the wrong way, changes the expected answer;
* each sort key: flipping its direction changes the order of the expected answer;
* each nullable sort key: NULLs placed the other way change it.

A property no case makes observable is reported: a check that cannot fail on its data is not
a check (`DataCannotDiscriminate`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import references_into
from polyplan.model.ranges import COMPARISONS, ONE_SIDED
from polyplan.model.schema import AccessPattern, FilterOp, RelationshipKind, RequirementsModel, TypeName
from polyplan.plan.aggregates import selection
from polyplan.seed.generate import SEARCH_WORD
from polyplan.seed.relational import jsonable
from polyplan.stores.relational.membership import column_attribute, inside_filter_of, inside_key
from polyplan.stores.relational.render import column_for, param_name, query_columns
from polyplan.stores.relational.spec import QueryParam, TableKind, TableSpec, finite_domain
from polyplan.validate.membership import is_sub_field, item_choices, with_sub_fields
from polyplan.validate.oracle import NULLS_FIRST, Condition, canon, holds, sort_rows

MAX_ANCHORS = 8  # parameter groups tried per pattern: the largest ones and a spread of smaller ones
WORDS_PER_COUNT = 3  # search words tried per frequency (the group's own rare word among them)
SEARCH_TERMS = 30  # search words tried per parameter group, from the commonest to rare ones
WILDCARDS = ("%", "_", "\\")
Row = dict[str, Any]


class DataCannotDiscriminate(AssertionError):
    """The seeded rows cannot show that a property of a pattern's query holds."""


@dataclass(frozen=True)
class Expected:
    """One access pattern's query as the model defines it on its planned table."""

    pattern: AccessPattern
    table: TableSpec
    columns: tuple[str, ...]
    params: tuple[QueryParam, ...]
    constants: tuple[Condition, ...]
    sort: tuple[tuple[str, bool], ...]  # (column, descending), when every sort column is selected
    searched: tuple[str, ...]  # the columns a full-text filter searches
    # The most rows an answer holds on any valid data, where a fixed reference or a unique rule
    # caps it (None: no cap), and why: a LIMIT at or above it is never reached (`properties`).
    at_most: int | None = None
    capped_by: str = ""

    @property
    def limit(self) -> int | None:
        return self.pattern.limit


def capped_rows(model: RequirementsModel, pattern: AccessPattern) -> int | None:
    """The most rows `pattern`'s answer can hold on any valid data because its equalities fix a
    reference whose parent holds at most `max_children` records (one, one-to-one); None when no
    reference caps it. fuzz9's models 671 and 759: `r1_ref = :r LIMIT 500` under `max_children:
    10` can never reach its limit."""
    fixed = {
        f.attribute
        for f in pattern.filters
        if (f.op is FilterOp.EQ and (f.value is not None or "value" not in f.model_fields_set))
        or (f.op is FilterOp.IN and isinstance(f.value, list) and len(f.value) == 1)
    }
    bound: int | None = None
    for reference in references_into(model, pattern.entity):
        relationship = reference.relationship
        per_parent = 1 if relationship.kind is RelationshipKind.ONE_TO_ONE else relationship.max_children
        if per_parent is not None and set(reference.columns) <= fixed:
            bound = per_parent if bound is None else min(bound, per_parent)
    return bound


def expected_query(pattern: AccessPattern, spec: TableSpec, model: RequirementsModel | None = None) -> Expected:
    """The model's definition of `pattern`'s query on `spec` (the table its entity is stored in);
    with `model`, the cap its references put on an answer (`capped_rows`)."""
    columns = query_columns(pattern, spec)
    if columns is None:
        raise ValueError(f"{pattern.name}: it reads an attribute stored in another table")
    taken: set[str] = set()
    params: list[QueryParam] = []
    constants: list[Condition] = []
    searched: list[str] = []
    for flt in pattern.filters:
        found = inside_filter_of(spec, pattern.entity, flt)
        if isinstance(found, str):
            raise ValueError(f"{pattern.name}: {found}")
        label = "_".join([flt.attribute, *(flt.path or [])])
        if found is not None and found.kind == "contains":
            params.append(QueryParam(param_name(label, taken), found.column, "contains"))
            continue
        column = column_for(spec, pattern.entity, flt.attribute) if found is None else inside_key(found)
        if column is None:
            raise ValueError(f"{pattern.name}: {flt.attribute} is not a column of {spec.name}")
        attribute = column_attribute(spec, column)
        if "value" in flt.model_fields_set:
            if flt.value is None:
                constants.append(Condition(column, "is_null", None))
            elif flt.op is FilterOp.IN or isinstance(flt.value, list):
                values = flt.value if isinstance(flt.value, list) else [flt.value]
                constants.append(Condition(column, "in", tuple(canon(attribute, v) for v in values)))
            else:
                constants.append(Condition(column, "eq", canon(attribute, flt.value)))
        elif flt.op is FilterOp.RANGE:
            params.append(QueryParam(param_name(label, taken, "from"), column, "from"))
            params.append(QueryParam(param_name(label, taken, "to"), column, "to"))
        elif flt.op in ONE_SIDED:
            kind = ONE_SIDED[flt.op][0]
            params.append(QueryParam(param_name(label, taken, kind), column, kind))
        elif flt.op is FilterOp.PREFIX:
            params.append(QueryParam(param_name(label, taken, "prefix"), column, "prefix"))
        elif flt.op is FilterOp.FULLTEXT:
            params.append(QueryParam(param_name(label, taken, "terms"), column, "search"))
            searched.append(column)
        else:
            params.append(QueryParam(param_name(label, taken), column, flt.op.value))
    sort: list[tuple[str, bool]] = []
    for item in pattern.sort:
        column = column_for(spec, pattern.entity, item.attribute)
        if column is None:
            raise ValueError(f"{pattern.name}: it sorts on {item.attribute}, not a column of {spec.name}")
        sort.append((column, item.direction.value == "desc"))
    if not all(column in columns for column, _ in sort):
        sort = []  # the order is not observable from the selected columns; membership still is
    at_most = capped_rows(model, pattern) if model is not None else None
    capped_by = f"a fixed reference holds at most {at_most}" if at_most is not None else ""
    unique = unique_cap(spec, constants, params)
    if unique is not None and (at_most is None or unique[0] < at_most):
        at_most, capped_by = unique
    return Expected(
        pattern, spec, tuple(columns), tuple(params), tuple(constants), tuple(sort), tuple(searched), at_most, capped_by
    )


def _finite(spec: TableSpec, name: str) -> int | None:
    try:
        return finite_domain(spec.column(name))
    except StopIteration:
        return None  # a sub-field or an item: no column of its own


def unique_cap(spec: TableSpec, constants: Sequence[Condition], params: Sequence[QueryParam]) -> tuple[int, str] | None:
    """The most rows an answer can hold on any valid data because its equalities fix part of the
    primary key or of a unique rule whose other columns have a finite domain, and the rule; None
    when no key caps it. Unique (a2 boolean, a3) under `a3 = 9.7` holds two rows at most (fuzz9's
    open class beside model 92: `a3 IN (9.7) AND r0_ref = :r LIMIT 5` can never reach its
    limit). A key the equalities fix whole is `_at_most_one_row`'s. A key none of whose columns
    the equalities fix caps the whole table when every column has a finite domain (fuzz11a's
    796: a natural key on an enum of 5 values, so `r0_ref = :r LIMIT 20` never reaches 20)."""
    values: dict[str, int] = {p.column: 1 for p in params if p.op == "eq"}
    for condition in constants:
        if condition.op == "eq":
            values[condition.column] = 1
        elif condition.op == "in":
            values[condition.column] = min(values.get(condition.column, len(condition.value)), len(condition.value))
    best: tuple[int, str] | None = None
    for key in [spec.primary_key, *spec.uniques]:
        if not key:
            continue
        sizes = [values.get(c) or _finite(spec, c) for c in key]
        if any(size is None for size in sizes):
            continue
        rows = math.prod(size for size in sizes if size is not None)
        if best is None or rows < best[0]:
            held = "hold the fixed values" if any(c in values for c in key) else f"be in {spec.name}"
            best = (rows, f"unique ({', '.join(key)}) lets at most {rows} rows {held}")
    return best


# --- evaluating a case on the seeded rows -------------------------------------------------------


def words(text: str) -> set[str]:
    """The words of a text as full-text indexes cut them (at punctuation too: "green-12")."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass(frozen=True)
class Case:
    """Parameter values (as bound) and the conditions they make, constants included."""

    params: dict[str, Any]
    conditions: tuple[Condition, ...]
    labels: tuple[str, ...]  # what each condition is, for messages ("status = 'paid'")


@dataclass
class Evaluator:
    """Applies conditions, sort and limit to the seeded rows (canonical values), as `engine` would."""

    expected: Expected
    rows: list[Row]
    engine: str
    _cache: dict[tuple[Condition, ...], list[Row]] = field(default_factory=dict)

    def passes(self, condition: Condition, row: Row) -> bool:
        if condition.op == "search":
            return any(condition.value in words(str(row[c] or "")) for c in self.expected.searched)
        return holds(condition, row[condition.column], self.engine)

    def matching(self, conditions: Sequence[Condition]) -> list[Row]:
        key = tuple(conditions)
        if key not in self._cache:
            self._cache[key] = [r for r in self.rows if all(self.passes(c, r) for c in conditions)]
        return self._cache[key]

    def window(self, rows: list[Row], sort: Sequence[tuple[str, bool]] | None = None, engine: str = "") -> list[Row]:
        order = self.expected.sort if sort is None else sort
        ordered = sort_rows(rows, order, engine or self.engine) if order else rows
        limit = self.expected.limit
        return ordered[:limit] if limit is not None else ordered

    def keys(self, rows: list[Row]) -> list[tuple[Any, ...]]:
        return [tuple(r[c] for c, _ in self.expected.sort) for r in rows]

    def complete(self, rows: list[Row]) -> bool:
        """Whether the answer is every matching row (no limit cuts it)."""
        return self.expected.limit is None or len(rows) <= self.expected.limit

    def differs(self, real: list[Row], other: list[Row]) -> bool:
        """Whether every answer a query could give for `other` differs from every right answer
        for `real` (ties at a LIMIT boundary may come in any order, so only counts, sort-key
        sequences and complete answers count)."""
        mine, theirs = self.window(real), self.window(other)
        if len(mine) != len(theirs):
            return True
        if self.expected.sort and self.keys(mine) != self.keys(theirs):
            return True
        columns = self.expected.columns
        if self.complete(real) and self.complete(other):
            return Counter(tuple(r[c] for c in columns) for r in real) != Counter(
                tuple(r[c] for c in columns) for r in other
            )
        return False


# --- properties ------------------------------------------------------------------------------

Property = tuple[str, Callable[[Evaluator, Case], bool]]
# A bound on the wrong side of its value (>= for >, < for <=, and back).
LOOSER = {"from": "above", "to": "through", "above": "from", "through": "to"}


def _without(case: Case, index: int, replacement: Condition | None = None) -> list[Condition]:
    conditions = list(case.conditions)
    if replacement is None:
        del conditions[index]
    else:
        conditions[index] = replacement
    return conditions


def limit_out_of_reach(expected: Expected) -> str | None:
    """Why no valid data can hold more matching rows than the pattern's LIMIT, or None when some
    can: the oracle then asks no case to reach the limit, and says so (`Harness.notes`) instead
    of failing "LIMIT n is reached" on data that cannot exist."""
    limit = expected.limit
    if limit is None:
        return None
    if _at_most_one_row(expected):
        return f"LIMIT {limit} is never reached: equalities fix a whole unique key (one row at most)"
    if expected.at_most is not None and expected.at_most <= limit:
        return f"LIMIT {limit} is never reached on valid data: {expected.capped_by}"
    return None


def order_out_of_reach(expected: Expected) -> str | None:
    """Why no valid data can show the pattern's sort, or None when some can: a unique rule
    whose columns the equalities fix but for ones of a one-value domain (unique (a3, a2), a3 an
    enum of one value, under `a2 = :a2`) lets one row at most match, and one row has no order.
    A key the equalities fix whole (`_at_most_one_row`) is not said: no order is asked of it
    either, and the query is plainly a lookup."""
    if not expected.sort or _at_most_one_row(expected) or expected.at_most is None or expected.at_most > 1:
        return None
    keys = ", ".join(column for column, _ in expected.sort)
    return f"ORDER BY {keys} is never observable on valid data: {expected.capped_by}"


UNOBSERVABLE = "PP479"


def unobservable_warnings(
    model: RequirementsModel, tables: Sequence[TableSpec], skipped: Collection[str] = ()
) -> list[Diagnostic]:
    """PP479 for each pattern whose LIMIT or sort no valid data can show (`limit_out_of_reach`,
    `order_out_of_reach`): its generated data test prints the same reason with the code instead
    of asking the seed for it. `skipped`: patterns the data test does not check this way (reads
    through relationships, geo reads)."""
    entity_tables = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    found: list[Diagnostic] = []
    for pattern in model.access_patterns:
        spec = entity_tables.get(pattern.entity)
        if spec is None or pattern.name in skipped:
            continue
        try:
            expected = expected_query(selection(pattern) if pattern.aggregate is not None else pattern, spec, model)
        except ValueError:
            continue  # no query of its own on this table: nothing is asked of the seed
        for reason in (limit_out_of_reach(expected), order_out_of_reach(expected)):
            if reason:
                found.append(
                    Diagnostic(
                        UNOBSERVABLE,
                        f"{pattern.name}: {reason}; the generated data test says so instead of asking the seed for it",
                        f"access_patterns.{pattern.name}",
                        Severity.WARNING,
                    )
                )
    return found


def properties(expected: Expected, sample: Case) -> list[Property]:
    """Every property of the pattern's query a case can make observable, by name (`sample` is
    any case: the conditions are the same in each, only their values differ)."""
    found: list[Property] = []
    limit = expected.limit
    single = _at_most_one_row(expected) or order_out_of_reach(expected) is not None
    # A LIMIT no valid answer reaches (a fixed reference or a unique rule caps it: `capped_by`)
    # is the same query without it; `limit_out_of_reach` says so.
    if limit is not None and limit_out_of_reach(expected) is None:
        found.append((f"LIMIT {limit} is reached", lambda ev, case: len(ev.matching(case.conditions)) > limit))
    for index, (label, condition) in enumerate(zip(sample.labels, sample.conditions, strict=True)):
        if _always_true(expected, condition, constant=index < len(expected.constants)):
            continue  # no valid row fails it: dropping it is the same query on any valid data

        def dropped(ev: Evaluator, case: Case, index: int = index) -> bool:
            return ev.differs(ev.matching(case.conditions), ev.matching(_without(case, index)))

        found.append((f"the filter {label} matters", dropped))
        if condition.op in LOOSER:

            def bound(ev: Evaluator, case: Case, index: int = index) -> bool:
                condition = case.conditions[index]
                looser = Condition(condition.column, LOOSER[condition.op], condition.value)
                return ev.differs(ev.matching(case.conditions), ev.matching(_without(case, index, looser)))

            found.append((f"the bound {label} is exact", bound))
    fixed = _fixed_columns(expected)
    for position, (column, descending) in enumerate(expected.sort):
        if column in fixed or single:
            # Every matching row holds the one value an equality gives this column: its
            # direction (and NULL placement: NULL fails an equality) cannot change any answer,
            # on any data, so a flipped key here is the same query. Nor can any order show
            # where equalities fix a whole unique rule: an answer holds one row at most.
            continue

        def flipped(ev: Evaluator, case: Case, position: int = position) -> bool:
            sort = list(expected.sort)
            sort[position] = (sort[position][0], not sort[position][1])
            rows = ev.matching(case.conditions)
            return ev.keys(ev.window(rows)) != ev.keys(ev.window(rows, sort))

        found.append((f"the direction of ORDER BY {column} {'DESC' if descending else 'ASC'} matters", flipped))
        # Every condition but IS NULL rejects NULL, so a filtered column has no NULL to place.
        if expected.table.column(column).nullable and column not in {c.column for c in sample.conditions}:

            def nulls(ev: Evaluator, case: Case) -> bool:
                other = "postgresql" if ev.engine in NULLS_FIRST else "sqlite"
                rows = ev.matching(case.conditions)
                return ev.keys(ev.window(rows)) != ev.keys(ev.window(rows, engine=other))

            found.append((f"where NULLs of {column} sort matters", nulls))
    return found


def unordered_fallbacks(expected: Expected, sample: Case) -> dict[str, Callable[[Evaluator, Case], bool]]:
    """For a LIMIT without a sort, a weaker test of each filter (and bound) property, used only
    when no case shows the property itself: dropping the filter (loosening the bound) lets in
    rows that fail it. Without a sort the engine may return any `limit` matching rows, so when
    every answer is cut by the limit (a constant `a = 'x' LIMIT 500` over a group of 505, a
    common value `status = :s LIMIT 20`) no answer differs for certain; but the check of an
    unordered answer (oracle.compare_result) compares each returned row with the filters, so a
    query without the filter fails it as soon as it returns one of those rows."""
    if expected.limit is None or expected.sort:
        return {}
    found: dict[str, Callable[[Evaluator, Case], bool]] = {}
    for index, (label, condition) in enumerate(zip(sample.labels, sample.conditions, strict=True)):

        def dropped(ev: Evaluator, case: Case, index: int = index) -> bool:
            return len(ev.matching(_without(case, index))) > len(ev.matching(case.conditions))

        found[f"the filter {label} matters"] = dropped
        if condition.op in LOOSER:

            def bound(ev: Evaluator, case: Case, index: int = index) -> bool:
                condition = case.conditions[index]
                looser = Condition(condition.column, LOOSER[condition.op], condition.value)
                return len(ev.matching(_without(case, index, looser))) > len(ev.matching(case.conditions))

            found[f"the bound {label} is exact"] = bound
    return found


def _always_true(expected: Expected, condition: Condition, constant: bool) -> bool:
    """Whether every valid row passes `condition`: an equality or IN on a NOT NULL enum column
    whose every allowed value it accepts (a constant listing them all; any value of the
    domain, for a parameter, when the enum allows one value)."""
    if is_sub_field(condition.column) or condition.op == "contains":
        return False  # a sub-field or an item: any value may be missing from a record
    column = expected.table.column(condition.column)
    attribute = column.attribute
    if column.nullable or attribute.type is not TypeName.ENUM or not attribute.values:
        return False
    if condition.op not in ("eq", "in"):
        return False
    domain = {canon(attribute, v) for v in attribute.values}
    if not constant:
        return len(domain) == 1
    accepted = set(condition.value) if condition.op == "in" else {condition.value}
    return domain <= accepted


def _fixed_columns(expected: Expected) -> set[str]:
    """Columns the model's equalities hold to one value in every answer (`= :p`, `= 'x'`, a
    one-value IN constant, IS NULL)."""
    constants = {
        c.column for c in expected.constants if c.op in ("eq", "is_null") or (c.op == "in" and len(c.value) == 1)
    }
    return constants | {p.column for p in expected.params if p.op == "eq"}


def _at_most_one_row(expected: Expected) -> bool:
    """Whether equalities fix every column of the primary key or of a unique rule: the answer
    then holds one row at most on any valid data, and no LIMIT can cut it (`r1_ref = :r LIMIT 1`
    on a one-to-one reference). IS NULL does not count: NULLs never collide in a unique index."""
    equal = {c.column for c in expected.constants if c.op == "eq" or (c.op == "in" and len(c.value) == 1)}
    equal |= {p.column for p in expected.params if p.op == "eq"}
    keys = [expected.table.primary_key, *expected.table.uniques]
    return any(key and set(key) <= equal for key in keys)


# --- choosing cases ----------------------------------------------------------------------------


def _describe(param: QueryParam | None, condition: Condition) -> str:
    symbols = {
        "eq": "=",
        "in": "IN",
        "contains": "HOLDS",
        **COMPARISONS,
        "prefix": "LIKE",
        "search": "CONTAINS",
        "is_null": "IS",
    }
    where = f":{param.name}" if param is not None else repr(condition.value)
    return f"{condition.column} {symbols[condition.op]} {where}"


def build_case(expected: Expected, params: Mapping[str, Any], engine: str) -> Case:
    """The conditions a set of bound parameters makes (constants first, as the model lists them)."""
    conditions = list(expected.constants)
    labels = [_describe(None, c) for c in expected.constants]
    for param in expected.params:
        value = params[param.name]
        attribute = column_attribute(expected.table, param.column)
        if param.op == "contains":
            condition = Condition(param.column, "contains", jsonable(value))
        elif param.op == "in":
            condition = Condition(param.column, "in", tuple(canon(attribute, v) for v in value))
        elif param.op == "prefix":
            condition = Condition(param.column, "prefix", str(value).removesuffix("%"))
        elif param.op == "search":
            condition = Condition(param.column, "search", str(value))
        else:
            condition = Condition(param.column, param.op, canon(attribute, value))
        conditions.append(condition)
        labels.append(_describe(param, condition))
    return Case(dict(params), tuple(conditions), tuple(labels))


def _prefixes(values: Sequence[str]) -> list[str]:
    """Prefixes to try: none (every row), and the commonest first one and two letters."""
    found = [""]
    for size in (1, 2):
        starts = Counter(v[:size] for v in values if len(v) >= size and not any(w in v[:size] for w in WILDCARDS))
        if starts:
            found.append(min(starts, key=lambda s: (-starts[s], s)))
    return found


def _search_terms(texts: Sequence[str], all_texts: Sequence[str]) -> list[str]:
    """Words of `texts`, commonest first, whose substring and whole-word matches agree on every
    row: a full-text index (words) and the LIKE fallback (substrings) then return the same rows."""
    tokens = [words(t) for t in all_texts]
    lowered = [t.lower() for t in all_texts]
    counts = Counter(w for t in texts for w in words(t) if len(w) >= SEARCH_WORD)
    ordered = sorted(counts, key=lambda w: (-counts[w], w))
    agreed = [
        w for w in ordered if all((w in text) == (w in found) for text, found in zip(lowered, tokens, strict=True))
    ]
    # The commonest (a large answer, past any limit) and one word per frequency below it
    # (small answers, down to the rarest).
    by_count: dict[int, list[str]] = {}
    for word in agreed[1:]:
        by_count.setdefault(counts[word], []).append(word)
    rarer = [w for c in sorted(by_count) for w in by_count[c][:WORDS_PER_COUNT]]
    return [*agreed[:1], *rarer][:SEARCH_TERMS]


def _past(value: Any) -> Any:
    """A bound just past a seeded value (None for a type without an obvious next value)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return value + 1
    if isinstance(value, datetime | date):
        return value + timedelta(days=1)
    return None


def candidates(expected: Expected, raw: Sequence[Row], rows: Sequence[Row], engine: str) -> list[dict[str, Any]]:
    """Parameter sets drawn from the seeded rows (`raw` as bound, `rows` canonical, same order)."""
    grouped = [p for p in expected.params if p.op in ("eq", "in")]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, row in enumerate(rows):
        key = tuple(row[p.column] for p in grouped)
        if all(v is not None for v in key):
            groups.setdefault(key, []).append(index)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), repr(item[0])))
    step = max(1, (len(ranked) - 3) // max(1, MAX_ANCHORS - 3))
    anchors = [members for _, members in ranked[:3] + ranked[3::step]][:MAX_ANCHORS] or [list(range(len(rows)))]
    # And the largest groups whose rows pass the constants: where each value holds a row or two
    # (a unique column), the groups above may all fail a constant on a grouped column
    # (`a IN ('x') AND a = :a`), and no case would match a row.
    constant_groups = [
        members
        for _, members in ranked
        if all(holds(c, rows[members[0]][c.column], engine) for c in expected.constants)
    ]
    anchors += [members for members in constant_groups[:3] if members not in anchors]
    anchors += [members for members in _near_anchors(groups) if members not in anchors]
    found: list[dict[str, Any]] = []
    for members in anchors:
        first = raw[members[0]]
        base: dict[str, Any] = {}
        for param in grouped:
            if param.op == "eq":
                base[param.name] = first[param.column]
            else:
                own = rows[members[0]][param.column]
                others = Counter(r[param.column] for r in rows if r[param.column] not in (None, own))
                other = min(others, key=lambda v: (-others[v], repr(v)), default=None)
                extra = [next(raw[i][param.column] for i, r in enumerate(rows) if r[param.column] == other)]
                base[param.name] = [first[param.column], *(extra if other is not None else [])]
        options: list[dict[str, Any]] = [base]
        for param in expected.params:
            if param.op == "prefix":
                texts = [str(raw[i][param.column]) for i in members if raw[i][param.column] is not None]
                options = [{**o, param.name: p + "%"} for o in options for p in _prefixes(texts)]
            elif param.op == "contains":
                options = [{**o, param.name: item} for o in options for item in item_choices(rows, param.column)]
            elif param.op == "search":
                texts = [" ".join(str(raw[i][c] or "") for c in expected.searched) for i in members]
                every = [" ".join(str(r[c] or "") for c in expected.searched) for r in raw]
                options = [{**o, param.name: t} for o in options for t in _search_terms(texts, every)]
        ranges = [p for p in expected.params if p.op == "from" and _upper(expected, p) is not None]
        options = _one_sided(expected, options, members, rows, raw, engine)
        # Bounds taken from rows that pass the constants: a row on the bound then shows whether
        # the bound is inclusive (>=) or exclusive (<) as the model says.
        passing = [i for i in members if all(holds(c, rows[i][c.column], engine) for c in expected.constants)]
        for low in ranges:
            high = _upper(expected, low)
            assert high is not None
            present = sorted(
                {rows[i][low.column]: raw[i][low.column] for i in passing if rows[i][low.column] is not None}.items(),
                key=lambda item: item[0],
            )
            spread = sorted(
                {r[low.column]: raw[i][low.column] for i, r in enumerate(rows) if r[low.column] is not None}.items(),
                key=lambda item: item[0],
            )
            if not spread:
                continue
            spans = [(spread[0][1], spread[-1][1])]
            if len(present) >= 3:
                # Narrow windows too: under a limit, only a window with fewer rows than the limit
                # shows where its far end is (the near end decides which rows come first).
                width = max(2, (expected.limit or 4) // 2)
                middle = len(present) // 2
                spans += [
                    # Empty ([v, v)): under a limit of 1, the only window with fewer rows than
                    # the limit, and `<=` for `<` there returns v's row.
                    (present[middle][1], present[middle][1]),
                    (present[1][1], present[-1][1]),
                    (present[len(present) // 4][1], present[(3 * len(present)) // 4][1]),
                    (present[max(0, middle - width)][1], present[middle][1]),
                    (present[middle][1], present[min(len(present) - 1, middle + width)][1]),
                    # One value ([v, next)): under a descending sort and LIMIT 1 the answer is the
                    # window's largest value, so only a window holding v alone shows `>=` (fuzz9's
                    # model 251: `a4 range ORDER BY a4 DESC LIMIT 1`).
                    (present[middle][1], present[middle + 1][1]),
                ]
            elif len(present) == 2:
                # Two values only (an integer in [1, 2]): no window between seeded values holds
                # both, so under a sort and LIMIT 1 neither the lower bound nor the direction
                # showed (fuzz8's model 45). Windows up to a bound past the largest value, and the
                # empty ones, show each.
                past = _past(present[-1][1])
                spans += [(present[0][1], present[0][1]), (present[1][1], present[1][1])]
                if past is not None:
                    spans += [(present[0][1], past), (present[1][1], past)]
            options = [{**o, low.name: a, high.name: b} for o in options for a, b in spans]
        found.extend(options)
    return found


def _near_anchors(groups: dict[tuple[Any, ...], list[int]]) -> list[list[int]]:
    """Per equality parameter, groups with a neighbour that differs in that parameter alone (the
    same warehouse and name in another district): the case that shows the filter matters when
    the other values are shared by few rows (composite keys numbered per parent)."""
    found: list[list[int]] = []
    width = len(next(iter(groups), ()))
    for position in range(width if width > 1 else 0):
        buckets: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for key in groups:
            buckets.setdefault(key[:position] + key[position + 1 :], []).append(key)
        near = sorted((sorted(keys, key=repr) for keys in buckets.values() if len(keys) > 1), key=repr)
        # Every member of a few such buckets: under a sort and limit, only the neighbour that
        # sorts first shows the filter (the newest order in the other district).
        found.extend(groups[key] for keys in near[:MAX_ANCHORS] for key in keys[:MAX_ANCHORS])
    return found


def _upper(expected: Expected, low: QueryParam) -> QueryParam | None:
    """The `to` bound that closes a two-sided range opened by `low` (None: `low` is one-sided)."""
    return next((p for p in expected.params if p.op == "to" and p.column == low.column), None)


def _one_sided(
    expected: Expected,
    options: list[dict[str, Any]],
    members: Sequence[int],
    rows: Sequence[Row],
    raw: Sequence[Row],
    engine: str,
) -> list[dict[str, Any]]:
    """Values for each one-sided bound: seeded values of rows that pass the constants, so a row on
    the bound shows whether it is inclusive, spread from the lowest to the highest."""
    paired = {p.column for p in expected.params if p.op == "from" and _upper(expected, p) is not None}
    singles = [p for p in expected.params if p.op in LOOSER and p.column not in paired]
    passing = [i for i in members if all(holds(c, rows[i][c.column], engine) for c in expected.constants)]
    for param in singles:
        present = sorted(
            {rows[i][param.column]: raw[i][param.column] for i in passing if rows[i][param.column] is not None}.items(),
            key=lambda item: item[0],
        )
        if not present:
            continue
        picks = sorted({0, len(present) // 4, len(present) // 2, (3 * len(present)) // 4, len(present) - 1})
        options = [{**o, param.name: present[i][1]} for o in options for i in picks]
    return options


def choose_cases(expected: Expected, raw: Sequence[Row], rows: Sequence[Row], engine: str) -> list[Case]:
    """The fewest cases (greedily) that make every property observable; DataCannotDiscriminate
    names the properties none of them can show."""
    raw, rows = with_sub_fields(expected.table, expected.params, raw, rows, expected.constants)
    evaluator = Evaluator(expected, list(rows), engine)
    pool = [build_case(expected, params, engine) for params in candidates(expected, raw, rows, engine)]
    if not pool:
        raise DataCannotDiscriminate(f"{expected.pattern.name}: the seeded rows give no parameter values")
    wanted = properties(expected, pool[0])
    shown = [{name for name, test in wanted if test(evaluator, case)} for case in pool]
    chosen: list[Case] = []
    missing = {name for name, _ in wanted}
    while missing:
        best = max(range(len(pool)), key=lambda i: (len(shown[i] & missing), -i))
        if not shown[best] & missing:
            break
        chosen.append(pool[best])
        missing -= shown[best]
    fallbacks = unordered_fallbacks(expected, pool[0])
    for name in sorted(missing & fallbacks.keys()):
        case = next((c for c in chosen + pool if fallbacks[name](evaluator, c)), None)
        if case is not None:
            if case not in chosen:
                chosen.append(case)
            missing.discard(name)
    if missing:
        listed = "; ".join(name for name, _ in wanted if name in missing)
        raise DataCannotDiscriminate(
            f"{expected.pattern.name}: no parameter values on the seeded rows make these observable: {listed}"
        )
    if not any(evaluator.matching(c.conditions) for c in chosen):
        # Nothing to discriminate (no filter, sort or limit), or only empty answers do: one case
        # with rows still checks what the query returns.
        chosen.append(max(pool, key=lambda c: len(evaluator.matching(c.conditions))))
    return chosen

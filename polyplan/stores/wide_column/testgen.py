"""Wide-column design → generated pytest file, and the data it makes when it runs (pure).

The data is not written at plan time: the generated test makes it from `tests/data/model.json`
through `polyplan.validate.store_data`, which calls `data_text` here. It holds the seeded records (from `polyplan.seed.generate`) in JSON form, which table
each record belongs in, and for every pattern the bind sets of one run (one per bucket or IN
value, as the read plan says) with what it must return: the rows the filters allow, and the
sort values of the first `limit` of them. Beside them: a spare record per entity (generated with
the others, so its unique values are free, but not loaded) for writes that need a new record, and
for every update write pattern the record it changes and the new versions it writes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from polyplan.model.derived import key_of, writes_of
from polyplan.model.schema import Direction, RequirementsModel, WriteKind, WritePattern
from polyplan.perf import data_json
from polyplan.plan.ir import Plan
from polyplan.seed.discriminating import discriminating_rows
from polyplan.seed.generate import RESERVE, check_holds, generate, rows_for_scale
from polyplan.stores.wide_column.counters import is_counter_table
from polyplan.stores.wide_column.derived import kept_attributes
from polyplan.stores.wide_column.design import MUTATING, table_ttl
from polyplan.stores.wide_column.discriminating import (
    LOWER,
    OUTSIDE,
    UPPER,
    answer,
    bound_values,
    checks_of,
    equality_attributes,
    flipped,
    group_of,
    lay_out,
    observable,
    ordered_attribute,
    plain,
    ties_impossible,
    windows,
)
from polyplan.stores.wide_column.estimate import unique_sets
from polyplan.stores.wide_column.generated_tests import (
    DERIVED_TESTS,
    INCREMENT_TESTS,
    SORT_TESTS,
    TEST_FILE,
    TTL_TESTS,
    UPDATE_TESTS,
)
from polyplan.stores.wide_column.runtime import (
    bucket_value,
    buckets_between,
    next_bucket,
    prefix_bucket,
    prefix_end,
    time_bucket,
)
from polyplan.stores.wide_column.spec import EntityDesign, Query, Table, WideColumnDesign
from polyplan.stores.wide_column.values import canonical, to_json
from polyplan.stores.wide_column.writes import operations
from polyplan.validate.store_data import MODEL_FILE, model_json

SEED_ROWS = 40
# Generated beyond the loaded records (their unique values are free to write): at most the
# RESERVE that feasible_rows leaves, or a one-to-one or small unique space runs out.
SPARE_ROWS = RESERVE
COMPOUND = ("list", "set", "udt")  # compared only through scalars: Cassandra reads an empty list back as null


def _types(entity: EntityDesign, design: WideColumnDesign) -> dict[str, dict[str, Any]]:
    udts = {u.name: u for u in design.udts}
    found: dict[str, dict[str, Any]] = {}
    for table in entity.tables:
        for column in table.columns:
            if column.attribute is not None:
                found.setdefault(column.attribute, column.type.describe(udts))
    return found


def _next_above(records: list[dict[str, Any]], attr: str, value: Any) -> Any:
    above = sorted({plain(r[attr]) for r in records if r.get(attr) is not None and plain(r[attr]) > plain(value)})
    if above:
        return above[0]
    if isinstance(value, str):
        return value + "\uffff"
    if isinstance(value, dt.datetime):
        return plain(value) + dt.timedelta(seconds=1)
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=1)
    return value + 1


def _next_below(records: list[dict[str, Any]], attr: str, value: Any) -> Any:
    below = sorted({plain(r[attr]) for r in records if r.get(attr) is not None and plain(r[attr]) < plain(value)})
    if below:
        return below[-1]
    if isinstance(value, str):
        return ""
    if isinstance(value, dt.datetime):
        return plain(value) - dt.timedelta(seconds=1)
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=1)
    return value - 1


def _target(records: list[dict[str, Any]], table: Table, query: Query) -> dict[str, Any] | None:
    """The record a pattern's parameters come from; constants are imposed on one if none has them."""
    needed = [p.attribute for p in query.params if p.attribute]
    usable = [r for r in records if all(r.get(a) is not None for a in needed)]
    for record in usable:
        if all(c.holds(record) for c in table.conditions):
            return record
    for record in usable:
        for condition in table.conditions:
            if condition.values is not None:
                record[condition.attribute] = (condition.typed or condition.values)[0]
        if all(c.holds(record) for c in table.conditions):
            return record
    return None


def _prefixes(query: Query, table: Table, group: list[dict[str, Any]]) -> dict[str, Any]:
    """The values of a pattern's prefix parameters, from the group's first record (the first half
    of its value); on a prefix-bucketed table, at least the bucket's length, from the first record
    whose value is that long (a shorter prefix is never sent)."""
    shortest = (table.bucket.length or 1) if table.bucket is not None and table.bucket.kind == "prefix" else 1
    values: dict[str, Any] = {}
    for param in query.params:
        if param.attribute and param.op in ("prefix", "prefix_end"):
            attribute = param.attribute
            texts = [str(r[attribute]) for r in group if r.get(attribute) is not None]
            long_enough = [t for t in texts if len(t) >= shortest] or texts
            # With no equality filter the group is every row: take the value the seed's hot group
            # shares (the most frequent one), whose records are more than the limit.
            text = long_enough[0] if equality_attributes(query) else Counter(long_enough).most_common(1)[0][0]
            prefix = text[: max(shortest, len(text) // 2)]
            values[param.name] = prefix if param.op == "prefix" else prefix_end(prefix)
    return values


def _bind_sets(
    query: Query, table: Table, values: dict[str, Any], allowed: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """One bind set per bucket (in read-plan order); whether the rows must be merged by sort order."""
    bucket = table.bucket
    if bucket is None:
        return [values], False
    name = next(p.name for p in query.params if p.op == "bucket")
    if bucket.kind == "hash":
        return [dict(values, **{name: b}) for b in range(bucket.count or 1)], True
    if bucket.kind == "prefix":
        low = next(values[p.name] for p in query.params if p.op == "prefix")
        return [dict(values, **{name: prefix_bucket(low, bucket.length or 1)})], False
    attr, unit = bucket.source[0], bucket.unit or "day"
    newest_first = bool(table.clustering) and table.clustering[0][1] is Direction.DESC
    if query.order:
        newest_first = query.order[0][1] is Direction.DESC
    low = next((values[p.name] for p in query.params if p.op == "range_from" and p.attribute == attr), None)
    high = next((values[p.name] for p in query.params if p.op == "range_to" and p.attribute == attr), None)
    if low is not None and high is not None:
        buckets = list(buckets_between(low, high, unit, newest_first))
    else:
        buckets = sorted({time_bucket(plain(r[attr]), unit) for r in allowed}, reverse=newest_first)
    return [dict(values, **{name: b}) for b in buckets], False


def _group_values(query: Query, group: list[dict[str, Any]]) -> dict[str, Any]:
    """The equality (and IN) parameters' values: the group's shared ones."""
    return {p.name: group[0][p.attribute] for p in query.params if p.attribute and p.op in ("eq", "in")}


def _window_values(
    query: Query, table: Table, group: list[dict[str, Any]], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The range parameters' values of each run (see `discriminating.windows`). An upper bound
    past the group's last value stays within the next time bucket, so the run visits two buckets
    rather than every bucket up to the next seeded value."""
    attribute = next((p.attribute for p in query.params if p.attribute and p.op in LOWER + UPPER), None)
    if attribute is None:
        return [{}]
    distinct = sorted({plain(r[attribute]) for r in group if r.get(attribute) is not None})
    if not distinct:
        return [{}]

    def above(value: Any) -> Any:
        upper = _next_above(records, attribute, value)
        bucket = table.bucket
        if bucket is not None and bucket.kind == "time" and bucket.source[0] == attribute:
            unit = bucket.unit or "day"
            upper = min(upper, next_bucket(time_bucket(value, unit), unit))
        return upper

    def below(value: Any) -> Any:
        return _next_below(records, attribute, value)

    return [bound_values(query, distinct, window, above, below) for window in windows(query, distinct)]


def _one_row(model: RequirementsModel, table: Table, shared: list[str]) -> str | None:
    """Why a run reads one row at most (its equalities fix a whole unique rule), or None: then
    neither a LIMIT nor an order can show, and the design clusters nothing for the sort (the
    relational oracle's `limit_out_of_reach` says the same: PP479)."""
    fixed = next((unique for unique in unique_sets(model, table.entity) if unique <= set(shared)), None)
    return None if fixed is None else f"equalities fix the unique {', '.join(sorted(fixed))} (one row at most)"


def _properties(query: Query, table: Table, model: RequirementsModel, shared: list[str]) -> dict[str, str | None]:
    """What the pattern's data must show, from the model's pattern as the design lays it out:
    each property named, with the reason it cannot hold (None when it must)."""
    found: dict[str, str | None] = {}
    uniques = unique_sets(model, table.entity)
    single = _one_row(model, table, shared)
    if query.limit is not None:
        found["limit"] = None if single is None else f"LIMIT {query.limit} is never reached: {single}"
    for column, direction in query.order:
        found[f"sort {column} {direction.value}"] = None if single is None else f"no order to show: {single}"
    if query.order:
        column = query.order[0][0]
        found[f"ties {column}"] = (
            "LIMIT 1: an answer holds one row, so no two of its rows tie"
            if query.limit == 1
            else ties_impossible(table, column, uniques, shared)
        )
    for param in query.params:
        if param.attribute and param.op in LOWER + UPPER:
            found[f"bound {param.name}"] = None
    filtered = {p.attribute for p in query.params if p.attribute}
    for condition in table.conditions:
        implied = condition.values is None and condition.attribute in filtered
        # "x is not null" beside a filter on x: no NULL passes the filter, so dropping it changes nothing.
        found[f"condition {condition.describe()}"] = (
            f"implied by the filter on {condition.attribute} (a NULL never passes it)" if implied else None
        )
    return found


def _run(
    query: Query,
    table: Table,
    records: list[dict[str, Any]],
    values: dict[str, Any],
    compare: list[str],
    json_rows: Mapping[int, dict[str, Any]],
) -> dict[str, Any]:
    """One run: its bind sets, the rows it allows and returns, and what it shows — each property
    of the pattern whose loss would change what the generated test sees.

    `json_rows`: id(record) → the record's JSON values (`to_json` per column), made once per
    entity: converting every allowed record again in each run was a large share of the time."""
    checks = checks_of(query, values)
    members = [r for r in records if all(c.holds(r) for c in table.conditions)]
    allowed = [r for r in members if all(check(r) for check in checks.values())]
    binds, merge = _bind_sets(query, table, values, allowed)
    right = answer(allowed, query.order, query.limit)
    shows: list[str] = []
    without: dict[str, Any] = {}
    if query.limit is not None and observable(right, answer(allowed, query.order, None), allowed):
        shows.append("limit")
    if query.order and observable(right, answer(allowed, flipped(query.order), query.limit), allowed):
        shows += [f"sort {column} {direction.value}" for column, direction in query.order]
    if query.order and any(a[:1] == b[:1] for a, b in zip(right[1], right[1][1:], strict=False)):
        shows.append(f"ties {query.order[0][0]}")
    lost: dict[str, list[dict[str, Any]]] = {
        f"bound {name}": [r for r in members if all(c(r) for n, c in checks.items() if n != name)]
        for name in checks
        if any(p.name == name and p.op in LOWER + UPPER for p in query.params)
    }
    for condition in table.conditions:
        others = [c for c in table.conditions if c is not condition]
        outside = [r for r in records if all(c.holds(r) for c in others) and all(check(r) for check in checks.values())]
        lost[f"condition {condition.describe()}"] = outside
    for name, rows in lost.items():
        wrong = answer(rows, query.order, query.limit)
        if observable(right, wrong, allowed):
            shows.append(name)
            without[name] = {
                "count": len(wrong[0]),
                "expected_sort": [[canonical(v) for v in row] for row in wrong[1]],
                "outside": sum(1 for r in wrong[0] if all(r is not a for a in allowed)),
            }
    return {
        "allowed": sorted([json_rows[id(r)][c] for c in compare] for r in allowed),
        "binds": [{k: canonical(v) for k, v in b.items()} for b in binds],
        "expected_sort": [[canonical(v) for v in row] for row in right[1]],
        "merge": merge or (any(p.op == "in" for p in query.params) and len(binds) > 1),
        "shows": sorted(set(shows)),
        "without": without,
    }


def _outsider_runs(
    query: Query,
    table: Table,
    records: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    compare: list[str],
    json_rows: Mapping[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """A run on the partition of a record the table keeps out, for each condition no run on the
    hot group shows: where the pattern's equalities bind the condition's own attribute
    (`a1 = 18 AND a1 = :a1`), every record of the group meets it, and only a partition of
    another value shows that the table holds no row failing it (fuzz model 78). Equality-only
    patterns; the answer of such a run is empty."""
    if any(p.op not in ("eq", "in") for p in query.params if p.attribute) or table.bucket is not None:
        return []
    shown = {name for run in runs for name in run["shows"]}
    found: list[dict[str, Any]] = []
    for condition in table.conditions:
        name = f"condition {condition.describe()}"
        if name in shown:
            continue
        others = [c for c in table.conditions if c is not condition]
        outsider = next(
            (
                r
                for r in records
                if not condition.holds(r)
                and all(c.holds(r) for c in others)
                and all(r.get(p.attribute) is not None for p in query.params if p.attribute)
            ),
            None,
        )
        if outsider is None:
            continue
        run = _run(query, table, records, _group_values(query, [outsider]), compare, json_rows)
        if name in run["shows"]:
            found.append(run)
            shown |= set(run["shows"])
    return found


def _case(
    model: RequirementsModel,
    query: Query,
    table: Table,
    records: list[dict[str, Any]],
    types: dict[str, dict[str, Any]],
    json_rows: Mapping[int, dict[str, Any]],
) -> dict[str, Any] | None:
    """The pattern's runs on its largest parameter group (see `discriminating`), and the
    properties its data must show (`json_rows`: see `_run`)."""
    group = group_of(records, table, query)
    if not group:
        return None
    base = {**_group_values(query, group), **_prefixes(query, table, group)}
    compare = [c for c in query.select if types[c]["type"] not in COMPOUND]
    runs = [
        _run(query, table, records, {**base, **bounds}, compare, json_rows)
        for bounds in _window_values(query, table, group, records)
    ]
    runs += _outsider_runs(query, table, records, runs, compare, json_rows)
    bind_types = {
        p.name: table.column(
            p.attribute or next(r.column for r in query.restrictions if r.param == p.name)
        ).type.describe({})
        for p in query.params
    }
    return {
        "bind_types": bind_types,
        "compare": compare,
        "limit": query.limit,
        "order": [[c, d.value] for c, d in query.order],
        "one_row": _one_row(model, table, equality_attributes(query)),
        "properties": _properties(query, table, model, equality_attributes(query)),
        "runs": runs,
        "table": table.name,
    }


def _primary_key(table: Table, record: dict[str, Any]) -> dict[str, Any]:
    """The JSON values of a record's primary key in `table`, bucket columns computed."""
    bucket = {table.bucket.column: bucket_value(table.bucket.describe(), record)} if table.bucket else {}
    return {c: canonical(plain(bucket.get(c, record.get(c)))) for c in table.primary_key}


def _version(entity: EntityDesign, record: dict[str, Any], types: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A record as the test binds it: its JSON values, and per table whether it belongs and its key there."""
    members = {t.name: all(c.holds(record) for c in t.conditions) for t in entity.tables}
    return {
        "keys": {t.name: _primary_key(t, record) for t in entity.tables if members[t.name]},
        "members": members,
        "record": {a: to_json(record[a], desc) for a, desc in types.items()},
    }


def _spare(
    model: RequirementsModel,
    entity: EntityDesign,
    spares: list[dict[str, Any]],
    records: list[dict[str, Any]],
    timed: bool,
) -> dict[str, Any] | None:
    """The spare record that belongs in the most tables (the first of them).

    Where the entity's tables take a TTL (`timed`) and no spare belongs in one, the TTL expiry
    test would have no row to write: the spare then takes, on the attributes of one such table's
    failing conditions, the values of a loaded record that the table holds (a constant such as
    `kind = 'x'`, or any value where the condition is "not null"), unless those attributes are in
    the spare's values of a unique set they are part of would then repeat a record's (a unique
    attribute alone always would: the donor's; part of a composite key need not: fuzz model 1139)
    or the model's checks then fail.
    """
    if not spares:
        return None

    def belongs(record: dict[str, Any], table: Table) -> bool:
        return all(c.holds(record) for c in table.conditions)

    ttl_tables = [t for t in entity.tables if timed and not is_counter_table(t)]
    best = max(
        spares, key=lambda r: (any(belongs(r, t) for t in ttl_tables), sum(belongs(r, t) for t in entity.tables))
    )
    if not ttl_tables or any(belongs(best, t) for t in ttl_tables):
        return best
    uniques = [sorted(unique) for unique in unique_sets(model, entity.entity)]
    others = [*records, *(r for r in spares if r is not best)]

    def repeats(fitted: dict[str, Any], failing: list[str]) -> bool:
        return any(
            all(plain(fitted.get(a)) == plain(r.get(a)) for a in unique)
            for unique in uniques
            if set(unique).intersection(failing)
            for r in others
        )

    checks = model.entities[entity.entity].checks
    for table in ttl_tables:
        failing = [c.attribute for c in table.conditions if not c.holds(best)]
        donor = next((r for r in records if belongs(r, table)), None)
        if donor is None:
            continue
        fitted = {**best, **{a: donor[a] for a in failing}}
        if not repeats(fitted, failing) and all(check_holds(fitted[c.left], c.op, fitted[c.right]) for c in checks):
            return fitted
    return best


def _changed(
    model: RequirementsModel,
    entity: EntityDesign,
    current: dict[str, Any],
    written: list[str],
    records: list[dict[str, Any]],
    spares: list[dict[str, Any]],
) -> dict[str, Any]:
    """`current` with every written attribute given another value (a free one where it must be unique).

    A value that would repeat another record's unique values is left as it was.
    """
    uniques = [u for u in unique_sets(model, entity.entity)[1:] if u & set(written)]
    guarded = {a for u in uniques for a in u}
    new = dict(current)
    for attr in written:
        pool = spares if attr in guarded else [*spares, *records]
        was = plain(current.get(attr))
        new[attr] = next((r[attr] for r in pool if r.get(attr) is not None and plain(r[attr]) != was), new[attr])
    for unique in uniques:
        values = [plain(new.get(a)) for a in sorted(unique)]
        if any(r is not current and [plain(r.get(a)) for a in sorted(unique)] == values for r in records):
            for attr in unique & set(written):
                new[attr] = current[attr]
    return new


def _updates(
    model: RequirementsModel,
    entity: EntityDesign,
    records: list[dict[str, Any]],
    spares: list[dict[str, Any]],
    types: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """For each update/upsert write pattern: the record it changes and two new versions of it.

    `changed` gives the written attributes other values (rows move between partitions, in and out of
    membership); `unchanged` writes the same values again, which must leave every row in place.
    """
    found: dict[str, Any] = {}
    key = set(key_of(model.entities[entity.entity]).attributes)
    writes: list[WritePattern] = [
        w for w in writes_of(model, entity.entity) if w.kind in MUTATING and w.kind is not WriteKind.DELETE
    ]
    if not records:
        return found
    # The record in the most tables: its change touches the most rows.
    index = max(
        range(len(records)),
        key=lambda i: (sum(all(c.holds(records[i]) for c in t.conditions) for t in entity.tables), -i),
    )
    current = records[index]
    for write in writes:
        written = [a for a in (write.attributes or list(types)) if a in types and a not in key]
        new = _changed(model, entity, current, written, records, spares)
        found[write.name] = {
            "changed": _version(entity, new, types),
            "entity": entity.entity,
            "index": index,
            "unchanged": _version(entity, current, types),
        }
    return found


def _ttl_checks(
    entity: EntityDesign, records: list[dict[str, Any]], members: dict[str, list[bool]], seconds: int | None
) -> dict[str, Any]:
    """Per table of an entity the model gives a retention: the TTL the model implies (`seconds`,
    never read from the design under test), a stored row's key and a regular scalar column it
    has a value in (both None when no row can show a TTL)."""
    found: dict[str, Any] = {}
    if seconds is None:
        return found
    for table in entity.tables:
        if is_counter_table(table):
            continue  # Cassandra refuses a TTL on counters: retention is a scheduled delete (PP430)
        found[table.name] = {"column": None, "key": None, "seconds": seconds}
        for index, record in enumerate(records):
            if not members[table.name][index]:
                continue
            column = next(
                (
                    c.name
                    for c in table.columns
                    if c.attribute is not None
                    and c.name not in table.primary_key
                    and c.type.kind not in COMPOUND
                    and record.get(c.attribute) is not None
                ),
                None,
            )
            if column is not None:
                found[table.name] |= {"column": column, "key": _primary_key(table, record)}
                break
    return found


def test_data(plan: Plan, design: WideColumnDesign) -> dict[str, Any]:
    """Seeded records, table membership, per-pattern expectations, spares, updates and TTL checks."""
    model = plan.model
    stored = [e.entity for e in design.entities]
    # Hot groups: one partition per limited pattern with more rows than its limit and rows
    # outside each range bound (see polyplan.seed.discriminating and .discriminating here).
    loaded, hot = discriminating_rows(model, rows_for_scale(model, 0.0, minimum=SEED_ROWS), stored, OUTSIDE)
    seeded = generate(model, loaded, spare=SPARE_ROWS, hot=hot, only=stored) if design.entities else {}
    entities: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    cases: dict[str, Any] = {}
    spares: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    ttl: dict[str, Any] = {}
    patterns = {p.name: p for p in model.access_patterns}
    for entity in design.entities:
        generated = [dict(r) for r in seeded[entity.entity]]
        records, extra = generated[: loaded[entity.entity]], generated[loaded[entity.entity] :]
        for query in entity.queries:  # first, so that constants imposed on a record count everywhere
            _target(records, design.table(query.table), query)
        # Then each pattern's group laid out in one partition: the groups of patterns with the
        # fewest equality filters (the widest) first, so that the narrower ones are laid out last.
        for query in sorted(entity.queries, key=lambda q: len(equality_attributes(q))):
            table, attribute = design.table(query.table), ordered_attribute(query)
            if attribute is not None:
                uniques = unique_sets(model, entity.entity)
                ties = ties_impossible(table, attribute, uniques, equality_attributes(query)) is None
                lay_out(group_of(records, table, query, members=False), table, attribute, ties)
        types = _types(entity, design)
        members = {t.name: [all(c.holds(r) for c in t.conditions) for r in records] for t in entity.tables}
        # The records are final from here on: their JSON values serve the cases' runs too.
        json_records = [{a: to_json(r[a], desc) for a, desc in types.items()} for r in records]
        json_rows = {id(r): values for r, values in zip(records, json_records, strict=True)}
        entities[entity.entity] = {"members": members, "records": json_records, "types": types}
        for table in entity.tables:
            first = next((i for i, m in enumerate(members[table.name]) if m), None)
            tables[table.name] = {
                "entity": entity.entity,
                "first": first,
                "first_key": _primary_key(table, records[first]) if first is not None else None,
                "rows": sum(members[table.name]),
            }
        for query in entity.queries:
            case = _case(model, query, design.table(query.table), records, types, json_rows)
            if case is not None:
                # The model's sort, for the catalog check of clustering order (not the design's).
                case["sort"] = [[s.attribute, s.direction.value] for s in patterns[query.pattern].sort]
                cases[query.pattern] = case
        timed = table_ttl(model.entities[entity.entity].growth) is not None
        spare = _spare(model, entity, extra, records, timed)
        if spare is not None:
            spares[entity.entity] = _version(entity, spare, types)
        updates.update(_updates(model, entity, records, extra, types))
        ttl.update(_ttl_checks(entity, records, members, table_ttl(model.entities[entity.entity].growth)))
    return {
        "cases": cases,
        "entities": entities,
        "model": model.name,
        "spares": spares,
        "tables": tables,
        "ttl": ttl,
        "updates": updates,
    }


def data_text(plan: Plan, design: WideColumnDesign) -> str:
    """The generated test's data as JSON text (what `polyplan.validate.store_data` hands it)."""
    return data_json(test_data(plan, design), default=str)


def _sections(plan: Plan, design: WideColumnDesign) -> tuple[bool, bool, bool]:
    """Whether the data will hold update writes, sorted patterns and TTL checks: from the model
    and the design alone, since the data itself is made when the tests run (a pattern whose
    data has no parameter group leaves its list empty, and its check then has nothing to run)."""
    model = plan.model
    updates = any(
        w.kind in MUTATING and w.kind is not WriteKind.DELETE
        for entity in design.entities
        for w in writes_of(model, entity.entity)
    )
    sorts = {p.name for p in model.access_patterns if p.sort}
    sorted_ = any(query.pattern in sorts for entity in design.entities for query in entity.queries)
    ttl = any(
        table_ttl(model.entities[entity.entity].growth) is not None
        and any(not is_counter_table(t) for t in entity.tables)
        for entity in design.entities
    )
    return updates, sorted_, ttl


def render_tests(plan: Plan, design: WideColumnDesign) -> dict[str, str]:
    """Generated test file and the model file it makes its data from, keyed by path under OUT/tests/.

    The update and TTL checks are written only when the design has updates or TTLs: a generated
    test that could only skip would say nothing.
    """
    if not design.entities:
        return {}
    updates, sorted_, ttl = _sections(plan, design)
    text = TEST_FILE.replace("@MODEL@", plan.model.name)
    extra = ""
    if updates:
        text += UPDATE_TESTS
        extra += ", runs every update write pattern (to new values and to the same ones)"
    if sorted_:
        text += SORT_TESTS
        extra += ", checks each table's clustering order in the server's catalog"
    if ttl:
        text += TTL_TESTS
        extra += ", checks that rows take the tables' TTL and expire"
    else:
        text = text.replace("import time\n", "", 1)  # only the TTL checks wait
    if any(o.kind == "increment" and o.after for e in design.entities for o in operations(plan.model, e)):
        text += INCREMENT_TESTS
        extra += ", proves every counter increment atomic under concurrent adds"
    if any(kept_attributes(plan.model, {e.entity: e for e in design.entities})[0]):
        text += DERIVED_TESTS
        extra += ", reads every derived counter back after its children's writes"
    text = text.replace("@EXTRA@", extra + ", and drops the keyspace")
    return {
        "test_cassandra.py": text,
        f"data/{MODEL_FILE}": model_json(plan),
    }

"""Wide-column design → generated pytest file and its data (pure).

The data file holds the seeded records (from `polyplan.seed.generate`) in JSON form, which table
each record belongs in, and for every pattern the bind sets of one run (one per bucket or IN
value, as the read plan says) with what it must return: the rows the filters allow, and the
sort values of the first `limit` of them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from polyplan.model.schema import Direction
from polyplan.plan.ir import Plan
from polyplan.seed.generate import generate, rows_for_scale
from polyplan.stores.wide_column.design import EntityDesign, Query, Table, WideColumnDesign
from polyplan.stores.wide_column.runtime import bucket_value, buckets_between, next_bucket, prefix_end, time_bucket
from polyplan.stores.wide_column.values import canonical, to_json

SEED_ROWS = 40
COMPOUND = ("list", "udt")  # compared only through scalars: Cassandra reads an empty list back as null


def _plain(value: Any) -> Any:
    """Seed values made comparable the way Cassandra compares them (UTC, milliseconds)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def _types(entity: EntityDesign, design: WideColumnDesign) -> dict[str, dict[str, Any]]:
    udts = {u.name: u for u in design.udts}
    found: dict[str, dict[str, Any]] = {}
    for table in entity.tables:
        for column in table.columns:
            if column.attribute is not None:
                found.setdefault(column.attribute, column.type.describe(udts))
    return found


def _next_above(records: list[dict[str, Any]], attr: str, value: Any) -> Any:
    above = sorted({_plain(r[attr]) for r in records if r.get(attr) is not None and _plain(r[attr]) > _plain(value)})
    if above:
        return above[0]
    if isinstance(value, str):
        return value + "\uffff"
    if isinstance(value, dt.datetime):
        return _plain(value) + dt.timedelta(seconds=1)
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=1)
    return value + 1


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
                record[condition.attribute] = condition.values[0]
        if all(c.holds(record) for c in table.conditions):
            return record
    return None


def _check(attr: str, op: str, bound: Any) -> Callable[[dict[str, Any]], bool]:
    """How Cassandra evaluates one restriction, restated in Python on seeded records."""

    def check(record: dict[str, Any]) -> bool:
        value = _plain(record.get(attr))
        if value is None:
            return False
        if op == "eq":
            return bool(value == bound)
        if op == "ge":
            return bool(value >= bound)
        if op == "lt":
            return bool(value < bound)
        return str(value).startswith(str(bound))

    return check


def _filters(
    query: Query, table: Table, target: dict[str, Any], records: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[Callable[[dict[str, Any]], bool]]]:
    """Parameter values taken from `target`, and the checks they imply.

    A range over a time-bucketed column ends within the next bucket, so the run visits two buckets
    rather than every bucket up to the next seeded value.
    """
    values: dict[str, Any] = {}
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for param in query.params:
        attr = param.attribute
        if attr is None:
            continue
        value = target[attr]
        plain = _plain(value)
        if param.op in ("eq", "in"):
            values[param.name] = value
            checks.append(_check(attr, "eq", plain))
        elif param.op == "range_from":
            values[param.name] = plain
            checks.append(_check(attr, "ge", plain))
        elif param.op == "range_to":
            upper = _next_above(records, attr, value)
            bucket = table.bucket
            if bucket is not None and bucket.kind == "time" and bucket.source[0] == attr:
                upper = min(upper, next_bucket(time_bucket(_plain(value), bucket.unit or "day"), bucket.unit or "day"))
            values[param.name] = upper
            checks.append(_check(attr, "lt", upper))
        elif param.op == "prefix":
            prefix = str(value)[: max(1, len(str(value)) // 2)]
            values[param.name] = prefix
            checks.append(_check(attr, "prefix", prefix))
        elif param.op == "prefix_end":
            values[param.name] = prefix_end(str(value)[: max(1, len(str(value)) // 2)])
    return values, checks


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
    attr, unit = bucket.source[0], bucket.unit or "day"
    newest_first = bool(table.clustering) and table.clustering[0][1] is Direction.DESC
    if query.order:
        newest_first = query.order[0][1] is Direction.DESC
    low = next((values[p.name] for p in query.params if p.op == "range_from" and p.attribute == attr), None)
    high = next((values[p.name] for p in query.params if p.op == "range_to" and p.attribute == attr), None)
    if low is not None and high is not None:
        buckets = list(buckets_between(low, high, unit, newest_first))
    else:
        buckets = sorted({time_bucket(_plain(r[attr]), unit) for r in allowed}, reverse=newest_first)
    return [dict(values, **{name: b}) for b in buckets], False


def _sorted(rows: list[dict[str, Any]], order: tuple[tuple[str, Direction], ...]) -> list[dict[str, Any]]:
    result = list(rows)
    for column, direction in reversed(order):  # stable sorts, last key first
        result.sort(key=_key(column), reverse=direction is Direction.DESC)
    return result


def _key(column: str) -> Callable[[dict[str, Any]], Any]:
    def key(record: dict[str, Any]) -> Any:
        return _plain(record[column])

    return key


def _case(
    query: Query, table: Table, records: list[dict[str, Any]], types: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    target = _target(records, table, query)
    if target is None:
        return None
    values, checks = _filters(query, table, target, records)
    members = [r for r in records if all(c.holds(r) for c in table.conditions)]
    allowed = [r for r in members if all(check(r) for check in checks)]
    binds, merge = _bind_sets(query, table, values, allowed)
    ordered = _sorted(allowed, query.order)
    shown = ordered[: query.limit] if query.limit else ordered
    compare = [c for c in query.select if types[c]["type"] not in COMPOUND]
    bind_types = {
        p.name: table.column(
            p.attribute or next(r.column for r in query.restrictions if r.param == p.name)
        ).type.describe({})
        for p in query.params
    }
    return {
        "allowed": sorted([to_json(r[c], types[c]) for c in compare] for r in allowed),
        "bind_types": bind_types,
        "binds": [{k: canonical(v) for k, v in b.items()} for b in binds],
        "compare": compare,
        "expected_sort": [[canonical(_plain(r[c])) for c, _ in query.order] for r in shown],
        "limit": query.limit,
        "merge": merge or (any(p.op == "in" for p in query.params) and len(binds) > 1),
        "order": [[c, d.value] for c, d in query.order],
        "table": table.name,
    }


def test_data(plan: Plan, design: WideColumnDesign) -> dict[str, Any]:
    """Seeded records, table membership, and per-pattern expectations."""
    model = plan.model
    seeded = generate(model, rows_for_scale(model, 0.0, minimum=SEED_ROWS)) if design.entities else {}
    entities: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    cases: dict[str, Any] = {}
    for entity in design.entities:
        records = [dict(r) for r in seeded[entity.entity]]
        for query in entity.queries:  # first, so that constants imposed on a record count everywhere
            _target(records, design.table(query.table), query)
        types = _types(entity, design)
        members = {t.name: [all(c.holds(r) for c in t.conditions) for r in records] for t in entity.tables}
        entities[entity.entity] = {
            "members": members,
            "records": [{a: to_json(r[a], desc) for a, desc in types.items()} for r in records],
            "types": types,
        }
        for table in entity.tables:
            first = next((i for i, m in enumerate(members[table.name]) if m), None)
            key_values = None
            if first is not None:
                record = records[first]
                bucket = {table.bucket.column: bucket_value(table.bucket.describe(), record)} if table.bucket else {}
                key_values = {c: canonical(_plain(bucket.get(c, record.get(c)))) for c in table.primary_key}
            tables[table.name] = {
                "entity": entity.entity,
                "first": first,
                "first_key": key_values,
                "rows": sum(members[table.name]),
            }
        for query in entity.queries:
            case = _case(query, design.table(query.table), records, types)
            if case is not None:
                cases[query.pattern] = case
    return {"cases": cases, "entities": entities, "model": model.name, "tables": tables}


TEST_FILE = r'''"""Generated by polyplan for model "@MODEL@": Cassandra 4.1 checks of the wide-column artifacts.

Applies cassandra/schema.cql in a keyspace unique to the run, writes the seeded records with the
statements of cassandra/writes.json, runs every pattern of cassandra/queries.cql as its read plan
says, and drops the keyspace. Run with `polyplan validate OUT --engine cassandra`, or set
POLYPLAN_CASSANDRA_URL and run pytest on this file; `docker compose -f compose/docker-compose.yml
up -d --wait cassandra` starts a server (see docs/running-stores.md).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyplan.stores.wide_column import connect
from polyplan.stores.wide_column.cql import quote, split_statements
from polyplan.stores.wide_column.values import canonical, to_driver
from polyplan.testkit import resolve_url

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "cassandra"
DATA = json.loads((HERE / "data" / "cassandra.json").read_text(encoding="utf-8"))
DESIGN = json.loads((ARTIFACTS / "design.json").read_text(encoding="utf-8"))
WRITES = json.loads((ARTIFACTS / "writes.json").read_text(encoding="utf-8"))
SCHEMA = (ARTIFACTS / "schema.cql").read_text(encoding="utf-8")
QUERIES_TEXT = (ARTIFACTS / "queries.cql").read_text(encoding="utf-8")
QUERIES = {
    comments[0].split()[1]: statement
    for comments, statement in split_statements(QUERIES_TEXT)
    if comments and comments[0].startswith("pattern:")
}
ENTITIES = sorted(DATA["entities"])
TABLES = sorted(DESIGN["tables"])
PATTERNS = sorted(DATA["cases"])


def _record(entity: str, index: int) -> dict[str, Any]:
    data = DATA["entities"][entity]
    return {name: to_driver(value, data["types"][name]) for name, value in data["records"][index].items()}


def _members(entity: str, index: int) -> dict[str, bool]:
    return {table: flags[index] for table, flags in DATA["entities"][entity]["members"].items()}


def _count(session: Any, table: str) -> int:
    return int(session.execute(f"SELECT COUNT(*) AS n FROM {quote(table)}").one()["n"])


@pytest.fixture(scope="module")
def store() -> Iterator[tuple[Any, str, connect.Writer]]:
    cluster, session = connect.connect(resolve_url("cassandra"))
    keyspace = connect.run_keyspace()
    try:
        connect.apply_schema(session, SCHEMA, keyspace)
        writer = connect.Writer(session)
        for entity in ENTITIES:
            insert = WRITES["entities"][entity]["operations"]["insert"]
            for index in range(len(DATA["entities"][entity]["records"])):
                writer.run(insert, _record(entity, index), _members(entity, index))
        yield session, keyspace, writer
    finally:
        try:
            connect.drop_keyspace(session, keyspace)
        finally:
            cluster.shutdown()


def test_no_statement_allows_filtering() -> None:
    statements = [text for script in (SCHEMA, QUERIES_TEXT) for _, text in split_statements(script)]
    for operations in WRITES["entities"].values():
        for operation in operations["operations"].values():
            for step in ("before_batch", "statements", "after_batch"):
                statements += [statement["cql"] for statement in operation[step]]
    statements += [query["cql"] for query in DESIGN["queries"].values()]
    for statement in statements:
        assert "ALLOW FILTERING" not in statement.upper(), statement
    assert sorted(QUERIES) == sorted(DESIGN["queries"])
    for pattern, query in DESIGN["queries"].items():
        assert QUERIES[pattern] == query["cql"]
        where = query["cql"].split("WHERE", 1)[1]
        for column in DESIGN["tables"][query["table"]]["partition_key"]:
            assert f"{quote(column)} = :" in where, f"{pattern} does not restrict partition key column {column}"


def test_schema_applied(store: Any) -> None:
    session, keyspace, _ = store
    rows = session.execute(
        "SELECT table_name, column_name, kind, position FROM system_schema.columns WHERE keyspace_name = %s", [keyspace]
    )
    found: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for row in rows:
        found.setdefault(row["table_name"], {}).setdefault(row["kind"], []).append((row["position"], row["column_name"]))
    assert sorted(found) == TABLES
    for table, spec in DESIGN["tables"].items():
        assert [c for _, c in sorted(found[table]["partition_key"])] == spec["partition_key"]
        assert [c for _, c in sorted(found[table].get("clustering", []))] == [c for c, _ in spec["clustering"]]


def test_schema_is_idempotent(store: Any) -> None:
    session, keyspace, _ = store
    connect.apply_schema(session, SCHEMA, keyspace)
    rows = session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [keyspace])
    assert sorted(row["table_name"] for row in rows) == TABLES
    for table in TABLES:
        assert _count(session, table) == DATA["tables"][table]["rows"]


@pytest.mark.parametrize("table", TABLES)
def test_valid_rows_accepted(store: Any, table: str) -> None:
    session, _, _ = store
    expected = DATA["tables"][table]
    assert _count(session, table) == expected["rows"]
    if expected["first"] is None:
        return
    spec = DESIGN["tables"][table]
    key = {name: to_driver(value, spec["types"][name]) for name, value in expected["first_key"].items()}
    where = " AND ".join(f"{quote(name)} = %({name})s" for name in key)
    row = session.execute(f"SELECT * FROM {quote(table)} WHERE {where}", key).one()
    assert row is not None
    record = DATA["entities"][spec["entity"]]["records"][expected["first"]]
    for name, desc in spec["types"].items():
        if name in record and desc["type"] not in ("list", "udt"):
            assert canonical(row[name]) == record[name], name


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern(store: Any, pattern: str) -> None:
    session, _, _ = store
    case = DATA["cases"][pattern]
    binds = [{name: to_driver(value, case["bind_types"][name]) for name, value in bind.items()} for bind in case["binds"]]
    order = [(column, direction) for column, direction in case["order"]]
    rows = connect.run_pattern(session, QUERIES[pattern], binds, order, case["limit"], case["merge"])
    allowed = Counter(json.dumps(values) for values in case["allowed"])
    got = Counter(json.dumps([canonical(row[c]) for c in case["compare"]]) for row in rows)
    assert not got - allowed, "rows outside the pattern's filters"
    expected = min(case["limit"], sum(allowed.values())) if case["limit"] else sum(allowed.values())
    assert len(rows) == expected
    if order:
        assert [[canonical(row[c]) for c, _ in order] for row in rows] == case["expected_sort"][: len(rows)]
    if len(rows) == sum(allowed.values()):
        assert got == allowed


@pytest.mark.parametrize("entity", ENTITIES)
def test_writes_keep_tables_in_step(store: Any, entity: str) -> None:
    session, _, writer = store
    operations = WRITES["entities"][entity]["operations"]
    index = len(DATA["entities"][entity]["records"]) - 1
    record, members = _record(entity, index), _members(entity, index)
    tables = WRITES["entities"][entity]["tables"]
    before = {t: _count(session, t) for t in tables}
    writer.run(operations["delete"], record, members)
    assert {t: _count(session, t) for t in tables} == {t: before[t] - int(members[t]) for t in tables}
    writer.run(operations["insert"], record, members)
    assert {t: _count(session, t) for t in tables} == before
'''


def render_tests(plan: Plan, design: WideColumnDesign) -> dict[str, str]:
    """Generated test file and data file, keyed by path under OUT/tests/."""
    if not design.entities:
        return {}
    data = json.dumps(test_data(plan, design), indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    return {
        "test_cassandra.py": TEST_FILE.replace("@MODEL@", plan.model.name),
        "data/cassandra.json": data,
    }

"""Generated EXPLAIN-proof tests of the index design (pure: design → test files).

For each engine, `test_<engine>_indexes.py` creates a throw-away database, applies
`relational/<engine>/schema.sql` and loads seeded rows through the relational target's own
harness (`polyplan.validate.relational.Harness`, which reads `tests/data/relational.json`), only
more of them: enough that a sequential scan loses. After refreshing the planner's statistics it
asks the engine to EXPLAIN each access pattern's query exactly as `queries.sql` holds it (and each
child lookup of a pattern that loads children), with parameters taken from the loaded rows, and
asserts from the engine's own plan that the designed index is used (index-only where the design
says covering) and that the pattern's table is not scanned. `tests/data/indexes.json` holds the
proofs and the seed sizes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from polyplan.model.derived import pattern_named
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.seed.generate import rows_for_scale
from polyplan.stores.relational.index_render import constant_predicate, foreign_key_select, fts_table
from polyplan.stores.relational.indexes import PatternRoute, index_plan_of
from polyplan.stores.relational.render import DIALECTS, ENGINES, EngineBuild
from polyplan.stores.relational.spec import IndexKind, TableKind, TableSpec

# Seed size: the largest relational entity gets TARGET_ROWS, every entity at least MIN_ROWS.
# Enough that each planner prefers an index to a scan, small enough for a few seconds per engine.
TARGET_ROWS = 20_000
MIN_ROWS = 3_000
DATA_FILE = "data/indexes.json"
TITLES = {"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL", "sqlite": "SQLite"}
SQLITE_PREFIX = (
    "queries.sql appends the wildcard in SQL (LIKE :p || '%'); SQLite answers LIKE from an index only when "
    "the right side is a literal or a bare parameter (index_render.prefix_predicate writes that form)"
)


def seed_rows(plan: Plan, target: int = TARGET_ROWS, minimum: int = MIN_ROWS) -> dict[str, int]:
    """Seed counts: the largest relational entity gets `target` rows, every entity ≥ `minimum`."""
    model = plan.model
    relational = plan.records_in(Family.RELATIONAL)
    largest = max((model.entities[e].growth.initial_rows for e in relational), default=0)
    return rows_for_scale(model, target / largest if largest else 1.0, minimum=minimum)


def time_ordered(plan: Plan, tables: list[TableSpec]) -> dict[str, str]:
    """Table → time column for append-only entities: their rows are loaded in time order, the
    order they arrive in (BRIN and the planner's correlation statistics depend on it)."""
    found = {}
    for table in tables:
        decided = plan.entities.get(table.entity)
        if table.kind is TableKind.ENTITY and decided is not None and decided.profile.append_only:
            column = plan.model.entities[table.entity].growth.time_attribute
            if column is not None:
                found[table.name] = column
    return found


def _dialect(engine: str) -> sa.engine.Dialect:
    return DIALECTS[engine].sa_dialect()


def _constants_sql(table: sa.Table, spec: TableSpec, pattern_name: str, plan: Plan, engine: str) -> str | None:
    pattern = pattern_named(plan.model, pattern_name)
    if pattern is None:
        return None
    terms = []
    for flt in pattern.filters:
        if "value" not in flt.model_fields_set:
            continue
        column = next((c.name for c in spec.columns if c.source == f"{pattern.entity}.{flt.attribute}"), flt.attribute)
        expression = constant_predicate(table.c[column], flt.value, engine)
        terms.append(str(expression.compile(dialect=_dialect(engine), compile_kwargs={"literal_binds": True})))
    return " AND ".join(terms) or None


def _index_columns(table: sa.Table, name: str) -> set[str]:
    index = next((i for i in table.indexes if i.name == name), None)
    if index is None:
        return set()
    found = {c.name for c in index.columns}
    found |= set(index.dialect_options["postgresql"].get("include") or [])
    return found


def _expectation(route: PatternRoute, spec: TableSpec, table: sa.Table, engine: str) -> dict[str, Any]:
    if route.via == "primary key":
        return {"via": "primary key", "columns": list(spec.primary_key), "covering": False}
    if route.via.startswith("unique"):
        group = next(u for u in spec.uniques if route.via == f"unique ({', '.join(u)})")
        return {"via": "unique", "columns": list(group), "covering": False}
    index = next(i for i in spec.indexes if i.name == route.index)
    fts = index.kind is IndexKind.FULLTEXT and engine == "sqlite"
    if not fts and not any(i.name == index.name for i in table.indexes):
        # The engine's renderer found a constraint index that already is this one (PP402 says so).
        return {"via": "unique", "columns": [c.name for c in index.columns], "covering": False}
    covering = route.covering
    if covering and engine != "postgresql":
        # Without INCLUDE the columns become key columns; MariaDB may have had to drop some.
        wanted = {c.name for c in index.columns} | set(index.include)
        covering = wanted <= _index_columns(table, index.name)
    return {"via": "index", "index": fts_table(index) if fts else index.name, "covering": covering}


def _param(name: str, column: str, op: str, sql: str) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "column": column, "op": op}
    if op == "prefix":
        # `LIKE :p || '%'` (or CONCAT) takes the bare prefix; `LIKE :p` takes it with the `%`.
        appended = re.search(rf":{name}\b\s*\|\|\s*'%'|concat\(\s*:{name}\b", sql, re.IGNORECASE)
        found["wildcard"] = appended is None
    return found


def _proofs(plan: Plan, tables: list[TableSpec], builds: Mapping[str, EngineBuild]) -> list[dict[str, Any]]:
    rendered = {engine: builds[engine].rendered for engine in ENGINES}
    queries = {engine: {q.name: q for q in builds[engine].queries} for engine in ENGINES}
    proofs: list[dict[str, Any]] = []
    for spec in tables:
        index_plan = index_plan_of(spec)
        if index_plan is None:
            continue
        for route in index_plan.routes:
            if route.via == "none":
                continue
            proof: dict[str, Any] = {"name": route.pattern, "table": spec.name, "engines": {}}
            for engine in ENGINES:
                table = rendered[engine].metadata.tables[spec.name]
                check: dict[str, Any] = {"expect": _expectation(route, spec, table, engine), "constants": None}
                if route.pattern.startswith("fk:"):
                    # A child lookup (loads, cascades): not in queries.sql, so its SQL is here.
                    columns = route.pattern[route.pattern.index("(") + 1 : -1].split(", ")
                    check["sql"] = str(foreign_key_select(table, columns).compile(dialect=_dialect(engine)))
                    check["params"] = [{"name": c, "column": c, "op": "eq"} for c in columns]
                else:
                    query = queries[engine].get(route.pattern)
                    if query is None:
                        continue
                    check["params"] = [_param(p.name, p.column, p.op, query.sql) for p in query.params]
                    check["constants"] = _constants_sql(table, spec, route.pattern, plan, engine)
                    if engine == "sqlite" and any(p.get("wildcard") is False for p in check["params"]):
                        check["expect"] = {"via": "none", "covering": False, "reason": SQLITE_PREFIX}
                proof["engines"][engine] = check
            proofs.append(proof)
    return sorted(proofs, key=lambda p: (p["table"], p["name"]))


def index_test_data(plan: Plan, tables: list[TableSpec], builds: Mapping[str, EngineBuild]) -> dict[str, Any]:
    """The content of `tests/data/indexes.json`."""
    return {
        "rows": seed_rows(plan),
        "time_ordered": time_ordered(plan, tables),
        "proofs": _proofs(plan, tables, builds),
    }


def index_tests(plan: Plan, tables: list[TableSpec], builds: Mapping[str, EngineBuild]) -> dict[str, str]:
    """Generated files (paths relative to the output's `tests/` folder) proving the index design.

    They need the relational target's own `tests/data/relational.json` and `relational/<engine>/`
    files beside them (the relational Target emits both).
    """
    data = index_test_data(plan, tables, builds)
    if not data["proofs"]:
        return {}
    files = {DATA_FILE: json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"}
    for engine in ENGINES:
        files[f"test_{engine}_indexes.py"] = (
            _RUNTIME.replace("@ENGINE@", engine).replace("@TITLE@", TITLES[engine]).replace("@MODEL@", plan.model.name)
        )
    return files


# The generated test. Hand-written text rather than a template engine: its only variables are the
# engine and the model name; our own tests run it on every scenario and lint it.
_RUNTIME = '''"""Generated by polyplan for model @MODEL@: proves from @TITLE@'s own query plans that every
access pattern uses the index designed for it (docs/index-plan.md says which index and why).

Run: `polyplan validate <plan folder> --engine @ENGINE@`, or pytest on this file. A throw-away
database gets ../relational/@ENGINE@/schema.sql and seeded rows (enough that a sequential scan
loses); after the planner's statistics are refreshed, each pattern's query from
../relational/@ENGINE@/queries.sql is EXPLAINed with parameters taken from the loaded rows.
data/indexes.json holds the proofs and the seed sizes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.oracle import expand_lists
from polyplan.validate.relational import Harness

ENGINE = "@ENGINE@"
HERE = Path(__file__).resolve().parent
DATA = json.loads((HERE / "data" / "indexes.json").read_text(encoding="utf-8"))
PROOFS = [p for p in DATA["proofs"] if ENGINE in p["engines"]]
HARNESS = dataclasses.replace(Harness.from_plan_folder(HERE, ENGINE), rows=DATA["rows"])

pytestmark = getattr(pytest.mark, ENGINE)


def _quote(connection: sa.Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


def _vacuum_until_all_visible(connection: sa.Connection) -> None:
    """VACUUM ANALYZE until every heap page is all-visible, so index-only scans are costed as such.

    An autovacuum ANALYZE that started while the load was still running holds a snapshot older
    than the last rows, and a VACUUM during it cannot mark their pages all-visible.
    """
    lagging = "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relallvisible < relpages"
    for _ in range(100):
        connection.exec_driver_sql("VACUUM ANALYZE")
        if not connection.exec_driver_sql(lagging).scalar():
            return
        time.sleep(0.2)
    pytest.fail("VACUUM could not make every page all-visible in 20 s (a long transaction holds the horizon back)")


@pytest.fixture(scope="module")
def database() -> Iterator[sa.Engine]:
    url = resolve_url(ENGINE)
    with scratch_database(url) as engine:
        for table, column in DATA["time_ordered"].items():
            HARNESS.loaded[table].sort(key=lambda row, c=column: (row[c] is None, str(row[c])))
        HARNESS.load(engine)
        if ENGINE == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                _vacuum_until_all_visible(connection)
        else:
            with engine.begin() as connection:
                if ENGINE == "mysql":
                    for table in HARNESS.metadata.tables:
                        connection.exec_driver_sql(f"ANALYZE TABLE {_quote(connection, table)}").fetchall()
                else:
                    connection.exec_driver_sql("ANALYZE")
        yield engine


# --- parameters taken from the loaded rows --------------------------------------------------


def _word(text: Any) -> str:
    words = [w for w in re.split(r"[^0-9A-Za-z]+", str(text)) if len(w) >= 4]
    return max(words, key=lambda w: (len(w), w)) if words else str(text)


def _params(connection: sa.Connection, table: str, check: dict[str, Any]) -> dict[str, Any]:
    params = check["params"]
    if not params:
        return {}
    q = lambda name: _quote(connection, name)  # noqa: E731
    where = f" WHERE {check['constants']}" if check["constants"] else ""
    count = connection.exec_driver_sql(f"SELECT count(*) FROM {q(table)}{where}").scalar() or 0
    columns = sorted({p["column"] for p in params})
    selected = ", ".join(q(c) for c in columns)
    not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in columns)
    where = f"{where} AND {not_null}" if where else f" WHERE {not_null}"
    row = connection.exec_driver_sql(f"SELECT {selected} FROM {q(table)}{where} ORDER BY {selected} LIMIT 1 OFFSET {count // 3}").first()
    assert row is not None, f"no seeded row of {table} matches the pattern's constants"
    sample = dict(zip(columns, row, strict=True))
    values: dict[str, Any] = {}
    for param in params:
        column, value = param["column"], sample[param["column"]]
        if param["op"] in ("eq", "from"):
            values[param["name"]] = value
        elif param["op"] == "in":
            others = connection.exec_driver_sql(
                f"SELECT DISTINCT {q(column)} FROM {q(table)} WHERE {q(column)} IS NOT NULL ORDER BY 1 LIMIT 2"
            ).scalars()
            values[param["name"]] = [value, *[o for o in others if o != value][:1]]
        elif param["op"] == "to":
            step = max(1, count // 100)
            above = sa.text(f"SELECT {q(column)} FROM {q(table)} WHERE {q(column)} > :v ORDER BY 1 LIMIT 1 OFFSET {step}")
            upper = connection.execute(above, {"v": value}).scalar()
            values[param["name"]] = upper if upper is not None else value
        elif param["op"] == "prefix":
            prefix = re.match(r"[0-9A-Za-z]{1,4}|.", str(value)).group(0)  # type: ignore[union-attr]
            values[param["name"]] = prefix + ("%" if param.get("wildcard") else "")
        else:
            values[param["name"]] = _word(value)
    return values


def _explain(connection: sa.Connection, sql: str, params: dict[str, Any], lists: list[str]) -> Any:
    prefix = {"postgresql": "EXPLAIN (FORMAT JSON) ", "mysql": "EXPLAIN ", "sqlite": "EXPLAIN QUERY PLAN "}[ENGINE]
    sql, bound = expand_lists(sql, params, lists)
    return connection.execute(sa.text(prefix + sql), bound).fetchall()


# --- what each engine's plan says ------------------------------------------------------------


def _index_names(connection: sa.Connection, table: str, columns: list[str]) -> set[str]:
    """Indexes of `table` whose key starts with exactly `columns` (any order): constraint indexes."""
    inspector = sa.inspect(connection)
    extra = {"include_auto_indexes": True} if ENGINE == "sqlite" else {}
    found = {
        str(i["name"])
        for i in inspector.get_indexes(table, **extra)
        if set(i["column_names"][: len(columns)]) == set(columns)
    }
    primary = inspector.get_pk_constraint(table)
    if set(primary["constrained_columns"][: len(columns)]) == set(columns):
        found.add({"postgresql": str(primary["name"]), "mysql": "PRIMARY", "sqlite": "PRIMARY KEY"}[ENGINE])
    for unique in inspector.get_unique_constraints(table):
        if set(unique["column_names"][: len(columns)]) == set(columns) and unique["name"]:
            found.add(str(unique["name"]))
    if ENGINE == "sqlite":
        for name, in connection.exec_driver_sql(f"SELECT name FROM pragma_index_list({_quote(connection, table)!r})"):
            info = [r[2] for r in connection.exec_driver_sql(f"SELECT * FROM pragma_index_info({name!r})")]
            if set(info[: len(columns)]) == set(columns):
                found.add(str(name))
    return found


def _postgresql_nodes(plan: Any) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _postgresql_nodes(child)


def _check_postgresql(rows: Any, table: str, names: set[str], covering: bool) -> None:
    nodes = list(_postgresql_nodes(rows[0][0][0]["Plan"]))
    shown = json.dumps(rows[0][0], indent=1)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == table], f"sequential scan of {table}:\\n{shown}"
    used = [n for n in nodes if n.get("Index Name") in names]
    assert used, f"none of {sorted(names)} is used:\\n{shown}"
    if covering:
        assert any(n["Node Type"] == "Index Only Scan" for n in used), f"not index-only:\\n{shown}"


def _check_mysql(rows: Any, table: str, names: set[str], covering: bool) -> None:
    mine = [r._mapping for r in rows if r._mapping["table"] == table]
    shown = "\\n".join(str(dict(r._mapping)) for r in rows)
    assert mine, f"{table} is not in the plan:\\n{shown}"
    assert all(r["type"] != "ALL" for r in mine), f"full scan of {table}:\\n{shown}"
    assert any(r["key"] in names for r in mine), f"none of {sorted(names)} is used:\\n{shown}"
    if covering:
        extras = [set((r["Extra"] or "").split("; ")) for r in mine if r["key"] in names]
        assert any("Using index" in e for e in extras), f"not index-only:\\n{shown}"


def _check_sqlite(rows: Any, table: str, names: set[str], covering: bool) -> None:
    details = [str(r[3]) for r in rows]
    shown = "\\n".join(details)
    assert f"SCAN {table}" not in details, f"full scan of {table}:\\n{shown}"
    used = [
        d for d in details
        if any(re.search(rf"\\bINDEX {re.escape(n)}\\b|^SCAN {re.escape(n)} VIRTUAL TABLE", d) for n in names)
        or ("PRIMARY KEY" in names and re.search(rf"^SEARCH {re.escape(table)} USING (INTEGER )?PRIMARY KEY", d))
    ]
    assert used, f"none of {sorted(names)} is used:\\n{shown}"
    if covering:
        assert any("COVERING INDEX" in d for d in used), f"not index-only:\\n{shown}"


CHECKS = {"postgresql": _check_postgresql, "mysql": _check_mysql, "sqlite": _check_sqlite}


@pytest.mark.parametrize("proof", PROOFS, ids=[p["name"] for p in PROOFS])
def test_pattern_uses_its_index(database: sa.Engine, proof: dict[str, Any]) -> None:
    check = proof["engines"][ENGINE]
    expect = check["expect"]
    table = proof["table"]
    sql = check["sql"] if "sql" in check else HARNESS.queries[proof["name"]].sql
    if expect["via"] == "none":
        pytest.xfail(expect["reason"])
    with database.connect() as connection:
        if expect["via"] == "index":
            names = {expect["index"]}
        else:
            names = _index_names(connection, table, expect["columns"])
            assert names, f"no index of {table} leads with {expect['columns']}"
        params = _params(connection, table, check)
        lists = [p["name"] for p in check["params"] if p["op"] == "in"]
        rows = _explain(connection, sql, params, lists)
    CHECKS[ENGINE](rows, table, names, expect["covering"])


def test_every_designed_index_exists(database: sa.Engine) -> None:
    inspector = sa.inspect(database)
    expected = [(p["table"], p["engines"][ENGINE]["expect"]) for p in PROOFS]
    wanted = {(table, expect["index"]) for table, expect in expected if expect["via"] == "index"}
    for table, name in sorted(wanted):
        if ENGINE == "sqlite" and not any(i["name"] == name for i in inspector.get_indexes(table)):
            assert name in inspector.get_table_names(), f"{name} (index or FTS5 table) is missing"
            continue
        assert any(i["name"] == name for i in inspector.get_indexes(table)), f"{table}.{name} is missing"
'''

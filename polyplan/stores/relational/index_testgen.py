"""Generated EXPLAIN-proof tests of the index design (pure: design → test files).

For each engine, `test_<engine>_indexes.py` creates a throw-away database, applies
`relational/<engine>/schema.sql` and loads seeded rows through the relational target's own
harness (`polyplan.validate.relational.Harness`, which reads `tests/data/relational.json`), only
more of them: enough that a sequential scan loses. After refreshing the planner's statistics it
asks the engine to EXPLAIN each access pattern's query exactly as `queries.sql` holds it (and each
child lookup of a pattern that loads children), with parameters taken from the loaded rows, and
asserts from the engine's own plan that the designed index is used (index-only where the design
says covering) *with an index condition on its leading designed columns* and that the pattern's
table is not scanned, and that every designed index in the catalog has the designed columns,
order, predicate and included columns. The plan and catalog readers are
`polyplan.stores.relational.explain` (pure, unit-tested on recorded plans) and `.catalog`.
`tests/data/indexes.json` holds the proofs, the designed indexes per engine and the seed sizes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, UnaryExpression

from polyplan.model.bounded_loads import bounded_loads
from polyplan.model.derived import pattern_named
from polyplan.model.schema import Family
from polyplan.perf import data_json
from polyplan.plan.ir import Plan
from polyplan.seed.generate import feasible_rows, rows_for_scale
from polyplan.stores.relational.explain import IndexShape, KeyPart
from polyplan.stores.relational.geo import geo_index_names
from polyplan.stores.relational.index_render import constant_predicate, foreign_key_select, fts_table
from polyplan.stores.relational.indexes import GEO_VIA, PatternRoute, index_plan_of
from polyplan.stores.relational.render import DIALECTS, INDEX_DDL, EngineBuild
from polyplan.stores.relational.spec import IndexKind, TableKind, TableSpec

# Seed size: the largest relational entity gets TARGET_ROWS, every entity a proof reads at least
# MIN_ROWS. Enough that each planner prefers an index to a scan, small enough for a few seconds
# per engine.
TARGET_ROWS = 20_000
MIN_ROWS = 3_000
DATA_FILE = "data/indexes.json"
TITLES = {"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL", "sqlite": "SQLite"}
SQLITE_PREFIX = (
    "queries.sql appends the wildcard in SQL (LIKE :p || '%'); SQLite answers LIKE from an index only when "
    "the right side is a literal or a bare parameter (index_render.prefix_predicate writes that form)"
)


def seed_rows(
    plan: Plan, proved: Collection[str] | None = None, target: int = TARGET_ROWS, minimum: int = MIN_ROWS
) -> dict[str, int]:
    """Seed counts: the largest relational entity gets `target` rows, the others the model's
    proportion of them; `proved` entities (those an EXPLAIN proof reads; all when None) and those
    whose size the model does not give get at least `minimum`.

    A parent only referenced keeps its proportion: raised to `minimum`, 10 warehouses of 10
    districts became 3,000 districts of about 7 orders each, where reading a district's orders
    through the primary key is as good as the designed (district, customer) index, and MariaDB
    rightly took the primary key. The index design counted the model's 3,000 orders a district.
    """
    model = plan.model
    relational = plan.records_in(Family.RELATIONAL)
    largest = max((model.entities[e].growth.initial_rows for e in relational), default=0)
    scaled = rows_for_scale(model, target / largest if largest else 1.0, minimum=1, maximum=target)
    floored = set(model.entities) if proved is None else set(proved)
    floored |= {name for name, entity in model.entities.items() if not entity.growth.initial_rows}
    return feasible_rows(
        model,
        {name: max(count, min(minimum, target)) if name in floored else count for name, count in scaled.items()},
    )


def time_ordered(plan: Plan, tables: list[TableSpec]) -> dict[str, str]:
    """Table → time column for append-only entities: their rows are loaded in time order, the
    order they arrive in (BRIN and the planner's correlation statistics depend on it). Not a
    table that refers to itself: seeded rows refer only to earlier rows, and reordered they would
    refer to rows not yet inserted."""
    found = {}
    for table in tables:
        decided = plan.entities.get(table.entity)
        if any(fk.ref_table == table.name for fk in table.foreign_keys):
            continue
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


def _key_part(expression: Any, engine: str, index: sa.Index) -> KeyPart:
    """One rendered key expression (a column, maybe DESC, maybe COLLATE) as a KeyPart."""
    descending = False
    collation = None
    if isinstance(expression, UnaryExpression) and expression.modifier is operators.desc_op:
        descending, expression = True, expression.element
    if isinstance(expression, BinaryExpression) and expression.operator is operators.collate:
        collation, expression = str(expression.right.collation), expression.left
    name = str(expression.name)
    opclass = (index.dialect_options["postgresql"].get("ops") or {}).get(name) if engine == "postgresql" else None
    length = None
    if engine == "mysql":
        lengths = index.dialect_options["mysql"].get("length")
        length = lengths.get(name) if isinstance(lengths, dict) else lengths
    return KeyPart(name, descending, collation, opclass, length)


def _shape(table: sa.Table, index: sa.Index, engine: str) -> IndexShape:
    """A rendered index as the catalog check compares it: what schema.sql was built to create.

    Kept in the index's `info`: every route through the index asks again, and compiling its
    DDL each time was a fifth of emitting the index proofs. An index belongs to one engine's
    metadata, so `engine` is always the same for it."""
    found = index.info.get("polyplan_shape")
    if not isinstance(found, IndexShape):
        found = index.info["polyplan_shape"] = _compile_shape(table, index, engine)
    return found


def _compile_shape(table: sa.Table, index: sa.Index, engine: str) -> IndexShape:
    # schema.sql compiled this index already (render._ddl keeps the text); compiled here otherwise.
    ddl = index.info.get(INDEX_DDL) or str(CreateIndex(index).compile(dialect=_dialect(engine)))
    where = " ".join(ddl.rsplit(" WHERE ", 1)[1].split()) if " WHERE " in ddl else None
    method = str(index.dialect_options["postgresql"].get("using") or "btree") if engine == "postgresql" else "btree"
    if engine == "mysql" and index.dialect_options["mysql"].get("prefix") in ("FULLTEXT", "SPATIAL"):
        method = str(index.dialect_options["mysql"]["prefix"]).lower()
    return IndexShape(
        name=str(index.name),
        table=table.name,
        columns=tuple(_key_part(e, engine, index) for e in index.expressions),
        include=tuple(index.dialect_options["postgresql"].get("include") or ()) if engine == "postgresql" else (),
        where=where,
        unique=bool(index.unique),
        method=method,
    )


def designed_shapes(tables: Sequence[TableSpec], build: EngineBuild, engine: str) -> list[IndexShape]:
    """Every designed index `engine`'s schema creates, as its catalog must show it, by (table, name).

    An index an engine does not create (GIN off PostgreSQL, one a constraint already is, SQLite's
    FTS5 tables) is absent here; `test_every_designed_index_exists` covers the FTS5 tables. The
    geo points' indexes (stores/relational/geo.py) are here too: no plan proof names them (the
    geo checks prove the answers), so without this a reordered (lat, lon) B-tree went unseen.
    """
    metadata = build.rendered.metadata
    shapes = []
    for spec in tables:
        table = metadata.tables[spec.name]
        rendered = {str(i.name): i for i in table.indexes}
        for name in [*(d.name for d in spec.indexes), *geo_index_names(spec, engine)]:
            if name in rendered:
                shapes.append(_shape(table, rendered[name], engine))
    return sorted(shapes, key=lambda s: (s.table, s.name))


def _condition(key: list[str], kinds: Mapping[str, str]) -> list[str]:
    """The leading key columns a plan must search on: the run of columns the pattern fixes
    (equalities, IN lists, constants), then the first bounded one (range, prefix), as a B-tree
    can seek on no more. Empty when the first key column is only sorted on."""
    found = []
    for column in key:
        kind = kinds.get(column)
        if kind is None:
            break
        found.append(column)
        if kind == "range":
            break
    return found


def _filter_kinds(params: list[dict[str, Any]], constants: list[str]) -> dict[str, str]:
    """Column → "eq" (fixed to one or a few values) or "range" (bounded), from a pattern's
    parameters and constant filters. Full-text terms are the full-text index's business."""
    kinds = {c: "eq" for c in constants}
    for param in params:
        if param["op"] in ("eq", "in"):
            kinds[param["column"]] = "eq"
        elif param["op"] in ("from", "above", "to", "through", "prefix"):
            kinds.setdefault(param["column"], "range")
    return kinds


def _equivalent_uniques(spec: TableSpec, kinds: Mapping[str, str], found: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Other unique keys (the primary key, unique rules) as good as the routed index: the pattern
    fixes every column of one by equality (it finds one row whichever index it takes), or seeks
    its whole key and that covers the routed condition (a range on a unique column: the same rows
    in the same order). An engine may rightly pick any of them (SQLite takes the narrower one)."""
    routed = set(found.get("condition", ()))
    keys = [tuple(spec.primary_key)] if spec.primary_key else []
    alternatives: list[dict[str, Any]] = []
    for key in [*keys, *spec.uniques]:
        condition = _condition(list(key), kinds)
        if list(key) == found.get("columns") or len(condition) != len(key):
            continue
        if all(kinds[c] == "eq" for c in key) or set(key) >= routed:
            entry = {"columns": list(key), "condition": condition}
            if entry not in alternatives:
                alternatives.append(entry)
    return alternatives


def _expectation(
    route: PatternRoute, spec: TableSpec, table: sa.Table, engine: str, kinds: Mapping[str, str]
) -> dict[str, Any]:
    found = _routed_expectation(route, spec, table, engine, kinds)
    if found["via"] != "none" and not found.get("fulltext"):
        also = _equivalent_uniques(spec, kinds, found)
        if also:
            found["also"] = also
    return found


def _routed_expectation(
    route: PatternRoute, spec: TableSpec, table: sa.Table, engine: str, kinds: Mapping[str, str]
) -> dict[str, Any]:
    if route.via == "primary key":
        columns = list(spec.primary_key)
        return {"via": "primary key", "columns": columns, "covering": False, "condition": _condition(columns, kinds)}
    if route.via.startswith("unique"):
        group = next(u for u in spec.uniques if route.via == f"unique ({', '.join(u)})")
        return {"via": "unique", "columns": list(group), "covering": False, "condition": _condition(list(group), kinds)}
    index = next(i for i in spec.indexes if i.name == route.index)
    fts = index.kind is IndexKind.FULLTEXT and engine == "sqlite"
    rendered = next((i for i in table.indexes if i.name == index.name), None)
    if not fts and rendered is None:
        # The engine's renderer found a constraint index that already is this one (PP402 says so).
        columns = [c.name for c in index.columns]
        return {"via": "unique", "columns": columns, "covering": False, "condition": _condition(columns, kinds)}
    covering = route.covering
    if covering and engine != "postgresql":
        # Without INCLUDE the columns become key columns; MariaDB may have had to drop some.
        wanted = {c.name for c in index.columns} | set(index.include)
        covering = wanted <= _index_columns(table, index.name)
    found: dict[str, Any] = {"via": "index", "index": fts_table(index) if fts else index.name, "covering": covering}
    if index.kind is IndexKind.FULLTEXT:
        # PostgreSQL searches the GIN index on the generated tsvector column (its only key);
        # MariaDB's plan says `fulltext` and SQLite's names the FTS5 table.
        found["fulltext"] = True
        found["condition"] = (
            [p.name for p in _shape(table, rendered, engine).columns]
            if engine == "postgresql" and rendered is not None
            else []
        )
    else:
        assert rendered is not None
        found["condition"] = _condition([p.name for p in _shape(table, rendered, engine).columns], kinds)
    return found


def _appends_wildcard(name: str, sql: str) -> bool:
    """Whether the SQL appends the `%` to prefix parameter `name` (`LIKE :p || '%'`, or CONCAT)."""
    return re.search(rf":{name}\b\s*\|\|\s*'%'|concat\(\s*:{name}\b", sql, re.IGNORECASE) is not None


def _param(name: str, column: str, op: str, sql: str) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "column": column, "op": op}
    if op == "prefix":
        # `LIKE :p || '%'` takes the bare prefix; `LIKE :p` takes it with the `%`.
        found["wildcard"] = not _appends_wildcard(name, sql)
    return found


def served_patterns(tables: Sequence[TableSpec], build: EngineBuild, engine: str) -> dict[str, list[str]]:
    """Index name → the access patterns (and `fk:` child lookups) `engine` answers from that
    designed index, in (table, pattern) order: the routes `_proofs` expects to use it."""
    queries = {q.name: q for q in build.queries}
    found: list[tuple[str, str, str]] = []
    for spec in tables:
        index_plan = index_plan_of(spec)
        if index_plan is None:
            continue
        rendered = {str(i.name) for i in build.rendered.metadata.tables[spec.name].indexes}
        for route in index_plan.routes:
            if route.via != "index" or route.index not in rendered:
                continue  # a key or constraint serves it, or this engine made no such index
            if not route.pattern.startswith("fk:"):
                query = queries.get(route.pattern)
                if query is None:
                    continue
                if engine == "sqlite" and any(
                    p.op == "prefix" and _appends_wildcard(p.name, query.sql) for p in query.params
                ):
                    continue  # SQLITE_PREFIX
            found.append((spec.name, route.pattern, route.index))
    served: dict[str, list[str]] = {}
    for _, pattern, index in sorted(found):
        served.setdefault(index, []).append(pattern)
    return served


def _constant_columns(spec: TableSpec, pattern_name: str, plan: Plan) -> list[str]:
    pattern = pattern_named(plan.model, pattern_name)
    if pattern is None:
        return []
    return [
        next((c.name for c in spec.columns if c.source == f"{pattern.entity}.{flt.attribute}"), flt.attribute)
        for flt in pattern.filters
        if "value" in flt.model_fields_set
    ]


def _top_of_group(plan: Plan, name: str, params: Sequence[Mapping[str, Any]]) -> bool:
    """Whether pattern `name` reads the first rows of one group in an order (equality parameters
    only, a sort and a limit: the latest 10 comments of a post). Its proof binds the largest seeded
    group: in a group of a few rows every engine may rightly take another index on the same
    columns and sort (two bounded loads of one child in different orders have two such indexes)."""
    pattern = pattern_named(plan.model, name) or next(
        (load.child_read() for load in bounded_loads(plan.model) if load.name == name), None
    )
    return (
        pattern is not None
        and bool(pattern.sort)
        and pattern.limit is not None
        and bool(params)
        and all(p["op"] == "eq" for p in params)
    )


def _proofs(plan: Plan, tables: list[TableSpec], builds: Mapping[str, EngineBuild]) -> list[dict[str, Any]]:
    rendered = {engine: builds[engine].rendered for engine in builds}
    queries = {engine: {q.name: q for q in builds[engine].queries} for engine in builds}
    proofs: list[dict[str, Any]] = []
    # A join's plan depends on which side the engine drives from, which its statistics on a few
    # hundred seeded rows decide: the legs of a path pattern are designed, not proved here.
    joined = {read.name for read in plan.loaded.paths}
    for spec in tables:
        index_plan = index_plan_of(spec)
        if index_plan is None:
            continue
        for route in index_plan.routes:
            if route.via in ("none", GEO_VIA, "inside index") or route.pattern in joined:
                # geo routes are proven by the geo checks; an inside-value index (membership.py)
                # has no B-tree shape to prove
                continue
            proof: dict[str, Any] = {"name": route.pattern, "table": spec.name, "engines": {}}
            for engine in builds:
                table = rendered[engine].metadata.tables[spec.name]
                check: dict[str, Any] = {"constants": None}
                if route.pattern.startswith("fk:"):
                    # A child lookup (loads, cascades): not in queries.sql, so its SQL is here.
                    columns = route.pattern[route.pattern.index("(") + 1 : -1].split(", ")
                    check["sql"] = str(foreign_key_select(table, columns).compile(dialect=_dialect(engine)))
                    check["params"] = [{"name": c, "column": c, "op": "eq"} for c in columns]
                    constants: list[str] = []
                else:
                    query = queries[engine].get(route.pattern)
                    if query is None:
                        continue
                    check["params"] = [_param(p.name, p.column, p.op, query.sql) for p in query.params]
                    check["constants"] = _constants_sql(table, spec, route.pattern, plan, engine)
                    constants = _constant_columns(spec, route.pattern, plan)
                    if _top_of_group(plan, route.pattern, check["params"]):
                        check["group"] = "largest"
                kinds = _filter_kinds(check["params"], constants)
                check["expect"] = _expectation(route, spec, table, engine, kinds)
                if engine == "sqlite" and any(p.get("wildcard") is False for p in check["params"]):
                    check["expect"] = {"via": "none", "covering": False, "reason": SQLITE_PREFIX}
                proof["engines"][engine] = check
            proofs.append(proof)
    return sorted(proofs, key=lambda p: (p["table"], p["name"]))


def _proved_entities(plan: Plan, tables: list[TableSpec], proofs: list[dict[str, Any]]) -> set[str]:
    """The entities whose tables the proofs read; for a link table, both ends (its rows follow theirs)."""
    entity_of = {spec.name: spec.entity for spec in tables}
    links = {r.name: (r.from_, r.to) for r in plan.model.relationships}
    found: set[str] = set()
    for proof in proofs:
        entity = entity_of[proof["table"]]
        found.update(links.get(entity, (entity,)))
    return found


def index_test_data(
    plan: Plan,
    tables: list[TableSpec],
    builds: Mapping[str, EngineBuild],
    shapes: Mapping[str, Sequence[IndexShape]],
) -> dict[str, Any]:
    """The content of `tests/data/indexes.json`; `shapes` is `designed_shapes` per engine."""
    proofs = _proofs(plan, tables, builds)
    return {
        "rows": seed_rows(plan, _proved_entities(plan, tables, proofs)),
        "time_ordered": time_ordered(plan, tables),
        "proofs": proofs,
        "indexes": {engine: [s.as_data() for s in shapes[engine]] for engine in builds},
    }


def index_tests(
    plan: Plan,
    tables: list[TableSpec],
    builds: Mapping[str, EngineBuild],
    shapes: Mapping[str, Sequence[IndexShape]],
) -> dict[str, str]:
    """Generated files (paths relative to the output's `tests/` folder) proving the index design;
    `shapes` is `designed_shapes` per engine (computed once by the target, which hands the same
    to the report).

    They need the relational target's own `tests/data/relational.json` and `relational/<engine>/`
    files beside them (the relational Target emits both).
    """
    data = index_test_data(plan, tables, builds, shapes)
    # Without a proof, the catalog check still reads back every index schema.sql creates (a
    # model whose only indexes are its geo points' gets it too).
    if not data["proofs"] and not any(shapes.values()):
        return {}
    files = {DATA_FILE: data_json(data)}
    for engine in builds:
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.stores.relational import catalog, explain
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate import plan_probe
from polyplan.validate.relational import Harness

ENGINE = "@ENGINE@"
HERE = Path(__file__).resolve().parent
DATA = json.loads((HERE / "data" / "indexes.json").read_text(encoding="utf-8"))
PROOFS = [p for p in DATA["proofs"] if ENGINE in p["engines"]]
HARNESS = dataclasses.replace(Harness.from_plan_folder(HERE, ENGINE), rows=DATA["rows"])

pytestmark = getattr(pytest.mark, ENGINE)


def _quote(connection: sa.Connection, name: str) -> str:
    return plan_probe.quote(connection, name)


@pytest.fixture(scope="module")
def database() -> Iterator[sa.Engine]:
    url = resolve_url(ENGINE)
    with scratch_database(url) as engine:
        for table, column in DATA["time_ordered"].items():
            HARNESS.loaded[table].sort(key=lambda row, c=column: (row[c] is None, str(row[c])))
        HARNESS.load(engine)
        if ENGINE == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                if not plan_probe.vacuum_until_all_visible(connection):
                    pytest.fail("VACUUM could not make every page all-visible in 20 s (a long transaction holds the horizon back)")
        else:
            with engine.begin() as connection:
                if ENGINE == "mysql":
                    for table in HARNESS.metadata.tables:
                        connection.exec_driver_sql(f"ANALYZE TABLE {_quote(connection, table)}").fetchall()
                else:
                    connection.exec_driver_sql("ANALYZE")
        yield engine


# --- parameters taken from the loaded rows (polyplan.validate.plan_probe) --------------------


def _params(connection: sa.Connection, table: str, check: dict[str, Any]) -> dict[str, Any]:
    try:
        return plan_probe.pattern_params(connection, table, check)
    except LookupError as error:
        pytest.fail(str(error))


# --- what each engine's plan says ------------------------------------------------------------


def _plan(rows: Any) -> Any:
    """The engine's EXPLAIN output in the form polyplan.stores.relational.explain reads."""
    if ENGINE == "postgresql":
        return rows[0][0]
    if ENGINE == "mysql":
        return [dict(r._mapping) for r in rows]
    return [str(r[3]) for r in rows]


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
            names = plan_probe.constraint_index_names(connection, ENGINE, table, expect["columns"])
            assert names, f"no index of {table} leads with {expect['columns']}"
        names |= plan_probe.partition_indexes(connection, ENGINE, names)
        # Unique keys as good as the routed index (every column fixed: one row either way).
        others = [
            (plan_probe.constraint_index_names(connection, ENGINE, table, other["columns"]), other["condition"])
            for other in expect.get("also", [])
        ]
        params = _params(connection, table, check)
        rows = plan_probe.explain(connection, ENGINE, sql, params, plan_probe.list_params(check))
        # MariaDB's key_len is checked against the byte lengths of the index's key parts.
        every = names.union(*(n for n, _ in others))
        key_parts = {n: catalog.mysql_key_parts(connection, table, n) for n in every} if ENGINE == "mysql" else None
    expectation = explain.Expectation(
        table=table,
        names=frozenset(names),
        condition=tuple(expect["condition"]),
        covering=expect["covering"],
        fulltext=expect.get("fulltext", False),
    )
    alternatives = [dataclasses.replace(expectation, names=frozenset(n), condition=tuple(c)) for n, c in others if n]
    if not any(not explain.plan_problems(ENGINE, _plan(rows), other, key_parts) for other in alternatives):
        explain.assert_plan(ENGINE, _plan(rows), expectation, key_parts)


def test_every_designed_index_exists(database: sa.Engine) -> None:
    inspector = sa.inspect(database)
    expected = [(p["table"], p["engines"][ENGINE]["expect"]) for p in PROOFS]
    wanted = {(table, expect["index"]) for table, expect in expected if expect["via"] == "index"}
    for table, name in sorted(wanted):
        if ENGINE == "sqlite" and not any(i["name"] == name for i in inspector.get_indexes(table)):
            assert name in inspector.get_table_names(), f"{name} (index or FTS5 table) is missing"
            continue
        assert any(i["name"] == name for i in inspector.get_indexes(table)), f"{table}.{name} is missing"


def test_every_designed_index_matches_the_catalog(database: sa.Engine) -> None:
    """Columns, order, predicate and included columns of each index, as the engine records them."""
    problems = []
    with database.connect() as connection:
        for data in DATA["indexes"][ENGINE]:
            designed = explain.IndexShape.from_data(data)
            found = catalog.read_index(connection, ENGINE, designed.table, designed.name)
            if ENGINE == "postgresql" and designed.where is not None:
                # Compared as PostgreSQL prints both (casts, parentheses), not as written.
                where = catalog.postgresql_predicate(connection, designed.table, designed.columns[0].name, designed.where)
                designed = dataclasses.replace(designed, where=where)
            problems += explain.index_problems(ENGINE, designed, found)
    assert not problems, "\\n".join(problems)
'''

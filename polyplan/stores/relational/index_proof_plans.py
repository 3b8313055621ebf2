"""The plan proofs of the generated index tests: for each routed pattern (and child lookup), the
query, where its parameters come from, and what each engine's EXPLAIN must show (pure).

A proof expects the designed index (index-only where the design says covering) with an index
condition on its leading designed columns, or the key or unique rule that serves the pattern;
unique keys as good as the routed index are accepted too. Routes to no index, to a geo index
(the geo checks prove those) or to an inside-value index have no proof. Part of the generated
index proofs (index_testgen.py has the whole); polyplan.stores.relational.explain reads the plans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.bounded_loads import bounded_loads
from polyplan.model.derived import all_attributes, pattern_named
from polyplan.model.domains import attribute_domain
from polyplan.plan.ir import Plan
from polyplan.stores.relational.design import ATTRIBUTE, HOLDS
from polyplan.stores.relational.index_copies import INNODB_SCANS
from polyplan.stores.relational.index_load import PAGE_BYTES, heap_row_bytes
from polyplan.stores.relational.index_proof_catalog import dialect_of, index_shape
from polyplan.stores.relational.index_render import constant_predicate, foreign_key_select, fts_table
from polyplan.stores.relational.index_results import GEO_VIA, PatternRoute, index_plan_of
from polyplan.stores.relational.render import EngineBuild
from polyplan.stores.relational.row_caps import row_cap
from polyplan.stores.relational.spec import IndexKind, TableKind, TableSpec

# A table the model caps at this many rows or fewer on any valid data fits in a page or two: every
# engine may rightly read it whole, so no data the model allows can show an index used (PP477).
CAPPED_ROWS = 100
# ... or fills this many heap pages or fewer at its cap (`index_load.heap_row_bytes`): an index
# probe reads at least two pages (its one leaf, then the row's heap page), so a scan of two is as
# cheap, and cheaper by every engine's cost of a random read. fuzz model 1473: 101 Orders at most
# (one per _Audit), two pages on PostgreSQL, which rightly scans them.
CAPPED_PAGES = 2

SQLITE_PREFIX = (
    "queries.sql appends the wildcard in SQL (LIKE :p || '%'); SQLite answers LIKE from an index only when "
    "the right side is a literal or a bare parameter (index_render.prefix_predicate writes that form)"
)


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
        terms.append(str(expression.compile(dialect=dialect_of(engine), compile_kwargs={"literal_binds": True})))
    return " AND ".join(terms) or None


def _index_columns(table: sa.Table, name: str) -> set[str]:
    index = next((i for i in table.indexes if i.name == name), None)
    if index is None:
        return set()
    found = {c.name for c in index.columns}
    found |= set(index.dialect_options["postgresql"].get("include") or [])
    return found


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


def _partial_equivalents(route: PatternRoute, spec: TableSpec, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    """For a route to a partial index (`(a1) WHERE a0 = 'c'`), the designed indexes whose whole key
    is the predicate's columns (`(a0)`), which the pattern fixes by its constants: a seek on them
    reads exactly the rows the partial index holds, the rest filtered as the partial index's key
    would. On a few hundred seeded rows SQLite takes either (fuzz8's model 21: `ix_customer_a0`
    for `a0 IN ('…') AND a1 = :a1`, routed to `ix_customer_a1_where_a0`)."""
    routed = next((i for i in spec.indexes if i.name == route.index), None)
    if routed is None or not routed.where:
        return []
    predicate = {column for column, _ in routed.where}
    alternatives: list[dict[str, Any]] = []
    for index in spec.indexes:
        key = [c.name for c in index.columns]
        if index is routed or index.where or index.kind is not IndexKind.BTREE or set(key) != predicate:
            continue
        if all(kinds.get(c) == "eq" for c in key) and {"columns": key, "condition": key} not in alternatives:
            alternatives.append({"columns": key, "condition": key})
    return alternatives


def _same_seek_keys(
    spec: TableSpec,
    table: sa.Table,
    engine: str,
    kinds: Mapping[str, str],
    found: Mapping[str, Any],
    sort: Sequence[str] | None,
    seeks: dict[sa.Table, list[tuple[str | None, list[str]]]] | None = None,
) -> list[dict[str, Any]]:
    """Other full B-tree keys (designed indexes, the primary key, unique rules) whose seek is the
    routed one's: the key's seekable prefix (`_condition`) is exactly the routed condition, column
    for column. Such an index reads the same rows in the same order on those columns, so an engine
    may rightly take either (fuzz9's model 734: `a4 range ORDER BY a4 DESC` routed to the unique
    (a4, a3), SQLite sought the retention index `ix_order_a4`; MariaDB's 496: its copy of a
    partial index, built without the predicate, beside a plain index on the same column).

    Only then: an index seeking fewer or other columns is still refused, and so is any when the
    pattern sorts on a column outside the seek (the routed key may deliver that order, another
    would sort, which the plan check does not see), when the routed condition is empty, or when
    the seek is a prefix (`sort` is None: whether a key answers `LIKE 'abc%'` depends on its
    operator class and collation, `_c_collation_keys`). A partial index is no such key except on
    MariaDB, which builds it whole. `seeks` keeps each table's candidates (`_seek_keys`) between
    the routes of one `route_proofs`."""
    routed = list(found.get("condition", ()))
    if sort is None or not routed or not set(sort) <= set(routed):
        return []
    candidates = seeks.get(table) if seeks is not None else None
    if candidates is None:
        candidates = _seek_keys(spec, table, engine)
        if seeks is not None:
            seeks[table] = candidates
    routed_index = found.get("index")
    alternatives: list[dict[str, Any]] = []
    for name, key in candidates:
        if name is not None and name == routed_index:
            continue
        entry = {"columns": key[: len(routed)], "condition": routed}
        if key != found.get("columns") and _condition(key, kinds) == routed and entry not in alternatives:
            alternatives.append(entry)
    return alternatives


# At most this many values (NULL among them) in the key columns a SQLite skip-scan steps over:
# one seek each, beside the rows it reads.
SKIP_SCAN_VALUES = 100


def _skip_scan_keys(
    route: PatternRoute,
    spec: TableSpec,
    engine: str,
    kinds: Mapping[str, str],
    found: Mapping[str, Any],
    sort: Sequence[str] | None,
) -> list[dict[str, Any]]:
    """On SQLite, the primary key and unique rules whose leading columns the pattern leaves free
    but hold few values (`SKIP_SCAN_VALUES`, from the model's bounds), followed by exactly the
    routed condition: a skip-scan (`ANY(a3) AND a0=?`) seeks that condition once per leading
    value and reads the rows the routed index reads, no others.

    Only where the routed condition is all equalities the pattern fixes, the sort lies within it
    (a skip-scan returns rows by leading value, not in the routed order), and a routed partial
    index's predicate columns are in the condition (the seek then holds to the predicate). SQLite
    takes such a plan when its statistics put more rows behind the partial index's one key than
    behind a combination of the unique rule (fuzz13a's 1061: `a0 = '2024-12-06' AND a0 = :a0
    LIMIT 500`, 510 rows of that date under unique (a3, a0) with a3 a nullable decimal(1, 0), all
    NULL there: SQLite sought `sqlite_autoindex_audit_2 (ANY(a3) AND a0=?)` for the 510 rows of
    `ix_audit_a0_where_a0`)."""
    routed = list(found.get("condition", ()))
    if engine != "sqlite" or sort is None or not routed or not set(sort) <= set(routed):
        return []
    if any(kinds.get(c) != "eq" for c in routed):
        return []
    index = next((i for i in spec.indexes if i.name == route.index), None) if route.index else None
    if index is not None and index.where and not {c for c, _ in index.where} <= set(routed):
        return []
    keys = [list(spec.primary_key)] if spec.primary_key else []
    alternatives: list[dict[str, Any]] = []
    for key in [*keys, *(list(u) for u in spec.uniques)]:
        skipped = 0
        while skipped < len(key) and key[skipped] not in kinds:
            skipped += 1
        if not skipped or key == found.get("columns") or _condition(key[skipped:], kinds) != routed:
            continue
        values = 1
        for column in key[:skipped]:
            domain = attribute_domain(spec.column(column).attribute)
            values *= SKIP_SCAN_VALUES + 1 if domain is None else domain + (1 if spec.column(column).nullable else 0)
        entry = {"columns": key, "condition": routed}
        if values <= SKIP_SCAN_VALUES and entry not in alternatives:
            alternatives.append(entry)
    return alternatives


def _seek_keys(spec: TableSpec, table: sa.Table, engine: str) -> list[tuple[str | None, list[str]]]:
    """`_same_seek_keys`' candidates on one engine's table, each with its index name (None for
    the primary key and unique rules): they depend on the table alone, not on the route, so
    `route_proofs` keeps them per table (every route of a table asked for the same list)."""
    partial = {i.name for i in spec.indexes if i.where} if engine != "mysql" else set()
    kinds_of = {i.name: i.kind for i in spec.indexes}
    keys: list[tuple[str | None, list[str]]] = [(None, list(spec.primary_key))] if spec.primary_key else []
    keys += [(None, list(u)) for u in spec.uniques]
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        name = str(index.name)
        if name in partial or kinds_of.get(name) not in (IndexKind.BTREE, IndexKind.UNIQUE):
            continue  # a GIN, BRIN or full-text index seeks otherwise; an index not designed is unknown
        keys.append((name, [p.name for p in index_shape(table, index, engine).columns]))
    return keys


def _expectation(
    route: PatternRoute,
    spec: TableSpec,
    table: sa.Table,
    engine: str,
    kinds: Mapping[str, str],
    sort: Sequence[str] | None = None,
    seeks: dict[sa.Table, list[tuple[str | None, list[str]]]] | None = None,
) -> dict[str, Any]:
    found = _routed_expectation(route, spec, table, engine, kinds)
    if found["via"] != "none" and not found.get("fulltext"):
        also = _equivalent_uniques(spec, kinds, found)
        also += [key for key in _c_collation_keys(spec, table, engine, found) if key not in also]
        also += [entry for entry in _partial_equivalents(route, spec, kinds) if entry not in also]
        also += [
            entry for entry in _same_seek_keys(spec, table, engine, kinds, found, sort, seeks) if entry not in also
        ]
        copy = _copy_condition(route, spec, table, engine, kinds)
        if copy is not None and copy != found.get("condition"):
            seek = {**found, "condition": copy}
            also += [
                entry for entry in _same_seek_keys(spec, table, engine, kinds, seek, sort, seeks) if entry not in also
            ]
        also += [entry for entry in _skip_scan_keys(route, spec, engine, kinds, found, sort) if entry not in also]
        if also:
            found["also"] = also
    return found


def _copy_condition(
    route: PatternRoute, spec: TableSpec, table: sa.Table, engine: str, kinds: Mapping[str, str]
) -> list[str] | None:
    """On MariaDB, for a route to a partial index (built whole there: its key, then the
    predicate's columns), the seek PostgreSQL's proof of the partial index expects: its key
    without the columns its predicate fixes; `_expectation` accepts the keys of that seek
    (`_same_seek_keys`) too. Fuzz model 1016: `a4 = false AND r2_ref = :r` routed to
    `(r2_ref) WHERE a4 = false`, MariaDB's copy (r2_ref, a4); the proof seeds about one row a
    parent, where the copy and the foreign key's (r2_ref) both read it and MariaDB took the
    narrower (r2_ref), as PostgreSQL's proof may. At the design's horizon (≈ 4,371 rows a parent)
    the copy reads half of them; no seeded data the proof can load shows that difference. None
    on other engines and routes."""
    if engine != "mysql":
        return None
    index = next((i for i in spec.indexes if i.name == route.index), None)
    rendered = next((i for i in table.indexes if i.name == route.index), None)
    if index is None or rendered is None or not index.where or index.kind is IndexKind.FULLTEXT:
        return None
    fixed = _fixed_by_predicate(index.where)
    if not fixed or any(kinds.get(column) != "eq" for column in fixed):
        return None
    return _condition([p.name for p in index_shape(table, rendered, engine).columns if p.name not in fixed], kinds)


def _c_collation_keys(spec: TableSpec, table: sa.Table, engine: str, found: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Keys (primary, unique) that serve a PostgreSQL prefix search as well as the routed
    `*_pattern_ops` index in the generated tests' databases, which use the C collation
    (`connect.scratch_database`): there the default operator class answers `LIKE 'abc%'` too,
    so a key leading with the prefixed column seeks the same range (fuzz model 88 took the
    primary key (a0, a2) for `a0 LIKE 'fore%'`). The design keeps the pattern_ops index, which a
    database in another collation needs."""
    if engine != "postgresql" or found["via"] != "index":
        return []
    rendered = next((i for i in table.indexes if i.name == found["index"]), None)
    parts = index_shape(table, rendered, engine).columns if rendered is not None else ()
    if not parts or not (parts[0].opclass or "").endswith("_pattern_ops") or found["condition"] != [parts[0].name]:
        return []
    keys = [tuple(spec.primary_key)] if spec.primary_key else []
    return [
        {"columns": list(key), "condition": [parts[0].name]}
        for key in [*keys, *spec.uniques]
        if key[:1] == (parts[0].name,)
    ]


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
            [p.name for p in index_shape(table, rendered, engine).columns]
            if engine == "postgresql" and rendered is not None
            else []
        )
    else:
        assert rendered is not None
        fixed = _fixed_by_predicate(index.where) if engine == "postgresql" else set()
        key = [p.name for p in index_shape(table, rendered, engine).columns if p.name not in fixed]
        found["condition"] = _condition(key, kinds)
    return found


def _fixed_by_predicate(where: Sequence[tuple[str, Any]]) -> set[str]:
    """Columns a partial index's predicate fixes to one value (`a3 = 1000`, `a1 IN ('gamma')`).

    PostgreSQL leaves a query's condition the predicate implies out of the index condition (every
    entry of the index passes it), so the plan of `a3 = 1000 AND a3 = :a3` reads the partial index
    whole, with no Index Cond, which is the designed index serving the pattern (fuzz model 45)."""
    fixed = set()
    for column, value in where:
        values = list(value) if isinstance(value, tuple | list) else [value]
        if len(values) == 1 and values[0] is not None:
            fixed.add(column)
    return fixed


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
    designed index, in (table, pattern) order: the routes `route_proofs` expects to use it."""
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


def _sort_columns(spec: TableSpec, name: str, plan: Plan) -> list[str]:
    """The columns pattern (or bounded load) `name` sorts on; a sort through a path, which names no
    column of this table, stays as written (so it matches no seek)."""
    pattern = pattern_named(plan.model, name) or next(
        (load.child_read() for load in bounded_loads(plan.model) if load.name == name), None
    )
    if pattern is None:
        return []
    return [
        next((c.name for c in spec.columns if c.source == f"{pattern.entity}.{item.attribute}"), item.attribute)
        for item in pattern.sort
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


def capped_tables(plan: Plan, tables: Sequence[TableSpec]) -> dict[str, tuple[int, str]]:
    """Table → (the most rows it can hold on any valid data, why), for the tables the model caps
    at `CAPPED_ROWS` or fewer, or at `CAPPED_PAGES` heap pages: an entity whose key (or a unique
    rule) ranges over a few values, or whose own unique reference points to such an entity
    (`row_caps.row_cap`), and the child tables of such an entity's lists (`max_items` each) and objects (one each).
    fuzz9's model 325: `user-profile`'s natural key is an enum of 5 values and its list `a0`
    holds at most 5 items, so `user_profile_a0` has 25 rows at most; SQLite rightly scans it."""
    by_name = {spec.name: spec for spec in tables}
    found: dict[str, tuple[int, str]] = {}

    def cap(spec: TableSpec) -> tuple[int, str] | None:
        if spec.name in found:
            return found[spec.name]
        if spec.kind is TableKind.ENTITY:
            return row_cap(spec, by_name)
        if spec.kind is not TableKind.LIST_CHILD or not spec.foreign_keys:
            return None
        parent = by_name.get(spec.foreign_keys[0].ref_table)
        above = cap(parent) if parent is not None else None
        if above is None:
            return None
        if spec.extra.get(HOLDS) != "list":
            return above[0], f"{above[1]}, one {spec.extra.get(ATTRIBUTE)} each"
        attribute = all_attributes(plan.model, spec.entity).get(str(spec.extra.get(ATTRIBUTE)))
        if attribute is None or attribute.max_items is None:
            return None
        rows = above[0] * attribute.max_items
        return rows, f"{above[1]}, {attribute.max_items} {spec.extra.get(ATTRIBUTE)} items at most each"

    for spec in tables:
        capped = cap(spec)
        if capped is None:
            continue
        if capped[0] <= CAPPED_ROWS or capped[0] * heap_row_bytes(spec) <= CAPPED_PAGES * PAGE_BYTES:
            found[spec.name] = capped
    return found


def _capped_reason(table: str, capped: tuple[int, str]) -> str:
    return (
        f"{table} holds at most {capped[0]} rows on any valid data ({capped[1]}): every engine may read so few "
        "rows whole, so no data the model allows can show an index used"
    )


def capped_table_warnings(plan: Plan, tables: Sequence[TableSpec]) -> list[Diagnostic]:
    """PP477 for each table with routed patterns that the model caps at a few rows
    (`capped_tables`): its generated index proofs are expected failures with the reason."""
    capped = capped_tables(plan, tables)
    found = []
    for spec in tables:
        index_plan = index_plan_of(spec) if spec.name in capped else None
        routed = [r.pattern for r in index_plan.routes if r.via not in ("none", GEO_VIA)] if index_plan else []
        if routed:
            found.append(
                Diagnostic(
                    "PP477",
                    f"{_capped_reason(spec.name, capped[spec.name])}; its index proofs "
                    f"({', '.join(sorted(routed))}) are not asserted",
                    f"entities.{spec.entity}",
                    Severity.WARNING,
                )
            )
    return found


def route_proofs(plan: Plan, tables: list[TableSpec], builds: Mapping[str, EngineBuild]) -> list[dict[str, Any]]:
    rendered = {engine: builds[engine].rendered for engine in builds}
    queries = {engine: {q.name: q for q in builds[engine].queries} for engine in builds}
    proofs: list[dict[str, Any]] = []
    # A join's plan depends on which side the engine drives from, which its statistics on a few
    # hundred seeded rows decide: the legs of a path pattern are designed, not proved here.
    joined = {read.name for read in plan.loaded.paths}
    capped = capped_tables(plan, tables)
    seeks: dict[sa.Table, list[tuple[str | None, list[str]]]] = {}
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
            # The pattern's constant and sort columns are the table's, the same for every engine.
            constant_columns: list[str] | None = None
            sort_columns: list[str] | None = None
            for engine in builds:
                table = rendered[engine].metadata.tables[spec.name]
                check: dict[str, Any] = {"constants": None}
                if route.pattern.startswith("fk:"):
                    # A child lookup (loads, cascades): not in queries.sql, so its SQL is here.
                    columns = route.pattern[route.pattern.index("(") + 1 : -1].split(", ")
                    check["sql"] = str(foreign_key_select(table, columns).compile(dialect=dialect_of(engine)))
                    check["params"] = [{"name": c, "column": c, "op": "eq"} for c in columns]
                    constants: list[str] = []
                else:
                    query = queries[engine].get(route.pattern)
                    if query is None:
                        continue
                    check["params"] = [_param(p.name, p.column, p.op, query.sql) for p in query.params]
                    check["constants"] = _constants_sql(table, spec, route.pattern, plan, engine)
                    if constant_columns is None:
                        constant_columns = _constant_columns(spec, route.pattern, plan)
                    constants = constant_columns
                    if _top_of_group(plan, route.pattern, check["params"]):
                        check["group"] = "largest"
                kinds = _filter_kinds(check["params"], constants)
                # None: a prefix seek, which no other key is taken to answer alike (_same_seek_keys)
                prefixed = any(p["op"] == "prefix" for p in check["params"])
                if not prefixed and sort_columns is None:
                    sort_columns = _sort_columns(spec, route.pattern, plan)
                sort = None if prefixed else sort_columns
                check["expect"] = _expectation(route, spec, table, engine, kinds, sort, seeks)
                if engine == "sqlite" and any(p.get("wildcard") is False for p in check["params"]):
                    check["expect"] = {"via": "none", "covering": False, "reason": SQLITE_PREFIX}
                if engine == "mysql" and route.pattern in spec.extra.get(INNODB_SCANS, {}):
                    check["expect"] = {
                        "via": "none",
                        "covering": False,
                        "reason": spec.extra[INNODB_SCANS][route.pattern],
                    }
                if spec.name in capped:
                    reason = f"{_capped_reason(spec.name, capped[spec.name])} (PP477)"
                    check["expect"] = {"via": "none", "covering": False, "reason": reason}
                proof["engines"][engine] = check
            proofs.append(proof)
    return sorted(proofs, key=lambda p: (p["table"], p["name"]))


__all__ = [
    "CAPPED_PAGES",
    "CAPPED_ROWS",
    "SQLITE_PREFIX",
    "capped_table_warnings",
    "capped_tables",
    "route_proofs",
    "served_patterns",
]

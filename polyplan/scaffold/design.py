"""What a scaffolded package contains, decided from the plan (pure).

The read functions run exactly the SQL the relational target wrote to queries.sql (the same
`Query` objects, from `build_engines`); the write statements are compiled by SQLAlchemy from the
same per-dialect metadata schema.sql comes from; the cache keys and TTLs are the Redis design's
(`polyplan.stores.cache.design`). Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.model.schema import COLLECTION_TYPES, Attribute, Family, TypeName, WriteKind
from polyplan.plan.ir import Plan
from polyplan.stores.cache.design import Role
from polyplan.stores.cache.design import design as cache_design
from polyplan.stores.cache.readmodels import read_model
from polyplan.stores.cache.sizing import lookup_set
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.membership import column_attribute
from polyplan.stores.relational.render import DIALECTS, EngineBuild, build_engines, column_for
from polyplan.stores.relational.spec import TableKind, TableSpec
from polyplan.stores.relational.sqltext import Piece, pieces, trim_lines

if TYPE_CHECKING:  # document.py builds on this module's classes
    from polyplan.scaffold.cache_record import RecordScaffold
    from polyplan.scaffold.document import DocumentScaffold
    from polyplan.scaffold.relational_writes import PlannedWrite
    from polyplan.scaffold.wide_column import WideScaffold

# The dialects a scaffold runs on: the application's SQL must exist for the engine it connects to
# (mysql: MariaDB and MySQL, one dialect as in relational/mysql/).
SCAFFOLD_ENGINES = ("postgresql", "mysql", "sqlite")
# Engines whose write statements have no RETURNING: MySQL has none, MariaDB none for UPDATE. The
# write is followed by a SELECT of the row by its key in the same transaction (`after`).
NO_RETURNING = ("mysql",)
OUTBOX_TABLE = "polyplan_outbox"


@dataclass(frozen=True)
class Column:
    """One column of a result or a write, with its model type name."""

    name: str
    kind: str
    nullable: bool
    field: str  # its Python name: the column name made an identifier (`last seen` → `last_seen`)


@dataclass(frozen=True)
class ResultClass:
    """A dataclass of the generated package: an entity's row, or the columns one pattern reads."""

    name: str
    entity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Param:
    """A parameter of a read function: the query's bind name, its column's type and its op."""

    name: str
    kind: str
    op: str


@dataclass(frozen=True)
class CacheKey:
    """A cached answer: key template, TTL and which parameter (or row column) fills each part."""

    template: str
    ttl: int
    parts: tuple[tuple[str, str, str], ...]  # (attribute, parameter, column), kind via the column
    kinds: tuple[tuple[str, str], ...]  # attribute → type name


@dataclass(frozen=True)
class Read:
    """One access pattern as a function."""

    pattern: str
    entity: str
    result: str  # ResultClass name
    single: bool  # a unique lookup: one row or None
    params: tuple[Param, ...]
    sql: dict[str, str]  # engine → text for sa.text (literal colons escaped)
    cache: CacheKey | None
    aggregate: tuple[str, str] | None = None  # an aggregate's value column and the kind it is read as


@dataclass(frozen=True)
class Write:
    """One write pattern as a function over one entity table."""

    name: str
    entity: str
    kind: WriteKind
    result: str  # the entity's ResultClass
    key: tuple[Column, ...]  # primary key columns (update/delete/upsert address the row by them)
    written: tuple[Column, ...]  # columns an update sets
    sql: dict[str, dict[str, str]]  # engine → statement name → text
    outbox: bool  # the entity feeds a projection: the write adds an outbox row


@dataclass(frozen=True)
class SearchSpec:
    """One search index the relay keeps: the plan's write alias and how a row becomes its document."""

    entity: str
    alias: str
    first_index: str
    doc_id: tuple[str, ...]  # the key columns
    fields: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]  # attribute → (object field, column, kind)
    body: dict[str, Any]  # mappings, analysis and shard settings of a bootstrapped first index


@dataclass(frozen=True)
class SearchRead:
    """One access pattern served by a search index: the plan's template, run inline."""

    pattern: str
    entity: str
    alias: str
    hit: ResultClass  # its columns are the document's attributes (after `doc_id` and `score`)
    params: tuple[Param, ...]
    source: str  # the mustache template exactly as <engine>/queries.json has it
    size: int
    facets: tuple[str, ...]


@dataclass(frozen=True)
class Scaffold:
    """Everything the package renderer needs."""

    model: str
    package: str
    engines: tuple[str, ...]
    classes: tuple[ResultClass, ...]
    reads: tuple[Read, ...]
    writes: tuple[Write, ...]
    outbox_ddl: dict[str, tuple[str, ...]]
    outbox_sql: dict[str, dict[str, str]]
    skipped: tuple[tuple[str, str], ...]  # (model path, why the pattern has no function)
    search_engine: str | None = None  # elasticsearch or opensearch, when an index is relayed
    indexes: tuple[SearchSpec, ...] = ()
    search_reads: tuple[SearchRead, ...] = ()
    documents: DocumentScaffold | None = None  # the entities kept in the document store
    wide_column: WideScaffold | None = None  # the entities kept in Cassandra
    records: RecordScaffold | None = None  # the entities kept in Redis as their system of record
    planned_writes: tuple[PlannedWrite, ...] = ()  # run as relational/<engine>/writes.sql has them


def package_name(model: str) -> str:
    """A Python package name for the model: lower case, `_` for anything else, never a leading digit."""
    name = re.sub(r"\W+", "_", model).strip("_").lower() or "app"
    return f"app_{name}" if name[0].isdigit() else name


def class_name(name: str) -> str:
    """`order_line` / `OrderLine` → `OrderLine`."""
    parts = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Row"


def escaped(sql: str) -> str:
    """`sql` for `sa.text`: a colon inside a literal is escaped so it is not read as a parameter
    (`sqltext.text_clause`'s rule, applied when the package is written)."""
    return "".join(text.replace(":", "\\:") if kind is Piece.QUOTED else text for kind, text in pieces(sql))


def _kind_of(attribute: Attribute) -> str:
    return "json" if attribute.type in (*COLLECTION_TYPES, TypeName.OBJECT) else attribute.type.value


def _kind(spec: TableSpec, name: str) -> str:
    return _kind_of(spec.column(name).attribute)


def _param_kind(spec: TableSpec, column: str, op: str, reached: Mapping[str, Attribute]) -> str:
    """A parameter's kind: its column's, for a relationship path the attribute it reaches, for a
    JSON sub-field (`specs#brand`) the declared sub-field's, for `contains` one item's."""
    if column in reached:
        return _kind_of(reached[column])
    attribute = column_attribute(spec, column)
    if op == "contains" and attribute.items is not None:
        attribute = attribute.items
    return _kind_of(attribute)


def _columns(
    spec: TableSpec, names: Sequence[str], joined: Mapping[str, Attribute] | None = None
) -> tuple[Column, ...]:
    """Result columns: the table's, and related fields joined in under their labels (`joined`)."""
    joined = joined or {}

    def column(name: str, field: str) -> Column:
        if name in joined:
            return Column(name, _kind_of(joined[name]), joined[name].nullable, field)
        return Column(name, _kind(spec, name), spec.column(name).nullable, field)

    return tuple(column(n, f) for n, f in zip(names, identifiers(names), strict=True))


def identifiers(names: Sequence[str]) -> list[str]:
    """Python identifiers for column names, distinct, never a keyword or a leading digit."""
    import keyword

    taken: set[str] = {"stores", "row", "key", "cls", "self"}  # names the generated functions use
    found: list[str] = []
    for name in names:
        base = re.sub(r"\W+", "_", name).strip("_") or "column"
        if base[0].isdigit() or keyword.iskeyword(base) or base in taken:
            base = f"{base}_"
        ident, counter = base, 2
        while ident in taken:
            ident, counter = f"{base}{counter}", counter + 1
        taken.add(ident)
        found.append(ident)
    return found


def _compiled(statement: sa.ClauseElement, engine: str) -> str:
    return escaped(trim_lines(str(statement.compile(dialect=DIALECTS[engine].sa_dialect())).strip()))


def _outbox_table(metadata: sa.MetaData, engine: str) -> sa.Table:
    """The outbox: one row per committed change of an entity that feeds a projection.

    `done_at` is set when the relay has applied it; `error` parks an event the relay cannot apply
    (a dead letter, kept with its reason). The partial index keeps the relay's scan small however
    long the history grows (on MySQL/MariaDB, which have no partial index, `_outbox` adds one on
    `(done_at, id)`: the pending rows are its NULL range, in id order).
    """
    from sqlalchemy.dialects import mysql

    # MySQL/MariaDB keep a DATETIME without a zone: the default is UTC, as the relay reads it
    # (CURRENT_TIMESTAMP there is the session's zone), with microseconds for the lag.
    stamp = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")
    default = sa.text("(UTC_TIMESTAMP(6))") if engine == "mysql" else sa.func.current_timestamp()
    table = sa.Table(
        OUTBOX_TABLE,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("op", sa.String(10), nullable=False),
        sa.Column("before", sa.Text().with_variant(mysql.LONGTEXT(), "mysql")),
        sa.Column("after", sa.Text().with_variant(mysql.LONGTEXT(), "mysql")),
        sa.Column("created_at", stamp, nullable=False, server_default=default),
        sa.Column("done_at", stamp),
        sa.Column("error", sa.Text()),
        mysql_engine="InnoDB",  # not the server's defaults: transactions, and JSON payloads in utf8mb4
        mysql_charset="utf8mb4",
    )
    if engine != "mysql":
        sa.Index(
            f"ix_{OUTBOX_TABLE}_pending",
            table.c.id,
            postgresql_where=table.c.done_at.is_(None),
            sqlite_where=table.c.done_at.is_(None),
        )
    return table


def _outbox(engine: str) -> tuple[tuple[str, ...], dict[str, str], sa.Table]:
    from polyplan.stores.relational.render import ddl_statements

    metadata = sa.MetaData()
    table = _outbox_table(metadata, engine)
    ddl = tuple(
        s.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1).replace(
            "CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1
        )
        for s in ddl_statements(metadata, engine)
    )
    if engine == "mysql":
        # The index inside CREATE TABLE IF NOT EXISTS: MySQL has no CREATE INDEX IF NOT EXISTS
        # (MariaDB has), and SQLAlchemy renders an Index only as its own statement.
        create, *rest = ddl
        body, closing = create.rsplit("\n)", 1)
        ddl = (f"{body},\n\tINDEX ix_{OUTBOX_TABLE}_pending (done_at, id)\n){closing}", *rest)
    pending = (
        sa.select(table.c.id, table.c.entity, table.c.op, table.c.before, table.c.after, table.c.created_at)
        .where(table.c.done_at.is_(None))
        .order_by(table.c.id)
        .limit(sa.bindparam("batch"))
        .with_for_update()
    )
    statements = {
        "insert": _compiled(
            sa.insert(table).values(
                entity=sa.bindparam("entity"),
                op=sa.bindparam("op"),
                before=sa.bindparam("before"),
                after=sa.bindparam("after"),
            ),
            engine,
        ),
        # SQLite's compiler adds an OFFSET parameter to every LIMIT; the relay binds none.
        "pending": _compiled(pending, engine).replace(" OFFSET :param_1", ""),
        "done": _compiled(
            sa.update(table).where(table.c.id == sa.bindparam("key_id")).values(done_at=sa.bindparam("now")), engine
        ).replace(":key_id", ":id"),
        "park": _compiled(
            sa.update(table)
            .where(table.c.id == sa.bindparam("key_id"))
            .values(done_at=sa.bindparam("now"), error=sa.bindparam("error")),
            engine,
        ).replace(":key_id", ":id"),
        "lag": _compiled(
            sa.select(sa.func.count(), sa.func.min(table.c.created_at)).where(table.c.done_at.is_(None)), engine
        ),
    }
    return ddl, statements, table


def _write_sql(
    write_kind: WriteKind, table: sa.Table, spec: TableSpec, written: Sequence[str], engine: str
) -> dict[str, str]:
    # Parameters are named by the columns' Python names: a column name need not be an identifier.
    ident = dict(zip(table.c.keys(), identifiers(table.c.keys()), strict=True))
    key = [table.c[n] == sa.bindparam(f"key_{ident[n]}") for n in spec.primary_key]
    everything = list(table.c)

    def returning(statement: Any) -> Any:
        return statement if engine in NO_RETURNING else statement.returning(*everything)

    statements = {"before": _compiled(sa.select(*everything).where(*key).with_for_update(), engine)}
    if write_kind is WriteKind.INSERT:
        statements["write"] = _compiled(
            returning(sa.insert(table).values({c.name: sa.bindparam(ident[c.name]) for c in everything})), engine
        )
        del statements["before"]
    elif write_kind is WriteKind.UPDATE:
        statements["write"] = _compiled(
            returning(sa.update(table).where(*key).values({n: sa.bindparam(ident[n]) for n in written})), engine
        )
    elif write_kind is WriteKind.DELETE:
        statements["write"] = _compiled(returning(sa.delete(table).where(*key)), engine)
    elif engine == "mysql":  # upsert: INSERT … ON DUPLICATE KEY UPDATE (the primary key's, or a unique's)
        from sqlalchemy.dialects import mysql

        upsert = mysql.insert(table).values({c.name: sa.bindparam(ident[c.name]) for c in everything})
        statements["write"] = _compiled(
            upsert.on_duplicate_key_update(
                {c.name: upsert.inserted[c.name] for c in everything if c.name not in spec.primary_key}
            ),
            engine,
        )
    else:  # upsert: the dialect's own INSERT … ON CONFLICT on the primary key
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (postgresql.insert if engine == "postgresql" else sqlite.insert)(table).values(
            {c.name: sa.bindparam(ident[c.name]) for c in everything}
        )
        rest = {c.name: insert.excluded[c.name] for c in everything if c.name not in spec.primary_key}
        statements["write"] = _compiled(
            insert.on_conflict_do_update(index_elements=list(spec.primary_key), set_=rest).returning(*everything),
            engine,
        )
    if engine in NO_RETURNING:
        # No RETURNING: the row is read again by its key in the write's transaction, bound by the
        # names the write's own parameters have (the row's fields for an insert or upsert).
        named = "" if write_kind in (WriteKind.INSERT, WriteKind.UPSERT) else "key_"
        again = [table.c[n] == sa.bindparam(f"{named}{ident[n]}") for n in spec.primary_key]
        statements["after"] = _compiled(sa.select(*everything).where(*again), engine)
    return statements


def design_scaffold(plan: Plan) -> Scaffold:
    """The package for `plan`'s relational system of record and its Redis cache projection."""
    from polyplan.model.dialects import relational_dialects

    model = plan.model
    tables, _ = design_schema(plan)
    engines = tuple(e for e in SCAFFOLD_ENGINES if e in relational_dialects(model))
    if not engines or not plan.records_in(Family.RELATIONAL):
        raise DiagnosticError(
            [
                Diagnostic(
                    "PP810",
                    "nothing to scaffold: the scaffold serves a relational system of record on PostgreSQL, "
                    "MariaDB/MySQL or SQLite, and this plan has "
                    + ("no relational entity" if engines else "neither among options.relational_dialects"),
                    "options.relational_dialects" if not engines else "entities",
                    Severity.ERROR,
                )
            ]
        )
    skipped: list[tuple[str, str]] = []
    builds: dict[str, EngineBuild] = {e: b for e, b in build_engines(plan, tables).items() if e in engines}
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    relational = [n for n in plan.records_in(Family.RELATIONAL) if n in by_entity]
    classes: dict[str, ResultClass] = {}
    for entity in relational:
        spec = by_entity[entity]
        classes[entity] = ResultClass(class_name(entity), entity, _columns(spec, [c.name for c in spec.columns]))
    cache = cache_design(plan) if plan.projections_in(Family.CACHE) else None
    cached = {p: k for k in (cache.keys if cache else ()) if k.role is Role.CACHED for p in k.serves}
    reads: list[Read] = []
    first = builds[engines[0]]
    for query in first.queries:
        pattern = next(p for p in model.access_patterns if p.name == query.name)
        spec = by_entity[query.entity]
        entity_class = classes[query.entity]
        aggregate: tuple[str, str] | None = None
        if pattern.aggregate is not None:  # one row per group: its groups and its value
            from polyplan.scaffold.aggregate_reads import aggregate_result

            grouped, aggregate = aggregate_result(plan, pattern, query)
            result = grouped.name
            classes[f"{query.entity}.{query.name}"] = grouped
        elif tuple(query.columns) == tuple(c.name for c in entity_class.columns):
            result = entity_class.name
        else:
            result = class_name(query.name) + "Row"
            joined = {
                path.slug: path.kind for read in plan.loaded.paths if read.name == query.name for path in read.reads
            }
            classes[f"{query.entity}.{query.name}"] = ResultClass(
                result, query.entity, _columns(spec, query.columns, joined)
            )
        reached = {path.text: path.kind for read in plan.loaded.paths if read.name == query.name for path in read.paths}
        params = tuple(Param(p.name, _param_kind(spec, p.column, p.op, reached), p.op) for p in query.params)
        sql = {e: escaped(trim_lines(next(q.sql for q in builds[e].queries if q.name == query.name))) for e in engines}
        # An aggregate with no groups (its value is its only column) answers one row, whatever its
        # filters select.
        single = lookup_set(model, pattern) is not None or (
            aggregate is not None and len(classes[f"{query.entity}.{query.name}"].columns) == 1
        )
        key = cached.get(query.name)
        cache_key: CacheKey | None = None
        if key is not None and key.read_model is not None and not read_model(key.read_model).answer_is_value:
            # A sorted set, capped list or table hash is not a GET-able answer: reading it as one
            # would fail with WRONGTYPE, so the function reads the system of record and says so.
            skipped.append(
                (
                    f"access_patterns.{query.name}",
                    f"its cache is a {key.read_model}, which the scaffold does not read yet: read uncached",
                )
            )
            key = None
        if key is not None and key.ttl_seconds:
            by_attribute = {f.attribute: f for f in pattern.filters}
            parts = []
            for attribute in key.template.attributes:
                column = column_for(spec, query.entity, attribute)
                param = next((p.name for p in query.params if p.column == column), None)
                if column is None or param is None or attribute not in by_attribute:
                    break
                parts.append((attribute, param, column))
            else:
                cache_key = CacheKey(
                    key.template.render(),
                    key.ttl_seconds,
                    tuple(parts),
                    tuple((a, _kind(spec, c)) for a, _, c in parts),
                )
            if cache_key is None:
                skipped.append(
                    (f"access_patterns.{query.name}", "its cache key is not filled from its parameters: read uncached")
                )
        reads.append(Read(query.name, query.entity, result, single, params, sql, cache_key, aggregate))
    unwritten = [(f"access_patterns.{note.split(':')[0]}", note.split(": ", 1)[1]) for note in first.skipped]
    skipped.extend(unwritten)
    for pattern in model.access_patterns:
        decided = plan.entities.get(pattern.entity)
        if decided is not None and decided.family is not Family.RELATIONAL:
            where = f"{decided.family.value} ({decided.engine})"
            skipped.append((f"access_patterns.{pattern.name}", f"{pattern.entity} is stored in {where}"))
    fed = {name for name, entity in plan.entities.items() if entity.projections}
    writes: list[Write] = []
    planned: list[PlannedWrite] = []
    for index, wanted in enumerate(model.write_patterns):
        if wanted.entity not in relational:
            decided = plan.entities.get(wanted.entity)
            where = f"{decided.family.value} ({decided.engine})" if decided else "no store"
            skipped.append((f"write_patterns.{index}", f"{wanted.entity} is stored in {where}"))
            continue
        if wanted.kind is WriteKind.INCREMENT or wanted.where or wanted.lock is not None:
            # The statements relational/<engine>/writes.sql has (polyplan.scaffold.relational_writes).
            from polyplan.scaffold.relational_writes import design_planned_write

            spec = by_entity[wanted.entity]
            result = classes[wanted.entity].name
            found = design_planned_write(plan, wanted, spec, builds, result, wanted.entity in fed, _param_kind)
            if found is None:
                skipped.append((f"write_patterns.{index}", "relational/<engine>/writes.sql has no statement for it"))
            else:
                planned.append(found)
            continue
        spec = by_entity[wanted.entity]
        written = [
            c.name
            for attribute in wanted.attributes
            for c in spec.columns
            if c.source == f"{wanted.entity}.{attribute}" or c.source.startswith(f"{wanted.entity}.{attribute}.")
        ]
        if wanted.kind is WriteKind.UPDATE and not written:
            written = [c.name for c in spec.columns if c.name not in spec.primary_key]
        statements = {
            e: _write_sql(wanted.kind, builds[e].rendered.metadata.tables[spec.name], spec, written, e) for e in engines
        }
        writes.append(
            Write(
                wanted.name,
                wanted.entity,
                wanted.kind,
                classes[wanted.entity].name,
                _columns(spec, spec.primary_key),
                _columns(spec, written),
                statements,
                wanted.entity in fed,
            )
        )
    outbox_ddl: dict[str, tuple[str, ...]] = {}
    outbox_sql: dict[str, dict[str, str]] = {}
    for engine in engines:
        outbox_ddl[engine], outbox_sql[engine], _ = _outbox(engine)
    from polyplan.scaffold.cache_record import design_records
    from polyplan.scaffold.doc_outbox import document_columns
    from polyplan.scaffold.document import design_documents
    from polyplan.scaffold.wide_column import design_wide_column

    documents = design_documents(plan, skipped)
    # A document-store entity's search index is relayed from its in-document outbox (doc_outbox.py).
    search_engine, indexes, search_reads = _search(plan, by_entity, relational, skipped, document_columns(documents))
    wide_column = design_wide_column(plan, skipped)
    records = design_records(plan, skipped)
    # The patterns these gave a function are no longer "not scaffolded".
    handled = frozenset().union(*(part.handled for part in (documents, wide_column, records) if part is not None))
    handled |= {f"access_patterns.{r.pattern}" for r in search_reads}  # a document-store entity's index
    # A store's own reason replaces the general "is stored in" line of the same pattern.
    explained = {path for path, why in skipped if " is stored in " not in why}
    skipped = [
        (path, why)
        for path, why in skipped
        if path not in handled and not (" is stored in " in why and path in explained)
    ]
    return Scaffold(
        model.name,
        package_name(model.name),
        engines,
        tuple(classes.values()),
        tuple(reads),
        tuple(writes),
        outbox_ddl,
        outbox_sql,
        tuple(skipped),
        search_engine,
        indexes,
        search_reads,
        documents,
        wide_column,
        records,
        tuple(planned),
    )


def _search(
    plan: Plan,
    by_entity: Mapping[str, TableSpec],
    relational: Sequence[str],
    skipped: list[tuple[str, str]],
    documents: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str | None, tuple[SearchSpec, ...], tuple[SearchRead, ...]]:
    """The search indexes the relay keeps (those projected from a scaffolded relational entity) and
    a read per pattern they serve, from the plan's search design (the same mappings and templates
    as <engine>/*.json)."""
    if not plan.projections_in(Family.SEARCH):
        return None, (), ()
    from polyplan.model.derived import all_attributes, pattern_positions
    from polyplan.stores.search.design import design_search
    from polyplan.stores.search.queries import template_source

    design = design_search(plan)
    positions = pattern_positions(plan.model)
    indexes: list[SearchSpec] = []
    search_reads: list[SearchRead] = []
    documents = documents or {}
    for index in design.indexes:
        if index.projection is None or (index.entity not in relational and index.entity not in documents):
            where = "it holds the only copy" if index.projection is None else f"{index.entity} is not scaffolded"
            skipped.extend(
                (f"access_patterns.{positions[p]}", f"its search index is not relayed: {where}") for p in index.patterns
            )
            continue
        attributes = all_attributes(plan.model, index.entity)
        fields: list[tuple[str, tuple[tuple[str, str, str], ...]]] = []
        if index.entity in documents:  # the relay's row holds each attribute under its own name
            kinds = documents[index.entity]
            fields = [(a, (("", a, kinds[a]),)) for a in index.fields if a in kinds]
            doc_id: tuple[str, ...] = tuple(index.doc_id)
        else:
            spec = by_entity[index.entity]
            for attribute in index.fields:
                parts = tuple(
                    (c.source.removeprefix(f"{index.entity}.{attribute}").lstrip("."), c.name, _kind(spec, c.name))
                    for c in spec.columns
                    if c.source == f"{index.entity}.{attribute}" or c.source.startswith(f"{index.entity}.{attribute}.")
                )
                fields.append((attribute, parts))
            doc_id = tuple(column_for(spec, index.entity, a) or a for a in index.doc_id)
        settings = {k: v for k, v in index.settings["index"].items() if k not in ("lifecycle", "plugins")}
        body = {
            "mappings": {"dynamic": "strict", "properties": index.fields},
            "settings": {"index": settings, **{k: v for k, v in index.settings.items() if k != "index"}},
        }
        indexes.append(SearchSpec(index.entity, index.alias, index.first_index, doc_id, tuple(fields), body))
        for query in index.queries:
            names = ["doc_id", "score", *(query.body.get("_source", {}).get("includes") or index.fields)]
            idents = identifiers(names)
            hit = ResultClass(
                class_name(query.pattern) + "Hit",
                index.entity,
                tuple(
                    Column(name, _kind_of(attributes[name]), attributes[name].nullable, ident)
                    for name, ident in zip(names[2:], idents[2:], strict=True)
                ),
            )
            params = tuple(Param(p.name, _search_kind(attributes[p.attribute], p.op), p.op) for p in query.params)
            pattern = plan.model.access_patterns[positions[query.pattern]]
            search_reads.append(
                SearchRead(
                    query.pattern,
                    index.entity,
                    index.alias,
                    hit,
                    params,
                    template_source(query.body),
                    query.size,
                    tuple(pattern.facets),
                )
            )
    return design.engine.name, tuple(indexes), tuple(search_reads)


def _search_kind(attribute: Attribute, op: str) -> str:
    """A search parameter's model type: text for full text and prefixes, a number for geometry, an
    element's type for a collection."""
    if op in ("fulltext", "prefix"):
        return "string"
    if op.startswith(("near_", "box_")):
        return "float"
    if attribute.type in COLLECTION_TYPES and attribute.items is not None:
        return _kind_of(attribute.items)
    return _kind_of(attribute)

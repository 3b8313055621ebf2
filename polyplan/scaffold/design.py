"""What a scaffolded package contains, decided from the plan (pure).

The read functions run exactly the SQL the relational target wrote to queries.sql (the same
`Query` objects, from `build_engines`); the write statements are compiled by SQLAlchemy from the
same per-dialect metadata schema.sql comes from; the cache keys and TTLs are the Redis design's
(`polyplan.stores.cache.design`). Nothing here does I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.model.schema import Family, WriteKind
from polyplan.plan.ir import Plan
from polyplan.scaffold.design_types import (
    CacheKey,
    Column,
    Param,
    Read,
    ResultClass,
    Scaffold,
    SearchRead,
    SearchSpec,
    Write,
)
from polyplan.scaffold.names import _columns, _param_kind, class_name, escaped, identifiers, package_name

# Imported from here before names.py: re-exported.
from polyplan.scaffold.names import _kind as _kind
from polyplan.scaffold.names import _kind_of as _kind_of
from polyplan.scaffold.search_design import _search
from polyplan.scaffold.write_sql import NO_RETURNING, OUTBOX_TABLE, _outbox, _write_sql
from polyplan.stores.cache.design import Role
from polyplan.stores.cache.design import design as cache_design
from polyplan.stores.cache.readmodels import read_model
from polyplan.stores.cache.sizing import lookup_set
from polyplan.stores.relational.design import designed_tables
from polyplan.stores.relational.render import EngineBuild, build_engines, column_for
from polyplan.stores.relational.spec import TableKind
from polyplan.stores.relational.sqltext import trim_lines

if TYPE_CHECKING:  # relational_writes.py builds on this module's classes
    from polyplan.scaffold.relational_writes import PlannedWrite


# The dialects a scaffold runs on: the application's SQL must exist for the engine it connects to
# (mysql: MariaDB and MySQL, one dialect as in relational/mysql/).
SCAFFOLD_ENGINES = ("postgresql", "mysql", "sqlite")


def design_scaffold(plan: Plan) -> Scaffold:
    """The package for `plan`'s relational system of record and its Redis cache projection."""
    from polyplan.model.dialects import relational_dialects

    model = plan.model
    tables = designed_tables(plan)
    engines = tuple(e for e in SCAFFOLD_ENGINES if e in relational_dialects(model))
    # A plan with no relational entity is served by the other stores' modules alone (no SQL, no
    # relational relay); PP810 when nothing at all can be scaffolded (below).
    without_relational = not plan.records_in(Family.RELATIONAL)
    if without_relational:
        engines = ()
    elif not engines:
        raise DiagnosticError(
            [
                Diagnostic(
                    "PP810",
                    "nothing to scaffold: the scaffold serves a relational system of record on PostgreSQL, "
                    "MariaDB/MySQL or SQLite, and options.relational_dialects names none of them",
                    "options.relational_dialects",
                    Severity.ERROR,
                )
            ]
        )
    skipped: list[tuple[str, str]] = []
    builds: dict[str, EngineBuild] = (
        {e: b for e, b in build_engines(plan, tables).items() if e in engines} if engines else {}
    )
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    relational = [n for n in plan.records_in(Family.RELATIONAL) if n in by_entity]
    classes: dict[str, ResultClass] = {}
    for entity in relational:
        spec = by_entity[entity]
        classes[entity] = ResultClass(class_name(entity), entity, _columns(spec, [c.name for c in spec.columns]))
    cache = cache_design(plan) if plan.projections_in(Family.CACHE) else None
    cached = {p: k for k in (cache.keys if cache else ()) if k.role is Role.CACHED for p in k.serves}
    reads: list[Read] = []
    first = builds[engines[0]] if engines else None
    for query in first.queries if first is not None else ():
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
    unwritten = [
        (f"access_patterns.{note.split(':')[0]}", note.split(": ", 1)[1]) for note in (first.skipped if first else ())
    ]
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
    from polyplan.scaffold.keyed_outbox import keyed_columns
    from polyplan.scaffold.wide_column import design_wide_column

    documents = design_documents(plan, skipped)
    wide_column = design_wide_column(plan, skipped)
    records = design_records(plan, skipped)
    # A document-store entity's search index is relayed from its in-document outbox (doc_outbox.py),
    # a Redis or Cassandra record's from its store's outbox (keyed_outbox.py).
    projected = {**document_columns(documents), **keyed_columns(wide_column, records)}
    search_engine, indexes, search_reads = _search(plan, by_entity, relational, skipped, projected)
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
    if without_relational and not handled:  # not one function in any store
        raise DiagnosticError(
            [
                Diagnostic(
                    "PP810",
                    "nothing to scaffold: this plan has no relational entity, and none of its patterns gets a "
                    "function on the document store, Cassandra, Redis records or a search index",
                    "entities",
                    Severity.ERROR,
                )
            ]
        )
    from polyplan.scaffold.cache_parents import design_parents

    result_columns = {c.name: tuple((col.name, col.kind) for col in c.columns) for c in classes.values()}
    cached_reads = {
        r.cache.template: (r.single, result_columns[r.result], tuple(a for a, _, _ in r.cache.parts))
        for r in reads
        if r.cache is not None
    }
    simple = [w.name for w in writes if w.kind in (WriteKind.UPDATE, WriteKind.UPSERT)]
    parents, unrun = design_parents(
        plan, tables, engines, cached_reads, simple, [p.name for p in planned], frozenset(i.entity for i in indexes)
    )
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
        parents,
        tuple(unrun),
    )


__all__ = [
    "NO_RETURNING",
    "OUTBOX_TABLE",
    "SCAFFOLD_ENGINES",
    "CacheKey",
    "Column",
    "Param",
    "Read",
    "ResultClass",
    "Scaffold",
    "SearchRead",
    "SearchSpec",
    "Write",
    "class_name",
    "design_scaffold",
    "escaped",
    "identifiers",
    "package_name",
]

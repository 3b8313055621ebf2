"""The relational target: PostgreSQL, MySQL/MariaDB and SQLite schemas, queries and tests."""

from __future__ import annotations

from typing import Any

from polyplan.diagnostics import Diagnostic
from polyplan.model.dialects import relational_dialects
from polyplan.model.schema import Family
from polyplan.plan.geo import is_geo
from polyplan.plan.ir import Plan
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.relational.caps import caps_sql
from polyplan.stores.relational.copies_sql import render_copies_sql
from polyplan.stores.relational.derived_sql import kept_aggregates, render_derived_sql
from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.designed import RelationalDesign
from polyplan.stores.relational.facets import build_facets
from polyplan.stores.relational.increments import build_increments, render_writes
from polyplan.stores.relational.index_docs import index_docs
from polyplan.stores.relational.index_proof_plans import capped_table_warnings
from polyplan.stores.relational.index_render import concurrent_index_sql
from polyplan.stores.relational.index_testgen import designed_shapes, index_tests
from polyplan.stores.relational.key_limits import key_length_errors
from polyplan.stores.relational.render import (
    DIALECTS,
    ENGINES,
    build_engines,
    engine_diagnostics,
    render_queries,
    render_schema,
)
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.retention_sql import retention_jobs_sql, retention_schema_sql
from polyplan.stores.relational.spec import TableKind, TableSpec
from polyplan.stores.relational.testgen import generate_tests
from polyplan.stores.relational.write_predicates import build_predicate_writes
from polyplan.validate.cases import unobservable_warnings


class Target(StoreTarget):
    """Emits `relational/<engine>/schema.sql` and `queries.sql` for each dialect the model emits
    (`options.relational_dialects`: by default its engine and SQLite), plus tests."""

    family = Family.RELATIONAL
    engines = ENGINES

    def emit(self, plan: Plan) -> Artifacts:
        """Design once, render per engine (pure)."""
        model = plan.model
        tables, diagnostics = design_schema(plan)
        files: dict[str, str] = {}
        summary: dict[str, Any] = {
            "tables": [
                {
                    "name": t.name,
                    "kind": t.kind.value,
                    "stores": t.entity,
                    "columns": len(t.columns),
                    "primary_key": list(t.primary_key),
                    "foreign_keys": len(t.foreign_keys),
                    "indexes": [i.name for i in t.indexes],
                }
                for t in tables
            ],
            "engines": {},
        }
        chosen = model.engines.relational
        index_notes: list[Diagnostic] = []  # what each engine substitutes for an index (index-plan.md)
        builds = build_engines(plan, tables)
        if "mysql" in builds:
            # A key InnoDB cannot hold fails the whole schema: refused, whichever engine is chosen.
            diagnostics.extend(key_length_errors(model, tables, builds["mysql"].rendered.metadata))
        kept = kept_aggregates(model, tables)
        for engine, build in builds.items():
            rendered, queries, skipped = build.rendered, build.queries, build.skipped
            index_notes.extend(d for d in rendered.diagnostics if d.path.startswith("indexes."))
            schema = render_schema(model, rendered)
            retention = retention_schema_sql(tables, rendered.metadata, engine)
            files[f"relational/{engine}/schema.sql"] = f"{schema}\n{retention}" if retention else schema
            jobs = retention_jobs_sql(model, tables, engine)
            if jobs is not None:
                files[f"relational/{engine}/retention.sql"] = jobs
            trims = caps_sql(model, tables, engine)
            if trims is not None:
                files[f"relational/{engine}/caps.sql"] = trims
            files[f"relational/{engine}/queries.sql"] = render_queries(model, engine, queries, skipped)
            facets, facets_skipped = build_facets(plan, tables, rendered.metadata, DIALECTS[engine])
            if facets or facets_skipped:
                files[f"relational/{engine}/facets.sql"] = render_queries(model, engine, facets, facets_skipped)
            derived = render_derived_sql(model, kept, engine)
            if derived is not None:
                files[f"relational/{engine}/derived.sql"] = derived
            copies = render_copies_sql(model, tables, engine)
            if copies is not None:
                files[f"relational/{engine}/copies.sql"] = copies
            writes = build_increments(plan, tables, rendered) + build_predicate_writes(plan, tables, rendered)
            if writes:
                files[f"relational/{engine}/writes.sql"] = render_writes(model, engine, writes)
            summary["engines"][engine] = {
                "schema": f"relational/{engine}/schema.sql",
                "queries": f"relational/{engine}/queries.sql",
                "tables": len(rendered.metadata.tables),
                "constraints": sum(len(c) for c in rendered.constraints.values()),
                "queries_written": len(queries),
                "queries_skipped": skipped,
            }
            if engine == chosen:
                diagnostics.extend(rendered.diagnostics)
                diagnostics.extend(engine_diagnostics(model, tables, engine))
        summary["entity_tables"] = {t.entity: t.name for t in tables if t.kind is TableKind.ENTITY}
        aged = {rule.entity: rule for t in tables if (rule := retention_of(t)) is not None}
        if aged:
            summary["retention"] = {
                entity: {**rule.as_data(), "archive_table": rule.archive_table} for entity, rule in sorted(aged.items())
            }
        tests = generate_tests(plan, tables, builds)
        # Each engine's designed indexes as its schema creates them: the index tests' data and the
        # report both read them, so they are read off the metadata once.
        shapes = {engine: designed_shapes(tables, build, engine) for engine, build in builds.items()}
        tests.update(index_tests(plan, tables, builds, shapes))
        diagnostics.extend(capped_table_warnings(plan, tables))
        # The data tests' reads through relationships and geo reads have oracles of their own.
        own_oracle = {read.name for read in plan.loaded.paths} | {p.name for p in model.access_patterns if is_geo(p)}
        diagnostics.extend(unobservable_warnings(model, tables, own_oracle))
        if "postgresql" in builds:
            files["relational/postgresql/indexes_concurrently.sql"] = concurrent_index_sql(
                builds["postgresql"].rendered.metadata, [i for t in tables for i in t.indexes]
            )
        docs = {"index-plan.md": index_docs(plan, tables, index_notes)}
        diagnostics.extend(_security(plan, tables, files, tests, summary))
        diagnostics.extend(_erasure(plan, tables, builds, files, summary))
        return Artifacts(
            files=files,
            tests=tests,
            docs=docs,
            diagnostics=tuple(_unique(diagnostics)),
            summary=summary,
            design=RelationalDesign(tuple(tables), builds, shapes),
        )


def _erasure(
    plan: Plan, tables: list[TableSpec], builds: dict[str, Any], files: dict[str, str], summary: dict[str, Any]
) -> list[Diagnostic]:
    """`relational/<engine>/erasure.sql` when the model names a data subject stored relationally."""
    from polyplan.security.erasure import (
        AUDIT_ERASURE_FILE,
        ERASURE_FILE,
        audit_covered,
        design_erasure,
        render_audit_erasure_sql,
        render_erasure_sql,
        step_summary,
        unreached,
    )

    model = plan.model
    if model.security.data_subject is None:
        return []
    erasure = design_erasure(model, tables)
    if erasure.subject_table is None or erasure.diagnostics:
        return list(erasure.diagnostics)
    for engine, build in builds.items():
        files[f"relational/{engine}/{ERASURE_FILE}"] = render_erasure_sql(
            model, engine, erasure, tables, build.rendered.metadata
        )
    summary["erasure"] = {"subject": erasure.subject, "table": erasure.subject_table, "steps": step_summary(erasure)}
    from polyplan.security.erasure_audit import render_mysql_audit_erasure_sql

    rewritten: list[str] = []
    renderers = {"postgresql": render_audit_erasure_sql, "mysql": render_mysql_audit_erasure_sql}
    for engine, render_audit in renderers.items():
        security = summary.get("security", {}).get(engine, {})
        if not security.get("audit_table"):
            continue
        audited = security["audited_tables"]
        text = render_audit(model, erasure, tables, security["audit_table"], audited)
        if text is None:
            continue
        files[f"relational/{engine}/{AUDIT_ERASURE_FILE}"] = text
        if engine == model.engines.relational:
            # The chosen engine's file is the procedure the plan states (and PP450 no longer warns).
            summary["erasure"]["audit_file"] = f"relational/{engine}/{AUDIT_ERASURE_FILE}"
            rewritten = [s.entity for s in audit_covered(erasure, audited)]
    from polyplan.security.erasure_graph import store_steps

    # Relationships the MongoDB and Cassandra erasure scripts follow, at any depth (a Cassandra
    # entity they cannot find gets its own PP450 from erasure_stores).
    elsewhere = [s.relationship for engine in ("mongodb", "cassandra") for s in store_steps(plan, engine)]
    return unreached(plan, erasure, rewritten, elsewhere)


def _security(
    plan: Plan, tables: list[TableSpec], files: dict[str, str], tests: dict[str, str], summary: dict[str, Any]
) -> list[Diagnostic]:
    """`relational/<engine>/security.sql` and its generated tests, when the model states security."""
    from polyplan.security.design import applies
    from polyplan.security.relational import SECURITY_ENGINES, relational_security, render_security_sql
    from polyplan.security.testgen import security_tests

    model = plan.model
    if not applies(model):
        return []
    found: list[Diagnostic] = []
    summary["security"] = {}
    for engine in (e for e in SECURITY_ENGINES if e in relational_dialects(model)):
        security = relational_security(model, tables, engine)
        files[f"relational/{engine}/security.sql"] = render_security_sql(model, security)
        tests[f"test_{engine}_security.py"] = security_tests(engine, security)
        summary["security"][engine] = {
            "file": f"relational/{engine}/security.sql",
            "roles": dict(security.roles),
            "tenant_tables": {t.table: t.relation for t in security.tenant_tables},
            "audit_table": security.audit_table,
            "audited_tables": list(security.audited_tables),
            "entity_of": {t.name: t.entity for t in tables},
        }
        if security.spaces is not None:
            from polyplan.security.tenant_spaces import name_patterns

            space, member = name_patterns(security.spaces)
            summary["security"][engine]["tenant_spaces"] = {
                "tables": list(security.spaces.tables),
                "space": space,
                "member": member,
            }
        if engine == model.engines.relational:
            found.extend(security.diagnostics)
    found.extend(_encryption(plan, tables, files, tests, summary))
    return found


def _encryption(
    plan: Plan, tables: list[TableSpec], files: dict[str, str], tests: dict[str, str], summary: dict[str, Any]
) -> list[Diagnostic]:
    """`relational/<engine>/encryption.sql` when `encrypt_pii` puts PII columns in a relational store."""
    from polyplan.diagnostics import Severity
    from polyplan.security.encryption import (
        ENCRYPTION_ENGINES,
        encrypted_columns,
        encryption_layout,
        render_encryption_sql,
    )
    from polyplan.security.encryption_testgen import DATA_FILE, encryption_data, encryption_tests

    model = plan.model
    # The engine the plan chose for its relational entities (the model's choice, or the default).
    chosen = next((d.engine for d in plan.entities.values() if d.family is Family.RELATIONAL), "postgresql")
    columns, found = encrypted_columns(model, tables, chosen)
    if not columns:
        return found
    summary["encryption"] = {}
    tests[DATA_FILE] = encryption_data(tables)
    for engine in (e for e in ENCRYPTION_ENGINES if e in relational_dialects(model)):
        layout = encryption_layout(model, tables, engine)
        files[f"relational/{engine}/encryption.sql"] = render_encryption_sql(model, layout)
        tests[f"test_{engine}_encryption.py"] = encryption_tests(engine, layout)
        summary["encryption"][engine] = {
            c.context: {"method": c.method, "ciphertext": c.ciphertext, "keyed_hash": c.keyed_hash}
            for c in layout.columns
        }
    if chosen not in ENCRYPTION_ENGINES:
        found.append(
            Diagnostic(
                "PP446",
                f"encrypt_pii: no encryption.sql for {chosen}: it alters no constraint in place (a table rebuild) "
                "and has no database-side cryptography; the application must write envelopes and keyed hashes "
                "into columns of its own, or choose postgresql or mysql",
                "security.encrypt_pii",
                Severity.WARNING,
            )
        )
    return found


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[Diagnostic] = set()
    result: list[Diagnostic] = []
    for diagnostic in diagnostics:
        if diagnostic not in seen:
            seen.add(diagnostic)
            result.append(diagnostic)
    return result


__all__ = ["Target"]

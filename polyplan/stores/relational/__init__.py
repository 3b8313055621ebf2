"""The relational target: PostgreSQL, MySQL/MariaDB and SQLite schemas, queries and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyplan.diagnostics import Diagnostic
from polyplan.forked import can_fork, fork
from polyplan.model.dialects import RELATIONAL_DIALECTS, relational_dialects
from polyplan.model.schema import Family, RequirementsModel
from polyplan.plan.geo import is_geo
from polyplan.plan.ir import Plan
from polyplan.stores.base import Artifacts, Started, StoreTarget
from polyplan.stores.relational.caps import caps_sql
from polyplan.stores.relational.copies_sql import render_copies_sql
from polyplan.stores.relational.derived_sql import kept_aggregates, render_derived_sql
from polyplan.stores.relational.design import design_schema_probed
from polyplan.stores.relational.designed import RelationalDesign
from polyplan.stores.relational.explain import IndexShape
from polyplan.stores.relational.facets import build_facets
from polyplan.stores.relational.increments import build_increments, render_writes
from polyplan.stores.relational.index_docs import index_docs
from polyplan.stores.relational.index_proof_plans import capped_table_warnings, route_proofs
from polyplan.stores.relational.index_render import concurrent_index_sql
from polyplan.stores.relational.index_testgen import (
    designed_shapes,
    index_test_files,
    merge_proofs,
    proof_data,
    proof_seed_rows,
)
from polyplan.stores.relational.key_limits import key_length_errors
from polyplan.stores.relational.render import (
    DIALECTS,
    ENGINES,
    EngineBuild,
    EngineMemos,
    build_engines,
    engine_diagnostics,
    engine_memos,
    render_queries,
    render_schema,
)
from polyplan.stores.relational.retention import retention_of
from polyplan.stores.relational.retention_sql import retention_jobs_sql, retention_schema_sql
from polyplan.stores.relational.spec import TableKind, TableSpec
from polyplan.stores.relational.testgen import engine_test_module, layout
from polyplan.stores.relational.write_predicates import build_predicate_writes
from polyplan.validate.cases import unobservable_warnings

if TYPE_CHECKING:
    from polyplan.security.erasure import ErasurePlan


class Target(StoreTarget):
    """Emits `relational/<engine>/schema.sql` and `queries.sql` for each dialect the model emits
    (`options.relational_dialects`: by default its engine and SQLite), plus tests."""

    family = Family.RELATIONAL
    engines = ENGINES

    def emit(self, plan: Plan, jobs: int = 1) -> Artifacts:
        """Design once, render per engine (pure); see `start`."""
        return self.start(plan, jobs).finish()

    def start(self, plan: Plan, jobs: int = 1) -> Started:
        """Design once and render per engine; the returned function finishes and returns the
        artifacts. With `jobs` ≥ 2 on a large enough model, a forked worker renders every engine
        but the one the report describes (`_split`) until that function is called (the caller
        does other work meanwhile), and its texts are merged in the order one process makes
        them: the output is the same bytes."""
        model = plan.model
        tables, before, probes, after = design_schema_probed(plan)
        engines = relational_dialects(model)
        here, there = _split(model, tables, engines, jobs)
        # One process makes the PP420 probes here, as design_schema does. With a worker they are
        # made after the fork, the first `cut` here and the rest there (they need no engine); the
        # engines' shared memos are made before it, so that both processes inherit them.
        cut = len(probes.probes) if not there else round(len(probes.probes) * PROBES_HERE)
        memos = engine_memos(plan, tables) if there else None
        # The worker sends its parts back as text and data; its builds (SQLAlchemy objects, most
        # of its memory) die with it, unfreed: exiting is cheaper than collecting them.
        worker = fork(lambda: (_engine_parts(plan, tables, there, memos)[0], probes.run(cut))) if there else None
        try:
            probed_here = probes.run(0, cut)
            parts, builds = _engine_parts(plan, tables, here, memos)
            # What needs no engine's build is made here while the worker runs, and merged below
            # where one process made it.
            relational_json = layout(plan, tables)
            # A route is proved whatever the engines (route_proofs), so one engine's proofs name
            # the tables whose rows the proofs load.
            proof_rows = proof_seed_rows(plan, tables, next(iter(parts.values())).proofs) if parts else None
            # The data tests' reads through relationships and geo reads have oracles of their own.
            own_oracle = {read.name for read in plan.loaded.paths} | {
                p.name for p in model.access_patterns if is_geo(p)
            }
            data_warnings = [*capped_table_warnings(plan, tables), *unobservable_warnings(model, tables, own_oracle)]
            secure_files: dict[str, str] = {}
            secure_tests: dict[str, str] = {}
            secure_summary: dict[str, Any] = {}
            secure = _security(plan, tables, secure_files, secure_tests, secure_summary)
        except BaseException:
            if worker is not None:
                worker.cancel()
            raise
        # Its tables are final here (the capacity plan sizes them meanwhile); every engine's index
        # shapes are filled in when the worker's are back.
        shapes: dict[str, Sequence[IndexShape]] = {}
        design = RelationalDesign(tuple(tables), builds, shapes)

        def finish() -> Artifacts:
            done = dict(parts)
            probed_there: list[Diagnostic] = []
            if worker is not None:
                with worker:
                    theirs, probed_there = worker.result()
                done.update(theirs)
            return _assemble(
                plan,
                tables,
                [*before, *probed_here, *probed_there, *after],
                {engine: done[engine] for engine in engines},  # one process's order
                design,
                shapes,
                relational_json,
                proof_rows,
                data_warnings,
                (secure, secure_files, secure_tests, secure_summary),
            )

        return Started(finish, design) if worker is None else Started(finish, design, worker.cancel)


def _assemble(
    plan: Plan,
    tables: list[TableSpec],
    diagnostics: list[Diagnostic],
    parts: dict[str, _EnginePart],
    design: RelationalDesign,
    shapes: dict[str, Sequence[IndexShape]],
    relational_json: str,
    proof_rows: dict[str, int] | None,
    data_warnings: list[Diagnostic],
    secure: tuple[list[Diagnostic], dict[str, str], dict[str, str], dict[str, Any]],
) -> Artifacts:
    """The relational artifacts from every engine's part, in the order one process makes them."""
    model = plan.model
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
    files: dict[str, str] = {}
    index_notes: list[Diagnostic] = []  # what each engine substitutes for an index (index-plan.md)
    if "mysql" in parts:
        # A key InnoDB cannot hold fails the whole schema: refused, whichever engine is chosen.
        diagnostics.extend(parts["mysql"].key_errors)
    for engine, part in parts.items():
        index_notes.extend(part.index_notes)
        files.update(part.files)
        summary["engines"][engine] = part.summary
        if engine == model.engines.relational:
            diagnostics.extend(part.diagnostics)
    summary["entity_tables"] = {t.entity: t.name for t in tables if t.kind is TableKind.ENTITY}
    aged = {rule.entity: rule for t in tables if (rule := retention_of(t)) is not None}
    if aged:
        summary["retention"] = {
            entity: {**rule.as_data(), "archive_table": rule.archive_table} for entity, rule in sorted(aged.items())
        }
    tests = {"data/relational.json": relational_json}
    tests.update({f"test_{engine}.py": part.test_module for engine, part in parts.items()})
    # Each engine's designed indexes as its schema creates them: the index tests' data and the
    # report both read them, so they are read off the metadata once.
    shapes.update({engine: part.shapes for engine, part in parts.items()})  # `design`'s
    proofs = merge_proofs([part.proofs for part in parts.values()])
    tests.update(index_test_files(plan, proof_data(plan, tables, proofs, shapes, list(parts), proof_rows), list(parts)))
    diagnostics.extend(data_warnings)
    if "postgresql" in parts:
        files.update(parts["postgresql"].concurrently)
    docs = {"index-plan.md": index_docs(plan, tables, index_notes)}
    secured, secure_files, secure_tests, secure_summary = secure
    files.update(secure_files)
    tests.update(secure_tests)
    summary.update(secure_summary)
    diagnostics.extend(secured)
    diagnostics.extend(_erasure(plan, tables, parts, files, summary))
    return Artifacts(
        files=files,
        tests=tests,
        docs=docs,
        diagnostics=tuple(_unique(diagnostics)),
        summary=summary,
        design=design,
    )


# Below this many tables × engines a worker costs more than it saves. Forking, pickling the
# texts back and the worker's start cost ~0.05 s of CPU in all at any size; what the parent hands
# off grows with the model: at 21 tables × engines it saves the parent 0.04 s, at 45 0.10 s, at 93
# 0.18 s, at 237 0.49 s (docs/benchmarks.md, "Tenth round").
FORK_MIN_TABLE_ENGINES = 60
# The share of the PP420 probes (tables, in order) the parent makes when a worker renders; the
# worker makes the rest beside its engines. Chosen so that both processes finish about together
# (docs/benchmarks.md, "Eleventh round"); any share gives the same diagnostics.
PROBES_HERE = 0.25


def _split(
    model: RequirementsModel, tables: Sequence[TableSpec], engines: Sequence[str], jobs: int
) -> tuple[list[str], list[str]]:
    """The engines rendered here and those a forked worker renders (none with `jobs` 1, a small
    model, or no fork). The report's engine (the model's, else PostgreSQL) stays here: the
    report reads its build, and only this process's builds are handed on."""
    keep = model.engines.relational or RELATIONAL_DIALECTS[0]
    anchor = keep if keep in engines else engines[0]
    if jobs < 2 or len(engines) < 2 or len(tables) * len(engines) < FORK_MIN_TABLE_ENGINES or not can_fork():
        return list(engines), []
    return [anchor], [e for e in engines if e != anchor]


@dataclass
class _EnginePart:
    """Everything one engine contributes to the relational output, as plain text and data (what
    a worker sends back)."""

    files: dict[str, str]  # relational/<engine>/… in the order they are merged
    summary: dict[str, Any]  # plan.json's stores.relational.engines.<engine>
    test_module: str  # tests/test_<engine>.py
    shapes: list[IndexShape]  # designed_shapes
    proofs: list[dict[str, Any]]  # route_proofs of this engine alone
    index_notes: list[Diagnostic]
    diagnostics: list[Diagnostic]  # reported when this is the model's engine
    key_errors: list[Diagnostic]  # InnoDB's key lengths (MySQL)
    concurrently: dict[str, str]  # PostgreSQL's indexes_concurrently.sql
    erasure: str | None  # relational/<engine>/erasure.sql when erasure applies


def _engine_parts(
    plan: Plan, tables: list[TableSpec], engines: Sequence[str], memos: EngineMemos | None = None
) -> tuple[dict[str, _EnginePart], dict[str, EngineBuild]]:
    """Build and render each of `engines` (the builds share their memos, as `build_engines` does,
    starting from `memos` when given); the parts and the builds."""
    from polyplan.security.erasure import render_erasure_sql

    model = plan.model
    kept = kept_aggregates(model, tables)
    erasure = _erasure_design(plan, tables)
    parts: dict[str, _EnginePart] = {}
    builds = build_engines(plan, tables, engines, memos)
    for engine, build in builds.items():
        rendered, queries, skipped = build.rendered, build.queries, build.skipped
        schema = render_schema(model, rendered)
        retention = retention_schema_sql(tables, rendered.metadata, engine)
        facets, facets_skipped = build_facets(plan, tables, rendered.metadata, DIALECTS[engine])
        writes = build_increments(plan, tables, rendered) + build_predicate_writes(plan, tables, rendered)
        texts = {  # in the order they are merged; None: not written for this model
            "schema.sql": f"{schema}\n{retention}" if retention else schema,
            "retention.sql": retention_jobs_sql(model, tables, engine),
            "caps.sql": caps_sql(model, tables, engine),
            "queries.sql": render_queries(model, engine, queries, skipped),
            "facets.sql": render_queries(model, engine, facets, facets_skipped) if facets or facets_skipped else None,
            "derived.sql": render_derived_sql(model, kept, engine),
            "copies.sql": render_copies_sql(model, tables, engine),
            "writes.sql": render_writes(model, engine, writes) if writes else None,
        }
        files = {f"relational/{engine}/{name}": text for name, text in texts.items() if text is not None}
        concurrently = {}
        if engine == "postgresql":
            concurrently["relational/postgresql/indexes_concurrently.sql"] = concurrent_index_sql(
                rendered.metadata, [i for t in tables for i in t.indexes]
            )
        parts[engine] = _EnginePart(
            files=files,
            summary={
                "schema": f"relational/{engine}/schema.sql",
                "queries": f"relational/{engine}/queries.sql",
                "tables": len(rendered.metadata.tables),
                "constraints": sum(len(c) for c in rendered.constraints.values()),
                "queries_written": len(queries),
                "queries_skipped": skipped,
            },
            test_module=engine_test_module(plan, tables, build, engine),
            shapes=designed_shapes(tables, build, engine),
            proofs=route_proofs(plan, tables, {engine: build}),
            index_notes=[d for d in rendered.diagnostics if d.path.startswith("indexes.")],
            diagnostics=[*rendered.diagnostics, *engine_diagnostics(model, tables, engine)]
            if engine == model.engines.relational
            else [],
            key_errors=key_length_errors(model, tables, rendered.metadata) if engine == "mysql" else [],
            concurrently=concurrently,
            erasure=None if erasure is None else render_erasure_sql(model, engine, erasure, tables, rendered.metadata),
        )
    return parts, builds


def _erasure_design(plan: Plan, tables: list[TableSpec]) -> ErasurePlan | None:
    """The erasure plan when the model names a data subject stored relationally and nothing
    stops it (then every engine gets its erasure.sql)."""
    from polyplan.security.erasure import design_erasure

    if plan.model.security.data_subject is None:
        return None
    erasure = design_erasure(plan.model, tables)
    return None if erasure.subject_table is None or erasure.diagnostics else erasure


def _erasure(
    plan: Plan, tables: list[TableSpec], parts: dict[str, _EnginePart], files: dict[str, str], summary: dict[str, Any]
) -> list[Diagnostic]:
    """`relational/<engine>/erasure.sql` when the model names a data subject stored relationally."""
    from polyplan.security.erasure import (
        AUDIT_ERASURE_FILE,
        ERASURE_FILE,
        audit_covered,
        design_erasure,
        render_audit_erasure_sql,
        step_summary,
        unreached,
    )

    model = plan.model
    if model.security.data_subject is None:
        return []
    erasure = design_erasure(model, tables)
    if erasure.subject_table is None or erasure.diagnostics:
        return list(erasure.diagnostics)
    for engine, part in parts.items():
        assert part.erasure is not None  # made by _engine_parts from the same design
        files[f"relational/{engine}/{ERASURE_FILE}"] = part.erasure
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

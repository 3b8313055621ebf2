"""The document family (MongoDB): collections, embedding, validators, indexes, shard keys."""

from __future__ import annotations

from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.security.design import applies
from polyplan.security.mongodb_roles import ROLES_FILE, mongodb_roles, render_roles_script
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.document import generated_tests, render, testgen
from polyplan.stores.document.derived import derived_writes
from polyplan.stores.document.design import design
from polyplan.stores.document.increments import build_writes
from polyplan.stores.document.predicates import build_bulk_writes
from polyplan.stores.document.spec import DocumentDesign
from polyplan.stores.document.subset import subset_writes

ROOT = "mongodb"


def summary(document: DocumentDesign) -> dict[str, Any]:
    """What plan.json shows under stores.document."""
    return {
        "engine": render.ENGINE,
        "collections": [
            {
                "name": c.name,
                "entity": c.entity,
                "embedded": [e.child for e in c.embedded],
                "indexes": [i.name for i in c.indexes],
                "shard_key": [[p, d] for p, d in c.shard.keys] if c.shard.sharded else None,
                "data_bytes": round(c.avg_document_bytes * c.documents_at_horizon),
            }
            for c in document.collections
        ],
        "embedding": [
            {"relationship": e.relationship, "parent": e.parent, "child": e.child, "embedded": e.embedded}
            for e in document.embeddings
        ],
    }


class Target(StoreTarget):
    """MongoDB: collection definitions, queries, a pymongo setup script, generated tests."""

    family = Family.DOCUMENT
    engines = ("mongodb",)

    def emit(self, plan: Plan, jobs: int = 1) -> Artifacts:
        """Design and render the MongoDB artifacts of `plan` (pure)."""
        document = design(plan)
        diagnostics = list(document.diagnostics)
        files = {
            f"{ROOT}/collections/{c.name}.json": render.dumps(render.collection_json(document, c))
            for c in document.collections
        }
        if document.collections:
            writes = build_writes(plan, document)
            bulk, warnings = build_bulk_writes(plan, document)
            diagnostics.extend(warnings)
            names = {c.entity: c.name for c in document.collections}
            subset = subset_writes(list(document.subsets), names)
            derived, embedded = derived_writes(plan.model, document)
            diagnostics.extend(embedded)
            files[f"{ROOT}/queries.json"] = render.render_queries(document, writes, bulk, subset, derived)
            files[f"{ROOT}/setup.py"] = render.render_setup(document)
            files[f"{ROOT}/design.md"] = render.render_design_md(document)
            if applies(plan.model):
                # The security design's roles, as MongoDB privileges (security/mongodb_roles.py).
                roles, found = mongodb_roles(plan.model, document)
                files[ROLES_FILE] = render_roles_script(plan.model, roles)
                diagnostics += found
        tests: dict[str, str] = {}
        if document.collections:
            try:
                tests[testgen.DATA_FILE] = testgen.render_data(plan, document)
                tests[testgen.TEST_FILE] = generated_tests.render_test(
                    document, bool(writes), bool(document.subsets), bool(derived)
                )
            except ValueError as exc:  # the seed generator cannot satisfy the model's rules
                diagnostics.append(
                    Diagnostic("PP402", f"no MongoDB test data could be generated: {exc}", "", Severity.WARNING)
                )
        return Artifacts(
            files=files, tests=tests, diagnostics=tuple(diagnostics), summary=summary(document), design=document
        )

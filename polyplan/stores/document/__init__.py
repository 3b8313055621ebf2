"""The document family (MongoDB): collections, embedding, validators, indexes, shard keys."""

from __future__ import annotations

from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.document import render, testgen
from polyplan.stores.document.design import design
from polyplan.stores.document.increments import build_writes
from polyplan.stores.document.spec import DocumentDesign

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

    def emit(self, plan: Plan) -> Artifacts:
        """Design and render the MongoDB artifacts of `plan` (pure)."""
        document = design(plan)
        diagnostics = list(document.diagnostics)
        files = {
            f"{ROOT}/collections/{c.name}.json": render.dumps(render.collection_json(document, c))
            for c in document.collections
        }
        if document.collections:
            writes = build_writes(plan, document)
            files[f"{ROOT}/queries.json"] = render.render_queries(document, writes)
            files[f"{ROOT}/setup.py"] = render.render_setup(document)
            files[f"{ROOT}/design.md"] = render.render_design_md(document)
        tests: dict[str, str] = {}
        if document.collections:
            try:
                tests[testgen.DATA_FILE] = testgen.render_data(plan, document)
                tests[testgen.TEST_FILE] = testgen.render_test(document, bool(writes))
            except ValueError as exc:  # the seed generator cannot satisfy the model's rules
                diagnostics.append(
                    Diagnostic("PP402", f"no MongoDB test data could be generated: {exc}", "", Severity.WARNING)
                )
        return Artifacts(
            files=files, tests=tests, diagnostics=tuple(diagnostics), summary=summary(document), design=document
        )

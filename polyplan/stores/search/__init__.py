"""Elasticsearch 8 or OpenSearch 2: one index per search projection (search is never a system of record).

The model's `engines.search` picks the engine; its dialect (`engines.py`) says what differs.
Artifacts under `elasticsearch/` or `opensearch/`: `<index>.template.json` (strict mappings,
analyzers, shards, refresh), the lifecycle policy (`<index>.ilm.json` for Elasticsearch ILM,
`<index>.ism.json` for OpenSearch ISM: rollover and retention), `queries.json` (a stored search
template per pattern), `setup.py` (applies it all, idempotent), `sync.md` (the outbox contract) and,
when the model states security, `roles.json` (the engine's role bodies).
"""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import Family
from polyplan.plan.assign import loaded_locate
from polyplan.plan.ir import Plan
from polyplan.plan.predicates import keyed_store_warnings
from polyplan.security.design import applies
from polyplan.security.search_roles import ROLES_FILE, search_roles
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.search.design import design_search
from polyplan.stores.search.engines import ENGINES
from polyplan.stores.search.render import dump, render_files, summary
from polyplan.stores.search.testgen import render_tests


class Target(StoreTarget):
    """The search family (Elasticsearch 8, OpenSearch 2)."""

    family = Family.SEARCH
    engines = tuple(ENGINES)

    def emit(self, plan: Plan, jobs: int = 1) -> Artifacts:
        """Index templates, lifecycle policies, search templates, setup script, sync contract and tests."""
        design = design_search(plan)
        descriptions = {p.name: p.description for p in plan.model.access_patterns}
        files = render_files(design, descriptions)
        diagnostics = list(design.diagnostics)
        if design.indexes and applies(plan.model):
            # The security design's roles, as the engine's role bodies (security/search_roles.py).
            roles, found = search_roles(plan.model, design)
            files[f"{design.engine.folder}/{ROLES_FILE}"] = dump(roles)
            diagnostics += found
        return Artifacts(
            files=files,
            tests=render_tests(plan, design),
            diagnostics=tuple(loaded_locate(plan.loaded, d) for d in (*diagnostics, *_predicates(plan))),
            summary=summary(design),
            design=design,
        )


def _predicates(plan: Plan) -> list[Diagnostic]:
    """PP414: the projection is kept by the relay from each written row, which a write by predicate
    does not name (update_by_query would bypass the system of record's order of changes)."""
    return keyed_store_warnings(
        plan,
        Family.SEARCH,
        "the relay must re-index or delete each row the write changed: the system of record's write reports "
        "their keys (RETURNING, or the rows its lock selects) to the outbox",
    )


__all__ = ["Target"]

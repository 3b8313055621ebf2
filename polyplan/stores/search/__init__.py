"""Elasticsearch 8 or OpenSearch 2: one index per search projection (search is never a system of record).

The model's `engines.search` picks the engine; its dialect (`engines.py`) says what differs.
Artifacts under `elasticsearch/` or `opensearch/`: `<index>.template.json` (strict mappings,
analyzers, shards, refresh), the lifecycle policy (`<index>.ilm.json` for Elasticsearch ILM,
`<index>.ism.json` for OpenSearch ISM: rollover and retention), `queries.json` (a stored search
template per pattern), `setup.py` (applies it all, idempotent) and `sync.md` (the outbox contract).
"""

from __future__ import annotations

from polyplan.model.schema import Family
from polyplan.plan.assign import loaded_locate
from polyplan.plan.ir import Plan
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.search.design import design_search
from polyplan.stores.search.engines import ENGINES
from polyplan.stores.search.render import render_files, summary
from polyplan.stores.search.testgen import render_tests


class Target(StoreTarget):
    """The search family (Elasticsearch 8, OpenSearch 2)."""

    family = Family.SEARCH
    engines = tuple(ENGINES)

    def emit(self, plan: Plan) -> Artifacts:
        """Index templates, lifecycle policies, search templates, setup script, sync contract and tests."""
        design = design_search(plan)
        descriptions = {p.name: p.description for p in plan.model.access_patterns}
        return Artifacts(
            files=render_files(design, descriptions),
            tests=render_tests(plan, design),
            diagnostics=tuple(loaded_locate(plan.loaded, d) for d in design.diagnostics),
            summary=summary(design),
            design=design,
        )


__all__ = ["Target"]

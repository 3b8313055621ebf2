"""Golden index DDL per bundled scenario and engine, the PostgreSQL migration form, and the index
plan document: any change to the design shows up as a reviewed diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex

from polyplan.stores.relational.design import design_schema
from polyplan.stores.relational.index_docs import index_docs
from polyplan.stores.relational.index_render import concurrent_index_sql, fts5_ddl
from polyplan.stores.relational.indexes import GEO_VIA, index_plan_of
from polyplan.stores.relational.render import ENGINES, build_metadata
from polyplan.stores.relational.spec import IndexKind
from tests.conftest import SCENARIOS, Golden, planned

MOCK_URLS = {"postgresql": "postgresql+psycopg://", "mysql": "mysql+pymysql://", "sqlite": "sqlite://"}


def index_ddl(scenario: Path, engine: str) -> str:
    """Every designed index of a scenario as `engine` creates it, plus the substitutions made."""
    tables, _ = design_schema(planned(scenario))
    rendered = build_metadata(tables, engine)
    dialect: Any = sa.create_mock_engine(MOCK_URLS[engine], lambda *a, **k: None).dialect
    lines = [f"-- Indexes of {scenario.stem} on {engine} (golden file: tests/test_indexes_golden.py)"]
    lines += [f"-- {d.render()}" for d in rendered.diagnostics if d.code == "PP402" and d.path.startswith("indexes.")]
    for spec in tables:
        table = rendered.metadata.tables[spec.name]
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            lines.append(str(CreateIndex(index).compile(dialect=dialect)).strip() + ";")
        if engine == "sqlite":
            for designed in spec.indexes:
                if designed.kind is IndexKind.FULLTEXT:
                    lines += [f"{statement};" for statement in fts5_ddl(spec.name, designed)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_index_ddl_matches_golden(scenario: Path, engine: str, golden: Golden) -> None:
    golden.check(f"{scenario.stem}/indexes/{engine}.sql", index_ddl(scenario, engine))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_postgresql_migration_form_matches_golden(scenario: Path, golden: Golden) -> None:
    tables, _ = design_schema(planned(scenario))
    rendered = build_metadata(tables, "postgresql")
    text = concurrent_index_sql(rendered.metadata, [i for t in tables for i in t.indexes])
    assert text.count("CREATE INDEX CONCURRENTLY IF NOT EXISTS") == sum(len(t.indexes) for t in tables)
    golden.check(f"{scenario.stem}/indexes/postgresql_concurrently.sql", text)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_index_plan_document_matches_golden(scenario: Path, golden: Golden) -> None:
    plan = planned(scenario)
    tables, _ = design_schema(plan)
    substitutions = [d for engine in ENGINES for d in build_metadata(tables, engine).diagnostics if d.code == "PP402"]
    text = index_docs(plan, tables, substitutions)
    for table in tables:
        for index in table.indexes:
            assert f"`{index.name}`" in text
        index_plan = index_plan_of(table)
        assert index_plan is not None
        for route in index_plan.routes:
            assert f"`{route.pattern}`" in text
    golden.check(f"{scenario.stem}/indexes/index-plan.md", text)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_relational_read_pattern_is_routed(scenario: Path) -> None:
    """Each pattern of a relational entity is served by an index or a key, or says why not."""
    plan = planned(scenario)
    tables, diagnostics = design_schema(plan)
    routes = {r.pattern: r for t in tables if (p := index_plan_of(t)) for r in p.routes}
    for pattern in plan.model.access_patterns:
        decided = plan.entities[pattern.entity]
        if decided.family.value != "relational":
            assert pattern.name not in routes
            continue
        route = routes[pattern.name]
        if route.via == "none":
            assert route.reason
            assert any(d.code == "PP403" and d.message.startswith(pattern.name) for d in diagnostics)
        else:
            assert route.via in ("index", "primary key", GEO_VIA, "inside index") or route.via.startswith("unique")

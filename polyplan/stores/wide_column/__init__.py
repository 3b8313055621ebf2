"""Cassandra 4.1 and 5.0: query-first tables for entities whose system of record is wide-column.

Artifacts under `cassandra/`: `schema.cql` (keyspace, types, one table per pattern),
`queries.cql` (each pattern's SELECT, never ALLOW FILTERING), `writes.json` (the statements
and batches that keep denormalized tables in step) and `design.json` (keys, partition
estimates, bucketing decisions and why).
"""

from __future__ import annotations

from polyplan.diagnostics import DiagnosticError
from polyplan.model.schema import Family
from polyplan.plan.assign import loaded_locate
from polyplan.plan.ir import Plan
from polyplan.security.cassandra_roles import ROLES_FILE, cassandra_roles, render_roles_cql
from polyplan.security.design import applies
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.wide_column.derived import kept_attributes
from polyplan.stores.wide_column.design import design_wide_column
from polyplan.stores.wide_column.predicates import predicate_warnings
from polyplan.stores.wide_column.render import render_files, summary
from polyplan.stores.wide_column.testgen import render_tests


class Target(StoreTarget):
    """The wide-column family (Cassandra 4.1 and 5.0: the same CQL for both)."""

    family = Family.WIDE_COLUMN
    engines = ("cassandra",)

    def emit(self, plan: Plan, jobs: int = 1) -> Artifacts:
        """Schema, queries, write plans, design notes and tests; raises DiagnosticError (PP406) when a
        pattern cannot be served without filtering."""
        design = design_wide_column(plan)
        if design.errors:
            raise DiagnosticError([loaded_locate(plan.loaded, d) for d in design.errors])
        files = render_files(design, plan.model)
        diagnostics = list(design.diagnostics)
        diagnostics += predicate_warnings(plan.model, design)
        # PP468 for the derived attributes of a Cassandra parent its children's adds cannot keep exact.
        diagnostics += kept_attributes(plan.model, {e.entity: e for e in design.entities})[1]
        if applies(plan.model):
            # The security design's roles, as Cassandra permissions (security/cassandra_roles.py).
            tables = [(t.name, t.entity) for e in design.entities for t in e.tables]
            statements, found = cassandra_roles(plan.model, design.keyspace, tables)
            files[ROLES_FILE] = render_roles_cql(plan.model, design.keyspace, statements)
            diagnostics += found
        return Artifacts(
            files=files,
            tests=render_tests(plan, design),
            diagnostics=tuple(loaded_locate(plan.loaded, d) for d in diagnostics),
            summary=summary(design),
            design=design,
        )


__all__ = ["Target"]

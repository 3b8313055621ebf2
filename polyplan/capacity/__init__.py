"""Capacity planning (pure): each store's size and load over time against one node of its target
profile, the year each threshold is crossed and why, and the steps to scale (`polyplan capacity`,
capacity.md and plan.json's `capacity`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyplan.capacity.estimates import Designs
from polyplan.capacity.plan import capacity_plan, report_years
from polyplan.capacity.spec import CapacityPlan
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan

if TYPE_CHECKING:  # the store designs import the stores; the capacity plan only reads them
    from polyplan.stores.designs import Designs as StoreDesigns

__all__ = ["CapacityPlan", "Designs", "capacity_plan", "design_stores", "designs_from", "report_years"]


def designs_from(handed: StoreDesigns) -> Designs:
    """The designs the targets handed on (`Artifacts.design`), for the capacity plan."""
    relational = handed.relational
    return Designs(
        tables=tuple(relational.tables) if relational is not None else (),
        cache=handed.cache,
        search=handed.search,
        document=handed.document,
        wide_column=handed.wide_column,
    )


def design_stores(plan: Plan) -> Designs:
    """Design every store family `plan` uses (pure; no artifacts rendered): what `polyplan capacity`
    sizes from without writing a plan."""
    from polyplan.diagnostics import DiagnosticError, Severity
    from polyplan.plan.assign import loaded_locate
    from polyplan.stores.cache.design import design as cache_design
    from polyplan.stores.document.design import design as document_design
    from polyplan.stores.relational.design import design_schema
    from polyplan.stores.search.design import design_search
    from polyplan.stores.wide_column.design import design_wide_column

    used = set(plan.families_used())
    tables, found = design_schema(plan) if Family.RELATIONAL in used else ([], [])
    wide = design_wide_column(plan) if Family.WIDE_COLUMN in used else None
    errors = [d for d in found if d.severity is Severity.ERROR] + list(wide.errors if wide is not None else ())
    if errors:  # a store that cannot be designed cannot be sized: bad input, as `polyplan plan` says
        raise DiagnosticError([loaded_locate(plan.loaded, d) for d in errors])
    return Designs(
        tables=tuple(tables),
        cache=cache_design(plan) if Family.CACHE in used else None,
        search=design_search(plan) if Family.SEARCH in used else None,
        document=document_design(plan) if Family.DOCUMENT in used else None,
        wide_column=wide,
    )

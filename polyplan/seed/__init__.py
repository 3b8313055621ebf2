"""Deterministic synthetic data: logical records per entity (`generate`) and loaders per store."""

from __future__ import annotations

from polyplan.seed.generate import (
    check_holds,
    feasible_rows,
    generate,
    generation_order,
    link_columns,
    rows_for_scale,
)

__all__ = ["check_holds", "feasible_rows", "generate", "generation_order", "link_columns", "rows_for_scale"]

"""Store families. Each is one subpackage with a `Target` class; register it here to add a store."""

from __future__ import annotations

from importlib import import_module

from polyplan.model.schema import Family
from polyplan.stores.base import Artifacts, StoreTarget

_MODULES: dict[Family, str] = {
    Family.RELATIONAL: "polyplan.stores.relational",
    Family.DOCUMENT: "polyplan.stores.document",
    Family.CACHE: "polyplan.stores.cache",
    Family.SEARCH: "polyplan.stores.search",
    Family.WIDE_COLUMN: "polyplan.stores.wide_column",
}


def target_for(family: Family) -> StoreTarget:
    """The target of one family (imported on first use, so unused drivers cost nothing)."""
    target: StoreTarget = import_module(_MODULES[family]).Target()
    return target


__all__ = ["Artifacts", "StoreTarget", "target_for"]

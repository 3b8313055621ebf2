"""Eviction: which Redis instance (and maxmemory policy) holds which key families."""

from __future__ import annotations

from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.sizing import (
    maxmemory,
)
from polyplan.stores.cache.spec import (
    Instance,
    Role,
)


def instances(ctx: DesignContext) -> tuple[tuple[Instance, ...], str, str]:
    state = [k for k in ctx.keys if k.role is not Role.CACHED]
    cache = [k for k in ctx.keys if k.role is Role.CACHED]
    found: list[Instance] = []
    if state:
        total = sum(k.memory.total_bytes for k in state)
        found.append(
            Instance(
                "state",
                "noeviction",
                (f"{ctx.namespace}:",),
                tuple(k.name for k in state),
                total,
                maxmemory(total),
                "these keys are the only copy of their records: evicting one loses data, so at maxmemory writes "
                "fail loudly instead; size maxmemory from the estimate (TTLs keep the key count bounded)",
            )
        )
    if cache:
        total = sum(k.memory.total_bytes for k in cache)
        found.append(
            Instance(
                "cache",
                "allkeys-lru",
                (f"{ctx.namespace}:cache:",),
                tuple(k.name for k in cache),
                total,
                maxmemory(total),
                "every key can be rebuilt from its system of record: under memory pressure evict the least "
                "recently used, keeping the hot working set",
            )
        )
    if state and cache:
        shared = "noeviction"
        why = (
            "two instances are recommended (state: noeviction, cache: allkeys-lru); if one instance must hold both, "
            "use noeviction and size it for both estimates — a volatile-* policy would evict state keys, which all "
            "carry TTLs, and the application treats a failed cache SET as a miss"
        )
    elif state:
        shared, why = "noeviction", found[0].why
    else:
        shared, why = "allkeys-lru", found[0].why if found else "no keys"
    return tuple(found), shared, why

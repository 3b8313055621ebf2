"""The Redis store's memory over time, from the cache design (one source of truth).

keys.json, cache.md and the capacity plan read the same figures: each key family's per-key
estimate (`memory.py`, constants in targets/redis.yaml, checked against MEMORY USAGE and
`INFO memory` by bench/capacity.py) times its key count. The design counts keys at the horizon;
`estimate_store_bytes` scales them to any day: a family with a key per record follows the
entity's live rows, a cache bounded by its lookup rate × TTL holds at most one key per record.
"""

from __future__ import annotations

from polyplan.analyse.sizing import live_rows
from polyplan.plan.ir import Plan
from polyplan.stores.cache.design import CacheDesign, design
from polyplan.stores.cache.spec import KeySpec, Role


def family_keys(plan: Plan, key: KeySpec, days: float) -> float:
    """Keys of family `key` after `days` (the design's count at the horizon, scaled)."""
    horizon_rows = plan.entities[key.entity].profile.rows_at_horizon
    rows = live_rows(plan.model.entities[key.entity].growth, days)
    if horizon_rows <= 0:
        return key.memory.keys
    if key.role is Role.CACHED:  # live cached answers: bounded by reads × TTL, at most one per record
        return min(key.memory.keys, rows)
    return key.memory.keys * rows / horizon_rows  # state, records, indexes: in step with the records


def estimate_store_bytes(plan: Plan, days: float, cache: CacheDesign | None = None) -> float:
    """Redis memory (used_memory, before fragmentation headroom) of the plan's cache design after
    `days`: Σ key families of keys × per-key total (MEMORY USAGE plus keyspace and expires slots)."""
    cache = cache if cache is not None else design(plan)
    return sum(family_keys(plan, key, days) * key.memory.total_per_key for key in cache.keys)

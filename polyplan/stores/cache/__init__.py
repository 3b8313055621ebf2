"""The cache family (Redis): key design, TTLs, eviction, invalidation paths and memory."""

from __future__ import annotations

from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.plan.predicates import keyed_store_warnings
from polyplan.stores.base import Artifacts, StoreTarget
from polyplan.stores.cache import render, testgen
from polyplan.stores.cache.design import CacheDesign, design

ROOT = "redis"


def summary(cache: CacheDesign) -> dict[str, Any]:
    """What plan.json shows under stores.cache."""
    return {
        "engine": render.ENGINE,
        "keys": [
            {
                "name": key.name,
                "template": key.template.render(),
                "structure": key.structure.value,
                "ttl_seconds": key.ttl_seconds,
                "bytes": round(key.memory.total_bytes),
                "serves": list(key.serves),
                **({"read_model": key.read_model} if key.read_model else {}),
            }
            for key in cache.keys
        ],
        "eviction": {i.name: i.policy for i in cache.instances},
        "total_bytes": round(cache.total_bytes),
    }


class Target(StoreTarget):
    """Redis: keys.json, cache.md, setup.py, and a generated test run against a real Redis."""

    family = Family.CACHE
    engines = ("redis",)

    def emit(self, plan: Plan, jobs: int = 1) -> Artifacts:
        """Design and render the Redis artifacts of `plan` (pure)."""
        cache = design(plan)
        diagnostics = list(cache.diagnostics)
        diagnostics += keyed_store_warnings(
            plan,
            Family.CACHE,
            "each row the write changes must have its keys invalidated (or written) one by one: take the keys "
            "from the system of record's write (RETURNING, or the rows its lock selects), or let the entries "
            "expire by their TTL",
        )
        files = {
            f"{ROOT}/keys.json": render.render_keys_json(cache),
            f"{ROOT}/cache.md": render.render_cache_md(cache),
            f"{ROOT}/setup.py": render.render_setup(),
        }
        _tenant_acl(plan, cache, files)
        tests: dict[str, str] = {}
        if cache.keys:
            try:
                tests[testgen.DATA_FILE] = testgen.render_data(plan.model, cache)
                tests[testgen.TEST_FILE] = testgen.render_test(cache)
            except ValueError as exc:  # the seed generator cannot satisfy the model's rules
                diagnostics.append(
                    Diagnostic("PP402", f"no Redis test data could be generated: {exc}", "", Severity.WARNING)
                )
        return Artifacts(files=files, tests=tests, diagnostics=tuple(diagnostics), summary=summary(cache), design=cache)


def _tenant_acl(plan: Plan, cache: CacheDesign, files: dict[str, str]) -> None:
    """`redis/acl.json` when tenant-scoped entities have keys in Redis (their keys lead with the
    tenant: the model's checks make every tenant-scoped entity carry the tenant key)."""
    from polyplan.security.redis_acl import ACL_FILE, render_acl_json, tenant_key

    model = plan.model
    isolated = [
        e for e in model.entities if tenant_key(model, e) is not None and any(k.entity == e for k in cache.keys)
    ]
    if isolated:
        files[ACL_FILE] = render_acl_json(model, cache.namespace, isolated)

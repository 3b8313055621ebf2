"""Counters: an increment added in place (HINCRBY, or a guarded script on a cached answer), or the
cached copy invalidated when Redis cannot add exactly."""

from __future__ import annotations

from polyplan.model.schema import (
    WritePattern,
)
from polyplan.plan.increments import counters_of, increments_of
from polyplan.stores.cache.increments import guarded_commands, hash_commands, inexact, invalidation_warning
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.spec import (
    KeySpec,
    Role,
    Structure,
    WritePath,
)


def increment_write(ctx: DesignContext, write: WritePattern, spec: KeySpec, engine: str | None) -> WritePath:
    """An increment: added in place to a hash (HINCRBY), or the JSON string invalidated (PP430)."""
    key = spec.template.render()
    increment = next(i for i in increments_of(ctx.model, write.entity) if i.write == write.name)
    counters = counters_of(ctx.model, write.entity)
    steps = [f"commit {write.name} in {engine} first (the system of record adds atomically)" if engine else ""]
    drifting = inexact(counters, increment.attributes)
    if spec.structure is Structure.HASH and not drifting:
        commands = (
            hash_commands(key, increment, counters)
            if spec.role is Role.RECORD
            else guarded_commands(key, increment, counters)
        )
        steps.append(
            f"then add {increment.step_literal()} to {', '.join(write.attributes)} of {key} in place, atomically "
            "(only while it is cached: EXISTS and the add are one script, so a miss never leaves a partial hash)"
            if spec.role is not Role.RECORD
            else f"add {increment.step_literal()} to {', '.join(write.attributes)} of {key} in place, atomically"
        )
        if spec.role is Role.RECORD and spec.ttl_seconds:
            # An increment is a write: ephemeral records expire counted from their last one.
            commands.append(("EXPIRE", key, str(spec.ttl_seconds)))
            steps.append(f"EXPIRE {key} {spec.ttl_seconds}: the TTL counts from the last write")
    else:
        why = (
            f"would drift if {', '.join(drifting)} (decimal) were added to in place: HINCRBYFLOAT rounds "
            "through a long double"
            if drifting
            else "holds the record as a JSON string, which Redis cannot add to in place"
        )
        commands = [("DEL", key)]
        steps.append(f"then DEL {key}: {spec.name} {why}")
        path = f"write_patterns.{ctx.model.write_patterns.index(write)}"
        ctx.diagnostics.append(invalidation_warning(increment, spec.name, why, path))
    return WritePath(
        write.name, write.entity, write.kind, (spec.name,), tuple(commands), tuple(s for s in steps if s), True
    )

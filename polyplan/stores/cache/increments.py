"""What an increment write pattern does to Redis keys: HINCRBY on a hash, never a read-modify-write.

A record held as a hash is added to in place, atomically, by `HINCRBY` (`HINCRBYFLOAT` for a
step or a counter that is not whole). A cached answer (a projection) is added to only if it is
cached at the moment: a Lua script runs EXISTS and HINCRBY as one step, because HINCRBY on a
missing key would create a hash holding the counter alone, which a later read would take for
the whole record. A record kept as a JSON string, or a decimal counter with a scale (Redis adds
fractions only through a long double, so 3340.53 + 200 becomes 3540.53000000000000003), cannot be
added to in place: the cached answer is invalidated instead, with a warning (PP430), since every
increment then empties the cache.
"""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Attribute, TypeName
from polyplan.plan.increments import Increment, integral


def command_for(increment: Increment, attribute: Attribute) -> str:
    """HINCRBY for whole counters and steps; HINCRBYFLOAT otherwise (Redis refuses a fraction in HINCRBY)."""
    return "HINCRBY" if increment.whole and integral(attribute) else "HINCRBYFLOAT"


def hash_commands(key: str, increment: Increment, counters: dict[str, Attribute]) -> list[tuple[str, ...]]:
    """One atomic add per counter of a record hash."""
    step = str(increment.step_literal())
    return [(command_for(increment, counters[a]), key, a, step) for a in increment.attributes if a in counters]


# Adds to a cached hash only while it is cached (KEYS[1]; ARGV: field, step): EXISTS and the add run as one step.
GUARDED = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('{cmd}', KEYS[1], ARGV[1], ARGV[2]) end return nil"
)


def guarded_commands(key: str, increment: Increment, counters: dict[str, Attribute]) -> list[tuple[str, ...]]:
    """Adds to a cached hash only while it is cached: one EVAL per counter."""
    step = str(increment.step_literal())
    script = GUARDED
    return [
        ("EVAL", script.format(cmd=command_for(increment, counters[a])), "1", key, a, step)
        for a in increment.attributes
        if a in counters
    ]


def inexact(counters: dict[str, Attribute], attributes: tuple[str, ...]) -> list[str]:
    """Decimal counters with a scale: Redis adds them only through a long double (HINCRBYFLOAT), which drifts."""
    return [a for a in attributes if a in counters and counters[a].type is TypeName.DECIMAL and counters[a].scale]


def invalidation_warning(increment: Increment, key_family: str, why: str, path: str) -> Diagnostic:
    """PP430: the cached record cannot be added to in place, so each increment invalidates it."""
    return Diagnostic(
        "PP430",
        f"{increment.write} adds to {', '.join(increment.attributes)} of {increment.entity} {increment.rate:g} times a "
        f"second, but {key_family} {why}: each increment deletes the cached answer (DEL after the commit), so the "
        "cache hits only between increments",
        path,
        Severity.WARNING,
    )

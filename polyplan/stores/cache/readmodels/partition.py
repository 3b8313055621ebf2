"""How a pattern's equality filters split an entity into keys: one key per parameter value, with
constant filters baked into the key name (shared by the index, sorted-set and capped-list read
models)."""

from __future__ import annotations

from dataclasses import dataclass

from polyplan.model.derived import all_attributes
from polyplan.model.schema import AccessPattern, FilterOp, TypeName
from polyplan.stores.cache import codec, memory
from polyplan.stores.cache.readmodels.context import DesignContext
from polyplan.stores.cache.sizing import cardinality, constant_share


@dataclass(frozen=True)
class Split:
    """The keys one pattern's equality filters make."""

    eq: tuple[str, ...]  # parameter attributes: one key per value combination
    constants: tuple[tuple[str, str], ...]  # constant filters, as encoded key parts
    keys: float  # keys at the horizon
    members: float  # records per key
    reasons: tuple[str, ...]  # how each parameter's distinct values were estimated

    @property
    def by(self) -> str:
        """The key segment naming the split: by_<parameters>, or all."""
        return "by_" + "_".join(self.eq) if self.eq else "all"

    @property
    def keys_reason(self) -> str:
        """Why this many keys."""
        return "; ".join(self.reasons)

    def live(self, rate: float, ttl: int) -> tuple[float, str]:
        """Keys alive at once when only a read miss creates one: at most rate × TTL of them."""
        keys = max(1.0, min(self.keys, rate * ttl))
        values = self.keys_reason or "one key"
        return keys, f"at most min({self.keys:,.0f} keys ({values}), {rate:,.0f} reads/s × {ttl} s TTL) live at once"


def split(ctx: DesignContext, entity: str, pattern: AccessPattern) -> Split:
    """The keys `pattern` needs: distinct values of its parameters, records per key."""
    model = ctx.model
    attributes = all_attributes(model, entity)
    eq = tuple(f.attribute for f in pattern.filters if f.op is FilterOp.EQ and f.value is None)
    constants = tuple(
        (f.attribute, codec.key_part(f.value, attributes[f.attribute]))
        for f in pattern.filters
        if f.op is FilterOp.EQ and f.value is not None
    )
    rows = ctx.plan.entities[entity].profile.rows_at_horizon
    share = 1.0
    for name, _ in constants:
        value = next(f.value for f in pattern.filters if f.attribute == name and f.value is not None)
        share *= constant_share(attributes[name], value)
    keys_count = 1.0
    reasons = []
    for name in eq:
        distinct, why = cardinality(model, ctx.plan, entity, name)
        keys_count *= distinct
        reasons.append(f"{name}: {distinct:,.0f} ({why})")
    keys_count = max(1.0, min(keys_count, rows * share)) if eq else 1.0
    members = max(1.0, rows * share / keys_count)
    return Split(eq, constants, keys_count, members, tuple(reasons))


def score_bytes(ctx: DesignContext, entity: str, score: str | None) -> float:
    """Average listpack bytes of one score: epoch milliseconds for time, small numbers otherwise."""
    attributes = all_attributes(ctx.model, entity)
    if score and attributes[score].type in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.DATE):
        return float(memory.listpack_int_bytes(1_700_000_000_000))
    return 2.0

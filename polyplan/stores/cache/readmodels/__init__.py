"""Read models: the Redis structures that serve one access pattern of an entity held elsewhere.

Each read model is one module exposing `READ_MODEL`, an object with the `ReadModel` interface:
which patterns it can serve (`fits`), what serving one costs (`merit`: memory and write commands),
and its key design and commands (`build`). The designer asks every registered read model about
every projected pattern and builds the cheapest that fits; a new read model is one new module
added to `READ_MODELS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from polyplan.model.schema import AccessPattern
from polyplan.plan.ir import Projection
from polyplan.stores.cache.readmodels.context import DesignContext


@dataclass(frozen=True)
class Merit:
    """What serving one pattern from a read model costs, in the units the choice compares."""

    bytes: float  # memory at the planning horizon
    write_commands: float  # Redis commands per second spent keeping it in step
    summary: str  # one phrase for the explanation (the runner-up's is quoted)


class ReadModel(Protocol):
    """One kind of read model (key cache, sorted set, capped list, table hash, …)."""

    name: str
    # True when one key holds the pattern's whole answer as one value, so that a reader can do
    # cache-aside with GET/SET (the scaffold does); a sorted set, capped list or table hash is
    # read with its own commands and rebuilt by its write paths instead.
    answer_is_value: bool

    def fits(self, ctx: DesignContext, entity: str, pattern: AccessPattern) -> str | None:
        """None when this read model can answer `pattern`; else why it cannot (quoted in warnings)."""
        ...

    def merit(self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection) -> Merit:
        """Its cost for `pattern` (only asked when it fits)."""
        ...

    def build(
        self, ctx: DesignContext, entity: str, pattern: AccessPattern, projection: Projection, runner_up: str
    ) -> None:
        """Add its key family, read path and write paths for `pattern` to `ctx`; `runner_up` says
        which other read model fitted and why it lost ('' when none)."""
        ...


def registry() -> tuple[ReadModel, ...]:
    """Every read model, in the order ties are broken."""
    from polyplan.stores.cache.readmodels import capped_list, key_cache, sorted_set, table_hash

    return (key_cache.READ_MODEL, table_hash.READ_MODEL, capped_list.READ_MODEL, sorted_set.READ_MODEL)


def read_model(name: str) -> ReadModel:
    """The registered read model called `name` (a key family's `read_model`)."""
    found = next((model for model in registry() if model.name == name), None)
    if found is None:
        raise KeyError(f"no read model called {name!r}")
    return found

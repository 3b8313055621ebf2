"""What every read model writes into while the Redis design is built: keys, paths, warnings."""

from __future__ import annotations

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import AccessPattern
from polyplan.plan.ir import Plan
from polyplan.stores.cache.memory import RedisMemory
from polyplan.stores.cache.spec import KeySpec, ReadPath, WritePath, literal


class DesignContext:
    """The plan being designed for, and the key families and paths designed so far (in order)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.model = plan.model
        self.namespace = literal(self.model.name)
        # The memory formulas with the constants of the plan's Redis profile (bundled or the user's).
        self.memory = RedisMemory.of(plan.sizing("redis"))
        self.keys: list[KeySpec] = []
        self.reads: list[ReadPath] = []
        self.writes: list[WritePath] = []
        self.stores: list[WritePath] = []
        self.diagnostics: list[Diagnostic] = []

    def warn(self, code: str, message: str, path: str) -> None:
        """Record a coded warning."""
        self.diagnostics.append(Diagnostic(code, message, path, Severity.WARNING))

    def key_by_name(self, name: str) -> KeySpec:
        """A key family designed so far."""
        return next(k for k in self.keys if k.name == name)

    def loads_notes(self, pattern: AccessPattern) -> list[str]:
        """Where the entities a pattern loads come from (they are not part of its keys)."""
        notes = []
        for other in pattern.loaded:
            other_plan = self.plan.entities.get(other)
            where = other_plan.family.value if other_plan else "another"
            notes.append(f"{other} is loaded by the application from the {where} store (not part of this key)")
        return notes

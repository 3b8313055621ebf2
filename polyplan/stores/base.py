"""The one small interface every store family implements.

Adding a store means adding one subpackage under `polyplan/stores/` with a `Target` class and
registering it in `polyplan/stores/__init__.py`. Every family subpackage uses the same file
names (like Atlas drivers): `design.py` (pure: plan → store design), `render.py` (pure:
design → artifact text), `testgen.py` (pure: design → generated pytest files), `connect.py`
(the only I/O: reach a real server for validation and seeding).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan

if TYPE_CHECKING:  # the families' design modules import this one (through their packages)
    from polyplan.stores.designs import StoreDesign


@dataclass(frozen=True)
class Artifacts:
    """What a target emits: output-relative path → file text, plus what it had to report.

    `files` go under the plan folder (e.g. `relational/postgresql/schema.sql`), `tests` under
    `tests/` (file names start with `test_<engine>` so `polyplan validate --engine E` finds them),
    `docs` under `docs/`. Texts must be deterministic: same plan, same bytes.
    """

    files: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    # The family's design objects, for emitters that describe the design (the HTML report) rather
    # than re-read the text rendered from it: one of `polyplan.stores.designs.StoreDesign`.
    design: StoreDesign | None = None


@dataclass(frozen=True)
class Started:
    """An emit begun by `StoreTarget.start`: `finish()` waits for it and returns the artifacts;
    `cancel()` stops a worker it still runs (after `finish`, or with none, it does nothing).
    `design` is the family's design as far as it is made at the start: what the capacity plan
    sizes while a worker renders (the artifacts' own design is the same object, completed)."""

    finish: Callable[[], Artifacts]
    design: StoreDesign | None = None
    cancel: Callable[[], None] = lambda: None


class StoreTarget(ABC):
    """A store family: designs its schema from the plan and renders artifacts for its engines."""

    family: Family
    engines: tuple[str, ...]

    @abstractmethod
    def emit(self, plan: Plan, jobs: int = 1) -> Artifacts:
        """Design and render everything this family needs for `plan`. Pure: no I/O.

        Called only when the plan puts at least one entity (or projection) in this family.
        `summary` is merged into plan.json under `stores.<family>`. `jobs` is how many processes
        the target may use (`render(plan, jobs=…)`); a target whose work is small ignores it,
        and the output is the same bytes whatever it is.
        """

    def start(self, plan: Plan, jobs: int = 1) -> Started:
        """Begin `emit`. A target that hands part of its work to a worker process returns before
        that part is done, so the caller can emit the other targets meanwhile; this default emits
        at once."""
        artifacts = self.emit(plan, jobs)
        return Started(lambda: artifacts, artifacts.design)

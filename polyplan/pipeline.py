"""The compiler in one place: load → validate → analyse/score → plan → emit per target.

Library first: `plan_file` and `render` are pure; `write_plan` is the only function that
touches the file system, and it writes atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from polyplan.analyse.capabilities import load_targets
from polyplan.capacity import capacity_plan, designs_from
from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.emit.capacity import render_capacity_md
from polyplan.emit.capacity_chart import capacity_charts
from polyplan.emit.compose import engines_tested, render_compose
from polyplan.emit.erd import diagram_files, render_erd
from polyplan.emit.plan_json import render_plan_json
from polyplan.emit.plan_md import render_plan_md
from polyplan.emit.report import REPORT, render_report, report_diagrams
from polyplan.emit.serving import render_serving_md, serving, serving_json, unserved_warnings
from polyplan.emit.writer import write_tree
from polyplan.model.loader import load_file, load_text
from polyplan.model.schema import Family
from polyplan.perf import paused_gc
from polyplan.plan.aggregates import unaggregated_warnings
from polyplan.plan.assign import build_plan, loaded_locate
from polyplan.plan.derived import derived_warnings
from polyplan.plan.geo import geo_warnings
from polyplan.plan.ir import Plan
from polyplan.plan.keyless import keyless_warnings
from polyplan.plan.membership import inside_warnings
from polyplan.plan.paths import path_warnings
from polyplan.security.backup import backup_files
from polyplan.security.docs import security_files
from polyplan.security.erasure_stores import store_erasure_files
from polyplan.stores import target_for
from polyplan.stores.base import Started
from polyplan.stores.designs import Designs, StoreDesign

# `polyplan -v` shows INFO (what each stage did), `-vv` DEBUG; a library user configures it as usual.
log = logging.getLogger(__name__)
T = TypeVar("T")

# Every generated test carries its engine's mark, from its file name (`test_<engine>[_…].py`, the
# naming every target follows): `pytest -m postgresql` in an output folder selects every
# PostgreSQL test, not only those whose file sets `pytestmark`. Registering the marks keeps pytest
# quiet about them.
GENERATED_CONFTEST = '''"""pytest configuration for the tests polyplan generated (regenerated on every plan)."""

import pytest

ENGINES = ("postgresql", "mysql", "sqlite", "redis", "mongodb", "elasticsearch", "opensearch", "cassandra")


def pytest_configure(config: pytest.Config) -> None:
    for engine in ENGINES:
        config.addinivalue_line("markers", f"{engine}: needs a {engine} server (see polyplan.testkit)")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test of test_<engine>.py and test_<engine>_*.py with its engine."""
    for item in items:
        stem = item.path.stem
        for engine in ENGINES:
            if stem == f"test_{engine}" or stem.startswith(f"test_{engine}_"):
                item.add_marker(getattr(pytest.mark, engine))
'''


def plan_file(path: str | Path, targets: str | Path | None = None) -> Plan:
    """Load, check and plan a model file against the bundled target profiles overlaid by those in
    the folder `targets` (if given). Raises DiagnosticError on bad input (model or profiles)."""
    started = time.perf_counter()
    with paused_gc():
        capabilities = load_targets(targets)  # first: a bad profile is reported before the model is read
        loaded = load_file(path)
        log.debug("loaded %s in %.2f s", path, time.perf_counter() - started)
        plan = build_plan(loaded, capabilities)
    log.info("planned %s: %d entities in %.2f s", plan.model.name, len(plan.entities), time.perf_counter() - started)
    return plan


def plan_text(text: str, source: str = "<model>", targets: str | Path | None = None) -> Plan:
    """Load, check and plan model text (e.g. generated models), with the profiles of `plan_file`.
    Raises DiagnosticError on bad input."""
    with paused_gc():
        capabilities = load_targets(targets)
        return build_plan(load_text(text, source), capabilities)


def default_jobs() -> int:
    """`polyplan plan`'s default for `--jobs`: the CPUs this process may run on, at most 2 (one
    worker is all `render` uses today). The library's own default stays 1: a caller that runs
    threads of its own, or counts its processes, opts in."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(2, usable))


def render(plan: Plan, jobs: int = 1) -> tuple[dict[str, str], list[Diagnostic]]:
    """Every output file (relative path → text) and every diagnostic, suppressions applied.

    `jobs` ≥ 2 lets the relational target render part of its engines in one forked worker
    process (where `os.fork` exists and the model is large enough to gain from it); the files
    and diagnostics are the same, byte for byte, as with `jobs=1`, which stays in this process.
    An exception in the worker is raised here; the worker never outlives the call.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    with paused_gc():
        return _render(plan, jobs)


def _render(plan: Plan, jobs: int = 1) -> tuple[dict[str, str], list[Diagnostic]]:
    files: dict[str, str] = {}
    diagnostics = list(plan.diagnostics)
    stores: dict[str, Any] = {}
    handed: list[StoreDesign] = []
    # Every target starts before any finishes: the relational target's worker (jobs ≥ 2) renders
    # while this process emits the other families; the artifacts are merged in the usual order.
    begun: list[tuple[Family, float, Started]] = []
    try:
        for family in plan.families_used():
            begun.append((family, time.perf_counter(), target_for(family).start(plan, jobs)))
        # The capacity plan reads only the designs, which every target has made when it starts,
        # and the diagrams only the plan: made here, they run while a worker renders. Their errors
        # are raised where one process makes them (below), so a target's own error still comes first.
        capacity = _Ahead.of(
            lambda: capacity_plan(plan, designs_from(Designs.of([e.design for _, _, e in begun if e.design])))
        )
        charts = _Ahead.of(lambda: capacity_charts(capacity.get()))
        erd = _Ahead.of(lambda: render_erd(plan))
        diagrams = _Ahead.of(lambda: diagram_files(plan))
        drawn = _Ahead.of(lambda: report_diagrams(plan))
        finished = [(family, started, emitting.finish()) for family, started, emitting in begun]
    finally:
        for _, _, emitting in begun:
            emitting.cancel()  # a worker left running when a target failed
    for family, started, artifacts in finished:
        log.debug(
            "%s target: %d files, %d tests in %.2f s",
            family.value,
            len(artifacts.files),
            len(artifacts.tests),
            time.perf_counter() - started,
        )
        files.update(artifacts.files)
        files.update({f"tests/{path}": text for path, text in artifacts.tests.items()})
        files.update({f"docs/{path}": text for path, text in artifacts.docs.items()})
        diagnostics.extend(artifacts.diagnostics)
        if artifacts.summary:
            stores[family.value] = artifacts.summary
        if artifacts.design is not None:
            handed.append(artifacts.design)
    relational = stores.get("relational", {})
    erasure = relational.get("erasure")
    diagnostics.extend(unaggregated_warnings(plan))
    diagnostics.extend(path_warnings(plan))
    diagnostics.extend(keyless_warnings(plan))
    diagnostics.extend(derived_warnings(plan))
    diagnostics.extend(geo_warnings(plan))
    diagnostics.extend(inside_warnings(plan))
    erased, erasure_diagnostics = store_erasure_files(plan, files, erasure)
    files.update(erased)
    diagnostics.extend(erasure_diagnostics)
    if erasure:
        erasure = {**erasure, "store_files": sorted(erased)}
    security_docs, security_diagnostics = security_files(
        plan, relational.get("security", {}), diagnostics, relational.get("encryption", {}), erasure
    )
    files.update(security_docs)
    diagnostics.extend(security_diagnostics)
    store_designs = Designs.of(handed)
    served = serving(plan, store_designs)
    diagnostics.extend(unserved_warnings(plan, served, diagnostics))
    sized = capacity.get()
    diagnostics.extend(sized.diagnostics)
    backup_docs, backup_diagnostics = backup_files(plan, sized)
    files.update(backup_docs)
    diagnostics.extend(backup_diagnostics)
    diagnostics = [loaded_locate(plan.loaded, d) for d in diagnostics]
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        # A target that cannot design its store correctly has no artifacts worth writing.
        raise DiagnosticError(errors)
    suppressed = set(plan.model.options.suppress)
    diagnostics = [d for d in diagnostics if d.code not in suppressed]
    if any(path.startswith("tests/") for path in files):
        files["tests/conftest.py"] = GENERATED_CONFTEST
    files["plan.json"] = render_plan_json(
        plan, stores, diagnostics, sized.as_data(), serving_json(served, diagnostics, plan)
    )
    files["docs/access-patterns.md"] = render_serving_md(plan, served, diagnostics)
    files["plan.md"] = render_plan_md(plan, diagnostics)
    files["erd.mmd"] = erd.get()
    tables = store_designs.relational.tables if store_designs.relational is not None else ()
    charted = charts.get()
    files.update(charted)
    files["capacity.md"] = render_capacity_md(plan, sized, stores, diagnostics, tables, sorted(charted))
    files.update(diagrams.get())
    compose = render_compose(plan.model.name, engines_tested(files))
    if compose is not None:
        files["compose.yml"] = compose
    # Last: the report shows every other artifact (and lists them).
    files[REPORT] = render_report(plan, files, diagnostics, store_designs, sized, drawn.get())
    return files, diagnostics


@dataclass(frozen=True)
class _Ahead(Generic[T]):
    """A value made ahead of where one process uses it (while a worker renders), or the error
    making it raised; `get` returns the value or raises that error, where one process would."""

    value: T | None
    error: Exception | None = None

    @classmethod
    def of(cls, make: Callable[[], T]) -> _Ahead[T]:
        """Make the value now; keep its error for `get`."""
        try:
            return cls(make())
        except Exception as error:  # raised by get(), in one process's order
            return cls(None, error)

    def get(self) -> T:
        """The value, or the error that making it raised."""
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


def png_charts(plan: Plan, files: Mapping[str, str]) -> tuple[dict[str, bytes], list[Diagnostic]]:
    """The PNG capacity charts (beside the SVG ones) from plan.json's capacity figures, or none
    and PP438 when matplotlib (the `charts` extra) is not installed."""
    from polyplan.emit.capacity_png import available, capacity_pngs

    capacity = json.loads(files["plan.json"]).get("capacity") or {}
    if not capacity.get("stores"):
        return {}, []
    if not available() and "PP438" not in plan.model.options.suppress:
        notice = Diagnostic(
            "PP438",
            "matplotlib is not installed: the capacity charts are written as SVG only "
            "(docs/capacity-*.svg); install polyplan[charts] for the PNG ones",
            "options",
            Severity.WARNING,
        )
        return {}, [notice]
    if not available():
        return {}, []
    return capacity_pngs(capacity, plan.model.name), []


def write_plan(
    model_path: str | Path,
    out_dir: str | Path,
    force: bool = False,
    targets: str | Path | None = None,
    jobs: int = 1,
) -> tuple[Plan, list[Diagnostic]]:
    """Plan a model (against the profiles of `plan_file`) and write the whole output folder atomically.

    Raises DiagnosticError for a bad model or profile and OutputRefused (nothing written) when
    `out_dir` is unsafe or holds files polyplan did not write (`force` replaces a foreign folder).
    `jobs` is `render`'s.
    """
    plan = plan_file(model_path, targets)
    files, diagnostics = render(plan, jobs)
    charts, notice = png_charts(plan, files)
    diagnostics = [*diagnostics, *notice]
    model_sha256 = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    write_tree(
        files,
        Path(out_dir),
        model_path=Path(model_path),
        model_name=plan.model.name,
        model_sha256=model_sha256,
        force=force,
        binary=charts,
    )
    log.info("wrote %d files to %s", len(files), out_dir)
    return plan, diagnostics

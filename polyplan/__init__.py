"""polyplan: design the persistence layer of an application across several kinds of datastore.

The library API, in pipeline order (docs/api.md has runnable examples)::

    model = polyplan.load("scenarios/shop.yaml")     # parse and check; DiagnosticError on bad input
    plan = polyplan.plan(model)                       # score every entity and choose its stores
    files, diagnostics = polyplan.render(plan)        # every output file as text, nothing written
    polyplan.write("scenarios/shop.yaml", "out/shop") # the same, written atomically to a folder
    polyplan.validate("out/shop", "sqlite")           # run the generated tests against a store

`import polyplan` stays light: each function imports the pipeline (pydantic, SQLAlchemy, every
planner) when first called, and the classes below load on first access, so a tool that only
imports polyplan, or asks for `--help`, pays nothing for them.
"""

from __future__ import annotations

import sys
import types

# `typing` and `pathlib` cost more than the rest of this module: annotations here are strings
# (postponed evaluation), and mypy treats any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO, Any

    from polyplan.diagnostics import Diagnostic, DiagnosticError
    from polyplan.model.loader import LoadedModel
    from polyplan.plan.ir import Plan

__version__ = "0.1.0"

__all__ = [
    "Diagnostic",
    "DiagnosticError",
    "LoadedModel",
    "Plan",
    "__version__",
    "load",
    "plan",
    "render",
    "validate",
    "write",
]

# Names served lazily by __getattr__ (PEP 562): module that defines each.
_LAZY = {
    "Diagnostic": "polyplan.diagnostics",
    "DiagnosticError": "polyplan.diagnostics",
    "LoadedModel": "polyplan.model.loader",
    "Plan": "polyplan.plan.ir",
}


def __getattr__(name: str) -> Any:
    """Load the public classes on first use, so `import polyplan` imports no pipeline module."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polyplan' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load(path: str | Path | None = None, *, text: str | None = None, source: str = "<model>") -> LoadedModel:
    """Read a requirements model and check it completely.

    Give either `path` (a YAML file) or `text` (the YAML itself; `source` names it in
    diagnostics). Returns a `LoadedModel`: the validated model (`.model`, a pydantic object) plus
    the position of every key, which later diagnostics point at.

    Raises `DiagnosticError` listing every problem found (each a `Diagnostic` with a stable
    `PPxxx` code and a `FILE:LINE:COL` location), not just the first.
    """
    from polyplan.model.loader import load_file, load_text

    if (path is None) == (text is None):
        raise TypeError("polyplan.load() takes either a path or text=, not both or neither")
    if text is not None:
        return load_text(text, source)
    assert path is not None  # for mypy: checked just above
    return load_file(path)


def plan(model: str | Path | LoadedModel, *, targets: str | Path | None = None) -> Plan:
    """Score every entity against every store family and choose its system of record and projections.

    `model` is a path to a model file or what `load` returned. `targets` is a folder of target
    profiles (capability YAML files, docs/targets.md): each replaces the bundled profile of the
    same `engine`, or adds one. The plan carries the profiles (`Plan.capabilities`), and `render`
    sizes every store from them. Pure: reads the model file (when given a path) and the profiles,
    writes nothing. Raises `DiagnosticError` on bad input (a bad profile: PP618/PP619).
    """
    from polyplan.analyse.capabilities import load_targets
    from polyplan.model.loader import LoadedModel
    from polyplan.perf import paused_gc
    from polyplan.pipeline import plan_file
    from polyplan.plan.assign import build_plan

    if isinstance(model, LoadedModel):
        with paused_gc():
            return build_plan(model, load_targets(targets))
    return plan_file(model, targets)


def render(plan: Plan) -> tuple[dict[str, str], list[Diagnostic]]:
    """Every output file of a plan and every warning, without touching the file system.

    Returns `(files, diagnostics)`: `files` maps a relative path (`plan.json`,
    `relational/postgresql/schema.sql`, `tests/test_sqlite.py`, …) to its text, byte-identical
    on every run; `diagnostics` are the warnings left after the model's `options.suppress`.
    Raises `DiagnosticError` when a store cannot be designed correctly.
    """
    from polyplan.pipeline import render as render_plan

    return render_plan(plan)


def write(
    model: str | Path, out_dir: str | Path, *, force: bool = False, targets: str | Path | None = None
) -> tuple[Plan, list[Diagnostic]]:
    """Plan the model file `model` and write every output file into `out_dir`, atomically.

    The folder must be new, empty or a previous polyplan output (its manifest lists every file,
    unchanged); `force` also replaces a folder of foreign files. Returns the plan and its
    warnings. `targets` is a folder of your own target profiles, as for `plan`. Raises
    `DiagnosticError` for a bad model or profile and `OutputRefused` (from `polyplan.emit.writer`;
    nothing is written) for an unsafe folder.
    """
    from polyplan.pipeline import write_plan

    return write_plan(model, out_dir, force=force, targets=targets)


def validate(
    directory: str | Path,
    engine: str,
    url: str | None = None,
    *,
    junit_xml: str | Path | None = None,
    output: IO[str] | None = None,
) -> int:
    """Run a written plan folder's generated tests for one engine against a real store.

    `engine` is one of sqlite, postgresql, mysql, redis, mongodb, elasticsearch, opensearch,
    cassandra; `url` defaults to the engine's `POLYPLAN_*_URL` variable (sqlite needs none). The
    tests run under pytest in a subprocess (install `polyplan[validate]`); its report goes to
    `output` (any text stream; default: standard output), and `junit_xml` also writes a JUnit XML report.

    Returns 0 when every test passes and 1 when one fails. Raises `UsageError` (not a plan
    folder, files edited since `polyplan plan`, a URL of another engine) or `Unreachable` (no
    server answers), both from `polyplan.validate.runner`.
    """
    import io
    import tempfile
    from pathlib import Path

    from polyplan.validate.runner import run_validation

    report = Path(junit_xml) if junit_xml is not None else None
    if output is None:
        return run_validation(directory, engine, url, junit_xml=report)
    try:
        output.fileno()
    except (OSError, io.UnsupportedOperation):
        # pytest runs in a subprocess, which can write only to a real file: go through one for
        # an in-memory stream such as io.StringIO.
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            code = run_validation(directory, engine, url, output=spool, junit_xml=report)
            spool.seek(0)
            output.write(spool.read())
        return code
    return run_validation(directory, engine, url, output=output, junit_xml=report)


class _Package(types.ModuleType):
    """The `polyplan` module, whose API functions `plan` and `validate` share their names with
    the subpackages `polyplan.plan` and `polyplan.validate`.

    Importing a submodule makes Python set it as an attribute of its parent, which would replace
    the function `polyplan.plan` with the package the first time anything imports
    `polyplan.plan.ir`. The public name stays the function; the subpackages remain importable by
    their full names (`from polyplan.plan.ir import Plan`), which is how polyplan itself uses them.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


_API = frozenset({"load", "plan", "render", "validate", "write"})
sys.modules[__name__].__class__ = _Package

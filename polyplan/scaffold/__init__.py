"""`polyplan scaffold`: a small importable data-access package for a plan (issue 15).

`scaffold` and `scaffold_files` are pure; `write_scaffold` writes through the same safe, atomic
writer as `polyplan plan` (a folder of the user's is never replaced).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from polyplan.diagnostics import Diagnostic
from polyplan.plan.ir import Plan


def scaffold(plan: Plan) -> tuple[dict[str, str], list[Diagnostic]]:
    """The package's files (relative path → text, deterministic), a PP811 warning for each
    pattern it has no function for and a PP812 for each parent path or copy it does not run. Raises DiagnosticError (PP810) when there is nothing to scaffold."""
    from polyplan.diagnostics import DiagnosticError, Severity
    from polyplan.plan.assign import loaded_locate
    from polyplan.scaffold.design import design_scaffold
    from polyplan.scaffold.e2e import e2e_files
    from polyplan.scaffold.render import render_scaffold

    try:
        design = design_scaffold(plan)
    except DiagnosticError as error:  # pointed at the model's line, like every other finding
        raise DiagnosticError([loaded_locate(plan.loaded, d) for d in error.diagnostics]) from None
    suppressed = set(plan.model.options.suppress)
    warnings = [
        loaded_locate(plan.loaded, Diagnostic("PP811", f"not scaffolded: {why}", path, Severity.WARNING))
        for path, why in design.skipped
    ] + [
        loaded_locate(plan.loaded, Diagnostic("PP812", f"not run by the package: {why}", path, Severity.WARNING))
        for path, why in design.unrun
    ]
    # The relational record's patterns and projections are load.py's and check.py's own; the other
    # stores' entities and the indexes they feed are added from the full design (e2e_stores.py).
    relational = {c.entity for c in design.classes}
    e2e_design = replace(
        design,
        indexes=tuple(i for i in design.indexes if i.entity in relational),
        search_reads=tuple(r for r in design.search_reads if r.entity in relational),
    )
    # Without a relational entity there is no relational record for them to run and check.
    files = render_scaffold(design) | (e2e_files(plan, e2e_design, design) if design.engines else {})
    return dict(sorted(files.items())), [w for w in warnings if w.code not in suppressed]


def scaffold_files(plan: Plan) -> dict[str, str]:
    """Relative path → text of the scaffolded package for `plan` (deterministic)."""
    return scaffold(plan)[0]


def write_scaffold(
    model_path: str | Path, out_dir: str | Path, force: bool = False, targets: str | Path | None = None
) -> tuple[Plan, dict[str, str], list[Diagnostic]]:
    """Plan `model_path` (against the target profiles in `targets` and the bundled ones) and write
    its scaffold to `out_dir` atomically.

    Raises DiagnosticError for a bad model (or nothing to scaffold) and OutputRefused (nothing
    written) when `out_dir` is unsafe or holds files polyplan did not write.
    """
    from polyplan.emit.writer import write_tree
    from polyplan.pipeline import plan_file

    plan = plan_file(model_path, targets)
    files, warnings = scaffold(plan)
    write_tree(
        files,
        Path(out_dir),
        model_path=Path(model_path),
        model_name=plan.model.name,
        model_sha256=hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
        force=force,
    )
    return plan, files, warnings

"""`polyplan scaffold`: a small importable data-access package for a plan (issue 15).

`scaffold_files` is pure; `write_scaffold` writes through the same safe, atomic writer as
`polyplan plan` (a folder of the user's is never replaced).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from polyplan.plan.ir import Plan


def scaffold_files(plan: Plan) -> dict[str, str]:
    """Relative path → text of the scaffolded package for `plan` (deterministic)."""
    from polyplan.scaffold.design import design_scaffold
    from polyplan.scaffold.render import render_scaffold

    return render_scaffold(design_scaffold(plan))


def write_scaffold(model_path: str | Path, out_dir: str | Path, force: bool = False) -> tuple[Plan, dict[str, str]]:
    """Plan `model_path` and write its scaffold to `out_dir` atomically.

    Raises DiagnosticError for a bad model and OutputRefused (nothing written) when `out_dir` is
    unsafe or holds files polyplan did not write.
    """
    from polyplan.emit.writer import write_tree
    from polyplan.pipeline import plan_file

    plan = plan_file(model_path)
    files = scaffold_files(plan)
    write_tree(
        files,
        Path(out_dir),
        model_path=Path(model_path),
        model_name=plan.model.name,
        model_sha256=hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
        force=force,
    )
    return plan, files

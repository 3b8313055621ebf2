"""`polyplan scaffold`: write a data-access package for a model's plan (issue 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyplan.cli.app import app
from polyplan.cli.common import TargetsOption, guarded, print_diagnostics, quiet, say


@app.command()
def scaffold(
    model: Annotated[Path, typer.Argument(help="The requirements model (YAML).", show_default=False)],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder: new, empty, or a previous scaffold (replaced atomically)."),
    ] = Path("scaffold"),
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing folder that polyplan did not write (never the current folder, "
            "the model's folder, a file or a link).",
        ),
    ] = False,
    targets: TargetsOption = None,
) -> None:
    """Write a typed data-access package for MODEL's plan to --out: reads, writes, outbox relay."""
    from polyplan.scaffold import write_scaffold

    plan, files, warnings = guarded(lambda: write_scaffold(model, out, force=force, targets=targets))
    print_diagnostics(warnings)
    if not quiet():
        package = next(path.split("/")[0] for path in sorted(files) if path.endswith("/__init__.py"))
        say(f"scaffolded {plan.model.name}: package {package} ({len(files)} files) in {out}")

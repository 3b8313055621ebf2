"""`polyplan diagram`: the ER diagram of a model on stdout, as Mermaid, DOT, DBML or SVG.

`polyplan plan` writes the text forms (erd.mmd, erd.dot, erd.dbml, diagrams/) and the report
draws its own SVG, so a plan never depends on a binary. `--format svg` is the one step that
runs Graphviz's `dot`, on demand, for a laid-out picture.
"""

from __future__ import annotations

import shutil
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from polyplan.cli.app import app
from polyplan.cli.common import TargetsOption, guarded
from polyplan.cli.planning import ModelArg
from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity

# `dot` lays out a few hundred boxes in well under a second; a stuck process is not waited on forever.
_DOT_TIMEOUT = 120


class Format(StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"
    DBML = "dbml"
    SVG = "svg"


def _fail(code: str, message: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, message, "", Severity.ERROR)])


def render_svg(dot_source: str) -> str:
    """The DOT text laid out by Graphviz as SVG; DiagnosticError (PP610/PP612) without a working `dot`."""
    binary = shutil.which("dot")
    if binary is None:
        raise _fail(
            "PP610",
            "--format svg needs Graphviz's `dot` on PATH (apt-get install graphviz); "
            "--format dot writes the same diagram as text",
        )
    try:
        result = subprocess.run(
            [binary, "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=_DOT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _fail("PP612", f"Graphviz `dot` did not render the diagram: {error}") from None
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no message"])[0]
        raise _fail("PP612", f"Graphviz `dot` exited with {result.returncode}: {first}")
    return result.stdout


def diagram_text(model_path: str, fmt: Format, store: str | None, targets: Path | None = None) -> str:
    """The diagram of the model at `model_path` (one store's, with `store`) in `fmt`, planned
    against the target profiles in `targets` (and the bundled ones)."""
    from polyplan.emit.diagram import build_graph, render_dbml, render_dot, stores
    from polyplan.emit.erd import render_erd
    from polyplan.pipeline import plan_file

    plan = plan_file(model_path, targets)
    known = stores(plan)
    if store is not None and store not in known:
        raise _fail("PP611", f"no entity is stored in '{store}'; stores of this plan: {', '.join(known)}")
    if fmt is Format.MERMAID:
        return render_erd(plan, store)
    graph = build_graph(plan, store)
    if fmt is Format.DBML:
        return render_dbml(graph)
    dot = render_dot(graph)
    return dot if fmt is Format.DOT else render_svg(dot)


@app.command()
def diagram(
    model: ModelArg,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="mermaid, dot, dbml, or svg (runs Graphviz `dot`).")] = (
        Format.MERMAID
    ),
    store: Annotated[
        str | None,
        typer.Option("--store", help="Only the entities stored in FAMILY:ENGINE, e.g. relational:postgresql."),
    ] = None,
    targets: TargetsOption = None,
) -> None:
    """Print MODEL's ER diagram (whole plan, or one store's) on stdout."""
    typer.echo(guarded(lambda: diagram_text(str(model), fmt, store, targets)), nl=False)

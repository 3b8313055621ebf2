"""`polyplan plan`, `explain` and `schema`: the commands that need no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyplan.cli.app import app
from polyplan.cli.common import console, guarded, print_diagnostics

# The pipeline (pydantic, YAML, every planner module) loads when a command runs, not for --help.
if TYPE_CHECKING:
    from polyplan.plan.ir import EntityPlan

ModelArg = Annotated[Path, typer.Argument(help="The requirements model (YAML).", show_default=False)]


@app.command()
def plan(
    model: ModelArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder: new, empty, or a previous plan (replaced atomically).")
    ] = Path("out"),
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing folder that polyplan did not write (never the current folder, "
            "the model's folder, a file or a link).",
        ),
    ] = False,
) -> None:
    """Plan MODEL and write plan.json, plan.md, erd.mmd, per-store artifacts and tests to --out."""
    from polyplan.pipeline import write_plan

    with console.status("planning…"):
        result, diagnostics = guarded(lambda: write_plan(model, out, force=force))
    print_diagnostics(diagnostics)
    table = Table(title=f"{escape(result.model.name)}: plan written to {escape(str(out))}")
    for column in ("entity", "system of record", "projections", "score", "runner-up"):
        table.add_column(column)
    for entity in result.entities.values():
        table.add_row(
            escape(entity.name),
            f"{entity.family.value} ({entity.engine})",
            ", ".join(p.family.value for p in entity.projections) or "—",
            f"{entity.score_of(entity.family).total:.2f}",
            entity.runner_up.value if entity.runner_up else "—",
        )
    console.print(table)


_SHORT = {
    "relational": "relational",
    "document": "document",
    "cache": "cache",
    "search": "search",
    "wide_column": "wide-col",
}


def _explain_entity(entity: EntityPlan) -> Table:
    families = [s for s in entity.scores if s.engine is not None]
    table = Table(title=f"{escape(entity.name)} → {entity.family.value} ({entity.engine})")
    table.add_column("factor")
    table.add_column("weight", justify="right")
    for score in families:
        marker = "*" if score.family is entity.family else ""
        table.add_column(_SHORT[score.family.value] + marker, justify="right")
    chosen = entity.score_of(entity.family)
    for index, factor in enumerate(chosen.factors):
        table.add_row(factor.factor, f"{factor.weight:.2f}", *[f"{s.factors[index].score:.2f}" for s in families])
    table.add_row("total", "", *[f"[bold]{s.total:.2f}[/bold]" for s in families])
    table.add_row("blocked", "", *[("yes" if s.blockers else "—") for s in families])
    return table


@app.command()
def explain(
    model: ModelArg,
    entity: Annotated[str | None, typer.Argument(help="Only this entity.")] = None,
) -> None:
    """Show every family's score for each entity, factor by factor, and why the winner won."""
    from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
    from polyplan.pipeline import plan_file

    result = guarded(lambda: plan_file(model))
    if entity is not None and entity not in result.entities:
        known = ", ".join(result.entities)
        error = Diagnostic("PP201", f"unknown entity '{entity}' (known: {known})", "ENTITY", Severity.ERROR)
        guarded(lambda: (_ for _ in ()).throw(DiagnosticError([error])))
    for name, decision in result.entities.items():
        if entity is not None and name != entity:
            continue
        console.print(_explain_entity(decision))
        for factor in decision.score_of(decision.family).factors:
            console.print(f"  {factor.factor}: {factor.reason}", markup=False)
        for reason in decision.reasons:
            console.print(f"  • {reason}", markup=False)  # reasons quote model text: never markup
        console.print(f"  • runner-up: {decision.runner_up_reason}", markup=False)
        for score in decision.scores:
            for blocker in score.blockers:
                console.print(f"  • {score.family.value} ruled out: {blocker}", markup=False)
        for projection in decision.projections:
            console.print(
                f"  • projection → {projection.family.value} ({projection.engine}) via {projection.sync.value}: "
                f"{projection.reason}",
                markup=False,
            )
        console.print()


@app.command()
def schema() -> None:
    """Print the JSON Schema of the requirements model (for editor completion)."""
    from polyplan.model.schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, sort_keys=True))

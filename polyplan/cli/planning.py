"""`polyplan plan`, `explain` and `schema`: the commands that need no server."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyplan.cli.app import app
from polyplan.cli.common import TargetsOption, guarded, print_diagnostics, print_json, quiet, stdout_console

# The pipeline (pydantic, YAML, every planner module) loads when a command runs, not for --help.
if TYPE_CHECKING:
    from polyplan.plan.ir import EntityPlan, Plan

ModelArg = Annotated[Path, typer.Argument(help="The requirements model (YAML).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout instead of a table.")]


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
    as_json: JsonOption = False,
    targets: TargetsOption = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes to render with: 2 or more lets one forked worker render part of the relational "
            "engines of a large model (the same bytes as 1; more than 2 gains nothing today). "
            "Default: the usable CPUs, at most 2.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Plan MODEL and write plan.json, plan.md, erd.mmd, per-store artifacts and tests to --out."""
    from polyplan.emit.plan_json import diagnostic_json
    from polyplan.pipeline import default_jobs, write_plan

    # No spinner when stdout carries JSON or -q asked for silence.
    with nullcontext() if as_json or quiet() else stdout_console().status("planning…"):
        result, diagnostics = guarded(
            lambda: write_plan(model, out, force=force, targets=targets, jobs=jobs or default_jobs())
        )
    print_diagnostics(diagnostics)
    if as_json:
        print_json(
            {
                "model": result.model.name,
                "out": str(out),
                "entities": [
                    {
                        "name": entity.name,
                        "system_of_record": {"family": entity.family.value, "engine": entity.engine},
                        "projections": [
                            {"family": p.family.value, "engine": p.engine, "sync": p.sync.value}
                            for p in entity.projections
                        ],
                        "score": entity.score_of(entity.family).total,
                        "runner_up": entity.runner_up.value if entity.runner_up else None,
                    }
                    for entity in result.entities.values()
                ],
                "diagnostics": [diagnostic_json(d) for d in diagnostics],
            }
        )
        return
    if quiet():
        return
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
    stdout_console().print(table)


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


def _entity_name(asked: str, known: list[str]) -> str:
    """The entity `asked` names: exactly, else the one that matches ignoring case (`product` is
    `Product`); otherwise a PP201 error that suggests the closest names."""
    import difflib

    from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity

    if asked in known:
        return asked
    folded = [name for name in known if name.casefold() == asked.casefold()]
    if len(folded) == 1:
        return folded[0]
    close = difflib.get_close_matches(asked.casefold(), [name.casefold() for name in known], n=3, cutoff=0.6)
    hint = [name for name in known if name.casefold() in close]
    message = f"unknown entity '{asked}'" + (
        f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else f" (known: {', '.join(known)})"
    )
    raise DiagnosticError([Diagnostic("PP201", message, "ENTITY", Severity.ERROR)])


@app.command()
def explain(
    model: ModelArg,
    entity: Annotated[str | None, typer.Argument(help="Only this entity (any letter case).")] = None,
    as_json: JsonOption = False,
    targets: TargetsOption = None,
    patterns: Annotated[
        bool,
        typer.Option(
            "--patterns",
            help="Instead of the scores: for every access pattern, the store that answers it and the "
            "structure it reads (index, key family, query table, search template), with the estimate "
            "and the warning codes (designs every store, as `plan` does).",
        ),
    ] = False,
) -> None:
    """Show every family's score for each entity, factor by factor, and why the winner won."""
    from polyplan.emit.plan_json import entity_json
    from polyplan.pipeline import plan_file

    result = guarded(lambda: plan_file(model, targets))
    names = [guarded(lambda: _entity_name(entity, list(result.entities)))] if entity else list(result.entities)
    if patterns:
        _explain_patterns(result, set(names), as_json)
        return
    chosen = [result.entities[name] for name in names]
    if as_json:
        print_json({"model": result.model.name, "entities": [entity_json(decision) for decision in chosen]})
        return
    for decision in chosen:
        stdout_console().print(_explain_entity(decision))
        for factor in decision.score_of(decision.family).factors:
            stdout_console().print(f"  {factor.factor}: {factor.reason}", markup=False)
        for reason in decision.reasons:
            stdout_console().print(f"  • {reason}", markup=False)  # reasons quote model text: never markup
        stdout_console().print(f"  • runner-up: {decision.runner_up_reason}", markup=False)
        for score in decision.scores:
            for blocker in score.blockers:
                stdout_console().print(f"  • {score.family.value} ruled out: {blocker}", markup=False)
        for projection in decision.projections:
            stdout_console().print(
                f"  • projection → {projection.family.value} ({projection.engine}) via {projection.sync.value}: "
                f"{projection.reason}",
                markup=False,
            )
        stdout_console().print()


def _explain_patterns(result: Plan, entities: set[str], as_json: bool) -> None:
    """`explain --patterns`: plan.json's `serving` rows of `entities`' patterns, as JSON or a table."""
    from polyplan.pipeline import render

    files, _ = guarded(lambda: render(result))
    rows = [row for row in json.loads(files["plan.json"])["serving"] if row["entity"] in entities]
    if as_json:
        print_json({"model": result.model.name, "patterns": rows})
        return
    table = Table(title=f"{escape(result.model.name)}: what serves each access pattern")
    for column in ("pattern", "store", "role", "structure", "est. ms", "warnings"):
        table.add_column(column, justify="right" if column == "est. ms" else "left")
    for row in rows:
        estimate = "" if row["estimated_ms"] is None else f"{row['estimated_ms']:g}"
        table.add_row(
            *(escape(text) for text in (row["pattern"], row["store"], row["role"], row["structure"])),
            estimate,
            ", ".join(row["warnings"]) or "—",
        )
    stdout_console().print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the requirements model (for editor completion)."""
    from polyplan.model.schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, sort_keys=True))

"""`polyplan tune MODEL --url postgresql://…`: ask PostgreSQL's optimizer whether it agrees with the
plan's index design, pattern by pattern (polyplan.validate.tune)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyplan.cli.app import app
from polyplan.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECKS_FAILED,
    TargetsOption,
    guarded,
    print_json,
    quiet,
    stderr_console,
    stdout_console,
)

URL_VARIABLE = "POLYPLAN_POSTGRES_URL"


@app.command()
def tune(
    model: Annotated[Path, typer.Argument(help="The requirements model (YAML).", show_default=False)],
    url: Annotated[
        str | None,
        typer.Option("--url", help=f"PostgreSQL server URL (else {URL_VARIABLE}); a scratch database is made there."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every pattern's verdict and costs as JSON on stdout.")
    ] = False,
    targets: TargetsOption = None,
) -> None:
    """EXPLAIN every relational pattern of MODEL under its table's candidate index sets on a real
    PostgreSQL (scratch database, seeded rows) and list where the optimizer's choice differs from
    polyplan's, with why. Exit 0 if they agree on every pattern, 1 if any differs, 2 on bad input."""
    # Imported here so that `polyplan --help` does not load SQLAlchemy and the planner.
    import sqlalchemy as sa

    from polyplan.extras import require_engine
    from polyplan.stores.relational.tuning import summary
    from polyplan.validate.tune import tune as run_tune

    target = url or os.environ.get(URL_VARIABLE)
    if not target:
        stderr_console().print(f"polyplan tune: give --url postgresql://… or set {URL_VARIABLE} [PP429]", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    require_engine("postgresql", "polyplan tune")
    try:
        report = guarded(lambda: run_tune(model, target, targets))
    except sa.exc.OperationalError as error:
        first = str(error.orig if error.orig is not None else error).strip().splitlines()[0]
        stderr_console().print(f"polyplan tune: cannot reach PostgreSQL: {first}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    counts = summary(report.findings)
    if as_json:
        print_json(report.as_data())
    elif not quiet():
        table = Table(title=f"{escape(report.model)}: optimizer vs plan ({escape(report.method)})")
        for column in ("table", "pattern", "polyplan", "optimizer", "verdict"):
            table.add_column(column, overflow="fold")  # index names whole, not cut with an ellipsis
        for finding in report.findings:
            verdict = "agree" if finding.agree else f"[red]{finding.code}[/red]"
            table.add_row(
                escape(finding.table),
                escape(finding.pattern),
                escape(finding.polyplan),
                escape(finding.optimizer),
                verdict,
            )
        stdout_console().print(table)
        for finding in report.findings:
            if not finding.agree:
                stdout_console().print(
                    f"{finding.table}.{finding.pattern}: {finding.explanation} [{finding.code}]",
                    markup=False,
                    highlight=False,
                )
        stdout_console().print(
            f"{counts['agree']} of {counts['patterns']} patterns agree, {counts['disagree']} differ "
            f"(HypoPG: {report.hypopg})",
            markup=False,
            highlight=False,
        )
    if counts["disagree"]:
        raise typer.Exit(EXIT_CHECKS_FAILED)

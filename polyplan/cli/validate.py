"""`polyplan validate DIR --engine E [--url URL] [--mutations]`: run a plan folder's tests against a
real store (and, with --mutations, check that they catch deliberate breakage)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from polyplan.cli.app import app
from polyplan.cli.common import EXIT_BAD_INPUT, EXIT_CHECKS_FAILED, console, err_console
from polyplan.validate.runner import EXIT_OK, VALIDATABLE, Unreachable, UsageError, mutation_score, run_validation


class EngineChoice(StrEnum):
    """Stores `polyplan validate` can check (mirrors polyplan.validate.runner.VALIDATABLE)."""

    sqlite = "sqlite"
    postgresql = "postgresql"
    mysql = "mysql"
    redis = "redis"
    mongodb = "mongodb"
    elasticsearch = "elasticsearch"
    opensearch = "opensearch"
    cassandra = "cassandra"


assert tuple(EngineChoice) == VALIDATABLE


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False)


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="A plan folder written by `polyplan plan`.")],
    engine: Annotated[EngineChoice, typer.Option("--engine", help="The store to validate against.")],
    url: Annotated[
        str | None, typer.Option("--url", help="Connection URL (else the engine's POLYPLAN_*_URL variable).")
    ] = None,
    mutations: Annotated[
        bool,
        typer.Option(
            "--mutations",
            help="Then break copies of the relational output on purpose (a dropped LIMIT, filter, index, "
            "constraint, …) and require the tests to catch each one; exit 1 if any survives. Slow.",
        ),
    ] = False,
) -> None:
    """Run the plan's generated tests for one engine; exit 0 if all pass, 1 if a check fails."""
    from polyplan.extras import require, require_engine

    require("pytest", "polyplan validate")  # the generated tests are pytest modules
    require_engine(engine.value, f"polyplan validate --engine {engine.value}")
    try:
        code = run_validation(directory, str(engine.value), url)
        if code == EXIT_OK and mutations:
            code = mutation_score(directory, str(engine.value), url, report=_say)
    except UsageError as error:
        err_console.print(f"polyplan validate: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Unreachable as error:
        err_console.print(f"polyplan validate: {error}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    raise typer.Exit(code)

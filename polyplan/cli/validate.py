"""`polyplan validate DIR --engine E [--url URL] [--mutations]`: run a plan folder's tests against a
real store (and, with --mutations, check that they catch deliberate breakage)."""

from __future__ import annotations

import tempfile
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from polyplan.cli.app import app
from polyplan.cli.common import EXIT_BAD_INPUT, EXIT_CHECKS_FAILED, print_json, quiet, stderr_console, stdout_console
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
    stdout_console().print(line, markup=False, highlight=False)


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
    junit_xml: Annotated[
        Path | None,
        typer.Option("--junit-xml", "--junitxml", help="Also write a JUnit XML report there (pytest's own), for CI."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON on stdout: counts and every test's verdict.")
    ] = False,
) -> None:
    """Run the plan's generated tests for one engine; exit 0 if all pass, 1 if a check fails."""
    from polyplan.extras import require, require_engine

    require("pytest", "polyplan validate")  # the generated tests are pytest modules
    require_engine(engine.value, f"polyplan validate --engine {engine.value}")
    tests: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
            code = _run_with_progress(directory, engine.value, url, junit_xml, output, tests, show=not as_json)
            output.seek(0)
            report = output.read()
        if not as_json and code != EXIT_OK:
            stdout_console().out(report, highlight=False, end="")  # pytest's own account of each failure
        elif not as_json and not quiet():
            _say(report.strip().splitlines()[-1] if report.strip() else "no tests ran")
        verdicts: list[str] = []  # --mutations: one line per mutation, into the JSON under --json
        if code == EXIT_OK and mutations:
            code = mutation_score(directory, str(engine.value), url, report=verdicts.append if as_json else _say)
        if as_json:
            print_json(_outcome(directory, engine.value, code, tests, junit_xml) | {"mutations": verdicts})
    except UsageError as error:
        stderr_console().print(f"polyplan validate: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Unreachable as error:
        stderr_console().print(f"polyplan validate: {error}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    raise typer.Exit(code)


def _run_with_progress(
    directory: Path,
    engine: str,
    url: str | None,
    junit_xml: Path | None,
    output: Any,
    tests: list[dict[str, Any]],
    *,
    show: bool,
) -> int:
    """Run the generated tests with a Rich progress bar on stderr (not under -q or --json; Rich
    draws none when stderr is not a terminal), collecting each test's verdict into `tests`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(
        *columns,
        console=stderr_console(),
        transient=True,
        disable=quiet() or not show or not stderr_console().is_terminal,
    ) as progress:
        task = progress.add_task(f"validating {engine}", total=None)

        def event(item: dict[str, Any]) -> None:
            if "total" in item:
                progress.update(task, total=item["total"])
                return
            tests.append(item)
            failed = sum(t["outcome"] in ("failed", "error") for t in tests)
            progress.update(
                task, advance=1, description=f"validating {engine}" + (f" ({failed} failed)" if failed else "")
            )

        return run_validation(directory, engine, url, output=output, junit_xml=junit_xml, events=event)


def _outcome(
    directory: Path, engine: str, code: int, tests: list[dict[str, Any]], junit_xml: Path | None
) -> dict[str, Any]:
    counts = Counter(t["outcome"] for t in tests)
    return {
        "folder": str(directory),
        "engine": engine,
        "exit_code": code,
        "counts": {name: counts.get(name, 0) for name in ("passed", "failed", "error", "skipped")},
        "junit_xml": str(junit_xml) if junit_xml else None,
        "tests": tests,
    }

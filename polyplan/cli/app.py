"""The Typer application object and its global options; command modules register themselves on it."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from polyplan.cli.common import configure_output

app = typer.Typer(
    name="polyplan",
    help="Design the persistence layer of an application across several kinds of datastore.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"polyplan {version('polyplan')}")
        raise typer.Exit()


@app.callback()
def _global_options(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Say more: -v what each step did, -vv debugging detail.")
    ] = 0,
    quiet: Annotated[
        int, typer.Option("--quiet", "-q", count=True, help="Say less: only errors (and the results asked for).")
    ] = 0,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colour (also NO_COLOR=1).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Design the persistence layer of an application across several kinds of datastore."""
    # The logging level follows -v/-q: WARNING by default (diagnostics and warnings are shown),
    # INFO with -v, DEBUG with -vv, ERROR with -q.
    level = logging.WARNING - 10 * verbose + 10 * quiet
    configure_output(max(logging.DEBUG, min(logging.CRITICAL, level)), no_color=no_color)

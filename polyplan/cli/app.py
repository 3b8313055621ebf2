"""The Typer application object; command modules register themselves on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="polyplan",
    help="Design the persistence layer of an application across several kinds of datastore.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

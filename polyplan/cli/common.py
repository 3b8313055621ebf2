"""Shared CLI plumbing: consoles, exit codes, and turning diagnostics into messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import typer
from rich.console import Console

from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.emit.writer import OutputRefused

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3  # a bug in polyplan, not in the user's input

console = Console(emoji=False)  # ":100:" in FILE:LINE:COL must not become an emoji
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

T = TypeVar("T")
log = logging.getLogger("polyplan")


def configure_output(level: int, *, no_color: bool = False) -> None:
    """Route polyplan's `logging` to stderr through Rich at `level` (from -v/-q). `--no-color`
    (or NO_COLOR, which Rich reads into `no_color`) makes both consoles print plain text."""
    from rich.logging import RichHandler

    for stream in (console, err_console):
        if no_color or stream.no_color:
            stream.no_color = True
            # Rich's no_color drops colours only: tables still come out bold and italic, in escape
            # sequences that a log file or a CI page shows as text. A console without a colour
            # system writes none; Rich sets that only in the constructor, and these consoles are
            # built at import time (other modules hold them), so it is set here.
            stream._color_system = None
    handler = RichHandler(console=err_console, show_time=False, show_path=False, markup=False)
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def quiet() -> bool:
    """True under -q: print only errors and the results asked for (JSON, files)."""
    return log.getEffectiveLevel() > logging.WARNING


def say(text: str) -> None:
    """A progress or summary line for people (stdout, plain text); silent under -q."""
    if not quiet():
        console.print(text, markup=False, highlight=False)


def print_json(body: Any) -> None:
    """A result as JSON on stdout (sorted keys, so it diffs), whatever -q says."""
    typer.echo(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Print findings to stderr, one per line, in the FILE:LINE:COL form (warnings not under -q)."""
    for diagnostic in diagnostics:
        if diagnostic.severity is not Severity.ERROR and quiet():
            continue
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        err_console.print(diagnostic.render(), style=style, markup=False)


def guarded(action: Callable[[], T]) -> T:
    """Run `action`; bad input (or a refused output folder) becomes one line each on stderr, exit 2."""
    try:
        return action()
    except DiagnosticError as error:
        print_diagnostics(error.diagnostics)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OutputRefused as refused:
        err_console.print(f"polyplan: {refused.message} [{refused.code}]", style="red", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None

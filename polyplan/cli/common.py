"""Shared CLI plumbing: consoles, exit codes, and turning diagnostics into messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

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


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Print findings to stderr, one per line, in the FILE:LINE:COL form."""
    for diagnostic in diagnostics:
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

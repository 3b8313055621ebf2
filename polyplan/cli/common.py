"""Shared CLI plumbing: consoles, exit codes, and turning diagnostics into messages."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from polyplan.diagnostics import Diagnostic, DiagnosticError, Severity
from polyplan.emit.writer import OutputRefused

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3  # a bug in polyplan, not in the user's input

# Every command that plans takes the same option: the user's own target profiles (docs/targets.md).
TargetsOption = Annotated[
    Path | None,
    typer.Option(
        "--targets",
        help="A folder of target profiles (*.yaml, as in polyplan/targets/): each replaces the bundled "
        "profile of its engine, or adds one. A bad profile: one line per problem, exit 2 [PP618/PP619].",
        show_default=False,
    ),
]


def _make_consoles(*, no_color: bool) -> dict[str, Console]:
    # emoji=False: ":100:" in FILE:LINE:COL must not become an emoji. Rich drops only colours
    # under no_color (bold and italic escapes remain, which a log file or CI page shows as text);
    # color_system=None writes no escape at all, and Rich honours it only in the constructor, so
    # the consoles are made again once the options are parsed rather than patched.
    color_system: Any = None if no_color else "auto"
    return {
        "out": Console(emoji=False, no_color=no_color or None, color_system=color_system),
        "err": Console(
            stderr=True,
            highlight=False,
            soft_wrap=True,
            emoji=False,
            no_color=no_color or None,
            color_system=color_system,
        ),
    }


_consoles = _make_consoles(no_color=False)


def stdout_console() -> Console:
    """The console for results (stdout), as configured by the global options."""
    return _consoles["out"]


def stderr_console() -> Console:
    """The console for errors, warnings and progress (stderr), as configured by the global options."""
    return _consoles["err"]


T = TypeVar("T")
log = logging.getLogger("polyplan")


def configure_output(level: int, *, no_color: bool = False) -> None:
    """Route polyplan's `logging` to stderr through Rich at `level` (from -v/-q). `--no-color`
    (or a non-empty NO_COLOR) makes both consoles print plain text, with no escape sequence."""
    from rich.logging import RichHandler

    # NO_COLOR (any non-empty value, https://no-color.org) means the same as --no-color; decided
    # afresh on every call, so one --no-color run does not colour-strip the next in-process run.
    _consoles.update(_make_consoles(no_color=no_color or os.environ.get("NO_COLOR", "") != ""))
    handler = RichHandler(console=stderr_console(), show_time=False, show_path=False, markup=False)
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def quiet() -> bool:
    """True under -q: print only errors and the results asked for (JSON, files)."""
    return log.getEffectiveLevel() > logging.WARNING


def say(text: str) -> None:
    """A progress or summary line for people (stdout, plain text); silent under -q."""
    if not quiet():
        stdout_console().print(text, markup=False, highlight=False)


def print_json(body: Any) -> None:
    """A result as JSON on stdout (sorted keys, so it diffs), whatever -q says."""
    typer.echo(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Print findings to stderr, one per line, in the FILE:LINE:COL form (warnings not under -q)."""
    for diagnostic in diagnostics:
        if diagnostic.severity is not Severity.ERROR and quiet():
            continue
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        stderr_console().print(diagnostic.render(), style=style, markup=False)


def guarded(action: Callable[[], T]) -> T:
    """Run `action`; bad input (or a refused output folder) becomes one line each on stderr, exit 2."""
    try:
        return action()
    except DiagnosticError as error:
        print_diagnostics(error.diagnostics)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OutputRefused as refused:
        stderr_console().print(f"polyplan: {refused.message} [{refused.code}]", style="red", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None

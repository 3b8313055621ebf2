"""The command-line interface: a thin layer over `polyplan.pipeline` and the validators."""

from __future__ import annotations

import os
import sys

from polyplan.cli import (
    capacity,
    diagram,
    planning,
    scaffold,
    schema_change,
    seed,
    tune,
    validate,
)  # each module registers its commands on `app`
from polyplan.cli.app import app
from polyplan.cli.common import EXIT_BAD_INPUT, EXIT_INTERNAL, stderr_console
from polyplan.extras import MissingExtra, missing_extra


def main() -> None:
    """Entry point of the `polyplan` script: no traceback reaches the user unless POLYPLAN_DEBUG is set."""
    try:
        app()
    except MissingExtra as error:  # installed without the extra this command needs: one line, exit 2
        stderr_console().print(f"polyplan: {error} [PP604]", markup=False)
        sys.exit(EXIT_BAD_INPUT)
    except Exception as error:  # a bug, not bad input: say so plainly
        if os.environ.get("POLYPLAN_DEBUG"):
            raise
        # A driver imported deep inside a command (an SQLAlchemy dialect, say) that no early
        # check caught is still one line naming the extra, when the module belongs to one.
        extra = missing_extra(error, "this command") if isinstance(error, ModuleNotFoundError) else None
        if extra is not None:
            stderr_console().print(f"polyplan: {extra} [PP604]", markup=False)
            sys.exit(EXIT_BAD_INPUT)
        stderr_console().print(f"polyplan: internal error: {type(error).__name__}: {error}", markup=False)
        stderr_console().print("Run again with POLYPLAN_DEBUG=1 for the traceback, and please report it.", markup=False)
        sys.exit(EXIT_INTERNAL)


__all__ = ["app", "capacity", "diagram", "main", "planning", "scaffold", "schema_change", "seed", "tune", "validate"]

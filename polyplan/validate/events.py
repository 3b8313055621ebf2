"""A pytest plugin `polyplan validate` loads into the test run (`-p polyplan.validate.events`):
one JSON line per event on the file descriptor named by POLYPLAN_EVENTS_FD.

The parent draws a progress bar from these lines and builds `--json` results from them, so
neither depends on parsing pytest's terminal output. Events: `{"total": N}` once collection ends,
then `{"nodeid", "outcome", "duration", "message"}` per test (outcome passed, failed, skipped or
error — an error is a failure outside the test body, in a fixture's set-up or tear-down).
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

import pytest

_stream: IO[str] | None = None


def _send(event: dict[str, Any]) -> None:
    global _stream
    if _stream is None:
        _stream = os.fdopen(int(os.environ["POLYPLAN_EVENTS_FD"]), "w", encoding="utf-8", buffering=1)
    _stream.write(json.dumps(event, sort_keys=True) + "\n")


def pytest_collection_finish(session: pytest.Session) -> None:
    """The number of tests about to run, for the bar's total."""
    _send({"total": len(session.items)})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One event per test: its call phase, or the set-up/tear-down phase that failed or skipped it."""
    if report.when == "call" or (report.when == "setup" and not report.passed) or report.failed:
        outcome = report.outcome if report.when == "call" or report.skipped else "error"
        message = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        elif report.failed:
            message = report.longreprtext.strip().splitlines()[-1] if report.longreprtext.strip() else ""
        _send({"nodeid": report.nodeid, "outcome": outcome, "duration": round(report.duration, 3), "message": message})

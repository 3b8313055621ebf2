"""What every store's throw-away namespace needs, whatever the store: a pid check and SIGTERM handling.

Scratch databases are named after the pid of the process that created them, so a later run
on the same machine can tell one whose creator was killed (and so never dropped it) from one
that another run is still using.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the `finally` that drops the database runs.

    KeyboardInterrupt rather than SystemExit: pytest records a SystemExit raised in a test or a
    fixture as that test's error and carries on with the next ones, while an interrupt ends the
    session at once and still tears the fixtures down (so the database is dropped promptly).
    Outside the main thread signals cannot be handled, and they are left alone.
    """

    def _raise(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

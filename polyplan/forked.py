"""One forked worker process that computes a value beside the parent (`render(plan, jobs=2)`).

Why `os.fork` with a pipe rather than `concurrent.futures.ProcessPoolExecutor`: the work needs
the whole plan and design, which a fork shares for free (copy-on-write) while an executor pickles
the callable and its arguments into every task; one task per render gains nothing from a pool;
and a pool worker waits on a queue whose write end it inherited, so a parent killed with SIGKILL
can leave it behind. Here the child runs one function, writes its pickled result (or its
exception) to a pipe and leaves with `os._exit` (no atexit handlers, no flushing of the parent's
buffers, no freeing of its garbage: the kernel reclaims it). On Linux it asks the kernel to kill
it when the parent dies (`PR_SET_PDEATHSIG`); elsewhere it ends on its first write to the pipe
whose reader is gone. The parent kills and reaps the child whenever it stops waiting for it (an
exception of its own, KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def can_fork() -> bool:
    """Whether a worker may be forked here (`os.fork` exists: not on Windows).

    Other threads do not stop it: the CLI's spinner thread (Rich) only draws on the console,
    which the child never writes to, and logging re-creates its locks in a child. A library
    caller whose own threads use polyplan's modules while it renders keeps `jobs=1`, the default.
    """
    return hasattr(os, "fork")


class WorkerLost(RuntimeError):
    """The worker ended without sending a result (killed, or out of memory)."""


class Worker(Generic[T]):
    """A forked child computing one value; `result()` waits for it, `cancel()` kills it."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._done = False

    def result(self) -> T:
        """The child's return value, or its exception raised here (same type and message, with
        the child's traceback as a note)."""
        chunks: list[bytes] = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            self._reap()
        if not chunks:
            raise WorkerLost("the worker process ended without a result")
        try:
            ok, value = pickle.loads(b"".join(chunks))
        except Exception as error:  # cut short: the worker died while it wrote
            raise WorkerLost("the worker process ended before its whole result was sent") from error
        if ok:
            result: T = value
            return result
        raise _rebuilt(value)

    def cancel(self) -> None:
        """Kill the child (if it still runs) and reap it."""
        if self._done:
            return
        with contextlib.suppress(ProcessLookupError):  # ended already, not yet reaped
            os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self._done:
            return
        self._done = True
        os.close(self._fd)
        os.waitpid(self.pid, 0)

    def __enter__(self) -> Worker[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.cancel()


def fork(work: Callable[[], T]) -> Worker[T]:
    """Start `work` in a forked child; the caller must check `can_fork()` first.

    The collector's objects are frozen across the fork, so the child's collector (if anything
    re-enables it) does not touch, and so copy, the pages it shares with the parent.
    """
    parent = os.getpid()
    read_fd, write_fd = os.pipe()
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        pid = os.fork()
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    finally:
        if os.getpid() == parent and frozen_before == 0:
            gc.unfreeze()
    if pid == 0:  # the child: never returns
        _child(work, parent, read_fd, write_fd)
    os.close(write_fd)
    return Worker(pid, read_fd)


def _child(work: Callable[[], T], parent: int, read_fd: int, write_fd: int) -> None:
    status = 0
    try:
        os.close(read_fd)
        _die_with(parent)
        try:
            payload: tuple[bool, object] = (True, work())
        except BaseException as error:
            payload = (False, _portable(error))
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this child when its parent dies; leave at once if it already did."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def _portable(error: BaseException) -> tuple[BaseException | None, str, str, str]:
    """The exception itself when it survives pickling, else its type's name and message; and
    the child's traceback text either way."""
    trace = "".join(traceback.format_exception(error))
    try:
        pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
        kept: BaseException | None = error
    except Exception:
        kept = None
    return kept, type(error).__name__, str(error), trace


def _rebuilt(value: tuple[BaseException | None, str, str, str]) -> BaseException:
    error, name, message, trace = value
    if error is None:
        # Same name and message as the original (what the CLI prints), under a stand-in class.
        error = type(name, (Exception,), {})(message)
    error.add_note(f"raised in the render worker process:\n{trace}")
    return error


__all__ = ["Worker", "WorkerLost", "can_fork", "fork"]

"""Proof that the emitted increments are atomic: many threads add at once, and none is lost.

Each check reads a counter, runs WORKERS threads that each apply the emitted increment TIMES
times (all released together by a barrier, so they really overlap), and asserts the counter
moved by exactly WORKERS × TIMES × step. A read-modify-write would lose updates here.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from polyplan.stores.relational.spec import Query

WORKERS = 8
TIMES = 25
SQLITE_BUSY_MS = 120_000


def hammer(work: Callable[[], None], workers: int = WORKERS, times: int = TIMES) -> None:
    """Run `work` workers × times, from `workers` threads started together; re-raise the first failure."""
    start = threading.Barrier(workers)

    def worker() -> None:
        start.wait()
        for _ in range(times):
            work()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for future in [pool.submit(worker) for _ in range(workers)]:
                future.result()
        except BaseException:
            # An interrupt (Ctrl-C, or SIGTERM raised as KeyboardInterrupt by a scratch database)
            # landing before every worker was started leaves the started ones at the barrier for
            # good, and both the pool's exit and the interpreter's join them: the run never ends.
            start.abort()
            raise


def expected_total(before: Any, step: float, workers: int = WORKERS, times: int = TIMES) -> Decimal:
    """The counter after every add (a NULL counter counts from 0), as an exact decimal."""
    start = Decimal(0) if before is None else Decimal(str(before))
    return start + Decimal(str(step)) * workers * times


def _as_decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _same(value: Any, expected: Decimal) -> bool:
    """Exact for whole numbers; a float counter (HINCRBYFLOAT, double) may differ in its last digits only.

    A lost add changes the total by a whole step, far more than rounding can."""
    got = _as_decimal(value)
    if got == got.to_integral_value() and expected == expected.to_integral_value():
        return got == expected
    return math.isclose(float(got), float(expected), rel_tol=1e-12, abs_tol=1e-9)


def step_of(write: Query) -> float:
    """The step a writes.sql block says to bind (its first note: `step N: …`)."""
    note = next(n for n in write.notes if n.startswith("step "))
    return float(note.split()[1].rstrip(":"))


def check_relational(engine: sa.Engine, write: Query, workers: int = WORKERS, times: int = TIMES) -> None:
    """Run a writes.sql increment concurrently on one existing row; every add must be counted."""
    table = sa.table(write.table, *(sa.column(p.column) for p in write.params))
    keys = [p for p in write.params if p.op == "eq"]
    deltas = [p for p in write.params if p.op == "delta"]
    with engine.connect() as connection:
        row = connection.execute(sa.select(*(table.c[k.column] for k in keys)).limit(1)).one()
        where = dict(zip((k.name for k in keys), row, strict=True))
        condition = sa.and_(*(table.c[k.column] == v for k, v in zip(keys, row, strict=True)))
        before = connection.execute(sa.select(*(table.c[d.column] for d in deltas)).where(condition)).one()
    step = step_of(write)
    binds = where | {d.name: (int(step) if step == int(step) else step) for d in deltas}
    statement = sa.text(write.sql)

    sqlite = engine.dialect.name == "sqlite"

    def add() -> None:
        with engine.begin() as connection:
            if sqlite:
                # SQLite has one writer at a time: wait for the lock as long as the run may take.
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
            assert connection.execute(statement, binds).rowcount == 1

    hammer(add, workers, times)
    with engine.connect() as connection:
        after = connection.execute(sa.select(*(table.c[d.column] for d in deltas)).where(condition)).one()
    for delta, old, new in zip(deltas, before, after, strict=True):
        assert _same(new, expected_total(old, step, workers, times)), (
            f"{write.name}: {delta.column} went from {old} to {new} after {workers}×{times} adds of {step}"
        )


def check_counter(
    read: Callable[[], Any], add: Callable[[], None], step: float, what: str, workers: int = WORKERS, times: int = TIMES
) -> None:
    """Any store: `read` the counter, `add` concurrently, read again; the difference is every add."""
    before = read()
    hammer(add, workers, times)
    after = read()
    assert _same(after, expected_total(before, step, workers, times)), (
        f"{what}: went from {before} to {after} after {workers}×{times} adds of {step}"
    )


def bound(params: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """`params` (a `{"$param": name}` template, as in queries.json) with each name taken from `record`."""
    return {
        path: record[value["$param"]] if isinstance(value, dict) and "$param" in value else value
        for path, value in params.items()
    }

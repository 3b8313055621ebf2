"""The price of a checked reference on a write-hot pair of tables (PP483).

A foreign key check is not only a lookup: PostgreSQL locks the parent row `FOR KEY SHARE` on every
child insert (a heap lock record in the WAL, the row's xmax rewritten, a multixact when another
transaction holds it), and InnoDB takes a shared record lock that waits for, and blocks, an update
of the same row. Where children are inserted and their parents updated hundreds of times a
second, as in an account ledger or pgbench's history (3 checked references cost TPC-B-like
throughput on a quiet host: docs/benchmarks.md), an expert lets the application guarantee the
reference. polyplan does not drop a check by itself; it says what the check costs and how to
drop it (`enforced: false`).
"""

from __future__ import annotations

from polyplan.model.schema import Relationship, RequirementsModel, WriteKind

HOT_RATE = 100.0  # writes/s on each side from which the lock traffic is worth a warning
INSERTS = (WriteKind.INSERT, WriteKind.UPSERT)
UPDATES = (WriteKind.UPDATE, WriteKind.INCREMENT, WriteKind.UPSERT)


def _rate(model: RequirementsModel, entity: str, kinds: tuple[WriteKind, ...]) -> tuple[float, list[str]]:
    patterns = [w for w in model.write_patterns if w.entity == entity and w.kind in kinds]
    return sum(w.rate for w in patterns), [w.name for w in patterns]


def locking_reference_warning(model: RequirementsModel, relationship: Relationship) -> str | None:
    """PP483's message for a checked reference whose child inserts and parent updates are both hot."""
    if not relationship.enforced:
        return None
    inserts, _ = _rate(model, relationship.to, INSERTS)
    updates, writers = _rate(model, relationship.from_, UPDATES)
    if inserts < HOT_RATE or updates < HOT_RATE:
        return None
    return (
        f"{relationship.name}: each {relationship.to} insert ({inserts:g}/s) checks its {relationship.from_} "
        f"row and locks it (FOR KEY SHARE on PostgreSQL, a shared record lock on InnoDB) while "
        f"{', '.join(writers)} update{'s' if len(writers) == 1 else ''} {relationship.from_} rows "
        f"{updates:g} times a second: the lock is written to the row and the WAL, and on InnoDB it waits for "
        f"those updates. If the application writes each {relationship.to} beside the {relationship.from_} "
        "it refers to, declare enforced: false on the relationship (no check, no lock); else accept the cost"
    )

"""Proof that a capped relational table stays capped: the emitted trim (caps.sql) keeps exactly
the newest `max_records` rows by the cap's order column, on the rows the test loaded.

The oracle is computed from the rows read before the trim, never from the statement: the N-th
newest order value is the cutoff; every row at or above it stays (ties with it included), as do
rows with no order value; every other row goes. The trim runs in a transaction that is rolled
back, so the module's other checks see the seeded rows. With no more rows than the cap, the
check shows that nothing is deleted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from polyplan.stores.relational.sqltext import commented_blocks


def trims(caps_sql: Path) -> dict[str, str]:
    """Job name → trim statement, from caps.sql (`-- name: <table>_trim  (…)` headers)."""
    text = caps_sql.read_text(encoding="utf-8")
    return {comments[0].split()[2]: sql for comments, sql in commented_blocks(text, "-- name:")}


def expected_after(values: list[Any], max_records: int) -> Counter[Any]:
    """The order values left by a correct trim: the newest `max_records`, their ties, and NULLs."""
    present = sorted((v for v in values if v is not None), reverse=True)
    if len(present) <= max_records:
        return Counter(values)
    cutoff = present[max_records - 1]
    return Counter(v for v in values if v is None or v >= cutoff)


def check_cap(database: sa.Engine, statement: str, table: str, column: str, max_records: int) -> None:
    """Run `statement` on `table` (rolled back) and assert it left exactly what `expected_after` says."""
    quote = database.dialect.identifier_preparer.quote
    select = sa.text(f"SELECT {quote(column)} FROM {quote(table)}")
    with database.connect() as connection:
        transaction = connection.begin()
        try:
            before = list(connection.execute(select).scalars())
            connection.execute(sa.text(statement))
            after = Counter(connection.execute(select).scalars())
        finally:
            transaction.rollback()
    expected = expected_after(before, max_records)
    kept = sum(expected.values())
    assert after == expected, (
        f"{table}: the trim left {sum(after.values())} of {len(before)} rows; the newest {max_records:,} by "
        f"{column} (with ties) are {kept}"
    )

"""What the database `polyplan seed` loads into already holds: the planned tables, and rows in them.

`seed` decides from this, before writing anything, whether to create the schema (none of the
planned tables exists), to load (all exist and are empty), or to stop with one line (part of the
schema exists, or rows do and neither `--truncate` nor `--if-empty` says what to do with them).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class TargetState:
    """The planned tables found in the database, those missing, and row counts of the found ones."""

    present: tuple[str, ...]
    missing: tuple[str, ...]
    rows: dict[str, int]

    @property
    def empty_schema(self) -> bool:
        """None of the planned tables exists: the schema must be created first."""
        return not self.present

    @property
    def partial_schema(self) -> bool:
        """Some planned tables exist and some do not: neither creating nor loading is safe."""
        return bool(self.present) and bool(self.missing)

    @property
    def holding(self) -> dict[str, int]:
        """The tables that already hold rows, with their counts."""
        return {name: count for name, count in self.rows.items() if count}


def inspect_target(connection: sa.Connection, metadata: sa.MetaData) -> TargetState:
    """Which of `metadata`'s tables exist in the database, and how many rows each holds."""
    existing = set(sa.inspect(connection).get_table_names())
    present = tuple(t.name for t in metadata.sorted_tables if t.name in existing)
    missing = tuple(t.name for t in metadata.sorted_tables if t.name not in existing)
    rows = {
        name: int(connection.execute(sa.select(sa.func.count()).select_from(metadata.tables[name])).scalar_one())
        for name in present
    }
    return TargetState(present, missing, rows)


def truncate(connection: sa.Connection, metadata: sa.MetaData) -> None:
    """Delete every row of the planned tables, children first so no foreign key objects."""
    for table in reversed(metadata.sorted_tables):
        connection.execute(sa.delete(table))

"""Migration operations: one object per schema change, each with its reverse.

An operation renders itself per engine in two phases of expand/contract: `expand` steps run in
the first revision (the old application version keeps working after them), `contract` steps in
the second (after the new version is deployed everywhere). A revision's downgrade renders the
reversed operations in the opposite phase, so `reverse()` is the only undo logic there is:
downgrading the contract revision is `expand` of the reverse, downgrading the expand revision
is `contract` of the reverse.

Per engine:
- PostgreSQL: lock and statement timeouts on every step; indexes built and dropped
  CONCURRENTLY outside the transaction; constraints added NOT VALID then validated; NOT NULL
  through a validated CHECK; a rename or a rewriting type change becomes a new column kept in
  step by a trigger and backfilled in batches (expand), then the swap (contract).
- MariaDB: ALGORITHM=INSTANT or INPLACE with LOCK=NONE where the change allows it, stated
  ALGORITHM=COPY where it does not (the lint reports it); renames and type changes run in the
  contract revision, together with the new application version.
- SQLite: a table whose change SQLite cannot ALTER is rebuilt (see `polyplan.migrate.sqlite`).

The operations live by what they change: `op_base` (the `Operation` interface and shared SQL
helpers), `table_ops`, `column_ops`, `index_ops` (indexes and constraints); this module gathers
them, so `polyplan.migrate.ops` stays the one place to import an operation from.
"""

from __future__ import annotations

from polyplan.migrate.column_ops import (
    AlterColumnType,
    ColumnChange,
    RenameColumn,
)
from polyplan.migrate.index_ops import (
    AddConstraint,
    AddIndex,
    DropConstraint,
    DropIndex,
    ReplaceConstraint,
    ReplaceIndex,
    replacement_name,
)
from polyplan.migrate.op_base import (
    Conversion,
    Operation,
    Order,
    allow,
)
from polyplan.migrate.table_ops import (
    AddColumn,
    AddTable,
    DropColumn,
    DropTable,
    RenameTable,
    RestoreColumn,
    archive_steps,
    archive_table,
    restored_value,
)

__all__ = [
    "AddColumn",
    "AddConstraint",
    "AddIndex",
    "AddTable",
    "AlterColumnType",
    "ColumnChange",
    "Conversion",
    "DropColumn",
    "DropConstraint",
    "DropIndex",
    "DropTable",
    "Operation",
    "Order",
    "RenameColumn",
    "RenameTable",
    "ReplaceConstraint",
    "ReplaceIndex",
    "RestoreColumn",
    "allow",
    "archive_steps",
    "archive_table",
    "replacement_name",
    "restored_value",
]

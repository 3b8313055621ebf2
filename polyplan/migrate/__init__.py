"""Schema change between two versions of a model (issue 9): relational stores, then the others.

Library first: `diff_plans(old, new)` gives the operations (each with `reverse()`; the other
stores' in `Versions.store_operations`), `plan_migration` / `write_migration` the folder (Alembic
revisions, and a runbook and scripts per other store), `lint_sql` the lint; the CLI commands
`polyplan diff`, `migrate` and `lint` are thin layers over these.
"""

from __future__ import annotations

from polyplan.migrate.diff import Versions, baseline, diff_plans
from polyplan.migrate.folder import Migration, plan_migration, write_migration
from polyplan.migrate.lint import Finding, lint_sql

__all__ = [
    "Finding",
    "Migration",
    "Versions",
    "baseline",
    "diff_plans",
    "lint_sql",
    "plan_migration",
    "write_migration",
]

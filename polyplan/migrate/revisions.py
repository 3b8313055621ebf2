"""Operations → revisions: the steps of each phase per engine, in order, upgrade and downgrade.

A model change becomes two revisions (expand, then contract); the first migration into an
empty folder is preceded by a baseline revision that creates the old version's schema. A
revision's downgrade is rendered from the reversed operations in the opposite phase (see
`polyplan.migrate.ops`), so upgrade and downgrade cannot drift apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy.schema import CreateIndex

from polyplan.migrate.context import Context
from polyplan.migrate.diff import Versions
from polyplan.migrate.lint import Finding, lint_sql
from polyplan.migrate.ops import (
    AddTable,
    ColumnChange,
    DropColumn,
    DropTable,
    Operation,
    Order,
    RenameTable,
    RestoreColumn,
    allow,
    archive_steps,
    archive_table,
    restored_value,
)
from polyplan.migrate.sql import Step, autocommit, compile_ddl, create_table_only, quote
from polyplan.stores.relational.derived_sql import trigger_statements
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.render import ENGINES


class Phase(StrEnum):
    BASELINE = "baseline"
    EXPAND = "expand"
    CONTRACT = "contract"


@dataclass(frozen=True)
class Revision:
    """One Alembic revision: its id, its parent, and the steps per engine each way."""

    id: str
    down: str | None
    phase: Phase
    title: str
    old_sha256: str
    new_sha256: str
    upgrade: dict[str, list[Step]]
    downgrade: dict[str, list[Step]]


def revision_id(old_sha256: str, new_sha256: str, phase: Phase) -> str:
    """A revision id derived from the two models' hashes: the same models, the same id."""
    return hashlib.sha256(f"{old_sha256}:{new_sha256}:{phase.value}".encode()).hexdigest()[:12]


_WHOLE_TABLE = (AddTable, DropTable, RenameTable)


def _sqlite_rebuilt(ctx: Context, operations: list[Operation]) -> list[str]:
    """Tables SQLite cannot ALTER into their new shape: rebuilt, like Alembic's batch mode."""
    tables = [op.table for op in operations if not isinstance(op, _WHOLE_TABLE) and op.sqlite_rebuild(ctx)]
    return sorted(set(tables))


def _q(name: str) -> str:
    return quote("sqlite", name)


def _sqlite_rebuild(ctx: Context, table: str, operations: list[Operation]) -> list[Step]:
    """Alembic batch mode's "move and copy", rendered at generation time so that it also works
    offline: a new table in the new shape, the rows copied across, the old table dropped and the
    new one renamed into its place, then its indexes."""
    after = ctx.after.table(table)
    before = ctx.before.table(table)
    mine = [op for op in operations if op.table == table]
    moved = {op.column: op.old for op in mine if isinstance(op, ColumnChange)}
    restored = {op.column: op.archive_name for op in mine if isinstance(op, RestoreColumn)}
    kept = [op for op in mine if isinstance(op, DropColumn) and op.keep]
    pairs = [
        (column.name, _q(moved.get(column.name, column.name)))
        for column in after.columns
        if moved.get(column.name, column.name) in before.c
    ]
    pairs += [(column, restored_value(ctx, table, column, restored[column])) for column in sorted(restored)]
    temporary = fit(f"_polyplan_new_{table}")
    columns = ", ".join(_q(new) for new, _ in pairs)
    values = ", ".join(value for _, value in pairs)
    steps = [
        step
        for op in kept
        for step in archive_steps(ctx, table, op.column, op.archive or archive_table(table, op.column))
    ]
    steps += [
        Step(create_table_only(after, "sqlite", temporary)),
        Step(f"INSERT INTO {_q(temporary)} ({columns}) SELECT {values} FROM {_q(table)}"),
        Step(allow("PP807", "its rows live on in the copy", f"DROP TABLE {_q(table)}")),
        # Legacy rename: a trigger on another table that names this one (a derived attribute's) would
        # otherwise fail SQLite's check of every trigger while the name is briefly free.
        Step("PRAGMA legacy_alter_table = ON"),
        Step(allow("PP808", "the copy takes the table's name", f"ALTER TABLE {_q(temporary)} RENAME TO {_q(table)}")),
        Step("PRAGMA legacy_alter_table = OFF"),
    ]
    steps += [Step(compile_ddl(CreateIndex(i), "sqlite")) for i in sorted(after.indexes, key=lambda i: str(i.name))]
    # The old table's triggers went with it: a derived attribute kept from this table gets its
    # triggers back (the copied rows changed no parent, so no backfill).
    steps += [
        Step(sql) for kept in ctx.after.kept if kept.child == after.name for sql in trigger_statements(kept, "sqlite")
    ]
    return steps + [Step(f"DROP TABLE {_q(restored[column])}") for column in sorted(restored)]


def _renamed(op: Operation, names: dict[str, str]) -> Operation:
    if isinstance(op, RenameTable) or op.table not in names:
        return op
    changed: Operation = replace(op, table=names[op.table])  # type: ignore[type-var]  # every operation is a dataclass
    return changed


def _new_transaction(steps: list[Step]) -> list[Step]:
    """`steps` (one operation's, on PostgreSQL) in a transaction of their own: their leading
    session settings run outside a transaction, which commits the one before.

    A transaction that holds one table's ACCESS EXCLUSIVE lock while it waits for the next
    table's deadlocks with the application: a write to the second table holds it while its
    foreign-key check waits for the first (seen in bench/migrations.py: a contract locked
    `member`, then waited for `task`, while an insert into `task` checked its `member` key). So
    every table's statements commit before the next table's begin."""
    leading = 0
    while leading < len(steps) and steps[leading].sql.startswith("SET "):
        leading += 1
    return [*autocommit(steps[:leading]), *steps[leading:]]


def phase_steps(versions: Versions, phase: Phase, reverse: bool = False) -> dict[str, list[Step]]:
    """The steps of one phase for every engine; `reverse` renders the downgrade of the other phase."""
    result: dict[str, list[Step]] = {}
    for engine in ENGINES:
        ctx = versions.context(engine)
        operations = list(versions.operations)
        if reverse:
            ctx = ctx.swapped()
            # A reversed operation names its table as the other version does.
            old_names = {op.table: op.old for op in operations if isinstance(op, RenameTable)}
            operations = [_renamed(op.reverse(), old_names) for op in reversed(operations)]
        contract = phase is Phase.CONTRACT
        operations.sort(key=lambda op: op.order, reverse=contract)
        rebuilt = _sqlite_rebuilt(ctx, operations) if engine == "sqlite" else []
        steps: list[Step] = []
        if contract:
            # Triggers go first: SQLite checks them when a rebuilt table takes its name back, and
            # a derived attribute's trigger names the parent table being rebuilt.
            for op in [op for op in operations if op.order is Order.TRIGGER]:
                steps += op.contract(ctx)
            operations = [op for op in operations if op.order is not Order.TRIGGER]
            for table in rebuilt:
                steps += _sqlite_rebuild(ctx, table, operations)
        previous: str | None = None
        for op in operations:
            if op.table in rebuilt and not isinstance(op, _WHOLE_TABLE):
                continue
            made = op.contract(ctx) if contract else op.expand(ctx)
            if engine == "postgresql" and made and previous is not None and op.table != previous:
                made = _new_transaction(made)
            previous = op.table if made else previous
            steps += made
        result[engine] = steps
    return result


_OPPOSITE = {Phase.EXPAND: Phase.CONTRACT, Phase.CONTRACT: Phase.EXPAND}


def _revision(versions: Versions, phase: Phase, down: str | None, title: str, shas: tuple[str, str]) -> Revision:
    """A revision whose downgrade is the other phase of the reversed operations."""
    steps = Phase.EXPAND if phase is Phase.BASELINE else phase
    upgrade = phase_steps(versions, steps)
    downgrade = phase_steps(versions, _OPPOSITE[steps], reverse=True)
    return Revision(revision_id(*shas, phase), down, phase, title, *shas, upgrade, downgrade)


def revisions(versions: Versions, old_sha256: str, new_sha256: str, down: str | None) -> list[Revision]:
    """The expand and contract revisions of a change, chained after `down`."""
    old, new = versions.old.model, versions.new.model
    change = f"{new.name} version {old.version} → {new.version}"
    shas = (old_sha256, new_sha256)
    expand = _revision(versions, Phase.EXPAND, down, f"{change}, expand: additions the running version ignores", shas)
    contract_title = f"{change}, contract: removals, once only the new version runs"
    return [expand, _revision(versions, Phase.CONTRACT, expand.id, contract_title, shas)]


def baseline_revision(versions: Versions, sha256: str) -> Revision:
    """The revision that creates `versions.new`'s schema in an empty database."""
    model = versions.new.model
    title = f"{model.name} version {model.version}, baseline: the schema as `polyplan plan` creates it"
    return _revision(versions, Phase.BASELINE, None, title, ("", sha256))


def lint_revision(revision: Revision) -> dict[tuple[str, str], list[Finding]]:
    """Lint findings of a revision's steps: (engine, "upgrade" or "downgrade") → findings."""
    found: dict[tuple[str, str], list[Finding]] = {}
    for direction, steps in (("upgrade", revision.upgrade), ("downgrade", revision.downgrade)):
        for engine, engine_steps in steps.items():
            script = "".join(f"{step.sql};\n" for step in engine_steps)
            found[(engine, direction)] = lint_sql(script, engine)
    return found

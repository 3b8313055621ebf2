"""The migration folder: Alembic revision scripts chained onto the ones already there.

The folder is runnable with the `alembic` command alone (no polyplan at run time):
`alembic upgrade head` with the database URL in POLYPLAN_DATABASE_URL (or `-x url=...`), and
offline `alembic -x dialect=postgresql|mysql|sqlite upgrade head --sql`. Each revision holds
the SQL of every engine and runs the one of the database it is connected to.

It is written with polyplan's safe writer: the whole folder at once, refused when it holds files
polyplan did not write. Output is byte-identical for the same models.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location
from polyplan.emit.writer import OutputRefused, read_manifest, write_tree
from polyplan.migrate.diff import Versions, baseline, diff_plans
from polyplan.migrate.revisions import Phase, Revision, baseline_revision, revisions
from polyplan.migrate.sql import Step
from polyplan.migrate.store_scripts import render_store_files
from polyplan.plan.ir import Plan
from polyplan.stores.relational.render import ENGINES

ALEMBIC_INI = """\
# Written by polyplan. From this folder:
#   POLYPLAN_DATABASE_URL=postgresql+psycopg://... alembic upgrade head
#   alembic -x dialect=postgresql upgrade head --sql      (offline: print the SQL)
[alembic]
script_location = %(here)s
path_separator = os
"""

ENV_PY = '''\
"""Alembic environment written by polyplan: one transaction per revision, the URL from
`-x url=...`, POLYPLAN_DATABASE_URL or sqlalchemy.url, and offline SQL for `-x dialect=...`."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
arguments = context.get_x_argument(as_dictionary=True)


def database_url():
    return arguments.get("url") or os.environ.get("POLYPLAN_DATABASE_URL") or config.get_main_option("sqlalchemy.url")


def run_offline():
    url = database_url()
    # A revision may leave its transaction (CREATE INDEX CONCURRENTLY): one transaction each.
    options = {"literal_binds": True, "transaction_per_migration": True}
    if url:
        context.configure(url=url, **options)
    else:
        context.configure(dialect_name=arguments.get("dialect", "postgresql"), **options)
    with context.begin_transaction():
        context.run_migrations()


def run_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
'''

SCRIPT_HELPER = '''

# A step's lock_timeout is short, so that the application never queues long behind it; when it
# runs out (or the step is chosen as a deadlock's victim), the step's transaction is rolled back
# and run again after a backoff, at most LOCK_ATTEMPTS times (`-x lock_attempts=N` to change).
LOCK_ATTEMPTS = 30
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0  # seconds: doubled after each attempt, with jitter
_LOCK_ERRORS = {"55P03", "40P01", 1205, 1213}  # lock_not_available, deadlock (PostgreSQL, MariaDB)


def _lock_error(error):
    # psycopg names the error by its SQLSTATE; PyMySQL by its error number in args[0], and it also
    # carries a generic SQLSTATE (HY000 for 1205), so every code the driver gives is looked at.
    cause = getattr(error, "orig", None)
    codes = {getattr(cause, "sqlstate", None), getattr(cause, "pgcode", None)}
    if getattr(cause, "args", None):
        codes.add(cause.args[0])
    return not codes.isdisjoint(_LOCK_ERRORS)


def _units(engine, steps):
    """The steps in retry units: on PostgreSQL each run of steps in one transaction (run as one
    DO block) and each run of autocommit steps (rerun from its first); on MariaDB, whose DDL
    commits by itself, each step."""
    units = []
    for sql, autocommit in steps:
        if engine == "postgresql" and units and units[-1][0] == autocommit:
            units[-1][1].append(sql)
        else:
            units.append((autocommit, [sql]))
    return units


def _execute(context, autocommit, statements):
    for sql in statements:
        # Colons are escaped so that text such as a comment's "a:b" is never taken for a parameter.
        statement = sa.text(sql.replace(":", "\\\\:"))
        if autocommit:
            with context.autocommit_block():
                op.execute(statement)
        else:
            op.execute(statement)


def _run(steps):
    """Run this database's steps; an autocommit step runs outside the revision's transaction."""
    context = op.get_context()
    engine = context.dialect.name
    if engine not in steps:
        raise RuntimeError(f"this revision has no steps for {engine}; polyplan writes {', '.join(steps)}")
    if context.as_sql or engine == "sqlite":  # offline SQL, or no other session to wait for
        for sql, autocommit in steps[engine]:
            _execute(context, autocommit, [sql])
        return
    attempts = int(environment.get_x_argument(as_dictionary=True).get("lock_attempts", LOCK_ATTEMPTS))
    for autocommit, statements in _units(engine, steps[engine]):
        for attempt in range(1, attempts + 1):
            try:
                if autocommit or engine != "postgresql":
                    _execute(context, autocommit, statements)
                else:
                    # The unit's transaction as one DO block run on its own: one round trip, so the
                    # locks it takes are held for the server's work only, not for the client's
                    # turns between statements; a lock timeout rolls back this unit only.
                    body = ";\\n".join(statements)
                    _execute(context, True, [f"DO $polyplan_unit$\\nBEGIN\\n{body};\\nEND $polyplan_unit$"])
                break
            except sa.exc.OperationalError as error:
                if attempt == attempts or not _lock_error(error):
                    raise
                wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                text = str(getattr(error, "orig", error))
                inner = re.search(r'SQL statement "([^\\n]*)', text)  # the statement of a DO block
                # The statement that waited: inside the DO block (PostgreSQL), else the one sent.
                failed = (inner.group(1) if inner else getattr(error, "statement", None) or text.splitlines()[0])[:100]
                logging.getLogger("alembic.runtime.migration").warning(
                    "lock not granted (attempt %d of %d): %s; again in %.2f s", attempt, attempts, failed, wait
                )
                time.sleep(wait)


def upgrade():
    _run(UPGRADE)


def downgrade():
    _run(DOWNGRADE)
'''

_FIELD = re.compile(
    r'^(revision|down_revision|polyplan_old_sha256|polyplan_new_sha256) = (?:"([0-9a-f]*)"|None)$', re.M
)


@dataclass(frozen=True)
class Existing:
    """A revision already in the folder (only what chaining needs)."""

    path: str
    id: str
    down: str | None
    old_sha256: str
    new_sha256: str


def model_sha256(path: Path) -> str:
    """The hash a revision records for a model file (its bytes)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _steps_source(name: str, steps: dict[str, list[Step]]) -> str:
    lines = [f"{name} = {{"]
    for engine in ENGINES:
        lines.append(f"    {engine!r}: [")
        lines += [f"        ({step.sql!r}, {step.autocommit!r})," for step in steps.get(engine, [])]
        lines.append("    ],")
    lines.append("}")
    return "\n".join(lines)


def render_revision(revision: Revision) -> str:
    """The Python source of one Alembic revision script."""
    down = "None" if revision.down is None else f'"{revision.down}"'
    return (
        f'"""{revision.title}.\n\nWritten by polyplan (`polyplan migrate`); edit the models, not this file.\n"""\n\n'
        "import logging\nimport random\nimport re\nimport time\n\nimport sqlalchemy as sa\n"
        "from alembic import context as environment\nfrom alembic import op\n\n"
        f'revision = "{revision.id}"\n'
        f"down_revision = {down}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        f'polyplan_phase = "{revision.phase.value}"\n'
        f'polyplan_old_sha256 = "{revision.old_sha256}"\n'
        f'polyplan_new_sha256 = "{revision.new_sha256}"\n\n'
        "# Each step: (SQL, autocommit). Steps per engine; the connected database's are run.\n"
        f"{_steps_source('UPGRADE', revision.upgrade)}\n\n"
        f"{_steps_source('DOWNGRADE', revision.downgrade)}\n"
        f"{SCRIPT_HELPER}"
    )


def existing_revisions(folder: Path) -> list[Existing]:
    """The revisions polyplan wrote into `folder` earlier (none when it holds no polyplan output)."""
    written = read_manifest(folder) or {}
    found: list[Existing] = []
    for relative in sorted(written):
        if not (relative.startswith("versions/") and relative.endswith(".py")):
            continue
        fields = {m.group(1): m.group(2) for m in _FIELD.finditer((folder / relative).read_text(encoding="utf-8"))}
        if "revision" in fields:
            found.append(
                Existing(
                    relative,
                    fields["revision"] or "",
                    fields.get("down_revision"),
                    fields.get("polyplan_old_sha256") or "",
                    fields.get("polyplan_new_sha256") or "",
                )
            )
    return found


def _head(found: list[Existing]) -> Existing | None:
    parents = {r.down for r in found}
    heads = [r for r in found if r.id not in parents]
    return heads[0] if heads else None


@dataclass(frozen=True)
class Migration:
    """What `polyplan migrate` writes: every file of the folder, and the revisions it added."""

    files: dict[str, str]
    added: list[Revision]
    versions: Versions


def plan_migration(old: Plan, new: Plan, old_path: Path, new_path: Path, folder: Path) -> Migration:
    """The folder's new content: the revisions already there, then this change's (pure but for reading
    `folder`). Raises DiagnosticError for a change that cannot be migrated or a folder that does not
    continue from OLD (PP706), and OutputRefused for a folder that holds a plan."""
    versions = diff_plans(old, new)
    old_sha, new_sha = model_sha256(old_path), model_sha256(new_path)
    written = read_manifest(folder) if folder.is_dir() else None
    if written and "alembic.ini" not in written:
        # Another polyplan output (a plan): the writer would replace it, so say what it is instead.
        raise OutputRefused(
            "PP601", f"{folder} holds a polyplan plan, not migrations; give `polyplan migrate` a folder of its own"
        )
    found = existing_revisions(folder) if folder.is_dir() else []
    files = {r.path: (folder / r.path).read_text(encoding="utf-8") for r in found}
    head = _head(found)
    added: list[Revision] = []
    if head is None:
        base = baseline_revision(baseline(old), old_sha)
        added = [base, *revisions(versions, old_sha, new_sha, base.id)]
    elif (head.old_sha256, head.new_sha256) == (old_sha, new_sha):
        added = []  # this change is the folder's last one already: nothing to add
    elif head.new_sha256 != old_sha:
        location = Location(str(old_path), 1, 1)
        message = (
            f"{folder} ends at revision {head.id}, written for another version of the model than {old_path}; "
            "give the model that revision was written for as OLD, or a new folder"
        )
        raise DiagnosticError([Diagnostic("PP706", message, location=location)])
    else:
        added = revisions(versions, old_sha, new_sha, head.id)
    for number, revision in enumerate(added, start=len(found) + 1):
        files[f"versions/{number:04d}_{revision.id}_{revision.phase.value}.py"] = render_revision(revision)
    # The other stores' runbooks and scripts: earlier changes' are kept, this change's (re)written.
    for relative in sorted(written or {}):
        if relative.startswith("stores/") and (folder / relative).is_file():
            files[relative] = (folder / relative).read_text(encoding="utf-8")
    files.update(render_store_files(versions.store_operations, new.model.name, old.model.version, new.model.version))
    files["alembic.ini"] = ALEMBIC_INI
    files["env.py"] = ENV_PY
    return Migration(files, added, versions)


def write_migration(
    old: Plan, new: Plan, old_path: Path, new_path: Path, folder: Path, force: bool = False
) -> Migration:
    """Plan the migration and write the folder atomically (OutputRefused: nothing written)."""
    migration = plan_migration(old, new, old_path, new_path, folder)
    write_tree(
        migration.files,
        folder,
        model_path=new_path,
        model_name=new.model.name,
        model_sha256=model_sha256(new_path),
        force=force,
    )
    return migration


__all__ = ["Migration", "Phase", "plan_migration", "write_migration"]

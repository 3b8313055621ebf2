"""`polyplan diff`, `migrate` and `lint`: schema change between two versions of a model."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polyplan.cli.app import app
from polyplan.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECKS_FAILED,
    TargetsOption,
    guarded,
    print_diagnostics,
    print_json,
    stderr_console,
)

# SQLAlchemy and the planners load when a command runs, not for --help.
if TYPE_CHECKING:
    from polyplan.migrate.diff import Versions

OldArg = Annotated[Path, typer.Argument(help="The previous version of the model (YAML).", show_default=False)]
NewArg = Annotated[Path, typer.Argument(help="The new version of the model (YAML).", show_default=False)]


class LintEngine(StrEnum):
    postgresql = "postgresql"
    mysql = "mysql"
    sqlite = "sqlite"


def _versions(old: Path, new: Path, targets: Path | None) -> Versions:
    from polyplan.migrate.diff import diff_plans
    from polyplan.pipeline import plan_file

    return guarded(lambda: diff_plans(plan_file(old, targets), plan_file(new, targets)))


def _side(path: Path, versions: Versions, which: str) -> dict[str, Any]:
    from polyplan.migrate.folder import model_sha256

    model = (versions.old if which == "old" else versions.new).model
    return {"file": str(path), "name": model.name, "version": model.version, "sha256": model_sha256(path)}


@app.command()
def diff(
    old: OldArg,
    new: NewArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the operations as JSON.")] = False,
    targets: TargetsOption = None,
) -> None:
    """What changes in the design from OLD to NEW (relational, then the other stores), one operation per line."""
    versions = _versions(old, new, targets)
    print_diagnostics(versions.warnings)
    if as_json:
        body = {
            "old": _side(old, versions, "old"),
            "new": _side(new, versions, "new"),
            "operations": [op.to_json() for op in versions.operations],
            "store_operations": [
                {**op.to_json(), "store": op.store, "phase": op.phase} for op in versions.store_operations
            ],
            "warnings": [d.render() for d in versions.warnings],
        }
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    before, after = versions.old.model, versions.new.model
    from polyplan.migrate.ops import ColumnChange, ReplaceIndex

    typer.echo(f"{after.name}: version {before.version} → {after.version}")
    if not versions.operations:
        typer.echo("  no change to the relational design")
    for op in versions.operations:
        phase = (
            "expand + contract"
            if isinstance(op, ColumnChange | ReplaceIndex)
            else "contract"
            if op.removes
            else "expand"
        )
        typer.echo(f"  {op.describe()}    [{phase}]")
    for store_op in versions.store_operations:
        typer.echo(f"  {store_op.describe()}    [{store_op.store}, {store_op.phase}]")


@app.command()
def migrate(
    old: OldArg,
    new: NewArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Migration folder: new, empty, or one polyplan migrate wrote.")
    ] = Path("migrations"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace a folder that holds files polyplan did not write.")
    ] = False,
    targets: TargetsOption = None,
) -> None:
    """Write Alembic revisions (expand, then contract) from OLD to NEW into --out, chained onto those there,
    and a runbook and a script per step for each other store the change touches (stores/)."""
    from polyplan.migrate.folder import write_migration
    from polyplan.migrate.revisions import lint_revision
    from polyplan.pipeline import plan_file

    migration = guarded(
        lambda: write_migration(plan_file(old, targets), plan_file(new, targets), old, new, out, force=force)
    )
    print_diagnostics(migration.versions.warnings)
    files = {revision.id: next(p for p in migration.files if revision.id in p) for revision in migration.added}
    for revision in migration.added:
        # Upgrades only: a downgrade undoes, and its drops are the point. Lines count the
        # engine's upgrade steps, each ending with a semicolon.
        for (engine, direction), findings in lint_revision(revision).items():
            if direction == "upgrade":
                source = f"{out / files[revision.id]}[{engine}]"
                print_diagnostics(f.diagnostic(source) for f in findings)
    if not migration.added:
        typer.echo(f"{out}: already migrated from {old} to {new}; nothing added")
    for revision in migration.added:
        typer.echo(f"{out}: revision {revision.id}: {revision.title}")
    from polyplan.migrate.store_scripts import folder as store_folder

    versions = migration.versions
    where = store_folder(versions.old.model.version, versions.new.model.version)
    for store in sorted({op.store for op in versions.store_operations}):
        steps = sum(1 for op in versions.store_operations if op.store == store)
        typer.echo(f"{out}: {where}/{store}/RUNBOOK.md: {steps} operation{'s' if steps != 1 else ''}")


@app.command()
def lint(
    file: Annotated[Path, typer.Argument(help="A SQL script of schema changes.", show_default=False)],
    engine: Annotated[
        LintEngine, typer.Option("--engine", help="The engine the script is for.")
    ] = LintEngine.postgresql,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON on stdout.")] = False,
) -> None:
    """Report statements that block or break a running application (PP8xx); exit 1 when there are any."""
    from polyplan.migrate.lint import lint_sql

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        stderr_console().print(f"{file}:1:1: cannot read SQL file: {reason} [PP001]", style="red", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    findings = lint_sql(text, engine.value)
    if as_json:
        print_json(
            {
                "file": str(file),
                "engine": engine.value,
                "findings": [
                    {"code": f.code, "line": f.line, "column": f.column, "message": f.diagnostic(str(file)).message}
                    for f in findings
                ],
            }
        )
    else:
        print_diagnostics(f.diagnostic(str(file)) for f in findings)
    if findings:
        raise typer.Exit(EXIT_CHECKS_FAILED)
    if not as_json:
        typer.echo(f"{file}: no findings")


@app.command()
def status(
    model: Annotated[Path, typer.Argument(help="The requirements model (YAML).", show_default=False)],
    url: Annotated[str, typer.Option("--url", help="SQLAlchemy URL of the live database.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the revision and every drift as JSON on stdout.")
    ] = False,
    targets: TargetsOption = None,
) -> None:
    """Compare a live relational database with MODEL's design; exit 1 on drift (columns, indexes, constraints)."""
    import sqlalchemy as sa

    from polyplan.extras import require, require_engine

    require("alembic", "polyplan status")  # its autogenerate compares the live schema with the design
    from polyplan.migrate.status import drift
    from polyplan.pipeline import plan_file
    from polyplan.stores.relational.connect import create_engine, engine_name

    plan = guarded(lambda: plan_file(model, targets))
    try:
        require_engine(engine_name(url), "polyplan status")
        database = create_engine(url)
    except sa.exc.ArgumentError as error:
        stderr_console().print(f"polyplan status: bad --url: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        with database.connect() as connection:
            found = drift(plan, connection)
            revision = _revision(connection)
    except sa.exc.OperationalError as error:  # no server, refused, bad password: one line, exit 1
        first = str(error.orig if error.orig is not None else error).strip().splitlines()[0]
        stderr_console().print(f"polyplan status: cannot reach the database: {first}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    except sa.exc.SQLAlchemyError as error:
        first = (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]
        stderr_console().print(f"polyplan status: cannot read the database: {first}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        database.dispose()
    if as_json:
        print_json(
            {
                "model": str(model),
                "alembic_revision": revision,
                "drift": [{"table": d.table, "kind": d.kind, "name": d.name, "change": d.change} for d in found],
            }
        )
    else:
        if revision:
            typer.echo(f"alembic revision: {revision}")
        for item in found:
            typer.echo(item.describe())
    if found:
        raise typer.Exit(EXIT_CHECKS_FAILED)
    if not as_json:
        typer.echo(f"no drift: the database matches {model}")


def _revision(connection: Any) -> str | None:
    """The Alembic revision the database is at, when it has one."""
    import sqlalchemy as sa

    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    value = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)

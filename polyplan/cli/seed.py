"""`polyplan seed MODEL --engine E --url URL (--rows N | --scale F)`: load synthetic rows."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from polyplan.cli.app import app
from polyplan.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECKS_FAILED,
    TargetsOption,
    guarded,
    log,
    quiet,
    say,
    stderr_console,
)

if TYPE_CHECKING:  # SQLAlchemy loads when the command runs, not for --help
    import sqlalchemy as sa

    from polyplan.seed.relational import Row


class SeedEngine(StrEnum):
    """Engines `polyplan seed` can load (the relational ones)."""

    postgresql = "postgresql"
    mysql = "mysql"
    sqlite = "sqlite"


@app.command()
def seed(
    model: Annotated[Path, typer.Argument(help="The requirements model (YAML).")],
    engine: Annotated[SeedEngine, typer.Option("--engine", help="Relational engine to load.")],
    url: Annotated[str, typer.Option("--url", help="SQLAlchemy URL of the target database.")],
    rows: Annotated[int | None, typer.Option("--rows", min=0, help="Records per entity.")] = None,
    scale: Annotated[
        float | None, typer.Option("--scale", min=0.0, help="Fraction of each entity's growth.initial_rows.")
    ] = None,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed: the same seed loads the same rows.")] = 0,
    create_schema: Annotated[
        bool,
        typer.Option(
            "--create-schema/--no-create-schema",
            help="Apply the planned schema when none of its tables exists (the default); with "
            "--no-create-schema an empty database is refused instead.",
        ),
    ] = True,
    truncate: Annotated[
        bool, typer.Option("--truncate", help="Delete the rows the planned tables hold, then load (re-seed).")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Load only if the planned tables hold no rows; else do nothing, exit 0.")
    ] = False,
    targets: TargetsOption = None,
) -> None:
    """Plan MODEL and load deterministic synthetic rows into its relational tables, parents first.

    The schema is created when the database has none of the planned tables. A database whose
    tables already hold rows is refused (PP605) unless --truncate or --if-empty says what to do.
    """
    # Imported here so that `polyplan --help` and the other commands do not load SQLAlchemy.
    import sqlalchemy as sa

    from polyplan.extras import require_engine
    from polyplan.pipeline import plan_file
    from polyplan.seed.generate import feasible_rows, generate, rows_for_scale
    from polyplan.seed.relational import table_rows
    from polyplan.seed.target import inspect_target
    from polyplan.seed.target import truncate as delete_rows
    from polyplan.stores.relational.connect import apply_sql, create_engine, engine_name
    from polyplan.stores.relational.design import designed_tables
    from polyplan.stores.relational.render import build_metadata, render_schema

    if (rows is None) == (scale is None):
        stderr_console().print("polyplan seed: give exactly one of --rows N or --scale F", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if truncate and if_empty:
        stderr_console().print("polyplan seed: give at most one of --truncate and --if-empty", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        backend = engine_name(url)
    except sa.exc.ArgumentError as error:
        stderr_console().print(f"polyplan seed: bad --url: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if backend != engine.value:
        stderr_console().print(f"polyplan seed: --url is a {backend} URL but --engine is {engine.value}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    require_engine(engine.value, f"polyplan seed --engine {engine.value}")
    plan = guarded(lambda: plan_file(model, targets))
    tables = designed_tables(plan)
    if not tables:
        stderr_console().print(
            "polyplan seed: the plan puts no entity in a relational store; nothing to load", markup=False
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    counts = (
        feasible_rows(plan.model, dict.fromkeys(plan.model.entities, rows))
        if rows is not None
        else rows_for_scale(plan.model, scale or 0.0)
    )
    started = time.perf_counter()
    try:
        data = generate(plan.model, counts, seed_value)
    except ValueError as error:
        stderr_console().print(f"polyplan seed: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    log.info("generated %d records in %.1f s", sum(len(v) for v in data.values()), time.perf_counter() - started)
    rendered = build_metadata(tables, engine.value)
    loading = table_rows(tables, data, engine.value)
    database = create_engine(url)
    try:
        with database.connect() as connection:
            state = inspect_target(connection, rendered.metadata)
        if state.partial_schema:
            _refuse(
                f"the database holds {len(state.present)} of the {len(tables)} planned tables (missing: "
                f"{', '.join(state.missing[:5])}{' …' if len(state.missing) > 5 else ''}); seed an empty database "
                f"or one with the whole schema (`polyplan status {model} --url …` shows the difference) [PP606]"
            )
        if state.empty_schema:
            if not create_schema:
                _refuse(
                    "the database has none of the planned tables; drop --no-create-schema to create them, or apply "
                    f"relational/{engine.value}/schema.sql from `polyplan plan` first [PP606]"
                )
            log.info("creating the schema: %d tables", len(tables))
            apply_sql(database, render_schema(plan.model, rendered))
        elif state.holding and if_empty:
            say(f"the planned tables already hold {sum(state.holding.values())} rows; nothing loaded (--if-empty)")
            return
        elif state.holding and not truncate:
            shown = ", ".join(f"{name}: {count}" for name, count in list(state.holding.items())[:3])
            _refuse(
                f"the planned tables already hold rows ({shown}{' …' if len(state.holding) > 3 else ''}); "
                "pass --truncate to replace them, or --if-empty to load only into an empty database [PP605]"
            )
        with database.begin() as connection:
            if truncate and state.holding:
                log.info("deleting %d rows first (--truncate)", sum(state.holding.values()))
                delete_rows(connection, rendered.metadata)
            loaded = _load_with_progress(connection, rendered.metadata, loading)
    except sa.exc.SQLAlchemyError as error:
        stderr_console().print(f"polyplan seed: loading failed: {_first_line(error)}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    except database.dialect.loaded_dbapi.Error as error:  # raised by apply_sql's raw DBAPI cursor
        stderr_console().print(f"polyplan seed: creating the schema failed: {_first_line(error)}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    finally:
        database.dispose()
    elapsed = time.perf_counter() - started
    total = sum(loaded.values())
    for table, count in loaded.items():
        log.info("%s: %d rows", table, count)
    say(
        f"loaded {total} rows into {len(loaded)} tables in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s, seed {seed_value})"
    )


def _refuse(message: str) -> None:
    stderr_console().print(f"polyplan seed: {message}", markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _load_with_progress(
    connection: sa.Connection, metadata: sa.MetaData, loading: Mapping[str, Sequence[Row]]
) -> dict[str, int]:
    """`load_rows` under a Rich progress bar on stderr (none under -q or when stderr is not a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from polyplan.seed.relational import load_rows

    total = sum(len(rows) for rows in loading.values())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(
        *columns, console=stderr_console(), transient=True, disable=quiet() or not stderr_console().is_terminal
    ) as bar:
        task = bar.add_task("loading", total=total)

        def advance(table: str, count: int) -> None:
            bar.update(task, advance=count, description=f"loading {table}")

        return load_rows(connection, metadata, loading, progress=advance)

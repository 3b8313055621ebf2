"""`polyplan seed MODEL --engine E --url URL (--rows N | --scale F)`: load synthetic rows."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from polyplan.cli.app import app
from polyplan.cli.common import EXIT_BAD_INPUT, EXIT_CHECKS_FAILED, console, err_console, guarded


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
    create_schema: Annotated[bool, typer.Option("--create-schema", help="Apply the planned schema first.")] = False,
) -> None:
    """Plan MODEL and load deterministic synthetic rows into its relational tables, parents first."""
    # Imported here so that `polyplan --help` and the other commands do not load SQLAlchemy.
    import sqlalchemy as sa

    from polyplan.extras import require_engine
    from polyplan.pipeline import plan_file
    from polyplan.seed.generate import feasible_rows, generate, rows_for_scale
    from polyplan.seed.relational import load_rows, table_rows
    from polyplan.stores.relational.connect import apply_sql, create_engine, engine_name
    from polyplan.stores.relational.design import design_schema
    from polyplan.stores.relational.render import build_metadata, render_schema

    if (rows is None) == (scale is None):
        err_console.print("polyplan seed: give exactly one of --rows N or --scale F", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        backend = engine_name(url)
    except sa.exc.ArgumentError as error:
        err_console.print(f"polyplan seed: bad --url: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if backend != engine.value:
        err_console.print(f"polyplan seed: --url is a {backend} URL but --engine is {engine.value}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    require_engine(engine.value, f"polyplan seed --engine {engine.value}")
    plan = guarded(lambda: plan_file(model))
    tables, _ = design_schema(plan)
    if not tables:
        err_console.print("polyplan seed: the plan puts no entity in a relational store; nothing to load", markup=False)
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
        err_console.print(f"polyplan seed: {error}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    rendered = build_metadata(tables, engine.value)
    database = create_engine(url)
    try:
        if create_schema:
            apply_sql(database, render_schema(plan.model, rendered))
        with database.begin() as connection:
            loaded = load_rows(connection, rendered.metadata, table_rows(tables, data, engine.value))
    except sa.exc.SQLAlchemyError as error:
        err_console.print(f"polyplan seed: loading failed: {error}", markup=False)
        raise typer.Exit(EXIT_CHECKS_FAILED) from None
    finally:
        database.dispose()
    for table, count in loaded.items():
        console.print(f"{table}: {count} rows", markup=False, highlight=False)
    console.print(
        f"loaded {sum(loaded.values())} rows in {time.perf_counter() - started:.1f} s (seed {seed_value})", markup=False
    )

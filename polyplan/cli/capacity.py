"""`polyplan capacity MODEL [--years N] [--json]`: each store's size and load over time, the node
count it needs, the year each threshold is crossed and why, and the steps to scale
(a thin layer over `polyplan.capacity.capacity_plan`; nothing is written)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyplan.cli.app import app
from polyplan.cli.common import (
    EXIT_BAD_INPUT,
    TargetsOption,
    guarded,
    print_diagnostics,
    print_json,
    quiet,
    stderr_console,
    stdout_console,
)

if TYPE_CHECKING:
    from polyplan.capacity.spec import StoreCapacity

MAX_YEARS = 100.0  # a horizon beyond this is a typo, not a plan


def _store_table(store: StoreCapacity) -> Table:
    from polyplan.emit.capacity import human

    table = Table(title=escape(store.store))
    table.add_column("year", justify="right")
    for column in ("rows", "data", "indexes", "stored", "reads/s", "writes/s", "connections", "nodes", "replicas"):
        table.add_column(column, justify="right")
    for y in store.years:
        table.add_row(
            f"{y.year:g}",
            human(y.rows),
            human(y.data_bytes, byte_units=True),
            human(y.index_bytes, byte_units=True),
            human(y.stored_bytes, byte_units=True),
            human(y.reads),
            human(y.writes),
            human(y.connections),
            str(y.nodes),
            str(y.read_replicas),
        )
    return table


@app.command()
def capacity(
    model: Annotated[Path, typer.Argument(help="The requirements model (YAML).", show_default=False)],
    years: Annotated[
        float | None,
        typer.Option(
            "--years", help="Plan this many years ahead instead of the model's horizon_years.", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the capacity plan as JSON on stdout.")] = False,
    targets: TargetsOption = None,
) -> None:
    """Size every store of MODEL year by year against one node of its target profile: rows, data,
    index and total bytes per entity and store, peak reads and writes per second, node counts,
    the year each threshold is crossed and why, and the steps to scale. Exit 2 on bad input."""
    if years is not None and not 0 < years <= MAX_YEARS:
        stderr_console().print(
            f"polyplan capacity: --years must be above 0 and at most {MAX_YEARS:g} (got {years:g})", markup=False
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    from polyplan.capacity import capacity_plan, design_stores
    from polyplan.emit.plan_json import diagnostic_json
    from polyplan.pipeline import plan_file
    from polyplan.plan.assign import loaded_locate

    plan = guarded(lambda: plan_file(model, targets))
    result = capacity_plan(plan, guarded(lambda: design_stores(plan)), years)
    suppressed = set(plan.model.options.suppress)
    diagnostics = [loaded_locate(plan.loaded, d) for d in result.diagnostics if d.code not in suppressed]
    print_diagnostics(diagnostics)
    if as_json:
        print_json(
            {"model": result.model, **result.as_data(), "diagnostics": [diagnostic_json(d) for d in diagnostics]}
        )
        return
    if quiet():
        return
    console = stdout_console()
    for store in result.stores:
        console.print(_store_table(store))
        for threshold in store.thresholds:
            when = f"year {threshold.year:g}" if threshold.year is not None else "not within the horizon"
            console.print(f"  {threshold.resource}: crossed {when}: {threshold.why}", markup=False, highlight=False)
        for step in store.steps:
            when = f"year {step.year:g}" if step.year is not None else "beyond the horizon"
            console.print(f"  {step.order}. {when}: {step.action} — {step.why}", markup=False, highlight=False)
    for threshold in result.partitioning:
        console.print(
            f"{threshold.resource} ({threshold.store}): from year {threshold.year:g}: {threshold.why}",
            markup=False,
            highlight=False,
        )

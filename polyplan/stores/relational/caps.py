"""Caps and loss tolerance of relational entities (model/caps.py): the design and its SQL.

A capped entity table keeps its newest `max_records` rows by the cap's order column. No SQL
engine caps a table by itself, so a trim job deletes every row older than the N-th newest:

    DELETE FROM t WHERE c < (SELECT c FROM (SELECT c FROM t ORDER BY c DESC LIMIT 1 OFFSET N-1) AS newest)

The inner query walks the index on the order column (added here unless one leads with it) from
the newest end for N rows; the DELETE is a range on the same index. The derived table lets
MariaDB/MySQL read the table it deletes from (error 1093 otherwise); PostgreSQL and SQLite take
the same text. Rows tied with the N-th newest are kept, so the table holds N rows, more only by
such ties. `caps.sql` holds one statement per capped table: run it after inserts (every second,
or every few hundred inserts); between runs the table holds at most N plus the rows inserted
since the last.

A loss-tolerable entity's tables are UNLOGGED on PostgreSQL (no WAL: writes cost less), unless a
table of an entity that is not loss-tolerable refers to them (a permanent table may refer only to
permanent ones). The consequences, stated in the table comment and PP476: an unlogged table is
truncated after a crash or an unclean shutdown, and is not replicated to standbys (it is empty
after a failover). MariaDB/MySQL and SQLite have no per-table equivalent (PP476 says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.caps import cap_of
from polyplan.model.schema import RequirementsModel
from polyplan.plan.ir import Plan
from polyplan.stores.relational.design import CAP, constraint_name, fit
from polyplan.stores.relational.render import DIALECTS, header
from polyplan.stores.relational.spec import IndexColumn, IndexSpec, TableKind, TableSpec

UNLOGGED_EFFECT = (
    "UNLOGGED: no write-ahead log, so PostgreSQL truncates it after a crash or an unclean shutdown and "
    "streaming replication does not copy it (a promoted standby has it empty)"
)


def cap_of_table(spec: TableSpec) -> dict[str, Any] | None:
    """The cap design a table carries (`extra[CAP]`), or None."""
    found: dict[str, Any] | None = spec.extra.get(CAP)
    return found


def _order_index(spec: TableSpec, column: str, entity: str) -> IndexSpec | None:
    """A descending index on the order column for the trim, unless one already leads with it."""
    if any(i.columns and i.columns[0].name == column and not i.where for i in spec.indexes):
        return None
    return IndexSpec(
        name=constraint_name("ix", spec.name, column),
        table=spec.name,
        columns=(IndexColumn(column, descending=True),),
        serves=(f"cap:{entity}",),
        reason=f"the cap's trim finds the newest rows by {column} and deletes the older ones by range",
    )


def design_caps(plan: Plan, tables: list[TableSpec]) -> tuple[list[TableSpec], list[Diagnostic]]:
    """Tables with their cap and loss-tolerance design in `extra[CAP]` (and the trim's index),
    plus PP476 for what loss tolerance changes or cannot change on the chosen engine."""
    model = plan.model
    engine = model.engines.relational
    tolerant = {name for name, entity in model.entities.items() if entity.loss_tolerable}
    referrers: dict[str, list[str]] = {}
    by_name = {spec.name: spec for spec in tables}
    for spec in tables:
        for fk in spec.foreign_keys:
            target = by_name.get(fk.ref_table)
            if target is not None and target.entity in tolerant and spec.entity not in tolerant:
                referrers.setdefault(target.name, []).append(spec.name)
    found: list[Diagnostic] = []
    result: list[TableSpec] = []
    for spec in tables:
        rule = cap_of(model, spec.entity) if spec.kind is TableKind.ENTITY else None
        lossy = spec.entity in tolerant and spec.entity in model.entities
        if rule is None and not lossy:
            result.append(spec)
            continue
        design: dict[str, Any] = {"unlogged": lossy and spec.name not in referrers}
        indexes = spec.indexes
        if rule is not None:
            column = next((c.name for c in spec.columns if c.source == f"{spec.entity}.{rule.order}"), rule.order)
            design |= {"column": column, "max_records": rule.max_records, "job": fit(f"{spec.name}_trim")}
            index = _order_index(spec, column, spec.entity)
            indexes = indexes if index is None else (*indexes, index)
        comment = spec.comment
        if design["unlogged"] and engine == "postgresql":
            comment = f"{comment} {UNLOGGED_EFFECT}." if comment else f"{UNLOGGED_EFFECT}."
        result.append(replace(spec, indexes=indexes, comment=comment, extra={**spec.extra, CAP: design}))
        if lossy and spec.kind is TableKind.ENTITY:
            found.append(_loss_note(spec, engine, referrers.get(spec.name, [])))
    return result, found


def _loss_note(spec: TableSpec, engine: str | None, referrers: list[str]) -> Diagnostic:
    path = f"entities.{spec.entity}.loss_tolerable"
    if engine != "postgresql":
        return Diagnostic(
            "PP476",
            f"{spec.entity}: loss_tolerable has no per-table form on {engine}: table {spec.name} stays as durable as "
            "the rest (relax durability for the whole server, e.g. innodb_flush_log_at_trx_commit=2, if that is "
            "acceptable)",
            path,
            Severity.WARNING,
        )
    if referrers:
        return Diagnostic(
            "PP476",
            f"{spec.entity}: loss_tolerable, but {', '.join(sorted(referrers))} (not loss-tolerable) refer to table "
            f"{spec.name}, and a permanent table may refer only to permanent ones: it stays logged",
            path,
        )
    return Diagnostic(
        "PP476",
        f"{spec.entity}: loss_tolerable: table {spec.name} is {UNLOGGED_EFFECT}; writes skip the WAL",
        path,
        Severity.WARNING,
    )


def trim_statement(spec: TableSpec, engine: str) -> str | None:
    """The DELETE that keeps the table's newest `max_records` rows, or None without a cap."""
    design = cap_of_table(spec)
    if design is None or "column" not in design:
        return None
    quote = DIALECTS[engine].sa_dialect().identifier_preparer.quote
    table, column = quote(spec.name), quote(design["column"])
    offset = int(design["max_records"]) - 1
    return (
        f"DELETE FROM {table} WHERE {column} < (SELECT {column} FROM (SELECT {column} FROM {table} "
        f"WHERE {column} IS NOT NULL ORDER BY {column} DESC LIMIT 1 OFFSET {offset}) AS newest);"
    )


def caps_sql(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> str | None:
    """`caps.sql`: the trim of every capped table, each under a `-- name:` line; None if none."""
    blocks = []
    for spec in tables:
        statement = trim_statement(spec, engine)
        if statement is None:
            continue
        design = cap_of_table(spec)
        assert design is not None
        blocks.append(
            f"-- name: {design['job']}  (keeps the newest {design['max_records']:,} rows by {design['column']}; run "
            "after inserts, e.g. every second: between runs the table holds the rows inserted since)\n" + statement
        )
    if not blocks:
        return None
    intro = "-- Caps (growth.cap): rows tied with the last one kept are kept too; rows with no order value are never trimmed."
    return "\n\n".join([header(model, "Cap trims", engine) + intro, *blocks]) + "\n"

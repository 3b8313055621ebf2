"""Cassandra counter tables for increment write patterns (pure).

Cassandra adds to a `counter` column atomically on the replicas (`SET c = c + :delta`), but a
table that holds a counter may hold nothing else besides its primary key: no regular column, no
default TTL. So, for an entity with counters:

- a table whose only non-key columns are counters becomes a counter table itself (a per-day views
  table is the usual case);
- otherwise the counters leave the entity's tables for one counter table of their own,
  `<entity>_counters`, keyed by the entity's key; a read that wants a counter reads it there by
  key after its own query (the read plan says so).

A counter is a 64-bit integer: a decimal with a scale or a float cannot be one, and stays a
regular column added to by compare-and-set (PP430). Counter tables cannot expire, so a retention
becomes a scheduled delete of old partitions (PP430). Counter updates are not idempotent: a
timed-out update may or may not have been applied, and retrying it may count twice.
"""

from __future__ import annotations

from dataclasses import replace

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import key_of, snake
from polyplan.model.schema import Attribute, RequirementsModel
from polyplan.plan.increments import counters_of, integral
from polyplan.stores.wide_column.cql import schema_name
from polyplan.stores.wide_column.spec import Column, Query, Table
from polyplan.stores.wide_column.typemap import CqlType

COUNTER = CqlType("counter")
_LEVELED = "leveled compaction: each counter row is added to over and over, so its cells are spread over SSTables"
_LEVELED_OPTIONS: tuple[tuple[str, str | int], ...] = (("class", "LeveledCompactionStrategy"),)
COUNTER_ROW_BYTES = 8.0  # one counter cell's value (the shard context is extra, per replica)


def native_counters(model: RequirementsModel, entity: str) -> dict[str, Attribute]:
    """Counters Cassandra can hold as `counter` columns (whole numbers only): the attributes
    increments add to, and the counts and sums derived from children (derived.py)."""
    from polyplan.stores.wide_column.derived import derived_counters  # derived.py reads the tables made here

    found = {name: a for name, a in counters_of(model, entity).items() if integral(a)}
    return {**found, **{n: a for n, a in derived_counters(model, entity).items() if n not in found}}


def is_counter_table(table: Table) -> bool:
    """Whether every non-key column of `table` is a counter."""
    return any(c.type == COUNTER for c in table.columns)


def _counter_table(table: Table, counters: dict[str, Attribute]) -> Table:
    columns = tuple(replace(c, type=COUNTER) if c.attribute in counters else c for c in table.columns)
    # Its rows are added to over and over: not an append-only series (time windows), nor expiring.
    kept = tuple(r for r in table.reasons if not r.startswith(("default TTL", "time-window", "size-tiered", "leveled")))
    reasons = (
        *kept,
        _LEVELED,
        f"counter table: every non-key column ({', '.join(c.name for c in columns if c.type == COUNTER)}) is a "
        "counter, added to atomically with SET c = c + :delta; no default TTL (Cassandra refuses one on counters)",
    )
    return replace(table, columns=columns, ttl_seconds=None, compaction=_LEVELED_OPTIONS, reasons=reasons)


def _own_table(template: Table, entity: str, model: RequirementsModel, counters: list[str], taken: set[str]) -> Table:
    key = list(key_of(model.entities[entity]).attributes)
    by_name = {c.attribute: c for t in (template,) for c in t.columns}
    name, n = schema_name(f"{snake(entity)}_counters"), 2
    while name in taken:
        name, n = schema_name(f"{snake(entity)}_counters_{n}"), n + 1
    taken.add(name)
    columns = [by_name[k] if k in by_name else Column(k, CqlType("text"), k) for k in key]
    columns += [replace(by_name[c], type=COUNTER) for c in counters]
    estimate = replace(
        template.estimate,
        rows_per_partition=1.0,
        row_bytes=COUNTER_ROW_BYTES * len(counters),
        partitions=max(1.0, template.estimate.rows),
        assumptions=("one row per record: the partition is the record's key",),
    )
    return Table(
        name=name,
        keyspace=template.keyspace,
        entity=entity,
        role="counters",
        patterns=(),
        partition_key=tuple(key),
        clustering=(),
        columns=tuple(columns),
        conditions=(),
        bucket=None,
        estimate=estimate,
        unbucketed=None,
        ttl_seconds=None,
        compaction=_LEVELED_OPTIONS,
        reasons=(
            f"the counters of {entity} ({', '.join(counters)}): Cassandra keeps counters in a table of their own "
            "(no regular column beside them), added to atomically with SET c = c + :delta",
            _LEVELED,
        ),
    )


def apply_counters(
    model: RequirementsModel, entity: str, tables: list[Table], taken: set[str]
) -> tuple[list[Table], list[Diagnostic]]:
    """The entity's tables with counters split out as Cassandra requires, and the notes (PP430)."""
    notes: list[Diagnostic] = []
    path = f"entities.{entity}"
    for name, attribute in counters_of(model, entity).items():
        if not integral(attribute):
            notes.append(
                Diagnostic(
                    "PP430",
                    f"{entity}.{name} is a {attribute.type.value} with fractions, but a Cassandra counter is a 64-bit "
                    "integer: it stays a regular column, added to by compare-and-set (read it, then UPDATE … SET "
                    f"{name} = :new IF {name} = :old, retried until applied). An integer in the smallest unit (cents) "
                    "would be a counter",
                    f"{path}.attributes.{name}",
                    Severity.WARNING,
                )
            )
    counters = native_counters(model, entity)
    if not counters:
        return tables, notes
    result: list[Table] = []
    moved: list[str] = []
    for table in tables:
        held = [c for c in table.columns if c.attribute in counters and c.name not in table.primary_key]
        others = [c for c in table.columns if c.attribute not in counters and c.name not in table.primary_key]
        if not held:
            result.append(table)
        elif not others:
            result.append(_counter_table(table, counters))
        else:
            moved += [c.attribute for c in held if c.attribute and c.attribute not in moved]
            result.append(replace(table, columns=tuple(c for c in table.columns if c not in held)))
    if moved:
        template = next(t for t in tables if any(c.attribute in moved for c in t.columns))
        result.append(_own_table(template, entity, model, [c for c in counters if c in moved], taken))
    if any(t.ttl_seconds for t in tables) and any(is_counter_table(t) for t in result):
        notes.append(
            Diagnostic(
                "PP430",
                f"{entity}: Cassandra counter tables cannot have a default TTL, so the retention of the counters is "
                "applied by a scheduled job that deletes partitions past it (a deleted counter must not be added to "
                "again: delete only partitions no longer written)",
                f"{path}.growth",
                Severity.WARNING,
            )
        )
    return result, notes


def counter_reads(query: Query, tables: list[Table], wanted: list[str]) -> Query:
    """A query whose table lost counters the pattern reads (`wanted`): they are read from the counter table by key."""
    table = next(t for t in tables if t.name == query.table)
    held = {c.attribute for c in table.columns}
    own = next((t for t in tables if t.role == "counters"), None)
    if own is None:
        return query
    elsewhere = {c.attribute for c in own.columns if c.type == COUNTER}
    missing = [a for a in wanted if a in elsewhere and a not in held]
    if not missing:
        return query
    plan = f"then read {', '.join(missing)} from {own.name} by {', '.join(own.partition_key)} for each row"
    return replace(query, select=tuple(c for c in query.select if c in held), read_plan=(*query.read_plan, plan))

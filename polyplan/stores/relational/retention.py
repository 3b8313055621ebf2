"""Retention and archiving of relational entities: the design (pure; no SQLAlchemy, no I/O).

An entity with `growth.retention_days` or `growth.archive_after_days` ages by its
`growth.time_attribute`. Per engine it gets one of two designs:

- **range partitions** (PostgreSQL declarative partitioning, MariaDB/MySQL `PARTITION BY RANGE`)
  on the time column, one partition per day or month (chosen from the shortest window and the
  daily volume). Partitioning requires every primary and unique key to include the partition
  column: the primary key gains it (reported, PP410). Expired partitions are dropped whole;
  partitions due for archiving are detached and copied to `<table>_archive`.
- **batched DELETE** over an index on the time column, where partitioning is impossible:
  SQLite has none; a unique rule or a natural key without the time column would be weakened;
  a nullable time column cannot be part of a primary key; a table other tables refer to cannot
  be referenced without the partition column; MariaDB's partitioned InnoDB tables have no
  foreign keys and no FULLTEXT indexes (PP411 says which).

The rendering (DDL, functions, procedures, job statements) is `retention_sql.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import key_of
from polyplan.model.schema import KeyKind, TypeName
from polyplan.plan.ir import Plan
from polyplan.stores.relational.design import RETENTION, constraint_name, fit
from polyplan.stores.relational.spec import IndexColumn, IndexKind, IndexSpec, TableKind, TableSpec

PARTITIONING_ENGINES = ("postgresql", "mysql")
BATCH_ROWS = 10_000  # rows per DELETE of a batched purge: short locks, bounded undo/WAL per statement
# A monthly partition bigger than this gets daily partitions instead: a partition is the unit a
# purge drops, and one that size keeps its indexes in memory while it is written.
MAX_MONTHLY_ROWS = 50_000_000
DAILY_WINDOW_DAYS = 62  # a window this short, or shorter, is counted in days: daily partitions
AHEAD = {"day": 7, "month": 3}  # partitions created ahead of now by each maintenance run


@dataclass(frozen=True)
class Retention:
    """How one entity table is aged: its time column, windows, partition unit and, per engine,
    whether it is range-partitioned (else purged and archived by batched DELETE)."""

    entity: str
    table: str
    column: str
    column_type: str  # the portable type of the time column: date, timestamp or timestamptz
    retention_days: int | None
    archive_after_days: int | None
    unit: str  # "day" or "month"
    partitioned: tuple[str, ...]  # engines whose table is range-partitioned
    obstacles: dict[str, tuple[str, ...]]  # engine → why it is not partitioned there

    @property
    def archive_table(self) -> str | None:
        """The table archived rows move to, or None without an archive rule."""
        return fit(f"{self.table}_archive") if self.archive_after_days else None

    @property
    def default_partition(self) -> str:
        """PostgreSQL's DEFAULT partition of the table."""
        return fit(f"{self.table}_default")

    @property
    def partition_prefix(self) -> str:
        """Each range partition is this prefix plus the YYYYMMDD its range starts on."""
        return fit(f"{self.table}_p", 54)

    def owns(self, name: str) -> bool:
        """Whether a table called `name` belongs to this design (a partition or the archive),
        which drift (`polyplan status`) does not count."""
        partition = re.fullmatch(re.escape(self.partition_prefix) + r"[0-9]{8}", name) is not None
        return name in (self.archive_table, self.default_partition) or partition

    @property
    def window_days(self) -> int:
        """The longest window: partitions are created back this far at the first run."""
        return max(d for d in (self.retention_days, self.archive_after_days) if d)

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form (kept in TableSpec.extra, so generated tests see the same design)."""
        return {
            "entity": self.entity,
            "table": self.table,
            "column": self.column,
            "column_type": self.column_type,
            "retention_days": self.retention_days,
            "archive_after_days": self.archive_after_days,
            "unit": self.unit,
            "partitioned": list(self.partitioned),
            "obstacles": {k: list(v) for k, v in sorted(self.obstacles.items())},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Retention:
        """The inverse of `as_data`."""
        return cls(
            entity=data["entity"],
            table=data["table"],
            column=data["column"],
            column_type=data["column_type"],
            retention_days=data["retention_days"],
            archive_after_days=data["archive_after_days"],
            unit=data["unit"],
            partitioned=tuple(data["partitioned"]),
            obstacles={k: tuple(v) for k, v in data["obstacles"].items()},
        )


def retention_of(spec: TableSpec) -> Retention | None:
    """The retention design of a table, or None when it does not age."""
    data = spec.extra.get(RETENTION)
    return Retention.from_data(data) if data else None


def primary_key_for(spec: TableSpec, engine: str) -> tuple[str, ...]:
    """The primary key `engine` declares: a range-partitioned table's includes the partition column."""
    rule = retention_of(spec)
    # A keyless history (key: {kind: none}) stays keyless: a partitioned table needs no key.
    if rule is None or engine not in rule.partitioned or rule.column in spec.primary_key or not spec.primary_key:
        return spec.primary_key
    return (*spec.primary_key, rule.column)


def _fate(rule: Retention) -> str:
    archive = rule.archive_table
    moved = (
        f"partitions older than {rule.archive_after_days} days are detached and copied to {archive}" if archive else ""
    )
    dropped = f"partitions older than {rule.retention_days} days are dropped whole" if rule.retention_days else ""
    return "; ".join(p for p in (moved, dropped) if p)


def _unit(days: int, rows_per_day: float) -> str:
    if days <= DAILY_WINDOW_DAYS or rows_per_day * 31 > MAX_MONTHLY_ROWS:
        return "day"
    return "month"


def _obstacles(plan: Plan, spec: TableSpec, tables: list[TableSpec], column: str) -> dict[str, tuple[str, ...]]:
    """Per engine, what forbids range-partitioning `spec` by `column` (empty: it can be)."""
    common: list[str] = []
    if spec.column(column).nullable:
        common.append(
            f"{column} is nullable, and a partition column inside the primary key must be NOT NULL "
            "(rows whose time is null never expire)"
        )
    referring = sorted({t.name for t in tables for fk in t.foreign_keys if fk.ref_table == spec.name})
    if referring:
        common.append(
            f"{', '.join(referring)} refer to it, and a foreign key to a partitioned table must include its partition column"
        )
    if key_of(plan.model.entities[spec.entity]).kind is KeyKind.NATURAL and column not in spec.primary_key:
        common.append(f"its natural key ({', '.join(spec.primary_key)}) would no longer be unique alone")
    weakened = [group for group in spec.uniques if column not in group]
    if weakened:
        rules = "; ".join(f"({', '.join(group)})" for group in weakened)
        common.append(f"its unique rule {rules} would only hold within one partition")
    mysql = list(common)
    if spec.foreign_keys:
        mysql.append("it has foreign keys, which partitioned InnoDB tables cannot have")
    if any(i.kind is IndexKind.FULLTEXT for i in spec.indexes):
        mysql.append("it has a FULLTEXT index, which partitioned InnoDB tables cannot have")
    found = {"postgresql": tuple(common), "mysql": tuple(mysql), "sqlite": ("SQLite has no partitioning",)}
    return {engine: why for engine, why in found.items() if why}


def _time_index(spec: TableSpec, rule: Retention) -> IndexSpec | None:
    """An index on the time column for the purge and archive, unless one already leads with it."""
    if any(i.columns and i.columns[0].name == rule.column and not i.where for i in spec.indexes):
        return None
    if spec.primary_key[:1] == (rule.column,):
        return None
    return IndexSpec(
        name=constraint_name("ix", spec.name, rule.column),
        table=spec.name,
        columns=(IndexColumn(rule.column),),
        serves=(f"retention:{rule.entity}",),
        reason=(
            f"the retention and archive jobs find rows older than a cutoff by {rule.column} "
            "(range partitions still keep it: the default partition and batched deletes use it)"
        ),
    )


def design_retention(plan: Plan, tables: list[TableSpec]) -> tuple[list[TableSpec], list[Diagnostic]]:
    """Tables with their retention design in `extra` (and an index on the time column), plus
    the chosen engine's PP410/PP411 warnings."""
    model = plan.model
    chosen = model.engines.relational
    found: list[Diagnostic] = []
    result: list[TableSpec] = []
    for spec in tables:
        entity = model.entities.get(spec.entity)
        growth = entity.growth if entity is not None and spec.kind is TableKind.ENTITY else None
        if growth is None or not (growth.retention_days or growth.archive_after_days):
            result.append(spec)
            continue
        path = f"entities.{spec.entity}.growth"
        column = next((c.name for c in spec.columns if c.source == f"{spec.entity}.{growth.time_attribute}"), None)
        if column is None or spec.column(column).attribute.type not in (
            TypeName.DATE,
            TypeName.TIMESTAMP,
            TypeName.TIMESTAMPTZ,
        ):
            found.append(
                Diagnostic(
                    "PP411",
                    f"{spec.entity}: no date or timestamp column to age rows by; add a time attribute "
                    "(e.g. created_at: {type: timestamptz, default: now}) and name it in growth.time_attribute, "
                    "or nothing purges or archives this table",
                    f"{path}.time_attribute",
                    Severity.WARNING,
                )
            )
            result.append(spec)
            continue
        windows = [d for d in (growth.retention_days, growth.archive_after_days) if d]
        obstacles = _obstacles(plan, spec, tables, column)
        rule = Retention(
            entity=spec.entity,
            table=spec.name,
            column=column,
            column_type=spec.column(column).attribute.type.value,
            retention_days=growth.retention_days,
            archive_after_days=growth.archive_after_days,
            unit=_unit(min(windows), growth.rows_per_day),
            partitioned=tuple(e for e in PARTITIONING_ENGINES if e not in obstacles),
            obstacles=obstacles,
        )
        index = _time_index(spec, rule)
        indexes = spec.indexes if index is None else (*spec.indexes, index)
        result.append(replace(spec, indexes=indexes, extra={**spec.extra, RETENTION: rule.as_data()}))
        if chosen is None:
            continue
        what = " and ".join(
            w
            for w in (
                f"retention {growth.retention_days} days" if growth.retention_days else "",
                f"archive after {growth.archive_after_days} days" if growth.archive_after_days else "",
            )
            if w
        )
        if chosen in rule.partitioned:
            key = primary_key_for(result[-1], chosen)
            change = (
                f"; its primary key becomes ({', '.join(key)}), as partitioning requires: "
                f"({', '.join(spec.primary_key)}) alone is no longer enforced across partitions"
                if key != spec.primary_key
                else ""
            )
            found.append(
                Diagnostic(
                    "PP410",
                    f"{spec.entity} ({what}): range-partitioned by {column}, one partition per {rule.unit} on {chosen}; "
                    f"{_fate(rule)}{change}",
                    path,
                    Severity.WARNING,
                )
            )
        else:
            found.append(
                Diagnostic(
                    "PP411",
                    f"{spec.entity} ({what}): not partitioned on {chosen} ({'; '.join(obstacles[chosen])}); "
                    f"the jobs delete in batches of {BATCH_ROWS:,} rows over an index on {column}",
                    path,
                    Severity.WARNING,
                )
            )
    return result, found

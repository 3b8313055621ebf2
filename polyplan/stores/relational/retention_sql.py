"""Retention and archiving rendered per engine (pure text; the design is `retention.py`).

What SQLAlchemy expresses comes from SQLAlchemy: the partitioned table itself
(`postgresql_partition_by`, in render.py) and the archive tables (a MetaData of their own, so the
tables the generated tests map stay the design's). Partitions, PL/pgSQL functions, MariaDB
procedures and batched deletes are not expressible in SQLAlchemy and are written here by hand.

Installed with `schema.sql` (after every table), per aged entity table T:

- PostgreSQL, partitioned: `T_default` (a DEFAULT partition for rows no partition covers),
  `T_partitions_ahead(p_now)`, `T_archive_rows(p_now)`, `T_purge(p_now)`.
- MariaDB/MySQL, partitioned: `ALTER TABLE T PARTITION BY RANGE (TO_DAYS(col))` with one
  MAXVALUE partition `p_future`, and procedures of the same names taking `p_now` (NULL: now).
- Either, not partitioned: `T_archive_rows` and `T_purge` delete in batches.
- SQLite: statements with a `:cutoff` parameter in `retention.sql`.

`retention.sql` holds the job: the calls (or statements) to run daily, in order.
Every job takes the time "now" as a parameter (default: the clock), so a test can run it at a
chosen instant; all of them work in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import RequirementsModel
from polyplan.stores.relational.design import fit
from polyplan.stores.relational.render import DIALECTS, ddl_statements, header
from polyplan.stores.relational.retention import AHEAD, BATCH_ROWS, Retention, primary_key_for, retention_of
from polyplan.stores.relational.spec import TableSpec


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Names:
    """The quoted names one rule's SQL uses, for one engine."""

    def __init__(self, spec: TableSpec, rule: Retention, engine: str) -> None:
        quote = DIALECTS[engine].sa_dialect().identifier_preparer.quote
        self.q = quote
        self.table = quote(spec.name)
        self.column = quote(rule.column)
        self.columns = ", ".join(quote(c.name) for c in spec.columns)
        self.key = [quote(c) for c in primary_key_for(spec, engine)]
        self.archive = quote(rule.archive_table) if rule.archive_table else None
        self.default = quote(rule.default_partition)
        self.ahead = quote(fit(f"{spec.name}_partitions_ahead"))
        self.purge = quote(fit(f"{spec.name}_purge"))
        self.archive_job = quote(fit(f"{spec.name}_archive_rows"))
        self.prefix = rule.partition_prefix  # + YYYYMMDD stays within 63 characters


def jobs(rule: Retention, engine: str) -> list[str]:
    """The jobs of a rule on `engine`, in the order a run calls them: ahead, archive, purge."""
    found = []
    if engine in rule.partitioned:
        found.append("partitions_ahead")
    if rule.archive_after_days:
        found.append("archive_rows")
    if rule.retention_days:
        found.append("purge")
    return found


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_expired(names: _Names) -> str:
    # The upper bound of each range partition, read from its bound expression (the DEFAULT
    # partition has none, so it never matches).
    return (
        "SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid\n"
        f"        WHERE i.inhparent = {_lit(names.table)}::regclass\n"
        "          AND substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''([^'']+)''\\)')::timestamptz <= cutoff\n"
        "        ORDER BY 1"
    )


def _pg_function(name: str, declare: list[str], body: list[str]) -> str:
    lines = [
        f"CREATE FUNCTION {name}(p_now timestamptz DEFAULT now()) RETURNS void",
        "LANGUAGE plpgsql SET timezone = 'UTC' AS $$",
        "DECLARE",
        *(f"    {d}" for d in declare),
        "BEGIN",
        *(f"    {b}" for b in body),
        "END",
        "$$;",
    ]
    return "\n".join(lines)


def _pg_batched_delete(table: str, column: str) -> list[str]:
    return [
        "LOOP",
        f"    DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {column} < cutoff LIMIT {BATCH_ROWS});",
        "    EXIT WHEN NOT FOUND;",
        "END LOOP;",
    ]


def _postgresql(spec: TableSpec, rule: Retention) -> list[str]:
    n = _Names(spec, rule, "postgresql")
    unit = rule.unit
    partitioned = "postgresql" in rule.partitioned
    live = n.default if partitioned else n.table  # where rows are deleted one by one
    statements: list[str] = []
    if partitioned:
        back = rule.archive_after_days or rule.retention_days
        statements.append(f"CREATE TABLE {n.default} PARTITION OF {n.table} DEFAULT;")
        name = f"{_lit(n.prefix)} || to_char(lo, 'YYYYMMDD')"
        statements.append(
            _pg_function(
                n.ahead,
                [
                    f"lo timestamptz := date_trunc('{unit}', p_now - interval '{back} days');",
                    "hi timestamptz;",
                ],
                [
                    f"WHILE lo <= date_trunc('{unit}', p_now) + {AHEAD[unit]} * interval '1 {unit}' LOOP",
                    f"    hi := lo + interval '1 {unit}';",
                    f"    IF to_regclass(quote_ident({name})) IS NULL",
                    f"       AND NOT EXISTS (SELECT 1 FROM {n.default} WHERE {n.column} >= lo AND {n.column} < hi) THEN",
                    f"        EXECUTE 'CREATE TABLE ' || quote_ident({name}) || ' PARTITION OF ' || {_lit(n.table)}"
                    " || ' FOR VALUES FROM (' || quote_literal(lo) || ') TO (' || quote_literal(hi) || ')';",
                    "    END IF;",
                    "    lo := hi;",
                    "END LOOP;",
                ],
            )
        )
    if rule.archive_after_days and n.archive:
        declare = [f"cutoff timestamptz := p_now - interval '{rule.archive_after_days} days';"]
        body: list[str] = []
        if partitioned:
            declare.append("part record;")
            body += [
                f"FOR part IN {_pg_expired(n)}",
                "LOOP",
                f"    EXECUTE 'ALTER TABLE ' || {_lit(n.table)} || ' DETACH PARTITION ' || part.name;",
                f"    EXECUTE {_lit(f'INSERT INTO {n.archive} ({n.columns}) SELECT {n.columns} FROM ')} || part.name;",
                "    EXECUTE 'DROP TABLE ' || part.name;",
                "END LOOP;",
            ]
        body += [
            "LOOP",
            f"    WITH moved AS (DELETE FROM {live} WHERE ctid IN (SELECT ctid FROM {live} WHERE {n.column} < cutoff "
            f"LIMIT {BATCH_ROWS}) RETURNING {n.columns})",
            f"    INSERT INTO {n.archive} ({n.columns}) SELECT {n.columns} FROM moved;",
            "    EXIT WHEN NOT FOUND;",
            "END LOOP;",
        ]
        statements.append(_pg_function(n.archive_job, declare, body))
    if rule.retention_days:
        declare = [f"cutoff timestamptz := p_now - interval '{rule.retention_days} days';"]
        body = []
        if partitioned:
            declare.append("part record;")
            body += [
                f"FOR part IN {_pg_expired(n)}",
                "LOOP",
                f"    EXECUTE 'ALTER TABLE ' || {_lit(n.table)} || ' DETACH PARTITION ' || part.name;",
                "    EXECUTE 'DROP TABLE ' || part.name;",
                "END LOOP;",
            ]
        body += _pg_batched_delete(live, n.column)
        if n.archive:
            body += _pg_batched_delete(n.archive, n.column)
        statements.append(_pg_function(n.purge, declare, body))
    return statements


# --- MariaDB / MySQL -------------------------------------------------------------------------


def _my_trunc(unit: str, value: str) -> str:
    # No DATE_FORMAT: a `%` would be doubled on its way through a migration's pyformat driver.
    day = f"DATE({value})"
    return day if unit == "day" else f"{day} - INTERVAL (DAYOFMONTH({day}) - 1) DAY"


def _my_procedure(name: str, declare: list[str], body: list[str]) -> str:
    lines = [
        f"CREATE PROCEDURE {name}(IN p_now DATETIME(6))",
        "BEGIN",
        *(f"    {d}" for d in declare),
        *(f"    {b}" for b in body),
        "END;",
    ]
    return "\n".join(lines)


def _my_execute(sql: str) -> list[str]:
    return [
        f"SET @polyplan_sql = {sql};",
        "PREPARE polyplan_stmt FROM @polyplan_sql;",
        "EXECUTE polyplan_stmt;",
        "DEALLOCATE PREPARE polyplan_stmt;",
    ]


def _my_oldest_expired(spec: TableSpec) -> str:
    return (
        "SET part = (SELECT PARTITION_NAME FROM information_schema.PARTITIONS "
        f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {_lit(spec.name)} "
        "AND PARTITION_DESCRIPTION <> 'MAXVALUE' AND CAST(PARTITION_DESCRIPTION AS SIGNED) <= TO_DAYS(cutoff) "
        "ORDER BY PARTITION_ORDINAL_POSITION LIMIT 1);"
    )


def _my_batched_delete(table: str, column: str) -> list[str]:
    return [
        "REPEAT",
        f"    DELETE FROM {table} WHERE {column} < cutoff ORDER BY {column} LIMIT {BATCH_ROWS};",
        "UNTIL ROW_COUNT() = 0 END REPEAT;",
    ]


def _mysql(spec: TableSpec, rule: Retention) -> list[str]:
    n = _Names(spec, rule, "mysql")
    unit = rule.unit
    step = f"INTERVAL 1 {unit.upper()}"
    partitioned = "mysql" in rule.partitioned
    statements: list[str] = []
    if partitioned:
        back = rule.archive_after_days or rule.retention_days
        statements.append(
            f"ALTER TABLE {n.table} PARTITION BY RANGE (TO_DAYS({n.column})) "
            "(PARTITION p_future VALUES LESS THAN MAXVALUE);"
        )
        statements.append(
            _my_procedure(
                n.ahead,
                ["DECLARE lo DATE;", "DECLARE bound INT;"],
                [
                    "SET p_now = COALESCE(p_now, UTC_TIMESTAMP(6));",
                    "SET bound = (SELECT MAX(CAST(PARTITION_DESCRIPTION AS SIGNED)) FROM information_schema.PARTITIONS "
                    f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {_lit(spec.name)} "
                    "AND PARTITION_DESCRIPTION <> 'MAXVALUE');",
                    f"SET lo = IF(bound IS NULL, {_my_trunc(unit, f'p_now - INTERVAL {back} DAY')}, FROM_DAYS(bound));",
                    f"WHILE lo <= {_my_trunc(unit, 'p_now')} + INTERVAL {AHEAD[unit]} {unit.upper()} DO",
                    *(
                        f"    {line}"
                        for line in _my_execute(
                            f"CONCAT('ALTER TABLE {n.table} REORGANIZE PARTITION p_future INTO (PARTITION p', "
                            f"REPLACE(CAST(lo AS CHAR), '-', ''), ' VALUES LESS THAN (', TO_DAYS(lo + {step}), '), "
                            "PARTITION p_future VALUES LESS THAN MAXVALUE)')"
                        )
                    ),
                    f"    SET lo = lo + {step};",
                    "END WHILE;",
                ],
            )
        )
    if rule.archive_after_days and n.archive:
        declare = ["DECLARE cutoff DATETIME(6);"]
        body = [f"SET cutoff = COALESCE(p_now, UTC_TIMESTAMP(6)) - INTERVAL {rule.archive_after_days} DAY;"]
        if partitioned:
            declare.append("DECLARE part VARCHAR(64);")
            body += [
                _my_oldest_expired(spec),
                "WHILE part IS NOT NULL DO",
                *(
                    f"    {line}"
                    for line in _my_execute(
                        f"CONCAT('INSERT INTO {n.archive} ({n.columns}) SELECT {n.columns} FROM {n.table} PARTITION (', part, ')')"
                    )
                ),
                *(f"    {line}" for line in _my_execute(f"CONCAT('ALTER TABLE {n.table} DROP PARTITION ', part)")),
                f"    {_my_oldest_expired(spec)}",
                "END WHILE;",
            ]
        else:
            declare.append("DECLARE moved INT DEFAULT 1;")
            join = " AND ".join(f"a.{k} = {n.table}.{k}" for k in n.key)
            body += [
                "WHILE moved > 0 DO",
                f"    INSERT INTO {n.archive} ({n.columns}) SELECT {n.columns} FROM {n.table} "
                f"WHERE {n.column} < cutoff ORDER BY {n.column} LIMIT {BATCH_ROWS};",
                "    SET moved = ROW_COUNT();",
                # Deletes exactly the rows just copied: the archive's key says which.
                f"    DELETE {n.table} FROM {n.table} JOIN {n.archive} AS a ON {join} WHERE {n.table}.{n.column} < cutoff;",
                "END WHILE;",
            ]
        statements.append(_my_procedure(n.archive_job, declare, body))
    if rule.retention_days:
        declare = ["DECLARE cutoff DATETIME(6);"]
        body = [f"SET cutoff = COALESCE(p_now, UTC_TIMESTAMP(6)) - INTERVAL {rule.retention_days} DAY;"]
        if partitioned:
            declare.append("DECLARE part VARCHAR(64);")
            body += [
                _my_oldest_expired(spec),
                "WHILE part IS NOT NULL DO",
                *(f"    {line}" for line in _my_execute(f"CONCAT('ALTER TABLE {n.table} DROP PARTITION ', part)")),
                f"    {_my_oldest_expired(spec)}",
                "END WHILE;",
            ]
        else:
            body += _my_batched_delete(n.table, n.column)
        if n.archive:
            body += _my_batched_delete(n.archive, n.column)
        statements.append(_my_procedure(n.purge, declare, body))
    return statements


# --- archive tables (SQLAlchemy) and the two files ---------------------------------------------


def _archive_table(spec: TableSpec, rule: Retention, source: sa.Table, engine: str) -> list[str]:
    """CREATE TABLE of the archive table: the live table's columns and key, no other rule."""
    if rule.archive_table is None:
        return []
    metadata = sa.MetaData()
    options: dict[str, Any] = dict(DIALECTS[engine].table_options())
    columns: list[sa.Column[Any]] = [sa.Column(c.name, c.type, nullable=c.nullable) for c in source.columns]
    archive = sa.Table(
        rule.archive_table,
        metadata,
        *columns,
        sa.PrimaryKeyConstraint(*primary_key_for(spec, engine), name=fit(f"pk_{rule.archive_table}")),
        comment=f"Rows of {spec.name} archived after {rule.archive_after_days} days (by {rule.column}).",
        **options,
    )
    sa.Index(fit(f"ix_{rule.archive_table}_{rule.column}"), archive.c[rule.column])
    return [f"{statement};" for statement in ddl_statements(metadata, engine)]


def _install(spec: TableSpec, rule: Retention, source: sa.Table, engine: str) -> list[str]:
    statements = _archive_table(spec, rule, source, engine)
    if engine == "postgresql":
        statements += _postgresql(spec, rule)
    elif engine == "mysql":
        statements += _mysql(spec, rule)
    return statements


def install_statements(spec: TableSpec, source: sa.Table, engine: str) -> list[str]:
    """What `schema.sql` installs for one aged table after it (no `;`): a migration that adds the
    table runs them too, or the partitioned table would have no partition to insert into."""
    rule = retention_of(spec)
    return [] if rule is None else [s.removesuffix(";") for s in _install(spec, rule, source, engine)]


def uninstall_statements(spec: TableSpec, engine: str) -> list[str]:
    """What a migration that drops an aged table drops first: its jobs and archive table (its
    partitions go with it)."""
    rule = retention_of(spec)
    if rule is None or engine == "sqlite":
        return (
            []
            if rule is None or rule.archive_table is None
            else [f"DROP TABLE IF EXISTS {_Names(spec, rule, engine).archive}"]
        )
    n = _Names(spec, rule, engine)
    by_job = {"partitions_ahead": n.ahead, "archive_rows": n.archive_job, "purge": n.purge}
    drop = "DROP FUNCTION IF EXISTS {}(timestamptz)" if engine == "postgresql" else "DROP PROCEDURE IF EXISTS {}"
    statements = [drop.format(by_job[job]) for job in jobs(rule, engine)]
    if n.archive:
        statements.append(f"DROP TABLE IF EXISTS {n.archive}")
    return statements


def retention_schema_sql(tables: Sequence[TableSpec], live: sa.MetaData, engine: str) -> str:
    """What `schema.sql` installs for retention and archiving after the tables ('' if nothing ages)."""
    aged = [(spec, rule) for spec in tables if (rule := retention_of(spec)) is not None]
    if not aged:
        return ""
    parts = [
        "-- Retention and archiving (growth.retention_days, growth.archive_after_days): archive tables,\n"
        "-- partitions and the jobs retention.sql runs. Partitions, functions and procedures are not\n"
        "-- expressible in SQLAlchemy: written by hand (polyplan/stores/relational/retention_sql.py)."
    ]
    for spec, rule in aged:
        parts += _install(spec, rule, live.tables[spec.name], engine)
    return "\n\n".join(parts) + "\n"


def _sqlite_jobs(spec: TableSpec, rule: Retention) -> list[str]:
    n = _Names(spec, rule, "sqlite")
    blocks = []
    if rule.archive_after_days and n.archive:
        key = ", ".join(n.key)
        blocks += [
            f"-- name: {spec.name}_archive_copy  (:cutoff = now - {rule.archive_after_days} days; "
            f"then {spec.name}_archive_delete, and the two again until the copy inserts no row)\n"
            f"INSERT INTO {n.archive} ({n.columns}) SELECT {n.columns} FROM {n.table} "
            f"WHERE {n.column} < :cutoff ORDER BY rowid LIMIT {BATCH_ROWS};",
            f"-- name: {spec.name}_archive_delete  (:cutoff = now - {rule.archive_after_days} days: "
            "the rows just copied)\n"
            f"DELETE FROM {n.table} WHERE {n.column} < :cutoff AND ({key}) IN (SELECT {key} FROM {n.archive});",
        ]
    if rule.retention_days:
        targets = [n.table, *([n.archive] if n.archive else [])]
        blocks += [
            f"-- name: {spec.name}_purge{'' if t == n.table else '_archive'}  (:cutoff = now - {rule.retention_days} days)\n"
            f"DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE {n.column} < :cutoff LIMIT {BATCH_ROWS});"
            for t in targets
        ]
    return blocks


def retention_jobs_sql(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> str | None:
    """`retention.sql`: the job to run daily, per aged table, in order; None if nothing ages."""
    aged = [(spec, rule) for spec in tables if (rule := retention_of(spec)) is not None]
    if not aged:
        return None
    if engine == "sqlite":
        intro = (
            "-- SQLite has no partitions and no procedures: run each purge repeatedly until it deletes no row,\n"
            "-- and each archive copy with the delete after it until the copy inserts no row.\n"
            "-- :cutoff is a UTC time written as the column stores it ('YYYY-MM-DD HH:MM:SS.ffffff')."
        )
    elif engine == "postgresql":
        intro = "-- Run daily (pg_cron or any scheduler). Each function takes p_now (default now()); UTC throughout."
    else:
        intro = "-- Run daily (the event scheduler or cron). Each procedure takes p_now (NULL: UTC now)."
    blocks = [header(model, "Retention and archive jobs", engine) + intro]
    for spec, rule in aged:
        partitioned = engine in rule.partitioned
        how = (
            f"range partitions by {rule.unit} on {rule.column}"
            if partitioned
            else f"batched DELETE of {BATCH_ROWS:,} rows on {rule.column} ({'; '.join(rule.obstacles.get(engine, ()))})"
        )
        blocks.append(f"-- {rule.entity} ({spec.name}): {how}")
        if engine == "sqlite":
            blocks += _sqlite_jobs(spec, rule)
            continue
        n = _Names(spec, rule, engine)
        by_job = {"partitions_ahead": n.ahead, "archive_rows": n.archive_job, "purge": n.purge}
        call = "SELECT {}();" if engine == "postgresql" else "CALL {}(NULL);"
        blocks += [call.format(by_job[job]) for job in jobs(rule, engine)]
    return "\n\n".join(blocks) + "\n"

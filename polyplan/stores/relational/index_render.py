"""Per-engine rendering of the index design onto SQLAlchemy, and the queries it serves.

`attach_index` puts one IndexSpec on a `sqlalchemy.Table` for one engine, using dialect options
where SQLAlchemy has them and `after_create` DDL where it has none (SQLite FTS5 tables and their
sync triggers). When an engine lacks a feature the stated fallback is applied and a PP402
warning says so; nothing is dropped silently:

- MariaDB has no partial index: the constant columns lead the key instead (still selective).
- MariaDB and SQLite have no INCLUDE: included columns become trailing key columns (still
  covering); on MariaDB they are dropped from the end if the key would pass 3072 bytes.
- MariaDB and SQLite full-text cannot be partial: the constant is checked after the match.
- BRIN exists only on PostgreSQL: elsewhere a B-tree on the same column.
- GIN exists only on PostgreSQL: elsewhere no index, and the pattern scans.

The queries themselves are the relational renderer's (`render.build_query`, written to
`queries.sql`; the EXPLAIN tests and the benchmark run exactly those). Three predicates the
indexes depend on are defined here for it: `constant_predicate` (constants inline, never bound:
a partial index is only usable when the planner sees the constant, and SQLite wants the index's
WHERE text verbatim), `prefix_predicate` and `fulltext_predicate`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.mysql.base import MySQLDialect
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateColumn, CreateIndex

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.stores.relational.index_names import shorten, slug
from polyplan.stores.relational.key_limits import MYSQL_MAX_KEY_BYTES, UTF8MB4_BYTES, mysql_key_bytes
from polyplan.stores.relational.spec import IndexColumn, IndexKind, IndexSpec

ENGINES = ("postgresql", "mysql", "sqlite")
TEXT_SEARCH_CONFIG = "simple"  # language-neutral; stemming is the search engine's job
MYSQL_TEXT_PREFIX = 255  # characters of a TEXT column a MariaDB B-tree key may hold


@cache
def dialect_of(engine: str) -> Dialect:
    """A SQLAlchemy dialect for `engine` that renders `:name` parameters (one per process: a
    dialect caches its type adaptations, which a fresh instance per literal recomputed)."""
    # The drivers' dialects add bind casts (`:id::UUID`); the base dialects render plain SQL.
    dialects: dict[str, Any] = {"postgresql": PGDialect, "mysql": MySQLDialect, "sqlite": SQLiteDialect}
    if engine not in dialects:
        raise ValueError(f"unknown relational engine {engine!r} (expected one of {', '.join(ENGINES)})")
    dialect: Dialect = dialects[engine](paramstyle="named")
    return dialect


def _quote(engine: str, name: str) -> str:
    return str(dialect_of(engine).identifier_preparer.quote(name))


def tsvector_column(spec: IndexSpec) -> str:
    """The generated tsvector column a PostgreSQL full-text index is built on."""
    return shorten("_".join(slug(c.name) for c in spec.columns) + "_tsv")


def fts_table(spec: IndexSpec) -> str:
    """The FTS5 virtual table that indexes a SQLite full-text index's columns."""
    return spec.name


def _warn(spec: IndexSpec, engine: str, message: str) -> Diagnostic:
    return Diagnostic(
        "PP402", f"{spec.name} on {engine}: {message}", f"indexes.{spec.table}.{spec.name}", Severity.WARNING
    )


def _where(table: sa.Table, where: Sequence[tuple[str, Any]], engine: str) -> sa.ColumnElement[bool] | None:
    if not where:
        return None
    return sa.and_(*(constant_predicate(table.c[column], value, engine) for column, value in where))


def _typed(column_type: Any, value: Any) -> Any:
    """A model constant (YAML gives dates, timestamps and uuids as ISO text) as the Python value
    the column type's literal renderer expects: it refuses text for a Uuid, Date or DateTime."""
    if not isinstance(value, str):
        return value
    if isinstance(column_type, sa.Uuid):
        return uuid.UUID(value) if column_type.as_uuid else value
    if isinstance(column_type, sa.DateTime):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # A naive column compares with the UTC wall time, which is how the seed stores it.
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo and not column_type.timezone else moment
    if isinstance(column_type, sa.Date):
        return date.fromisoformat(value)
    return value


def _inline(column: sa.ColumnElement[Any], value: Any, engine: str) -> sa.ColumnElement[Any]:
    # The same constant of the same column is rendered for its partial index, its query and the
    # index proofs: its text is kept on the column (one engine's metadata) and compiled once.
    cache: dict[Any, str] | None = column.info.setdefault(_LITERALS, {}) if isinstance(column, sa.Column) else None
    key = (engine, id(column.type), type(value), value)
    try:
        text = cache.get(key) if cache is not None else None
    except TypeError:  # an unhashable constant: compiled every time
        cache, text = None, None
    if text is None:
        literal = sa.literal(_typed(column.type, value), type_=column.type)
        text = str(literal.compile(dialect=dialect_of(engine), compile_kwargs={"literal_binds": True}))
        if cache is not None:
            cache[key] = text
    return sa.literal_column(text)


_LITERALS = "polyplan_literals"  # Column.info key of `_inline`'s rendered constants


def constant_predicate(column: sa.ColumnElement[Any], value: Any, engine: str) -> sa.ColumnElement[bool]:
    """`column = value` (or IS NULL, or IN (...)) with the constant rendered inline for `engine`.

    The index WHERE and the query's predicate come from this one function, so they match
    textually (SQLite's partial-index rule) and the planner sees the constant (PostgreSQL's).
    """
    if value is None:
        return column.is_(None)
    if isinstance(value, (tuple, list)):
        return column.in_([_inline(column, v, engine) for v in value])
    return column == _inline(column, value, engine)


def _key(table: sa.Table, column: IndexColumn, engine: str) -> sa.ColumnElement[Any]:
    expression: sa.ColumnElement[Any] = table.c[column.name]
    if column.prefix and engine == "sqlite":
        # SQLite's LIKE is case-blind, so only a NOCASE index can answer LIKE 'abc%'.
        expression = sa.collate(expression, "NOCASE")
    return expression.desc() if column.descending else expression


def _is_text(table: sa.Table, name: str) -> bool:
    kind = table.c[name].type
    return isinstance(kind, sa.Text) or (isinstance(kind, sa.String) and kind.length is None)


def _mysql_bytes(table: sa.Table, name: str) -> int:
    kind = table.c[name].type
    if isinstance(kind, sa.String):
        return 4 * (kind.length or MYSQL_TEXT_PREFIX) + 2
    return 16


def _fit_key(table: sa.Table, names: Sequence[str], lengths: dict[str, int]) -> dict[str, int]:
    """Cut the longest VARCHAR columns of a non-unique key to a prefix until it fits InnoDB's key
    (fuzz9pg's model 88: an index on a VARCHAR(1000) is 4,000 bytes); `lengths` (TEXT prefixes)
    is updated in place. Returns the columns cut, with their prefix length in characters."""

    def size(name: str) -> int:
        if name in lengths:
            return UTF8MB4_BYTES * lengths[name]
        return mysql_key_bytes(table.c[name]) or UTF8MB4_BYTES * MYSQL_TEXT_PREFIX

    cut: dict[str, int] = {}
    total = sum(size(n) for n in dict.fromkeys(names))
    while total > MYSQL_MAX_KEY_BYTES:
        candidates = [
            n for n in dict.fromkeys(names) if isinstance(table.c[n].type, sa.String) and size(n) > UTF8MB4_BYTES
        ]
        if not candidates:
            break
        longest = max(candidates, key=lambda n: (size(n), n))
        others = total - size(longest)
        characters = max(1, min(size(longest) // UTF8MB4_BYTES - 1, (MYSQL_MAX_KEY_BYTES - others) // UTF8MB4_BYTES))
        lengths[longest] = cut[longest] = characters
        total = others + size(longest)
    return cut


def attach_index(table: sa.Table, spec: IndexSpec, engine: str, metadata: sa.MetaData) -> Diagnostic | None:
    """Add `spec` to `table` for `engine`; return a PP402 warning describing any substitution."""
    del metadata  # one MetaData per engine: the table already belongs to it
    if engine == "postgresql":
        return _postgresql(table, spec)
    if engine == "mysql":
        return _mysql(table, spec)
    if engine == "sqlite":
        return _sqlite(table, spec)
    raise ValueError(f"unknown relational engine {engine!r}")


def _postgresql(table: sa.Table, spec: IndexSpec) -> Diagnostic | None:
    where = _where(table, spec.where, "postgresql")
    if spec.kind is IndexKind.FULLTEXT:
        column = tsvector_column(spec)
        if column not in table.c:
            source = " || ' ' || ".join(f"coalesce({_quote('postgresql', c.name)}, '')" for c in spec.columns)
            table.append_column(
                sa.Column(
                    column,
                    postgresql.TSVECTOR(),
                    sa.Computed(f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, {source})", persisted=True),
                    comment=f"full-text vector of {', '.join(c.name for c in spec.columns)} (index {spec.name})",
                )
            )
        sa.Index(spec.name, table.c[column], postgresql_using="gin", postgresql_where=where)
        return None
    ops: dict[str, str] = {}
    for c in spec.columns:
        if c.prefix:
            ops[c.name] = "text_pattern_ops" if _is_text(table, c.name) else "varchar_pattern_ops"
        elif spec.kind is IndexKind.GIN:
            ops[c.name] = "jsonb_path_ops"
    using = {IndexKind.GIN: "gin", IndexKind.BRIN: "brin"}.get(spec.kind)
    options: dict[str, Any] = {}
    if using:
        options["postgresql_using"] = using
    if ops:
        options["postgresql_ops"] = ops
    if spec.include:
        options["postgresql_include"] = list(spec.include)
    if where is not None:
        options["postgresql_where"] = where
    sa.Index(
        spec.name,
        *(_key(table, c, "postgresql") for c in spec.columns),
        unique=spec.kind is IndexKind.UNIQUE,
        **options,
    )
    return None


def _mysql(table: sa.Table, spec: IndexSpec) -> Diagnostic | None:
    notes: list[str] = []
    if spec.kind is IndexKind.GIN:
        return _warn(spec, "mysql", "MariaDB has no GIN index; no index is created and the pattern scans")
    if spec.kind is IndexKind.FULLTEXT:
        sa.Index(spec.name, *(table.c[c.name] for c in spec.columns), mysql_prefix="FULLTEXT")
        if spec.where:
            return _warn(
                spec,
                "mysql",
                "a FULLTEXT index cannot be partial; it covers every row and the constant is checked after the match",
            )
        return None
    names = [c.name for c in spec.columns]
    columns = list(spec.columns)
    if any(c.prefix for c in spec.columns) and not spec.where and not spec.include:
        # Any MariaDB B-tree answers LIKE 'abc%' (no operator classes, no case-blind LIKE):
        # a key or unique rule that leads with the same columns already is this index.
        for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
            if not isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint):
                continue
            if [c.name for c in constraint.columns][: len(names)] == names:
                return _warn(
                    spec,
                    "mysql",
                    f"not created: the index of {constraint.name} already leads with {', '.join(names)}, "
                    "and any MariaDB B-tree answers a prefix LIKE",
                )
    if spec.kind is IndexKind.BRIN:
        notes.append("MariaDB has no BRIN; a B-tree on the same column serves the range")
    if spec.where:
        # The constants are equalities too: they go right after the equality columns, so the
        # key still leads with the pattern's (and any foreign key's) parameter columns.
        constants = [IndexColumn(column) for column, _ in spec.where if column not in names]
        columns = columns[: spec.equality] + constants + columns[spec.equality :]
        notes.append(
            "MariaDB has no partial indexes; the index covers every row, with "
            + ", ".join(c.name for c in constants or [IndexColumn(spec.where[0][0])])
            + (" leading the key" if spec.equality == 0 else f" after the {spec.equality} equality column(s)")
        )
    if spec.include:
        extra = [IndexColumn(c) for c in spec.include if c not in {k.name for k in columns}]
        budget = MYSQL_MAX_KEY_BYTES - sum(_mysql_bytes(table, c.name) for c in columns)
        kept: list[IndexColumn] = []
        for column in extra:
            size = _mysql_bytes(table, column.name)
            if size > budget or _is_text(table, column.name):
                break
            kept.append(column)
            budget -= size
        columns += kept
        dropped = [c.name for c in extra[len(kept) :]]
        notes.append(
            "MariaDB has no INCLUDE; the included columns are trailing key columns"
            + (f" (dropped to fit the 3072-byte key: {', '.join(dropped)}; no longer covering)" if dropped else "")
        )
    lengths = {c.name: MYSQL_TEXT_PREFIX for c in columns if _is_text(table, c.name)}
    if lengths:
        notes.append(
            f"TEXT columns are indexed by their first {MYSQL_TEXT_PREFIX} characters: {', '.join(sorted(lengths))}"
        )
    if spec.kind is not IndexKind.UNIQUE:
        # A unique key cannot be cut (key_limits refuses it); a non-unique one keys a prefix.
        shortened = _fit_key(table, [c.name for c in columns], lengths)
        if shortened:
            notes.append(
                f"the key is past InnoDB's {MYSQL_MAX_KEY_BYTES:,} bytes: "
                + ", ".join(f"{name} is indexed by its first {size} characters" for name, size in shortened.items())
                + " (rows are read to check the rest, and the index gives no order past the prefix)"
            )
    if lengths and any(c.descending for c in columns):
        # SQLAlchemy's MySQL compiler reads the name of every key expression when prefix lengths
        # are given, which a DESC key has not (fuzz10pg's model 610): the keys are written out.
        keys: list[sa.ColumnElement[Any]] = [
            sa.literal_column(
                _quote("mysql", c.name)
                + (f"({lengths[c.name]})" if c.name in lengths else "")
                + (" DESC" if c.descending else "")
            )
            for c in columns
        ]
        sa.Index(spec.name, *keys, unique=spec.kind is IndexKind.UNIQUE, _table=table)
    else:
        options: dict[str, Any] = {"mysql_length": lengths} if lengths else {}
        sa.Index(
            spec.name, *(_key(table, c, "mysql") for c in columns), unique=spec.kind is IndexKind.UNIQUE, **options
        )
    return _warn(spec, "mysql", "; ".join(notes)) if notes else None


def _sqlite(table: sa.Table, spec: IndexSpec) -> Diagnostic | None:
    notes: list[str] = []
    if spec.kind is IndexKind.GIN:
        return _warn(spec, "sqlite", "SQLite has no GIN index; no index is created and the pattern scans")
    if spec.kind is IndexKind.FULLTEXT:
        for statement in fts5_ddl(table.name, spec):
            # DDL text goes through `%` formatting (%(table)s…): `%%` is its escape for a `%`.
            ddl = sa.DDL(statement.replace("%", "%%")).execute_if(dialect="sqlite")  # type: ignore[no-untyped-call]
            sa.event.listen(table, "after_create", ddl)
        if spec.where:
            return _warn(
                spec,
                "sqlite",
                "an FTS5 table cannot be partial; it indexes every row and the constant is checked after the match",
            )
        return None
    columns = list(spec.columns)
    if spec.kind is IndexKind.BRIN:
        notes.append("SQLite has no BRIN; a B-tree on the same column serves the range")
    if spec.include:
        columns += [IndexColumn(c) for c in spec.include if c not in {k.name for k in columns}]
        notes.append("SQLite has no INCLUDE; the included columns are trailing key columns (still covering)")
    where = _where(table, spec.where, "sqlite")
    options: dict[str, Any] = {"sqlite_where": where} if where is not None else {}
    sa.Index(spec.name, *(_key(table, c, "sqlite") for c in columns), unique=spec.kind is IndexKind.UNIQUE, **options)
    return _warn(spec, "sqlite", "; ".join(notes)) if notes else None


def prefix_predicate(column: sa.ColumnElement[Any], param: str) -> sa.ColumnElement[bool]:
    """`column LIKE :param`, the parameter holding the prefix followed by `%`.

    The one form every engine answers from an index: SQLite only optimises LIKE whose right side
    is a literal or a bare parameter (`:p || '%'` is neither), PostgreSQL needs the pattern's
    value at planning time (a custom plan sees it) and MariaDB needs a constant.
    """
    return column.like(sa.bindparam(param, type_=sa.String()))


def fts5_ddl(table: str, spec: IndexSpec) -> list[str]:
    """An external-content FTS5 table over `table` plus the triggers that keep it in step.

    Hand-written: SQLAlchemy has no construct for virtual tables or triggers.
    """

    def q(name: str) -> str:
        return _quote("sqlite", name)

    fts = fts_table(spec)
    names = [c.name for c in spec.columns]
    cols = ", ".join(q(n) for n in names)
    new = ", ".join(f"new.{q(n)}" for n in names)
    old = ", ".join(f"old.{q(n)}" for n in names)
    content = str(
        sa.literal(table, sa.String()).compile(dialect=dialect_of("sqlite"), compile_kwargs={"literal_binds": True})
    )
    delete = f"INSERT INTO {q(fts)}({q(fts)}, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    insert = f"INSERT INTO {q(fts)}(rowid, {cols}) VALUES (new.rowid, {new});"
    return [
        f"CREATE VIRTUAL TABLE {q(fts)} USING fts5({cols}, content={content}, content_rowid='rowid')",
        f"CREATE TRIGGER {q(fts + '_ai')} AFTER INSERT ON {q(table)} BEGIN {insert} END",
        f"CREATE TRIGGER {q(fts + '_ad')} AFTER DELETE ON {q(table)} BEGIN {delete} END",
        f"CREATE TRIGGER {q(fts + '_au')} AFTER UPDATE ON {q(table)} BEGIN {delete} {insert} END",
    ]


def concurrent_index_sql(metadata: sa.MetaData, specs: Sequence[IndexSpec]) -> str:
    """PostgreSQL migration text: every designed index as CREATE INDEX CONCURRENTLY IF NOT EXISTS.

    Run it outside a transaction block on a live database; each statement builds its index
    without blocking writes. Generated tsvector columns come first (that ALTER rewrites the table).
    """
    dialect = dialect_of("postgresql")
    lines = [
        "-- Indexes designed from the workload, in migration form for a live PostgreSQL database.",
        "-- Run outside a transaction (psql -1 must not be used): CONCURRENTLY cannot run in one.",
        "",
    ]
    wanted = {s.name: s for s in specs}
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            spec = wanted.get(str(index.name))
            if spec is None:
                continue
            if spec.kind is IndexKind.FULLTEXT:
                column = table.c[tsvector_column(spec)]
                ddl = str(CreateColumn(column).compile(dialect=dialect)).strip()
                lines.append(f"ALTER TABLE {_quote('postgresql', table.name)} ADD COLUMN IF NOT EXISTS {ddl};")
            if table.dialect_options["postgresql"].get("partition_by"):
                lines += _partitioned_index(table.name, index, dialect)
                continue
            options = index.dialect_options["postgresql"]
            options["concurrently"] = True
            try:
                lines.append(str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect)).strip() + ";")
            finally:
                options["concurrently"] = False
    return "\n".join(lines) + "\n"


def _partitioned_index(table: str, index: sa.Index, dialect: Any) -> list[str]:
    """A partitioned table's index cannot be built CONCURRENTLY: it is declared ON ONLY the parent
    (instant; invalid until each partition's index is attached), each partition's is built
    concurrently and attached. SQLAlchemy has no ON ONLY: added to its CREATE INDEX by hand."""
    text = str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect)).strip()
    only = re.sub(r" ON ", " ON ONLY ", text, count=1)
    name = _quote("postgresql", str(index.name))
    return [
        f"-- {table} is range-partitioned (retention): for each partition P, run",
        f"--   CREATE INDEX CONCURRENTLY IF NOT EXISTS <P_index> ON P (same columns); ALTER INDEX {name} ATTACH PARTITION <P_index>;",
        f"{only};",
    ]


# --- predicates the queries need so that the indexes serve them ------------------------------


def _fulltext_index(indexes: Sequence[IndexSpec], columns: Sequence[str]) -> IndexSpec | None:
    return next(
        (i for i in indexes if i.kind is IndexKind.FULLTEXT and [c.name for c in i.columns] == list(columns)),
        None,
    )


def fulltext_predicate(
    table: sa.Table, columns: Sequence[str], param: str, engine: str, indexes: Sequence[IndexSpec]
) -> sa.ColumnElement[bool]:
    """The full-text match of `:param` against a pattern's full-text `columns` on `engine`.

    With a designed full-text index over exactly these columns: PostgreSQL matches its generated
    tsvector column, MariaDB uses MATCH … AGAINST, SQLite looks the rowids up in the FTS5 table.
    A pattern with several full-text filters matches each term against all of the columns.
    Without such an index (the search projection answers the pattern) it is a case-blind
    substring scan.
    """
    search = sa.bindparam(param, type_=sa.String())
    spec = _fulltext_index(indexes, columns)
    if spec is None:
        wrapped: sa.ColumnElement[Any] = sa.literal_column("'%'").op("||")(search).op("||")(sa.literal_column("'%'"))
        if engine == "mysql":
            wrapped = sa.func.concat(sa.literal_column("'%'"), search, sa.literal_column("'%'"))
        # Case-blind, as a full-text match is (PostgreSQL's ILIKE, lower() on both sides
        # elsewhere): a plain LIKE on PostgreSQL found no 'YTKFLB' for the term 'ytkflb'
        # (fuzz10pg's 586); SQLite's LIKE is case-blind already.
        return sa.or_(*(table.c[c].ilike(wrapped) for c in columns))
    if engine == "postgresql":
        query = sa.func.plainto_tsquery(sa.literal_column(f"'{TEXT_SEARCH_CONFIG}'::regconfig"), search)
        return table.c[tsvector_column(spec)].bool_op("@@")(query)
    if engine == "mysql":
        matched = ", ".join(_quote("mysql", c) for c in columns)
        clause = sa.text(f"MATCH ({matched}) AGAINST (:{param} IN NATURAL LANGUAGE MODE)").bindparams(search)
        return sa.and_(clause)
    fts = sa.table(fts_table(spec), sa.column("rowid"))
    matches = sa.select(fts.c.rowid).where(sa.literal_column(_quote("sqlite", fts_table(spec))).op("MATCH")(search))
    return sa.literal_column(f"{_quote('sqlite', table.name)}.rowid").in_(matches)


def foreign_key_select(table: sa.Table, columns: Sequence[str]) -> sa.Select[Any]:
    """The lookup of children by a foreign key (loads and cascading deletes run it)."""
    return sa.select(*table.c).where(*(table.c[c] == sa.bindparam(c) for c in columns))

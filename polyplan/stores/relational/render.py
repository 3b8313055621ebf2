"""TableSpecs → SQLAlchemy metadata per engine → `schema.sql` and `queries.sql` (pure text).

Dialect differences are modelled the way sqlglot does it: one small class per engine that
overrides only what differs from the base (type mapping, regular-expression checks, defaults,
table options). The DDL text is SQLAlchemy's own: `metadata.create_all` against a mock engine,
so quoting, COMMENT ON statements and per-dialect rules are exactly what SQLAlchemy would run.
"""

from __future__ import annotations

import json
import operator
import re
import uuid
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.dialects import RELATIONAL_DIALECTS, relational_dialects
from polyplan.model.ranges import COMPARISONS, ONE_SIDED
from polyplan.model.schema import (
    COLLECTION_TYPES,
    AccessPattern,
    Attribute,
    Family,
    Filter,
    FilterOp,
    OnDelete,
    RequirementsModel,
    TypeName,
)
from polyplan.plan.geo import is_geo
from polyplan.plan.ir import Plan
from polyplan.stores.relational.ddl_shapes import (
    SHAPE_INFO,
    DdlShapes,
    SpecKeys,
    TableShape,
    fill_in,
    spec_keys_of,
    table_shape,
)
from polyplan.stores.relational.design import NON_SCALAR, UniqueNames, constraint_name, generated_key
from polyplan.stores.relational.geo import attach_geo, geo_query
from polyplan.stores.relational.heap_fill import table_fillfactor, unlogged
from polyplan.stores.relational.index_render import (
    attach_index,
    constant_predicate,
    fulltext_predicate,
    prefix_predicate,
)
from polyplan.stores.relational.membership import (
    Inside,
    attach_membership,
    contains_predicate,
    inside_filter_of,
    inside_key,
    sub_field_expression,
    sub_field_table,
)
from polyplan.stores.relational.retention import primary_key_for, retention_of
from polyplan.stores.relational.spec import ColumnSpec, IndexKind, Query, QueryParam, TableKind, TableSpec
from polyplan.stores.relational.sqltext import sub_code, trim_lines

ENGINES = RELATIONAL_DIALECTS  # every dialect polyplan can write; a model emits relational_dialects(model)

# Names SQLAlchemy would invent for anything not named explicitly (every constraint here is).
# No "ck" entry: SQLAlchemy applies that one even to explicitly named checks.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

ON_DELETE = {
    OnDelete.CASCADE: "CASCADE",
    OnDelete.RESTRICT: "RESTRICT",
    OnDelete.SET_NULL: "SET NULL",
    OnDelete.NO_ACTION: "NO ACTION",
}
# ON DELETE rules that change the referencing rows: MySQL calls them referential actions.
REFERENTIAL_ACTIONS = frozenset({OnDelete.CASCADE, OnDelete.SET_NULL})
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "ne": lambda a, b: a != b,
}

# A one-sided bound's parameter kind → the SQLAlchemy operator it compiles to.
_BOUND_OPERATORS = {"from": operator.ge, "above": operator.gt, "to": operator.lt, "through": operator.le}


# --- dialects ----------------------------------------------------------------------------


@cache
def _named_dialect(url: str) -> SADialect:
    dialect = sa.create_mock_engine(url, lambda *a, **k: None).dialect
    named: SADialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]  # every concrete dialect takes it
    named.bind_typing = BindTyping.NONE
    return named


class Dialect:
    """What every engine shares; subclasses override only their differences."""

    name = "base"
    url = ""
    regex = True  # a pattern becomes a CHECK
    length_checks = False  # VARCHAR(n) is not enforced, so add CHECK (length(col) <= n)
    timestamptz_native = True
    uuid_native = True

    def sa_dialect(self) -> SADialect:
        """A SQLAlchemy dialect that renders named parameters (`:name`) without casts.

        One per engine for the process: a dialect keeps its type-adaptation caches, and a fresh
        one per statement spent more time adapting column types than compiling the statement.
        """
        return _named_dialect(self.url)

    def string(self, attribute: Attribute) -> TypeEngine[Any]:
        return sa.String(attribute.max_length)

    def text(self) -> TypeEngine[Any]:
        return sa.Text()

    def timestamp(self, timezone: bool) -> TypeEngine[Any]:
        return sa.DateTime(timezone=timezone)

    def json(self) -> TypeEngine[Any]:
        # none_as_null: Python None is SQL NULL (not the JSON text 'null'), so NOT NULL holds.
        return sa.JSON(none_as_null=True)

    def binary(self) -> TypeEngine[Any]:
        return sa.LargeBinary()

    def column_type(self, attribute: Attribute) -> TypeEngine[Any]:
        """The engine type of a portable type."""
        kind = attribute.type
        if kind is TypeName.STRING:
            return self.string(attribute)
        if kind is TypeName.TEXT:
            return self.text()
        if kind is TypeName.INTEGER:
            return {16: sa.SmallInteger(), 32: sa.Integer(), 64: sa.BigInteger()}[attribute.bits]
        if kind is TypeName.DECIMAL:
            return sa.Numeric(attribute.precision, attribute.scale or 0)
        if kind is TypeName.FLOAT:
            return sa.Double()
        if kind is TypeName.BOOLEAN:
            return sa.Boolean(create_constraint=False)
        if kind is TypeName.DATE:
            return sa.Date()
        if kind is TypeName.TIMESTAMP:
            return self.timestamp(False)
        if kind is TypeName.TIMESTAMPTZ:
            return self.timestamp(True)
        if kind is TypeName.UUID:
            # native_uuid=False: CHAR(32) hex everywhere but PostgreSQL, also when SQLAlchemy
            # detects a MariaDB server (whose UUID type the MySQL-compatible DDL does not use).
            return sa.Uuid() if self.uuid_native else sa.Uuid(native_uuid=False)
        if kind is TypeName.ENUM:
            return sa.String(max(len(v) for v in attribute.values or ["x"]))
        if kind is TypeName.BINARY:
            return self.binary()
        return self.json()  # json, and objects or lists stored as JSON

    def now(self, kind: TypeName) -> sa.TextClause:
        return sa.text("CURRENT_DATE" if kind is TypeName.DATE else "CURRENT_TIMESTAMP")

    def server_default(self, attribute: Attribute) -> Any:
        """The DEFAULT clause of a column, or None (a derived count or sum starts at 0: a parent
        is inserted before its children, and the triggers add to it)."""
        value = attribute.default
        if value is None and attribute.derived is not None and attribute.derived.function in ("count", "sum"):
            value = 0
        if value is None:
            return None
        kind = attribute.type
        if value == "now" and kind in (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
            return self.now(kind)
        if isinstance(value, bool):
            return sa.true() if value else sa.false()
        if isinstance(value, int | float):
            return sa.text(repr(value))
        if kind in NON_SCALAR:
            return json.dumps(value, sort_keys=True)
        if kind is TypeName.UUID and not self.uuid_native:
            # Stored as CHAR(32) hex (see column_type): the dashed form is 36 characters, which
            # MariaDB refuses as a default ("Invalid default value"), and SQLite would keep a
            # value no bound uuid ever equals.
            return uuid.UUID(str(value)).hex
        return str(value)

    def regex_match(self, column: sa.Column[Any], pattern: str) -> ColumnElement[bool]:
        return column.regexp_match(pattern)

    def table_options(self) -> dict[str, str]:
        return {}

    def notes(self) -> list[str]:
        """Header lines naming what this engine substitutes."""
        return []


class PostgreSQL(Dialect):
    name = "postgresql"
    url = "postgresql+psycopg://"

    def json(self) -> TypeEngine[Any]:
        return postgresql.JSONB(none_as_null=True)


class MySQL(Dialect):
    """MySQL 8 / MariaDB 10.11: InnoDB, utf8mb4 with binary collation (PostgreSQL's semantics)."""

    name = "mysql"
    url = "mysql+pymysql://"
    timestamptz_native = False
    uuid_native = False

    def string(self, attribute: Attribute) -> TypeEngine[Any]:
        # Past ~16k characters a VARCHAR no longer fits InnoDB's 64 KiB row: use TEXT plus a length check.
        if (attribute.max_length or 0) > 16_000:
            return mysql.MEDIUMTEXT()
        return sa.String(attribute.max_length)

    def text(self) -> TypeEngine[Any]:
        return mysql.LONGTEXT()

    def timestamp(self, timezone: bool) -> TypeEngine[Any]:
        return mysql.DATETIME(fsp=6)

    def binary(self) -> TypeEngine[Any]:
        return mysql.LONGBLOB()

    def now(self, kind: TypeName) -> sa.TextClause:
        # DATETIME(6) needs a default of the same precision; a date default must be an expression.
        return sa.text("(CURRENT_DATE)" if kind is TypeName.DATE else "CURRENT_TIMESTAMP(6)")

    def table_options(self) -> dict[str, str]:
        return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}

    def notes(self) -> list[str]:
        return [
            "timestamptz is stored as DATETIME(6) holding UTC (MySQL has no time-zone-aware type).",
            "uuid is stored as CHAR(32) hex (SQLAlchemy's Uuid rendering; MySQL has no UUID type).",
            "Tables use utf8mb4_bin: case-sensitive equality and uniqueness, code-point order, as in PostgreSQL.",
        ]


class SQLite(Dialect):
    name = "sqlite"
    url = "sqlite://"
    regex = False
    length_checks = True
    timestamptz_native = False
    uuid_native = False

    def notes(self) -> list[str]:
        return [
            "SQLite enforces foreign keys only after PRAGMA foreign_keys=ON on each connection.",
            "SQLite has no REGEXP function: pattern rules are not enforced here (checked by the application).",
            "VARCHAR(n) is not enforced by SQLite: each bounded string has a CHECK on its length.",
            "timestamptz is stored as DATETIME text holding UTC; uuid as CHAR(32) hex.",
        ]


DIALECTS: dict[str, Dialect] = {d.name: d for d in (PostgreSQL(), MySQL(), SQLite())}


# --- constraints -------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """One rule the database enforces on a table, as generated tests see it.

    `kind`: primary_key, not_null, unique, foreign_key, check. `rule` (checks): min, max,
    enum, pattern, length or entity; (not_null) `generated` on a key the database numbers. `value` is the bound (min/max/length), the enum values, the
    pattern, or for entity checks (op, right column).
    """

    table: str
    name: str
    kind: str
    columns: tuple[str, ...]
    rule: str = ""
    value: Any = None
    ref_table: str = ""
    ref_columns: tuple[str, ...] = ()


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _column_checks(table: TableSpec, column: ColumnSpec, dialect: Dialect, names: UniqueNames) -> list[Constraint]:
    attribute = column.attribute
    kind = attribute.type
    found: list[Constraint] = []

    def add(rule: str, value: Any) -> None:
        found.append(
            Constraint(
                table.name,
                names.take(constraint_name("ck", table.name, column.name, rule)),
                "check",
                (column.name,),
                rule,
                value,
            )
        )

    if kind in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT):
        if attribute.min is not None:
            add("min", _number(attribute.min))
        if attribute.max is not None:
            add("max", _number(attribute.max))
    if kind is TypeName.ENUM:
        add("enum", tuple(attribute.values or ()))
    if kind in (TypeName.STRING, TypeName.TEXT) and attribute.pattern is not None and dialect.regex:
        add("pattern", attribute.pattern)
    bounded = kind is TypeName.STRING and attribute.max_length is not None
    if bounded and (dialect.length_checks or (dialect.name == "mysql" and (attribute.max_length or 0) > 16_000)):
        add("length", attribute.max_length)
    return found


def constraints(tables: Sequence[TableSpec], dialect: Dialect) -> dict[str, list[Constraint]]:
    """Every constraint of every table for one engine, with names unique across the schema."""
    names = UniqueNames()
    result: dict[str, list[Constraint]] = {}
    for table in tables:
        # A range-partitioned table's primary key includes the partition column (retention.py).
        primary_key = primary_key_for(table, dialect.name)
        # A keyless history (key: {kind: none}) has no primary key constraint at all.
        found: list[Constraint] = (
            [Constraint(table.name, names.take(constraint_name("pk", table.name)), "primary_key", primary_key)]
            if primary_key
            else []
        )
        generated = generated_key(table)
        for column in table.columns:
            if not column.nullable:
                # rule "generated": the database numbers this key, and MariaDB and SQLite number a NULL too.
                rule = "generated" if column.name == generated else ""
                found.append(Constraint(table.name, f"not_null:{column.name}", "not_null", (column.name,), rule))
        for group in table.uniques:
            found.append(Constraint(table.name, names.take(constraint_name("uq", table.name, *group)), "unique", group))
        # `enforced: false`: the application keeps the reference, so the database has no rule.
        for fk in (fk for fk in table.foreign_keys if fk.enforced):
            found.append(
                Constraint(
                    table.name,
                    names.take(fk.name or constraint_name("fk", table.name, *fk.columns)),
                    "foreign_key",
                    fk.columns,
                    value=fk.on_delete.value,
                    ref_table=fk.ref_table,
                    ref_columns=fk.ref_columns,
                )
            )
        # MariaDB refuses a CHECK on a column that ON DELETE SET NULL writes (error 1901, checked
        # on 10.11; fuzz model 232: a pattern CHECK copied onto a self-reference), and MySQL 8's
        # manual says the same of any referential action. Such a column holds its parent's key,
        # whose own CHECKs hold, so the copy is left out on that dialect.
        acted = (
            {c for fk in table.foreign_keys if fk.enforced and fk.on_delete in REFERENTIAL_ACTIONS for c in fk.columns}
            if dialect.name == "mysql"
            else set()
        )
        for column in table.columns:
            if column.name not in acted:
                found.extend(_column_checks(table, column, dialect, names))
        for check in table.checks:
            found.append(
                Constraint(
                    table.name,
                    names.take(constraint_name("ck", table.name, check.name)),
                    "check",
                    (check.left, check.right),
                    "entity",
                    (check.op, check.right),
                )
            )
        result[table.name] = found
    return result


# --- metadata ----------------------------------------------------------------------------


@dataclass
class Rendered:
    """One engine's metadata and everything rendered from it."""

    engine: str
    metadata: sa.MetaData
    constraints: dict[str, list[Constraint]]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _check_expression(table: sa.Table, constraint: Constraint, dialect: Dialect) -> ColumnElement[bool]:
    column: sa.Column[Any] = table.c[constraint.columns[0]]
    rule, value = constraint.rule, constraint.value
    if rule == "min":
        return column >= sa.literal(value)
    if rule == "max":
        return column <= sa.literal(value)
    if rule == "enum":
        return column.in_(list(value))
    if rule == "pattern":
        return dialect.regex_match(column, value)
    if rule == "length":
        length = sa.func.char_length(column) if dialect.name == "mysql" else sa.func.length(column)
        return length <= sa.literal(value)
    op, right = value
    result: ColumnElement[bool] = _OPERATORS[op](column, table.c[right])
    return result


def key_generation(engine: str, partitioned: bool) -> tuple[sa.Identity, ...]:
    """How `engine` numbers a generated key, beside the column's `autoincrement` flag.

    PostgreSQL: a standard identity column, `GENERATED BY DEFAULT` so bulk loads, seed data and
    restores may supply their own values (ALWAYS would refuse them without OVERRIDING SYSTEM
    VALUE); PostgreSQL 15 refuses identity columns on partitioned tables (17 allows them), so a
    partitioned table keeps a sequence default (SERIAL). MariaDB/MySQL have no identity columns:
    AUTO_INCREMENT (the autoincrement flag). SQLite: an INTEGER PRIMARY KEY is the rowid itself,
    assigned when the insert gives none (the column's type is set to exactly INTEGER for it).
    """
    if engine == "postgresql" and not partitioned:
        return (sa.Identity(always=False),)
    return ()


def build_metadata(
    tables: Sequence[TableSpec],
    engine: str,
    schemas: Mapping[str, str] | None = None,
    spec_keys: SpecKeys | None = None,
) -> Rendered:
    """SQLAlchemy tables (columns, keys, constraints, comments, indexes) for one engine; `schemas`
    puts tables (by name) in a schema of their own (unqualified otherwise). `spec_keys`: shared
    by the engines' builds of the same tables (`table_shape`)."""
    schemas = schemas or {}
    dialect = DIALECTS[engine]
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    rules = constraints(tables, dialect)
    rendered = Rendered(engine, metadata, rules)
    shapes: dict[tuple[Any, ...], TableShape] = {}
    for spec in tables:
        table = _add_table(metadata, spec, rules[spec.name], dialect, schemas, rendered.diagnostics)
        if not schemas:
            # The DDL of a table is compiled once per shape (ddl_shapes.py); a schema-qualified
            # one is compiled as it is.
            # "natural": the key numbers nothing (the stand-in must not either).
            shape = table_shape(spec, rules[spec.name], engine, generated_key(spec) is None, shapes, spec_keys)
            if shape is not None:
                table.info[SHAPE_INFO] = shape
    return rendered


def _add_table(
    metadata: sa.MetaData,
    spec: TableSpec,
    rules: Sequence[Constraint],
    dialect: Dialect,
    schemas: Mapping[str, str],
    diagnostics: list[Diagnostic],
) -> sa.Table:
    """`spec` as a SQLAlchemy table of `metadata` for `dialect`, with its `rules` and indexes;
    the indexes' PP402 warnings go to `diagnostics`."""
    engine = dialect.name
    rule = retention_of(spec)
    partitioned = rule is not None and engine == "postgresql" and engine in rule.partitioned
    generated = generated_key(spec)
    columns = [
        sa.Column(
            c.name,
            sa.Integer() if c.name == generated and engine == "sqlite" else dialect.column_type(c.attribute),
            *key_generation(engine, partitioned) if c.name == generated else (),
            nullable=c.nullable,
            server_default=dialect.server_default(c.attribute),
            comment=c.comment,
            # Only the generated key numbers itself: a natural or composite integer key gets
            # no SERIAL, AUTO_INCREMENT or identity (the values come from the domain).
            autoincrement=c.name == generated,
        )
        for c in spec.columns
    ]
    options: dict[str, Any] = dict(dialect.table_options())
    if partitioned:
        assert rule is not None
        # Declarative range partitioning; the partitions and their jobs are retention_sql's.
        quote = dialect.sa_dialect().identifier_preparer.quote
        options["postgresql_partition_by"] = f"RANGE ({quote(rule.column)})"
    fillfactor = table_fillfactor(spec, engine)
    if fillfactor is not None:
        options["postgresql_with"] = {"fillfactor": fillfactor}
    # A loss-tolerable entity's table skips the WAL (caps.py says when and what it costs).
    prefixes = ["UNLOGGED"] if engine == "postgresql" and unlogged(spec) else []
    table = sa.Table(
        spec.name,
        metadata,
        *columns,
        comment=spec.comment,
        schema=schemas.get(spec.name),
        prefixes=prefixes,
        **options,
    )
    for constraint in rules:
        if constraint.kind == "primary_key":
            table.append_constraint(sa.PrimaryKeyConstraint(*constraint.columns, name=constraint.name))
        elif constraint.kind == "unique":
            table.append_constraint(sa.UniqueConstraint(*constraint.columns, name=constraint.name))
        elif constraint.kind == "foreign_key":
            table.append_constraint(
                sa.ForeignKeyConstraint(
                    list(constraint.columns),
                    [
                        ".".join(
                            part
                            for part in (schemas.get(constraint.ref_table), constraint.ref_table, c)
                            if part is not None
                        )
                        for c in constraint.ref_columns
                    ],
                    name=constraint.name,
                    ondelete=ON_DELETE[OnDelete(constraint.value)],
                )
            )
        elif constraint.kind == "check":
            check = sa.CheckConstraint(_check_expression(table, constraint, dialect), name=constraint.name)
            # A check over this table's columns attaches itself when it is made (SQLAlchemy's
            # autoattach of a constraint whose columns all belong to one table); append_constraint
            # would attach it again and fire the attach events a second time (2 of ~12 % of the
            # metadata build on a large model).
            if check not in table.constraints:
                table.append_constraint(check)
    for index in spec.indexes:
        found = attach_index(table, index, engine, metadata)
        if found is not None:
            diagnostics.append(found)
    attach_geo(table, spec, engine)
    attach_membership(table, spec.extra, engine)
    return table


# Where `_ddl` leaves an index's compiled CREATE INDEX text (Index.info; each index belongs to one
# engine's metadata, compiled with that engine's `sa_dialect()`).
INDEX_DDL = "polyplan_create_index"


def _ddl(metadata: sa.MetaData, dialect: Dialect, only: Sequence[sa.Table] | None = None) -> list[str]:
    statements: list[str] = []
    indexes: list[tuple[str, str]] = []

    def flush() -> None:
        # A table's indexes come from a set: sort each run of them by name for stable output.
        statements.extend(text for _, text in sorted(indexes))
        indexes.clear()

    # Compiled with named parameters: the drivers' own dialects (pyformat) double every `%` in a
    # literal, which is right for text later run with parameters but wrong in a script that
    # apply_sql runs without any, where `'50%%'` would be a different value than the model's.
    named = dialect.sa_dialect()

    def stand_in(scratch: sa.MetaData, spec: TableSpec, rules: list[Any]) -> sa.Table:
        return _add_table(scratch, spec, rules, dialect, {}, [])

    shapes = DdlShapes(named, stand_in, NAMING_CONVENTION)

    def executor(sql: Any, *args: Any, **kwargs: Any) -> None:
        text = shapes.text(sql)
        if text is None:
            text = str(sql.compile(dialect=named)).strip()
        if isinstance(sql, CreateIndex):
            # The index proofs (index_testgen) read the same text back instead of compiling it again.
            sql.element.info[INDEX_DDL] = text
            indexes.append((str(sql.element.name), text))
            return
        flush()
        statements.append(text)

    mock = sa.create_mock_engine(dialect.url, executor)
    metadata.create_all(mock, checkfirst=False, tables=None if only is None else list(only))
    flush()
    return statements


def ddl_statements(metadata: sa.MetaData, engine: str, only: Sequence[sa.Table] | None = None) -> list[str]:
    """The CREATE statements of `metadata` (or of its tables `only`) as SQLAlchemy renders them for
    `engine` (no `;`)."""
    return [_trim(statement) for statement in _ddl(metadata, DIALECTS[engine], only)]


def _trim(sql: str) -> str:
    # SQLAlchemy leaves a space before each line break; a literal (a model value) may hold
    # line breaks and trailing blanks of its own, which stay.
    return trim_lines(sql)


def header(model: RequirementsModel, what: str, engine: str, notes: Sequence[str] = ()) -> str:
    """The comment block that opens every emitted SQL file (no timestamps: output is reproducible)."""
    lines = [
        f"-- {what} for model {model.name} (version {model.version}), engine {engine}.",
        "-- Generated by polyplan from the requirements model; change the model, not this file.",
    ]
    lines += [f"-- Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def render_schema(model: RequirementsModel, rendered: Rendered) -> str:
    """The complete DDL of one engine: each statement terminated by `;`, separated by a blank line."""
    dialect = DIALECTS[rendered.engine]
    body = "\n\n".join(f"{_trim(statement)};" for statement in _ddl(rendered.metadata, dialect))
    return header(model, "Relational schema", rendered.engine, dialect.notes()) + "\n" + body + "\n"


# --- queries -----------------------------------------------------------------------------


def _param_name(attribute: str, taken: set[str], suffix: str = "") -> str:
    base = re.sub(r"\W+", "_", attribute).strip("_") or "p"
    name = f"{base}_{suffix}" if suffix else base
    counter = 2
    while name in taken:
        name = f"{base}_{suffix}_{counter}" if suffix else f"{base}_{counter}"
        counter += 1
    taken.add(name)
    return name


# The naming rule of query parameters is part of queries.sql's interface: the generated tests
# derive the names from the model with it, instead of reading them back from the file.
param_name = _param_name


def _literal(value: Any, type_: TypeEngine[Any], dialect: SADialect) -> ColumnElement[Any]:
    text = str(sa.literal(value, type_).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return sa.literal_column(text)


def query_columns(pattern: AccessPattern, spec: TableSpec) -> list[str] | None:
    """Columns a pattern selects (its `reads`, or every column); None if one lives elsewhere."""
    if not pattern.reads:
        return [c.name for c in spec.columns]
    selected: list[str] = []
    for attribute in pattern.reads:
        found = [
            c.name
            for c in spec.columns
            if c.source == f"{pattern.entity}.{attribute}" or c.source.startswith(f"{pattern.entity}.{attribute}.")
        ]
        if not found:
            return None
        selected.extend(found)
    return selected


def column_for(spec: TableSpec, entity: str, attribute: str) -> str | None:
    """The column storing a scalar attribute of `entity` in its entity table."""
    for column in spec.columns:
        if column.source == f"{entity}.{attribute}" and column.attribute.type not in (
            *COLLECTION_TYPES,
            TypeName.OBJECT,
        ):
            return column.name
    return None


# The stand-in table and column names (polyplan__c0__, …) a compiled statement shape uses: no
# engine quotes them, and a query whose own text (parameters, constants) contains one is
# compiled directly instead.
_SHAPE_TABLE = "polyplan__t__"
_STAND_IN = re.compile(r"polyplan__(?:t|c[0-9]+)__")
# The same names as one capturing group: `split` then yields the text between them at even
# positions and each name at the odd ones (the segmentation `sub` makes in its single pass).
_STAND_IN_PARTS = re.compile(f"({_STAND_IN.pattern})")


@dataclass(frozen=True)
class _Condition:
    """One filter of a query before it is SQL: `op` is const, eq, in, range, prefix or search."""

    column: str
    op: str
    params: tuple[str, ...] = ()
    value: Any = None
    inside: Inside | None = None  # a contains or JSON sub-field filter (membership.py)


@dataclass
class QueryShapes:
    """Compiled SELECT text per statement shape, for one engine's queries.

    A large model repeats a handful of query shapes across many tables (the same filters and
    sorts, only the table and column names differ); compiling each pattern was most of the time
    of emitting such a model. A shape is everything the text depends on but those names, and
    its text is compiled by SQLAlchemy against a stand-in table; each query then gets it with
    the dialect's own quoting of its table and column names.
    """

    # Each shape's text split at its stand-in names (see _STAND_IN_PARTS): filling one in is a
    # join, not a regular-expression substitution calling back into Python for every name.
    parts: dict[tuple[Any, ...], tuple[str, ...]] = field(default_factory=dict)
    # The dialect's quoting of each table and column name met so far.
    quoted: dict[str, str] = field(default_factory=dict)
    # A type's repr is slow (it inspects the constructor); the engine's metadata, and with it
    # every type object keyed here, outlives the build.
    type_reprs: dict[int, str] = field(default_factory=dict)
    # Every column has a type object of its own, so the id cache above misses for each one; a
    # type's repr is a function of its class and attributes, so equal ones share it.
    reprs_by_state: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def type_key(self, column: sa.ColumnElement[Any]) -> tuple[type, str]:
        kind = column.type
        text = self.type_reprs.get(id(kind))
        if text is None:
            state = _type_state(kind)
            if state is None:
                text = repr(kind)
            else:
                text = self.reprs_by_state.get(state)
                if text is None:
                    text = self.reprs_by_state[state] = repr(kind)
            self.type_reprs[id(kind)] = text
        return type(kind), text


# A type's own cache of its class's affinity (SQLAlchemy sets it on first use): not its state.
_TYPE_MEMOS = frozenset({"_type_affinity"})


def _type_state(kind: TypeEngine[Any]) -> tuple[Any, ...] | None:
    """A type's class and attribute values when they are all plain values (None otherwise: a
    variant mapping, an enum class or a nested type is left to repr alone)."""
    items = []
    for name, value in sorted(vars(kind).items()):
        if name in _TYPE_MEMOS:
            continue
        if value is not None and type(value) not in (str, int, float, bool):
            return None
        items.append((name, type(value), value))  # 1 == True, but their reprs differ
    return (type(kind), *items)


def filter_conditions(
    filters: Sequence[Filter],
    entity: str,
    spec: TableSpec,
    taken: set[str],
    columns: Mapping[str, str] | None = None,
) -> tuple[list[QueryParam], list[_Condition]] | str:
    """The parameters and conditions of a list of filters (a read's `filters`, a write's `where`),
    or the reason they cannot be written against `spec`. `taken`: parameter names in use.
    `columns`: the column of each filter attribute when it is not `entity`'s own (a relationship
    path, whose parameters are named after the path: `item.end_date` → `:item_end_date_above`)."""
    params: list[QueryParam] = []
    conditions: list[_Condition] = []
    for flt in filters:
        # A relationship path's column is given (path_queries.py); an own attribute may be
        # looked inside (contains, a JSON sub-field: membership.py).
        name: str | None
        if columns is not None:
            name = columns[flt.attribute]
        else:
            found = inside_filter_of(spec, entity, flt)
            if isinstance(found, str):
                return found
            if found is not None:
                # Written as the scalar op on the sub-field's expression (or contains): the
                # parameter is named after the path, and the oracle's column is the inside's key.
                label = "_".join([flt.attribute, *(flt.path or [])])
                if found.kind == "contains":
                    param = _param_name(label, taken)
                    params.append(QueryParam(param, found.column, "contains"))
                    conditions.append(_Condition(found.column, "contains", (param,), inside=found))
                    continue
                plain = flt.model_copy(update={"attribute": label, "path": None})
                built = filter_conditions([plain], entity, sub_field_table(spec, entity, label, found), taken)
                if isinstance(built, str):
                    return built
                params += [replace(p, column=inside_key(found)) for p in built[0]]
                conditions += [replace(c, column=found.column, inside=found) for c in built[1]]
                continue
            name = column_for(spec, entity, flt.attribute)
        if name is None:
            return f"it filters on {flt.attribute}, which is not a column of {spec.name}"
        if "value" in flt.model_fields_set:
            # Inline, and written exactly as the partial index's WHERE (index_render's rule).
            conditions.append(_Condition(name, "const", value=flt.value))
            continue
        if flt.op is FilterOp.EQ:
            param = _param_name(flt.attribute, taken)
            params.append(QueryParam(param, name, "eq"))
            conditions.append(_Condition(name, "eq", (param,)))
        elif flt.op is FilterOp.IN:
            param = _param_name(flt.attribute, taken)
            params.append(QueryParam(param, name, "in"))
            conditions.append(_Condition(name, "in", (param,)))
        elif flt.op is FilterOp.RANGE:
            low, high = _param_name(flt.attribute, taken, "from"), _param_name(flt.attribute, taken, "to")
            params += [QueryParam(low, name, "from"), QueryParam(high, name, "to")]
            conditions.append(_Condition(name, "range", (low, high)))
        elif flt.op in ONE_SIDED:
            kind = ONE_SIDED[flt.op][0]
            param = _param_name(flt.attribute, taken, kind)
            params.append(QueryParam(param, name, kind))
            conditions.append(_Condition(name, kind, (param,)))
        elif flt.op is FilterOp.PREFIX:
            param = _param_name(flt.attribute, taken, "prefix")
            params.append(QueryParam(param, name, "prefix"))
            conditions.append(_Condition(name, "prefix", (param,)))
        else:
            param = _param_name(flt.attribute, taken, "terms")
            params.append(QueryParam(param, name, "search"))
            conditions.append(_Condition(name, "search", (param,)))
    return params, conditions


@dataclass(frozen=True)
class _Prepared:
    """What a pattern's query is before any engine: the same for every dialect (build_engines
    prepares it once and compiles it per engine)."""

    columns: list[str]
    params: list[QueryParam]
    conditions: list[_Condition]
    order: list[tuple[str, bool]]
    fulltext_columns: list[str]
    notes: tuple[str, ...]


def _prepare(pattern: AccessPattern, spec: TableSpec, notes: tuple[str, ...]) -> _Prepared | str:
    """The engine-independent part of `build_query`, or the reason the pattern cannot be written."""
    columns = query_columns(pattern, spec)
    if columns is None:
        return "it reads an attribute stored in another table"
    taken: set[str] = set()
    extra_notes = list(notes)
    searched = [column_for(spec, pattern.entity, f.attribute) for f in pattern.filters if f.op is FilterOp.FULLTEXT]
    fulltext_columns = [c for c in searched if c is not None]
    built = filter_conditions(pattern.filters, pattern.entity, spec, taken)
    if isinstance(built, str):
        return built
    params, conditions = built
    if any(c.op == "search" for c in conditions):
        indexed = any(
            i.kind is IndexKind.FULLTEXT and [c.name for c in i.columns] == fulltext_columns for i in spec.indexes
        )
        note = (
            f"full-text on {', '.join(fulltext_columns)} uses the designed full-text index"
            if indexed
            else f"full-text on {', '.join(fulltext_columns)} is a case-blind substring match (ILIKE '%term%'): no full-text index here"
        )
        extra_notes += [note] * sum(c.op == "search" for c in conditions)  # one per full-text filter, as before
    order: list[tuple[str, bool]] = []
    for item in pattern.sort:
        name = column_for(spec, pattern.entity, item.attribute)
        if name is None:
            return f"it sorts on {item.attribute}, which is not a column of {spec.name}"
        order.append((name, item.direction.value == "desc"))
    return _Prepared(columns, params, conditions, order, fulltext_columns, tuple(extra_notes))


def build_query(
    pattern: AccessPattern,
    spec: TableSpec,
    table: sa.Table,
    dialect: Dialect,
    notes: tuple[str, ...],
    shapes: QueryShapes | None = None,
    prepared: dict[str, _Prepared | str] | None = None,
) -> Query | str:
    """The SQL of one access pattern, or the reason it cannot be written against this table.

    `prepared`: the engine-independent part by pattern name, shared by the engines' builds
    (filled in here on first use)."""
    ready = prepared.get(pattern.name) if prepared is not None else None
    if ready is None:
        ready = _prepare(pattern, spec, notes)
        if prepared is not None:
            prepared[pattern.name] = ready
    if isinstance(ready, str):
        return ready
    shape = _Shape(ready.columns, ready.conditions, ready.order, pattern.limit, ready.fulltext_columns, spec.indexes)
    sql = _shaped_sql(shape, table, dialect, shapes) if shapes is not None else _query_sql(shape, table, dialect)
    return Query(pattern.name, pattern.entity, spec.name, tuple(ready.columns), tuple(ready.params), sql, ready.notes)


@dataclass(frozen=True)
class _Shape:
    columns: list[str]
    conditions: list[_Condition]
    order: list[tuple[str, bool]]
    limit: int | None
    fulltext_columns: list[str]
    indexes: Sequence[Any]


def _shaped_sql(shape: _Shape, table: sa.Table, dialect: Dialect, shapes: QueryShapes) -> str:
    if any(c.op == "search" or c.inside is not None for c in shape.conditions):
        # Full-text predicates name the table and its index inside SQL of their own: compiled as is.
        return _query_sql(shape, table, dialect)
    names = list(dict.fromkeys([*shape.columns, *(c.column for c in shape.conditions), *(n for n, _ in shape.order)]))
    alias = {name: f"polyplan__c{number}__" for number, name in enumerate(names)}
    typed = list(dict.fromkeys([*(c.column for c in shape.conditions), *(n for n, _ in shape.order)]))
    key = (
        dialect.name,
        tuple(alias[c] for c in shape.columns),
        tuple((alias[c.column], c.op, c.params, repr(c.value)) for c in shape.conditions),
        tuple((alias[n], descending) for n, descending in shape.order),
        shape.limit,
        # The constants' literal text depends on the column types (and nothing else does).
        tuple((alias[n], *shapes.type_key(table.c[n])) for n in typed),
    )
    parts = shapes.parts.get(key)
    if parts is None:
        if _STAND_IN.search(repr([(c.params, c.value) for c in shape.conditions])):
            return _query_sql(shape, table, dialect)
        stand_in = sa.table(_SHAPE_TABLE, *(sa.column(alias[n], table.c[n].type) for n in names))
        renamed = _Shape(
            [alias[c] for c in shape.columns],
            [replace(c, column=alias[c.column]) for c in shape.conditions],
            [(alias[n], descending) for n, descending in shape.order],
            shape.limit,
            [],
            (),
        )
        parts = shapes.parts[key] = tuple(_STAND_IN_PARTS.split(_query_sql(renamed, stand_in, dialect)))
    quoted = shapes.quoted
    for name in (table.name, *names):
        if name not in quoted:
            quoted[name] = str(dialect.sa_dialect().identifier_preparer.quote(name))
    real = {_SHAPE_TABLE: quoted[table.name]} | {alias[n]: quoted[n] for n in names}
    return fill_in(parts, real)


def where_clause(
    conditions: Sequence[_Condition],
    table: Any,
    dialect: Dialect,
    fulltext_columns: Sequence[str] = (),
    indexes: Sequence[Any] = (),
) -> list[ColumnElement[bool]]:
    """The SQLAlchemy predicates of `conditions` on `table` (a read's WHERE, or a write's)."""
    expressions: list[ColumnElement[bool]] = []
    for condition in conditions:
        inside = condition.inside
        # Any, as `table` is: an sa.Table's or a stand-in's column, or a JSON sub-field's expression.
        column: Any = table.c[condition.column] if inside is None else sub_field_expression(table, inside, dialect.name)
        op, params = condition.op, condition.params
        if op == "contains" and inside is not None:
            expressions.append(contains_predicate(table, inside, params[0], dialect.name))
        elif op == "const":
            expressions.append(constant_predicate(column, condition.value, dialect.name))
        elif op == "eq":
            expressions.append(column == sa.bindparam(params[0]))
        elif op == "in":
            expressions.append(column.in_(sa.bindparam(params[0], expanding=True)))
        elif op == "range":
            expressions += [column >= sa.bindparam(params[0]), column < sa.bindparam(params[1])]
        elif op in COMPARISONS:
            expressions.append(column.operate(_BOUND_OPERATORS[op], sa.bindparam(params[0])))
        elif op == "prefix":
            expressions.append(prefix_predicate(column, params[0]))
        else:
            expressions.append(fulltext_predicate(table, fulltext_columns, params[0], dialect.name, indexes))
    return expressions


def _query_sql(shape: _Shape, table: Any, dialect: Dialect) -> str:
    """The text SQLAlchemy compiles for a query shape against `table` (sa.Table or sa.table)."""
    expressions = where_clause(shape.conditions, table, dialect, shape.fulltext_columns, shape.indexes)
    statement = sa.select(*[table.c[c] for c in shape.columns]).where(*expressions)
    for name, descending in shape.order:
        statement = statement.order_by(table.c[name].desc() if descending else table.c[name].asc())
    if shape.limit is not None:
        statement = statement.limit(shape.limit)
    return compiled_text(statement, dialect, {p for c in shape.conditions for p in c.params})


def compiled_text(statement: sa.Select[Any], dialect: Dialect, ours: set[str]) -> str:
    """A SELECT as queries.sql writes it: `ours` stay named parameters (IN lists too), LIMIT and
    OFFSET numbers are written inline."""
    compiled = statement.compile(dialect=dialect.sa_dialect())
    sql = str(compiled).strip()
    for name, value in compiled.params.items():
        if name not in ours:  # LIMIT/OFFSET numbers: write them inline
            sql = sub_code(rf":{re.escape(name)}\b", str(int(value)), sql)
    sql = sub_code(r"__\[POSTCOMPILE_(\w+)\]", r":\1", sql)
    return re.sub(r" OFFSET 0$", "", sql)  # SQLite's compiler always adds one


def build_queries(
    plan: Plan,
    tables: Sequence[TableSpec],
    rendered: Rendered,
    prepared: dict[str, _Prepared | str] | None = None,
) -> tuple[list[Query], list[str]]:
    """Queries of every access pattern on a relationally stored entity, and notes on those skipped.

    `prepared`: shared between the engines' calls, so each pattern's filters, parameters and
    sort are worked out once (`build_query`)."""
    dialect = DIALECTS[rendered.engine]
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    queries: list[Query] = []
    skipped: list[str] = []
    shapes = QueryShapes()
    # Patterns through relationships are joined (path_queries.py, imported here: it builds on this module).
    from polyplan.stores.relational.path_queries import aggregate_path_query, path_query

    paths = {read.name: read for read in plan.loaded.paths}
    for pattern, spec, notes in _stored_patterns(plan, by_entity):
        table = rendered.metadata.tables[spec.name]
        if _plain(pattern, paths):
            built = build_query(pattern, spec, table, dialect, notes, shapes, prepared)
        elif pattern.aggregate is not None and pattern.name in paths:
            built = aggregate_path_query(paths[pattern.name], by_entity, rendered, notes)
        elif pattern.aggregate is not None:
            # aggregates.py builds on this module's filter conditions: imported here, not at the top.
            from polyplan.stores.relational.aggregates import aggregate_query

            built = aggregate_query(pattern, spec, table, dialect, notes)
        elif pattern.name in paths:
            built = path_query(paths[pattern.name], by_entity, rendered, notes)
        else:
            built = geo_query(pattern, spec, table, dialect, notes)
        if isinstance(built, str):
            skipped.append(f"{pattern.name}: {built}")
        else:
            queries.append(built)
    return queries, skipped


def _stored_patterns(
    plan: Plan, by_entity: Mapping[str, TableSpec]
) -> Iterator[tuple[AccessPattern, TableSpec, tuple[str, ...]]]:
    """Each access pattern on a relationally stored entity, in the model's order, with its
    entity's table and the notes its query carries."""
    for pattern in plan.model.access_patterns:
        decided = plan.entities.get(pattern.entity)
        if decided is None or decided.family is not Family.RELATIONAL or pattern.entity not in by_entity:
            continue
        notes: tuple[str, ...] = ()
        projections = [p for p in decided.projections if pattern.name in p.patterns]
        if projections:
            notes = (f"served in production by the {projections[0].family.value} projection ({projections[0].engine})",)
        yield pattern, by_entity[pattern.entity], notes


def _plain(pattern: AccessPattern, paths: Container[str]) -> bool:
    """Whether `build_query` writes the pattern (not an aggregate, a read through relationships
    or a geo read)."""
    return pattern.aggregate is None and pattern.name not in paths and not is_geo(pattern)


@dataclass(frozen=True)
class EngineMemos:
    """The engines' builds' engine-independent memos: each table spec's shape key
    (`ddl_shapes.table_shape`) and each pattern's prepared query (`build_query`)."""

    spec_keys: SpecKeys = field(default_factory=dict)
    prepared: dict[str, _Prepared | str] = field(default_factory=dict)


def engine_memos(plan: Plan, tables: Sequence[TableSpec]) -> EngineMemos:
    """Both memos filled for every table and plain pattern: made before `render(plan, jobs=2)`
    forks, so the worker inherits them instead of making them again for its first engine."""
    by_entity = {t.entity: t for t in tables if t.kind is TableKind.ENTITY}
    paths = {read.name for read in plan.loaded.paths}
    prepared = {
        pattern.name: _prepare(pattern, spec, notes)
        for pattern, spec, notes in _stored_patterns(plan, by_entity)
        if _plain(pattern, paths)
    }
    return EngineMemos(spec_keys_of(tables), prepared)


@dataclass(frozen=True)
class EngineBuild:
    """One engine's metadata and pattern queries, built once per emit and shared by every consumer
    (schema.sql, queries.sql, the generated tests and the index proofs): compiling a query is the
    dominant cost of emitting a large model."""

    rendered: Rendered
    queries: list[Query]
    skipped: list[str]


def build_engines(
    plan: Plan, tables: Sequence[TableSpec], engines: Sequence[str] | None = None, memos: EngineMemos | None = None
) -> dict[str, EngineBuild]:
    """Metadata and queries of `engines` (default: every dialect the model emits,
    `relational_dialects`, in ENGINES order); the builds share their engine-independent memos
    (`memos` when given, e.g. made before a fork by `engine_memos`; filled as they go)."""
    builds: dict[str, EngineBuild] = {}
    memos = EngineMemos() if memos is None else memos
    for engine in relational_dialects(plan.model) if engines is None else engines:
        rendered = build_metadata(tables, engine, spec_keys=memos.spec_keys)
        queries, skipped = build_queries(plan, tables, rendered, memos.prepared)
        builds[engine] = EngineBuild(rendered, queries, skipped)
    return builds


def render_queries(model: RequirementsModel, engine: str, queries: Sequence[Query], skipped: Sequence[str]) -> str:
    """`queries.sql`: one block per access pattern, with a machine-readable comment header."""
    parts = [
        header(model, "Access-pattern queries", engine)
        + "-- Parameters are named (:name); '-- param :name  column (op)' says what each one binds.\n"
        + "-- An (in) parameter takes a sequence; (from)/(to) bound a half-open range: column >= from AND column < to;\n"
        + "-- (prefix) is the start of the value followed by %; (search) holds the words searched for.\n"
    ]
    for note in skipped:
        parts.append(f"-- skipped: {note}\n")
    for query in queries:
        lines = [f"-- name: {query.name}", f"-- entity: {query.entity}", f"-- table: {query.table}"]
        lines.append(f"-- columns: {', '.join(query.columns)}")
        lines += [f"-- param :{p.name}  {p.column} ({p.op})" for p in query.params]
        lines += [f"-- note: {note}" for note in query.notes]
        parts.append("\n".join(lines) + "\n" + _trim(query.sql) + ";\n")
    return "\n".join(parts)


def engine_diagnostics(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> list[Diagnostic]:
    """PP402 for what `engine` substitutes or cannot enforce, one per affected attribute."""
    dialect = DIALECTS[engine]
    found: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()

    def warn(source: str, message: str) -> None:
        if (source, message) in seen:
            return
        seen.add((source, message))
        parts = source.split(".")
        path = f"entities.{parts[0]}.attributes.{'.'.join(parts[1:])}" if parts[0] in model.entities else source
        found.append(Diagnostic("PP402", f"{engine}: {message}", path, Severity.WARNING))

    for table in tables:
        for column in table.columns:
            attribute = column.attribute
            if attribute.pattern is not None and not dialect.regex:
                warn(column.source, f"pattern of {table.name}.{column.name} is not enforced (no REGEXP function)")
            if attribute.type is TypeName.TIMESTAMPTZ and not dialect.timestamptz_native:
                warn(column.source, f"{table.name}.{column.name} (timestamptz) is stored without a time zone, as UTC")
    return found

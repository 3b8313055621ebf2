"""Compiled DDL per table shape: SQLAlchemy compiles each shape once per engine.

A large model repeats a few table shapes (the same columns, types, keys, checks and indexes)
under other names; compiling every table's CREATE TABLE, CREATE INDEX and COMMENT statements
was a fifth of emitting such a model (issue 7). A shape is everything a table's DDL depends on
except its names: the table, column, constraint and index names, and those of the tables and
columns its foreign keys refer to, are each replaced by a stand-in (`polyplan__n0__`, …). The
first table of a shape is rebuilt under those stand-ins and compiled by SQLAlchemy as usual;
every table of the shape then gets that text with its own names quoted by the dialect's
`identifier_preparer` — what SQLAlchemy itself does with a name (quoting is a function of the
name alone). Tables whose DDL holds a name anywhere else (full-text: generated column names and
SQLite FTS5 text; retention: partition clauses), or whose text holds a stand-in-like string, or
whose names are too long for the engine, are compiled directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment

from polyplan.stores.relational.heap_fill import HEAP_FILL, table_fillfactor
from polyplan.stores.relational.spec import (
    ColumnSpec,
    ForeignKeySpec,
    IndexColumn,
    IndexKind,
    IndexSpec,
    TableSpec,
)


def fill_in(parts: Sequence[str], real: Mapping[str, str]) -> str:
    """A template split at its stand-ins (text at even positions, a stand-in at each odd one, as
    a capturing `re.split` leaves it) with every stand-in replaced by its entry in `real`.

    One pass, so a real name that happens to look like a stand-in is never replaced again."""
    filled = list(parts)
    filled[1::2] = [real[stand_in] for stand_in in parts[1::2]]
    return "".join(filled)


# Table.info key of a table's TableShape (set by render.build_metadata).
SHAPE_INFO = "polyplan_ddl_shape"

_STAND_IN = re.compile(r"polyplan__n[0-9]+__|'polyplan__m[0-9]+__'")
# The same stand-ins as one capturing group: `split` yields the text between them at even
# positions and each stand-in at the odd ones (the segmentation of `sub`'s single pass).
_STAND_IN_PARTS = re.compile(f"({_STAND_IN.pattern})")
# A stand-in glued to other identifier characters would be part of a longer name (one SQLAlchemy
# made up from it): such a text cannot be filled in by name, so its shape is compiled directly.
# A comment's stand-in is only ever a whole string literal.
_GLUED = re.compile(
    r"[\w$]polyplan__n[0-9]+__|polyplan__n[0-9]+__[\w$]|[^']polyplan__m[0-9]+__|polyplan__m[0-9]+__[^']"
)


def frozen(value: Any) -> Any:
    """A hashable value equal only for values that render alike: the type of every scalar is
    part of it (1, 1.0 and True are equal in Python but not in SQL), models and containers are
    taken apart field by field."""
    if type(value) in _PLAIN:  # most values: what the last line would give, without the tests
        return (type(value), value)
    if isinstance(value, BaseModel):
        return (type(value), tuple((k, frozen(v)) for k, v in value.__dict__.items()))
    if isinstance(value, list | tuple):
        return (type(value), tuple(frozen(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple((frozen(k), frozen(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return (type(value), tuple(sorted(repr(frozen(v)) for v in value)))
    if isinstance(value, Enum):
        return (type(value), value.value)
    hash(value)  # anything else must be a plain hashable value (TypeError otherwise)
    return (type(value), value)


# Exactly these types (not subclasses such as an enum's): hashable, and none of the above.
_PLAIN = frozenset({str, int, float, bool, type(None)})


# What render.Dialect.column_type and server_default read of an attribute (its checks come with
# the rules): a column's DDL is a function of these, its name and comment, and its nullability.
# tests/test_relational_ddl_shapes.py compiles every table directly as well and compares.
DDL_FIELDS = ("type", "max_length", "bits", "precision", "scale", "values", "default")


def _ddl_fields(attribute: Any) -> tuple[Any, ...]:
    fields = attribute.__dict__
    return tuple(frozen(fields[name]) for name in DDL_FIELDS)


def _mentions_stand_in(value: Any) -> bool:
    """Whether a string in `value` (a `frozen` value) looks like a stand-in."""
    if isinstance(value, str):
        return "polyplan__" in value
    if isinstance(value, tuple):
        return any(_mentions_stand_in(v) for v in value)
    return False


class _Names:
    """Stand-in names, given out in order of first use (`letter` n for names, m for comments)."""

    def __init__(self, letter: str = "n") -> None:
        self.alias: dict[str, str] = {}
        self.letter = letter

    def __call__(self, name: str) -> str:
        found = self.alias.get(name)
        if found is None:
            found = self.alias[name] = f"polyplan__{self.letter}{len(self.alias)}__"
        return found

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self(text)

    def all(self, names: Sequence[str]) -> tuple[str, ...]:
        return tuple(self(n) for n in names)


@dataclass(eq=False)  # compared by identity: equal keys share one `canonical` shape
class TableShape:
    """One table's shape key and stand-in names, with the spec and rules they came from."""

    key: tuple[Any, ...]
    alias: dict[str, str]  # real name → stand-in
    comments: dict[str, str]  # real comment → stand-in
    spec: TableSpec
    rules: list[Any]
    natural: bool
    canonical: TableShape | None = None  # the first shape of this key in its MetaData (set by table_shape)

    def renamed(self) -> tuple[TableSpec, list[Any]]:
        """The spec and rules under their stand-in names (what the shape's DDL is compiled from)."""
        spec, names, comments = self.spec, self.alias, self.comments

        def all_(found: Sequence[str]) -> tuple[str, ...]:
            return tuple(names[n] for n in found)

        table = names[spec.name]
        renamed = TableSpec(
            table,
            "",
            spec.kind,
            tuple(
                ColumnSpec(
                    names[c.name], c.attribute, c.nullable, "", None if c.comment is None else comments[c.comment]
                )
                for c in spec.columns
            ),
            all_(spec.primary_key),
            tuple(
                ForeignKeySpec(
                    all_(fk.columns),
                    names[fk.ref_table],
                    all_(fk.ref_columns),
                    fk.on_delete,
                    names[fk.name] if fk.name else "",
                    fk.enforced,
                )
                for fk in spec.foreign_keys
            ),
            tuple(all_(u) for u in spec.uniques),
            tuple(replace(c, name=names[c.name], left=names[c.left], right=names[c.right]) for c in spec.checks),
            tuple(
                IndexSpec(
                    names[i.name],
                    table,
                    tuple(IndexColumn(names[c.name], c.descending, c.prefix) for c in i.columns),
                    i.kind,
                    all_(i.include),
                    tuple((names[column], value) for column, value in i.where),
                    equality=i.equality,
                )
                for i in spec.indexes
            ),
            None if spec.comment is None else comments[spec.comment],
            # The table's storage options are in the key too: the stand-in carries them.
            ({"natural_key": True} if self.natural else {})
            | ({HEAP_FILL: self.spec.extra[HEAP_FILL]} if HEAP_FILL in self.spec.extra else {}),
        )
        rules = [
            replace(
                r,
                table=table,
                name="" if r.kind == "not_null" else names[r.name],
                columns=all_(r.columns),
                value=(r.value[0], names[r.value[1]]) if r.rule == "entity" else r.value,
                ref_table=names[r.ref_table] if r.ref_table else "",
                ref_columns=all_(r.ref_columns),
            )
            for r in self.rules
        ]
        return renamed, rules


# A spec's key before its engine's rules: (spec, key parts, stand-in names, comment stand-ins),
# by the spec's id (the entry holds the spec, so the id stays its own).
SpecKeys = dict[int, tuple[TableSpec, tuple[Any, ...], dict[str, str], dict[str, str]]]


def table_shape(
    spec: TableSpec,
    rules: Sequence[Any],
    engine: str,
    natural: bool,
    canonical: dict[tuple[Any, ...], TableShape],
    spec_keys: SpecKeys | None = None,
) -> TableShape | None:
    """The shape of `spec` with its `rules` (render.Constraint) on `engine`, or None when its
    DDL must be compiled directly (see the module docstring). `canonical`: the shapes of one
    MetaData so far, by key. `spec_keys`: shared by the engines' builds, so the part of the key
    that only the spec decides (all but the engine and the rules) is made once per spec."""
    if not _keyed(spec):
        return None
    names, comments = _Names(), _Names("m")
    try:
        kept = spec_keys.get(id(spec)) if spec_keys is not None else None
        if kept is not None and kept[0] is spec:
            _, own, alias, comment_alias = kept
        else:
            own, alias, comment_alias = _spec_key(spec)
            if spec_keys is not None:
                spec_keys[id(spec)] = (spec, own, alias, comment_alias)
        # The rules name columns and constraints after the spec's own names: numbering goes on.
        names.alias, comments.alias = dict(alias), dict(comment_alias)
        key = (
            engine,
            *own,
            natural,
            tuple(
                (
                    "" if r.kind == "not_null" else names(r.name),  # not_null names are no SQL
                    r.kind,
                    names.all(r.columns),
                    r.rule,
                    (r.value[0], names(r.value[1])) if r.rule == "entity" else frozen(r.value),
                    names(r.ref_table) if r.ref_table else "",
                    names.all(r.ref_columns),
                )
                for r in rules
            ),
            table_fillfactor(spec, engine),  # last: the positions above are read below
        )
        hash(key)
    except TypeError:  # a constant no hash can take: compiled directly
        return None
    shape = TableShape(key, names.alias, comments.alias, spec, list(rules), natural)
    first = canonical.get(key)
    if first is None:
        # Text that reaches the DDL besides names and comments (defaults, enum values, patterns,
        # constants) must not look like a stand-in, or filling in the names would replace it too.
        values = (
            tuple(column[1] for column in key[3]),
            tuple(value for index in key[8] for _, value in index[4]),
            tuple(rule[4] for rule in key[11] if rule[3] != "entity"),
        )
        if _mentions_stand_in(values):
            return None
        canonical[key] = first = shape
    shape.canonical = first
    return shape


def _keyed(spec: TableSpec) -> bool:
    """Whether `table_shape` keys `spec` at all (else its DDL is compiled directly)."""
    if spec.extra.get("retention") or any(i.kind is IndexKind.FULLTEXT for i in spec.indexes):
        return False
    # Spatial columns and inside-value indexes are added beside the table (geo.py,
    # membership.py): compiled directly rather than keyed here.
    return not (spec.extra.get("geo_points") or spec.extra.get("membership") or spec.extra.get("cap"))


def spec_keys_of(tables: Sequence[TableSpec]) -> SpecKeys:
    """The engine-independent part of every table's shape key (`table_shape`'s `spec_keys`),
    made at once: `render(plan, jobs=2)` makes it before the fork, so that neither process
    makes it for its first engine."""
    kept: SpecKeys = {}
    for spec in tables:
        if not _keyed(spec):
            continue
        try:
            own, alias, comment_alias = _spec_key(spec)
        except TypeError:  # as in table_shape: compiled directly
            continue
        kept[id(spec)] = (spec, own, alias, comment_alias)
    return kept


def _spec_key(spec: TableSpec) -> tuple[tuple[Any, ...], dict[str, str], dict[str, str]]:
    """The shape key's parts that only `spec` decides (key[1:10] of `table_shape`), with the
    stand-in names and comment stand-ins given out for them."""
    names, comments = _Names(), _Names("m")
    own = (
        names(spec.name),
        spec.kind,
        tuple(
            (names(c.name), _ddl_fields(c.attribute), c.nullable, comments.optional(c.comment)) for c in spec.columns
        ),
        names.all(spec.primary_key),
        tuple(
            (
                names.all(fk.columns),
                names(fk.ref_table),
                names.all(fk.ref_columns),
                fk.on_delete,
                names(fk.name) if fk.name else "",
            )
            for fk in spec.foreign_keys
        ),
        tuple(names.all(u) for u in spec.uniques),
        tuple((names(c.name), names(c.left), c.op, names(c.right)) for c in spec.checks),
        tuple(
            (
                names(i.name),
                tuple((names(c.name), c.descending, c.prefix) for c in i.columns),
                i.kind,
                names.all(i.include),
                tuple((names(column), frozen(value)) for column, value in i.where),
                i.equality,
            )
            for i in spec.indexes
        ),
        comments.optional(spec.comment),
    )
    return own, names.alias, comments.alias


Build = Callable[[sa.MetaData, TableSpec, list[Any]], sa.Table]


@dataclass
class DdlShapes:
    """Compiled DDL templates of one engine's tables, keyed by shape (one per `render._ddl` run).

    `build` adds a TableSpec (with its rules) to a MetaData exactly as render.build_metadata does.
    """

    dialect: SADialect
    build: Build
    naming_convention: Mapping[str, str]
    stand_ins: dict[TableShape, sa.Table] = field(default_factory=dict)
    # Each template split at its stand-ins (see _STAND_IN_PARTS), None when compiled directly:
    # filling one in is then a join, not a substitution calling back into Python per name.
    texts: dict[tuple[TableShape, tuple[Any, ...]], tuple[str, ...] | None] = field(default_factory=dict)
    quoted: dict[int, tuple[sa.Table, dict[str, str]]] = field(default_factory=dict)
    literal: Callable[[Any, Any], str] | None = None

    def text(self, element: Any) -> str | None:
        """The compiled, stripped text of a DDL element of a shaped table, or None when it is not
        one (the caller compiles it)."""
        table: Any
        if isinstance(element, CreateTable):
            table = element.element
            include = element.include_foreign_key_constraints
            if include is not None and set(include) != set(table.foreign_key_constraints):
                return None  # a foreign key added later by ALTER (a cycle): not the shape's text
            part: tuple[Any, ...] = ("table",)
        elif isinstance(element, CreateIndex):
            table = element.element.table
            part = ("index", element.element.name)
        elif isinstance(element, SetTableComment):
            table = element.element
            part = ("table comment",)
        elif isinstance(element, SetColumnComment):
            table = element.element.table
            part = ("column comment", element.element.name)
        else:
            return None
        shape: TableShape | None = table.info.get(SHAPE_INFO) if isinstance(table, sa.Table) else None
        if shape is None:
            return None
        if len(part) > 1:
            part = (part[0], shape.alias.get(str(part[1])))
            if part[1] is None:
                return None
        template = self._template(shape, part)
        if template is None:
            return None
        real = self._quoted(table, shape)
        if real is None:
            return None
        return fill_in(template, real)

    def _quoted(self, table: sa.Table, shape: TableShape) -> dict[str, str] | None:
        found = self.quoted.get(id(table))
        if found is not None and found[0] is table:
            return found[1]
        limit = self.dialect.max_identifier_length
        if any(len(name) > limit for name in shape.alias):
            return None  # SQLAlchemy's own checks of a long name apply: compiled directly
        quote = self.dialect.identifier_preparer.quote
        real = {alias: str(quote(name)) for name, alias in shape.alias.items()}
        if shape.comments:
            # As SQLAlchemy's DDL compilers write a comment: their statement compiler's literal.
            if self.literal is None:
                self.literal = self.dialect.statement_compiler(self.dialect, None).render_literal_value
            literal = self.literal
            real |= {f"'{alias}'": str(literal(text, sa.String())) for text, alias in shape.comments.items()}
        self.quoted[id(table)] = (table, real)
        return real

    def _template(self, shape: TableShape, part: tuple[Any, ...]) -> tuple[str, ...] | None:
        canonical = shape.canonical or shape
        key = (canonical, part)
        if key in self.texts:
            return self.texts[key]
        element = _element(self._stand_in(canonical), part)
        template: tuple[str, ...] | None = None
        if element is not None:
            text = str(element.compile(dialect=self.dialect)).strip()
            if not _GLUED.search(text):
                template = tuple(_STAND_IN_PARTS.split(text))
        self.texts[key] = template
        return template

    def _stand_in(self, shape: TableShape) -> sa.Table:
        found = self.stand_ins.get(shape)
        if found is not None:
            return found
        spec, rules = shape.renamed()
        metadata = sa.MetaData(naming_convention=dict(self.naming_convention))
        referred: dict[str, list[str]] = {}
        for fk in spec.foreign_keys:
            if fk.ref_table != spec.name:
                columns = referred.setdefault(fk.ref_table, [])
                columns += [c for c in fk.ref_columns if c not in columns]
        for name, columns in referred.items():
            # Only their names reach the referring table's DDL (its own columns carry their types).
            sa.Table(name, metadata, *(sa.Column(c, sa.Integer()) for c in columns))
        stand_in = self.stand_ins[shape] = self.build(metadata, spec, rules)
        return stand_in


def _element(table: sa.Table, part: tuple[Any, ...]) -> Any:
    kind = part[0]
    if kind == "table":
        return CreateTable(table)
    if kind == "table comment":
        return SetTableComment(table) if table.comment is not None else None
    if kind == "column comment":
        column = table.c.get(part[1])
        return SetColumnComment(column) if column is not None and column.comment is not None else None
    index = next((i for i in table.indexes if i.name == part[1]), None)
    return CreateIndex(index) if index is not None else None


__all__ = ["SHAPE_INFO", "DdlShapes", "TableShape", "fill_in", "frozen", "spec_keys_of", "table_shape"]

"""Keys MariaDB/MySQL cannot hold (pure: rendered metadata → diagnostics and byte counts).

InnoDB refuses any index key longer than 3,072 bytes (DYNAMIC row format, MariaDB 10.11's and
MySQL 8's default), counting each character of a utf8mb4 VARCHAR as 4 bytes: a natural key
`(a0 VARCHAR(1000), a2 SMALLINT)` is 4,002 bytes and `CREATE TABLE` fails ("Specified key was too
long"; fuzz9pg's model 88). A non-unique index can key a prefix of its text columns
(`index_render._mysql` does), but a primary key, a unique rule or a foreign key cannot: a prefix
changes what is unique, and a foreign key needs the whole key on both sides. So the plan refuses
such a key with PP484 at the attribute that makes it too long, rather than emit DDL that fails
(MariaDB 10.4+ would turn a long UNIQUE into a hash, which MySQL 8 refuses and no foreign key can
reference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import sqlalchemy as sa

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import RequirementsModel
from polyplan.stores.relational.spec import TableSpec

MYSQL_MAX_KEY_BYTES = 3072  # InnoDB, DYNAMIC row format
# Bytes of one utf8mb4 character in an InnoDB key.
UTF8MB4_BYTES = 4
# A type this module does not know: counted high, so that a refusal errs on the safe side.
UNKNOWN_BYTES = 16


def _decimal_bytes(digits: int) -> int:
    # MariaDB packs 9 digits into 4 bytes, the rest by its leftover-digits table.
    leftover = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
    return 4 * (digits // 9) + leftover[digits % 9]


def mysql_key_bytes(column: sa.Column[object]) -> int | None:
    """Bytes `column` takes in an InnoDB index key (utf8mb4); None for TEXT, BLOB and JSON, which
    a key can hold only by a prefix."""
    kind = column.type
    if isinstance(kind, sa.Uuid):
        return 32 * UTF8MB4_BYTES  # CHAR(32) hex
    if isinstance(kind, sa.Text | sa.LargeBinary | sa.JSON) or (isinstance(kind, sa.String) and kind.length is None):
        return None
    if isinstance(kind, sa.String):
        return UTF8MB4_BYTES * (kind.length or 0)
    if isinstance(kind, sa.Boolean):
        return 1
    if isinstance(kind, sa.SmallInteger):
        return 2
    if isinstance(kind, sa.BigInteger):
        return 8
    if isinstance(kind, sa.Integer):
        return 4
    if isinstance(kind, sa.Float):
        return 8
    if isinstance(kind, sa.Numeric):
        precision, scale = kind.precision or 10, kind.scale or 0
        return _decimal_bytes(precision - scale) + _decimal_bytes(scale)
    if isinstance(kind, sa.DateTime):
        return 8
    if isinstance(kind, sa.Date):
        return 3
    return UNKNOWN_BYTES


def key_bytes(columns: Sequence[sa.Column[object]]) -> int | None:
    """Bytes of a key over `columns`; None when one of them has no fixed key length."""
    sizes = [mysql_key_bytes(c) for c in columns]
    return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def _model_path(
    model: RequirementsModel, spec: TableSpec, column: str, tables: dict[str, TableSpec], depth: int = 0
) -> str:
    """The model line a column comes from: `entities.E.attributes.A`; for a foreign key's column,
    the parent's column it copies (the attribute whose length the key inherits); else the table's
    entity or relationship."""
    for fk in spec.foreign_keys:
        parent = tables.get(fk.ref_table)
        if column in fk.columns and parent is not None and depth < len(tables):
            return _model_path(model, parent, fk.ref_columns[fk.columns.index(column)], tables, depth + 1)
    source = spec.column(column).source
    parts = source.split(".")
    if parts[0] in model.entities and len(parts) > 1 and parts[1] in model.entities[parts[0]].attributes:
        return f"entities.{parts[0]}.attributes.{parts[1]}"
    for position, relationship in enumerate(model.relationships):
        if relationship.name == spec.entity:
            return f"relationships.{position}"
    return f"entities.{spec.entity}" if spec.entity in model.entities else ""


def _keys(table: sa.Table) -> list[tuple[str, list[sa.Column[object]]]]:
    """(what, columns) of every key of `table` that must be whole: the primary key, unique rules
    and unique indexes, and each foreign key's own columns (InnoDB indexes them)."""
    found: list[tuple[str, list[sa.Column[object]]]] = []
    if table.primary_key.columns:
        found.append(("primary key", list(table.primary_key.columns)))
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, sa.UniqueConstraint):
            found.append((f"unique rule {constraint.name}", list(constraint.columns)))
        elif isinstance(constraint, sa.ForeignKeyConstraint):
            found.append((f"foreign key {constraint.name}", list(constraint.columns)))
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        if index.unique:
            found.append((f"unique index {index.name}", [c for c in index.columns if isinstance(c, sa.Column)]))
    return found


def key_length_errors(model: RequirementsModel, tables: Sequence[TableSpec], metadata: sa.MetaData) -> list[Diagnostic]:
    """PP484 for each primary key, unique rule or foreign key of the MariaDB/MySQL schema longer
    than InnoDB's 3,072-byte key, at the model attribute with the longest text."""
    found: list[Diagnostic] = []
    by_name = {spec.name: spec for spec in tables}
    for spec in tables:
        table = metadata.tables.get(spec.name)
        if table is None:
            continue
        for what, columns in _keys(table):
            size = key_bytes(columns)
            if size is None or size <= MYSQL_MAX_KEY_BYTES or not columns:
                continue
            longest = max(columns, key=lambda c: (mysql_key_bytes(c) or 0, c.name))
            other = size - (mysql_key_bytes(longest) or 0)
            fits = max(0, math.floor((MYSQL_MAX_KEY_BYTES - other) / UTF8MB4_BYTES))
            names = ", ".join(c.name for c in columns)
            path = _model_path(model, spec, longest.name, by_name)
            # A foreign key's column copies its parent's attribute: that is the one to shorten.
            attribute = path.rsplit(".", 1)[1] if ".attributes." in path else longest.name
            found.append(
                Diagnostic(
                    "PP484",
                    f"MariaDB/MySQL cannot create table {spec.name}: its {what} ({names}) takes {size:,} bytes "
                    f"in utf8mb4, past InnoDB's {MYSQL_MAX_KEY_BYTES:,}-byte index key, and a prefix would change "
                    f"what it makes unique; give {attribute} a max_length of at most {fits:,}, or give the "
                    "entity a surrogate key (key: {kind: surrogate}) and keep the long attributes out of its keys "
                    "and unique rules",
                    path,
                    Severity.ERROR,
                )
            )
    return found


__all__ = ["MYSQL_MAX_KEY_BYTES", "UTF8MB4_BYTES", "key_bytes", "key_length_errors", "mysql_key_bytes"]

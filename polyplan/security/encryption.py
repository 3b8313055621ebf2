"""Encrypted PII columns in the relational DDL: `relational/<engine>/encryption.sql` (pure).

With `security.encrypt_pii`, every relational column holding a PII attribute gets, beside it:

* a ciphertext column `<column>_enc` (BYTEA / VARBINARY): either an **envelope** written by the
  application (AES-256-GCM under a per-value data key, the data key wrapped by a key-encryption
  key that never reaches a database: `polyplan.security.envelope`), or, on PostgreSQL where a
  pattern ranges over the attribute, searches it by prefix or sorts by it, **pgcrypto**
  (`pgp_sym_encrypt` with a key the application sets per session, so the database can decrypt
  to filter and sort; still no index: PP409);
* a keyed-hash column `<column>_hmac` (HMAC-SHA-256, 32 bytes, under a second key held outside the
  database) when the attribute is found by equality or kept unique: the unique rule and the
  lookup index move to it.

The file is a migration in three phases: **expand** (add the columns), **backfill** (the
application writes ciphertext and hashes of the existing rows; pgcrypto columns are filled by
SQL run with the key set in the session), **contract** (the plaintext column is emptied and held
empty by a CHECK, its indexes and unique rules are replaced by ones on the keyed hash, and the
new columns become NOT NULL where the attribute is required). The plaintext column stays, always
NULL, so that `security.sql` (tenant views, audit triggers, column grants) applies unchanged
before or after; a later migration drops it once nothing names it.

SQLite is not covered: it can alter no constraint in place (a table rebuild) and has no
database-side cryptography; the plan says so with PP446.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import AddConstraint, CreateColumn, CreateIndex, DropIndex

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.migrate.sql import compile_ddl, quote
from polyplan.model.schema import RequirementsModel, Sensitivity, TypeName
from polyplan.security.design import PGCRYPTO, encryption_method, equality_lookups
from polyplan.stores.relational.design import constraint_name, fit
from polyplan.stores.relational.render import build_metadata, header
from polyplan.stores.relational.spec import IndexKind, TableSpec

# What erasure.sql writes into a required ciphertext column of an anonymized row: this prefix and
# the row's key. It never opens as an envelope (no version byte); the application shows the value
# as erased. Kept here, not in `envelope` (which needs `cryptography`), so that planning runs on a
# light install.
ERASED_PREFIX = b"erased-"

ENCRYPTION_ENGINES = ("postgresql", "mysql")
PHASES = ("expand", "backfill", "contract")
KEY_SETTING = "app.pii_key"  # PostgreSQL session setting holding the pgcrypto key (never stored)
HMAC_BYTES = 32
# Envelope layout (polyplan.security.envelope): version 1 B, wrapped data key (nonce 12 + key 32 +
# tag 16), nonce 12, ciphertext (UTF-8 bytes of the value), tag 16.
ENVELOPE_OVERHEAD = 1 + 60 + 12 + 16
VARBINARY_LIMIT = 16_000  # past this a MariaDB row no longer fits InnoDB's 64 KiB: LONGBLOB


@dataclass(frozen=True)
class EncryptedColumn:
    """One PII column and what replaces it."""

    table: str
    column: str  # the plaintext column, emptied by the contract phase
    source: str  # Entity.attribute
    pii: Sensitivity
    method: str  # envelope | pgcrypto
    ciphertext: str
    keyed_hash: str | None
    required: bool  # the plaintext column was NOT NULL: so are its replacements

    @property
    def context(self) -> str:
        """Associated data bound into every envelope: a ciphertext moved to another column fails to open."""
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class EncryptionLayout:
    """One engine's encryption migration, by phase, and the columns it creates."""

    engine: str
    columns: tuple[EncryptedColumn, ...]
    phases: dict[str, tuple[str, ...]]
    uniques: dict[str, tuple[tuple[str, ...], ...]]  # table → unique groups now on the keyed hashes


def _max_bytes(spec: TableSpec, column: str) -> int | None:
    attribute = spec.column(column).attribute
    if attribute.type is TypeName.STRING and attribute.max_length is not None:
        return attribute.max_length * 4 + ENVELOPE_OVERHEAD  # utf8mb4: up to 4 bytes a character
    if attribute.type in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT, TypeName.BOOLEAN):
        return 64 + ENVELOPE_OVERHEAD
    if attribute.type in (TypeName.DATE, TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ, TypeName.UUID, TypeName.ENUM):
        return 64 + ENVELOPE_OVERHEAD
    return None


def _binary(engine: str, size: int | None) -> sa.types.TypeEngine[Any]:
    if engine == "postgresql":
        return sa.LargeBinary()  # BYTEA: no length to declare
    if size is not None and size <= VARBINARY_LIMIT:
        return mysql.VARBINARY(size)
    return mysql.LONGBLOB()


def _hash_type(engine: str) -> sa.types.TypeEngine[Any]:
    return sa.LargeBinary() if engine == "postgresql" else mysql.BINARY(HMAC_BYTES)


def encrypted_columns(
    model: RequirementsModel, tables: Sequence[TableSpec], engine: str
) -> tuple[tuple[EncryptedColumn, ...], list[Diagnostic]]:
    """The PII columns `encryption.sql` protects on `engine`, and PP445 for those it cannot."""
    found: list[EncryptedColumn] = []
    diagnostics: list[Diagnostic] = []
    if not model.security.encrypt_pii:
        return (), diagnostics
    for spec in tables:
        keys = set(spec.primary_key) | {c for fk in spec.foreign_keys for c in fk.columns}
        taken = {c.name for c in spec.columns}
        for column in spec.columns:
            if column.attribute.pii is Sensitivity.NONE:
                continue
            entity, _, attribute = column.source.partition(".")
            if column.name in keys:
                # A key is compared, joined and referenced by every engine: ciphertext cannot be one.
                diagnostics.append(
                    Diagnostic(
                        "PP445",
                        f"{spec.name}.{column.name} holds PII ({column.attribute.pii.value}) but is a primary or "
                        "foreign key: it stays in clear; key the table by a surrogate id instead",
                        f"entities.{entity}.attributes.{attribute}" if entity in model.entities else "security",
                        Severity.WARNING,
                    )
                )
                continue
            grouped = any(column.name in group for group in spec.uniques)
            lookup = grouped or column.attribute.unique or attribute in equality_lookups(model, entity)
            ciphertext = _fresh(fit(f"{column.name}_enc"), taken)
            keyed_hash = _fresh(fit(f"{column.name}_hmac"), taken) if lookup else None
            found.append(
                EncryptedColumn(
                    spec.name,
                    column.name,
                    column.source,
                    column.attribute.pii,
                    encryption_method(model, entity, attribute, engine),
                    ciphertext,
                    keyed_hash,
                    not column.nullable,
                )
            )
    return tuple(found), diagnostics


def _fresh(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate = fit(f"{name}_{counter}")
        counter += 1
    taken.add(candidate)
    return candidate


class _Renderer:
    def __init__(self, model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> None:
        self.model = model
        self.tables = {t.name: t for t in tables}
        self.engine = engine
        self.metadata = build_metadata(list(tables), engine).metadata
        self.columns, _ = encrypted_columns(model, tables, engine)
        self.phases: dict[str, list[str]] = {phase: [] for phase in PHASES}
        self.uniques: dict[str, tuple[tuple[str, ...], ...]] = {}

    def q(self, name: str) -> str:
        return quote(self.engine, name)

    def add_column(self, table: str, name: str, type_: sa.types.TypeEngine[Any]) -> None:
        column = sa.Column(name, type_, nullable=True)
        sa.Table(table, sa.MetaData(), column)
        self.phases["expand"].append(
            f"ALTER TABLE {self.q(table)} ADD COLUMN {compile_ddl(CreateColumn(column), self.engine)}"
        )

    def set_not_null(self, table: str, name: str, type_: sa.types.TypeEngine[Any]) -> None:
        if self.engine == "postgresql":
            self.phases["contract"].append(f"ALTER TABLE {self.q(table)} ALTER COLUMN {self.q(name)} SET NOT NULL")
            return
        column = sa.Column(name, type_, nullable=False)
        sa.Table(table, sa.MetaData(), column)
        self.phases["contract"].append(
            f"ALTER TABLE {self.q(table)} MODIFY {compile_ddl(CreateColumn(column), self.engine)}"
        )

    def drop_not_null(self, item: EncryptedColumn) -> None:
        """The plaintext column takes no value any more: no NOT NULL and no default (a default would
        be a value in clear, refused by the CHECK; MariaDB's MODIFY without DEFAULT drops it)."""
        if self.engine == "postgresql":
            if self.tables[item.table].column(item.column).attribute.default is not None:
                self.phases["contract"].append(
                    f"ALTER TABLE {self.q(item.table)} ALTER COLUMN {self.q(item.column)} DROP DEFAULT"
                )
            self.phases["contract"].append(
                f"ALTER TABLE {self.q(item.table)} ALTER COLUMN {self.q(item.column)} DROP NOT NULL"
            )
            return
        source = self.metadata.tables[item.table].c[item.column]
        column = sa.Column(item.column, source.type, nullable=True, comment=source.comment)
        sa.Table(item.table, sa.MetaData(), column)
        self.phases["contract"].append(
            f"ALTER TABLE {self.q(item.table)} MODIFY {compile_ddl(CreateColumn(column), self.engine)}"
        )

    def expand(self) -> None:
        if any(c.method == PGCRYPTO for c in self.columns):
            self.phases["expand"].append("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        for item in self.columns:
            self.add_column(
                item.table, item.ciphertext, _binary(self.engine, _max_bytes(self.tables[item.table], item.column))
            )
            if item.keyed_hash:
                self.add_column(item.table, item.keyed_hash, _hash_type(self.engine))

    def backfill(self) -> None:
        for item in self.columns:
            if item.method != PGCRYPTO:
                continue
            # The key lives in the session only (SET app.pii_key = '...' by whoever runs the backfill).
            self.phases["backfill"].append(
                f"UPDATE {self.q(item.table)} SET {self.q(item.ciphertext)} = "
                f"pgp_sym_encrypt({self.q(item.column)}::text, current_setting('{KEY_SETTING}'), 'cipher-algo=aes256')\n"
                f"WHERE {self.q(item.column)} IS NOT NULL"
            )

    def contract(self) -> None:
        by_table: dict[str, list[EncryptedColumn]] = {}
        for item in self.columns:
            by_table.setdefault(item.table, []).append(item)
        for table_name, items in by_table.items():
            table = self.metadata.tables[table_name]
            spec = self.tables[table_name]
            replaced = {i.column: i for i in items}
            # Unique rules and indexes on the keyed hash first: MariaDB refuses to drop an index that
            # a foreign key uses until another index leads with the same columns.
            self.rebuild(table_name, spec, replaced)
            # Then the indexes and unique rules on the plaintext, which can serve nothing any more.
            for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
                names = {c.name for c in getattr(constraint, "columns", [])}
                if not names & set(replaced):
                    continue
                if isinstance(constraint, sa.UniqueConstraint):
                    what = "INDEX" if self.engine == "mysql" else "CONSTRAINT"
                    self.phases["contract"].append(
                        f"ALTER TABLE {self.q(table_name)} DROP {what} {self.q(str(constraint.name))}"
                    )
                elif isinstance(constraint, sa.CheckConstraint):
                    # A rule on the plaintext (pattern, length, range) cannot hold on ciphertext: the
                    # application validates before it encrypts.
                    self.phases["contract"].append(
                        f"ALTER TABLE {self.q(table_name)} DROP CONSTRAINT {self.q(str(constraint.name))}"
                    )
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                if {c.name for c in index.columns} & set(replaced):
                    self.phases["contract"].append(compile_ddl(DropIndex(index), self.engine))
            for item in items:
                self.drop_not_null(item)
                self.phases["contract"].append(f"UPDATE {self.q(table_name)} SET {self.q(item.column)} = NULL")
                guard = fit(constraint_name("ck", table_name, item.column, "encrypted"))
                self.phases["contract"].append(
                    f"ALTER TABLE {self.q(table_name)} ADD CONSTRAINT {self.q(guard)} CHECK ({self.q(item.column)} IS NULL)"
                )
                if item.required:
                    self.set_not_null(table_name, item.ciphertext, _binary(self.engine, _max_bytes(spec, item.column)))
                    if item.keyed_hash:
                        self.set_not_null(table_name, item.keyed_hash, _hash_type(self.engine))

    def rebuild(self, table_name: str, spec: TableSpec, replaced: dict[str, EncryptedColumn]) -> None:
        """Unique rules and equality indexes again, with each plaintext column replaced by its keyed hash."""
        hashed = {c: i.keyed_hash for c, i in replaced.items() if i.keyed_hash}
        columns = [sa.Column(c.name, sa.Integer()) for c in spec.columns] + [
            sa.Column(h, _hash_type(self.engine)) for h in hashed.values()
        ]
        table = sa.Table(table_name, sa.MetaData(), *columns)
        groups = list(spec.uniques) + [
            (c,) for c in hashed if spec.column(c).attribute.unique and (c,) not in spec.uniques
        ]
        moved: list[tuple[str, ...]] = []
        for group in groups:
            if not set(group) & set(replaced):
                continue
            if not set(group) & set(hashed):
                continue
            new = tuple(hashed.get(c, c) for c in group)
            moved.append(new)
            unique = sa.UniqueConstraint(*new, name=fit(constraint_name("uq", table_name, *new)))
            table.append_constraint(unique)
            self.phases["contract"].append(compile_ddl(AddConstraint(unique), self.engine))
        self.uniques[table_name] = tuple(moved)
        for index in spec.indexes:
            names = [c.name for c in index.columns]
            if index.kind not in (IndexKind.BTREE, IndexKind.UNIQUE) or not set(names) & set(replaced):
                continue
            # Only the columns the pattern fixes by equality still serve; a hash has no order.
            lead = names[: max(index.equality, 1)]
            if not all(c in hashed or c not in replaced for c in lead):
                continue
            new = tuple(hashed.get(c, c) for c in lead)
            if new in moved:
                continue  # the unique rule's index serves it
            moved.append(new)
            rebuilt = sa.Index(fit(f"ix_{table_name}_{'_'.join(new)}"), *[table.c[c] for c in new])
            self.phases["contract"].append(compile_ddl(CreateIndex(rebuilt), self.engine))

    def run(self) -> EncryptionLayout:
        self.expand()
        self.backfill()
        self.contract()
        return EncryptionLayout(
            self.engine, self.columns, {p: tuple(s) for p, s in self.phases.items()}, dict(self.uniques)
        )


def encryption_layout(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> EncryptionLayout:
    """The encryption migration of one engine (postgresql or mysql)."""
    return _Renderer(model, tables, engine).run()


def render_encryption_sql(model: RequirementsModel, layout: EncryptionLayout) -> str:
    """`encryption.sql`: the three phases, each opened by a `-- phase: NAME` line."""
    notes = [
        "apply after schema.sql; expand, then the application's backfill, then contract.",
        "envelope columns: AES-256-GCM by the application, data key wrapped by a key outside the database;",
        "*_hmac columns: HMAC-SHA-256 under a second key, for equality lookups and unique rules.",
    ]
    if any(c.method == PGCRYPTO for c in layout.columns):
        notes.append(f"pgcrypto columns: SET {KEY_SETTING} = '<key>' in the session that reads or writes them.")
    parts = [header(model, "Encryption of PII columns (encrypt_pii)", layout.engine, notes)]
    for phase in PHASES:
        statements = layout.phases[phase]
        body = "\n\n".join(f"{s};" for s in statements) if statements else "-- nothing to run in SQL"
        if phase == "backfill":
            envelope = [c for c in layout.columns if c.method != PGCRYPTO]
            lines = [
                f"-- application: {c.table}.{c.ciphertext} = envelope({c.column})"
                + (f", {c.keyed_hash} = hmac({c.column})" if c.keyed_hash else "")
                for c in envelope
            ]
            lines += [
                f"-- application: {c.table}.{c.keyed_hash} = hmac({c.column})"
                for c in layout.columns
                if c.method == PGCRYPTO and c.keyed_hash
            ]
            blocks = ["\n".join(lines)] if lines else []
            blocks += [f"{s};" for s in statements]
            body = "\n\n".join(blocks) or "-- nothing to run in SQL"
        parts.append(f"-- phase: {phase}\n\n{body}\n")
    return "\n".join(parts)


def split_phases(text: str) -> dict[str, str]:
    """The SQL of each phase of an emitted encryption.sql."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines(keepends=True):
        if line.startswith("-- phase: "):
            current = line.removeprefix("-- phase: ").strip()
            found[current] = ""
        elif current is not None:
            found[current] += line
    return found

"""Erasure of encrypted PII: what erasure.sql writes into `*_enc` and `*_hmac` columns (pure).

With `security.encrypt_pii`, `encryption.sql` moves every PII column's value into a ciphertext
column (`<column>_enc`) and, for values found by equality or kept unique, a keyed hash
(`<column>_hmac`); the plaintext column is then held NULL by a CHECK. Erasing a subject whose rows
are kept (anonymized) must therefore overwrite those columns too, or the subject's data survives
as ciphertext (openable by whoever holds the key) and as a keyed hash (a lookup by the subject's
email still finds the row). Per column of a kept row:

* a nullable ciphertext or keyed hash becomes NULL;
* a required envelope column gets the marker `erased-<row key>` as bytes: never a valid envelope
  (an envelope opens with version byte 0x01; `polyplan.security.envelope.is_erased` tells it);
* a required pgcrypto column gets that marker encrypted under the session's key (`app.pii_key`),
  so that queries decrypting the column in the database keep working;
* a required keyed hash gets SHA-256 of the marker: 32 bytes, distinct per row (the unique rule
  on the hash holds), and no HMAC of any value under the application's key.

The plaintext column itself is overwritten only where it still holds a value (`CASE WHEN col IS
NULL`), so one erasure.sql serves a schema before and after encryption.sql's contract phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SADialect

from polyplan.model.schema import RequirementsModel
from polyplan.security.design import PGCRYPTO
from polyplan.security.encryption import (
    ENCRYPTION_ENGINES,
    ERASED_PREFIX,
    KEY_SETTING,
    EncryptedColumn,
    encrypted_columns,
)
from polyplan.stores.relational.render import build_metadata
from polyplan.stores.relational.spec import TableSpec


def cipher_columns(model: RequirementsModel, tables: Sequence[TableSpec], engine: str) -> tuple[EncryptedColumn, ...]:
    """The encrypted columns erasure.sql must overwrite on `engine` (none without encrypt_pii, or on SQLite)."""
    if engine not in ENCRYPTION_ENGINES or not model.security.encrypt_pii:
        return ()
    columns, _ = encrypted_columns(model, tables, engine)
    return columns


def cipher_metadata(tables: Sequence[TableSpec], engine: str, columns: Sequence[EncryptedColumn]) -> sa.MetaData:
    """The engine's tables with the ciphertext and keyed-hash columns encryption.sql adds (a fresh
    MetaData: the schema's own is shared by the other renderers)."""
    metadata = build_metadata(list(tables), engine).metadata
    for item in columns:
        table = metadata.tables[item.table]
        for name in (item.ciphertext, item.keyed_hash):
            if name:
                table.append_column(sa.Column(name, sa.LargeBinary(), nullable=not item.required))
    return metadata


def marker(target: sa.Table, spec: TableSpec, dialect: SADialect) -> sa.ColumnElement[Any]:
    """`erased-<row key>`: the text every overwrite of an encrypted column derives from."""
    prefix = ERASED_PREFIX.decode()
    literal = sa.literal_column("'" + prefix + "'", type_=sa.String())
    return literal + sa.cast(target.c[spec.primary_key[0]], sa.String())


def _as_bytes(text: sa.ColumnElement[Any], dialect: SADialect) -> sa.ColumnElement[Any]:
    if dialect.name == "postgresql":
        return sa.func.convert_to(text, sa.literal_column("'UTF8'"), type_=sa.LargeBinary())
    return sa.cast(text, sa.LargeBinary())  # MariaDB: CAST(... AS BINARY)


def _hashed(text: sa.ColumnElement[Any], dialect: SADialect) -> sa.ColumnElement[Any]:
    if dialect.name == "postgresql":
        return sa.func.sha256(_as_bytes(text, dialect), type_=sa.LargeBinary())
    return sa.func.unhex(sa.func.sha2(text, sa.literal_column("256")), type_=sa.LargeBinary())


def cipher_values(
    target: sa.Table, spec: TableSpec, columns: Sequence[EncryptedColumn], dialect: SADialect
) -> dict[str, Any]:
    """The SET clause of a kept row's encrypted columns: ciphertexts and keyed hashes."""
    values: dict[str, Any] = {}
    text = marker(target, spec, dialect)
    for item in columns:
        if item.table != spec.name:
            continue
        if not item.required:
            values[item.ciphertext] = sa.null()
        elif item.method == PGCRYPTO:
            key = sa.func.current_setting(sa.literal_column(f"'{KEY_SETTING}'"))
            values[item.ciphertext] = sa.func.pgp_sym_encrypt(
                text, key, sa.literal_column("'cipher-algo=aes256'"), type_=sa.LargeBinary()
            )
        else:
            values[item.ciphertext] = _as_bytes(text, dialect)
        if item.keyed_hash:
            values[item.keyed_hash] = _hashed(text, dialect) if item.required else sa.null()
    return values


def guarded(target: sa.Table, column: str, value: Any) -> sa.ColumnElement[Any]:
    """`value` where the plaintext column still holds one; NULL (as the CHECK of the contract phase
    demands) where encryption.sql emptied it."""
    return sa.case((target.c[column].is_(None), sa.null()), else_=value)


def needs_key(columns: Sequence[EncryptedColumn], kept_tables: Sequence[str]) -> bool:
    """Whether erasure.sql encrypts a placeholder in the database (the session must set the key)."""
    return any(c.method == PGCRYPTO and c.required and c.table in kept_tables for c in columns)

"""Proofs of `relational/<engine>/encryption.sql` on a real server.

An `EncryptionHarness` reads the plan folder (layout, seed, schema.sql and encryption.sql, which
must equal the harness's own rendering), makes a throw-away database with the seed rows in
clear, then runs the migration the way a deployment would: expand; the backfill, the envelope and
keyed-hash columns written here with keys this run generates (the application's side), pgcrypto
columns by the file's SQL with the key set in the session only; contract. Then:

* a raw SELECT of every ciphertext column reveals no seeded value, and every plaintext column is
  empty (and refuses a value);
* with the keys every ciphertext opens to its seeded value; with another key none does;
* a lookup by keyed hash finds exactly the seeded row, and the unique rule on the hash refuses
  a second row with the same value.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from polyplan.security.design import PGCRYPTO
from polyplan.security.encryption import (
    KEY_SETTING,
    EncryptedColumn,
    EncryptionLayout,
    encryption_layout,
    render_encryption_sql,
    split_phases,
)
from polyplan.security.encryption_testgen import DATA_FILE, indexes_from_data
from polyplan.security.envelope import Envelope
from polyplan.seed.relational import Row
from polyplan.stores.relational.connect import apply_sql, scratch_database, split_statements
from polyplan.validate.relational import Harness

ENCRYPTION_FILE = "encryption.sql"


MIN_LEAK_BYTES = 8  # shortest seeded value searched for inside ciphertext


@dataclass
class EncryptionHarness:
    """One engine's encryption checks, read from a plan folder."""

    base: Harness
    emitted: str
    keys: Envelope = field(default_factory=Envelope.generate)
    pg_key: str = field(default_factory=lambda: secrets.token_hex(24))

    @classmethod
    def from_plan_folder(cls, tests_dir: Path, engine: str) -> EncryptionHarness:
        base = Harness.from_plan_folder(tests_dir, engine)
        # The relational layout file has no indexes; encryption.sql drops and rebuilds some.
        indexes = indexes_from_data(json.loads((tests_dir / DATA_FILE).read_text(encoding="utf-8")))
        base.tables = [replace(t, indexes=indexes.get(t.name, ())) for t in base.tables]
        emitted = (tests_dir.parent / "relational" / engine / ENCRYPTION_FILE).read_text(encoding="utf-8")
        return cls(base, emitted)

    @property
    def engine(self) -> str:
        return self.base.engine

    @cached_property
    def layout(self) -> EncryptionLayout:
        return encryption_layout(self.base.model, self.base.tables, self.engine)

    def emitted_matches(self) -> bool:
        """Whether the emitted encryption.sql is exactly what this harness runs."""
        return render_encryption_sql(self.base.model, self.layout) == self.emitted

    def table(self, name: str) -> sa.Table:
        """A seeded table with its ciphertext and keyed-hash columns."""
        source = self.base.metadata.tables[name]
        extra = [
            sa.Column(n, sa.LargeBinary())
            for c in self.layout.columns
            if c.table == name
            for n in (c.ciphertext, c.keyed_hash)
            if n
        ]
        return sa.Table(name, sa.MetaData(), *[sa.Column(c.name, c.type) for c in source.columns], *extra)

    def rows(self, item: EncryptedColumn) -> list[Row]:
        """Seeded rows of `item`'s table that hold a value in it."""
        return [row for row in self.base.loaded[item.table] if row[item.column] is not None]

    def key_of(self, table: sa.Table, row: Row) -> sa.ColumnElement[bool]:
        return sa.and_(*[table.c[c] == row[c] for c in self._identity(table.name)])

    def _identity(self, table: str) -> tuple[str, ...]:
        """The columns that find a seeded row once its PII columns hold ciphertext."""
        return self.base.by_name[table].identity({c.column for c in self.layout.columns if c.table == table})

    # --- running the migration ------------------------------------------------------------------

    @contextmanager
    def database(self, url: str) -> Iterator[sa.Engine]:
        """A scratch database with the seed rows, encrypted by the emitted migration."""
        phases = split_phases(self.emitted)
        with scratch_database(url) as engine:
            self.base.load(engine)
            apply_sql(engine, phases["expand"])
            self.finish(engine)
            yield engine

    def finish(self, engine: sa.Engine) -> None:
        """Backfill and contract on a database whose expand phase already ran (with security.sql
        applied in between, as a deployment that adds encryption to a secured schema does)."""
        phases = split_phases(self.emitted)
        self.backfill(engine, phases["backfill"])
        apply_sql(engine, phases["contract"])

    def backfill(self, engine: sa.Engine, sql: str) -> None:
        """The backfill phase: the file's SQL (pgcrypto columns) with the key set in this session
        only, then the application's side (envelopes and keyed hashes) for every seeded row."""
        with engine.begin() as connection:
            statements = split_statements(sql)
            if statements:
                self.set_key(connection, self.pg_key)
                cursor = connection.connection.cursor()  # no parameters: a `%` is not a placeholder
                try:
                    for statement in statements:
                        cursor.execute(statement)
                finally:
                    cursor.close()
            for item in self.layout.columns:
                table = self.table(item.table)
                for row in self.rows(item):
                    value = str(row[item.column])
                    values: dict[str, Any] = {}
                    if item.method != PGCRYPTO:
                        values[item.ciphertext] = self.keys.encrypt(value, item.context)
                    if item.keyed_hash:
                        values[item.keyed_hash] = self.keys.keyed_hash(value)
                    if values:
                        connection.execute(sa.update(table).where(self.key_of(table, row)).values(values))

    def set_key(self, connection: sa.Connection, key: str) -> None:
        connection.execute(sa.text("SELECT set_config(:name, :value, true)"), {"name": KEY_SETTING, "value": key})

    # --- checks ---------------------------------------------------------------------------------

    def raw_leaks(self, engine: sa.Engine) -> dict[str, int]:
        """Per encrypted column: seeded values found in a raw SELECT (ciphertext bytes or the
        emptied plaintext column). Must all be 0."""
        found: dict[str, int] = {}
        with engine.connect() as connection:
            for item in self.layout.columns:
                table = self.table(item.table)
                stored = connection.execute(
                    sa.select(table.c[item.column], table.c[item.ciphertext], *self._pk(table))
                ).all()
                # Random ciphertext holds any given 2-byte string now and then: a short value found
                # in it proves nothing (a full CI run once counted a 1-byte-ish street as a leak).
                # From 8 bytes on, a chance match is below 1 in 10^15 per blob.
                values = {
                    encoded
                    for row in self.rows(item)
                    if len(encoded := str(row[item.column]).encode("utf-8")) >= MIN_LEAK_BYTES
                }
                leaks = sum(1 for plain, _, *_ in stored if plain is not None)
                leaks += sum(1 for _, blob, *_ in stored if blob is not None and any(v in bytes(blob) for v in values))
                found[item.context] = leaks
        return found

    def _pk(self, table: sa.Table) -> list[sa.Column[Any]]:
        return [table.c[c] for c in self._identity(table.name)]

    def round_trip(
        self, engine: sa.Engine, envelope: Envelope | None = None, pg_key: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Per encrypted column: (values that decrypt to their seeded value, seeded values)."""
        envelope = envelope or self.keys
        found: dict[str, tuple[int, int]] = {}
        for item in self.layout.columns:
            table = self.table(item.table)
            rows = self.rows(item)
            opened = 0
            with engine.connect() as connection, connection.begin():
                if item.method == PGCRYPTO:
                    self.set_key(connection, pg_key or self.pg_key)
                for row in rows:
                    where = self.key_of(table, row)
                    if item.method == PGCRYPTO:
                        opened += self._pg_opens(connection, table.c[item.ciphertext], where, str(row[item.column]))
                        continue
                    blob = connection.execute(sa.select(table.c[item.ciphertext]).where(where)).scalar_one()
                    with suppress(InvalidTag):  # a wrong key or column: not opened
                        opened += envelope.decrypt(bytes(blob), item.context) == str(row[item.column])
            found[item.context] = (opened, len(rows))
        return found

    def _pg_opens(self, connection: sa.Connection, column: sa.Column[Any], where: Any, value: str) -> bool:
        plain = sa.func.pgp_sym_decrypt(column, sa.func.current_setting(KEY_SETTING), type_=sa.Text())
        savepoint = connection.begin_nested()
        try:
            return bool(connection.execute(sa.select(plain).where(where)).scalar_one() == value)
        except sa.exc.DBAPIError:
            return False  # wrong key: pgcrypto refuses to decrypt
        finally:
            savepoint.rollback()

    def lookups(self, engine: sa.Engine, per_column: int = 20) -> dict[str, tuple[int, int]]:
        """Per keyed-hash column: (lookups by hash that found exactly their row, lookups made)."""
        found: dict[str, tuple[int, int]] = {}
        with engine.connect() as connection:
            for item in self.layout.columns:
                if not item.keyed_hash:
                    continue
                table = self.table(item.table)
                rows = self.rows(item)[:per_column]
                hits = 0
                for row in rows:
                    digest = self.keys.keyed_hash(str(row[item.column]))
                    keys = connection.execute(
                        sa.select(*self._pk(table)).where(table.c[item.keyed_hash] == digest)
                    ).all()
                    spec = self.base.by_name[item.table]
                    hits += [tuple(k) for k in keys] == [tuple(row[c] for c in self._identity(spec.name))] or (
                        len(keys) >= 1 and not self._unique(item)
                    )
                found[item.context] = (hits, len(rows))
        return found

    def _unique(self, item: EncryptedColumn) -> bool:
        return any(item.keyed_hash in group and len(group) == 1 for group in self.layout.uniques.get(item.table, ()))

    def duplicate_refused(self, engine: sa.Engine) -> dict[str, bool]:
        """Per unique rule moved to a keyed hash: a copy of a seeded row's unique values is refused."""
        found: dict[str, bool] = {}
        for table_name, groups in self.layout.uniques.items():
            table = self.table(table_name)
            for group in groups:
                with engine.connect() as connection:
                    transaction = connection.begin()
                    row = connection.execute(sa.select(table).limit(1)).mappings().one()
                    spec = self.base.by_name[table_name]
                    copy = dict(row)
                    for column in spec.primary_key:
                        copy[column] = self.base.valid_row(table_name)[1][column]
                    try:
                        connection.execute(sa.insert(table).values(copy))
                        found[f"{table_name}({', '.join(group)})"] = False
                    except sa.exc.IntegrityError:
                        found[f"{table_name}({', '.join(group)})"] = True
                    finally:
                        transaction.rollback()
        return found

    def plaintext_refused(self, engine: sa.Engine) -> dict[str, bool]:
        """Per encrypted column: writing a value in clear is refused by the database."""
        found: dict[str, bool] = {}
        for item in self.layout.columns:
            table = self.table(item.table)
            row = self.rows(item)[0]
            with engine.connect() as connection:
                transaction = connection.begin()
                try:
                    connection.execute(sa.update(table).where(self.key_of(table, row)).values({item.column: "clear"}))
                    found[item.context] = False
                except (sa.exc.IntegrityError, sa.exc.OperationalError):
                    found[item.context] = True
                finally:
                    transaction.rollback()
        return found

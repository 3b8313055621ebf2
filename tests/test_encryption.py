"""Encrypted PII columns (issue 10): `relational/<engine>/encryption.sql` from `encrypt_pii`, proven
on the real PostgreSQL and MariaDB servers: a raw SELECT reveals no value, the keys round-trip
every value (another key opens none), the keyed-hash lookup finds the row and the unique rule
moved to the hash still refuses a duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.design import PGCRYPTO
from polyplan.security.encryption import KEY_SETTING, split_phases
from polyplan.security.envelope import Envelope
from polyplan.testkit import resolve_url
from polyplan.validate.encryption import EncryptionHarness
from polyplan.validate.security import SecurityHarness
from tests.conftest import ROOT, rendered
from tests.test_security import CRM_WITH_CHILD, ENGINES, run_generated

SAAS = ROOT / "scenarios" / "saas.yaml"


def test_envelope_round_trips_and_binds_its_column() -> None:
    keys = Envelope.generate()
    blob = keys.encrypt("ada@example.com", "member.email")
    assert b"ada@example.com" not in blob
    assert keys.decrypt(blob, "member.email") == "ada@example.com"
    assert keys.encrypt("ada@example.com", "member.email") != blob  # a fresh data key and nonce each time
    with pytest.raises(InvalidTag):
        keys.decrypt(blob, "member.name")  # moved to another column: does not open
    with pytest.raises(InvalidTag):
        Envelope.generate().decrypt(blob, "member.email")
    assert keys.keyed_hash("ada@example.com") == keys.keyed_hash("ada@example.com")
    assert keys.keyed_hash("ada@example.com") != Envelope.generate().keyed_hash("ada@example.com")


def test_saas_encryption_sql() -> None:
    files = rendered(SAAS)
    postgresql, mysql = files["relational/postgresql/encryption.sql"], files["relational/mysql/encryption.sql"]
    assert set(split_phases(postgresql)) == {"expand", "backfill", "contract"}
    # Member.email is sorted by a pattern: pgcrypto on PostgreSQL, an envelope on MariaDB.
    assert "pgp_sym_encrypt(email::text, current_setting('app.pii_key')" in postgresql
    assert "ALTER TABLE `member` ADD COLUMN email_enc VARBINARY(1105);" in mysql
    assert "ALTER TABLE `member` ADD COLUMN email_hmac BINARY(32);" in mysql
    for text in (postgresql, mysql):
        assert "UNIQUE (tenant_id, email_hmac);" in text  # the unique rule moved to the keyed hash
        assert "CHECK (email IS NULL);" in text


def test_encryption_warnings() -> None:
    model = """
name: people
entities:
  Person:
    key: {attributes: [passport], kind: natural}
    attributes:
      passport: {type: string, max_length: 20, pii: identifier}
      name: {type: string, max_length: 100, pii: contact, default: unknown}
security: {encrypt_pii: true}
options: {relational_dialects: [postgresql, mysql, sqlite]}
"""
    files, diagnostics = render(plan_text(model, "people.yaml"))
    assert [d.code for d in diagnostics if d.code == "PP445"] == ["PP445"]
    assert "name_enc" in files["relational/postgresql/encryption.sql"]
    assert "passport_enc" not in files["relational/postgresql/encryption.sql"]
    # A default would be a value in clear, refused by the CHECK that keeps the column empty.
    assert "ALTER TABLE person ALTER COLUMN name DROP DEFAULT;" in files["relational/postgresql/encryption.sql"]
    assert "ALTER TABLE person MODIFY name VARCHAR(100) COMMENT" in files["relational/mysql/encryption.sql"]
    _, diagnostics = render(plan_text(model + "engines: {relational: sqlite}\n", "people.yaml"))
    assert "PP446" in {d.code for d in diagnostics}


@pytest.fixture
def harness(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[EncryptionHarness, str]]:
    write_plan(SAAS, tmp_path / "plan")
    yield EncryptionHarness.from_plan_folder(tmp_path / "plan" / "tests", request.param), resolve_url(request.param)


@pytest.mark.parametrize("harness", ENGINES, indirect=True)
def test_encrypted_columns_on_the_real_server(harness: tuple[EncryptionHarness, str]) -> None:
    crypt, url = harness
    assert crypt.emitted_matches()
    with crypt.database(url) as engine:
        leaks = crypt.raw_leaks(engine)
        opened = crypt.round_trip(engine)
        wrong = crypt.round_trip(engine, Envelope.generate(), "not-the-key")
        found = crypt.lookups(engine)
        duplicates = crypt.duplicate_refused(engine)
        clear = crypt.plaintext_refused(engine)
    print(f"{crypt.engine}: leaks {leaks}, opened {opened}, wrong key {wrong}, lookups {found}, {duplicates}")
    assert leaks and all(n == 0 for n in leaks.values())
    assert opened and all(ok == total > 0 for ok, total in opened.values())
    assert all(ok == 0 for ok, _ in wrong.values())
    assert found and all(hits == total > 0 for hits, total in found.values())
    assert duplicates and all(duplicates.values())
    assert clear and all(clear.values())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", ["crm", "saas", "shop"])
def test_generated_encryption_tests_pass(
    engine: str, model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generated tests/test_<engine>_encryption.py pass on the real server: for saas, for shop
    (a table named "order", a flattened object field, a unique email with a pattern check), and for a
    model with an odd PII column name ("full name", searched by prefix: pgcrypto on PostgreSQL)
    and a list child table."""
    source = ROOT / "scenarios" / f"{model}.yaml"
    if model == "crm":
        source = tmp_path / "crm.yaml"
        source.write_text(CRM_WITH_CHILD, encoding="utf-8")
    write_plan(source, tmp_path / "plan")
    assert (tmp_path / "plan" / "tests" / f"test_{engine}_encryption.py").exists()
    run_generated(tmp_path / "plan", f"test_{engine}_encryption.py", engine, monkeypatch)


@pytest.mark.parametrize("engine", ENGINES)
def test_roles_see_ciphertext_as_designed(engine: str, tmp_path: Path) -> None:
    """security.sql and encryption.sql on one database (expand, security.sql, backfill, contract):
    the application, acting for a tenant, reads the ciphertext through what it is granted (the
    tenant view on MariaDB) and opens it; the read-only role may read neither ciphertext nor hash."""
    write_plan(SAAS, tmp_path / "plan")
    tests = tmp_path / "plan" / "tests"
    security = SecurityHarness.from_plan_folder(tests, engine)
    crypt = EncryptionHarness.from_plan_folder(tests, engine)
    url = resolve_url(engine)
    member = next(c for c in crypt.layout.columns if c.context == "member.email")
    rows = crypt.rows(member)[:10]
    opened, refused = 0, 0
    with security.database(url, then=crypt.finish) as database:
        typed = crypt.table("member")  # typed columns: uuids bind as each engine stores them
        relation = sa.table(
            security.security.relation("member"),
            *[sa.column(n, typed.c[n].type) for n in ("id", "tenant_id", member.ciphertext, member.keyed_hash or "")],
        )
        for row in rows:
            with security.session(database, "application", row["tenant_id"]) as connection:
                if member.method == PGCRYPTO:
                    crypt.set_key(connection, crypt.pg_key)
                    value = sa.func.pgp_sym_decrypt(
                        relation.c[member.ciphertext], sa.func.current_setting(KEY_SETTING), type_=sa.Text()
                    )
                    found = connection.execute(sa.select(value).where(relation.c.id == row["id"])).scalar_one()
                else:
                    blob = connection.execute(
                        sa.select(relation.c[member.ciphertext]).where(relation.c.id == row["id"])
                    ).scalar_one()
                    found = crypt.keys.decrypt(bytes(blob), member.context)
                opened += found == row["email"]
        with security.session(database, "readonly") as connection:
            for column in (member.ciphertext, member.keyed_hash or ""):
                savepoint = connection.begin_nested()
                try:
                    connection.execute(sa.select(relation.c[column]))
                except sa.exc.DBAPIError as error:
                    refused += security.denied(error)
                finally:
                    savepoint.rollback()
    assert security.roles_left(url) == []
    assert opened == len(rows) == 10
    assert refused == 2

"""Per-tenant audit and encryption under `tenancy.isolation: schema` (issue 10), on the real PostgreSQL.

`provision_tenant` gives each tenant's copies of the tables what the shared tables get: the audit
triggers of audited entities (rows recorded as `<tenant schema>.<table>` in the shared audit
trail) and the encrypted columns of `encryption.sql` (ciphertext column, plaintext emptied and
checked empty). Two tenants are provisioned by the emitted routine; as each tenant's role, a
workload of inserts, updates and deletes runs on its contacts: the trail holds exactly one row per
change, per tenant, with old and new values and the tenant's role as actor; a plaintext value is
refused by the tenant's copy. MariaDB keeps PP454 for these (no CREATE TRIGGER from a procedure).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.tenant_spaces import tenant_names
from polyplan.testkit import resolve_url
from polyplan.validate.security import SecurityHarness
from tests.test_security import SPACED

pytestmark = pytest.mark.postgresql

MODEL = SPACED.replace("security:\n", "security:\n  audit: [Contact]\n  encrypt_pii: true\n")
ROWS = 6  # contacts inserted per tenant; each updated once, half of them deleted


def test_postgresql_provisions_audit_and_encryption_per_tenant_and_mysql_still_warns() -> None:
    files, diagnostics = render(plan_text(MODEL, "crm.yaml"))
    postgresql = files["relational/postgresql/security.sql"]
    assert "PERFORM set_config('search_path', quote_ident(space) || ', public', true);" in postgresql
    assert "'CREATE TRIGGER contact_audit AFTER INSERT OR UPDATE OR DELETE ON contact" in postgresql
    assert "'ALTER TABLE contact ADD COLUMN \"full name_enc\" BYTEA'" in postgresql
    assert not [d for d in diagnostics if d.code == "PP454"]  # PostgreSQL is the chosen engine
    mysql_model = MODEL.replace("tenancy:", "engines: {relational: mysql}\ntenancy:", 1)
    _, diagnostics = render(plan_text(mysql_model, "crm.yaml"))
    (left,) = [d.message for d in diagnostics if d.code == "PP454"]
    assert left.startswith("mysql: audit triggers and encryption.sql act on the shared database's tables")


def _value(column: dict[str, Any], number: int) -> Any:
    """A value for a NOT NULL column of the contact table."""
    kind = column["type"]
    if isinstance(kind, sa.Uuid):
        return uuid.uuid4()
    if isinstance(kind, sa.Integer):
        return number
    if isinstance(kind, sa.LargeBinary):
        return bytes([1, number])  # stands for an envelope: the application encrypts
    return f"v{number}"


def test_each_tenants_copies_are_audited_and_encrypted(tmp_path: Path) -> None:
    (tmp_path / "crm.yaml").write_text(MODEL, encoding="utf-8")
    write_plan(tmp_path / "crm.yaml", tmp_path / "plan")
    harness = SecurityHarness.from_plan_folder(tmp_path / "plan" / "tests", "postgresql")
    spaces = harness.security.spaces
    assert spaces is not None
    done: dict[str, dict[str, int]] = {}
    refused: dict[str, bool] = {}
    with harness.database(resolve_url("postgresql")) as database:
        before = len(harness.audit_rows(database))
        with database.connect() as connection:  # a seeded row of the shared tenant table
            owner_id = connection.execute(sa.text("SELECT id FROM tenant ORDER BY id LIMIT 1")).scalar_one()
        for tenant, member in harness.members.items():
            space, _ = tenant_names(spaces, tenant)
            columns = {c["name"]: c for c in sa.inspect(database).get_columns("contact", schema=space)}
            assert {"full name", "full name_enc"} <= set(columns)
            needed = [c for c in columns.values() if not c["nullable"] and c.get("default") is None]
            table = sa.table("contact", *[sa.column(n) for n in columns], schema=space)
            counts = {"INSERT": 0, "UPDATE": 0, "DELETE": 0}
            with harness.session(database, member, commit=True) as connection:
                keys = []
                for number in range(ROWS):
                    row = {**{c["name"]: _value(c, number) for c in needed}, "tenant_id": owner_id}
                    connection.execute(sa.insert(table).values(row))
                    keys.append(row["id"])
                    counts["INSERT"] += 1
                for key in keys:
                    connection.execute(sa.update(table).where(table.c.id == key).values(score=99))
                    counts["UPDATE"] += 1
                for key in keys[: ROWS // 2]:
                    connection.execute(sa.delete(table).where(table.c.id == key))
                    counts["DELETE"] += 1
            with harness.session(database, member) as connection:
                row = {**{c["name"]: _value(c, 100) for c in needed}, "tenant_id": owner_id}
                refused[tenant] = _check_refused(connection, table, {**row, "full name": "in clear"})
            done[tenant] = counts
        trail = harness.audit_rows(database)[before:]
    for tenant, member in harness.members.items():
        space, _ = tenant_names(spaces, tenant)
        mine = [r for r in trail if r["table_name"] == f"{space}.contact"]
        assert {op: sum(r["operation"] == op for r in mine) for op in done[tenant]} == done[tenant], tenant
        assert all(r["actor"] == member for r in mine)
        assert all(
            r["new_row"]["score"] == 99 and r["old_row"]["score"] != 99 for r in mine if r["operation"] == "UPDATE"
        )
        assert all(r["old_row"] is None for r in mine if r["operation"] == "INSERT")
        assert all(r["new_row"] is None for r in mine if r["operation"] == "DELETE")
        assert refused[tenant], tenant  # the tenant's copy keeps no plaintext PII
    assert len(trail) == sum(sum(c.values()) for c in done.values())  # nothing else recorded
    print(
        "\npostgresql, schema per tenant: "
        + ", ".join(f"{t}: {c} changes, {sum(c.values())} audit rows" for t, c in done.items())
    )


def _check_refused(connection: sa.Connection, table: Any, row: dict[str, Any]) -> bool:
    """Whether the insert of a plaintext value fails on the tenant copy's CHECK (not on a permission)."""
    savepoint = connection.begin_nested()
    try:
        connection.execute(sa.insert(table).values(row))
    except sa.exc.IntegrityError as error:
        savepoint.rollback()
        return "ck_contact_full_name_encrypted" in str(error)
    savepoint.rollback()
    return False

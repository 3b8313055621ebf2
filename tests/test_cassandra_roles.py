"""Cassandra roles and permissions (`cassandra/roles.cql`, issue 10): what is emitted, what is
warned, and that the real Cassandra parses every statement.

The local Cassandra runs without authentication (AllowAllAuthenticator), so no role can be
created there: every statement is refused as `Unauthorized` ("You have to be logged in"), which
Cassandra answers only after parsing it — a malformed statement gets `SyntaxException` instead,
as the control shows. Enforcing the roles needs PasswordAuthenticator and CassandraAuthorizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.stores.wide_column.cql import split_statements
from polyplan.testkit import resolve_url
from tests.conftest import ROOT

SAAS = ROOT / "scenarios" / "saas.yaml"

MODEL = """
name: ppcassroles
entities:
  Person:
    attributes:
      email: {type: string, max_length: 100, pii: contact}
  Activity:
    attributes:
      kind: {type: string, max_length: 20}
      note: {type: string, max_length: 100, pii: contact}
    placement: {family: wide_column}
relationships:
  - {name: person_activity, kind: one_to_many, from: Person, to: Activity, owned: true}
access_patterns:
  - {name: activity_of_person, entity: Activity, filters: [{attribute: person_id, op: eq}]}
  - {name: activity_by_kind, entity: Activity, filters: [{attribute: kind, op: eq}]}
security:
  roles:
    - {name: analyst, grants: {Activity: [read]}}
    - {name: writer, grants: {Activity: [write]}}
    - {name: admin_ops, grants: {Activity: [admin]}}
"""


def roles_cql(text: str) -> tuple[str, list[str]]:
    files, diagnostics = render(plan_text(text, "m.yaml"))
    return files["cassandra/roles.cql"], [d.render() for d in diagnostics]


def test_roles_and_permissions_per_table_of_each_granted_entity() -> None:
    cql, printed = roles_cql(MODEL)
    statements = [s for _, s in split_statements(cql)]
    for role in ("owner", "application", "readonly", "analyst", "writer", "admin_ops"):
        assert f"CREATE ROLE IF NOT EXISTS ppcassroles_{role} WITH LOGIN = false" in statements
    assert "GRANT ALL PERMISSIONS ON KEYSPACE ppcassroles TO ppcassroles_owner" in statements
    assert "GRANT MODIFY ON KEYSPACE ppcassroles TO ppcassroles_application" in statements
    assert not [s for s in statements if "ppcassroles_readonly" in s and "MODIFY" in s]
    # Each query table of Activity holds a copy: every one is granted.
    for table in ("activity_of_person", "activity_by_kind"):
        assert f"GRANT SELECT ON TABLE ppcassroles.{table} TO ppcassroles_analyst" in statements
        assert f"GRANT MODIFY ON TABLE ppcassroles.{table} TO ppcassroles_writer" in statements
        assert f"GRANT ALL PERMISSIONS ON TABLE ppcassroles.{table} TO ppcassroles_admin_ops" in statements
    assert not [s for s in statements if "ppcassroles_analyst" in s and "MODIFY" in s]
    # No column-level permissions: the roles that only read an entity with PII are told so.
    warned = [line for line in printed if line.endswith("[PP455]")]
    assert len(warned) == 2
    assert any("security.roles.0" in line and "role analyst reads Activity" in line for line in warned)
    assert not [line for line in printed if "[PP408]" in line and "cassandra" in line]


def test_saas_auditor_grant_in_cassandra_is_generated_not_warned() -> None:
    files, diagnostics = render(plan_text(SAAS.read_text(encoding="utf-8"), str(SAAS)))
    assert "GRANT SELECT ON TABLE saas.tenant_audit TO saas_auditor;" in files["cassandra/roles.cql"]
    assert not [d for d in diagnostics if d.code == "PP408" and d.path == "security.roles.1.grants.AuditEntry"]
    assert "cassandra/roles.cql" in files["docs/security-plan.md"]


def test_no_security_no_roles_file() -> None:
    plain = MODEL.split("security:")[0].replace(", pii: contact", "")
    files, _ = render(plan_text(plain, "m.yaml"))
    assert "cassandra/roles.cql" not in files


def test_real_cassandra_parses_every_statement(tmp_path: Path) -> None:
    from cassandra import Unauthorized
    from cassandra.protocol import SyntaxException

    from polyplan.stores.wide_column.connect import connect

    (tmp_path / "m.yaml").write_text(MODEL, encoding="utf-8")
    write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    statements = [s for _, s in split_statements((tmp_path / "plan" / "cassandra" / "roles.cql").read_text())]
    cluster, session = connect(resolve_url("cassandra"))
    refused: dict[str, str] = {}
    try:
        for statement in [*statements, "GRANT SELEC ON KEYSPACE ppcassroles TO ppcassroles_owner"]:
            try:
                session.execute(statement.rstrip(";"))
                refused[statement] = "applied"
            except Unauthorized:
                refused[statement] = "unauthorized"
            except SyntaxException:
                refused[statement] = "syntax"
    finally:
        cluster.shutdown()
    print(f"\ncassandra: {len(statements)} role statements parsed, refused as {set(refused.values())}")
    assert refused.pop("GRANT SELEC ON KEYSPACE ppcassroles TO ppcassroles_owner") == "syntax"  # the control
    if "applied" in refused.values():
        pytest.fail("the server applied a role statement: it runs with authentication and a login was used")
    assert set(refused.values()) == {"unauthorized"} and len(refused) == len(statements) >= 10

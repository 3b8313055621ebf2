"""Security and access control (issue 10): the design, the SQL and docs it emits, and proofs on the
real PostgreSQL and MariaDB servers (tenant isolation over 1,000 attempts, roles, audit).

The generated tests (`tests/test_<engine>_security.py` of a plan folder) also run under
tests/test_relational_e2e.py through `polyplan validate`; here the same harness reports its
figures, and is shown to catch a plan whose isolation is broken.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.diagnostics import DiagnosticError, Severity
from polyplan.model.derived import all_attributes
from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.design import design_security
from polyplan.security.relational import relational_security, render_security_sql
from polyplan.security.tenant_spaces import tenant_names
from polyplan.stores.relational.design import design_schema
from polyplan.testkit import ENGINES as ACCESS
from polyplan.testkit import resolve_url
from polyplan.validate.security import SecurityHarness
from polyplan.validate.tenant_spaces import space_attempts, space_tables
from tests.conftest import ROOT, SCENARIOS, Golden, planned, rendered

SAAS = ROOT / "scenarios" / "saas.yaml"

MODEL = """
name: crm
tenancy: {isolation: row, tenant_key: tenant_id, entities: [Contact]}
entities:
  Tenant:
    attributes:
      slug: {type: string, max_length: 40}
  Contact:
    attributes:
      "full name": {type: string, max_length: 100, pii: contact}
      score: {type: integer}
      "order": {type: integer}
relationships:
  - {name: tenant_contacts, kind: one_to_many, from: Tenant, to: Contact}
access_patterns:
  - name: contacts_by_name
    entity: Contact
    filters: [{attribute: tenant_id, op: eq}, {attribute: "full name", op: prefix}]
security:
  roles:
    - {name: sales, grants: {Contact: [read]}}
  encrypt_pii: true
  audit: [Contact]
options: {relational_dialects: [postgresql, mysql, sqlite]}
"""


def outputs(text: str) -> tuple[dict[str, str], list[str]]:
    files, diagnostics = render(plan_text(text, "crm.yaml"))
    return files, [d.render() for d in diagnostics]


# --- design and emitted text (no server) ---------------------------------------------------------


def test_saas_emits_security_sql_docs_and_tests() -> None:
    files = rendered(SAAS)
    for path in (
        "relational/postgresql/security.sql",
        "relational/mysql/security.sql",
        "docs/security-plan.md",
        "tests/test_postgresql_security.py",
        "tests/test_mysql_security.py",
    ):
        assert path in files, path
    postgresql = files["relational/postgresql/security.sql"]
    for table in ("member", "project", "task"):
        assert f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;" in postgresql
        for command in ("select", "insert", "update", "delete"):
            assert f"CREATE POLICY {table}_tenant_{command} ON {table}" in postgresql
    assert "ALTER TABLE tenant ENABLE ROW LEVEL SECURITY" not in postgresql  # not tenant-scoped
    mysql = files["relational/mysql/security.sql"]
    assert "CREATE SQL SECURITY DEFINER VIEW member_tenant AS" in mysql
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON `member` TO" not in mysql  # only the view is granted
    assert mysql.count("WITH CASCADED CHECK OPTION") == 3


def test_saas_warns_for_what_its_stores_cannot_enforce() -> None:
    diagnostics = render(planned(SAAS))[1]
    codes = [(d.code, d.path) for d in diagnostics if d.code in ("PP408", "PP409")]
    assert ("PP408", "tenancy.entities.3") in codes  # CustomRecord in MongoDB: not isolated
    # The app role's grant on CustomRecord in MongoDB: mongodb/roles.py holds it (MongoDB cannot withhold PII: PP456).
    assert ("PP408", "security.roles.0.grants.*") not in codes
    assert ("PP408", "security.roles.1.grants.AuditEntry") not in codes  # Cassandra: cassandra/roles.cql
    assert ("PP408", "security.encrypt_pii") not in codes  # encryption.sql now holds ciphertext
    assert ("PP409", "access_patterns.2.sort.0") in codes  # sort by encrypted email
    assert all(d.severity is Severity.WARNING and d.location is not None for d in diagnostics if d.code == "PP408")


def test_security_plan_classifies_every_attribute() -> None:
    doc = rendered(SAAS)["docs/security-plan.md"]
    model = planned(SAAS).model
    section = doc.split("## Data classification")[1].split("## Not enforced")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| entity")]
    design = design_security(planned(SAAS))
    # every attribute, with the implied ones (surrogate ids, reference columns)
    assert len(rows) == len(design.protections) == sum(len(all_attributes(model, name)) for name in model.entities)
    assert "| Member | email | contact | postgresql | pgcrypto (pgp_sym_encrypt" in doc  # sorted: the database decrypts
    assert "row-level security: ENABLE + FORCE" in doc
    assert "| CustomRecord | mongodb | not enforced by the store (PP408)" in doc


def test_odd_names_are_quoted_by_the_dialect() -> None:
    files, _ = outputs(MODEL)
    postgresql, mysql = files["relational/postgresql/security.sql"], files["relational/mysql/security.sql"]
    assert 'GRANT SELECT (id, score, "order", tenant_id) ON contact TO crm_sales;' in postgresql
    assert "GRANT SELECT (id, score, `order`, tenant_id) ON contact_tenant TO crm_sales;" in mysql
    assert "'full name', NEW.`full name`" in mysql  # the audit trigger's JSON key is a literal


def test_every_security_key_changes_the_output() -> None:
    base, _ = outputs(MODEL)

    def changed(old: str, new: str) -> dict[str, str]:
        assert old in MODEL
        files, _ = outputs(MODEL.replace(old, new))
        return files

    security_files = ("relational/postgresql/security.sql", "relational/mysql/security.sql", "docs/security-plan.md")
    variants = {
        "roles": changed("{Contact: [read]}", "{Contact: [read, write]}"),
        "encrypt_pii": changed("encrypt_pii: true", "encrypt_pii: false"),
        "audit": changed("audit: [Contact]", "audit: []"),
        "pii": changed("pii: contact", "pii: health"),
        "tenancy": changed("{isolation: row,", "{isolation: none,"),
    }
    for key, files in variants.items():
        assert any(files.get(path) != base.get(path) for path in security_files), key
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON contact TO crm_sales" in variants["roles"][security_files[0]]
    assert "audit_log" not in variants["audit"][security_files[0]]
    assert "ALTER TABLE contact FORCE ROW LEVEL SECURITY" in base[security_files[0]]
    assert "ROW LEVEL SECURITY" not in variants["tenancy"][security_files[0]]
    assert "contact_tenant" not in variants["tenancy"][security_files[1]]


def test_encrypted_prefix_pattern_is_reported() -> None:
    _, printed = outputs(MODEL)
    assert any(
        "crm.yaml:" in line and "access_patterns.0.filters.1" in line and line.endswith("[PP409]") for line in printed
    )


def test_no_security_settings_no_security_output() -> None:
    plain = re.sub(r"(?ms)^security:.*", "", MODEL.replace(", pii: contact", "")).replace(
        "tenancy: {isolation: row, tenant_key: tenant_id, entities: [Contact]}\n", ""
    )
    files, printed = outputs(plain)
    assert not [path for path in files if "security" in path]
    assert not [line for line in printed if "[PP408]" in line or "[PP409]" in line]


def test_list_child_of_a_tenant_scoped_entity_is_reported() -> None:
    model = MODEL.replace(
        "score: {type: integer}",
        "score: {type: integer}\n      tags: {type: list, items: {type: string, max_length: 20}}",
    )
    _, printed = outputs(model)
    assert any("contact_tags" in line and "[PP408]" in line for line in printed)


def test_reserved_or_repeated_role_name_is_an_error() -> None:
    with pytest.raises(DiagnosticError) as raised:
        outputs(MODEL.replace("name: sales", "name: owner"))
    assert [d.code for d in raised.value.diagnostics] == ["PP317"]
    twice = MODEL.replace(
        "    - {name: sales, grants: {Contact: [read]}}",
        "    - {name: sales, grants: {Contact: [read]}}\n    - {name: sales, grants: {Contact: [write]}}",
    )
    with pytest.raises(DiagnosticError) as raised:
        outputs(twice)
    assert [d.render() for d in raised.value.diagnostics] == [
        "crm.yaml:22:14: security.roles.1.name: role 'sales' is defined twice [PP204]"
    ]


def test_security_sql_is_deterministic_and_prefixable() -> None:
    plan = planned(SAAS)
    tables, _ = design_schema(plan)
    for engine in ("postgresql", "mysql"):
        first = render_security_sql(plan.model, relational_security(plan.model, tables, engine))
        assert first == rendered(SAAS)[f"relational/{engine}/security.sql"]
        other = relational_security(plan.model, tables, engine, "pp0123_")
        assert set(other.roles.values()) == {f"pp0123_{r}" for r in other.roles}
        assert all("saas_" not in statement for statement in other.statements)


# --- real servers ------------------------------------------------------------------------------

ENGINES = [
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(scope="module")
def saas_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saas-security")
    write_plan(SAAS, folder / "plan")
    return folder / "plan"


@pytest.fixture
def harness(saas_folder: Path, request: pytest.FixtureRequest) -> Iterator[tuple[SecurityHarness, str]]:
    engine = request.param
    url = resolve_url(engine)
    harness = SecurityHarness.from_plan_folder(saas_folder / "tests", engine)
    yield harness, url
    assert harness.roles_left(url) == []  # roles are server-wide: none may outlive the run


@pytest.mark.parametrize("harness", ENGINES, indirect=True)
def test_tenant_isolation_over_1000_attempts(harness: tuple[SecurityHarness, str]) -> None:
    security, url = harness
    assert security.emitted_matches()
    with security.database(url) as engine:
        found = security.cross_tenant_attempts(engine, 1000)
        totals = security.base.counts(engine)
    print(
        f"{security.engine}: {found.attempts} attempts over {dict(found.tables)}: "
        f"visible {found.visible}, updated {found.updated}, deleted {found.deleted}, controls {found.controls}"
    )
    assert found.attempts == 1000 and sorted(found.tables) == ["member", "project", "task"]
    assert (found.visible, found.updated, found.deleted) == (0, 0, 0)
    assert found.controls == 1000
    assert totals == {name: len(rows) for name, rows in security.base.loaded.items()}  # nothing changed


@pytest.mark.parametrize("harness", ENGINES, indirect=True)
def test_a_broken_isolation_is_caught(harness: tuple[SecurityHarness, str]) -> None:
    """The same attempts against security SQL with the tenant check removed find other tenants' rows."""
    security, url = harness
    intact = security.security
    if security.engine == "postgresql":
        statements = tuple(s for s in intact.statements if "ENABLE ROW LEVEL SECURITY" not in s)
    else:
        statements = tuple(re.sub(r"\nWHERE \S+ = app_tenant_id\(\)", "", s) for s in intact.statements)
    assert statements != intact.statements
    security.security = dataclasses.replace(intact, statements=statements)  # type: ignore[misc]
    with security.database(url) as engine:
        found = security.cross_tenant_attempts(engine, 60)
    # Rows deleted by an early attempt are gone for later ones: some, not all, attempts succeed.
    assert found.visible > 0 and found.updated > 0 and found.deleted > 0


@pytest.mark.parametrize("harness", ENGINES, indirect=True)
def test_audit_and_roles_on_the_real_server(harness: tuple[SecurityHarness, str]) -> None:
    security, url = harness
    with security.database(url) as engine:
        workload = security.audit_workload(engine, 30)
        problems = security.audit_matches(workload)
        append_only, unreadable = security.audit_changes_refused(engine)
        ddl = security.ddl_refused(engine, "application")
        readonly = security.refused_writes(engine, "readonly")
        support = security.effective_privileges(engine, "support")
    print(f"{security.engine}: audit workload {dict(workload['done'])}, {len(workload['recorded'])} audit rows")
    # The workload changes up to 30 rows of each audited table that no seeded row refers to (a
    # delete of another would fail on a restrict reference or cascade: fuzz models 27 and 43).
    changed = sum(min(30, len(security._uncascading(t))) for t in security.security.audited_tables)
    assert sum(workload["done"].values()) == len(workload["recorded"]) == 3 * changed > 0
    assert problems == []
    assert security.acted_as_application(workload)
    assert append_only and unreadable
    assert all(ddl.values()) and set(ddl) == {"create table", "alter table", "drop table"}
    assert readonly and all(readonly.values())
    assert support["member"] == ("SELECT_NON_PII",)  # column-level: no email
    assert support == security.granted("support")


SECURITY_OUTPUTS = ("relational/postgresql/security.sql", "relational/mysql/security.sql", "docs/security-plan.md")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_security_outputs_match_golden(scenario: Path, golden: Golden) -> None:
    files = rendered(scenario)
    present = [path for path in SECURITY_OUTPUTS if path in files]
    assert present in ([], list(SECURITY_OUTPUTS))  # all three, or none when the model states no security
    for path in present:
        golden.check(f"{scenario.stem}/security/{path.replace('/', '_')}", files[path])


ENGINE_VARS = {name: ACCESS[name].env_var for name in ("postgresql", "mysql")}


# The crm model with a list child table of its audited, tenant-scoped, PII-holding entity.
CRM_WITH_CHILD = MODEL.replace(
    "score: {type: integer}",
    "score: {type: integer}\n      tags: {type: list, items: {type: string, max_length: 20}}",
)


def run_generated(plan_folder: Path, test_file: str, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run one generated test file of a plan folder on the real `engine`, as `polyplan validate` does:
    it must pass, and skip nothing."""
    monkeypatch.setenv(ENGINE_VARS[engine], resolve_url(engine))
    monkeypatch.setenv("POLYPLAN_REQUIRE", engine)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{test_file}"],
        cwd=plan_folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_generated_security_tests_pass_for_odd_names_and_child_tables(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model with quoted names ("full name", "order"), a list child table of an audited,
    tenant-scoped entity and a read-only role on PII: its generated tests pass on the real server."""
    model = tmp_path / "crm.yaml"
    model.write_text(CRM_WITH_CHILD, encoding="utf-8")
    write_plan(model, tmp_path / "plan")
    run_generated(tmp_path / "plan", f"test_{engine}_security.py", engine, monkeypatch)


# --- schema and database isolation --------------------------------------------------------------

# Contact, its list child and Note (which refers to Contact) live in each tenant's own space; Tenant
# stays shared and the per-tenant tables refer to it across spaces.
SPACED = """
name: crm
tenancy: {isolation: schema, tenant_key: tenant_id, entities: [Contact, Note], tenants: 500}
entities:
  Tenant:
    attributes:
      slug: {type: string, max_length: 40}
  Contact:
    attributes:
      "full name": {type: string, max_length: 100, pii: contact}
      score: {type: integer}
      tags: {type: list, items: {type: string, max_length: 20}}
  Note:
    growth: {initial_rows: 5000000}
    attributes:
      body: {type: string, max_length: 200}
      at: {type: timestamp}
relationships:
  - {name: tenant_contacts, kind: one_to_many, from: Tenant, to: Contact}
  - {name: tenant_notes, kind: one_to_many, from: Tenant, to: Note}
  - {name: contact_notes, kind: one_to_many, from: Contact, to: Note}
access_patterns:
  - name: recent_notes
    entity: Note
    filters: [{attribute: contact_id, op: eq}]
    sort: [{attribute: at, direction: desc}]
    limit: 20
    rate: 50
security:
  roles:
    - {name: sales, grants: {Contact: [read], Tenant: [read]}}
options: {relational_dialects: [postgresql, mysql]}
"""


@pytest.mark.parametrize("isolation", ["schema", "database"])
def test_schema_and_database_isolation_emit_a_provisioning_routine(isolation: str) -> None:
    files, printed = outputs(SPACED.replace("isolation: schema", f"isolation: {isolation}"))
    assert not [line for line in printed if "[PP408]" in line or "[PP454]" in line]
    postgresql, mysql = files["relational/postgresql/security.sql"], files["relational/mysql/security.sql"]
    assert "CREATE FUNCTION provision_tenant(tenant text) RETURNS text" in postgresql
    assert "REVOKE EXECUTE ON FUNCTION provision_tenant(text) FROM PUBLIC;" in postgresql
    assert "CREATE PROCEDURE provision_tenant(IN tenant VARCHAR(255))" in mysql
    for sql in (postgresql, mysql):
        assert "ROW LEVEL SECURITY" not in sql and "_tenant AS" not in sql  # no row isolation
        # The planned DDL of every tenant-scoped table, in the placeholder space; Tenant stays shared.
        for table in ("contact", "contact_tags", "note"):
            assert f"CREATE TABLE polyplan_tenant_space.{table} (" in sql
        assert "CREATE TABLE polyplan_tenant_space.tenant" not in sql
        # The shared copies are granted to no one, the shared table as before.
        assert "ON contact TO" not in sql and "ON note TO" not in sql
        assert "GRANT SELECT ON tenant TO crm_sales;" in sql
    assert "REFERENCES public.tenant (id)" in postgresql
    assert "REFERENCES polyplan_shared_space.tenant (id)" in mysql
    assert "CREATE INDEX ix_note_contact_id_at ON polyplan_tenant_space.note" in postgresql
    doc = files["docs/security-plan.md"]
    assert "Cost at the model's 500 tenants: 500 schemas and 500 roles, 1,500 tables" in doc
    assert "Cost at the model's 500 tenants: 500 databases and 500 roles, 1,500 tables" in doc
    assert "not generated yet" not in doc


def test_space_isolation_of_a_store_that_cannot_warns() -> None:
    model = SPACED.replace(
        "  Note:\n    growth:",
        "  Note:\n    placement: {family: document}\n    growth:",
    )
    _, printed = outputs(model)
    found = [line for line in printed if line.endswith("[PP454]")]
    assert any("tenancy.entities.1" in line and "Note is kept in mongodb" in line for line in found), printed
    # PostgreSQL's provision_tenant gives each tenant's copies their audit triggers
    # (test_tenant_space_security.py); on MariaDB they act on the shared database's tables only.
    _, printed = outputs(SPACED.replace("security:\n", "security:\n  audit: [Contact]\n"))
    assert not [line for line in printed if "[PP454]" in line]
    mysql = SPACED.replace("tenancy:", "engines: {relational: mysql}\ntenancy:", 1)
    _, printed = outputs(mysql.replace("security:\n", "security:\n  audit: [Contact]\n"))
    assert [line for line in printed if "audit triggers act on the shared database's tables" in line]


def test_tenant_names_match_the_routine_rule() -> None:
    plan = plan_text(SPACED, "crm.yaml")
    tables, _ = design_schema(plan)
    spaces = relational_security(plan.model, tables, "postgresql").spaces
    assert spaces is not None and spaces.tables == ("contact", "contact_tags", "note")
    assert tenant_names(spaces, " Acme Corp.-1!") == ("tenant_acme_corp_1", "crm_t_acme_corp_1")
    mysql = relational_security(plan.model, tables, "mysql").spaces
    assert mysql is not None and tenant_names(mysql, "b") == ("crm_t_b", "crm_t_b")


@pytest.mark.parametrize("engine", ENGINES)
def test_generated_space_isolation_tests_pass(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the real server: two tenants provisioned by the emitted routine, each role refused the other's tables."""
    model = tmp_path / "crm.yaml"
    model.write_text(SPACED, encoding="utf-8")
    write_plan(model, tmp_path / "plan")
    text = (tmp_path / "plan" / "tests" / f"test_{engine}_security.py").read_text(encoding="utf-8")
    assert "def test_a_tenant_role_is_refused_every_other_tenants_table" in text
    run_generated(tmp_path / "plan", f"test_{engine}_security.py", engine, monkeypatch)


@pytest.mark.parametrize("engine", ENGINES)
def test_space_harness_counts_refusals(engine: str, tmp_path: Path) -> None:
    model = tmp_path / "crm.yaml"
    model.write_text(SPACED, encoding="utf-8")
    write_plan(model, tmp_path / "plan")
    harness = SecurityHarness.from_plan_folder(tmp_path / "plan" / "tests", engine)
    url = resolve_url(engine)
    with harness.database(url) as database:
        attempts = space_attempts(harness, database)
        tables = {tenant: space_tables(harness, database, tenant) for tenant in harness.members}
        call = "SELECT" if engine == "postgresql" else "CALL"
        for bad in ("--", "x" * 41):  # reduces to nothing usable, or too long for a name
            with pytest.raises(sa.exc.DBAPIError), database.begin() as connection:
                connection.execute(sa.text(f"{call} provision_tenant(:t)"), {"t": bad})
        spaces = {name.lower() for name in sa.inspect(database).get_schema_names()}
    own = [a for a in attempts if a.own]
    foreign = [a for a in attempts if not a.own]
    print(f"{engine}: {len(own)} own-space attempts allowed, {len(foreign)} foreign attempts")
    assert tables == {t: ["contact", "contact_tags", "note"] for t in ("tenant-a", "tenant-b")}
    assert len(own) == 6 and not any(a.read_refused or a.write_refused for a in own)
    assert len(foreign) == 12 and all(a.read_refused and a.write_refused for a in foreign)
    assert harness.roles_left(url) == []
    assert {"tenant_tenant_a", f"{harness.prefix}t_tenant_a"} & spaces  # the space was there
    if engine == "mysql":  # databases are server-wide: the run's tenant databases are gone
        with sa.create_engine(url).connect() as connection:
            left = [r[0] for r in connection.execute(sa.text("SHOW DATABASES"))]
        assert not [name for name in left if name.startswith(harness.prefix)]


# An audited article searched by full text in the relational store: PostgreSQL keeps a generated
# tsvector column, which the audit workload's re-insert must leave to the database.
AUDITED_FULLTEXT = """
name: wiki
engines: {search: null}
options: {fulltext_fallback: relational}
entities:
  Article:
    attributes:
      title: {type: string, max_length: 120}
      body: {type: text}
    growth: {initial_rows: 2000}
access_patterns:
  - {name: find_articles, entity: Article, filters: [{attribute: body, op: fulltext}], rate: 20}
security:
  roles:
    - {name: app, grants: {"*": [read, write]}}
  audit: [Article]
"""


@pytest.mark.postgresql
def test_audited_table_with_a_generated_full_text_column_passes_its_audit_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "wiki.yaml"
    model.write_text(AUDITED_FULLTEXT, encoding="utf-8")
    write_plan(model, tmp_path / "plan")
    assert "_tsv" in (tmp_path / "plan/relational/postgresql/schema.sql").read_text(encoding="utf-8")
    run_generated(tmp_path / "plan", "test_postgresql_security.py", "postgresql", monkeypatch)

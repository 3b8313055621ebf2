"""The security design as PostgreSQL and MariaDB/MySQL SQL: `relational/<engine>/security.sql` (pure).

Computed from the model and the relational TableSpecs alone (no plan), so the generated tests
can render it again with role names unique to their run and check that the emitted file is
exactly that text with the default names. Every identifier goes through the engine's
`identifier_preparer` and every literal through SQLAlchemy's literal rendering.

PostgreSQL: roles are `NOLOGIN` groups; the owner owns every table; tenant-scoped tables get
`ENABLE` + `FORCE ROW LEVEL SECURITY` and one policy per command on the tenant key compared with
`current_setting('app.tenant_id', true)` (unset → NULL → no row). The audit trigger function runs
as the caller (so `current_user` is who acted) and the caller may only INSERT into the audit table.

MariaDB/MySQL has no row-level security: each tenant-scoped table gets a `SQL SECURITY DEFINER`
view filtered on `app_tenant_id()` (a function returning the session's `@app_tenant_id`; a view
may not read a variable itself) `WITH CASCADED CHECK OPTION`, and non-owner roles are granted the
view, never the table. Its audit triggers run as their definer, so no role needs any privilege
on the audit table to be audited, and `USER()` records the login that acted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.schema import CreateTable

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import Isolation, RequirementsModel, Sensitivity, TypeName
from polyplan.security.design import (
    APPLICATION,
    OWNER,
    EntityAccess,
    RoleDesign,
    builtin_roles,
    role_access,
    tenant_scoped,
)
from polyplan.security.encryption import encrypted_columns, encryption_layout
from polyplan.security.erasure_audit import guard_update_body
from polyplan.security.tenant_spaces import PROVISION_ROUTINE, TenantSpaces, tenant_spaces
from polyplan.stores.relational.design import UniqueNames, fit
from polyplan.stores.relational.render import DIALECTS, build_metadata, header
from polyplan.stores.relational.spec import ColumnSpec, TableKind, TableSpec

SECURITY_ENGINES = ("postgresql", "mysql")
TENANT_SETTING = "app.tenant_id"  # PostgreSQL: SET app.tenant_id = '...'
TENANT_FUNCTION = "app_tenant_id"  # MariaDB: SET @app_tenant_id = '...'; the views call app_tenant_id()
TENANT_VARIABLE = "app_tenant_id"
AUDIT_TABLE = "audit_log"
OPERATIONS = ("INSERT", "UPDATE", "DELETE")
# What ties audit rows of one unit of work together. MariaDB gives a trigger no transaction id:
# information_schema.innodb_trx is a cache refreshed at most every 0.1 s, so a new transaction is
# often missing from it (and reading it needs PROCESS); the connection id is what it can honour.
AUDIT_TRACE: dict[str, tuple[str, sa.types.TypeEngine[Any], bool, str]] = {
    "postgresql": ("txid", sa.BigInteger(), False, "The transaction that made the change."),
    "mysql": ("connection_id", sa.BigInteger(), False, "The connection (session) that made the change."),
}
PG_SCHEMA = "public"  # schema.sql creates its tables unqualified, so in the default schema


@dataclass(frozen=True)
class TenantTable:
    """A tenant-isolated table: `relation` is what non-owner roles query (the table, or its view)."""

    table: str
    tenant_column: str
    relation: str


@dataclass(frozen=True)
class RelationalSecurity:
    """One engine's security SQL and the names a test needs to exercise it."""

    engine: str
    roles: dict[str, str]  # logical role → SQL role name
    tenant_tables: tuple[TenantTable, ...]
    audit_table: str | None
    audited_tables: tuple[str, ...]
    statements: tuple[str, ...]
    notes: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    # logical role → table → what it was granted: SELECT, SELECT_NON_PII, INSERT, UPDATE, DELETE
    granted: dict[str, dict[str, tuple[str, ...]]]
    spaces: TenantSpaces | None = None  # schema/database isolation: what provision_tenant creates

    def relation(self, table: str) -> str:
        """What a non-owner role reads and writes for `table` (its tenant view on MariaDB)."""
        return next((t.relation for t in self.tenant_tables if t.table == table), table)


def default_prefix(model: RequirementsModel) -> str:
    """Role names start with the model's name, so several models can share a server."""
    return f"{model.name}_"


def _privileges(access: EntityAccess) -> list[str]:
    found: list[str] = []
    if access.read or access.admin:
        found.append("SELECT")
    if access.write or access.admin:
        found += ["INSERT", "UPDATE", "DELETE"]
    return found


def _table_entities(model: RequirementsModel, table: TableSpec) -> list[str]:
    """The entities whose grants decide a table's: its own, or both ends of an association."""
    if table.kind is not TableKind.ASSOCIATION:
        return [table.entity]
    relationship = next(r for r in model.relationships if r.name == table.entity)
    return [relationship.from_, relationship.to]


def _access_to(model: RequirementsModel, role: RoleDesign, table: TableSpec) -> EntityAccess | None:
    """A role's access to a table: what it may do with every entity the table stores (an intersection)."""
    by_entity = {a.entity: a for a in role.access}
    found = [by_entity.get(name) for name in _table_entities(model, table)]
    if not found or any(a is None for a in found):
        return None
    accesses = [a for a in found if a is not None]
    return EntityAccess(
        table.name,
        all(a.read for a in accesses),
        all(a.write for a in accesses),
        all(a.admin for a in accesses),
    )


class _Renderer:
    def __init__(self, model: RequirementsModel, tables: Sequence[TableSpec], engine: str, prefix: str) -> None:
        self.model = model
        self.tables = list(tables)
        self.engine = engine
        self.dialect = DIALECTS[engine]
        self.sa_dialect: SADialect = sa.create_mock_engine(self.dialect.url, lambda *a, **k: None).dialect
        self.preparer = self.sa_dialect.identifier_preparer
        self.metadata = build_metadata(self.tables, engine).metadata
        self.statements: list[str] = []
        self.granted: dict[str, dict[str, tuple[str, ...]]] = {}
        self.notes: list[str] = []
        self.diagnostics: list[Diagnostic] = []
        self.roles = self._roles()
        self.prefix = prefix
        self.names = {role.name: fit(f"{prefix}{role.name}") for role in self.roles}
        taken = UniqueNames()
        for table in self.tables:
            taken.take(table.name)
        self.audit_table = taken.take(AUDIT_TABLE) if self._audited() else None
        self.tenant_tables = self._tenant_tables(taken)
        self.spaced = (
            [t.name for t in self._scoped_tables()]
            if self.model.tenancy.isolation in (Isolation.SCHEMA, Isolation.DATABASE)
            else []
        )
        self.spaces: TenantSpaces | None = None

    # --- helpers -----------------------------------------------------------------------------

    def q(self, name: str) -> str:
        return str(self.preparer.quote(name))

    def literal(self, value: Any) -> str:
        return str(sa.literal(value).compile(dialect=self.sa_dialect, compile_kwargs={"literal_binds": True}))

    def compiled(self, element: Any) -> str:
        text = str(element.compile(dialect=self.sa_dialect, compile_kwargs={"literal_binds": True}))
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def add(self, statement: str) -> None:
        self.statements.append(statement)

    def _roles(self) -> list[RoleDesign]:
        roles = list(builtin_roles(self.model))
        for index, role in enumerate(self.model.security.roles):
            roles.append(
                RoleDesign(
                    role.name, "declared by the model", role_access(self.model, role), False, f"security.roles.{index}"
                )
            )
        return roles

    def _audited(self) -> list[TableSpec]:
        audited = set(self.model.security.audit)
        return [t for t in self.tables if t.kind is not TableKind.ASSOCIATION and t.entity in audited]

    def _scoped_tables(self) -> list[TableSpec]:
        """Tables of tenant-scoped entities, with their child tables and the link tables they take part in."""
        scoped = set(tenant_scoped(self.model))
        return [
            table
            for table in self.tables
            if table.entity in scoped
            or (table.kind is TableKind.ASSOCIATION and scoped & set(_table_entities(self.model, table)))
        ]

    def _tenant_tables(self, taken: UniqueNames) -> tuple[TenantTable, ...]:
        if self.model.tenancy.isolation is not Isolation.ROW:
            return ()  # schema and database isolation separate whole tables (tenant_spaces.py)
        key = self.model.tenancy.tenant_key
        found: list[TenantTable] = []
        for table in self._scoped_tables():
            column = next((c.name for c in table.columns if c.source == f"{table.entity}.{key}"), None)
            if table.kind is not TableKind.ENTITY or column is None:
                # Child and link tables carry no tenant column of their own.
                self.diagnostics.append(
                    Diagnostic(
                        "PP408",
                        f"{self.engine}: table {table.name} of tenant-scoped {table.entity} has no {key} column "
                        "of its own and is not isolated yet; reach it only through its isolated parent",
                        "tenancy.isolation",
                        Severity.WARNING,
                    )
                )
                continue
            relation = taken.take(f"{table.name}_tenant") if self.engine == "mysql" else table.name
            found.append(TenantTable(table.name, column, relation))
        return tuple(found)

    def role_names(self, roles: Sequence[RoleDesign]) -> str:
        return ", ".join(self.q(self.names[r.name]) for r in roles)

    def column_type(self, table: str, column: str) -> str:
        spec = next(t for t in self.tables if t.name == table)
        return str(self.dialect.column_type(spec.column(column).attribute).compile(dialect=self.sa_dialect))

    # --- roles and grants ----------------------------------------------------------------------

    def grants(self) -> None:
        tenant_relation = {t.table: t.relation for t in self.tenant_tables}
        for role in self.roles:
            if role.name == OWNER:
                continue
            granted = self.granted.setdefault(role.name, {})
            for table in self.tables:
                if table.name in self.spaced:
                    continue  # the shared copy is the template: tenants' data lives in their own space
                access = _access_to(self.model, role, table)
                if access is None:
                    continue
                privileges = _privileges(access)
                if not privileges:
                    continue
                relation = self.q(tenant_relation.get(table.name, table.name))
                grantee = self.q(self.names[role.name])
                pii = [c.name for c in table.columns if c.attribute.pii is not Sensitivity.NONE]
                if "SELECT" in privileges and pii and not access.sees_pii:
                    # Reading without writing: the role sees every column but those holding PII.
                    privileges.remove("SELECT")
                    visible = ", ".join(self.q(c.name) for c in table.columns if c.name not in pii)
                    self.add(f"GRANT SELECT ({visible}) ON {relation} TO {grantee}")
                    granted[table.name] = ("SELECT_NON_PII",)
                granted[table.name] = (*granted.get(table.name, ()), *privileges)
                if privileges:
                    self.add(f"GRANT {', '.join(privileges)} ON {relation} TO {grantee}")

    def audit_readers(self) -> list[RoleDesign]:
        """Roles that administer an audited entity may read the audit trail."""
        audited = set(self.model.security.audit)
        return [r for r in self.roles if any(a.admin and a.entity in audited for a in r.access)]

    def audit_writers(self) -> list[RoleDesign]:
        audited = set(self.model.security.audit)
        return [r for r in self.roles if any((a.write or a.admin) and a.entity in audited for a in r.access)]

    # --- audit ---------------------------------------------------------------------------------

    def audit_create(self) -> sa.Table:
        assert self.audit_table is not None
        dialect = self.dialect
        metadata = sa.MetaData()
        options: dict[str, Any] = dict(dialect.table_options())
        table = sa.Table(
            self.audit_table,
            metadata,
            sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
            sa.Column("table_name", sa.String(64), nullable=False, comment="The audited table."),
            sa.Column("operation", sa.String(6), nullable=False, comment="INSERT, UPDATE or DELETE."),
            sa.Column("actor", sa.String(255), nullable=False, comment="The database role or login that acted."),
            sa.Column(
                "at",
                dialect.timestamp(True),
                nullable=False,
                server_default=dialect.now(TypeName.TIMESTAMPTZ),
                comment="When (UTC where the engine has no time zones).",
            ),
            self.audit_trace_column(),
            sa.Column("old_row", dialect.json(), nullable=True, comment="The row before (UPDATE, DELETE)."),
            sa.Column("new_row", dialect.json(), nullable=True, comment="The row after (INSERT, UPDATE)."),
            comment="Append-only audit trail of the tables named in security.audit (written by triggers).",
            **options,
        )
        self.add(self.compiled(CreateTable(table)))
        return table

    def audit_trace_column(self) -> sa.Column[Any]:
        name, type_, nullable, comment = AUDIT_TRACE[self.engine]
        return sa.Column(name, type_, nullable=nullable, comment=comment)

    def audit_postgresql(self) -> None:
        assert self.audit_table is not None
        table = self.audit_create()
        audit = self.q(self.audit_table)
        owner = self.q(self.names[OWNER])
        record = self.q(fit(f"{self.audit_table}_record"))
        guard = self.q(fit(f"{self.audit_table}_append_only"))
        columns = ", ".join(self.q(c.name) for c in table.columns if c.name not in ("id", "at"))
        # With a schema per tenant, a tenant's copy is recorded as `<schema>.<table>`: which tenant it was.
        table_name = (
            "CASE WHEN TG_TABLE_SCHEMA = 'public' THEN TG_TABLE_NAME ELSE TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME END"
            if self.spaced
            else "TG_TABLE_NAME"
        )
        self.add(f"ALTER TABLE {audit} OWNER TO {owner}")
        self.add(
            f"CREATE FUNCTION {record}() RETURNS trigger\nLANGUAGE plpgsql\nAS $audit$\nBEGIN\n"
            f"    INSERT INTO {audit} ({columns})\n"
            f"    VALUES ({table_name}, TG_OP, current_user, pg_current_xact_id()::text::bigint,\n"
            "            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,\n"
            "            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END);\n"
            "    RETURN NULL;\nEND\n$audit$"
        )
        self.add(
            f"CREATE FUNCTION {guard}() RETURNS trigger\nLANGUAGE plpgsql\nAS $audit$\nBEGIN\n"
            "    RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP\n"
            "        USING ERRCODE = 'insufficient_privilege';\nEND\n$audit$"
        )
        for function in (record, guard):
            self.add(f"ALTER FUNCTION {function}() OWNER TO {owner}")
        # FOR EACH STATEMENT also covers TRUNCATE, which row triggers never see.
        self.add(
            f"CREATE TRIGGER {guard} BEFORE UPDATE OR DELETE OR TRUNCATE ON {audit}\n"
            f"FOR EACH STATEMENT EXECUTE FUNCTION {guard}()"
        )
        for spec in self._audited():
            self.add(self.audit_trigger_postgresql(spec))
        writers = self.audit_writers()
        if writers:
            # The trigger runs as the caller: it may append, never read, change or remove.
            self.add(f"GRANT INSERT ON {audit} TO {self.role_names(writers)}")
        readers = self.audit_readers()
        if readers:
            self.add(f"GRANT SELECT ON {audit} TO {self.role_names(readers)}")

    def audit_trigger_postgresql(self, spec: TableSpec) -> str:
        """The row trigger that records `spec`'s changes (unqualified: a tenant's copy gets the same
        statement with its schema first on the search path)."""
        assert self.audit_table is not None
        record = self.q(fit(f"{self.audit_table}_record"))
        trigger = self.q(fit(f"{spec.name}_audit"))
        return (
            f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {self.q(spec.name)}\n"
            f"FOR EACH ROW EXECUTE FUNCTION {record}()"
        )

    def inside_spaces(self) -> list[str]:
        """PostgreSQL: what each tenant's copies of the tables get besides their DDL, as the shared
        tables get it: the audit triggers of audited tables, and encryption.sql's expand and contract
        columns (a new tenant's tables are empty: nothing to backfill; pgcrypto is database-wide)."""
        if self.engine != "postgresql":
            return []
        scoped = [t for t in self.tables if t.name in self.spaced]
        found = [self.audit_trigger_postgresql(t) for t in self._audited() if t.name in self.spaced]
        if encrypted_columns(self.model, scoped, self.engine)[0]:
            phases = encryption_layout(self.model, scoped, self.engine).phases
            found += [s for s in (*phases["expand"], *phases["contract"]) if not s.startswith("CREATE EXTENSION")]
        return found

    def audit_mysql(self) -> None:
        assert self.audit_table is not None
        table = self.audit_create()
        audit = self.q(self.audit_table)
        columns = ", ".join(self.q(c.name) for c in table.columns if c.name not in ("id", "at"))
        # UPDATE is refused but for erasure's rewrite of row images (erasure_audit.sql, with the
        # session flag); DELETE always.
        trigger = self.q(fit(f"{self.audit_table}_no_update"))
        body = guard_update_body([c.name for c in table.columns], self.q)
        self.add(f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {audit} FOR EACH ROW\n{body}")
        trigger = self.q(fit(f"{self.audit_table}_no_delete"))
        self.add(
            f"CREATE TRIGGER {trigger} BEFORE DELETE ON {audit} FOR EACH ROW\n"
            f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {self.literal('the audit trail is append-only')}"
        )
        for spec in self._audited():
            for operation in OPERATIONS:
                trigger = self.q(fit(f"{spec.name}_audit_{operation.lower()}"))
                old = self.json_row(spec, "OLD") if operation != "INSERT" else "NULL"
                new = self.json_row(spec, "NEW") if operation != "DELETE" else "NULL"
                self.add(
                    f"CREATE TRIGGER {trigger} AFTER {operation} ON {self.q(spec.name)} FOR EACH ROW\n"
                    f"INSERT INTO {audit} ({columns})\n"
                    f"VALUES ({self.literal(spec.name)}, {self.literal(operation)}, USER(), CONNECTION_ID(),\n"
                    f"        {old},\n        {new})"
                )
        readers = self.audit_readers()
        if readers:
            self.add(f"GRANT SELECT ON {audit} TO {self.role_names(readers)}")

    def json_row(self, spec: TableSpec, which: str) -> str:
        """MariaDB's JSON image of a row. A binary column is written as PostgreSQL's jsonb shows
        bytea (`\\x` and lowercase hex): JSON holds only text, and the raw bytes are no valid
        utf8mb4 (`Incorrect string value` in `old_row`, and the audited change refused)."""
        hex_prefix = self.literal("\\x")

        def value(column: ColumnSpec) -> str:
            name = f"{which}.{self.q(column.name)}"
            if column.attribute.type is TypeName.BINARY:
                return f"CONCAT({hex_prefix}, LOWER(HEX({name})))"
            return name

        pairs = ", ".join(f"{self.literal(c.name)}, {value(c)}" for c in spec.columns)
        return f"JSON_OBJECT({pairs})"

    # --- tenant isolation ----------------------------------------------------------------------

    def rls_postgresql(self) -> None:
        for tenant in self.tenant_tables:
            name = self.q(tenant.table)
            setting = sa.func.nullif(sa.func.current_setting(sa.literal(TENANT_SETTING), sa.true()), sa.literal(""))
            column_type = self.dialect.column_type(
                next(t for t in self.tables if t.name == tenant.table).column(tenant.tenant_column).attribute
            )
            check = self.compiled(sa.column(tenant.tenant_column) == sa.cast(setting, column_type))
            self.add(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            # FORCE: the owner is held to the policies too (only superusers bypass them).
            self.add(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
            for command in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                policy = self.q(fit(f"{tenant.table}_tenant_{command.lower()}"))
                clause = {
                    "SELECT": f"USING ({check})",
                    "INSERT": f"WITH CHECK ({check})",
                    "UPDATE": f"USING ({check})\nWITH CHECK ({check})",
                    "DELETE": f"USING ({check})",
                }[command]
                self.add(f"CREATE POLICY {policy} ON {name} FOR {command}\n{clause}")

    def views_mysql(self) -> None:
        if not self.tenant_tables:
            return
        first = self.tenant_tables[0]
        # One function for every view: the tenant key has one type across the model.
        returns = self.column_type(first.table, first.tenant_column)
        if returns.upper().startswith(("CHAR", "VARCHAR")):
            returns += " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        self.add(
            f"CREATE FUNCTION {self.q(TENANT_FUNCTION)}() RETURNS {returns}\n"
            f"NOT DETERMINISTIC NO SQL SQL SECURITY INVOKER\nRETURN @{TENANT_VARIABLE}"
        )
        # With encrypt_pii the views also carry the ciphertext and keyed-hash columns, which
        # encryption.sql's expand phase adds (run it before this file): the application reaches
        # tenant-scoped tables only through these views.
        encrypted, _ = encrypted_columns(self.model, self.tables, self.engine)
        for tenant in self.tenant_tables:
            table = self.metadata.tables[tenant.table]
            extra = [n for c in encrypted if c.table == tenant.table for n in (c.ciphertext, c.keyed_hash) if n]
            source = sa.table(table.name, *[sa.column(c.name) for c in table.columns], *[sa.column(n) for n in extra])
            select = sa.select(*source.columns).where(source.c[tenant.tenant_column] == sa.func.app_tenant_id())
            self.add(
                f"CREATE SQL SECURITY DEFINER VIEW {self.q(tenant.relation)} AS\n"
                f"{self.compiled(select)}\nWITH CASCADED CHECK OPTION"
            )

    def provisioning(self) -> None:
        """`schema`/`database` isolation: the routine that gives each tenant its space and role."""
        if not self.spaced:
            return
        spaces = tenant_spaces(
            self.engine,
            self.tables,
            self.spaced,
            f"{self.prefix}t_",
            {"owner": self.names[OWNER], "application": self.names[APPLICATION]},
            self.literal,
            self.q,
            self.inside_spaces(),
        )
        self.spaces = spaces
        self.statements.extend(spaces.statements)
        kind = "schema" if self.engine == "postgresql" else "database"
        call = "SELECT" if self.engine == "postgresql" else "CALL"
        self.notes.append(
            f"Tenant isolation: {call} {PROVISION_ROUTINE}('<tenant id>') (as a role that may create roles) gives "
            f"the tenant a {kind} with {', '.join(spaces.tables)} and a role {spaces.member_prefix}<id> that "
            f"alone may use it; the application acts for a tenant as that role. The shared {kind}'s copies "
            "of these tables are granted to no one."
        )
        # PostgreSQL's routine gives each tenant's copies their audit triggers and encrypted columns
        # (inside_spaces); MariaDB cannot create a trigger from a procedure (no CREATE TRIGGER in a
        # prepared statement), and its encryption.sql is left to apply per database alike.
        per_tenant = self.engine == "postgresql"
        behind = [
            what
            for what, applies in (
                (
                    "audit triggers",
                    not per_tenant and bool(set(self.model.security.audit) & {t.entity for t in self._scoped_tables()}),
                ),
                ("encryption.sql", not per_tenant and bool(encrypted_columns(self.model, self.tables, self.engine)[0])),
                ("retention partitions", bool(spaces.partitioned)),
            )
            if applies
        ]
        if behind:
            self.diagnostics.append(
                Diagnostic(
                    "PP454",
                    f"{self.engine}: {' and '.join(behind)} act on the shared {kind}'s tables, not on each "
                    f"tenant's copies that {PROVISION_ROUTINE} creates; apply them per tenant {kind}",
                    "tenancy.isolation",
                    Severity.WARNING,
                )
            )

    # --- the whole file ------------------------------------------------------------------------

    def run(self) -> RelationalSecurity:
        owner = self.q(self.names[OWNER])
        others = [r for r in self.roles if r.name != OWNER]
        if self.engine == "postgresql":
            for role in self.roles:
                self.add(f"CREATE ROLE {self.q(self.names[role.name])} NOLOGIN")
            schema = self.q(PG_SCHEMA)
            self.add(f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC")
            self.add(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner}")
            self.add(f"GRANT USAGE ON SCHEMA {schema} TO {self.role_names(others)}")
            for table in self.tables:
                self.add(f"ALTER TABLE {self.q(table.name)} OWNER TO {owner}")
            self.grants()
            self.rls_postgresql()
            self.provisioning()
            if self.audit_table:
                self.audit_postgresql()
            self.notes.append(
                f"Roles are NOLOGIN groups: grant each login its role (GRANT {self.q(self.names[APPLICATION])} TO <login>)."
            )
            if self.tenant_tables:
                self.notes.append(
                    f"Tenant isolation: SET {TENANT_SETTING} = '<tenant id>' (or SET LOCAL per transaction) before "
                    "any query; unset, a tenant-scoped table shows no rows and accepts none."
                )
        else:
            for role in self.roles:
                self.add(f"CREATE ROLE {self.q(self.names[role.name])}")
            self.add(f"GRANT ALL PRIVILEGES ON * TO {owner}")
            self.views_mysql()
            if encrypted_columns(self.model, self.tables, self.engine)[0] and self.tenant_tables:
                self.notes.append(
                    "encrypt_pii: run encryption.sql's expand phase before this file: the tenant views "
                    "name its *_enc and *_hmac columns."
                )
            self.grants()
            self.provisioning()
            if self.audit_table:
                self.audit_mysql()
            self.notes.append(
                "Run in the application's database (GRANT ... ON * means its tables); roles need "
                "GRANT <role> TO <user> and SET DEFAULT ROLE <role> FOR <user>."
            )
            if self.tenant_tables:
                self.notes.append(
                    f"Tenant isolation: SET @{TENANT_VARIABLE} = '<tenant id>'; other roles than the owner reach "
                    "tenant-scoped tables only through their *_tenant views."
                )
        return RelationalSecurity(
            engine=self.engine,
            roles=dict(self.names),
            tenant_tables=self.tenant_tables,
            audit_table=self.audit_table,
            audited_tables=tuple(t.name for t in self._audited()),
            statements=tuple(self.statements),
            notes=tuple(self.notes),
            diagnostics=tuple(self.diagnostics),
            granted=self.granted,
            spaces=self.spaces,
        )


def relational_security(
    model: RequirementsModel, tables: Sequence[TableSpec], engine: str, prefix: str | None = None
) -> RelationalSecurity:
    """The security SQL of one engine (postgresql or mysql); `prefix` starts every role name."""
    return _Renderer(model, tables, engine, default_prefix(model) if prefix is None else prefix).run()


def render_security_sql(model: RequirementsModel, security: RelationalSecurity) -> str:
    """`security.sql`: every statement terminated by `;` and separated by a blank line."""
    body = "\n\n".join(f"{statement};" for statement in security.statements)
    return header(model, "Security (roles, grants, tenant isolation, audit)", security.engine, security.notes) + (
        "\n" + body + "\n"
    )

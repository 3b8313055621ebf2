"""What the generated security tests (`tests/test_<engine>_security.py`) run against a real server.

A `SecurityHarness` reads the plan folder (the relational layout and seed, and
`relational/<engine>/security.sql`), makes a throw-away database with the seed rows, and applies
the security SQL rendered again with role names unique to this run: roles are global to a
PostgreSQL or MariaDB server, so two runs (or a deployment) must never share one. The emitted
file must equal the same rendering with the model's own role names, so what is proven is what
was emitted. Roles (and, on MariaDB, the per-run logins that carry them) are dropped afterwards.

The checks: cross-tenant reads, updates and deletes find nothing over many generated attempts
(each paired with a control that the same row is found under its own tenant); a row for another
tenant cannot be inserted or moved there; the read-only role cannot write or read PII columns;
the application role cannot run DDL; audit triggers record every insert, update and delete of a
generated workload, with old and new values, and the audit trail refuses changes.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from polyplan.model.schema import TypeName
from polyplan.security.design import APPLICATION, READONLY
from polyplan.security.encryption import split_phases
from polyplan.security.relational import (
    AUDIT_TRACE,
    TENANT_SETTING,
    TENANT_VARIABLE,
    RelationalSecurity,
    relational_security,
    render_security_sql,
)
from polyplan.security.tenant_spaces import PROVISION_ROUTINE, tenant_names
from polyplan.seed.relational import Row
from polyplan.stores.relational.connect import apply_sql, create_engine, scratch_database
from polyplan.stores.relational.spec import TableSpec
from polyplan.validate.relational import Harness

SECURITY_FILE = "security.sql"
# Errors that mean "permission denied": PostgreSQL's SQLSTATE, MariaDB/MySQL's error numbers
# (command, column or database access denied).
PG_DENIED = frozenset({"42501"})
MYSQL_DENIED = frozenset({1142, 1143, 1044, 1045, 1227, 1370})
MYSQL_CHECK_OPTION = frozenset({1369})
SPACE_TENANTS = (
    "tenant-a",
    "tenant-b",
)  # provisioned in every run of a schema/database-isolated plan  # CHECK OPTION failed: the row would leave the view


def _normal(value: Any) -> str:
    """A key or value as text that compares equal across drivers and JSON (uuid with or without
    dashes; an instant as `str()` gives it, as PostgreSQL's `to_jsonb` writes it with a `T`, or
    as MariaDB's JSON writes a DATETIME, naive, in UTC and with microseconds: fuzz10pg's 374, a
    natural key of a timestamptz)."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return _instant(value)
    text = str(value)
    try:
        return uuid.UUID(text).hex
    except ValueError:
        pass
    if _INSTANT.fullmatch(text):
        with suppress(ValueError):
            return _instant(datetime.fromisoformat(text))
    return text


# A date and a time of day, as `str()`, JSON or a driver writes an instant (not a bare date).
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


def _instant(moment: datetime) -> str:
    """An instant in UTC, naive ones read as UTC (the harness writes UTC), to the microsecond."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


def _mysql_code(error: sa.exc.DBAPIError) -> int | None:
    """The MariaDB/MySQL error number of a driver error (PyMySQL puts it first in `args`)."""
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


@dataclass
class Attempts:
    """What the cross-tenant attempts found: every count but `attempts` and `controls` must stay 0."""

    attempts: int = 0
    controls: int = 0  # the same row, looked up under its own tenant, was found
    visible: int = 0
    updated: int = 0
    deleted: int = 0
    tables: Counter[str] = field(default_factory=Counter)


@dataclass
class SecurityHarness:
    """One engine's security checks, read from a plan folder."""

    base: Harness
    emitted: str
    prefix: str = field(default_factory=lambda: f"pp{secrets.token_hex(5)}_")
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)  # MariaDB: logical role → (user, password)
    encryption_expand: str = ""  # encryption.sql's expand phase, when the plan encrypts PII
    # schema/database isolation: tenant id → its role, for the tenants provisioned in `database`
    members: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_plan_folder(cls, tests_dir: Path, engine: str) -> SecurityHarness:
        base = Harness.from_plan_folder(tests_dir, engine)
        folder = tests_dir.parent / "relational" / engine
        emitted = (folder / SECURITY_FILE).read_text(encoding="utf-8")
        encryption = folder / "encryption.sql"
        expand = split_phases(encryption.read_text(encoding="utf-8"))["expand"] if encryption.exists() else ""
        return cls(base, emitted, encryption_expand=expand)

    @property
    def engine(self) -> str:
        return self.base.engine

    @cached_property
    def security(self) -> RelationalSecurity:
        """The security design with this run's role names."""
        return relational_security(self.base.model, self.base.tables, self.engine, self.prefix)

    def emitted_matches(self) -> bool:
        """Whether the emitted security.sql is exactly what this harness applies, but for role names."""
        default = relational_security(self.base.model, self.base.tables, self.engine)
        return render_security_sql(self.base.model, default) == self.emitted

    # --- setting up --------------------------------------------------------------------------

    @contextmanager
    def database(self, url: str, then: Callable[[sa.Engine], None] | None = None) -> Iterator[sa.Engine]:
        """A scratch database with the seed rows and the security SQL; roles and logins dropped after.
        `then` runs last (e.g. the rest of the encryption migration, after security.sql)."""
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with ExitStack() as stack:
                stack.callback(self._drop_roles, admin)
                engine = stack.enter_context(scratch_database(url))
                self.base.load(engine)
                if self.encryption_expand:
                    # The deployment order with encrypt_pii: the expand phase adds the columns the
                    # MariaDB tenant views of security.sql name.
                    apply_sql(engine, self.encryption_expand)
                apply_sql(engine, render_security_sql(self.base.model, self.security))
                if self.security.spaces is not None:
                    for tenant in SPACE_TENANTS:
                        self._provision(stack, admin, engine, tenant)
                if self.engine == "mysql":
                    self._create_logins(engine)
                if then is not None:
                    then(engine)
                yield engine
        finally:
            admin.dispose()

    def _provision(self, stack: ExitStack, admin: sa.Engine, engine: sa.Engine, tenant: str) -> None:
        """Give `tenant` its schema or database through the emitted provisioning routine."""
        assert self.security.spaces is not None
        space, member = tenant_names(self.security.spaces, tenant)
        self.members[tenant] = member  # dropped with the other roles, even if provisioning fails
        if self.engine == "mysql":
            # Databases are server-wide: each tenant's is dropped with the scratch one.
            quoted = admin.dialect.identifier_preparer.quote(space)
            stack.callback(lambda: _run(admin, f"DROP DATABASE IF EXISTS {quoted}"))
        call = "SELECT" if self.engine == "postgresql" else "CALL"
        with engine.begin() as connection:
            connection.execute(sa.text(f"{call} {PROVISION_ROUTINE}(:tenant)"), {"tenant": tenant})

    def _create_logins(self, engine: sa.Engine) -> None:
        # MariaDB roles cannot log in: each gets a login of its own for this run, holding only it.
        with engine.begin() as connection:
            quote = connection.dialect.identifier_preparer.quote
            roles = {**self.security.roles, **{member: member for member in self.members.values()}}
            for logical, role in roles.items():
                user, password = f"{role}_l", secrets.token_hex(12)
                self.logins[logical] = (user, password)
                login = f"{quote(user)}@'%'"
                connection.execute(sa.text(f"CREATE USER {login} IDENTIFIED BY :password"), {"password": password})
                connection.execute(sa.text(f"GRANT {quote(role)} TO {login}"))
                connection.execute(sa.text(f"SET DEFAULT ROLE {quote(role)} FOR {login}"))

    def _drop_roles(self, admin: sa.Engine) -> None:
        with admin.connect() as connection:
            quote = connection.dialect.identifier_preparer.quote
            for user, _ in self.logins.values():
                connection.execute(sa.text(f"DROP USER IF EXISTS {quote(user)}@'%'"))
            for role in [*self.members.values(), *self.security.roles.values()]:
                connection.execute(sa.text(f"DROP ROLE IF EXISTS {quote(role)}"))

    def roles_left(self, url: str) -> list[str]:
        """This run's roles (and logins) still on the server: none after `database` exits."""
        admin = create_engine(url)
        try:
            with admin.connect() as connection:
                if self.engine == "postgresql":
                    rows = connection.execute(
                        sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": f"{self.prefix}%"}
                    )
                else:
                    rows = connection.execute(
                        sa.text("SELECT User FROM mysql.user WHERE User LIKE :p"), {"p": f"{self.prefix}%"}
                    )
                return sorted(str(r[0]) for r in rows)
        finally:
            admin.dispose()

    # --- acting as a role ----------------------------------------------------------------------

    @contextmanager
    def session(
        self, engine: sa.Engine, logical: str, tenant: Any = None, commit: bool = False
    ) -> Iterator[sa.Connection]:
        """A transaction acting as one of the roles (rolled back at the end unless `commit`), tenant set if given.

        PostgreSQL: the test's own connection with `SET LOCAL ROLE`. MariaDB: a connection of the
        role's login for this run (a role cannot log in, and `SET ROLE` would keep the admin's rights).
        """
        with ExitStack() as stack:
            if self.engine == "postgresql":
                connection = stack.enter_context(engine.connect())
            else:
                user, password = self.logins[logical]
                login = create_engine(engine.url.set(username=user, password=password))
                stack.callback(login.dispose)
                connection = stack.enter_context(login.connect())
            transaction = connection.begin()
            try:
                if self.engine == "postgresql":
                    # A logical role, or a tenant's own role (schema/database isolation).
                    name = self.security.roles.get(logical, logical)
                    role = connection.dialect.identifier_preparer.quote(name)
                    connection.exec_driver_sql(f"SET LOCAL ROLE {role}")
                if tenant is not None:
                    self.set_tenant(connection, tenant)
                yield connection
                if commit:
                    transaction.commit()
            finally:
                if transaction.is_active:
                    transaction.rollback()

    def set_tenant(self, connection: sa.Connection, tenant: Any) -> None:
        """The session's tenant, as the application sets it."""
        value = _normal(tenant) if isinstance(tenant, uuid.UUID) and self.engine == "mysql" else str(tenant)
        if self.engine == "postgresql":
            connection.execute(
                sa.text("SELECT set_config(:name, :value, true)"), {"name": TENANT_SETTING, "value": value}
            )
        else:
            connection.execute(sa.text(f"SET @{TENANT_VARIABLE} = :value"), {"value": value})

    def denied(self, error: sa.exc.DBAPIError) -> bool:
        """Whether a database error is a refused permission."""
        if self.engine == "postgresql":
            return getattr(error.orig, "sqlstate", None) in PG_DENIED
        return _mysql_code(error) in MYSQL_DENIED

    # --- tables as the roles see them -----------------------------------------------------------

    def spec(self, table: str) -> TableSpec:
        return self.base.by_name[table]

    @cached_property
    def _relations(self) -> dict[str, sa.Table]:
        metadata = sa.MetaData()
        return {
            name: sa.Table(
                self.security.relation(name),
                metadata,
                *[sa.Column(c.name, c.type, primary_key=c.primary_key) for c in source.columns],
            )
            for name, source in self.base.metadata.tables.items()
        }

    def relation(self, table: str) -> sa.Table:
        """`table` as non-owner roles reach it (its tenant view on MariaDB), with the table's columns."""
        return self._relations[table]

    def key_of(self, table: str, row: Row, changed: Collection[str] = ()) -> sa.ColumnElement[bool]:
        """The condition that finds `row` (a keyless table's by its columns but the `changed` ones)."""
        relation = self.relation(table)
        return sa.and_(*[relation.c[c] == row[c] for c in self.spec(table).identity(changed)])

    def tenant_rows(self, table: str) -> list[Row]:
        return self.base.loaded[table]

    @cached_property
    def tenants(self) -> list[Any]:
        """Every tenant id found in the seeded tenant-scoped tables (sorted for determinism)."""
        found = {
            _normal(row[t.tenant_column]): row[t.tenant_column]
            for t in self.security.tenant_tables
            for row in self.tenant_rows(t.table)
        }
        return [found[k] for k in sorted(found)]

    # --- tenant isolation ------------------------------------------------------------------------

    def cross_tenant_attempts(self, engine: sa.Engine, count: int, seed: int = 20240101) -> Attempts:
        """`count` attempts, spread over every tenant-scoped table, to read, update and delete a row
        of tenant B while acting for tenant A; each is paired with a control under tenant B."""
        result = Attempts()
        tenant_tables = [t for t in self.security.tenant_tables if self.tenant_rows(t.table)]
        if not tenant_tables or len(self.tenants) < 2:
            return result
        chooser = random.Random(seed)
        with self.session(engine, APPLICATION) as connection:
            for attempt in range(count):
                tenant_table = tenant_tables[attempt % len(tenant_tables)]
                table = tenant_table.table
                row = chooser.choice(self.tenant_rows(table))
                owner = row[tenant_table.tenant_column]
                other = chooser.choice([t for t in self.tenants if _normal(t) != _normal(owner)])
                relation = self.relation(table)
                where = self.key_of(table, row)
                column = relation.c[tenant_table.tenant_column]
                self.set_tenant(connection, other)
                result.visible += len(connection.execute(sa.select(relation).where(where)).all())
                result.updated += connection.execute(sa.update(relation).where(where).values({column: column})).rowcount
                result.deleted += connection.execute(sa.delete(relation).where(where)).rowcount
                self.set_tenant(connection, owner)
                result.controls += len(connection.execute(sa.select(relation).where(where)).all())
                result.attempts += 1
                result.tables[table] += 1
        return result

    def visible_counts(self, engine: sa.Engine, table: str, tenant: Any) -> tuple[int, int]:
        """(rows the application sees under `tenant`, rows it should see: the seeded rows of that tenant)."""
        tenant_table = next(t for t in self.security.tenant_tables if t.table == table)
        expected = sum(
            1 for row in self.tenant_rows(table) if _normal(row[tenant_table.tenant_column]) == _normal(tenant)
        )
        with self.session(engine, APPLICATION, tenant) as connection:
            seen = connection.execute(sa.select(sa.func.count()).select_from(self.relation(table))).scalar_one()
        return int(seen), expected

    def unset_tenant_count(self, engine: sa.Engine, table: str) -> int:
        """Rows the application sees when it has set no tenant (must be 0)."""
        with self.session(engine, APPLICATION) as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(self.relation(table))).scalar_one())

    def foreign_insert(self, engine: sa.Engine, table: str) -> tuple[bool, bool, bool]:
        """(a row for another tenant was refused, the same row for the session's tenant was accepted,
        moving that row to another tenant was refused)."""
        tenant_table = next(t for t in self.security.tenant_tables if t.table == table)
        prerequisites, row = self.base.valid_row(table)
        own = row[tenant_table.tenant_column]
        other = next(t for t in self.tenants if _normal(t) != _normal(own))
        relation = self.relation(table)
        column = tenant_table.tenant_column
        owner_tables = self.base.metadata.tables
        with engine.begin() as connection:
            for name, prerequisite in prerequisites:
                connection.execute(sa.insert(owner_tables[name]).values(prerequisite))
        try:
            with self.session(engine, APPLICATION, own) as connection:
                refused = self._refused(connection, sa.insert(relation).values({**row, column: other}))
                connection.execute(sa.insert(relation).values(row))
                accepted = len(connection.execute(sa.select(relation).where(self.key_of(table, row))).all()) == 1
                moved = self._refused(
                    connection, sa.update(relation).where(self.key_of(table, row)).values({column: other})
                )
        finally:
            with engine.begin() as connection:
                for name, prerequisite in reversed(prerequisites):
                    source = owner_tables[name]
                    pk = [c for c in source.primary_key.columns]
                    connection.execute(sa.delete(source).where(*[c == prerequisite[c.name] for c in pk]))
        return refused, accepted, moved

    def _refused(self, connection: sa.Connection, statement: sa.Executable) -> bool:
        """Run `statement` in a savepoint; True if the engine refused it for the tenant rule."""
        return _refused_in_savepoint(connection, statement, self._tenant_rule_refusal)

    def _tenant_rule_refusal(self, error: sa.exc.DBAPIError) -> bool:
        if self.engine == "postgresql":
            # new row violates row-level security policy
            return getattr(error.orig, "sqlstate", None) == "42501"
        return _mysql_code(error) in MYSQL_CHECK_OPTION

    # --- roles ---------------------------------------------------------------------------------

    def refused_writes(self, engine: sa.Engine, logical: str) -> dict[str, bool]:
        """For each table: whether `logical` was refused INSERT, UPDATE and DELETE (all three)."""
        found: dict[str, bool] = {}
        for spec in self.base.tables:
            rows = self.base.loaded[spec.name]
            if not rows:
                continue
            row = rows[0]
            relation = self.relation(spec.name)
            tenant = next((row[t.tenant_column] for t in self.security.tenant_tables if t.table == spec.name), None)
            statements: list[sa.Executable] = [
                sa.insert(relation).values(row),
                sa.update(relation).where(self.key_of(spec.name, row)).values(dict(row)),
                sa.delete(relation).where(self.key_of(spec.name, row)),
            ]
            refused = True
            with self.session(engine, logical, tenant) as connection:
                for statement in statements:
                    refused &= self.denied_in_savepoint(connection, statement)
            found[spec.name] = refused
        return found

    def effective_privileges(self, engine: sa.Engine, logical: str) -> dict[str, tuple[str, ...]]:
        """What `logical` can actually do with each seeded table, in the terms of `granted`: each
        statement runs in a savepoint, and only a refused permission counts as not granted (a
        duplicate key or a restricting foreign key means the privilege was there)."""
        found: dict[str, tuple[str, ...]] = {}
        try:
            with self.session(engine, logical):
                pass
        except sa.exc.DBAPIError as error:
            if self.denied(error):  # MariaDB refuses a login with no privilege in the database
                return found
            raise
        for spec in self.base.tables:
            rows = self.base.loaded[spec.name]
            if not rows:
                continue
            row = rows[0]
            relation = self.relation(spec.name)
            pii = [c.name for c in spec.columns if c.attribute.pii.value != "none"]
            others = [relation.c[c.name] for c in spec.columns if c.name not in pii]
            tenant = next((row[t.tenant_column] for t in self.security.tenant_tables if t.table == spec.name), None)
            probes: dict[str, sa.Executable] = {
                "SELECT": sa.select(relation),
                "SELECT_NON_PII": sa.select(*others),
                "INSERT": sa.insert(relation).values(row),
                "UPDATE": sa.update(relation).where(self.key_of(spec.name, row)).values(dict(row)),
                "DELETE": sa.delete(relation).where(self.key_of(spec.name, row)),
            }
            allowed: list[str] = []
            with self.session(engine, logical, tenant) as connection:
                for name, statement in probes.items():
                    if not self.denied_in_savepoint(connection, statement):
                        allowed.append(name)
            if "SELECT" in allowed or not pii:
                # All columns readable: the narrower grant is implied, not a separate one.
                allowed = [a for a in allowed if a != "SELECT_NON_PII"]
            if allowed:
                found[spec.name] = tuple(allowed)
        return found

    def granted(self, logical: str) -> dict[str, tuple[str, ...]]:
        """What security.sql grants `logical`, per table, in `effective_privileges`' order."""
        order = ("SELECT", "SELECT_NON_PII", "INSERT", "UPDATE", "DELETE")
        return {
            table: tuple(p for p in order if p in privileges)
            for table, privileges in self.security.granted.get(logical, {}).items()
            if privileges and table in {t for t, rows in self.base.loaded.items() if rows}
        }

    def pii_reads(self, engine: sa.Engine) -> dict[str, tuple[bool, bool]]:
        """Per table with PII: (readonly was refused the PII columns, readonly read the others)."""
        found: dict[str, tuple[bool, bool]] = {}
        spaced = set(self.security.spaces.tables if self.security.spaces else ())
        for spec in self.base.tables:
            pii = [c.name for c in spec.columns if c.attribute.pii.value != "none"]
            if not pii or spec.name in spaced:  # a tenant's own copy is read by its own role only
                continue
            relation = self.relation(spec.name)
            others = [relation.c[c.name] for c in spec.columns if c.name not in pii]
            with self.session(engine, READONLY) as connection:
                refused = all(self.denied_in_savepoint(connection, sa.select(relation.c[c])) for c in pii)
                read = not self.denied_in_savepoint(connection, sa.select(*others))
            found[spec.name] = (refused, read)
        return found

    def ddl_refused(self, engine: sa.Engine, logical: str) -> dict[str, bool]:
        """Whether `logical` is refused CREATE TABLE, ALTER TABLE and DROP TABLE."""
        preparer = engine.dialect.identifier_preparer
        table = preparer.quote(self.base.tables[0].name)
        probe = preparer.quote(f"{self.prefix}probe")
        statements = {
            "create table": f"CREATE TABLE {probe} (x INTEGER)",
            "alter table": f"ALTER TABLE {table} ADD COLUMN {probe} INTEGER",
            "drop table": f"DROP TABLE {table}",
        }
        found: dict[str, bool] = {}
        for what, statement in statements.items():
            # One session each: MariaDB commits before any DDL statement, so no savepoint survives it.
            with self.session(engine, logical) as connection:
                try:
                    connection.execute(sa.text(statement))
                    found[what] = False
                except sa.exc.DBAPIError as error:
                    found[what] = self.denied(error)
        return found

    def denied_in_savepoint(self, connection: sa.Connection, statement: sa.Executable) -> bool:
        return _refused_in_savepoint(connection, statement, self.denied)

    # --- audit ---------------------------------------------------------------------------------

    def _update_column(self, spec: TableSpec) -> str | None:
        """A column a workload may change freely: no key, reference, uniqueness, check or tenant role."""
        taken = set(spec.primary_key)
        taken |= {c for fk in spec.foreign_keys for c in fk.columns}
        taken |= {c for group in spec.uniques for c in group}
        taken |= {name for check in spec.checks for name in (check.left, check.right)}
        taken |= {t.tenant_column for t in self.security.tenant_tables if t.table == spec.name}
        for column in spec.columns:
            if column.name in taken or column.attribute.unique:
                continue
            if column.attribute.type is TypeName.ENUM and len(column.attribute.values or ()) > 1:
                return column.name
            if column.attribute.type in (TypeName.STRING, TypeName.TEXT) and column.attribute.pattern is None:
                return column.name
        return None

    def _new_value(self, spec: TableSpec, column: str, row: Row) -> Any:
        attribute = spec.column(column).attribute
        if attribute.type is TypeName.ENUM:
            values = list(attribute.values or ())
            return values[(values.index(row[column]) + 1) % len(values)] if row[column] in values else values[0]
        text = str(row[column] or "")
        limit = attribute.max_length or 64
        return ("changed " + text)[:limit] if text != ("changed " + text)[:limit] else "x"

    def _uncascading(self, table: str) -> list[Row]:
        """Seeded rows of `table` that no seeded row of any table refers to: deleting one neither
        hits a restrict reference (a ForeignKeyViolation from a table that is not audited) nor
        cascades into another table, so the workload's own changes are all the audit trail gets
        and re-inserting the row restores the data as it was."""
        referred: set[tuple[tuple[str, ...], tuple[Any, ...]]] = set()
        for child in self.base.tables:
            for fk in child.foreign_keys:
                if fk.ref_table == table:
                    referred |= {
                        (fk.ref_columns, tuple(_normal(row[c]) for c in fk.columns))
                        for row in self.base.loaded[child.name]
                        if all(row[c] is not None for c in fk.columns)
                    }
        keys = {columns for columns, _ in referred}
        return [
            row
            for row in self.base.loaded[table]
            if not any((columns, tuple(_normal(row[c]) for c in columns)) in referred for columns in keys)
        ]

    def audit_rows(self, engine: sa.Engine) -> list[dict[str, Any]]:
        """The audit trail, oldest first, with JSON decoded."""
        assert self.security.audit_table is not None
        trace = engine.dialect.identifier_preparer.quote(AUDIT_TRACE[self.engine][0])
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    f"SELECT id, table_name, operation, actor, {trace} AS trace, old_row, new_row FROM "
                    f"{engine.dialect.identifier_preparer.quote(self.security.audit_table)} ORDER BY id"
                )
            ).mappings()
            found = []
            for row in rows:
                item = dict(row)
                for name in ("old_row", "new_row"):
                    if isinstance(item[name], str):
                        item[name] = json.loads(item[name])
                found.append(item)
            return found

    def audit_workload(self, engine: sa.Engine, per_table: int, seed: int = 20240101) -> dict[str, Any]:
        """Update, delete and re-insert `per_table` seeded rows of every audited table as the
        application; return what was done and what the audit trail recorded meanwhile."""
        chooser = random.Random(seed)
        before = len(self.audit_rows(engine))
        done: Counter[tuple[str, str]] = Counter()
        expected: list[tuple[str, str, str, dict[str, str], dict[str, str]]] = []
        for table in self.security.audited_tables:
            spec = self.spec(table)
            rows = self._uncascading(table)
            picked = chooser.sample(rows, min(per_table, len(rows)))
            # Every seeded row is referred to (an audited required parent of every child: fuzz
            # model 579): the workload changes the known-good spare record instead, which nothing
            # refers to, inserted first and deleted last so that the data ends as it began.
            spare = None if picked else self.base.valid_row(table)[1]
            column = self._update_column(spec)
            tenant_column = next((t.tenant_column for t in self.security.tenant_tables if t.table == table), None)
            relation = self.relation(table)
            with self.session(engine, APPLICATION, commit=True) as connection:
                for row in [spare] if spare is not None else picked:
                    if tenant_column is not None:
                        self.set_tenant(connection, row[tenant_column])
                    changed = [column] if column is not None else []
                    # A keyless table's audit rows are compared on the changed column alone (the
                    # trail's JSON renders its other values, timestamps included, in its own way).
                    key = {c: _normal(row[c]) for c in spec.primary_key}
                    if spare is not None:
                        connection.execute(sa.insert(relation).values(dict(spare)))
                        expected.append((table, "INSERT", "", {}, key))
                        done[(table, "INSERT")] += 1
                    if column is not None:
                        value = self._new_value(spec, column, row)
                        connection.execute(sa.update(relation).where(self.key_of(table, row)).values({column: value}))
                        expected.append(
                            (table, "UPDATE", column, {**key, column: _normal(row[column])}, {column: _normal(value)})
                        )
                        done[(table, "UPDATE")] += 1
                    found = self.key_of(table, row, changed)
                    # A generated column (the full-text fallback's tsvector) cannot be written back.
                    stored = [
                        c for c in relation.columns if self.base.metadata.tables[table].c[c.name].computed is None
                    ]
                    current = connection.execute(sa.select(*stored).where(found)).mappings().one()
                    connection.execute(sa.delete(relation).where(found))
                    expected.append((table, "DELETE", "", key, {}))
                    connection.execute(sa.insert(relation).values(dict(current)))
                    expected.append((table, "INSERT", "", {}, key))
                    done[(table, "DELETE")] += 1
                    done[(table, "INSERT")] += 1
                    if spare is not None:
                        connection.execute(sa.delete(relation).where(found))
                        expected.append((table, "DELETE", "", key, {}))
                        done[(table, "DELETE")] += 1
        recorded = self.audit_rows(engine)[before:]
        return {"done": done, "expected": expected, "recorded": recorded}

    def audit_matches(self, workload: dict[str, Any]) -> list[str]:
        """Differences between the workload and the audit rows it produced (empty when they match)."""
        problems: list[str] = []
        recorded: list[dict[str, Any]] = workload["recorded"]
        counted = Counter((str(r["table_name"]), str(r["operation"])) for r in recorded)
        if counted != workload["done"]:
            problems.append(f"counts differ: done {dict(workload['done'])}, recorded {dict(counted)}")
        for index, (table, operation, column, old, new) in enumerate(workload["expected"]):
            if index >= len(recorded):
                problems.append(f"no audit row for {operation} on {table}")
                break
            row = recorded[index]
            if (row["table_name"], row["operation"]) != (table, operation):
                problems.append(
                    f"audit row {index}: {row['table_name']} {row['operation']}, expected {table} {operation}"
                )
                continue
            if not row["actor"] or row["trace"] is None:
                problems.append(f"audit row {index}: no actor or {AUDIT_TRACE[self.engine][0]}")
            for name, value in old.items():
                if row["old_row"] is None or _normal(row["old_row"].get(name)) != value:
                    problems.append(f"audit row {index} ({table} {operation}): old {name} is not {value}")
            for name, value in new.items():
                if row["new_row"] is None or _normal(row["new_row"].get(name)) != value:
                    problems.append(f"audit row {index} ({table} {operation}): new {name} is not {value}")
            if column and row["old_row"] == row["new_row"]:
                problems.append(f"audit row {index}: old and new values are equal")
        return problems

    def acted_as_application(self, workload: dict[str, Any]) -> bool:
        """Whether every audit row of the workload names the application as the actor: its role on
        PostgreSQL, its login (`user@host`) on MariaDB."""
        actors = {str(r["actor"]) for r in workload["recorded"]}
        if self.engine == "postgresql":
            return actors == {self.security.roles[APPLICATION]}
        user = self.logins[APPLICATION][0]
        return bool(actors) and all(actor.split("@")[0] == user for actor in actors)

    def audit_changes_refused(self, engine: sa.Engine) -> tuple[bool, bool]:
        """(the owner connection could neither update nor delete audit rows, the application could not read them)."""
        assert self.security.audit_table is not None
        audit = engine.dialect.identifier_preparer.quote(self.security.audit_table)
        append_only = True
        with engine.connect() as connection:
            for statement in (f"UPDATE {audit} SET actor = 'x'", f"DELETE FROM {audit}"):
                transaction = connection.begin()
                try:
                    connection.exec_driver_sql(statement)
                    append_only = False
                except sa.exc.DBAPIError:
                    pass
                finally:
                    transaction.rollback()
        with self.session(engine, APPLICATION) as connection:
            unreadable = self.denied_in_savepoint(connection, sa.text(f"SELECT * FROM {audit}"))
        return append_only, unreadable


def _run(admin: sa.Engine, statement: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(statement)


def _refused_in_savepoint(
    connection: sa.Connection, statement: sa.Executable, refusal: Callable[[sa.exc.DBAPIError], bool]
) -> bool:
    """Run `statement` in a savepoint that is always rolled back; True if the engine raised an
    error that `refusal` recognises (any other error is a refusal of another kind: False)."""
    savepoint = connection.begin_nested()
    try:
        connection.execute(statement)
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        return refusal(error)
    savepoint.rollback()
    return False

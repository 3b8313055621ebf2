"""Checks of `tenancy.isolation: schema`/`database` on a real server (used by the generated security tests).

`SecurityHarness.database` provisions two tenants through the emitted `provision_tenant`
routine; these checks then read what it created and try every tenant's tables as every tenant's
role and as the application role: a role may use its own tenant's tables only, and any other
attempt must fail with a permission error (not with an empty result, a missing table or a
constraint error, which would prove nothing about isolation).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from polyplan.security.design import APPLICATION
from polyplan.security.tenant_spaces import tenant_names
from polyplan.validate.security import SecurityHarness


@dataclass(frozen=True)
class SpaceAttempt:
    """One role's attempt on one table of one tenant's space."""

    actor: str  # a tenant id (acting as that tenant's role), or "application"
    tenant: str  # whose space the table is in
    table: str
    read_refused: bool
    write_refused: bool

    @property
    def own(self) -> bool:
        return self.actor == self.tenant


def space_tables(harness: SecurityHarness, engine: sa.Engine, tenant: str) -> list[str]:
    """The tables provision_tenant created in `tenant`'s schema or database, sorted."""
    assert harness.security.spaces is not None
    space, _ = tenant_names(harness.security.spaces, tenant)
    return sorted(sa.inspect(engine).get_table_names(schema=space))


def space_attempts(harness: SecurityHarness, engine: sa.Engine) -> list[SpaceAttempt]:
    """A SELECT and an INSERT on every per-tenant table of every provisioned tenant, as each
    tenant's role and as the application role; each in a savepoint that is rolled back."""
    spaces = harness.security.spaces
    assert spaces is not None
    found: list[SpaceAttempt] = []
    actors = [*harness.members, APPLICATION]
    for actor in actors:
        role = harness.members.get(actor, actor)
        for tenant in harness.members:
            space, _ = tenant_names(spaces, tenant)
            for name in spaces.tables:
                table = sa.table(name, schema=space)
                with harness.session(engine, role) as connection:
                    read = harness.denied_in_savepoint(connection, sa.select(sa.literal_column("*")).select_from(table))
                    # No values: a permitted INSERT fails on a NOT NULL column instead, which is
                    # not a refused permission; the privilege check comes first on both engines.
                    write = harness.denied_in_savepoint(connection, sa.insert(table))
                found.append(SpaceAttempt(actor, tenant, name, read, write))
    return found

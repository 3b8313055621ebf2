"""`tenancy.isolation: schema` and `database`: a schema (PostgreSQL) or a database (MariaDB/MySQL)
per tenant, provisioned by a generated SQL routine from the planned DDL (pure).

The routine `provision_tenant('<tenant id>')` goes into `security.sql`. For one tenant it creates
the tenant's space and a role of its own, then runs the CREATE statements of every tenant-scoped
table exactly as `schema.sql` has them, qualified by the tenant's space (each statement carries a
placeholder schema that the routine replaces with the quoted name). Tables that are not
tenant-scoped stay shared in the application's schema/database; the per-tenant tables refer to
them unqualified, which resolves there. The tenant's role may read and write its own space only,
and inherits the application role for the shared tables; no other tenant's role may even enter
the space, so reading another tenant's table fails with a permission error.

The tenant id is reduced to `[a-z0-9_]` (any other run of characters becomes `_`, none kept at
either end; at most 40 characters) to name the space and the role: `tenant_names` is the same rule in Python, for tests and the application.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from polyplan.stores.relational.render import build_metadata, ddl_statements
from polyplan.stores.relational.spec import TableSpec

PROVISION_ROUTINE = "provision_tenant"
# The schema every per-tenant statement is compiled with; the routine puts the tenant's in its place.
PLACEHOLDER = "polyplan_tenant_space"
PG_SPACE_PREFIX = "tenant_"  # PostgreSQL schema names are local to the database: tenant_<id>
MAX_ID = 40  # characters of a reduced tenant id (identifiers stay within 63 with a role prefix)
# Where the shared tables are: PostgreSQL's schema.sql creates them in `public`; on MariaDB a
# reference without a database means the referring table's, so the routine names its own database.
SHARED_PLACEHOLDER = "polyplan_shared_space"
SHARED_SCHEMA = {"postgresql": "public", "mysql": SHARED_PLACEHOLDER}
SPACE_ENGINES = {"postgresql": "a schema per tenant", "mysql": "a database per tenant"}


@dataclass(frozen=True)
class TenantSpaces:
    """What `provision_tenant` creates for each tenant, and the SQL that defines it."""

    engine: str
    tables: tuple[str, ...]  # created in every tenant's space, in creation order
    member_prefix: str  # the tenant's role is member_prefix + reduced id
    statements: tuple[str, ...]  # CREATE FUNCTION/PROCEDURE and its grants
    partitioned: tuple[str, ...]  # per-tenant tables whose retention partitions are not provisioned


def reduced_id(tenant: str) -> str:
    """The tenant id as provision_tenant reduces it: lower case, each run of other characters `_`,
    none at either end."""
    return re.sub(r"[^A-Za-z0-9]+", "_", tenant).lower().strip("_")


def tenant_names(spaces: TenantSpaces, tenant: str) -> tuple[str, str]:
    """(the tenant's schema or database, its role), as provision_tenant names them."""
    member = spaces.member_prefix + reduced_id(tenant)
    if spaces.engine == "postgresql":
        return PG_SPACE_PREFIX + reduced_id(tenant), member
    return member, member  # MariaDB: databases are server-wide, like roles: one prefixed name for both


def name_patterns(spaces: TenantSpaces) -> tuple[str, str]:
    """(the schema or database name, the role name) with `<id>` where the reduced tenant id goes."""
    member = spaces.member_prefix + "<id>"
    return (PG_SPACE_PREFIX + "<id>" if spaces.engine == "postgresql" else member), member


def space_ddl(
    tables: Sequence[TableSpec], engine: str, scoped: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """(the CREATE statements of the `scoped` tables in the placeholder schema, those tables in
    creation order, those of them partitioned)."""
    inside = set(scoped)
    homes = {t.name: PLACEHOLDER if t.name in inside else SHARED_SCHEMA[engine] for t in tables}
    metadata = build_metadata(tables, engine, homes).metadata
    chosen = [t for t in metadata.sorted_tables if t.name in inside]
    partitioned = [str(t.name) for t in chosen if t.dialect_options["postgresql"].get("partition_by")]
    return ddl_statements(metadata, engine, chosen), [str(t.name) for t in chosen], partitioned


def tenant_spaces(
    engine: str,
    tables: Sequence[TableSpec],
    scoped: Sequence[str],
    member_prefix: str,
    roles: dict[str, str],
    literal: Callable[[str], str],
    quote: Callable[[str], str],
    inside: Sequence[str] = (),
) -> TenantSpaces:
    """The provisioning routine of `engine` for the tenant-scoped tables `scoped`.

    `roles` maps the logical owner/application roles to their SQL names; `literal` and `quote`
    are the dialect's; each tenant's role is `member_prefix` + its reduced id. `inside`
    (PostgreSQL): statements naming the tables unqualified (audit triggers, encrypted columns), run
    on the tenant's copies with its schema first on the search path.
    """
    statements, created, partitioned = space_ddl(tables, engine, scoped)
    if engine == "postgresql":
        body = _postgresql(statements, created, member_prefix, roles, literal, quote, inside)
    else:
        body = _mysql(statements, member_prefix, roles, literal, quote)
    return TenantSpaces(engine, tuple(created), member_prefix, tuple(body), tuple(partitioned))


def _postgresql(
    statements: Sequence[str],
    scoped: Sequence[str],
    member_prefix: str,
    roles: dict[str, str],
    literal: Callable[[str], str],
    quote: Callable[[str], str],
    inside: Sequence[str] = (),
) -> list[str]:
    routine = quote(PROVISION_ROUTINE)
    ddl = ",\n        ".join(literal(s) for s in statements)
    within = ""
    if inside:
        listed = ",\n        ".join(literal(s) for s in inside)
        within = f"""
    -- Audit triggers and encrypted columns, as the shared tables have them: the same statements,
    -- with the tenant's schema first on the search path (shared functions still found in public).
    PERFORM set_config('search_path', quote_ident(space) || ', public', true);
    FOREACH statement IN ARRAY ARRAY[
        {listed}
    ] LOOP
        EXECUTE statement;
    END LOOP;
    PERFORM set_config('search_path', saved_path, true);"""
    names = ", ".join(literal(t) for t in scoped)
    text = f"""CREATE FUNCTION {routine}(tenant text) RETURNS text
LANGUAGE plpgsql
AS $provision$
DECLARE
    id text := btrim(lower(regexp_replace(tenant, '[^A-Za-z0-9]+', '_', 'g')), '_');
    space text;
    member text;
    statement text;
    tbl text;{"" if not inside else chr(10) + "    saved_path text := current_setting('search_path');"}
BEGIN
    IF id !~ '^[a-z0-9][a-z0-9_]{{0,{MAX_ID - 1}}}$' THEN
        RAISE EXCEPTION 'tenant id % gives no schema name', tenant USING ERRCODE = 'invalid_parameter_value';
    END IF;
    space := {literal(PG_SPACE_PREFIX)} || id;
    member := {literal(member_prefix)} || id;
    EXECUTE format('CREATE ROLE %I NOLOGIN', member);
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', space, {literal(roles["owner"])});
    -- A new schema grants nothing to PUBLIC: only its owner and the tenant's role may enter it.
    FOREACH statement IN ARRAY ARRAY[
        {ddl}
    ] LOOP
        EXECUTE replace(statement, {literal(PLACEHOLDER + ".")}, quote_ident(space) || '.');
    END LOOP;
    FOREACH tbl IN ARRAY ARRAY[{names}]::text[] LOOP
        EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', space, tbl, {literal(roles["owner"])});
    END LOOP;{within}
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', space, member);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', space, member);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', space, member);
    -- The shared tables, as the application reaches them.
    EXECUTE format('GRANT %I TO %I', {literal(roles["application"])}, member);
    EXECUTE format('ALTER ROLE %I SET search_path = %I, public', member, space);
    RETURN space;
END
$provision$"""
    return [text, f"REVOKE EXECUTE ON FUNCTION {routine}(text) FROM PUBLIC"]


def _mysql(
    statements: Sequence[str],
    member_prefix: str,
    roles: dict[str, str],
    literal: Callable[[str], str],
    quote: Callable[[str], str],
) -> list[str]:
    routine = quote(PROVISION_ROUTINE)
    placeholder, shared = literal(quote(PLACEHOLDER) + "."), literal(quote(SHARED_PLACEHOLDER) + ".")
    run = "\n".join(
        f"    EXECUTE IMMEDIATE REPLACE(REPLACE({literal(s)}, {placeholder}, CONCAT(space, '.')), {shared}, home);"
        for s in statements
    )
    text = f"""CREATE PROCEDURE {routine}(IN tenant VARCHAR(255))
MODIFIES SQL DATA SQL SECURITY INVOKER
BEGIN
    DECLARE id VARCHAR(255) DEFAULT TRIM(BOTH '_' FROM LOWER(REGEXP_REPLACE(tenant, '[^A-Za-z0-9]+', '_')));
    DECLARE space VARCHAR(255);
    DECLARE home VARCHAR(255) DEFAULT CONCAT('`', DATABASE(), '`.');
    IF id NOT REGEXP '^[a-z0-9][a-z0-9_]{{0,{MAX_ID - 1}}}$' THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the tenant id gives no database name';
    END IF;
    SET space = CONCAT('`', {literal(member_prefix)}, id, '`');
    EXECUTE IMMEDIATE CONCAT('CREATE DATABASE ', space, ' CHARACTER SET ', @@character_set_database,
        ' COLLATE ', @@collation_database);
{run}
    EXECUTE IMMEDIATE CONCAT('CREATE ROLE ', space);
    EXECUTE IMMEDIATE CONCAT('GRANT SELECT, INSERT, UPDATE, DELETE ON ', space, '.* TO ', space);
    EXECUTE IMMEDIATE CONCAT('GRANT ALL PRIVILEGES ON ', space, '.* TO ', {literal(quote(roles["owner"]))});
    -- The shared tables, as the application reaches them.
    EXECUTE IMMEDIATE CONCAT('GRANT ', {literal(quote(roles["application"]))}, ' TO ', space);
END"""
    return [text]

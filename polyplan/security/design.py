"""The security design: model + assignment → roles, isolation, audit and encryption per store (pure).

What each store can enforce decides what is generated and what is reported:

* roles and grants: PostgreSQL and MariaDB/MySQL (`CREATE ROLE`, `GRANT`, column-level where a
  role may only read an entity that holds PII), Cassandra (`cassandra_roles.py`: keyspace and
  table permissions, no column level: PP455), MongoDB (`mongodb_roles.py`: collection
  privileges, no field level: PP456, embedded entities: PP457); no other store yet;
* `tenancy.isolation: row`: PostgreSQL row-level security, MariaDB/MySQL views with a tenant
  check; Redis by tenant-prefixed keys and an ACL user per tenant (`redis_acl.py`);
* `tenancy.isolation: schema`/`database`: a schema (PostgreSQL) or database (MariaDB/MySQL) and a
  role per tenant, made by a generated provisioning routine (`tenant_spaces.py`); PP454 for an
  entity in any other store;
* `security.audit`: an append-only audit table filled by triggers on PostgreSQL and
  MariaDB/MySQL; Redis keeps no history at all, so auditing a cached entity is an error;
* `encrypt_pii`: envelope encryption in the application (the key never reaches a store), or pgcrypto
  on PostgreSQL where the database must decrypt to filter or sort (`encryption.py`), with
  a keyed hash beside each encrypted value that equality lookups or uniqueness need.

Every setting a chosen store cannot enforce gets a PP408 warning: nothing is accepted and then
silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import all_attributes
from polyplan.model.ranges import RANGE_OPS
from polyplan.model.schema import (
    Attribute,
    Family,
    FilterOp,
    Grant,
    Isolation,
    RequirementsModel,
    Role,
    Sensitivity,
)
from polyplan.plan.ir import Plan
from polyplan.security.redis_acl import tenant_key
from polyplan.security.tenant_spaces import SPACE_ENGINES

# Roles every deployment gets; a model role may not take one of these names.
OWNER, APPLICATION, READONLY = "owner", "application", "readonly"
BUILTIN_ROLES = (OWNER, APPLICATION, READONLY)
ROLE_ENGINES = frozenset(
    {"postgresql", "mysql", "cassandra", "mongodb"}
)  # engines whose roles and grants are generated
ISOLATION_ENGINES = {"postgresql": "row-level security", "mysql": "tenant views (SQL SECURITY DEFINER)"}
# Stores isolated by key space rather than rows: the tenant leads every key, one ACL user per tenant.
KEYSPACE_ISOLATION = {"redis": "keys prefixed `<namespace>:t:<tenant>:`, an ACL user per tenant (`redis/acl.json`)"}
# Search engines: a tenant role whose document-level security query filters on the tenant key.
DLS_ISOLATION = {
    "opensearch": "a tenant role with a document-level security query on the tenant key (`opensearch/roles.json`)",
    "elasticsearch": "a tenant role with a templated role query on the tenant key (`elasticsearch/roles.json`)",
}
AUDIT_ENGINES = {"postgresql": "audit table + trigger", "mysql": "audit table + triggers"}
# Where audit is possible in principle (polyplan does not generate it yet) and how it would be done.
AUDIT_LATER = {
    "mongodb": "change streams into an audit collection",
    "cassandra": "CDC (commitlog change data capture)",
    "elasticsearch": "audit of the system of record (a search index is a projection)",
    "opensearch": "audit of the system of record (a search index is a projection)",
    "sqlite": "triggers (SQLite has no users to record)",
}
ORDER_OPS = frozenset({*RANGE_OPS, FilterOp.PREFIX, FilterOp.FULLTEXT})
ENVELOPE, PGCRYPTO = "envelope", "pgcrypto"  # how an encrypted attribute is protected


@dataclass(frozen=True)
class EntityAccess:
    """What one role may do with one entity."""

    entity: str
    read: bool
    write: bool
    admin: bool

    @property
    def sees_pii(self) -> bool:
        """A role that changes an entity handles its data; one that only reads it gets no PII columns."""
        return self.write or self.admin


@dataclass(frozen=True)
class RoleDesign:
    """One database role: a built-in one (owner, application, readonly) or one of the model's."""

    name: str
    purpose: str
    access: tuple[EntityAccess, ...]
    builtin: bool = True
    path: str = ""  # model path of a model role


@dataclass(frozen=True)
class Protection:
    """How one attribute is protected, and in which store it lives."""

    entity: str
    attribute: str
    pii: Sensitivity
    family: Family
    engine: str
    encrypted: bool
    keyed_hash: bool  # a keyed hash beside the ciphertext serves equality lookups and uniqueness
    protection: str


@dataclass(frozen=True)
class SecurityDesign:
    """Everything security-related the plan commits to, per store."""

    roles: tuple[RoleDesign, ...]
    isolation: Isolation
    tenant_key: str | None
    tenant_scoped: tuple[str, ...]  # entities, model order
    audited: tuple[str, ...]
    protections: tuple[Protection, ...]  # every attribute of every entity
    engines: dict[str, str]  # entity → engine of its system of record
    diagnostics: tuple[Diagnostic, ...]


def applies(model: RequirementsModel) -> bool:
    """Whether the model states anything about security (otherwise nothing is emitted)."""
    return (
        "security" in model.model_fields_set
        or model.tenancy.isolation is not Isolation.NONE
        or any(a.pii is not Sensitivity.NONE for name in model.entities for a in all_attributes(model, name).values())
    )


def tenant_scoped(model: RequirementsModel) -> list[str]:
    """Entities isolated per tenant (all of them when `tenancy.entities` is empty)."""
    if model.tenancy.isolation is Isolation.NONE:
        return []
    return [name for name in model.entities if not model.tenancy.entities or name in model.tenancy.entities]


def role_access(model: RequirementsModel, role: Role) -> tuple[EntityAccess, ...]:
    """A model role's grants per entity, `*` expanded (an entity's own grants add to `*`'s)."""
    everywhere = set(role.grants.get("*", []))
    found: list[EntityAccess] = []
    for name in model.entities:
        grants = everywhere | set(role.grants.get(name, []))
        if grants:
            found.append(EntityAccess(name, Grant.READ in grants, Grant.WRITE in grants, Grant.ADMIN in grants))
    return tuple(found)


def role_name(model: RequirementsModel, role: str, prefix: str | None = None) -> str:
    """A role's name in Cassandra and MongoDB: the model's name first, as on the relational servers."""
    return f"{model.name if prefix is None else prefix}_{role}".lower()


def builtin_roles(model: RequirementsModel) -> tuple[RoleDesign, ...]:
    """Owner (owns the schema, runs migrations), application (DML only), readonly (no PII)."""
    names = list(model.entities)
    return (
        RoleDesign(OWNER, "owns the schema and every table; runs migrations; never used by the application", ()),
        RoleDesign(
            APPLICATION,
            "what the application connects as: reads and writes rows, owns nothing, cannot run DDL",
            tuple(EntityAccess(n, True, True, False) for n in names),
        ),
        RoleDesign(
            READONLY,
            "reporting and support: reads every table, but no column that holds PII",
            tuple(EntityAccess(n, True, False, False) for n in names),
        ),
    )


def decrypting_ops(model: RequirementsModel, entity: str) -> set[str]:
    """Attributes of `entity` that a pattern ranges over, searches by prefix or full text, or sorts by:
    only a database that decrypts them can do that (and still with no index)."""
    found: set[str] = set()
    for pattern in model.access_patterns:
        if pattern.entity == entity:
            found |= {f.attribute for f in pattern.filters if f.op in ORDER_OPS}
            found |= {item.attribute for item in pattern.sort}
    return found


def encryption_method(model: RequirementsModel, entity: str, attribute: str, engine: str) -> str:
    """`pgcrypto` where the database must decrypt (an ordered or prefix use on PostgreSQL), else
    `envelope` (the application encrypts; no key ever reaches a store)."""
    if engine == "postgresql" and attribute in decrypting_ops(model, entity):
        return PGCRYPTO
    return ENVELOPE


def _protection(model: RequirementsModel, pii: Sensitivity, lookup: bool, method: str) -> str:
    if pii is Sensitivity.NONE:
        return "none"
    if model.security.encrypt_pii:
        if method == PGCRYPTO:
            text = "pgcrypto (pgp_sym_encrypt; the key is set per session, never stored): the database decrypts to filter or sort"
        else:
            text = "envelope encryption in the application (data key wrapped by a key outside the database)"
        return text + ("; keyed hash (HMAC-SHA-256) for equality lookups" if lookup else "")
    return "withheld from read-only roles (column-level grants)"


def equality_lookups(model: RequirementsModel, entity: str) -> set[str]:
    """Attributes of `entity` found by equality (eq/in filters) or kept unique: they need a keyed hash."""
    found: set[str] = set()
    for pattern in model.access_patterns:
        if pattern.entity == entity:
            found |= {f.attribute for f in pattern.filters if f.op in (FilterOp.EQ, FilterOp.IN)}
    definition = model.entities[entity]
    found |= {name for group in definition.unique for name in group}
    found |= {name for name, a in definition.attributes.items() if a.unique}
    return found


def _leaves(attributes: dict[str, Attribute], prefix: str = "") -> Iterator[tuple[str, Attribute]]:
    """Every attribute with the fields nested in it (`address.street`, `lines[].sku`): PII can sit
    at any depth, and a field flattened into a column or a child table is stored like any other."""
    for name, attribute in attributes.items():
        path = f"{prefix}{name}"
        yield path, attribute
        if attribute.fields:
            yield from _leaves(attribute.fields, f"{path}.")
        if attribute.items is not None and attribute.items.fields:
            yield from _leaves(attribute.items.fields, f"{path}[].")


class _Designer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.model = plan.model
        self.diagnostics: list[Diagnostic] = []
        self.engines = {name: decision.engine for name, decision in plan.entities.items()}

    def warn(self, code: str, message: str, path: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, Severity.WARNING))

    def error(self, code: str, message: str, path: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, Severity.ERROR))

    def roles(self) -> tuple[RoleDesign, ...]:
        model = self.model
        roles = list(builtin_roles(model))
        for index, role in enumerate(model.security.roles):
            path = f"security.roles.{index}"
            if role.name in BUILTIN_ROLES:
                self.error(
                    "PP317",
                    f"role name '{role.name}' is reserved for the role every deployment gets; choose another name",
                    f"{path}.name",
                )
                continue
            if any(r.name == role.name for r in roles):
                self.error("PP204", f"role '{role.name}' is defined twice", f"{path}.name")
                continue
            access = role_access(model, role)
            roles.append(RoleDesign(role.name, "declared by the model", access, builtin=False, path=path))
            elsewhere: dict[str, list[str]] = {}
            for item in access:
                engine = self.engines[item.entity]
                if engine not in ROLE_ENGINES:
                    elsewhere.setdefault(engine, []).append(item.entity)
            for engine, entities in sorted(elsewhere.items()):
                key = next((e for e in entities if e in role.grants), "*")
                self.warn(
                    "PP408",
                    f"role {role.name}: grants on {', '.join(entities)} ({engine}) are not enforced; "
                    f"polyplan generates no {engine} roles yet, so the application must limit this role itself",
                    f"{path}.grants.{key}",
                )
        return tuple(roles)

    def isolation(self, scoped: list[str]) -> None:
        tenancy = self.model.tenancy
        if tenancy.isolation in (Isolation.SCHEMA, Isolation.DATABASE):
            self.spaces(scoped)
            return
        for name in scoped:
            path = (
                f"tenancy.entities.{tenancy.entities.index(name)}" if name in tenancy.entities else "tenancy.isolation"
            )
            engine = self.engines[name]
            if engine in KEYSPACE_ISOLATION and tenant_key(self.model, name) is not None:
                pass  # tenant-prefixed keys and an ACL user per tenant (redis/acl.json)
            elif engine not in ISOLATION_ENGINES:
                self.warn(
                    "PP408",
                    f"{name} lives in {engine}, which polyplan cannot isolate per tenant yet: every query "
                    f"must filter on {tenancy.tenant_key} in the application",
                    path,
                )
            for projection in self.plan.entities[name].projections:
                if projection.engine in KEYSPACE_ISOLATION and tenant_key(self.model, name) is not None:
                    continue
                if projection.engine in DLS_ISOLATION and tenant_key(self.model, name) is not None:
                    continue  # a tenant role with a document-level query (roles.json), or PP458 when it cannot
                self.warn(
                    "PP408",
                    f"the {projection.engine} projection of {name} is not isolated per tenant: "
                    f"its keys or documents must carry {tenancy.tenant_key}, checked by the application",
                    path,
                )

    def spaces(self, scoped: list[str]) -> None:
        """`schema`/`database` isolation: PostgreSQL and MariaDB/MySQL give each tenant a space of its
        own (tenant_spaces.py); any other store holding a tenant-scoped entity cannot."""
        tenancy = self.model.tenancy
        kind = tenancy.isolation.value
        for name in scoped:
            path = (
                f"tenancy.entities.{tenancy.entities.index(name)}" if name in tenancy.entities else "tenancy.isolation"
            )
            stores = [self.engines[name]] + [p.engine for p in self.plan.entities[name].projections]
            for engine in stores:
                if engine not in SPACE_ENGINES:
                    self.warn(
                        "PP454",
                        f"{name} is kept in {engine}, where polyplan gives no tenant a {kind} of its own: its "
                        f"data of every tenant shares one space, and every query must filter on "
                        f"{tenancy.tenant_key} in the application",
                        path,
                    )

    def audit(self) -> None:
        for index, name in enumerate(self.model.security.audit):
            engine = self.engines[name]
            path = f"security.audit.{index}"
            if engine in AUDIT_ENGINES:
                continue
            if self.plan.entities[name].family is Family.CACHE:
                self.error(
                    "PP318",
                    f"{name} is audited but lives in {engine}, which keeps no history of changes; "
                    "place it in a store that can audit (placement: {family: relational})",
                    path,
                )
            else:
                self.warn(
                    "PP408",
                    f"{name} is audited but lives in {engine}: polyplan generates no audit there yet "
                    f"(the mechanism would be {AUDIT_LATER.get(engine, 'application-side logging')})",
                    path,
                )

    def protections(self) -> tuple[Protection, ...]:
        model = self.model
        found: list[Protection] = []
        for name in model.entities:
            decision = self.plan.entities[name]
            lookups = equality_lookups(model, name)
            for attr_name, attribute in _leaves(all_attributes(model, name)):
                encrypted = model.security.encrypt_pii and attribute.pii is not Sensitivity.NONE
                lookup = encrypted and attr_name in lookups
                found.append(
                    Protection(
                        name,
                        attr_name,
                        attribute.pii,
                        decision.family,
                        decision.engine,
                        encrypted,
                        lookup,
                        _protection(
                            model, attribute.pii, lookup, encryption_method(model, name, attr_name, decision.engine)
                        ),
                    )
                )
        encrypted_items = [p for p in found if p.encrypted]
        self._order_patterns({(p.entity, p.attribute) for p in encrypted_items})
        return tuple(found)

    def _order_patterns(self, encrypted: set[tuple[str, str]]) -> None:
        """PP409: ciphertext has no order and no prefix, so no index can serve such a pattern."""
        for index, pattern in enumerate(self.model.access_patterns):
            engine = self.engines.get(pattern.entity, "")
            for f_index, flt in enumerate(pattern.filters):
                if (pattern.entity, flt.attribute) in encrypted and flt.op in ORDER_OPS:
                    self.warn(
                        "PP409",
                        f"{pattern.entity}.{flt.attribute} is encrypted (encrypt_pii), so no index can serve a "
                        f"{flt.op.value} filter on it: {self._decrypter(pattern.entity, flt.attribute, engine)} "
                        "decrypts every candidate row and filters",
                        f"access_patterns.{index}.filters.{f_index}",
                    )
            for s_index, item in enumerate(pattern.sort):
                if (pattern.entity, item.attribute) in encrypted:
                    self.warn(
                        "PP409",
                        f"{pattern.entity}.{item.attribute} is encrypted (encrypt_pii), so no index can sort by it: "
                        f"{self._decrypter(pattern.entity, item.attribute, engine)} decrypts and sorts "
                        "(bounded by the pattern's other filters and limit)",
                        f"access_patterns.{index}.sort.{s_index}",
                    )

    def _decrypter(self, entity: str, attribute: str, engine: str) -> str:
        if encryption_method(self.model, entity, attribute, engine) == PGCRYPTO:
            return "the database (pgcrypto, key set per session)"
        return "the application"

    def run(self) -> SecurityDesign:
        model = self.model
        roles = self.roles()
        scoped = tenant_scoped(model)
        self.isolation(scoped)
        self.audit()
        protections = self.protections()
        return SecurityDesign(
            roles=roles,
            isolation=model.tenancy.isolation,
            tenant_key=model.tenancy.tenant_key,
            tenant_scoped=tuple(scoped),
            audited=tuple(model.security.audit),
            protections=protections,
            engines=dict(self.engines),
            diagnostics=tuple(self.diagnostics),
        )


def design_security(plan: Plan) -> SecurityDesign:
    """The security design of a plan, with PP317/PP318 errors and PP408/PP409 warnings."""
    return _Designer(plan).run()

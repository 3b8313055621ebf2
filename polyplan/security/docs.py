"""`docs/security-plan.md`: what a security reviewer signs off (pure text from the design).

Roles and grants, tenant isolation per store, encryption per sensitive attribute, transport and
at-rest encryption per store, audit, the data-classification table of every attribute, and every
setting that is not enforced (the same PP408/PP409 warnings the plan prints).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyplan.diagnostics import Diagnostic
from polyplan.model.schema import FilterOp, Isolation
from polyplan.plan.ir import Plan
from polyplan.security.design import (
    AUDIT_ENGINES,
    AUDIT_LATER,
    ISOLATION_ENGINES,
    KEYSPACE_ISOLATION,
    ROLE_ENGINES,
    EntityAccess,
    RoleDesign,
    SecurityDesign,
)
from polyplan.security.redis_acl import acl_rules, acl_user, tenant_key
from polyplan.security.tenant_spaces import SPACE_ENGINES

# Stores whose roles cannot withhold a column or field, and the code that says so.
_NO_COLUMN_GRANTS = {"cassandra": "PP455", "mongodb": "PP456"}
# Deployment settings polyplan does not apply (they live outside the schema): the check-list per engine.
TRANSPORT = {
    "postgresql": ("`ssl = on`; clients `sslmode=verify-full`", "volume or file-system encryption"),
    "mysql": ("`require_secure_transport = ON`", "InnoDB data-at-rest encryption (`innodb_encrypt_tables`)"),
    "sqlite": ("local file: no network", "file-system encryption"),
    "mongodb": ("`net.tls.mode: requireTLS`", "encrypted storage engine or volume encryption"),
    "redis": ("`tls-port` with `port 0`", "volume encryption; keep RDB/AOF files on it"),
    "elasticsearch": ("`xpack.security.http.ssl.enabled: true`", "volume encryption"),
    "opensearch": ("security plugin with HTTPS", "volume encryption"),
    "cassandra": ("`client_encryption_options.enabled: true`", "volume encryption"),
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _grant_text(access: EntityAccess, has_pii: bool) -> str:
    parts = [name for name, on in (("read", access.read), ("write", access.write), ("admin", access.admin)) if on]
    text = ", ".join(parts)
    if access.read and has_pii and not access.sees_pii:
        text += " (no PII columns)"
    return text


def _roles(design: SecurityDesign, plan: Plan, relational: Mapping[str, Any]) -> list[str]:
    engines = sorted(relational)
    lines = ["## Roles and grants", ""]
    lines.append(
        "Least privilege: the migration owner owns the schema and is never used by the application; the "
        "application role owns nothing and cannot run DDL; the read-only role reads no column that holds PII. "
        "A role that may only read an entity holding PII is granted its other columns only."
    )
    lines += ["", "| role | " + " | ".join(f"{e} name" for e in engines) + " | purpose |"]
    lines.append("|---|" + "---|" * len(engines) + "---|")
    for role in design.roles:
        names = [f"`{relational[e]['roles'].get(role.name, '—')}`" for e in engines]
        lines.append(f"| {role.name} | " + " | ".join(names) + f" | {_cell(role.purpose)} |")
    lines += ["", "| entity | store | " + " | ".join(r.name for r in design.roles) + " |"]
    lines.append("|---|---|" + "---|" * len(design.roles))
    pii = {p.entity for p in design.protections if p.pii.value != "none"}
    for entity in plan.model.entities:
        cells = []
        engine = design.engines[entity]
        for role in design.roles:
            access = _access(role, entity)
            if role.name == "owner":
                cells.append("owns" if engine in ROLE_ENGINES else "—")
            elif access and engine in _NO_COLUMN_GRANTS and access.read and not access.sees_pii and entity in pii:
                cells.append(_grant_text(access, False) + f" (PII included: {_NO_COLUMN_GRANTS[engine]})")
            else:
                cells.append(_grant_text(access, entity in pii) if access else "—")
        enforced = "" if engine in ROLE_ENGINES else " (not enforced)"
        lines.append(f"| {entity} | {engine}{enforced} | " + " | ".join(cells) + " |")
    if any(design.engines[e] == "cassandra" for e in plan.model.entities):
        lines += [
            "",
            "Cassandra: `cassandra/roles.cql` creates the same roles (`<model>_<role>`, no login) with "
            "permissions on the keyspace (owner: all; application: SELECT and MODIFY; read-only: "
            "SELECT) and on the tables of each granted entity. Cassandra enforces them only with "
            "`authenticator: PasswordAuthenticator` and `authorizer: CassandraAuthorizer`, and has no "
            "column-level permissions: a role that reads an entity there sees its PII (PP455).",
        ]
    if any(design.engines[e] == "mongodb" for e in plan.model.entities):
        lines += [
            "",
            "MongoDB: `mongodb/roles.py` creates the same roles (`<model>_<role>`) as privileges per collection "
            "(owner: collection and index actions on the database; application: find, insert, update, remove; "
            "read-only: find) and logins holding them (`--user ROLE=LOGIN`). MongoDB enforces them only with "
            "authorization enabled, has no field-level permissions (a role that reads an entity there sees its "
            "PII: PP456), and grants whole collections (an embedded entity's grant covers its root: PP457).",
        ]
    return lines


def _spaces(design: SecurityDesign, plan: Plan, relational: Mapping[str, Any]) -> list[str]:
    """`schema`/`database` isolation: what provision_tenant makes per tenant, and what it costs."""
    kinds = {"postgresql": "schema", "mysql": "database"}
    lines = [
        "",
        "| entity | store | mechanism | what the application does |",
        "|---|---|---|---|",
    ]
    for entity in design.tenant_scoped:
        engine = design.engines[entity]
        if engine in SPACE_ENGINES:
            mechanism = f"{SPACE_ENGINES[engine]}, made by `provision_tenant` (security.sql)"
            how = "acts for a tenant as the tenant's role"
        else:
            mechanism = "not enforced by the store (PP454)"
            how = f"filter every query on `{design.tenant_key}`"
        lines.append(f"| {entity} | {engine} | {mechanism} | {how} |")
    tenants = plan.model.tenancy.tenants
    for engine, summary in sorted(relational.items()):
        spaces = summary.get("tenant_spaces")
        if not spaces:
            continue
        kind, tables = kinds[engine], spaces["tables"]
        call = "SELECT" if engine == "postgresql" else "CALL"
        lines += [
            "",
            f"**{engine}**: `{call} provision_tenant('<tenant id>')`, run as a role that may create roles, "
            f"gives the tenant a {kind} (`{spaces['space']}`) holding {', '.join(f'`{t}`' for t in tables)} "
            f"(the planned DDL of schema.sql), and a role `{spaces['member']}` that alone may use it and "
            "inherits the application role for the shared tables. Every other role, the application's "
            "included, gets a permission error on the tenant's tables. The tenant id is reduced to "
            "`[a-z0-9_]` (other characters become `_`) to name both; the shared copies of these tables "
            "are granted to no one.",
        ]
        lines.append("")
        if tenants:
            lines.append(
                f"Cost at the model's {tenants:,} tenants: {tenants:,} {kind}s and {tenants:,} roles, "
                f"{tenants * len(tables):,} tables (each with its indexes and, on MariaDB, its own file) in "
                f"one server's catalog; every migration of these tables runs {tenants:,} times, once per "
                f"{kind}; a pool per tenant role, or a role switch per request, for connections."
            )
        else:
            lines.append(
                f"Cost: per tenant one {kind}, one role and {len(tables)} tables; every migration of these "
                f"tables runs once per tenant (state `tenancy.tenants` for the totals)."
            )
    return lines


def _access(role: RoleDesign, entity: str) -> EntityAccess | None:
    return next((a for a in role.access if a.entity == entity), None)


def _isolation(design: SecurityDesign, plan: Plan, relational: Mapping[str, Any]) -> list[str]:
    lines = ["## Tenant isolation", ""]
    if design.isolation is Isolation.NONE:
        return [*lines, "The model declares no tenancy (`tenancy.isolation: none`): nothing is isolated per tenant."]
    tenants = plan.model.tenancy.tenants
    lines.append(
        f"Isolation **{design.isolation.value}** on the tenant key `{design.tenant_key}`"
        + (f", for {tenants:,} tenants." if tenants else ".")
    )
    if design.isolation is not Isolation.ROW:
        return [*lines, *_spaces(design, plan, relational)]
    lines += [
        "",
        "| entity | store | mechanism | what the application sets |",
        "|---|---|---|---|",
    ]
    for entity in design.tenant_scoped:
        engine = design.engines[entity]
        if engine == "postgresql":
            how = "`SET app.tenant_id = '<id>'` (or `SET LOCAL` per transaction)"
            mechanism = "row-level security: ENABLE + FORCE, a policy per command on the tenant key"
        elif engine == "mysql":
            views = relational.get("mysql", {}).get("tenant_tables", {})
            view = next((v for t, v in views.items() if t in _tables_of(relational, entity)), "its tenant view")
            how = "`SET @app_tenant_id = '<id>'`; query the tenant view"
            mechanism = f"SQL SECURITY DEFINER view `{view}` WITH CHECK OPTION; grants on the view only"
        elif engine in KEYSPACE_ISOLATION and tenant_key(plan.model, entity) is not None:
            how = "connect as the tenant's ACL user; build keys with the tenant after the namespace"
            mechanism = KEYSPACE_ISOLATION[engine]
        else:
            how = f"filter every query on `{design.tenant_key}`"
            mechanism = "not enforced by the store (PP408)"
        lines.append(f"| {entity} | {engine} | {mechanism} | {how} |")
    keyed = [e for e in design.tenant_scoped if design.engines[e] in KEYSPACE_ISOLATION]
    if keyed:
        from polyplan.stores.cache.design import literal

        namespace = literal(plan.model.name)
        rule = " ".join(
            ["ACL", "SETUSER", acl_user(plan.model, "<tenant>"), *acl_rules(namespace, "<tenant>", "<password>")]
        )
        lines += [
            "",
            f"Redis ({', '.join(keyed)}): each tenant gets its user when it is provisioned (`redis/acl.json`), "
            "confined to its key prefix and to data commands; another tenant's keys answer NOPERM:",
            "",
            f"```\n{rule}\n```",
        ]
    lines += [
        "",
        "Both relational files are emitted whichever relational engine is chosen: "
        f"{', '.join(f'{e}: {m}' for e, m in ISOLATION_ENGINES.items())}.",
        "",
        "### Tenant-scoped patterns and their indexes",
        "",
        "A pattern that filters on the tenant key by equality gets it among the leading equality columns "
        "of its index (the index designer puts equalities first). A pattern keyed by another id (a "
        "parent's key) reaches one tenant's rows through that id; the policy then adds the tenant "
        "check to the rows the index finds.",
        "",
        "| pattern | entity | tenant key filtered | served by |",
        "|---|---|---|---|",
    ]
    scoped = set(design.tenant_scoped)
    for pattern in plan.model.access_patterns:
        if pattern.entity not in scoped:
            continue
        filtered = any(f.attribute == design.tenant_key and f.op is FilterOp.EQ for f in pattern.filters)
        served = (
            "index led by the tenant key's equality"
            if filtered
            else "index on " + ", ".join(f.attribute for f in pattern.filters)
        )
        lines.append(f"| {pattern.name} | {pattern.entity} | {'yes' if filtered else 'no'} | {_cell(served)} |")
    return lines


def _tables_of(relational: Mapping[str, Any], entity: str) -> set[str]:
    for summary in relational.values():
        return {t for t, e in summary.get("entity_of", {}).items() if e == entity}
    return set()


def _encryption(design: SecurityDesign, plan: Plan, encryption: Mapping[str, Any]) -> list[str]:
    lines = ["## Encryption", ""]
    sensitive = [p for p in design.protections if p.pii.value != "none"]
    if plan.model.security.encrypt_pii:
        lines.append(
            "`encrypt_pii` is on: every PII attribute is encrypted before it is stored. By default the "
            "application does it (envelope encryption: AES-256-GCM under a data key per value, the data key "
            "wrapped by a key held in a KMS outside every database); where a pattern ranges over, searches "
            "by prefix or sorts by an attribute on PostgreSQL, pgcrypto encrypts it so that the database can "
            "decrypt to filter and sort, with the key set per session (`SET app.pii_key`) and never stored. "
            "An attribute found by equality or kept unique also gets a keyed hash (HMAC-SHA-256 under a "
            "separate key) beside it; its lookup index and unique rule move to the hash. Ciphertext has no "
            "order: a range, prefix or sort on it cannot use an index (PP409). The read-only role is granted "
            "neither the ciphertext nor the hash."
        )
        if encryption:
            lines += [
                "",
                "`relational/<engine>/encryption.sql` applies it after `schema.sql`, in three phases: expand "
                "(add the `*_enc` and `*_hmac` columns), backfill (the application writes envelopes and hashes of "
                "existing rows; pgcrypto columns are filled by SQL run with the key in the session), contract "
                "(the plaintext column is emptied and a CHECK keeps it empty, unique rules and equality indexes "
                "move to the hash, the new columns become NOT NULL where the attribute is required).",
                "",
                "| column | engine | method | ciphertext | keyed hash |",
                "|---|---|---|---|---|",
            ]
            for engine, columns in sorted(encryption.items()):
                for context, item in columns.items():
                    lines.append(
                        f"| {_cell(context)} | {engine} | {item['method']} | `{item['ciphertext']}` | "
                        + (f"`{item['keyed_hash']}`" if item["keyed_hash"] else "—")
                        + " |"
                    )
    else:
        lines.append("`encrypt_pii` is off: PII attributes are stored in clear, withheld from read-only roles.")
    lines += ["", "| attribute | class | store | protection |", "|---|---|---|---|"]
    for item in sensitive:
        lines.append(
            f"| {item.entity}.{item.attribute} | {item.pii.value} | {item.engine} | {_cell(item.protection)} |"
        )
    if not sensitive:
        lines.append("| — | — | — | no attribute is classified as PII |")
    engines = sorted(set(design.engines.values()))
    lines += ["", "In transit and at rest (deployment settings, not applied by polyplan):", ""]
    lines += ["| store | TLS in transit | encryption at rest |", "|---|---|---|"]
    for engine in engines:
        transit, rest = TRANSPORT.get(engine, ("TLS", "volume encryption"))
        lines.append(f"| {engine} | {transit} | {rest} |")
    return lines


def _audit(design: SecurityDesign, relational: Mapping[str, Any]) -> list[str]:
    lines = ["## Audit", ""]
    if not design.audited:
        return [*lines, "No entity is audited (`security.audit` is empty)."]
    table = next((v["audit_table"] for v in relational.values() if v.get("audit_table")), "audit_log")
    lines += [
        f"Audited entities write every INSERT, UPDATE and DELETE to the append-only table `{table}`: who "
        "(the role on PostgreSQL, the login on MariaDB), when, the operation, the row before and after "
        "(JSON), and the transaction id (PostgreSQL) or the connection id (MariaDB, which gives triggers "
        "no transaction id). Updates, deletes (and on PostgreSQL TRUNCATE) of the audit "
        "table are refused by a trigger; the application role cannot read it; roles with `admin` on an "
        "audited entity can. Retention and partitioning of the audit table are not generated yet: it "
        "grows until an operator archives it.",
        "",
        "| entity | store | mechanism |",
        "|---|---|---|",
    ]
    for entity in design.audited:
        engine = design.engines[entity]
        mechanism = AUDIT_ENGINES.get(engine) or f"not generated (PP408): {AUDIT_LATER.get(engine, 'none')}"
        lines.append(f"| {entity} | {engine} | {mechanism} |")
    return lines


def _erasure(plan: Plan, erasure: Mapping[str, Any] | None, diagnostics: Sequence[Diagnostic]) -> list[str]:
    lines = ["## Erasure", ""]
    subject = plan.model.security.data_subject
    if subject is None:
        return [*lines, "The model names no data subject (`security.data_subject`): no erasure procedure is generated."]
    if not erasure:
        return [
            *lines,
            f"The data subject {subject} is not stored relationally: no erasure procedure is generated yet (PP450).",
        ]
    audit = "."
    if erasure.get("audit_file"):
        audit = (
            f": `{erasure['audit_file']}` sets their PII to null, run after `erasure.sql` in the same "
            "transaction as the migration owner."
        )
    lines += [
        f"Erasing one {subject} (the right to erasure) runs `relational/<engine>/erasure.sql` in one transaction, "
        f"with `:subject_id` bound to the subject's key (`{erasure['table']}` key). From the subject's row it follows "
        "the foreign keys: a row of the subject is **deleted**, or **anonymized** (kept, every PII column "
        "overwritten: NULL where the column allows it, else a placeholder, made unique with the row's key where a "
        "unique rule needs it) when its entity must be kept (`growth.must_keep`, or `erasure: anonymize`) or a kept "
        "row references it; a child whose relationship says `on_delete: set_null` is **detached** (its reference "
        "set to NULL). Anonymizing runs first, then detaching, then deletes, children before parents.",
        "",
    ]
    if plan.model.security.encrypt_pii:
        lines += [
            "With `encrypt_pii` a kept row's ciphertext (`*_enc`) and keyed-hash (`*_hmac`) columns are overwritten "
            "too: NULL where allowed, else a marker derived from the row's key (`erased-<key>`; SHA-256 of it for a "
            "keyed hash, encrypted under the session's key for a pgcrypto column), so neither the ciphertext nor an "
            "equality lookup by the subject's value survives. Apply it to the schema with encryption.sql run.",
            "",
        ]
    lines += [
        f"Audit rows follow the legal rule that the trail is kept (it proves what was done, the erasure "
        f"included): the subject's audit rows are anonymized, not deleted{audit}",
        "",
        "| step | table | entity | action | why | columns overwritten or cleared |",
        "|---|---|---|---|---|---|",
    ]
    for number, step in enumerate(erasure["steps"], start=1):
        touched = ", ".join(step["overwrites"] + step["detaches"]) or "—"
        lines.append(
            f"| {number} | {step['table']} | {step['entity']} | {step['action']} | {_cell(step['reason'])} | "
            f"{_cell(touched)} |"
        )
    for path in erasure.get("store_files", []):
        lines += [
            "",
            f"Then `{path}` erases the subject's entries in {path.split('/')[0]} (its own record, and its rows "
            "there at any depth; `--help` says how to run it, `--dry-run` counts them); a cache fills "
            "again, and a search sync re-projects, from the erased rows.",
        ]
    left = [d for d in diagnostics if d.code == "PP450"]
    if left:
        lines += ["", "Not reached by `erasure.sql` (PP450), for an operator to erase:", ""]
        lines += [f"- {_cell(d.message)}" for d in left]
    return lines


def _classification(design: SecurityDesign) -> list[str]:
    lines = [
        "## Data classification",
        "",
        "Every attribute of every entity, where it is stored and how it is protected.",
        "",
    ]
    lines += ["| entity | attribute | class | store | protection |", "|---|---|---|---|---|"]
    for item in design.protections:
        lines.append(
            f"| {item.entity} | {_cell(item.attribute)} | {item.pii.value} | {item.engine} | {_cell(item.protection)} |"
        )
    return lines


def _not_enforced(diagnostics: Sequence[Diagnostic]) -> list[str]:
    lines = ["## Not enforced", ""]
    if not diagnostics:
        return [*lines, "Every security setting of the model is enforced by the chosen stores."]
    lines.append("Settings the chosen stores cannot enforce, as the plan reports them:")
    lines.append("")
    lines += [f"- `{d.code}` {d.path}: {_cell(d.message)}" for d in diagnostics]
    return lines


def render_security_doc(
    plan: Plan,
    design: SecurityDesign,
    relational: Mapping[str, Any],
    diagnostics: Sequence[Diagnostic],
    encryption: Mapping[str, Any] | None = None,
    erasure: Mapping[str, Any] | None = None,
) -> str:
    """The whole security plan. `relational` is the relational target's `security` summary by engine."""
    model = plan.model
    sections = [
        [f"# Security plan: {model.name} (version {model.version})", "", "Generated by polyplan from the model."],
        _roles(design, plan, relational),
        _isolation(design, plan, relational),
        _encryption(design, plan, encryption or {}),
        _audit(design, relational),
        _erasure(plan, erasure, diagnostics),
        _classification(design),
        _not_enforced(diagnostics),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def security_files(
    plan: Plan,
    relational: Mapping[str, Any],
    diagnostics: Sequence[Diagnostic],
    encryption: Mapping[str, Any] | None = None,
    erasure: Mapping[str, Any] | None = None,
) -> tuple[dict[str, str], list[Diagnostic]]:
    """`docs/security-plan.md` and the design's own diagnostics, when the model states security.

    `relational` is the relational target's `security` summary and `encryption` its encrypted
    columns per engine; `diagnostics` are those found so
    far (the stores' PP408 warnings are listed in the document with the design's).
    """
    from polyplan.security.design import applies, design_security

    if not applies(plan.model):
        return {}, []
    design = design_security(plan)
    found = list(design.diagnostics)
    listed = [
        d
        for d in [*diagnostics, *found]
        if d.code in ("PP408", "PP409", "PP445", "PP446", "PP450", "PP454", "PP455", "PP456", "PP457", "PP458")
    ]
    text = render_security_doc(plan, design, relational, listed, encryption, erasure)
    return {"docs/security-plan.md": text}, found

"""Search engine roles from the security design: `<engine>/roles.json` (pure).

The same roles as the relational stores, as role bodies for the engine's security API: the
OpenSearch security plugin (`PUT _plugins/_security/api/roles/<name>`: index patterns, allowed
action groups, field-level security `fls`, document-level security `dls`) and Elasticsearch
security (`PUT _security/role/<name>`: indices, privileges, `field_security`, `query`):

* the owner manages the index templates, lifecycle policies and every index of the model (it runs
  `setup.py`);
* the application (the sync that writes the projections, and the service that searches them)
  reads and writes documents, and changes no mapping or index;
* the read-only role reads, without the PII fields (field-level security);
* each model role reads (PII fields withheld unless it may also write), writes or administers the
  indexes of the entities it was granted;
* with `tenancy.isolation: row`, a tenant role reads the tenant-scoped indexes through a
  document-level security query on the tenant key, filled from an attribute of the tenant's user
  (`tenant_query` is that query for one tenant, exactly as the engine fills it in).

DLS restricts what a user reads, not what it writes: the tenant role may only read. A
tenant-scoped projection whose documents do not carry the tenant key as a keyword field cannot be
filtered: PP458. None of it is enforced unless the engine's security is on (the OpenSearch
security plugin installed and enabled; `xpack.security.enabled: true`): the file says so.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import all_attributes
from polyplan.security.design import OWNER, READONLY, EntityAccess, builtin_roles, role_access, role_name
from polyplan.security.erasure import holds_pii
from polyplan.security.redis_acl import tenant_key

if TYPE_CHECKING:  # the search target imports this module: no import back at run time
    from polyplan.model.schema import RequirementsModel
    from polyplan.stores.search.design import SearchDesign

ROLES_FILE = "roles.json"
# Field types a term query matches exactly (a tenant key mapped as text would be analyzed).
_TERM_TYPES = frozenset({"keyword", "long", "integer", "short", "byte"})
TENANT = "tenant"  # the role name's suffix of the tenant role
# The user attribute each tenant's user carries, and how each engine names it in a role's query.
TENANT_ATTRIBUTE = "tenant_id"
_PLACEHOLDER = {"opensearch": "${attr.internal.tenant_id}", "elasticsearch": "{{_user.metadata.tenant_id}}"}
# Per engine: (cluster permissions of the owner, index actions of owner / write / read).
_ACTIONS = {
    "opensearch": (
        ["cluster_monitor", "cluster_manage_index_templates", "cluster:admin/opendistro/ism/*"],
        ["indices_all"],
        ["write"],
        ["read"],
    ),
    "elasticsearch": (["monitor", "manage_index_templates", "manage_ilm"], ["all"], ["write"], ["read"]),
}
_API = {
    "opensearch": "PUT _plugins/_security/api/roles/<name> with each body (the OpenSearch security plugin)",
    "elasticsearch": "PUT _security/role/<name> with each body (Elasticsearch security)",
}
_ENFORCED = {
    "opensearch": "only where the OpenSearch security plugin is installed and enabled",
    "elasticsearch": "only with xpack.security.enabled: true",
}


def tenant_query(engine: str, field: str, tenant: str | None = None) -> dict[str, Any]:
    """The tenant role's document-level query on `field`: with the engine's user-attribute
    placeholder, or (with `tenant`) as the engine runs it for that tenant's user."""
    value = _PLACEHOLDER[engine] if tenant is None else tenant
    return {"term": {field: value}}


def _dls(engine: str, field: str) -> str:
    """The query as the role body holds it: OpenSearch a JSON string with the placeholder inside;
    Elasticsearch a mustache template."""
    return json.dumps(tenant_query(engine, field), sort_keys=True)


def _permission(
    engine: str, patterns: list[str], actions: list[str], hidden: list[str], dls_field: str | None
) -> dict[str, Any]:
    """One index permission: patterns, actions, PII fields withheld, and the tenant query."""
    if engine == "opensearch":
        found: dict[str, Any] = {"index_patterns": patterns, "allowed_actions": actions}
        if hidden:
            found["fls"] = [f"~{name}" for name in hidden]
        if dls_field is not None:
            found["dls"] = _dls(engine, dls_field)
        return found
    found = {"names": patterns, "privileges": actions}
    if hidden:
        found["field_security"] = {"grant": ["*"], "except": hidden}
    if dls_field is not None:
        found["query"] = {"template": {"source": _dls(engine, dls_field)}}
    return found


def _role(engine: str, description: str, cluster: list[str], permissions: list[dict[str, Any]]) -> dict[str, Any]:
    if engine == "opensearch":
        return {"description": description, "cluster_permissions": cluster, "index_permissions": permissions}
    return {"metadata": {"description": description}, "cluster": cluster, "indices": permissions}


def search_roles(model: RequirementsModel, design: SearchDesign) -> tuple[dict[str, Any], list[Diagnostic]]:
    """`roles.json` as data (role name → body, with how to apply it), and PP458 for tenant-scoped
    projections that a document-level query cannot filter."""
    engine = design.engine.name
    owner_cluster, every, write, read = _ACTIONS[engine]
    indexes = {i.entity: i for i in design.indexes}
    pii = {
        entity: sorted(
            name for name, a in all_attributes(model, entity).items() if holds_pii(a) and name in indexes[entity].fields
        )
        for entity in indexes
    }

    def patterns(entities: list[str]) -> list[str]:
        return sorted(f"{indexes[e].alias}*" for e in entities)

    def permissions(accesses: list[EntityAccess]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for access in accesses:
            if access.entity not in indexes:
                continue
            actions = every if access.admin else [*(read if access.read else []), *(write if access.write else [])]
            hidden = pii[access.entity] if access.read and not access.sees_pii else []
            found.append(_permission(engine, patterns([access.entity]), actions, hidden, None))
        return found

    roles: dict[str, Any] = {}
    for builtin in builtin_roles(model):
        name = role_name(model, builtin.name)
        if builtin.name == OWNER:
            about = "manages the index templates, lifecycle policies and indexes (runs setup.py); never used by the application"
            body = _role(engine, about, owner_cluster, [_permission(engine, patterns(list(indexes)), every, [], None)])
        else:
            about = builtin.purpose if builtin.name != READONLY else "reporting and support: reads, without PII fields"
            body = _role(engine, about, [], permissions(list(builtin.access)))
        roles[name] = body
    for role in model.security.roles:
        roles[role_name(model, role.name)] = _role(
            engine, f"model role {role.name}", [], permissions(list(role_access(model, role)))
        )
    found: list[Diagnostic] = []
    scoped: list[dict[str, Any]] = []
    for entity, index in indexes.items():
        key = tenant_key(model, entity)
        if key is None:
            continue
        if index.fields.get(key, {}).get("type") not in _TERM_TYPES:
            found.append(
                Diagnostic(
                    "PP458",
                    f"the {engine} projection of {entity} is tenant-scoped but its documents hold no keyword or integer field "
                    f"{key}: no document-level query can keep one tenant's user to its documents, so the "
                    "application must filter every search on it",
                    "tenancy.isolation",
                    Severity.WARNING,
                )
            )
            continue
        scoped.append(_permission(engine, patterns([entity]), read, [], key))
    if scoped:
        roles[role_name(model, TENANT)] = _role(
            engine,
            f"one tenant's user (attribute {TENANT_ATTRIBUTE}): reads only the tenant's documents (document-level "
            "security), writes nothing",
            [],
            scoped,
        )
    document = {
        "_comment": (
            f"Roles for model {model.name} (version {model.version}). Generated by polyplan from the requirements "
            f"model; change the model, not this file. Apply: {_API[engine]}. Enforced {_ENFORCED[engine]}. "
            "Index patterns name the aliases setup.py creates: with setup.py --prefix P, put P before each."
            + (
                f" A tenant's user carries the attribute {TENANT_ATTRIBUTE} (its tenant id, which must not contain "
                "a double quote or a backslash: the engine pastes it into the query)."
                if scoped
                else ""
            )
        ),
        "engine": engine,
        "tenant_attribute": TENANT_ATTRIBUTE,
        "roles": roles,
    }
    return document, found

"""Tenant isolation in Redis: the tenant leads every key of a tenant-scoped entity, and one ACL
user per tenant may touch only its own keys (pure; `redis/acl.json`).

Redis has no rows to filter, so `tenancy.isolation: row` becomes a key-space rule: every key of
a tenant-scoped entity starts `<namespace>:t:<tenant>:`, and the tenant's user is created with
`ACL SETUSER <user> on >password resetkeys ~<namespace>:t:<tenant>:* resetchannels -@all
+@read +@write +@transaction -@dangerous`, so a GET, SET or DEL of another tenant's key fails
with NOPERM. Glob characters in a tenant id are escaped so that an id like `a*` cannot widen
its pattern.
"""

from __future__ import annotations

import json
import re

from polyplan.model.derived import all_attributes
from polyplan.model.schema import Isolation, RequirementsModel

TENANT_SEGMENT = "t"
# Data commands only: no KEYS/FLUSHALL/CONFIG/DEBUG (@dangerous), no pub/sub channels.
COMMAND_RULES = ("-@all", "+@read", "+@write", "+@transaction", "+ping", "-@dangerous")
ACL_FILE = "redis/acl.json"


def tenant_key(model: RequirementsModel, entity: str) -> str | None:
    """The tenant attribute that leads `entity`'s Redis keys, or None when it is not tenant-scoped."""
    tenancy = model.tenancy
    if tenancy.isolation is not Isolation.ROW or tenancy.tenant_key is None:
        return None
    if tenancy.entities and entity not in tenancy.entities:
        return None
    return tenancy.tenant_key if tenancy.tenant_key in all_attributes(model, entity) else None


def tenant_segments(model: RequirementsModel, entity: str) -> list[str | tuple[str, bool]]:
    """Key template pieces that follow the namespace: `t:<tenant>` for a tenant-scoped entity."""
    key = tenant_key(model, entity)
    return [] if key is None else [TENANT_SEGMENT, (key, False)]


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def tenant_prefix(namespace: str, tenant: str) -> str:
    """The start of every key of `tenant` (tenant ids encoded as in key names)."""
    return f"{namespace}:{TENANT_SEGMENT}:{tenant}:"


def acl_rules(namespace: str, tenant: str, password: str) -> list[str]:
    """The ACL SETUSER rules of one tenant's user (after the user name)."""
    return [
        "reset",
        "on",
        f">{password}",
        "resetkeys",
        f"~{_glob_escape(tenant_prefix(namespace, tenant))}*",
        "resetchannels",
        *COMMAND_RULES,
    ]


def acl_user(model: RequirementsModel, tenant: str) -> str:
    """The ACL user name of one tenant."""
    return f"{model.name}_tenant_{tenant}"


def render_acl_json(model: RequirementsModel, namespace: str, entities: list[str]) -> str:
    """`redis/acl.json`: which entities are isolated and the rule template per tenant."""
    data = {
        "namespace": namespace,
        "tenant_key": model.tenancy.tenant_key,
        "entities": entities,
        "user": acl_user(model, "<tenant>"),
        "acl_setuser": ["ACL", "SETUSER", acl_user(model, "<tenant>"), *acl_rules(namespace, "<tenant>", "<password>")],
        "notes": [
            "Run once per tenant when it is provisioned (and ACL SAVE, or keep the users in an aclfile).",
            "Glob characters (* ? [ ] \\) in a tenant id are escaped with a backslash in the key pattern.",
            "Keys of entities that are not tenant-scoped are not reachable by a tenant user.",
        ],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"

"""Tenant isolation in Redis (issue 10): keys of a tenant-scoped entity lead with the tenant, and
`redis/acl.json` gives each tenant an ACL user confined to `~<namespace>:t:<tenant>:*`. On the
real Redis a tenant's user reads and writes its own keys and gets NOPERM on another tenant's."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

import pytest
import redis

from polyplan.pipeline import plan_text, render
from polyplan.security.redis_acl import acl_rules, tenant_prefix
from polyplan.stores.cache import connect
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_OK, run_validation
from tests.test_cache_redis import leftover_keys, write_folder

MODEL = """
name: chat
tenancy: {isolation: row, tenant_key: tenant_id, entities: [Session]}
entities:
  Tenant:
    attributes:
      slug: {type: string, max_length: 40}
  Session:
    placement: {family: cache}
    attributes:
      token: {type: string, max_length: 64, unique: true}
      user_name: {type: string, max_length: 80}
    growth: {initial_rows: 1000, rows_per_day: 100, ttl_seconds: 3600}
relationships:
  - {name: tenant_sessions, kind: one_to_many, from: Tenant, to: Session}
access_patterns:
  - {name: session_by_token, entity: Session, filters: [{attribute: tenant_id, op: eq}, {attribute: token, op: eq}], rate: 100}
"""


def test_tenant_leads_every_key_and_acl_is_emitted() -> None:
    files, diagnostics = render(plan_text(MODEL, "chat.yaml"))
    keys = json.loads(files["redis/keys.json"])
    templates = [k["template"] for k in keys["keys"]] if "keys" in keys else []
    assert templates and all(t.startswith("chat:t:<tenant_id>:") for t in templates), templates
    acl = json.loads(files["redis/acl.json"])
    assert acl["entities"] == ["Session"]
    assert "~chat:t:<tenant>:*" in acl["acl_setuser"]
    assert (
        "ACL SETUSER chat_tenant_<tenant> reset on ><password> resetkeys ~chat:t:<tenant>:*"
        in files["docs/security-plan.md"]
    )
    assert not [d for d in diagnostics if d.code == "PP408"]  # isolated: nothing left to the application


def test_glob_characters_in_a_tenant_id_cannot_widen_the_pattern() -> None:
    assert "~chat:t:a\\*:*" in acl_rules("chat", "a*", "pw")


@pytest.mark.redis
def test_generated_redis_tests_pass_with_tenant_keys(tmp_path: Path) -> None:
    url = resolve_url("redis")
    folder = write_folder(plan_text(MODEL, "chat.yaml"), tmp_path / "chat")
    assert run_validation(folder, "redis", url) == EXIT_OK
    assert leftover_keys(url) == []


@pytest.mark.redis
def test_tenant_user_cannot_touch_another_tenants_keys() -> None:
    url = resolve_url("redis")
    admin = connect.connect(url)
    run = f"pptest-{secrets.token_hex(4)}"  # a namespace of this run: leftover_keys finds it
    tenants = {name: str(uuid.uuid4()) for name in ("a", "b")}
    users = {name: f"{run}_tenant_{name}" for name in tenants}
    passwords = {name: secrets.token_hex(16) for name in tenants}
    clients: dict[str, redis.Redis] = {}
    try:
        for name, tenant in tenants.items():
            admin.execute_command("ACL", "SETUSER", users[name], *acl_rules(run, tenant, passwords[name]))
            admin.set(f"{tenant_prefix(run, tenant)}session:1", f"secret of {name}")
            clients[name] = redis.Redis.from_url(url, username=users[name], password=passwords[name])
        a, own, other = clients["a"], tenant_prefix(run, tenants["a"]), tenant_prefix(run, tenants["b"])
        assert a.get(f"{own}session:1") == b"secret of a"
        assert a.set(f"{own}session:2", "new")
        refused = 0
        attempts = [
            lambda: a.get(f"{other}session:1"),
            lambda: a.set(f"{other}session:1", "stolen"),
            lambda: a.delete(f"{other}session:1"),
            lambda: a.set(f"{other}session:9", "planted"),
            lambda: a.get(f"{run}:session:1"),  # outside every tenant prefix
            lambda: a.keys("*"),  # @dangerous
        ]
        for attempt in attempts:
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
            refused += 1
        assert refused == len(attempts)
        assert admin.get(f"{other}session:1") == b"secret of b"  # untouched
        assert admin.exists(f"{other}session:9") == 0
        assert clients["b"].get(f"{other}session:1") == b"secret of b"
    finally:
        for client in clients.values():
            client.close()
        for user in users.values():
            admin.execute_command("ACL", "DELUSER", user)
        for key in admin.scan_iter(match=f"{run}*"):
            admin.delete(key)
        left = [u for u in admin.execute_command("ACL", "USERS") if str(u, "utf-8").startswith(run)]
        admin.close()
    assert left == []
    assert leftover_keys(url) == []

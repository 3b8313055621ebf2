"""Search engine roles (issue 10): `<engine>/roles.json` from the security design, and the tenant filter.

The role bodies are checked as data for both engines (least privilege, PII fields withheld by
field-level security, the tenant role's document-level query). On the real OpenSearch, each
tenant's document-level query, taken from the emitted role exactly as the security plugin fills
it in for that tenant's user, is run as a filter against seeded documents of two tenants: it
returns that tenant's documents, all of them, and nothing of the other. The OpenSearch here runs
without the security plugin, so no role is enforced by it: that a tenant's user cannot lift the
filter, and that the read-only role cannot write or see PII fields, needs the plugin (or
Elasticsearch with security on) and is not shown here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.security.search_roles import ROLES_FILE, search_roles
from polyplan.stores.search.design import design_search
from polyplan.testkit import resolve_url
from polyplan.validate.store_data import store_data

MODEL = """
name: pptenant
engines: {search: opensearch}
tenancy: {isolation: row, tenant_key: tenant_id, tenants: 2}
entities:
  Note:
    attributes:
      tenant_id: {type: uuid}
      title: {type: string, max_length: 80}
      body: {type: text}
      author_email: {type: string, max_length: 100, pii: contact}
    growth: {initial_rows: 200}
access_patterns:
  - name: search_notes
    entity: Note
    filters: [{attribute: tenant_id, op: eq}, {attribute: body, op: fulltext}]
    limit: 20
    rate: 300
    latency_ms: 200
    consistency: eventual
    staleness_seconds: 30
security:
  roles:
    - {name: support, grants: {Note: [read]}}
    - {name: editor, grants: {Note: [read, write]}}
"""
PLACEHOLDER = {"opensearch": "${attr.internal.tenant_id}", "elasticsearch": "{{_user.metadata.tenant_id}}"}


def roles_of(engine: str) -> dict[str, Any]:
    files, diagnostics = render(plan_text(MODEL.replace("opensearch", engine), "m.yaml"))
    assert not [d for d in diagnostics if d.code in ("PP408", "PP458")]  # the projection is isolated by DLS
    return dict(json.loads(files[f"{engine}/{ROLES_FILE}"])["roles"])


def test_opensearch_roles_are_least_privilege_with_fls_and_dls() -> None:
    roles = roles_of("opensearch")
    assert sorted(roles) == [
        f"pptenant_{n}" for n in ("application", "editor", "owner", "readonly", "support", "tenant")
    ]

    def permissions(role: str) -> dict[str, Any]:
        (found,) = roles[f"pptenant_{role}"]["index_permissions"]
        assert found["index_patterns"] == ["note*"]
        return dict(found)

    assert permissions("owner")["allowed_actions"] == ["indices_all"]
    assert "cluster_manage_index_templates" in roles["pptenant_owner"]["cluster_permissions"]
    assert permissions("application") == {"index_patterns": ["note*"], "allowed_actions": ["read", "write"]}
    assert permissions("readonly") == {
        "index_patterns": ["note*"],
        "allowed_actions": ["read"],
        "fls": ["~author_email"],
    }
    assert permissions("support")["fls"] == ["~author_email"]  # reads only: no PII
    assert "fls" not in permissions("editor")  # it writes the entity: it handles its data
    tenant = permissions("tenant")
    assert tenant["allowed_actions"] == ["read"]  # DLS limits reads; the tenant role writes nothing
    assert json.loads(tenant["dls"]) == {"term": {"tenant_id": PLACEHOLDER["opensearch"]}}
    assert all(not roles[r]["cluster_permissions"] for r in roles if r != "pptenant_owner")


def test_elasticsearch_roles_use_field_security_and_a_templated_query() -> None:
    roles = roles_of("elasticsearch")
    (readonly,) = roles["pptenant_readonly"]["indices"]
    assert readonly == {
        "names": ["note*"],
        "privileges": ["read"],
        "field_security": {"grant": ["*"], "except": ["author_email"]},
    }
    (tenant,) = roles["pptenant_tenant"]["indices"]
    assert json.loads(tenant["query"]["template"]["source"]) == {"term": {"tenant_id": PLACEHOLDER["elasticsearch"]}}
    assert roles["pptenant_owner"]["indices"][0]["privileges"] == ["all"]
    assert "manage_ilm" in roles["pptenant_owner"]["cluster"]


def test_a_projection_without_the_tenant_key_is_reported() -> None:
    """PP458 when a tenant-scoped index holds no field a term query can filter the tenant on."""
    plan = plan_text(MODEL, "m.yaml")
    design = design_search(plan)
    (index,) = design.indexes
    fields = {k: v for k, v in index.fields.items() if k != "tenant_id"}
    stripped = dataclasses.replace(design, indexes=(dataclasses.replace(index, fields=fields),))
    document, diagnostics = search_roles(plan.model, stripped)
    assert [d.code for d in diagnostics] == ["PP458"]
    assert "pptenant_tenant" not in document["roles"]


@pytest.mark.opensearch
def test_each_tenants_dls_query_returns_only_its_documents(tmp_path: Path) -> None:
    """On the real OpenSearch (no security plugin): the tenant role's query, filled in for each of
    two tenants, run as a filter on their seeded documents."""
    from polyplan.stores.search.connect_opensearch import connect, drop_prefix, index_documents
    from polyplan.stores.search.runs import load_setup, run_prefix

    (tmp_path / "m.yaml").write_text(MODEL, encoding="utf-8")
    write_plan(tmp_path / "m.yaml", tmp_path / "plan")
    folder = tmp_path / "plan" / "opensearch"
    (permission,) = json.loads((folder / ROLES_FILE).read_text(encoding="utf-8"))["roles"]["pptenant_tenant"][
        "index_permissions"
    ]
    docs = store_data(tmp_path / "plan" / "tests", "opensearch")["indexes"]["note"]["docs"]
    tenants = ("0b5e1c7e-0000-4000-8000-00000000000a", "0b5e1c7e-0000-4000-8000-00000000000b")
    for number, doc in enumerate(docs):  # the seeded documents, split between two tenants
        doc["source"]["tenant_id"] = tenants[number % 2]
    mine = {t: {d["_id"] for d in docs if d["source"]["tenant_id"] == t} for t in tenants}
    url = resolve_url("opensearch")
    client = connect(url)
    plugins = {row["component"] for row in client.cat.plugins(format="json")}
    prefix = run_prefix()
    found: dict[str, set[str]] = {}
    words: dict[str, set[str]] = {}
    try:
        load_setup(folder / "setup.py").apply(client, folder, prefix=prefix, replicas=0)
        index_documents(client, f"{prefix}note", docs)
        word = docs[0]["source"]["body"].split()[0]
        for tenant in tenants:
            # The plugin pastes the user's attribute into the role's query text: so does the test.
            dls = json.loads(permission["dls"].replace(PLACEHOLDER["opensearch"], tenant))
            hits = client.search(index=f"{prefix}note", body={"query": {"bool": {"filter": [dls]}}, "size": 1000})[
                "hits"
            ]["hits"]
            found[tenant] = {hit["_id"] for hit in hits}
            searched = client.search(
                index=f"{prefix}note",
                body={"query": {"bool": {"must": [{"match": {"body": word}}], "filter": [dls]}}, "size": 1000},
            )["hits"]["hits"]
            words[tenant] = {hit["_id"] for hit in searched}
    finally:
        drop_prefix(client, prefix)
    for tenant, other in (tenants, tenants[::-1]):
        assert found[tenant] == mine[tenant] and mine[tenant]  # all of its documents, none of the other's
        assert not found[tenant] & mine[other]
        assert words[tenant] <= mine[tenant]
    assert words[tenants[0]]  # the full-text search under the filter finds the word's own document
    print(
        f"\nopensearch DLS filter: {len(docs)} documents, tenant a {len(found[tenants[0]])} of {len(mine[tenants[0]])}, "
        f"tenant b {len(found[tenants[1]])} of {len(mine[tenants[1]])}, none crossing; "
        f"security plugin {'installed' if 'opensearch-security' in plugins else 'not installed: roles not enforced here'}"
    )

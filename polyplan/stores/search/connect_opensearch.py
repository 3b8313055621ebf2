"""The only I/O of the search target on OpenSearch: reach an OpenSearch 2 server for validation.

The OpenSearch counterpart of `connect` (same functions, opensearch-py instead of the
Elasticsearch client), used by the generated `test_opensearch.py` and by our integration tests.
A run works under a unique name prefix (indexes, aliases, templates, ISM policies, stored search
templates) and removes everything under it afterwards, so runs never collide and leave nothing behind.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import NotFoundError, OpenSearch, TransportError, helpers
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

from polyplan.stores.search.runs import load_setup, run_prefix
from polyplan.testkit import unavailable

__all__ = ["connect", "drop_prefix", "index_documents", "load_setup", "run_prefix", "server_problem"]

SERVER_MAJOR = "2"
ISM_POLICIES = "/_plugins/_ism/policies"
POLICY_PAGE = 1000  # policies listed per request when cleaning up


def server_problem(url: str, info: dict[str, Any]) -> str | None:
    """Why the server that answered `GET /` with `info` is not one the artifacts target, or None.

    OpenSearch says `version.distribution: opensearch`; Elasticsearch has no such field (its
    tagline is "You Know, for Search"), so a plan for OpenSearch is never checked against it.
    """
    version = info.get("version", {})
    distribution = version.get("distribution")
    number = str(version.get("number", "?"))
    if distribution != "opensearch":
        product = "Elasticsearch" if info.get("tagline") == "You Know, for Search" else "an unknown server"
        return (
            f"{url} answers, but it is {product} {number}, not OpenSearch: this plan's artifacts and tests target "
            "OpenSearch 2 (set POLYPLAN_OPENSEARCH_URL to an OpenSearch server, or plan with "
            "`engines: {search: elasticsearch}` to validate on Elasticsearch)"
        )
    if not number.startswith(f"{SERVER_MAJOR}."):
        return f"{url} runs OpenSearch {number}; the artifacts and client target OpenSearch {SERVER_MAJOR}"
    return None


def connect(url: str) -> OpenSearch:
    """A client for `url`; skips (or fails, if required) when nothing answers there.

    A server that answers but is not OpenSearch 2 is a failure, never a skip: the run would
    otherwise check the artifacts against the wrong product.
    """
    client = OpenSearch(url, timeout=30)
    try:
        info = client.info()
    except OpenSearchConnectionError as exc:
        client.close()
        unavailable("opensearch", f"{url} did not answer ({type(exc).__name__}: {exc})")
    except TransportError as exc:
        client.close()
        raise RuntimeError(f"{url} answered GET / with {exc.status_code}: {exc.error}; is it OpenSearch?") from exc
    problem = server_problem(url, info)
    if problem:
        client.close()
        raise RuntimeError(problem)
    return client


def index_documents(client: OpenSearch, alias: str, docs: list[dict[str, Any]]) -> None:
    """Bulk-index `docs` ({_id, version, source}) the way the outbox relay does, then refresh."""
    actions = [
        {
            "_op_type": "index",
            "_index": alias,
            "_id": doc["_id"],
            "_source": doc["source"],
            "version": doc["version"],
            "version_type": "external_gte",
        }
        for doc in docs
    ]
    # refresh=True: make them searchable now rather than wait for the (long) refresh interval.
    helpers.bulk(client, actions, refresh=True)


def _ism_policies(client: OpenSearch) -> list[str]:
    """Every ISM policy id on the server ([] when the ISM plugin is not installed)."""
    found: list[str] = []
    start = 0
    while True:
        # Sorted by policy id (ISM's default), so pages do not overlap. Without the plugin the
        # server answers 400 "no handler found": expected, so not logged as a failed request.
        params = {"from": start, "size": POLICY_PAGE, "ignore": 400}
        page = client.transport.perform_request("GET", ISM_POLICIES, params=params)
        error = page.get("error")
        if isinstance(error, str) and "no handler found" in error:
            return found  # no ISM plugin, hence no policies
        if error is not None:
            raise RuntimeError(f"GET {ISM_POLICIES} failed: {error}")
        ids = [policy["_id"] for policy in page.get("policies", [])]
        found += ids
        start += len(ids)
        if not ids or start >= int(page.get("total_policies", 0)):
            return found


def drop_prefix(client: OpenSearch, prefix: str) -> None:
    """Delete every index, template, ISM policy and stored script whose name starts with `prefix`."""
    if not prefix:
        raise ValueError("refusing to drop everything: the prefix is empty")
    # Named one by one, as for Elasticsearch: a cluster may set action.destructive_requires_name.
    for name in client.indices.get(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True):
        client.indices.delete(index=name)
    try:
        templates = client.indices.get_index_template(name=f"{prefix}*").get("index_templates", [])
    except NotFoundError:
        templates = []
    for template in templates:
        client.indices.delete_index_template(name=template["name"])
    for policy in _ism_policies(client):
        if policy.startswith(prefix):
            client.transport.perform_request("DELETE", f"{ISM_POLICIES}/{policy}")
    state = client.cluster.state(metric="metadata", filter_path="metadata.stored_scripts")
    for script in state.get("metadata", {}).get("stored_scripts", {}):
        if script.startswith(prefix):
            client.delete_script(id=script)

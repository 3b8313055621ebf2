"""The only I/O of the search target: reach an Elasticsearch 8 server for validation.

Used by the generated tests and by our integration tests. A run works under a unique name
prefix (indexes, aliases, templates, ILM policies, stored search templates) and removes
everything under it afterwards, so runs never collide and leave nothing behind.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, UnsupportedProductError, helpers

from polyplan.stores.search.runs import load_setup, run_prefix
from polyplan.testkit import unavailable

__all__ = ["connect", "drop_prefix", "index_documents", "load_setup", "run_prefix"]

SERVER_MAJOR = "8"


def _product(body: Any) -> str:
    """What the server's `GET /` says it is, e.g. "OpenSearch 2.19.6"."""
    version = body.get("version", {}) if isinstance(body, dict) else {}
    distribution = str(version.get("distribution", "an unknown product"))
    name = "OpenSearch" if distribution == "opensearch" else distribution
    return f"{name} {version.get('number', '')}".strip()


def connect(url: str) -> Elasticsearch:
    """A client for `url`; skips (or fails, if required) when nothing answers there."""
    client = Elasticsearch(url, request_timeout=30)
    try:
        info = client.info()
    except UnsupportedProductError as exc:
        # Something answered, so this is not "unreachable" (a skip): it is the wrong product.
        client.close()
        raise RuntimeError(
            f"{url} answers, but it is not Elasticsearch ({_product(exc.body)}): this plan's artifacts and tests "
            "target Elasticsearch 8 (set POLYPLAN_ELASTICSEARCH_URL to an Elasticsearch server, or plan with "
            "`engines: {search: opensearch}` to validate on OpenSearch)"
        ) from exc
    except (TransportError, ApiError) as exc:
        client.close()
        unavailable("elasticsearch", f"{url} did not answer ({type(exc).__name__}: {exc})")
    version = str(info["version"]["number"])
    if not version.startswith(f"{SERVER_MAJOR}."):
        client.close()
        raise RuntimeError(f"{url} runs Elasticsearch {version}; the artifacts and client target Elasticsearch 8")
    return client


def index_documents(client: Elasticsearch, alias: str, docs: list[dict[str, Any]]) -> None:
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


def drop_prefix(client: Elasticsearch, prefix: str) -> None:
    """Delete every index, template, ILM policy and stored script whose name starts with `prefix`."""
    if not prefix:
        raise ValueError("refusing to drop everything: the prefix is empty")
    # Elasticsearch 8 refuses wildcard deletes of indexes (action.destructive_requires_name): name each one.
    for name in client.indices.get(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True):
        client.indices.delete(index=name)
    try:
        templates = client.indices.get_index_template(name=f"{prefix}*").get("index_templates", [])
    except NotFoundError:
        templates = []
    for template in templates:
        client.indices.delete_index_template(name=template["name"])
    for policy in client.ilm.get_lifecycle():
        if policy.startswith(prefix):
            client.ilm.delete_lifecycle(name=policy)
    state = client.cluster.state(metric="metadata", filter_path="metadata.stored_scripts")
    for script in state.get("metadata", {}).get("stored_scripts", {}):
        if script.startswith(prefix):
            client.delete_script(id=script)

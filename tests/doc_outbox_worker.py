"""A document-store relay process for tests/test_doc_outbox.py's fault run: it relays one collection
into one OpenSearch index until killed (the test SIGKILLs it at random points).

Usage: python tests/doc_outbox_worker.py MONGODB_URL DATABASE SEARCH_URL INDEX
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch, helpers
from pymongo import MongoClient

from polyplan.scaffold.doc_outbox_runtime import relay_forever, search_apply
from polyplan.scaffold.search_runtime import SearchRetry, search_outcome


def item_source(document: Mapping[str, Any]) -> dict[str, Any]:
    """The search document of one stored item (its fields but the key)."""
    return {name: document.get(name) for name in ("sku", "title", "stock")}


def main(argv: list[str]) -> int:
    """Relay until killed; with a fifth argument `once`, until nothing is pending."""
    mongodb_url, database, search_url, index = argv[:4]
    collection = MongoClient(mongodb_url, tz_aware=True)[database]["items"]
    client = OpenSearch(search_url, timeout=30)

    def bulk(actions: list[dict[str, Any]]) -> Any:
        return helpers.streaming_bulk(client, actions, raise_on_error=False, raise_on_exception=True, max_retries=0)

    apply = search_apply(index, item_source, bulk, lambda actions, results: search_outcome(actions, results).parked)
    once = len(argv) > 4 and argv[4] == "once"
    relay_forever({"Item": collection}, {"Item": apply}, batch=50, once=once, transient=(SearchRetry,))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The search projection's runtime in a scaffolded application: outbox events → bulk actions with
external versioning, the bulk answer → what was applied, what was already newer and what is parked,
and a search answer → typed hits.

Copied verbatim (without this docstring, its runtime import pointed at the package's own
`runtime`) into a package whose plan projects an entity to Elasticsearch or OpenSearch. It imports
no search client: the package's `search.py` calls the client of the plan's engine (whose bulk
helpers answer in the same form on both), so one tested source serves both engines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from polyplan.scaffold.runtime import Event, decode, encode

# Bulk statuses worth a retry of the whole batch (the relay backs off): throttled or unavailable.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A document part: (object field, or "" for the attribute itself; source column; model type).
Part = tuple[str, str, str]


@dataclass(frozen=True)
class SearchTarget:
    """Where one entity's rows go: the write alias, the id columns and each document field's columns."""

    alias: str
    doc_id: tuple[str, ...]  # columns whose values, joined with '|', are the document id
    fields: tuple[tuple[str, tuple[Part, ...]], ...]  # attribute → the columns it is read from
    # (field, seconds) when the records' store expires them without an event: the document field
    # holding the instant its record expires, and the TTL it is the write time plus.
    expiry: tuple[str, int] | None = None


class SearchRetry(Exception):
    """The engine refused a batch for now (throttled, shard unavailable): retry it with backoff."""


def document_value(kind: str, value: Any) -> Any:
    """One column value of an outbox row (its JSON form) in the document's form.

    The outbox already holds strings for timestamps, dates, uuids and binary (ISO 8601, base64) and
    nested JSON for collections, which is what the index mapping reads; a decimal is written as a
    number (the mapping's scaled_float), as polyplan.stores.search.documents does.
    """
    if value is None:
        return None
    if kind == "decimal":
        return float(value)
    return value


def search_document(target: SearchTarget, row: Mapping[str, Any]) -> dict[str, Any]:
    """The whole document of one row (column → JSON value): a flattened object is rebuilt from its
    columns, and is null when all of them are."""
    document: dict[str, Any] = {}
    for attribute, parts in target.fields:
        if len(parts) == 1 and parts[0][0] == "":
            document[attribute] = document_value(parts[0][2], row.get(parts[0][1]))
            continue
        values = {name: document_value(kind, row.get(column)) for name, column, kind in parts}
        document[attribute] = None if all(v is None for v in values.values()) else values
    return document


def search_id(target: SearchTarget, row: Mapping[str, Any]) -> str:
    """The document id: the key columns' values joined with '|' (polyplan's sync contract)."""
    return "|".join(str(row[column]) for column in target.doc_id)


def search_actions(
    targets: Mapping[str, SearchTarget], events: Sequence[Event], prefix: str = ""
) -> list[tuple[int, dict[str, Any]]]:
    """(event id, bulk action) for each event of an indexed entity, in event order.

    Every action carries the event id as an external version, so the engine refuses (409) any
    action older than the document's version: a replayed or overtaken event never overwrites a
    newer document, and a delete leaves a versioned tombstone for `index.gc_deletes`. A row whose
    key changed is deleted under its old id.
    """
    actions: list[tuple[int, dict[str, Any]]] = []
    for event in events:
        target = targets.get(event.entity)
        if target is None:
            continue
        alias = prefix + target.alias
        before = None if event.before is None else json.loads(event.before)
        after = None if event.after is None else json.loads(event.after)
        common = {"_index": alias, "version": event.id, "version_type": "external"}
        old = None if before is None else search_id(target, before)
        new = None if after is None else search_id(target, after)
        if old is not None and old != new:
            actions.append((event.id, {"_op_type": "delete", "_id": old, **common}))
        if after is not None and new is not None:
            actions.append(
                (event.id, {"_op_type": "index", "_id": new, "_source": search_document(target, after), **common})
            )
    return actions


def expired_query(field: str) -> dict[str, Any]:
    """The query of every document whose record has expired (its expiry instant, `field`, is past
    by the engine's clock): what the purge deletes."""
    return {"range": {field: {"lte": "now"}}}


def purge_indexes(
    delete_by_query: Callable[[str, dict[str, Any]], Mapping[str, Any]], indexes: Mapping[str, str]
) -> int:
    """Delete the expired documents of each index (write alias → its expiry field) with the engine
    client's delete-by-query (`delete_by_query(alias, query)`, run with `conflicts=proceed`, so a
    document a relay rewrote meanwhile, with a later expiry, is kept); answers how many were
    deleted."""
    return sum(int(delete_by_query(alias, expired_query(field)).get("deleted", 0)) for alias, field in indexes.items())


@dataclass(frozen=True)
class BulkOutcome:
    """What one batch did to the index."""

    applied: int  # actions the engine took
    newer: int  # refused with 409: the document already has this or a newer version (success)
    parked: dict[int, str]  # event id → why the engine rejected its document (a dead letter)


def search_outcome(
    actions: Sequence[tuple[int, dict[str, Any]]], results: Iterable[tuple[bool, Mapping[str, Any]]]
) -> BulkOutcome:
    """Read the bulk answer (one (ok, item) per action, in order, as the clients' streaming_bulk
    yields them with raise_on_error=False).

    A delete of a missing document (404) and a version conflict (409) are success: the index
    already holds that state or a newer one. A throttled or unavailable shard raises SearchRetry
    (the relay retries the batch). Any other refusal (a document the mapping rejects) parks the
    event with the engine's reason rather than blocking the relay forever.
    """
    applied = newer = 0
    parked: dict[int, str] = {}
    for (event_id, action), (ok, item) in zip(actions, results, strict=True):
        answer = next(iter(item.values()))
        status = int(answer.get("status", 500))
        if ok or (status == 404 and action["_op_type"] == "delete"):
            applied += 1
        elif status == 409:
            newer += 1
        elif status in RETRY_STATUSES:
            raise SearchRetry(f"{action['_op_type']} {action['_id']}: {status} {_reason(answer)}")
        else:
            parked.setdefault(event_id, f"search {action['_op_type']} refused ({status}): {_reason(answer)}")
    return BulkOutcome(applied, newer, parked)


def _reason(answer: Mapping[str, Any]) -> str:
    error = answer.get("error")
    if isinstance(error, Mapping):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    return str(error or answer.get("result", "no reason given"))


def search_params(kinds: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """A search template's parameters in JSON form (datetimes as ISO 8601, decimals and uuids as
    text, lists element-wise); parameters left None are left out (the template's default applies)."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        kind = kinds.get(name, "string")
        params[name] = [encode(kind, v) for v in value] if isinstance(value, list | tuple) else encode(kind, value)
    return params


def hit_value(kind: str, value: Any) -> Any:
    """A `_source` value back in its model type (a decimal from the number the index holds)."""
    return decode(kind, None if value is None else str(value)) if kind == "decimal" else decode(kind, value)


H = TypeVar("H")


@dataclass(frozen=True)
class Page(Generic[H]):
    """One page of a search pattern's answer: the hits in the engine's order, the total of matching
    documents, and each facet's (value, count) pairs."""

    hits: list[H]
    total: int
    facets: dict[str, list[tuple[Any, int]]]


def page_of(response: Mapping[str, Any], hit: Callable[[Mapping[str, Any]], H], facets: Sequence[str] = ()) -> Page[H]:
    """Typed hits of a search response (the template's `facet_<name>` aggregations as facets)."""
    found = response.get("hits", {})
    total = found.get("total", 0)
    aggregations = response.get("aggregations", {})
    return Page(
        [hit(item) for item in found.get("hits", [])],
        int(total["value"] if isinstance(total, Mapping) else total),
        {
            name: [
                (bucket["key"], int(bucket["doc_count"]))
                for bucket in aggregations.get(f"facet_{name}", {}).get("buckets", [])
            ]
            for name in facets
        },
    )

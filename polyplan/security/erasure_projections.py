"""Erasure in the copies of the subject's data: Redis cache entries and search documents, at any depth (pure).

`erasure.sql` erases or anonymizes the subject's rows in the system of record. A cache or a search
engine holds copies of some of them; its erasure script deletes every copy that belongs to the
subject, following the relationship graph as `erasure_graph` walks it: the subject's own record (by
its key), a direct child's (by its reference to the subject), and each deeper level by its
reference to the keys of the level above, read from the copies found there, every level found
before anything is deleted. A level whose parent has no copy in the store (or whose copies do not
hold the key the children refer to) cannot be found there and is reported (PP450) by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from polyplan.emit.embed import module_code
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan
from polyplan.security.erasure_graph import DETACH, store_steps

# A level: the entity, its field naming the subject (parent None) or its parent's key, the parent
# entity and the parent's field that key is read from.
Level = tuple[str, str, str | None, str | None]


def _levels(plan: Plan, erasure: Mapping[str, Any], engine: str, holds: Callable[[str], bool]) -> list[Level]:
    """The subject itself (when the store holds it), then every entity the graph reaches within the store."""
    subject = plan.model.security.data_subject
    own = next((s for s in erasure["steps"] if s["entity"] == subject and s["links"]), None)
    levels: list[Level] = []
    if subject is not None and own is not None and subject in plan.entities and holds(subject):
        levels.append((subject, own["links"][0], None, None))
    for step in store_steps(plan, engine, holds):
        # A detached row is no longer the subject's: its copy stays (the sync clears its reference).
        if step.action != DETACH:
            levels.append((step.entity, step.field, step.parent, None if step.parent is None else step.parent_key))
    return levels


def redis_targets(
    plan: Plan, files: Mapping[str, str], erasure: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], set[str]]:
    """The cache key families holding the subject's records (parents first), and their entities."""
    keys = json.loads(files["redis/keys.json"])["keys"] if "redis/keys.json" in files else []

    def cached(entity: str) -> bool:
        return any(p.family is Family.CACHE and p.engine == "redis" for p in plan.entities[entity].projections)

    targets: list[dict[str, Any]] = []
    provides: dict[str, set[str]] = {}  # entity → record fields its reached families hold
    for entity, field, parent, parent_key in _levels(plan, erasure, "redis", cached):
        if parent is not None and parent_key not in provides.get(parent, set()):
            continue  # the parent's keys cannot be read from the cache: this level cannot be found
        for key in keys:
            fields = {f["name"] for f in key.get("fields", [])}
            if key["entity"] != entity or field not in fields:
                continue
            targets.append(
                {
                    "entity": entity,
                    "family": key["name"],
                    "match": _prefix(key["template"]),
                    "structure": key["structure"],
                    "field": field,
                    "parent": parent,
                    "parent_key": parent_key,
                }
            )
            provides.setdefault(entity, set()).update(fields)
    return targets, set(provides)


def search_targets(
    plan: Plan, files: Mapping[str, str], erasure: Mapping[str, Any], engine: str
) -> list[dict[str, Any]]:
    """Aliases of the search projections of the subject's rows (parents first), with the keyword
    field naming the subject or the parent's key."""
    templates: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (meta, properties) per template
    for path, text in sorted(files.items()):
        if path.startswith(f"{engine}/") and path.endswith(".template.json"):
            template = json.loads(text)
            properties = template.get("template", {}).get("mappings", {}).get("properties", {})
            templates.append((template.get("_meta", {}), properties))

    def projected(entity: str) -> bool:
        return any(p.engine == engine for p in plan.entities[entity].projections)

    found: list[dict[str, Any]] = []
    provides: dict[str, set[str]] = {}  # entity → keyword fields its reached aliases hold
    for entity, field, parent, parent_key in _levels(plan, erasure, engine, projected):
        if parent is not None and parent_key not in provides.get(parent, set()):
            continue
        for meta, properties in templates:
            if meta.get("entity") != entity or properties.get(field, {}).get("type") != "keyword":
                continue
            target = {
                "entity": entity,
                "alias": meta["alias"],
                "field": field,
                "parent": parent,
                "parent_key": parent_key,
            }
            if target not in found:
                found.append(target)
                provides.setdefault(entity, set()).update(
                    n for n, p in properties.items() if p.get("type") == "keyword"
                )
    return found


def _prefix(template: str) -> str:
    """The SCAN pattern of a key template: its fixed start, then anything."""
    fixed = template.split("<", 1)[0]
    for special in "*?[]\\\\":
        fixed = fixed.replace(special, "\\\\" + special)
    return fixed + "*"


# The generated scripts' shared part: per entity, the key fields its children's references hold.
_CHILD_KEYS = """
# Per entity, the fields of its copies that its children's references hold (read while finding).
CHILD_KEYS: dict[str, list[str]] = {}
for _target in TARGETS:
    if _target["parent"] is not None and _target["parent_key"] not in CHILD_KEYS.setdefault(_target["parent"], []):
        CHILD_KEYS[_target["parent"]].append(_target["parent_key"])
"""

_REDIS_SCRIPT = '''"""Delete the cached entries of one erased data subject from Redis (at any depth).

Run after erasure.sql has erased the subject in the system of record. Every key of the families
below is scanned (SCAN MATCH, never KEYS); an entry whose record names the subject (its own key, or
a direct child's reference to it), or one of the subject's records one level up (found first, in
the cache), is deleted, and the cache fills again from the erased rows. An entry whose parent is
not cached at that moment is not found: it expires with its TTL.
Usage:

    python erasure.py REDIS_URL SUBJECT_ID [--dry-run]

SUBJECT_ID is the subject's key as the cache writes it (a uuid in canonical form). Exit status 0
when done, 1 when the server refused or could not be reached, 2 on bad usage.
Generated by polyplan from the requirements model; change the model, not this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import redis
%(client)s%(report)s
# Key families holding the subject's records, parents first: the SCAN pattern, how a value is
# stored, the record field that holds the subject's key (parent null) or the parent's key, and the
# parent's record field that key is read from.
TARGETS = json.loads(%(targets)r)
%(child_keys)s

def record_of(client: redis.Redis, key: bytes, structure: str) -> dict[str, Any]:
    """The record cached at `key` as a mapping ({} when absent or not a record)."""
    if structure == "hash":
        return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in client.hgetall(key).items()}
    raw = client.get(key)
    record = json.loads(raw) if raw is not None else None
    return record if isinstance(record, dict) else {}


def text(value: Any) -> str | None:
    """A record value as the subject's key is written (None stays None)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def erase(client: redis.Redis, subject: str, dry_run: bool) -> dict[str, int]:
    """Deleted (or, with dry_run, found) entries per key family: every level found first (a deeper
    one through the keys of the records found above it), then deleted."""
    keys: dict[str, set[str]] = {}  # entity → keys of the subject's records found in the cache
    doomed: dict[str, list[bytes]] = {}
    for target in TARGETS:
        wanted = {subject} if target["parent"] is None else keys.get(target["parent"], set())
        found = doomed.setdefault(target["family"], [])
        for key in client.scan_iter(match=target["match"], count=1000) if wanted else ():
            record = record_of(client, key, target["structure"])
            if text(record.get(target["field"])) not in wanted:
                continue
            if key not in found:  # SCAN may return a key twice
                found.append(key)
            for name in CHILD_KEYS.get(target["entity"], []):
                if text(record.get(name)) is not None:
                    keys.setdefault(target["entity"], set()).add(str(text(record.get(name))))
    for found in doomed.values() if not dry_run else ():
        for start in range(0, len(found), 1000):
            client.delete(*found[start : start + 1000])
    return {family: len(found) for family, found in doomed.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="redis://host:port/db")
    parser.add_argument("subject_id", help="the data subject's key")
    parser.add_argument("--dry-run", action="store_true", help="count the entries, delete nothing")
    args = parser.parse_args()
    return report_counts(
        args.url,
        lambda: erase(redis_client(args.url), args.subject_id, args.dry_run),
        (redis.RedisError, ValueError),
        "found" if args.dry_run else "deleted",
    )


if __name__ == "__main__":
    sys.exit(main())
'''


def redis_erasure_script(targets: list[dict[str, Any]], report: str) -> str:
    """`redis/erasure.py`: the subject's cached entries deleted, at any depth."""
    return _REDIS_SCRIPT % {
        "targets": json.dumps(targets, sort_keys=True),
        "client": module_code("polyplan.stores.cache", "client.py"),
        "report": report,
        "child_keys": _CHILD_KEYS,
    }


_SEARCH_SCRIPT = '''"""Delete the search documents of one erased data subject from %(title)s (at any depth).

Run after erasure.sql has erased the subject in the system of record. For each index below, the
documents whose field names the subject (its own key, or a direct child's reference to it), or one
of the subject's documents one level up (found first), are deleted by query; the sync re-projects
rows that erasure kept (anonymized) when they next change.
Usage:

    python erasure.py --url %(url)s SUBJECT_ID [--prefix dev_] [--dry-run]

SUBJECT_ID is the subject's key as the documents hold it (a uuid in canonical form). Exit status 0
when done, 1 when the server refused or could not be reached, 2 on bad usage.
Generated by polyplan from the requirements model; change the model, not this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

%(import_line)s
%(report)s
# Aliases holding the subject's documents, parents first: the keyword field that holds the subject's
# key (parent null) or the parent's key, and the parent's field that key is read from.
TARGETS = json.loads(%(targets)r)
%(child_keys)s# Keys per terms query: well below the engines' default index.max_terms_count (65,536).
BATCH = 10000


def erase(client: Any, subject: str, prefix: str, dry_run: bool) -> dict[str, int]:
    """Deleted (or, with dry_run, matching) documents per alias: every level found first (a deeper
    one through the keys of the documents found above it), then deleted children first."""
    keys: dict[str, set[str]] = {}  # entity → keys of the subject's documents found
    chosen: list[tuple[str, list[dict[str, Any]]]] = []
    for target in TARGETS:
        index = prefix + target["alias"]
        values = [subject] if target["parent"] is None else sorted(keys.get(target["parent"], set()))
        queries = [{"terms": {target["field"]: values[i : i + BATCH]}} for i in range(0, len(values), BATCH)]
        needed = CHILD_KEYS.get(target["entity"], [])
        for query in queries if needed else []:
            for hit in helpers.scan(client, index=index, query={"query": query, "_source": needed}):
                for name in needed:
                    if hit["_source"].get(name) is not None:
                        keys.setdefault(target["entity"], set()).add(str(hit["_source"][name]))
        chosen.append((index, queries))
    counts: dict[str, int] = {}
    for index, queries in reversed(chosen):
        done = 0
        for query in queries:
            if dry_run:
                done += int(client.count(index=index, body={"query": query})["count"])
            else:
                deleted = client.delete_by_query(index=index, body={"query": query}, params={"refresh": "true", "conflicts": "proceed"})
                done += int(deleted["deleted"])
        counts[index] = counts.get(index, 0) + done
    return {prefix + target["alias"]: counts[prefix + target["alias"]] for target in TARGETS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subject_id", help="the data subject's key")
    parser.add_argument("--url", default="%(url)s", help="%(title)s URL")
    parser.add_argument("--prefix", default="", help="the prefix setup.py was given")
    parser.add_argument("--dry-run", action="store_true", help="count the documents, delete nothing")
    args = parser.parse_args()
    return report_counts(
        args.url,
        lambda: erase(%(client)s, args.subject_id, args.prefix, args.dry_run),
        (Exception,),  # the client's transport and API errors
        "matching" if args.dry_run else "deleted",
    )


if __name__ == "__main__":
    sys.exit(main())
'''

_CLIENTS = {
    # The same 30 s bound as setup.py: a server that stops answering ends the run with exit 1.
    "opensearch": ("OpenSearch", "from opensearchpy import OpenSearch, helpers", "OpenSearch(args.url, timeout=30)"),
    "elasticsearch": (
        "Elasticsearch",
        "from elasticsearch import Elasticsearch, helpers",
        "Elasticsearch(args.url, request_timeout=30)",
    ),
}


def search_erasure_script(engine: str, targets: list[dict[str, Any]], report: str) -> str:
    """`<engine>/erasure.py`: delete-by-query of the subject's documents, at any depth."""
    title, import_line, client = _CLIENTS[engine]
    return _SEARCH_SCRIPT % {
        "title": title,
        "import_line": import_line,
        "client": client,
        "url": "http://127.0.0.1:9200",
        "targets": json.dumps(targets, sort_keys=True),
        "report": report,
        "child_keys": _CHILD_KEYS,
    }

"""Search design → artifact text (pure, deterministic: sorted keys, no timestamps).

What differs between engines (folder, lifecycle policy, setup script, wording) comes from the
design's engine dialect (`polyplan.stores.search.engines`); everything else is shared.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from polyplan.emit.embed import standalone
from polyplan.perf import indented_json
from polyplan.stores.search.design import SearchDesign, SearchIndex
from polyplan.stores.search.engines import ELASTICSEARCH, SearchEngine
from polyplan.stores.search.queries import template_source

TEMPLATE_PRIORITY = 200  # above Elasticsearch's built-in templates (100), so ours always wins (none in OpenSearch)


# An increment is applied atomically in the system of record; the projection only copies the result.
_INCREMENT_NOTE = {
    "increment": ": the relay re-reads the whole record from the system of record after the atomic increment"
    " there; the search engine never adds to a counter itself (a scripted `+=` replayed by the relay would"
    " count twice)"
}


def dump(data: Any) -> str:
    """Stable, readable JSON."""
    return indented_json(data, sort_keys=True) + "\n"


def meta(index: SearchIndex, model: str) -> dict[str, Any]:
    """The `_meta` block setup.py reads names from."""
    return {
        "alias": index.alias,
        "doc_id": list(index.doc_id),
        "entity": index.entity,
        "first_index": index.first_index,
        "generated_by": "polyplan",
        "language": index.language,
        "model": model,
        "patterns": list(index.patterns),
        "policy": index.lifecycle.name,
        "system_of_record": index.system_of_record,
        "template": index.template_name,
    }


def index_template(index: SearchIndex, model: str) -> dict[str, Any]:
    """The composable index template (body of PUT _index_template/<name>)."""
    return {
        "_meta": meta(index, model),
        "index_patterns": index.index_patterns,
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "mappings": {"dynamic": "strict", "properties": index.properties},
            "settings": index.settings,
        },
    }


def lifecycle_policy(index: SearchIndex, model: str) -> dict[str, Any]:
    """The index's lifecycle policy in its engine's form (ILM for Elasticsearch, ISM for OpenSearch)."""
    return index.engine.lifecycle_policy(index, model)


def queries_document(design: SearchDesign, descriptions: dict[str, str | None]) -> dict[str, Any]:
    """queries.json: one stored search template per pattern, with its parameters."""
    indexes: dict[str, Any] = {}
    for index in design.indexes:
        patterns = {}
        for query in index.queries:
            patterns[query.pattern] = {
                "description": descriptions.get(query.pattern),
                "params": {p.name: {"attribute": p.attribute, "op": p.op, "type": p.type} for p in query.params},
                "size": query.size,
                "source": template_source(query.body),
                "template_id": query.template_id,
            }
        indexes[index.alias] = {"alias": index.alias, "entity": index.entity, "patterns": patterns}
    return {
        "generated_by": "polyplan",
        "indexes": indexes,
        "model": design.model,
        "usage": design.engine.search_usage,
    }


def _sync_section(index: SearchIndex) -> list[str]:
    product = index.engine.product
    key = " + '|' + ".join(index.doc_id)
    lines = [f"## {index.alias} ({index.entity})", ""]
    if index.projection is None:
        lines += [
            f"{product} holds the only copy of these records (ephemeral data): the application writes "
            f"documents straight to the write alias `{index.alias}`, with `_id` = `{key}`.",
            "",
        ]
        return lines
    lines += [
        f"System of record: {index.sor_engine} ({index.sor_family.value}). Serves: "
        + ", ".join(f"`{p}`" for p in index.patterns)
        + ".",
        "",
        "Writes that emit an outbox event (in the same transaction as the write itself):",
        "",
    ]
    lines += [
        f"- `{event.name}` ({event.kind}) → `{event.action}`{_INCREMENT_NOTE.get(event.kind, '')}"
        for event in index.events
    ]
    lines += [
        "",
        f"- Document id: `{key}` (the entity key).",
        "- Version: the outbox sequence number (or the CDC log position), strictly increasing per record.",
        f"- The relay sends bulk actions to the write alias `{index.alias}` with `version_type: external_gte`:",
        "  a replayed event rewrites the same version (idempotent), an out-of-order older event is refused",
        "  with 409 and skipped. The document is always the whole record, never a partial update.",
        "",
        "```",
        json.dumps(
            {"index": {"_id": "<key>", "_index": index.alias, "version": "<seq>", "version_type": "external_gte"}}
        ),
        "{ ...the full document... }",
        json.dumps(
            {"delete": {"_id": "<key>", "_index": index.alias, "version": "<seq>", "version_type": "external_gte"}}
        ),
        "```",
        "",
        "A delete's version is remembered for `index.gc_deletes` (60 s by default): keep the relay's lag under it, or",
        "raise the setting, so that a late older event cannot bring a deleted document back.",
        "",
    ]
    if index.expiry_field is not None and index.expiry_seconds is not None:
        field = index.expiry_field
        lines += [
            f"Expiry: {index.sor_engine} drops a record {index.expiry_seconds} s after its last write and writes no "
            "event. Each document carries",
            f"`{field}` (the event's write time + {index.expiry_seconds} s, set by the relay); every query in "
            f"queries.json filters `{field} > now`,",
            "so an expired record never answers, and the relay deletes expired documents by query at an interval:",
            "",
            "```",
            json.dumps({"query": {"range": {field: {"lte": "now"}}}}),
            "```",
            "",
        ]
    return lines


def sync_document(design: SearchDesign) -> str:
    """sync.md: how documents get from the system of record into each index."""
    lines = [
        f"# Keeping the search indexes of `{design.model}` in step",
        "",
        "Search is never the system of record. Each write below also inserts an event into the outbox table of",
        "the entity's store in the same transaction; a relay (a poller or CDC such as Debezium) reads events in",
        f"sequence order and applies them to {design.engine.product}. Reads may lag by the relay delay plus the refresh",
        "interval of the index.",
        "",
    ]
    for index in design.indexes:
        lines += _sync_section(index)
    lines += design.engine.lifecycle_fallback(design.indexes)
    return "\n".join(lines).rstrip("\n") + "\n"


def setup_script(engine: SearchEngine = ELASTICSEARCH) -> str:
    """The standalone setup.py of `engine`, emitted next to the JSON files."""
    # The module imports shared helpers so that it runs (and is tested) inside polyplan; the
    # emitted script must stand alone, so it carries their code instead.
    return standalone(files("polyplan.stores.search").joinpath(engine.setup_resource).read_text(encoding="utf-8"))


def summary(design: SearchDesign) -> dict[str, Any]:
    """The part of plan.json that describes the search store."""
    return {
        "engine": design.engine.name,
        "indexes": {
            index.alias: {
                "delete_after": index.lifecycle.delete_after,
                "entity": index.entity,
                "patterns": list(index.patterns),
                "projected_bytes": round(index.projected_bytes),
                "projected_docs": round(index.projected_docs),
                "reasons": list(index.reasons),
                "refresh_interval": f"{index.refresh_seconds}s",
                "replicas": index.replicas,
                "rollover": (
                    {
                        "max_age": f"{index.lifecycle.max_age_days}d",
                        "max_primary_shard_size": index.lifecycle.max_primary_shard_size,
                    }
                    if index.lifecycle.rollover
                    else None
                ),
                "shards": index.shards,
                "sync": index.projection.sync.value if index.projection else "direct",
            }
            for index in design.indexes
        },
    }


def render_files(design: SearchDesign, descriptions: dict[str, str | None]) -> dict[str, str]:
    """Every artifact file, keyed by output-relative path."""
    engine = design.engine
    out: dict[str, str] = {}
    for index in design.indexes:
        out[f"{engine.folder}/{index.alias}.template.json"] = dump(index_template(index, design.model))
        out[engine.policy_file(index.alias)] = dump(lifecycle_policy(index, design.model))
    out[f"{engine.folder}/queries.json"] = dump(queries_document(design, descriptions))
    out[f"{engine.folder}/setup.py"] = setup_script(engine)
    out[f"{engine.folder}/sync.md"] = sync_document(design)
    return out

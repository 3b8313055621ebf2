"""Render the Redis design: keys.json (machine-readable), cache.md (for people), setup.py.

Pure text from `CacheDesign`; deterministic (model order, no timestamps).
"""

from __future__ import annotations

from typing import Any

from polyplan.emit.embed import module_code
from polyplan.markdown import cell, code
from polyplan.perf import indented_json
from polyplan.stores.cache.design import CacheDesign, Instance, KeySpec, ReadPath, Role, WritePath

ENGINE = "redis"
CONVENTIONS = {
    "key_parts": "values are percent-encoded (RFC 3986, keeping -._~@+=!$&'()*,;) so they never contain ':', '{' or '}'",
    "hash_fields": "one field per attribute; null attributes are absent; booleans 1/0; decimals exact strings; "
    "timestamps ISO 8601 UTC with milliseconds; uuids canonical; json/list/object as compact JSON",
    "strings": "compact JSON of the record in model attribute order; decimals as strings, timestamps ISO 8601",
    "scores": "timestamps and dates as epoch milliseconds, numbers as themselves, enums by declaration position",
    "index_members": "the record key's non-tag placeholder values, encoded as in key names, joined by ':'",
}
MEMORY_FORMULA = (
    "per key (MEMORY USAGE) = dictEntry 24 B + jemalloc(sds key name) + value object (string: embstr ≤ 44 B "
    "or robj + sds; hash/zset: listpack rounded to a jemalloc class while under the *-max-listpack-* limits, "
    "else hash table + per-element sds and entries); total per key adds the keyspace slot (8 B) and, with a "
    "TTL, the expires entry (32 B); allocator fragmentation is covered by the maxmemory headroom"
)


def _round(value: float) -> int:
    return round(value)


def _member_template(key: KeySpec, record: KeySpec | None) -> str | None:
    if record is None:
        return ":".join(f"<{a}>" for a in key.index.member) if key.index and key.index.member else None
    tagged = set(key.template.tag_attributes)
    return ":".join(f"<{a}>" for a in record.template.attributes if a not in tagged)


def key_json(design: CacheDesign, key: KeySpec) -> dict[str, Any]:
    """One key family as plain data."""
    record = design.key(key.record_key) if key.record_key else None
    tag = key.template.tag_attributes
    data: dict[str, Any] = {
        "name": key.name,
        "entity": key.entity,
        "role": key.role.value,
        "template": key.template.render(),
        "structure": key.structure.value,
        "why_structure": key.structure_reason,
        "hash_tag": "{" + ":".join(f"<{a}>" for a in tag) + "}" if tag else None,
        "why_hash_tag": key.tag_reason,
        "ttl_seconds": key.ttl_seconds,
        "why_ttl": key.ttl_reason,
        "serves": list(key.serves),
    }
    if key.sync is not None:
        data["sync"] = key.sync.value
    if key.read_model is not None:
        data["read_model"] = key.read_model
    if key.fields:
        data["fields"] = [
            {"name": f.name, "type": f.attribute.type.value, "avg_bytes": round(f.text_length, 1)} for f in key.fields
        ]
    if record is not None:
        data["leads_to"] = record.name
    if key.index is not None:
        data["index"] = {
            "member": _member_template(key, record),
            "score": key.index.score,
            "order": "desc" if key.index.descending else "asc",
            "constants": {name: value for name, value in key.index.constants},
            "limit": key.index.limit,
            "members_per_key": round(key.index.members_per_key, 1),
        }
    data["memory"] = {
        "per_key_bytes": key.memory.usage_bytes,
        "encoding": key.memory.encoding,
        "per_key_total_bytes": _round(key.memory.total_per_key),
        "keys": _round(key.memory.keys),
        "why_keys": key.memory.keys_reason,
        "total_bytes": _round(key.memory.total_bytes),
    }
    return data


def _read_json(read: ReadPath) -> dict[str, Any]:
    return {
        "pattern": read.pattern,
        "entity": read.entity,
        "keys": list(read.keys),
        "commands": [list(c) for c in read.commands],
        "steps": list(read.steps),
    }


def _write_json(write: WritePath) -> dict[str, Any]:
    data: dict[str, Any] = {
        "write": write.write,
        "entity": write.entity,
        "kind": write.kind.value,
        "keys": list(write.keys),
        "commands": [list(c) for c in write.commands],
        "atomic": write.atomic,
        "steps": list(write.steps),
    }
    if write.trim is not None:
        # The cap: the write's ZRANGE on `index` names the members past `keep`; `then` runs for each.
        data["trim"] = {
            "index": write.trim.index,
            "keep": write.trim.keep,
            "then": [list(c) for c in write.trim.then],
        }
    if write.children is not None:
        # A parent's write: run `query` on the system of record (the parent's key as parameters),
        # then the commands once per child it lists, `<value:field>` being the parent's `attribute`.
        children = write.children
        data["children"] = {
            "entity": children.entity,
            "reference": {a: b for a, b in children.reference},
            "field": children.field,
            "attribute": children.attribute,
            "query": children.query,
            "upkeep": children.upkeep,
        }
    return data


def _instance_json(instance: Instance) -> dict[str, Any]:
    return {
        "name": instance.name,
        "maxmemory_policy": instance.policy,
        "prefixes": list(instance.prefixes),
        "keys": list(instance.keys),
        "estimated_bytes": _round(instance.estimated_bytes),
        "maxmemory_bytes": instance.maxmemory_bytes,
        "why": instance.why,
    }


def design_json(design: CacheDesign) -> dict[str, Any]:
    """The whole design as plain data (keys.json)."""
    return {
        "model": design.model,
        "engine": ENGINE,
        "namespace": design.namespace,
        "assumes": {
            "redis": ">= 7.0",
            "hash-max-listpack-entries": design.memory.hash_max_listpack_entries,
            "hash-max-listpack-value": design.memory.hash_max_listpack_value,
            "zset-max-listpack-entries": design.memory.zset_max_listpack_entries,
            "zset-max-listpack-value": design.memory.zset_max_listpack_value,
        },
        "conventions": CONVENTIONS,
        "keys": [key_json(design, key) for key in design.keys],
        "reads": [_read_json(read) for read in design.reads],
        "stores": [_write_json(store) for store in design.stores],
        "writes": [_write_json(write) for write in design.writes],
        "eviction": {
            "instances": [_instance_json(i) for i in design.instances],
            "single_instance_policy": design.shared_policy,
            "why": design.shared_why,
        },
        "memory": {"total_bytes": _round(design.total_bytes), "formula": MEMORY_FORMULA},
    }


def render_keys_json(design: CacheDesign) -> str:
    """keys.json text."""
    return indented_json(design_json(design)) + "\n"


def _bytes(value: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} B"


def render_cache_md(design: CacheDesign) -> str:
    """cache.md: the key design, read and write paths, eviction and memory, for people."""
    lines = [
        f"# Redis design for `{design.model}`",
        "",
        "Generated by polyplan from the plan; `keys.json` holds the same design as data.",
        "",
        "## Keys",
        "",
        "| Key family | Template | Structure | TTL | Hash tag | Per key | Keys | Total |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in design.keys:
        tag = ", ".join(key.template.tag_attributes) or "—"
        ttl = f"{key.ttl_seconds} s" if key.ttl_seconds else "none"
        lines.append(
            f"| {key.name} | {code(key.template.render(), in_table=True)} | {key.structure.value} ({key.memory.encoding}) | {ttl} | "
            f"{cell(tag)} | {key.memory.usage_bytes} B | {key.memory.keys:,.0f} | {_bytes(key.memory.total_bytes)} |"
        )
    lines += ["", f"Estimated total: **{_bytes(design.total_bytes)}** before fragmentation headroom.", ""]
    for key in design.keys:
        lines += [f"### {key.name}", ""]
        role = {
            Role.RECORD: f"The {key.entity} records themselves: Redis is their system of record.",
            Role.POINTER: f"A secondary unique lookup of {key.entity}: the value is the record key.",
            Role.INDEX: f"An index of {key.entity} record keys.",
            Role.CACHED: f"A cached answer; {key.entity}'s system of record is elsewhere ({key.sync.value if key.sync else ''}).",
        }[key.role]
        lines += [
            role,
            "",
            f"- Template: `{key.template.render()}`",
            f"- Structure: {key.structure_reason}",
            f"- TTL: {key.ttl_reason}",
            f"- Hash tag: {key.tag_reason}",
            f"- Memory: {key.memory.usage_bytes} B per key ({key.memory.encoding}), {key.memory.total_per_key:,.0f} B "
            f"with keyspace overhead; {key.memory.keys:,.0f} keys ({key.memory.keys_reason}) → {_bytes(key.memory.total_bytes)}",
            f"- Serves: {', '.join(key.serves) or '—'}",
            "",
        ]
    lines += ["## Read paths", ""]
    for read in design.reads:
        lines.append(f"### {read.pattern} ({read.entity})")
        lines.append("")
        lines += [f"{n}. {step}" for n, step in enumerate(read.steps, 1)]
        lines.append("")
    if design.stores:
        lines += [
            "## Storing a record",
            "",
            "How the application writes one record with every key that refers to it:",
            "",
        ]
        for store in design.stores:
            lines += [f"### {store.entity}", "", *[f"{n}. {step}" for n, step in enumerate(store.steps, 1)]]
            lines += ["", "```", *(" ".join(c) for c in store.commands), "```", ""]
    lines += ["## Write paths (invalidation and write-through)", ""]
    if not design.writes:
        lines += ["No write pattern touches a cache key.", ""]
    for write in design.writes:
        lines.append(f"### {write.write} ({write.kind.value} {write.entity})")
        lines.append("")
        lines += [f"{n}. {step}" for n, step in enumerate(write.steps, 1)]
        if write.commands:
            lines += ["", "```", *(" ".join(c) for c in write.commands), "```"]
        lines.append("")
    lines += ["## Eviction", ""]
    for instance in design.instances:
        lines += [
            f"- **{instance.name}** instance (keys under {', '.join(f'`{p}`' for p in instance.prefixes)}): "
            f"`maxmemory-policy {instance.policy}`, `maxmemory {instance.maxmemory_bytes}` "
            f"(estimate {_bytes(instance.estimated_bytes)} × headroom). {instance.why}.",
        ]
    lines += [
        "",
        f"One shared instance: `{design.shared_policy}` — {design.shared_why}.",
        "",
        "Eviction is an operator setting, not applied by the generated code. On each instance:",
        "",
        "```",
    ]
    for instance in design.instances:
        lines.append(f"# {instance.name}")
        lines.append(f"redis-cli CONFIG SET maxmemory-policy {instance.policy}")
        lines.append(f"redis-cli CONFIG SET maxmemory {instance.maxmemory_bytes}")
    lines += [
        "```",
        "",
        "`python setup.py REDIS_URL [--role state|cache|shared] [--apply]` checks these settings (and the listpack",
        "limits the memory estimate assumes) and applies them only with `--apply`.",
        "",
        "## Conventions",
        "",
        *[f"- {name.replace('_', ' ')}: {text}" for name, text in CONVENTIONS.items()],
        "",
        "## Memory formula",
        "",
        MEMORY_FORMULA + ".",
        "",
    ]
    return "\n".join(lines)


SETUP_SCRIPT = '''"""Check (and with --apply, set) the Redis settings this design relies on.

Redis has no schema to create: keys appear when the application writes them. What a server must
provide is an eviction policy that fits the keys it holds and the listpack limits the memory
estimate assumes. Usage:

    python setup.py REDIS_URL [--role state|cache|shared] [--apply]

Exit status 0 when the server matches the design (or was changed to), 1 otherwise.
Generated by polyplan; keys.json next to this file is the design.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import redis
__REDIS_CLIENT__
__SCRIPT_REPORT__

DESIGN = json.loads((Path(__file__).resolve().parent / "keys.json").read_text(encoding="utf-8"))


def wanted_settings(role: str) -> dict[str, str]:
    """The settings a server in `role` should have."""
    eviction = DESIGN["eviction"]
    settings = {name: str(value) for name, value in DESIGN["assumes"].items() if name != "redis"}
    if role == "shared":
        settings["maxmemory-policy"] = eviction["single_instance_policy"]
    else:
        instance = next(i for i in eviction["instances"] if i["name"] == role)
        settings["maxmemory-policy"] = instance["maxmemory_policy"]
    return settings


def check(client: redis.Redis, role: str) -> dict[str, tuple[str, str]]:
    """Settings that differ: name -> (current, wanted)."""
    version = str(client.info("server")["redis_version"])
    if int(version.split(".")[0]) < 7:
        raise SystemExit(f"Redis {version}: this design needs Redis 7 or later")
    differ = {}
    for name, wanted in wanted_settings(role).items():
        current = str(client.config_get(name).get(name, ""))
        if current != wanted:
            differ[name] = (current, wanted)
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    roles = [i["name"] for i in DESIGN["eviction"]["instances"]] + ["shared"]
    parser.add_argument("--role", choices=roles, default="shared" if len(roles) > 2 else roles[0])
    parser.add_argument("--apply", action="store_true", help="CONFIG SET what differs (an operator action)")
    args = parser.parse_args()
    try:
        client = redis_client(args.url)
        differ = check(client, args.role)
        for name, (current, wanted) in differ.items():
            print(f"{name}: {current!r} -> {wanted!r}")
            if args.apply:
                client.config_set(name, wanted)
    except (redis.RedisError, ValueError) as error:
        print(f"{args.url}: {one_line(error)}", file=sys.stderr)
        return 1
    if not differ:
        print(f"{args.url}: matches the {args.role} settings of the design")
        return 0
    if args.apply:
        print("applied; persist with CONFIG REWRITE or in redis.conf")
        return 0
    print("run with --apply to set these (CONFIG SET), or set them in redis.conf")
    return 1


if __name__ == "__main__":
    sys.exit(main())
'''


def render_setup() -> str:
    """redis/setup.py: the settings check/apply script (it reads the design from keys.json beside it)."""
    client = module_code("polyplan.stores.cache", "client.py")
    report = module_code("polyplan.emit", "error_line.py")
    return SETUP_SCRIPT.replace("__REDIS_CLIENT__\n", client).replace("__SCRIPT_REPORT__\n", report)

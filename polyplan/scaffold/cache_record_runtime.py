"""The runtime of a scaffolded package's Redis records (Redis as the system of record): values to
and from the texts the plan's key design stores, and keys.json's command templates run for one
record.

This module is copied verbatim (without this docstring) into every package whose plan keeps an
entity in Redis, so it imports only the standard library and redis-py; the command templates are
expanded by polyplan's own `polyplan.stores.cache.commands` (its code is carried into the package).
The value rules are `polyplan.stores.cache.codec`'s (a hash field per attribute, booleans 1/0,
timestamps ISO 8601 UTC with milliseconds, JSON for collections; a string key holds compact JSON;
sorted-set scores are numbers, or epoch milliseconds for time), written again over type names
because the package must not import polyplan; tests/test_scaffold_cache_record.py checks both agree.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import redis

# In a package this is replaced by the module's code (the plan's command-template rules).
from polyplan.stores.cache.commands import Context, NotApplicable, RecordView, expand, fill


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return moment.isoformat(timespec="milliseconds")


def json_of(kind: str, value: Any) -> Any:
    """The JSON form of one value of model type `kind` (a string key's record, a JSON field)."""
    if value is None:
        return None
    if kind == "decimal":
        return str(value)
    if kind in ("timestamp", "timestamptz") and isinstance(value, datetime):
        return _iso(value)
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "uuid":
        return str(value)
    if kind == "binary" and isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def text_of(kind: str, value: Any) -> str:
    """The text of one hash field (value not None)."""
    if kind == "boolean":
        return "1" if value else "0"
    if kind == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if kind == "float":
        return repr(float(value))
    return str(json_of(kind, value))


def score_of(kind: str, value: Any) -> float:
    """A sorted-set score: numbers as themselves, time as epoch milliseconds (naive is UTC)."""
    if kind in ("timestamp", "timestamptz", "date"):
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return float(int(moment.timestamp() * 1000))
    if kind == "boolean":
        return 1.0 if value else 0.0
    return float(Decimal(str(value)))


def from_json(kind: str, value: Any) -> Any:
    """`json_of`'s inverse."""
    if value is None:
        return None
    if kind == "decimal":
        return Decimal(str(value))
    if kind in ("timestamp", "timestamptz"):
        moment = datetime.fromisoformat(str(value))
        return moment.replace(tzinfo=UTC) if kind == "timestamptz" and moment.tzinfo is None else moment
    if kind == "date":
        return date.fromisoformat(str(value))
    if kind == "uuid":
        return uuid.UUID(str(value))
    if kind == "binary":
        return base64.b64decode(str(value))
    return value


def from_text(kind: str, text: str) -> Any:
    """`text_of`'s inverse for a hash field."""
    if kind == "boolean":
        return text == "1"
    if kind == "json":
        return json.loads(text)
    if kind == "float":
        return float(text)
    if kind == "integer":
        return int(text)
    return from_json(kind, text)


def view(
    kinds: Mapping[str, str],
    values: Mapping[str, Any],
    families: Sequence[Mapping[str, Any]] = (),
    scored: Sequence[str] = (),
) -> RecordView:
    """A record as the command templates see it: field texts, each string family's JSON, scores."""
    fields = {name: None if values.get(name) is None else text_of(kinds[name], values[name]) for name in kinds}
    documents = {
        family["name"]: json.dumps(
            {f["name"]: json_of(kinds[f["name"]], values.get(f["name"])) for f in family["fields"]},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for family in families
        if family.get("fields")
    }
    scores = {a: score_of(kinds[a], values[a]) for a in scored if values.get(a) is not None}
    return RecordView(fields, documents, scores)


def record_of(kinds: Mapping[str, str], structure: str, raw: Any) -> dict[str, Any] | None:
    """A stored record (HGETALL's mapping or GET's JSON) as attribute → value; None when absent."""
    if not raw:
        return None
    if structure == "string":
        body = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        return {name: from_json(kind, body.get(name)) for name, kind in kinds.items()}
    texts = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()
    }
    return {name: None if name not in texts else from_text(kind, texts[name]) for name, kind in kinds.items()}


def _call(target: Any, command: Sequence[Any]) -> Any:
    """One command on a client or pipeline (redis-py leaves execute_command untyped)."""
    return target.execute_command(*command)


def run_write(
    client: redis.Redis,
    commands: Sequence[Sequence[str]],
    families: Mapping[str, Mapping[str, Any]],
    record: RecordView,
    prefix: str,
    atomic: bool,
) -> None:
    """A write pattern's commands for one record, as keys.json has them: MULTI/EXEC when the plan
    says atomic, else one pipeline; a command that does not apply to the record (null value) skipped."""
    pipe = client.pipeline(transaction=atomic)
    queue_write(pipe, commands, families, record, prefix)
    pipe.execute()


def queue_write(
    pipe: Any,
    commands: Sequence[Sequence[str]],
    families: Mapping[str, Mapping[str, Any]],
    record: RecordView,
    prefix: str,
) -> None:
    """Queue a write pattern's commands for one record on `pipe` (a command that does not apply to
    the record skipped): `run_write`'s, and a fed record's MULTI/EXEC beside its outbox event."""
    context = Context(record, families, prefix=prefix)
    for command in commands:
        try:
            _call(pipe, expand(command, context))
        except NotApplicable:
            continue


def read_key(
    client: redis.Redis,
    command: Sequence[str],
    families: Mapping[str, Mapping[str, Any]],
    record: RecordView,
    prefix: str,
) -> Any:
    """One read command (GET or HGETALL of a key the parameters name)."""
    return _call(client, expand(command, Context(record, families, prefix=prefix)))


def read_index(
    client: redis.Redis,
    commands: Sequence[Sequence[str]],
    families: Mapping[str, Mapping[str, Any]],
    record: RecordView,
    prefix: str,
) -> list[Any]:
    """An index read: the sorted set's range (its record keys in order), then each record in one
    pipeline; a member whose record has expired is removed from the index (ZREM), as keys.json says."""
    first, then = commands[0], commands[1]
    context = Context(record, families, prefix=prefix)
    index = families[first[1]]
    target = next(f for f in families.values() if f["name"] == index["leads_to"])
    members = [m.decode() if isinstance(m, bytes) else m for m in _call(client, expand(first, context))]
    names = [p.strip("<>") for p in str(index["index"]["member"]).split(":")]
    keys = []
    for member in members:
        parts = dict(zip(names, (unquote(p) for p in member.split(":")), strict=True))
        keys.append(prefix + fill(str(target["template"]), RecordView(parts, {})))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        _call(pipe, [then[0], key])
    found = pipe.execute()
    gone = [m for m, raw in zip(members, found, strict=True) if not raw]
    if gone:
        client.zrem(prefix + fill(first[1], record), *gone)
    return [raw for raw in found if raw]


def trim(
    client: redis.Redis, index: Mapping[str, Any], families: Mapping[str, Mapping[str, Any]], prefix: str, keep: int
) -> int:
    """A capped entity's trim, as keys.json's write path has it: the index members past the newest
    `keep` named and removed at once (ZRANGE and ZREMRANGEBYRANK in one MULTI/EXEC, so each is handed
    to one writer), then their records deleted. Returns the records trimmed."""
    key = prefix + str(index["template"])
    pipe = client.pipeline(transaction=True)
    _call(pipe, ["ZRANGE", key, 0, -(keep + 1)])
    _call(pipe, ["ZREMRANGEBYRANK", key, 0, -(keep + 1)])
    named, _ = pipe.execute()
    members = [m.decode() if isinstance(m, bytes) else str(m) for m in named]
    if not members:
        return 0
    target = next(f for f in families.values() if f["name"] == index["leads_to"])
    names = [p.strip("<>") for p in str(index["index"]["member"]).split(":")]
    records = client.pipeline(transaction=False)
    for member in members:
        parts = dict(zip(names, (unquote(p) for p in member.split(":")), strict=True))
        records.delete(prefix + fill(str(target["template"]), RecordView(parts, {})))
    records.execute()
    return len(members)

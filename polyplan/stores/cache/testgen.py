"""Generated tests for the Redis design: seeded records, and a pytest file that applies keys.json.

The data file holds each seeded record as the codec writes it (field texts, JSON per key family,
scores), so the generated test needs only keys.json and the data: it stores every record with
the designed commands, then checks TTLs, read paths, write paths and MEMORY USAGE against the
estimate (±25 %). Pure: returns texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyplan.model.derived import all_attributes
from polyplan.model.schema import RequirementsModel, WriteKind
from polyplan.perf import data_json
from polyplan.plan.ir import SyncMechanism
from polyplan.seed.generate import generate, rows_for_targets
from polyplan.stores.cache import codec, derived
from polyplan.stores.cache.commands import RecordView
from polyplan.stores.cache.design import WRITE_THROUGH_TTL, CacheDesign, Role, staleness_bound

RECORDS_PER_ENTITY = 40
OTHER_ROWS = 5
PARENT_ROWS = 8
DATA_FILE = "data/redis_records.json"
TEST_FILE = "test_redis.py"


def _view(model: RequirementsModel, design: CacheDesign, entity: str, record: Mapping[str, Any]) -> RecordView:
    attributes = dict(all_attributes(model, entity))
    # A joined field a cached answer holds (readmodels/joined.py) is a field of the key, not of the entity.
    attributes.update({f.name: f.attribute for key in design.keys if key.entity == entity for f in key.fields})
    fields = {
        name: (codec.field_text(attribute, record[name]) if record.get(name) is not None else None)
        for name, attribute in attributes.items()
    }
    texts = {
        key.name: codec.record_json({f.name: f.attribute for f in key.fields}, record)
        for key in design.keys
        if key.entity == entity and key.fields
    }
    scored = {key.index.score for key in design.keys if key.entity == entity and key.index and key.index.score}
    scores = {
        name: codec.score_of(attributes[name], record[name]) for name in sorted(scored) if record.get(name) is not None
    }
    return RecordView(fields, texts, scores)


def seed_rows(model: RequirementsModel, entities: set[str]) -> dict[str, int]:
    """Row counts for this target's generated tests."""
    return rows_for_targets(model, entities, RECORDS_PER_ENTITY, parents=PARENT_ROWS, others=OTHER_ROWS)


def render_data(model: RequirementsModel, design: CacheDesign) -> str:
    """tests/data/redis_records.json: seeded records of every entity with cache keys."""
    parents = {w.entity for w in design.writes if w.children is not None}
    entities = sorted({key.entity for key in design.keys} | parents, key=list(model.entities).index)
    records = generate(model, seed_rows(model, set(entities)), seed=0, only=entities)
    _join(records, design)
    data = {
        "model": model.name,
        # From the model, not from keys.json (the artifact under test): each entity's
        # growth.ttl_seconds, which its record, pointer and index keys must carry.
        "ttl_seconds": {entity: model.entities[entity].growth.ttl_seconds for entity in entities},
        # A cached answer lives as long as its pattern tolerates staleness (the model's
        # staleness_seconds), so a lost invalidation is bounded; written-through answers keep a
        # fixed TTL that only lets cold entries go.
        "cache_ttl_seconds": {
            key.name: _cache_ttl(model, key.serves, key.sync) for key in design.keys if key.role is Role.CACHED
        },
        # From the model: what each child write must add to its parent's derived field (the
        # oracle of test_derived_parents_follow_their_children; keys.json holds what is done).
        "derived": derived.oracle(model, entities),
        "entities": {
            entity: [_view(model, design, entity, record).to_json() for record in records[entity]]
            for entity in entities
        },
    }
    return data_json(data, sort_keys=False)


def _join(records: dict[str, list[dict[str, Any]]], design: CacheDesign) -> None:
    """Give each seeded child the joined fields its cached answer holds: the value of its seeded
    parent's attribute (what the joining query on the system of record returns)."""
    for write in design.writes:
        children = write.children
        if children is None:
            continue
        by_key = {
            tuple(parent.get(b) for _, b in children.reference): parent.get(children.attribute)
            for parent in records[write.entity]
        }
        for child in records[children.entity]:
            child[children.field] = by_key.get(tuple(child.get(a) for a, _ in children.reference))


def _cache_ttl(model: RequirementsModel, serves: tuple[str, ...], sync: SyncMechanism | None) -> int:
    patterns = {p.name: p for p in model.access_patterns}
    bound = staleness_bound(min(patterns[name].staleness_seconds for name in serves), sync)
    return bound if bound is not None else WRITE_THROUGH_TTL


def render_test(design: CacheDesign) -> str:
    """tests/test_redis.py; the concurrent increment checks only when some write adds to a counter."""
    adds = ("EVAL", "HINCRBY", "HINCRBYFLOAT")
    increments = any(w.kind is WriteKind.INCREMENT and any(c[0] in adds for c in w.commands) for w in design.writes)
    listed = {key.read_model for key in design.keys if key.read_model in READ_MODEL_CHECKS}
    checks = "".join(READ_MODEL_CHECKS[name] for name in sorted(n for n in listed if n is not None))
    capped = CAP_TESTS if any(s.trim is not None for s in design.stores) else ""
    kept = (
        DERIVED_TESTS
        if any(
            w.kind is not WriteKind.INCREMENT and derived.GUARDED_ADD in c for w in design.writes for c in w.commands
        )
        else ""
    )
    joined = JOINED_TESTS if any(w.children is not None for w in design.writes) else ""
    return (
        TEST_TEMPLATE.replace("__MODEL__", design.model)
        + checks
        + capped
        + kept
        + joined
        + (INCREMENT_TESTS if increments else "")
    )


READ_MODEL_CHECKS = {
    "capped_list": '''

CAPPED = [k for k in DESIGN["keys"] if k.get("read_model") == "capped_list"]


def newest_first(family: dict[str, Any], views: list[RecordView], prefix: str) -> tuple[str, list[RecordView]]:
    """The most populated list of `family` and its records, newest first (ties by member, like pushes in that order)."""
    spec = family["index"]
    groups: dict[str, list[RecordView]] = {}
    for record in views:
        name = key_name(family, record, prefix)
        if name is None or spec["score"] not in record.scores:
            continue
        if any(record.fields.get(a) is None or record.part(a) != v for a, v in spec["constants"].items()):
            continue
        groups.setdefault(name, []).append(record)
    assert groups, f"{family['name']}: no seeded record belongs in a list"
    name, members = max(groups.items(), key=lambda item: (len(item[1]), item[0]))
    return name, sorted(members, key=lambda r: (r.scores[spec["score"]], member(family, r)), reverse=True)


@pytest.mark.parametrize("family", CAPPED, ids=lambda k: k["name"])
def test_capped_lists_rebuild_to_the_newest(client: redis.Redis, prefix: str, stored: dict[str, list[str]], family: dict[str, Any]) -> None:
    """A miss rebuilds the list from the system of record's newest-first answer: the oracle's newest N, in order."""
    cap = family["index"]["limit"]
    name, ordered = newest_first(family, records(family["entity"]), prefix)
    client.delete(name)
    read = next(r for r in DESIGN["reads"] if family["name"] in r["keys"])
    for record in ordered:
        run(client, concrete(read["commands"][1:], record, prefix))
    assert decode(client.lrange(name, 0, -1)) == [member(family, r) for r in ordered[:cap]]
    answer = decode(client.execute_command(*expand(read["commands"][0], Context(ordered[0], FAMILIES, {}, prefix))))
    assert answer == [member(family, r) for r in ordered[:cap]], f"{read['pattern']}: wrong entries or order"


@pytest.mark.parametrize("family", CAPPED, ids=lambda k: k["name"])
def test_capped_lists_stay_capped(client: redis.Redis, prefix: str, stored: dict[str, list[str]], family: dict[str, Any]) -> None:
    """Inserts pushed in time order (fan-out on write) keep the newest N, newest first, and never more."""
    pushes = [w for w in DESIGN["writes"] if family["name"] in w["keys"] and any("LPUSH" in c[1] for c in w["commands"] if c[0] == "EVAL")]
    if not pushes:
        pytest.skip(f"{family['name']} is built on read: no write pushes to it")
    cap = family["index"]["limit"]
    name, ordered = newest_first(family, records(family["entity"]), prefix)
    oldest_first = list(reversed(ordered))
    client.delete(name)
    read = next(r for r in DESIGN["reads"] if family["name"] in r["keys"])
    run(client, concrete(read["commands"][1:], oldest_first[0], prefix))
    for record in oldest_first[1:]:
        run(client, concrete(pushes[0]["commands"], record, prefix))
        assert client.llen(name) <= cap, f"{name} outgrew its cap of {cap}"
    assert decode(client.lrange(name, 0, -1)) == [member(family, r) for r in ordered[:cap]]
    if len(ordered) > cap:
        assert client.llen(name) == cap
''',
    "table_hash": '''

TABLES = [k for k in DESIGN["keys"] if k.get("read_model") == "table_hash"]


@pytest.mark.parametrize("family", TABLES, ids=lambda k: k["name"])
def test_table_hashes_hold_the_table(client: redis.Redis, prefix: str, stored: dict[str, list[str]], family: dict[str, Any]) -> None:
    """Rebuilt from every record, the hash holds each one's JSON under its key, and nothing else."""
    constants = family["index"]["constants"]
    rows = [r for r in records(family["entity"]) if all(r.fields.get(a) is not None and r.part(a) == v for a, v in constants.items())]
    assert rows, f"{family['name']}: no seeded record is in the table"
    name = key_name(family, rows[0], prefix)
    assert name is not None
    client.delete(name)
    read = next(r for r in DESIGN["reads"] if family["name"] in r["keys"])
    for record in rows:
        run(client, concrete(read["commands"][1:], record, prefix))
    answer = decode(client.execute_command(*expand(read["commands"][0], Context(rows[0], FAMILIES, {}, prefix))))
    assert answer == {member(family, r): r.json[family["name"]] for r in rows}, f"{read['pattern']}: wrong table"
    assert 0 < client.ttl(name) <= family["ttl_seconds"]
''',
}


CAP_TESTS = '''

CAPPED_ENTITIES = [s for s in DESIGN["stores"] if s.get("trim")]


@pytest.mark.parametrize("path", CAPPED_ENTITIES, ids=lambda s: s["entity"])
def test_caps_keep_the_newest(client: redis.Redis, prefix: str, stored: dict[str, list[str]], path: dict[str, Any]) -> None:
    """More inserts than the cap, newest last: the index never outgrows the cap and ends holding the
    newest `keep` with their records; every older record (seeded or inserted) is deleted."""
    trim = path["trim"]
    keep, index = trim["keep"], BY_NAME[trim["index"]]
    family, score = BY_NAME[index["leads_to"]], index["index"]["score"]
    key = prefix + index["template"]
    seeded = [r for r in records(path["entity"]) if score in r.scores]
    assert seeded, f"{index['name']}: no seeded record has a {score}"
    start = max(r.scores[score] for r in seeded)
    names = PLACEHOLDER.findall(index["index"]["member"])
    inserted = [
        RecordView({**seeded[0].fields, **{n: f"cap-{i:06d}" for n in names}}, seeded[0].json, {**seeded[0].scores, score: start + i + 1})
        for i in range(keep + 5)
    ]
    for record in inserted:
        write(client, path, record, prefix)
        assert client.zcard(key) <= keep, f"{key} outgrew its cap of {keep}"
    newest = inserted[-keep:]
    assert decode(client.zrange(key, 0, -1)) == [member(index, r) for r in newest], f"{key}: not the newest {keep}"
    assert all(client.exists(key_name(family, r, prefix)) for r in newest), "a kept member lost its record"
    older = inserted[:-keep] + seeded
    assert not any(client.exists(key_name(family, r, prefix)) for r in older), "a trimmed record is still stored"
    for record in newest:  # leave the seeded records as the other tests found them
        run(client, concrete(trim["then"], record, prefix))
    for record in records(path["entity"]):
        store(client, path["entity"], record, prefix)
'''


DERIVED_TESTS = '''

DERIVED = [
    w for w in DESIGN["writes"]
    if w["kind"] != "increment" and any(parent_add(c) is not None for c in w["commands"])
]


@pytest.mark.parametrize("write", DERIVED, ids=lambda w: w["write"])
def test_derived_parents_follow_their_children(client: redis.Redis, prefix: str, stored: dict[str, list[str]], write: dict[str, Any]) -> None:
    """Each seeded child whose parent is stored: the child's write moves the parent's derived
    field by exactly its part (1 for a count, its value for a sum; minus on a delete)."""
    checked = 0
    for record in records(write["entity"]):
        store(client, write["entity"], record, prefix)
        commands = concrete(write["commands"], record, prefix)
        adds = [a for a in (parent_add(c) for c in commands) if a is not None]
        if not adds or not all(client.exists(key) for key, _, _ in adds):
            continue
        before = {(key, field): int(decode(client.hget(key, field)) or 0) for key, field, _ in adds}
        run(client, commands)
        sign = -1 if write["kind"] == "delete" else 1
        for key, field, _ in adds:
            rule = next(d for d in DATA["derived"] if d["child"] == write["entity"] and d["field"] == field)
            part = 1 if rule["function"] == "count" else int(record.fields.get(rule["attribute"]) or 0)
            after = int(decode(client.hget(key, field)))
            assert after == before[(key, field)] + sign * part, f"{write['write']}: {key} {field} {before[(key, field)]} → {after}, expected {sign * part:+d}"
        checked += 1
        if write["kind"] == "delete":
            store(client, write["entity"], record, prefix)  # the other tests find the child again
    assert checked, f"{write['write']}: no seeded child has a stored parent"
    if write["kind"] == "insert":  # a child of a parent not stored creates no partial parent
        raw = next(c for c in write["commands"] if c[0] == "EVAL" and "tonumber(ARGV[3])" in c[1])
        seeded = records(write["entity"])[0]
        orphan = RecordView({**seeded.fields, **{n: "no-such-parent" for n in PLACEHOLDER.findall(raw[3])}}, seeded.json, seeded.scores)
        run(client, concrete(write["commands"], orphan, prefix))
        assert not client.exists(prefix + fill(raw[3], orphan)), f"{write['write']}: the add created a parent"
        store(client, write["entity"], seeded, prefix)
'''


JOINED_TESTS = '''

JOINED = [w for w in DESIGN["writes"] if "children" in w]


@pytest.mark.parametrize("write", JOINED, ids=lambda w: w["write"])
def test_parent_writes_reach_cached_answers(client: redis.Redis, prefix: str, stored: dict[str, list[str]], write: dict[str, Any]) -> None:
    """A parent's write changes a joined field its children's cached answers hold: the designed
    commands, run for each child the write's query lists (here: the seeded children of the parent
    with most children), leave no cached answer holding the old value: dropped (the next read
    refills it by the join) or rewritten to the new one. A child whose answer is not cached stays
    uncached."""
    children = write["children"]
    family = next(k for k in DESIGN["keys"] if k["name"] == write["keys"][0])
    field, attribute = children["field"], children["attribute"]
    parents = records(write["entity"])

    def below(parent: RecordView) -> list[RecordView]:
        return [
            child for child in records(children["entity"])
            if all(child.fields.get(a) == parent.fields.get(b) for a, b in children["reference"].items())
        ]

    parent = max(parents, key=lambda p: len(below(p)))
    kids = below(parent)
    assert kids, f"{write['write']}: no seeded {children['entity']} refers to a seeded {write['entity']}"
    old = parent.fields[attribute]
    new = next(p.fields[attribute] for p in parents if p.fields[attribute] not in (None, old))
    for kid in kids:
        key = prefix + fill(family["template"], kid)
        run(client, concrete(fill_path(family), kid, prefix))  # a read's refill: the answer holds the old value
        assert stored_fields(family, key, client).get(field) == old, f"{key}: the refill did not hold {field}"
        moved = RecordView({**kid.fields, field: new}, kid.json, kid.scores)
        run(client, concrete(write["commands"], moved, prefix))
        if children["upkeep"] == "invalidate":
            assert not client.exists(key), f"{write['write']}: {key} still holds the old {field}"
        else:
            assert stored_fields(family, key, client).get(field) == new, f"{write['write']}: {key} {field}"
            client.delete(key)  # uncached now: the guarded rewrite must not recreate it
            run(client, concrete(write["commands"], moved, prefix))
            assert not client.exists(key), f"{write['write']}: the rewrite created {key}"
        run(client, concrete(fill_path(family), kid, prefix))  # the other tests find it again
'''


INCREMENT_TESTS = '''

ADDS = ("EVAL", "HINCRBY", "HINCRBYFLOAT")
INCREMENTS = [w for w in DESIGN["writes"] if w["kind"] == "increment" and any(c[0] in ADDS for c in w["commands"])]


@pytest.mark.parametrize("write", INCREMENTS, ids=lambda w: w["write"])
def test_increment_is_atomic(client: redis.Redis, prefix: str, stored: dict[str, list[str]], write: dict[str, Any]) -> None:
    """WORKERS threads × TIMES runs of each designed add (HINCRBY, or the guarded script) at once: all count."""
    from polyplan.validate.increments import TIMES, WORKERS, check_counter

    record = records(write["entity"])[0]
    run(client, concrete(store_path(write["entity"]), record, prefix))  # cached now, so the guarded add applies
    commands = [c for c in concrete(write["commands"], record, prefix) if c[0] in ADDS]
    assert commands, f"{write['write']}: no command applies to the seeded record"
    for command in commands:
        verb = command[0].upper()
        key, field, step = (command[3], command[4], command[5]) if verb == "EVAL" else (command[1], command[2], command[3])
        if verb == "EVAL" and "ZINCRBY" in command[1]:  # a sorted set: ARGV is step, member
            field, step = step, field

        def read(key: str = key, field: str = field, scored: bool = "ZINCRBY" in command[1]) -> Any:
            value = client.zscore(key, field) if scored else client.hget(key, field)
            return value.decode() if isinstance(value, bytes) else value

        def add(command: list[str] = command) -> None:
            assert client.execute_command(*command) is not None, "the add did not apply"

        check_counter(read, add, float(step), f"{write['write']}: {key} {field}", WORKERS, TIMES)
'''


TEST_TEMPLATE = '''"""Generated by polyplan: the Redis design of `__MODEL__`, checked on a real Redis.

Applies ../redis/keys.json to seeded records (data/redis_records.json): every record is stored
with the designed commands under a run-unique key prefix (deleted afterwards), then the test
checks each key's TTL, each read path's answer, each write path's effect, and that the memory
estimate is within 25 % of MEMORY USAGE. Run it with `polyplan validate OUT --engine redis`
(the URL comes from POLYPLAN_REDIS_URL, else a testcontainers Redis, else the test skips).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from polyplan.stores.cache import connect, memory
from urllib.parse import unquote

from polyplan.stores.cache.commands import PLACEHOLDER, Context, NotApplicable, RecordView, expand, families_by_template, fill, member
from polyplan.testkit import resolve_url

HERE = Path(__file__).resolve().parent
DESIGN: dict[str, Any] = json.loads((HERE.parent / "redis" / "keys.json").read_text(encoding="utf-8"))
DATA: dict[str, Any] = json.loads((HERE / "data" / "redis_records.json").read_text(encoding="utf-8"))
FAMILIES = families_by_template(DESIGN)
BY_NAME = {key["name"]: key for key in DESIGN["keys"]}
TOLERANCE = 0.25
SAMPLE = 25


def records(entity: str) -> list[RecordView]:
    return [RecordView.from_json(item) for item in DATA["entities"][entity]]


def decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        return {decode(k): decode(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    server = connect.connect(resolve_url("redis"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def prefix(client: redis.Redis) -> Iterator[str]:
    with connect.scratch_prefix(client) as scratch:
        yield scratch


def run(client: redis.Redis, commands: list[list[str]]) -> list[Any]:
    """Run commands in one MULTI/EXEC (test keys share no slot constraints on one server)."""
    pipe = client.pipeline(transaction=True)
    for command in commands:
        pipe.execute_command(*command)
    return list(pipe.execute())


def concrete(templates: list[list[str]], record: RecordView, prefix: str, **bounds: float) -> list[list[str]]:
    found = []
    for template in templates:
        try:
            found.append(expand(template, Context(record, FAMILIES, bounds, prefix)))
        except NotApplicable:
            continue
    return found


def stored_fields(family: dict[str, Any], name: str, client: redis.Redis) -> dict[str, str]:
    """A record's field texts as Redis holds them (a hash's fields, or a JSON string's members)."""
    if family["structure"] == "hash":
        return dict(decode(client.hgetall(name)))
    text = decode(client.get(name))
    items = json.loads(text).items() if text else []
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in items if v is not None}


def follow_trim(client: redis.Redis, path: dict[str, Any], commands: list[list[str]], replies: list[Any], prefix: str) -> tuple[list[str], list[str]]:
    """A capped write's second step (keys.json `trim`): the members its ZRANGE named are past the
    cap; delete each one's record and other keys. Returns the members and the record keys deleted."""
    trim = path.get("trim")
    if not trim:
        return [], []
    index = BY_NAME[trim["index"]]
    key = prefix + index["template"]
    members = decode(next(r for c, r in zip(commands, replies, strict=True) if c[0] == "ZRANGE" and c[1] == key))
    family = BY_NAME[index["leads_to"]]
    names = PLACEHOLDER.findall(index["index"]["member"])
    deleted = []
    for text in members:
        parts = {name: unquote(part) for name, part in zip(names, text.split(":"), strict=True)}
        name = key_name(family, RecordView(parts, {}), prefix)
        assert name is not None
        view = RecordView({**stored_fields(family, name, client), **parts}, {})
        run(client, concrete(trim["then"], view, prefix))
        deleted.append(name)
    return members, deleted


def parent_add(command: list[str]) -> tuple[str, str, int] | None:
    """(parent key, field, amount) of a derived attribute's guarded add (HINCRBY only while the parent is stored)."""
    if command[0] == "EVAL" and "(tonumber(ARGV[2]) or 0) * tonumber(ARGV[3])" in command[1]:
        return command[3], command[4], int(command[5] or 0) * int(command[6])
    return None


def write(client: redis.Redis, path: dict[str, Any], record: RecordView, prefix: str) -> tuple[list[str], list[str]]:
    """Run a designed write path for `record`, then its trim if the entity is capped."""
    commands = concrete(path["commands"], record, prefix)
    return follow_trim(client, path, commands, run(client, commands), prefix)


def store(client: redis.Redis, entity: str, record: RecordView, prefix: str) -> None:
    """Store one record with every key the design gives it."""
    path = next((s for s in DESIGN["stores"] if s["entity"] == entity), None)
    if path is not None:
        write(client, path, record, prefix)
    else:
        run(client, concrete(store_path(entity), record, prefix))


def fill_path(family: dict[str, Any]) -> list[list[str]]:
    """The commands that fill a cached key after a miss (the read path's refill step)."""
    read = next(r for r in DESIGN["reads"] if family["name"] in r["keys"])
    return [c for c in read["commands"][1:]]


def store_path(entity: str) -> list[list[str]]:
    store = next((s for s in DESIGN["stores"] if s["entity"] == entity), None)
    if store is not None:
        return list(store["commands"])
    return [c for key in DESIGN["keys"] if key["entity"] == entity for c in fill_path(key)]


def key_name(family: dict[str, Any], record: RecordView, prefix: str) -> str | None:
    try:
        return prefix + fill(family["template"], record)
    except NotApplicable:
        return None


@pytest.fixture(scope="module")
def stored(client: redis.Redis, prefix: str) -> dict[str, list[str]]:
    """Store every seeded record with the designed commands; key family name → keys written."""
    for entity in DATA["entities"]:
        for record in records(entity):
            store(client, entity, record, prefix)
    written: dict[str, list[str]] = {}
    for family in DESIGN["keys"]:
        names = {key_name(family, r, prefix) for r in records(family["entity"])}
        written[family["name"]] = sorted(n for n in names if n is not None and client.exists(n))
    return written


def test_settings_match_the_memory_model(client: redis.Redis) -> None:
    spec = importlib.util.spec_from_file_location("redis_setup", HERE.parent / "redis" / "setup.py")
    assert spec is not None and spec.loader is not None
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    differ = setup.check(client, "shared")
    thresholds = {name: values for name, values in differ.items() if "listpack" in name}
    assert not thresholds, f"the memory estimate assumes default listpack limits; the server differs: {thresholds}"


def test_every_key_family_is_written(stored: dict[str, list[str]]) -> None:
    empty = [name for name, keys in stored.items() if not keys]
    assert not empty, f"no keys written for {empty}"


def test_designed_ttls_follow_the_model() -> None:
    # A cached answer's TTL is the plan's choice (staleness or write-through); every other key
    # lives exactly as long as the model says its entity does.
    for family in DESIGN["keys"]:
        if family["role"] != "cached":
            model = DATA["ttl_seconds"][family["entity"]]
            assert family["ttl_seconds"] == model, (
                f"{family['name']}: designed TTL {family['ttl_seconds']}, the model's growth.ttl_seconds is {model}"
            )
        else:
            expected = DATA["cache_ttl_seconds"][family["name"]]
            assert family["ttl_seconds"] == expected, (
                f"{family['name']}: designed TTL {family['ttl_seconds']}, the pattern's staleness bound gives {expected}"
            )


def test_keys_carry_their_ttls(client: redis.Redis, stored: dict[str, list[str]]) -> None:
    for name, keys in stored.items():
        designed = BY_NAME[name]["ttl_seconds"]
        for key in keys:
            ttl = client.ttl(key)
            if designed is None:
                assert ttl == -1, f"{key}: designed without TTL, has {ttl}"
            else:
                assert 0 < ttl <= designed, f"{key}: TTL {ttl}, designed {designed}"


def expected_value(family: dict[str, Any], record: RecordView, command: str) -> Any:
    if command == "GET":
        return record.json[family["name"]]
    names = [f["name"] for f in family["fields"]]
    return {n: record.fields[n] for n in names if record.fields.get(n) is not None}


def test_read_paths_answer(client: redis.Redis, prefix: str, stored: dict[str, list[str]]) -> None:
    for read in DESIGN["reads"]:
        check_read(client, prefix, read)


def check_read(client: redis.Redis, prefix: str, read: dict[str, Any]) -> None:
    first = BY_NAME[read["keys"][0]]
    target = BY_NAME[read["keys"][-1]]
    views = records(read["entity"])
    if first["role"] == "index" or first.get("read_model") == "sorted_set":
        check_index_read(client, prefix, read, first, target, views)
        return
    if first.get("read_model") in ("capped_list", "table_hash"):
        return  # checked against the oracle by test_capped_lists_* and test_table_hashes_*
    checked = 0
    for record in views[:SAMPLE]:
        if key_name(first, record, prefix) is None or key_name(target, record, prefix) is None:
            continue
        command = expand(read["commands"][0], Context(record, FAMILIES, {}, prefix))
        answer = decode(client.execute_command(*command))
        if first["role"] == "pointer":
            assert answer == key_name(target, record, prefix), f"{read['pattern']}: pointer leads elsewhere"
            answer = decode(client.execute_command(read["commands"][1][0], answer))
            command = [read["commands"][1][0]]
        if command[0] == "HMGET":
            assert answer == [record.fields.get(f) for f in command[2:]], f"{read['pattern']}: wrong fields"
        else:
            assert answer == expected_value(target, record, command[0]), f"{read['pattern']}: wrong answer"
        checked += 1
    assert checked, f"{read['pattern']}: no seeded record could be looked up"


def check_index_read(
    client: redis.Redis, prefix: str, read: dict[str, Any], index: dict[str, Any], target: dict[str, Any], views: list[RecordView]
) -> None:
    spec = index["index"]
    if any(s["entity"] == read["entity"] and s.get("trim") for s in DESIGN["stores"]):
        # A capped entity keeps only its newest records (test_caps_keep_the_newest checks which):
        # the oracle is the records the cap kept.
        views = [r for r in views if client.exists(key_name(target, r, prefix) or "")]
    groups: dict[str, list[RecordView]] = {}
    for record in views:
        name = key_name(index, record, prefix)
        if name is None or (spec["score"] and spec["score"] not in record.scores):
            continue
        if any(record.fields.get(a) is None or record.part(a) != v for a, v in spec["constants"].items()):
            continue
        groups.setdefault(name, []).append(record)
    assert groups, f"{read['pattern']}: no seeded record belongs in the index"
    name, members = max(groups.items(), key=lambda item: (len(item[1]), item[0]))
    def score(record: RecordView) -> float:
        return record.scores[spec["score"]] if spec["score"] else 0.0
    ordered = sorted(members, key=lambda r: (score(r), member(index, r)), reverse=spec["order"] == "desc")
    bounds: dict[str, float] = {}
    command = read["commands"][0]
    if any(token.startswith("<min:") for token in command):
        scores = sorted(score(r) for r in members)
        bounds = {f"min:{spec['score']}": scores[len(scores) // 4], f"max:{spec['score']}": scores[(3 * len(scores)) // 4]}
        ordered = [r for r in ordered if bounds[f"min:{spec['score']}"] <= score(r) <= bounds[f"max:{spec['score']}"]]
    if spec["limit"]:
        ordered = ordered[: spec["limit"]]
    concrete_command = expand(command, Context(members[0], FAMILIES, bounds, prefix))
    assert concrete_command[1] == name
    answer = decode(client.execute_command(*concrete_command))
    assert answer == [member(index, r) for r in ordered], f"{read['pattern']}: wrong members or order"
    for record in ordered:
        key = key_name(target, record, prefix)
        assert key is not None and client.exists(key), f"{read['pattern']}: member without record"


def effects(commands: list[list[str]]) -> list[list[str]]:
    """Commands whose effect remains after the MULTI: no later command replaces or deletes their key."""
    kept = []
    for position, command in enumerate(commands):
        later = commands[position + 1 :]
        if not any(c[1] == command[1] and c[0].upper() in ("DEL", "UNLINK", "SET") for c in later):
            kept.append(command)
    return kept


def test_write_paths_have_their_effects(client: redis.Redis, prefix: str, stored: dict[str, list[str]]) -> None:
    for write in DESIGN["writes"]:
        # Adds to a counter (HINCRBY, or the script guarding it) are checked by test_increment_is_atomic.
        if "children" in write:  # a parent's write, once per cached child answer: test_parent_writes_reach_cached_answers
            continue
        if write["commands"] and (write["kind"] != "increment" or not any(c[0] in ("EVAL", "HINCRBY", "HINCRBYFLOAT") for c in write["commands"])):
            check_write(client, prefix, write)


def check_write(client: redis.Redis, prefix: str, write: dict[str, Any]) -> None:
    record = records(write["entity"])[-1]
    store(client, write["entity"], record, prefix)
    commands = concrete(write["commands"], record, prefix)
    assert commands, f"{write['write']}: no command applies to the seeded record"
    trimmed, deleted = follow_trim(client, write, commands, run(client, commands), prefix)
    for command in effects(commands):
        verb, key = command[0].upper(), command[1]
        if key in deleted:  # past the cap: the trim deleted the record just written
            assert not client.exists(key), f"{write['write']}: {key} was trimmed but still exists"
        elif verb == "ZADD" and command[3] in trimmed:
            assert client.zscore(key, command[3]) is None, f"{write['write']}: {key} kept a trimmed member"
        elif verb == "ZRANGE":
            continue  # names the members past the cap (follow_trim deleted their records)
        elif parent_add(command) is not None:
            continue  # a derived attribute of the parent: test_derived_parents_follow_their_children
        elif verb == "ZREMRANGEBYRANK":
            assert client.zcard(key) <= -int(command[3]) - 1, f"{write['write']}: {key} outgrew its cap"
        elif verb in ("DEL", "UNLINK"):
            assert not client.exists(key), f"{write['write']}: {key} still exists"
        elif verb == "SET":
            assert decode(client.get(key)) == command[2], f"{write['write']}: {key}"
            if "EX" in command:
                assert 0 < client.ttl(key) <= int(command[command.index("EX") + 1]), f"{write['write']}: {key} TTL"
        elif verb == "HSET":
            pairs = dict(zip(command[2::2], command[3::2], strict=True))
            assert decode(client.hmget(key, list(pairs))) == list(pairs.values()), f"{write['write']}: {key}"
        elif verb == "EXPIRE":
            assert 0 < client.ttl(key) <= int(command[2]), f"{write['write']}: {key} TTL"
        elif verb == "ZADD":
            assert client.zscore(key, command[3]) == float(command[2]), f"{write['write']}: {key}"
        elif verb == "ZREM":
            assert client.zscore(key, command[2]) is None, f"{write['write']}: {key}"
        elif verb == "EVAL" and "ZADD" in command[1]:  # guarded ZADD: KEYS[1], score, member
            assert client.zscore(command[3], command[5]) == float(command[4]), f"{write['write']}: {command[3]}"
        elif verb == "EVAL" and "LPUSH" in command[1]:  # guarded push: KEYS[1], member, last index kept
            assert decode(client.lindex(command[3], 0)) == command[4], f"{write['write']}: {command[3]}"
            assert client.llen(command[3]) <= int(command[5]) + 1, f"{write['write']}: {command[3]} outgrew its cap"
        else:
            raise AssertionError(f"unexpected command {verb} in {write['write']}")


def estimate(client: redis.Redis, key: str, structure: str) -> memory.Estimate:
    length = len(key.encode("utf-8"))
    if structure == "string":
        return memory.string_key_of(length, decode(client.get(key)))
    if structure == "hash":
        return memory.hash_key_of(length, sorted(decode(client.hgetall(key)).items()))
    if structure == "list":
        return memory.list_key_of(length, decode(client.lrange(key, 0, -1)))
    entries = [(decode(m), s) for m, s in client.zrange(key, 0, -1, withscores=True)]
    return memory.zset_key_of(length, entries)


@pytest.mark.parametrize("family", DESIGN["keys"], ids=lambda k: k["name"])
def test_memory_estimate_within_25_percent(client: redis.Redis, prefix: str, stored: dict[str, list[str]], family: dict[str, Any]) -> None:
    keys = [key for key in stored[family["name"]] if client.exists(key)][:SAMPLE]  # write tests may delete some
    if not keys:  # a write test deleted every key of the family (a single list or table): store the records again
        for record in records(family["entity"]):
            store(client, family["entity"], record, prefix)
        keys = [key for key in stored[family["name"]] if client.exists(key)][:SAMPLE]
    assert keys, f"{family['name']}: nothing to measure"
    measured = estimated = 0
    for key in keys:
        usage = int(client.memory_usage(key, samples=0) or 0)
        guess = estimate(client, key, family["structure"])
        assert abs(guess.usage_bytes - usage) <= TOLERANCE * usage, (
            f"{key}: estimate {guess.usage_bytes} B ({guess.encoding}) vs MEMORY USAGE {usage} B"
        )
        measured += usage
        estimated += guess.usage_bytes
    assert abs(estimated - measured) <= TOLERANCE * measured
'''

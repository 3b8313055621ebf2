"""Migrations of the non-relational stores (issue 9, "Other stores"): the operations diffed from
both designs, the scripts `polyplan migrate` writes for them, and, on the real servers, every
store a bundled history changes: seed the old version → upgrade → downgrade → upgrade, with no
document, row or key lost and the data equal (checksums) after the round trip.

The MongoDB-protocol server here is FerretDB, which has no $jsonSchema validators: the data round
trip runs its validator steps with `--without validators` there, and the test of the validator
steps themselves skips on FerretDB (saying so)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from polyplan.migrate.diff import diff_plans
from polyplan.migrate.folder import write_migration
from polyplan.migrate.store_diff import StoreDiffer
from polyplan.migrate.store_ops import BumpKeyVersion, StoreOperation
from polyplan.pipeline import plan_file
from polyplan.testkit import resolve_url
from tests.test_bad_input import run_main

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "scenarios" / "history"
SAAS = (HISTORY / "saas" / "v2.yaml", HISTORY / "saas" / "v3.yaml")
SHOP = (HISTORY / "shop" / "v1.yaml", HISTORY / "shop" / "v2.yaml")
SOCIAL = (HISTORY / "social" / "v1.yaml", HISTORY / "social" / "v2.yaml")
IOT = (HISTORY / "iot" / "v2.yaml", HISTORY / "iot" / "v3.yaml")
DOWN_URLS = {
    "mongodb": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
    "search": "http://127.0.0.1:9",
    "cassandra": "cassandra://127.0.0.1:9/datacenter1",
    "redis": "redis://127.0.0.1:9/0",
}


def store_ops(pair: tuple[Path, Path]) -> list[StoreOperation]:
    return list(diff_plans(plan_file(pair[0]), plan_file(pair[1])).store_operations)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each history pair's migration folder, written by `polyplan migrate` (its stores/ part)."""
    found: dict[str, Path] = {}
    for name, (old, new) in {"saas": SAAS, "shop": SHOP, "social": SOCIAL, "iot": IOT}.items():
        out = tmp_path_factory.mktemp(name)
        write_migration(plan_file(old), plan_file(new), old, new, out)
        found[name] = out / "stores" / f"{old.stem}-{new.stem}"
    return found


def run_steps(folder: Path, url: str, *extra: str, down: bool = False) -> list[str]:
    """Run a store's scripts in the runbook's order (reversed, with --down, for the downgrade)."""
    scripts = sorted(folder.glob("[0-9][0-9]_*.py"))
    assert scripts, f"no scripts in {folder}"
    printed: list[str] = []
    for script in reversed(scripts) if down else scripts:
        command = [sys.executable, str(script), url, *extra, *(["--down"] if down else [])]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{script.name}: {done.stderr or done.stdout}"
        printed += done.stdout.splitlines()
    return printed


def checksum(items: dict[str, Any]) -> str:
    """Order-free: a key's fields in any order, the keys in any order."""
    text = json.dumps(items, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- the operations and the scripts (no server) -----------------------------------------------


def test_the_bundled_histories_change_every_store() -> None:
    saas = [op.describe() for op in store_ops(SAAS)]
    assert saas == [
        "~ validator of collection custom_record (accepts either version's documents)",
        "+ field custom_record.status (backfilled with 'active')",
        "~ field custom_record.record_type → kind (renamed)",
        "+ index tenant_id_1_kind_1__id_1 on collection custom_record",
        "+ index tenant_id_1_kind_1_updated_at_-1 on collection custom_record",
        "- index tenant_id_1_record_type_1__id_1 on collection custom_record",
        "- index tenant_id_1_record_type_1_updated_at_-1 on collection custom_record",
        "~ validator of collection custom_record (accepts the new version's documents only)",
        "+ table tenant_audit_v3 copied from tenant_audit (key (tenant_id), clustering at ASC, id ASC)",
    ]
    assert [op.describe() for op in store_ops(IOT)] == ["+ column device_window.signal_dbm smallint"]
    assert [(op.store, op.describe()) for op in store_ops(SHOP)] == [
        ("search", "+ index product_v2 for alias product (the new mapping)"),
        ("search", "~ alias product → product_v2 (reindex, without attributes, alias swap)"),
        (
            "redis",
            "~ keys cache.product.product_by_sku: shop:cache:product:sku:* → shop:v2:cache:product:sku:* "
            "(version bump, read-through)",
        ),
    ]
    social = next(op for op in store_ops(SOCIAL) if isinstance(op, BumpKeyVersion))
    assert (social.renames, social.drops, social.adds) == ((("joined_at", "created_at"),), (), (("verified", False),))


def test_every_store_operation_reverses_to_itself() -> None:
    for pair in (SAAS, SHOP, SOCIAL, IOT):
        for op in store_ops(pair):
            assert op.reverse().reverse() == op
            assert op.reverse().to_json() != op.to_json()


def test_diff_prints_the_store_operations(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["diff", str(SAAS[0]), str(SAAS[1])], monkeypatch, capsys)
    assert code == 0
    assert "  ~ field custom_record.record_type → kind (renamed)    [mongodb, expand]" in out.splitlines()
    assert "  - index tenant_id_1_record_type_1__id_1 on collection custom_record    [mongodb, contract]" in out
    code, out, _ = run_main(["diff", str(SHOP[0]), str(SHOP[1]), "--json"], monkeypatch, capsys)
    body = json.loads(out)
    assert [(o["store"], o["op"], o["phase"]) for o in body["store_operations"]] == [
        ("search", "create_search_index", "expand"),
        ("search", "reindex", "expand"),
        ("redis", "bump_key_version", "expand"),
    ]


def test_scripts_and_runbooks(folders: dict[str, Path]) -> None:
    saas = folders["saas"]
    assert sorted(p.name for p in (saas / "mongodb").iterdir())[0] == "01_set_validator_custom_record.py"
    runbook = (saas / "mongodb" / "RUNBOOK.md").read_text()
    # The contract steps come after the application step, and the downgrade reverses the order.
    assert runbook.index("**Application step:**") < runbook.index("06_drop_document_index")
    assert runbook.index("08_set_validator_custom_record.py URL --down") < runbook.index(
        "01_set_validator_custom_record.py URL --down"
    )
    assert "Read path of the new application version" in (folders["shop"] / "redis" / "RUNBOOK.md").read_text()
    assert "dual write" in (folders["shop"] / "search" / "RUNBOOK.md").read_text()


def test_an_entity_moving_to_another_store_gets_its_runbook(tmp_path: Path) -> None:
    old, new = (
        ROOT / "tests" / "migrate_inputs" / "docs_base.yaml",
        ROOT / "tests" / "migrate_inputs" / "docs_moved.yaml",
    )
    (move,) = store_ops((old, new))
    assert move.describe() == "~ entity Note: system of record document/mongodb → wide_column/cassandra (moved)"
    assert move.reverse().reverse() == move
    write_migration(plan_file(old), plan_file(new), old, new, tmp_path)
    runbook = (tmp_path / "stores" / "v1-v2" / "move" / "RUNBOOK.md").read_text()
    assert "  - from: MongoDB collection note\n  - to: CQL table notes.note_by_id" in runbook
    steps = ["Dual write", "Backfill", "Verify", "Switch reads", "Retire"]
    assert [runbook.index(f"{n}. {step}") for n, step in enumerate(steps, start=2)] == sorted(
        runbook.index(f"{n}. {step}") for n, step in enumerate(steps, start=2)
    )


def test_help_never_connects_and_a_down_server_is_one_line(folders: dict[str, Path]) -> None:
    for store, folder in [
        ("mongodb", folders["saas"] / "mongodb"),
        ("cassandra", folders["saas"] / "cassandra"),
        ("search", folders["shop"] / "search"),
        ("redis", folders["shop"] / "redis"),
    ]:
        script = sorted(folder.glob("01_*.py"))[0]
        helped = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0 and "--down" in helped.stdout, helped.stderr
        down = subprocess.run(
            [sys.executable, str(script), DOWN_URLS[store]], capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 1, (store, down.stdout, down.stderr)
        lines = down.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(DOWN_URLS[store]), (store, down.stderr)


def test_a_second_change_keeps_the_first_changes_scripts(tmp_path: Path) -> None:
    v1, v2, v3 = (HISTORY / "shop" / f"v{n}.yaml" for n in (1, 2, 3))
    write_migration(plan_file(v1), plan_file(v2), v1, v2, tmp_path)
    first = {p: p.read_bytes() for p in (tmp_path / "stores").rglob("*") if p.is_file()}
    write_migration(plan_file(v2), plan_file(v3), v2, v3, tmp_path)
    assert first and all(p.read_bytes() == content for p, content in first.items())


# --- MongoDB (FerretDB here) ------------------------------------------------------------------


@pytest.fixture
def mongo_db() -> Iterator[Any]:
    from polyplan.stores.document.connect import scratch_database

    with scratch_database(resolve_url("mongodb")) as db:
        yield db


def _is_ferretdb(db: Any) -> bool:
    return "ferretdbVersion" in db.client.admin.command("buildInfo")


def _documents(db: Any) -> dict[str, Any]:
    from bson import json_util

    from polyplan.stores.document.render import JSON_OPTIONS

    return {
        str(d["_id"]): json.loads(json_util.dumps(d, json_options=JSON_OPTIONS)) for d in db["custom_record"].find()
    }


def _seed_custom_records(db: Any, count: int) -> None:
    from bson.binary import Binary
    from pymongo import IndexModel

    from polyplan.stores.document.design import design

    collection = design(plan_file(SAAS[0])).collection_of("CustomRecord")
    assert collection is not None
    db.create_collection("custom_record")
    indexes = [StoreDiffer._index(i) for i in collection.indexes]
    db["custom_record"].create_indexes([IndexModel([tuple(k) for k in i["key"]], name=i["name"]) for i in indexes])
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    db["custom_record"].insert_many(
        {
            "_id": Binary.from_uuid(uuid.UUID(int=n + 1)),
            "tenant_id": Binary.from_uuid(uuid.UUID(int=n % 7 + 1000)),
            "record_type": f"type-{n % 40}",
            "fields": {"n": n, "label": f"record {n}"},
            "created_at": moment + timedelta(minutes=n),
            "updated_at": moment + timedelta(minutes=2 * n),
        }
        for n in range(count)
    )


@pytest.mark.mongodb
def test_mongodb_round_trip(mongo_db: Any, folders: dict[str, Path]) -> None:
    # FerretDB updates about 20 documents a second here: a few hundred, in batches of 100.
    _seed_custom_records(mongo_db, 250)
    seeded = _documents(mongo_db)
    url = resolve_url("mongodb")
    # FerretDB has no validators (it answers NotImplemented to collMod's validator): those steps
    # are left out there, the rest runs; test_mongodb_validator_steps covers them on MongoDB.
    extra = [mongo_db.name, "--batch", "100", *(["--without", "validators"] if _is_ferretdb(mongo_db) else [])]
    printed = run_steps(folders["saas"] / "mongodb", url, *extra)
    assert "custom_record.status: 250 documents backfilled" in printed
    upgraded = _documents(mongo_db)
    assert len(upgraded) == len(seeded) == 250
    for key, before in seeded.items():
        after = upgraded[key]
        assert after["status"] == "active" and after["kind"] == before["record_type"] and "record_type" not in after
        assert {k: v for k, v in after.items() if k not in ("status", "kind")} == {
            k: v for k, v in before.items() if k != "record_type"
        }
    indexes = set(mongo_db["custom_record"].index_information())
    assert {"tenant_id_1_kind_1__id_1", "tenant_id_1_kind_1_updated_at_-1"} <= indexes
    assert not {i for i in indexes if "record_type" in i}
    run_steps(folders["saas"] / "mongodb", url, *extra, down=True)
    assert checksum(_documents(mongo_db)) == checksum(seeded)
    assert {i for i in mongo_db["custom_record"].index_information() if "record_type" in i}
    run_steps(folders["saas"] / "mongodb", url, *extra)
    assert checksum(_documents(mongo_db)) == checksum(upgraded)


@pytest.mark.mongodb
def test_mongodb_validator_steps(mongo_db: Any, folders: dict[str, Path]) -> None:
    if _is_ferretdb(mongo_db):
        pytest.skip("the server is FerretDB, which has no $jsonSchema validators (collMod validator: NotImplemented)")
    ops = store_ops(SAAS)
    mongo_db.create_collection("custom_record", validator=ops[0].to_json()["old"])
    folder = folders["saas"] / "mongodb"
    run_steps(folder, resolve_url("mongodb"), mongo_db.name)
    options = mongo_db["custom_record"].options()
    assert options["validator"] == ops[7].to_json()["new"]
    run_steps(folder, resolve_url("mongodb"), mongo_db.name, down=True)
    assert mongo_db["custom_record"].options()["validator"] == ops[0].to_json()["old"]


# --- search (OpenSearch here) --------------------------------------------------------------------


@pytest.mark.opensearch
def test_search_round_trip(folders: dict[str, Path]) -> None:
    from opensearchpy import helpers

    from polyplan.stores.search.connect_opensearch import connect, drop_prefix
    from polyplan.stores.search.design import design_search

    url = resolve_url("opensearch")
    client = connect(url)
    prefix = f"pptest-{uuid.uuid4().hex[:12]}-"
    old_index = next(i for i in design_search(plan_file(SHOP[0])).indexes if i.alias == "product")
    body = StoreDiffer._body(old_index)
    body["settings"]["index"]["number_of_replicas"] = 0
    first = f"{prefix}{old_index.first_index}"
    try:
        client.indices.create(index=first, body={**body, "aliases": {f"{prefix}product": {"is_write_index": True}}})
        docs = {
            str(n): {
                "id": str(n),
                "sku": f"SKU-{n}",
                "title": f"Product {n}",
                "price": n + 0.5,
                "stock": n,
                "attributes": {"colour": "red", "n": n},
                "tags": ["a", f"t{n % 5}"],
            }
            for n in range(300)
        }
        actions = [{"_index": f"{prefix}product", "_id": k, "_source": v} for k, v in docs.items()]
        helpers.bulk(client, actions, refresh=True)

        def contents(index: str) -> dict[str, Any]:
            found = client.search(index=index, body={"query": {"match_all": {}}, "size": 1000})
            return {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}

        def on_alias() -> list[str]:
            return sorted(client.indices.get_alias(name=f"{prefix}product"))

        folder = folders["shop"] / "search"
        options = ["--prefix", prefix, "--replicas", "0"]
        create, reindex = sorted(folder.glob("[0-9][0-9]_*.py"))
        target = f"{prefix}product_v2"
        assert subprocess.run([sys.executable, str(create), url, *options], timeout=120, check=False).returncode == 0
        # The dual write (the runbook's application step): a change reaches both indexes before the
        # copy, which must not overwrite it with the old index's older copy.
        changed = {**docs["7"], "title": "Changed while migrating"}
        client.index(index=f"{prefix}product", id="7", body=changed, refresh=True)
        client.index(index=target, id="7", body={k: v for k, v in changed.items() if k != "attributes"}, refresh=True)
        docs["7"] = changed
        assert subprocess.run([sys.executable, str(reindex), url, *options], timeout=300, check=False).returncode == 0
        assert on_alias() == [target]
        upgraded = contents(target)
        assert upgraded == {k: {f: v for f, v in d.items() if f != "attributes"} for k, d in docs.items()}
        run_steps(folder, url, *options, down=True)
        assert on_alias() == [first]
        assert not client.indices.exists(index=target)
        assert checksum(contents(first)) == checksum(docs)
        run_steps(folder, url, *options)
        assert on_alias() == [target]
        assert checksum(contents(target)) == checksum(upgraded)
    finally:
        drop_prefix(client, prefix)
        client.close()


# --- Cassandra -----------------------------------------------------------------------------------


@pytest.fixture
def cassandra() -> Iterator[tuple[Any, str]]:
    """A session and a keyspace of this run's own (dropped after)."""
    from polyplan.stores.wide_column.connect import connect, drop_keyspace, run_keyspace

    cluster, session = connect(resolve_url("cassandra"))
    keyspace = run_keyspace()
    try:
        yield session, keyspace
    finally:
        drop_keyspace(session, keyspace)
        cluster.shutdown()


def _old_schema(session: Any, keyspace: str, model: Path) -> None:
    from polyplan.stores.wide_column.connect import apply_schema
    from polyplan.stores.wide_column.design import design_wide_column
    from polyplan.stores.wide_column.render import schema_cql

    plan = plan_file(model)
    apply_schema(session, schema_cql(design_wide_column(plan), plan.model), keyspace)


def _rows(session: Any, keyspace: str, table: str, key: str) -> dict[str, Any]:
    return {str(row[key]): dict(row) for row in session.execute(f'SELECT * FROM "{keyspace}"."{table}"')}


def _columns(session: Any, keyspace: str, table: str) -> set[str]:
    found = session.execute(
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s", (keyspace, table)
    )
    return {row["column_name"] for row in found}


@pytest.mark.cassandra
def test_cassandra_new_table_for_a_new_clustering_round_trip(
    cassandra: tuple[Any, str], folders: dict[str, Path]
) -> None:
    session, keyspace = cassandra
    _old_schema(session, keyspace, SAAS[0])
    insert = session.prepare(
        f'INSERT INTO "{keyspace}".tenant_audit (tenant_id, at, id, actor_email, action, target) VALUES (?, ?, ?, ?, ?, ?)'
    )
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(1200):  # more than one page (500) of the copy
        row = (
            uuid.UUID(int=n % 9 + 1),
            moment + timedelta(seconds=n),
            uuid.UUID(int=n + 1),
            f"u{n}@x.test",
            "edit",
            f"t{n}",
        )
        session.execute(insert, row)
    seeded = _rows(session, keyspace, "tenant_audit", "id")
    assert len(seeded) == 1200
    url, folder = resolve_url("cassandra"), folders["saas"] / "cassandra"
    printed = run_steps(folder, url, "--keyspace", keyspace)
    assert "rows: tenant_audit 1200, tenant_audit_v3 1200" in printed
    upgraded = _rows(session, keyspace, "tenant_audit_v3", "id")
    assert upgraded == {k: {**v, "client_ip": None} for k, v in seeded.items()}
    clustering = session.execute(
        "SELECT column_name, clustering_order FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, "tenant_audit_v3"),
    )
    assert {r["column_name"]: r["clustering_order"] for r in clustering}["at"] == "asc"
    # A row the dual write changed since is newer than its copy: running the step again keeps it.
    first = next(iter(upgraded.values()))
    session.execute(
        f'UPDATE "{keyspace}".tenant_audit_v3 SET target = %s WHERE tenant_id = %s AND at = %s AND id = %s',
        ("changed", first["tenant_id"], first["at"], first["id"]),
    )
    run_steps(folder, url, "--keyspace", keyspace)
    assert _rows(session, keyspace, "tenant_audit_v3", "id")[str(first["id"])]["target"] == "changed"
    run_steps(folder, url, "--keyspace", keyspace, down=True)
    assert "tenant_audit_v3" not in {
        r["table_name"]
        for r in session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))
    }
    assert checksum(_rows(session, keyspace, "tenant_audit", "id")) == checksum(seeded)
    run_steps(folder, url, "--keyspace", keyspace)
    assert checksum(_rows(session, keyspace, "tenant_audit_v3", "id")) == checksum(upgraded)


@pytest.mark.cassandra
def test_cassandra_added_column_round_trip(cassandra: tuple[Any, str], folders: dict[str, Path]) -> None:
    session, keyspace = cassandra
    _old_schema(session, keyspace, IOT[0])
    insert = session.prepare(
        f'INSERT INTO "{keyspace}".device_window (device_id, taken_at_day, taken_at, temperature_c, humidity_pct, '
        "battery_mv) VALUES (?, ?, ?, ?, ?, ?)"
    )
    day = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(400):
        session.execute(insert, (uuid.UUID(int=n % 5 + 1), day, day + timedelta(seconds=n), 20.5, 40.0, 3000 + n))
    seeded = {
        f"{r['device_id']}|{r['taken_at']}": dict(r)
        for r in session.execute(f'SELECT * FROM "{keyspace}".device_window')
    }
    assert len(seeded) == 400
    url, folder = resolve_url("cassandra"), folders["iot"] / "cassandra"

    def rows() -> dict[str, Any]:
        found = session.execute(f'SELECT * FROM "{keyspace}".device_window')
        return {f"{r['device_id']}|{r['taken_at']}": dict(r) for r in found}

    run_steps(folder, url, "--keyspace", keyspace)
    assert "signal_dbm" in _columns(session, keyspace, "device_window")
    upgraded = rows()
    assert upgraded == {k: {**v, "signal_dbm": None} for k, v in seeded.items()}
    run_steps(folder, url, "--keyspace", keyspace, down=True)
    assert "signal_dbm" not in _columns(session, keyspace, "device_window")
    assert checksum(rows()) == checksum(seeded)
    run_steps(folder, url, "--keyspace", keyspace)
    assert checksum(rows()) == checksum(upgraded)


@pytest.mark.mongodb
@pytest.mark.cassandra
def test_the_verify_step_of_a_move_counts_both_stores(
    mongo_db: Any, cassandra: tuple[Any, str], tmp_path: Path
) -> None:
    from bson.binary import Binary

    old, new = (
        ROOT / "tests" / "migrate_inputs" / "docs_base.yaml",
        ROOT / "tests" / "migrate_inputs" / "docs_moved.yaml",
    )
    write_migration(plan_file(old), plan_file(new), old, new, tmp_path)
    script = tmp_path / "stores" / "v1-v2" / "move" / "verify_Note.py"
    session, keyspace = cassandra
    _old_schema(session, keyspace, new)  # the new version's home, as its setup creates it
    ids = [uuid.UUID(int=n + 1) for n in range(30)]
    mongo_db["note"].insert_many({"_id": Binary.from_uuid(i), "title": "t", "body": "b"} for i in ids)
    insert = session.prepare(f'INSERT INTO "{keyspace}".note_by_id (id, title, body) VALUES (?, ?, ?)')
    for i in ids[:29]:  # the backfill is one record short
        session.execute(insert, (i, "t", "b"))
    source = resolve_url("mongodb").rstrip("/") + f"/{mongo_db.name}"
    command = [sys.executable, str(script), source, resolve_url("cassandra"), "--target-name", f"{keyspace}.note_by_id"]
    short = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (short.returncode, short.stdout) == (1, "Note: 30 in the source, 29 in the target\n"), short.stderr
    session.execute(insert, (ids[29], "t", "b"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "Note: 30 in the source, 30 in the target\n"), done.stderr
    down = subprocess.run(
        [sys.executable, str(script), DOWN_URLS["mongodb"], resolve_url("cassandra")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1, down.stderr


# --- Redis -----------------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("scenario", ["shop", "social"])
def test_redis_round_trip(scenario: str, folders: dict[str, Path]) -> None:
    from polyplan.stores.cache.connect import connect, scratch_prefix

    pair = SHOP if scenario == "shop" else SOCIAL
    op = next(o for o in store_ops(pair) if isinstance(o, BumpKeyVersion))
    from polyplan.stores.cache.design import design

    family = design(plan_file(pair[0])).key(op.table)
    url = resolve_url("redis")
    client = connect(url)
    try:
        with scratch_prefix(client) as prefix:
            old_prefix = prefix + op.old_pattern.split("*")[0]
            new_prefix = prefix + op.new_pattern.split("*")[0]
            seeded = {f"{old_prefix}{n}": {f.name: f"{f.name}-{n}" for f in family.fields} for n in range(300)}
            for key, value in seeded.items():
                client.set(key, json.dumps(value), ex=600)

            def values(start: str) -> dict[str, Any]:
                return {k.decode(): json.loads(client.get(k)) for k in client.scan_iter(match=start + "*", count=500)}

            folder = folders[scenario] / "redis"
            run_steps(folder, url, "--prefix", prefix)
            upgraded = values(new_prefix)
            renames = dict(op.renames)
            expected = {
                new_prefix + k[len(old_prefix) :]: {
                    **{renames.get(f, f): v for f, v in value.items() if f not in op.drops},
                    **{name: default for name, default in op.adds if default is not None},
                }
                for k, value in seeded.items()
            }
            assert upgraded == expected
            assert all(0 < client.ttl(k) <= 600 for k in upgraded)
            run_steps(folder, url, "--prefix", prefix, down=True)
            assert values(new_prefix) == {}
            assert checksum(values(old_prefix)) == checksum(seeded)
            run_steps(folder, url, "--prefix", prefix)
            assert checksum(values(new_prefix)) == checksum(upgraded)
    finally:
        client.close()


def test_store_scripts_are_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    written: list[dict[str, bytes]] = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}"
        command = [sys.executable, "-m", "polyplan", "migrate", str(SAAS[0]), str(SAAS[1]), "--out", str(out)]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
        assert done.returncode == 0, done.stderr
        written.append(
            {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "stores").rglob("*") if p.is_file()}
        )
    assert written[0] and written[0] == written[1]

"""`polyplan scaffold` for records Redis and Cassandra keep and a search index projects (issue 15):
the generated write functions write the record and its outbox event atomically (Redis: MULTI/EXEC
with an XADD to the records' stream; Cassandra: one LOGGED batch with the outbox INSERT), and the
generated `keyed_relay` command keeps the index equal to the records, every id at every version.
On the real Redis, Cassandra and OpenSearch; never skipped under POLYPLAN_REQUIRE naming them."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import keyed_stores, scaffold_clean, scaffolded

MODEL = ROOT / "tests" / "models" / "keyed_search.yaml"
APP = "keyed_search"
FIELDS = {"Note": ("id", "code", "body", "stars"), "Word": ("id", "term", "meaning", "uses")}


def test_the_fed_records_get_outbox_writes_and_a_relay() -> None:
    files, warnings = scaffold(plan_file(MODEL))
    assert {
        f"{APP}/keyed_relay.py",
        f"{APP}/keyed_outbox_runtime.py",
        f"{APP}/stream_outbox_runtime.py",
        f"{APP}/batch_outbox_runtime.py",
        "sql/outbox.cassandra.cql",
    } <= set(files)
    records, wide = files[f"{APP}/records.py"], files[f"{APP}/wide_column.py"]
    assert records.count("write_record(") == 2 and "run_write(" not in records  # add_note, drop_note
    assert wide.count("outbox_of(store, ") == 3  # add_word, reword, drop_word
    search = files[f"{APP}/search.py"]
    assert "def search_notes(" in search and "def search_words(" in search
    # Both search patterns are served now: no "not scaffolded" line names them.
    assert not [w for w in warnings if w.path in ("access_patterns.1", "access_patterns.3")], warnings
    # The relay loop and its metrics are relay_metrics.py's, which needs no driver: no pymongo.
    assert "pymongo" not in files["requirements.txt"] and "relay_metrics.py" in "".join(files)
    assert "CREATE TABLE IF NOT EXISTS keyed_search.polyplan_outbox" in files["sql/outbox.cassandra.cql"]
    # The copied runtimes are polyplan's, word for word below their headers (imports pointed at the package).
    for name in ("keyed_outbox_runtime.py", "stream_outbox_runtime.py", "batch_outbox_runtime.py"):
        own = (ROOT / "polyplan" / "scaffold" / name).read_text().split("from __future__ import annotations\n", 1)[1]
        assert own.lstrip().replace("from polyplan.scaffold.", f"from {APP}.") in files[f"{APP}/{name}"], name


def test_the_package_is_clean_under_mypy_strict_and_ruff(tmp_path: Path) -> None:
    scaffold_clean(MODEL, tmp_path / APP)


def test_the_compose_file_runs_each_relay_as_a_service(tmp_path: Path) -> None:
    """keyed_relay is a service of compose.yml beside the relational relay (keyed_search, whose
    Redis records make Redis a store of the package), and alone (autocomplete: no relational
    entity); doc_relay beside the relational relay (catalogue_documents: both outboxes); each
    service's command runs (its `--help` here, with the package installed as the container would
    find it)."""
    import yaml

    from polyplan.scaffold import write_scaffold

    for model, package, relays in (
        (MODEL, APP, {"relay", "keyed_relay"}),
        (ROOT / "tests" / "models" / "autocomplete.yaml", "search_autocomplete", {"keyed_relay"}),
        (ROOT / "tests" / "models" / "catalogue_documents.yaml", "catalogue_documents", {"relay", "doc_relay"}),
    ):
        folder = tmp_path / package
        files = write_scaffold(model, folder)[1]
        services = yaml.safe_load(files["compose.yml"])["services"]
        stores = set(services) - relays
        assert set(services) - stores == relays, sorted(services)
        assert not stores & {"relay", "doc_relay", "keyed_relay"}, sorted(services)
        if model == MODEL:
            assert stores == {"postgres", "redis", "opensearch", "cassandra"}, sorted(services)
        for name in relays:
            service = services[name]
            script = service["command"][-1]
            module = name  # each relay's service is named after its module
            assert script.endswith(f"&& exec python -m {package}.{module}"), script
            assert set(service["depends_on"]) == stores and service["restart"] == "unless-stopped"
            assert f"{package.upper()}_SEARCH_URL" in service["environment"]
            shown = subprocess.run(
                [sys.executable, "-m", f"{package}.{module}", "--help"],
                cwd=folder,
                env={**os.environ, "PYTHONPATH": str(folder)},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert shown.returncode == 0, shown.stdout + shown.stderr
            assert shown.stdout.startswith(f"usage: {package}.{module} [-h] [--once] [--batch BATCH]"), shown.stdout
        header = files["compose.yml"].split("\nname: ")[0]
        for name in relays:
            assert f"docker compose logs -f {name:<12}(each batch" in header
            assert f"python -m {package}.{name}" in header


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, ModuleType]]]:
    folder = tmp_path_factory.mktemp("scaffold_keyed_outbox")
    with scaffolded(MODEL, folder):
        names = ("settings", "records", "wide_column", "wide_column_runtime", "search", "keyed_relay")
        yield folder, {n: importlib.import_module(f"{APP}.{n}") for n in names}


@pytest.fixture
def stores(app: tuple[Path, dict[str, ModuleType]]) -> Iterator[tuple[Any, dict[str, str]]]:
    """The package's Stores on a scratch Redis prefix, Cassandra keyspace (the plan's schema.cql
    applied) and index prefix, and the environment its commands read (the same stores)."""
    _, modules = app
    redis_url, search_url, cassandra_url = resolve_url("redis"), resolve_url("opensearch"), resolve_url("cassandra")
    with keyed_stores(MODEL, APP, modules) as (made, key_prefix, index_prefix, keyspace):
        environment = {
            "KEYED_SEARCH_DATABASE_URL": "sqlite://",
            "KEYED_SEARCH_REDIS_URL": redis_url,
            "KEYED_SEARCH_KEY_PREFIX": key_prefix,
            "KEYED_SEARCH_SEARCH_URL": search_url,
            "KEYED_SEARCH_INDEX_PREFIX": index_prefix,
            "KEYED_SEARCH_CASSANDRA_URL": cassandra_url,
            "KEYED_SEARCH_CASSANDRA_KEYSPACE": keyspace,
        }
        yield made, environment


def _relay(folder: Path, environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"{APP}.keyed_relay", *args],
        cwd=folder,
        env={**os.environ, **environment, "PYTHONPATH": str(folder)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _documents(stores: Any, alias: str) -> dict[str, tuple[int, dict[str, Any]]]:
    name = stores.index_prefix + alias
    stores.search.indices.refresh(index=name)
    found = stores.search.search(index=name, body={"query": {"match_all": {}}, "size": 10_000, "version": True})
    return {hit["_id"]: (hit["_version"], hit["_source"]) for hit in found["hits"]["hits"]}


def _stream_versions(stores: Any) -> dict[str, int]:
    """Each record's last event version in the Redis stream (read before the relay empties it)."""
    from polyplan.scaffold.stream_outbox_runtime import version_of

    found: dict[str, int] = {}
    for entry, fields in stores.cache.xrange(stores.key_prefix + "polyplan:outbox"):
        found[fields[b"key"].decode()] = version_of(entry.decode())
    return found


def _words(stores: Any) -> dict[str, tuple[int, dict[str, Any]]]:
    """Each Word record of the base table: (the newest write timestamp of its cells, its fields)."""
    session, keyspace = stores.wide_column.session("test"), stores.wide_column.keyspace
    rows = session.execute(
        f"SELECT id, term, meaning, uses, WRITETIME(term) AS t, WRITETIME(meaning) AS m, WRITETIME(uses) AS u "
        f"FROM {keyspace}.word_by_id"
    )
    return {
        str(r["id"]): (
            max(v for v in (r["t"], r["m"], r["u"]) if v is not None),
            {"id": str(r["id"]), "term": r["term"], "meaning": r["meaning"], "uses": r["uses"]},
        )
        for r in rows
    }


@pytest.mark.redis
@pytest.mark.cassandra
@pytest.mark.opensearch
def test_generated_writes_and_relay_keep_the_indexes_equal_to_the_records(
    app: tuple[Path, dict[str, ModuleType]], stores: tuple[Any, dict[str, str]]
) -> None:
    folder, modules = app
    made, environment = stores
    records, wide = modules["records"], modules["wide_column"]
    notes = [records.Note(uuid.UUID(int=n + 1), f"n{n}", f"note number {n} about otters", n) for n in range(6)]
    for note in notes:
        records.add_note(made, note)
    # The same code written again under another id: the old document is deleted with it.
    moved = records.Note(uuid.UUID(int=99), "n0", "note zero rewritten", 7)
    records.add_note(made, moved)
    records.drop_note(made, notes[2])
    records.drop_note(made, records.Note(uuid.UUID(int=50), "absent", "never written", 0))  # no event
    words = [wide.Word(uuid.UUID(int=n + 1), f"term{n}", f"the meaning of word {n}", n) for n in range(5)]
    for word in words:
        wide.add_word(made, word)
    assert wide.reword(made, words[1].id, "a new meaning") is not None
    assert wide.reword(made, uuid.uuid4(), "nobody") is None  # no record, no event
    assert wide.drop_word(made, words[3].id) is not None
    assert made.cache.xlen(made.key_prefix + "polyplan:outbox") == 6 + 2 + 1  # 6 inserts, move (delete + insert), drop
    redis_versions = _stream_versions(made)

    done = _relay(folder, environment, "--once", "--batch", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "relay: caught up after 16 events" in done.stdout, done.stdout  # 9 Redis + 7 Cassandra
    assert "lag p50" in done.stdout

    # Redis: every live note at its last event's version with its fields; the moved and dropped gone.
    live = {str(n.id): n for n in [moved, *(n for n in notes if n.code not in ("n0", "n2"))]}
    documents = _documents(made, "note")
    assert set(documents) == set(live)
    for key, note in live.items():
        version, source = documents[key]
        assert version == redis_versions[key], key
        # A Note expires 86400 s after its last write (the key TTL): the document says when, from
        # the stream entry's time (its version's milliseconds), which is the EXEC that set the TTL.
        # Integer milliseconds: a float division once turned 1796781294.656 s into .655 (CI).
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        written = epoch + timedelta(milliseconds=version // 1_000_000, seconds=86400)
        expires_at = written.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert source == {
            "id": key,
            "code": note.code,
            "body": note.body,
            "stars": note.stars,
            "expires_at": expires_at,
        }
    # Cassandra: every word of the base table at its newest write timestamp, with its fields.
    rows = _words(made)
    assert len(rows) == 4
    assert _documents(made, "word") == {key: (version, fields) for key, (version, fields) in rows.items()}
    # The search functions answer from the relayed indexes.
    assert {h.code for h in modules["search"].search_notes(made, "otters").hits} == {"n1", "n3", "n4", "n5"}
    assert [h.term for h in modules["search"].search_words(made, "new").hits] == ["term1"]
    # Nothing left: a second run relays nothing.
    again = _relay(folder, environment, "--once")
    assert again.returncode == 0 and "applied" not in again.stdout, again.stdout + again.stderr


@pytest.mark.redis
@pytest.mark.cassandra
@pytest.mark.opensearch
def test_an_update_racing_a_delete_leaves_the_row_its_document_holds(
    app: tuple[Path, dict[str, ModuleType]], stores: tuple[Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving CI's load hit (keyed_search.check: "stale: 1 (Word … document v…, record v…)",
    equal versions): drop_word's batch lands between reword's read and reword's batch. The update's
    batch is written at the timestamp of its read, before the delete's, so the delete wins in the
    table and in the index alike (the event's version is the batch's timestamp): the record does
    not live again. It once did with the later timestamp, which left it without its term row, and
    every later reword of it was refused (CI, keyed_search's load: "deleted or moved after each of
    20 reads")."""
    folder, modules = app
    made, environment = stores
    wide = modules["wide_column"]
    word = wide.Word(uuid.UUID(int=7), "raced", "before", 3)
    wide.add_word(made, word)
    original = wide.run_operation
    raced: list[str] = []

    def dropped_between(store: Any, who: str, operation: Any, current: Any, new: Any, *rest: Any) -> None:
        if who == "reword":  # drop_word's batch (the row's delete and its event); its term released later
            raced.append(who)
            dropping = {**wide.WRITES["drop_word"], "after_batch": []}
            event = wide.outbox_of(store, "drop_word", "Word", "delete", current, None)
            original(store, "drop_word", dropping, current, None, wide.ROW_KEYS, event)
        original(store, who, operation, current, new, *rest)

    # reword runs its operation through write_after_read, so the runtime's name is the one to patch.
    runtime = sys.modules[wide.write_after_read.__module__]
    monkeypatch.setattr(runtime, "run_operation", dropped_between)
    assert wide.reword(made, word.id, "after") is not None
    assert raced == ["reword"]  # the delete did land in between
    done = _relay(folder, environment, "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _words(made)
    assert str(word.id) not in rows
    assert _documents(made, "word") == rows


def test_the_relay_without_a_setting_is_one_line(app: tuple[Path, dict[str, ModuleType]]) -> None:
    folder, _ = app
    done = _relay(folder, {"KEYED_SEARCH_DATABASE_URL": "sqlite://"}, "--once")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("keyed_search.keyed_relay: ") and "KEYED_SEARCH_SEARCH_URL" in line, line

"""`polyplan scaffold`'s load generator and checker for the entities kept outside the relational
system of record (issue 15): `python -m <app>.load` runs the document store's, Cassandra's and Redis's
functions at their model rates, and `python -m <app>.check` compares each search index they feed
with the records (the document store's at `_pp_v`, Cassandra's at the newest write timestamp of the
record's cells, Redis's by content). On the real PostgreSQL, Redis, Cassandra, OpenSearch and the
MongoDB wire-protocol server of POLYPLAN_MONGODB_URL (FerretDB here: no claim about MongoDB itself),
for tests/models/keyed_search.yaml (Redis and Cassandra records) and catalogue_documents.yaml (the
document store); never skipped under POLYPLAN_REQUIRE naming them."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold_files, write_scaffold
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import (
    ScaffoldApp,
    app_env,
    database_url,
    scratch_index_prefix,
    scratch_keyspace,
    seed_model,
)

KEYED = ROOT / "tests" / "models" / "keyed_search.yaml"
DOCUMENTS = ROOT / "tests" / "models" / "catalogue_documents.yaml"


def test_the_load_and_the_checker_cover_the_other_stores() -> None:
    files = scaffold_files(plan_file(KEYED))
    load, check = files["keyed_search/load.py"], files["keyed_search/check.py"]
    for line in (
        "ReadSpec('word_by_term', 'Word', 200.0, 'wide_column', wide_column.word_by_term",
        "ReadSpec('note_by_code', 'Note', 200.0, 'records', records.note_by_code",
        "ReadSpec('search_words', 'Word', 50.0, 'search', search.search_words",
        "WriteSpec('reword', 'Word', 10.0, 'update', wide_column.reword",
        "WriteSpec('drop_note', 'Note', 1.0, 'delete_row', records.drop_note",
    ):
        assert line in load, line
    assert "WRITETIME(meaning) AS pp_w_meaning, WRITETIME(uses) AS pp_w_uses FROM keyed_search.word_by_id" in check
    assert "stream_outbox(findings" in check and "outbox_lag(session" in check
    documents = scaffold_files(plan_file(DOCUMENTS))
    load, check = documents["catalogue_documents/load.py"], documents["catalogue_documents/check.py"]
    assert "ReadSpec('search_products', 'Product', 50.0, 'search', search.search_products" in load
    assert "WriteSpec('restock', 'Product', 20.0, 'update', documents.restock" in load
    assert "document_records(findings, 'Product', stored, documents.Product.from_document" in check


@dataclass
class App(ScaffoldApp):
    """A scaffolded application on this run's stores: its scratch stores' handles too."""

    handles: dict[str, Any]

    def run(self, code: str) -> str:
        """Python run with the package importable and its environment (`stores` connected)."""
        done = subprocess.run(
            [sys.executable, "-c", f"from {self.package} import settings\nstores = settings.connect()\n{code}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def _seed(model: Path, url: str) -> None:
    seed_model(model, "postgresql", url, 20, timeout=600)


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[App]:
    """keyed_search scaffolded on a scratch PostgreSQL database (its Author rows seeded), Redis key
    prefix, Cassandra keyspace (the plan's schema.cql) and index prefix."""
    from polyplan.stores.cache.connect import connect as redis_connect
    from polyplan.stores.cache.connect import scratch_prefix
    from polyplan.stores.relational.connect import scratch_database

    folder = tmp_path / "app"
    write_scaffold(KEYED, folder)
    cache = redis_connect(resolve_url("redis"))
    with (
        scratch_keyspace(KEYED) as (session, keyspace),
        scratch_index_prefix() as (search, index_prefix),
        scratch_database(resolve_url("postgresql")) as engine,
        scratch_prefix(cache) as key_prefix,
    ):
        url = engine.url.render_as_string(hide_password=False)
        _seed(KEYED, url)
        env = app_env(
            "keyed_search",
            folder,
            DATABASE_URL=url,
            REDIS_URL=resolve_url("redis"),
            KEY_PREFIX=key_prefix,
            SEARCH_URL=resolve_url("opensearch"),
            INDEX_PREFIX=index_prefix,
            CASSANDRA_URL=resolve_url("cassandra"),
            CASSANDRA_KEYSPACE=keyspace,
        )
        yield App("keyed_search", folder, env, {"search": search, "session": session, "keyspace": keyspace})


@pytest.fixture
def catalogue(tmp_path: Path) -> Iterator[App]:
    """catalogue_documents scaffolded on a scratch PostgreSQL database (its Supplier rows seeded),
    document-store database and index prefix."""
    from polyplan.stores.document.connect import scratch_database as scratch_documents
    from polyplan.stores.relational.connect import scratch_database

    folder = tmp_path / "app"
    write_scaffold(DOCUMENTS, folder)
    mongodb_url = resolve_url("mongodb")
    with (
        scratch_index_prefix() as (search, index_prefix),
        scratch_database(resolve_url("postgresql")) as engine,
        scratch_documents(mongodb_url) as db,
    ):
        url = engine.url.render_as_string(hide_password=False)
        _seed(DOCUMENTS, url)
        env = app_env(
            "catalogue_documents",
            folder,
            DATABASE_URL=url,
            MONGODB_URL=database_url(mongodb_url, db.name),
            SEARCH_URL=resolve_url("opensearch"),
            INDEX_PREFIX=index_prefix,
        )
        yield App("catalogue_documents", folder, env, {"search": search, "db": db})


def _load_and_check(app: App, relay: str) -> str:
    """The load for 15 s beside `relay`, the relay drained, then the checker: its output (exit 0)."""
    first = ""
    running = app.start(relay, "--batch", "100")
    try:
        # The relay has installed the indexes and applied the seeded records' events (a running
        # deployment): a search of an index whose shards are still starting answers 503.
        assert running.stdout is not None
        first = running.stdout.readline()
        assert first.startswith("relay: applied"), first
        loaded = app.command("load", "--seconds", "15", "--threads", "4")
    finally:
        running.send_signal(signal.SIGINT)
        relay_output = first + running.communicate(timeout=120)[0]
    print(f"\n{app.package} load:\n{loaded.stdout}{relay} (last line): {relay_output.strip().splitlines()[-1:]}")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "Traceback" not in relay_output, relay_output
    drained = app.command(relay, "--once", "--batch", "200")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    checked = app.command("check")
    print(checked.stdout)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return loaded.stdout + checked.stdout


def _calls(output: str, pattern: str) -> tuple[int, int]:
    """(calls, errors) of one pattern in the load's report."""
    found = re.search(rf"^{pattern} \(\w+, rate [\d.]+\): (\d+) calls, [\d.]+/s, (\d+) errors", output, re.MULTILINE)
    assert found is not None, (pattern, output)
    return int(found.group(1)), int(found.group(2))


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.cassandra
@pytest.mark.opensearch
def test_redis_and_cassandra_records_under_load_are_checked_against_their_indexes(keyed: App) -> None:
    # The records the load starts from, written through the package (with their events).
    keyed.run(
        "import uuid\nfrom keyed_search import keyed_relay, records, wide_column\n"
        "keyed_relay.install_outbox(stores)  # as a deployment would, before the first write\n"
        "for n in range(30):\n"
        "    records.add_note(stores, records.Note(uuid.uuid4(), f'code{n}', f'note {n} about otters', n))\n"
        "    wide_column.add_word(stores, wide_column.Word(uuid.uuid4(), f'term{n}', f'meaning of word {n}', n))\n"
    )
    output = _load_and_check(keyed, "keyed_relay")
    for pattern in ("word_by_term", "note_by_code", "search_words", "add_word", "reword", "add_note"):
        calls, errors = _calls(output, pattern)
        assert calls > 0 and errors == 0, (pattern, output)
    summary = re.search(
        r"^checked (\d+) Note documents, (\d+) Word documents: 0 lost, 0 stale, 0 extra, 0 pending, 0 parked",
        output,
        re.MULTILINE,
    )
    assert summary is not None, output
    notes, words = int(summary.group(1)), int(summary.group(2))
    session, keyspace = keyed.handles["session"], keyed.handles["keyspace"]
    assert words == session.execute(f"SELECT COUNT(*) AS n FROM {keyspace}.word_by_id").one()["n"] >= 30
    assert notes >= 25
    # The checker sees what it claims to: a Cassandra record changed behind the outbox (stale: its
    # write timestamp is newer than its document's version), a document dropped (lost), one of no record (extra).
    rows = list(session.execute(f"SELECT id FROM {keyspace}.word_by_id LIMIT 2"))
    changed, dropped = str(rows[0]["id"]), str(rows[1]["id"])
    session.execute(f"UPDATE {keyspace}.word_by_id SET meaning = 'changed behind' WHERE id = {changed}")
    alias = keyed.env["KEYED_SEARCH_INDEX_PREFIX"] + "word"
    search = keyed.handles["search"]
    search.delete(index=alias, id=dropped, params={"refresh": "true"})
    search.index(index=alias, id="no-such-record", body={}, params={"refresh": "true"})
    mismatched = keyed.command("check")
    assert mismatched.returncode == 1, mismatched.stdout + mismatched.stderr
    lines = [line for line in mismatched.stdout.splitlines() if line.startswith("keyed_search.check: ")]
    assert [line.split(": ")[1] for line in lines] == ["lost", "stale", "extra"], mismatched.stdout
    assert dropped in lines[0] and changed in lines[1] and "no-such-record" in lines[2]


@pytest.mark.postgresql
@pytest.mark.mongodb
@pytest.mark.opensearch
def test_document_store_records_under_load_are_checked_against_their_index(catalogue: App) -> None:
    catalogue.run(
        "import uuid\nfrom catalogue_documents import documents\n"
        "for n in range(30):\n"
        "    documents.add_product(stores, documents.Product(uuid.uuid4(), f'sku{n}', f'lamp number {n}', n))\n"
    )
    output = _load_and_check(catalogue, "doc_relay")
    for pattern in ("product_by_sku", "search_products", "add_product", "restock"):
        calls, errors = _calls(output, pattern)
        assert calls > 0 and errors == 0, (pattern, output)
    summary = re.search(
        r"^checked (\d+) Product documents: 0 lost, 0 stale, 0 extra, 0 pending, 0 parked", output, re.MULTILINE
    )
    assert summary is not None, output
    live = catalogue.handles["db"]["product"].count_documents({"_pp_deleted": {"$exists": False}})
    assert int(summary.group(1)) == live >= 25
    # A document whose record moved on behind the outbox: its version is older than the record's.
    products = catalogue.handles["db"]["product"]
    moved = products.find_one({"_pp_deleted": {"$exists": False}})
    products.update_one({"_id": moved["_id"]}, {"$inc": {"_pp_v": 1}})
    mismatched = catalogue.command("check")
    assert mismatched.returncode == 1 and "catalogue_documents.check: stale: 1" in mismatched.stdout, (
        mismatched.stdout + mismatched.stderr
    )
    assert str(moved["_id"]) in mismatched.stdout

"""`polyplan scaffold` for a document-store entity that a search index projects (issue 15): its
generated write functions carry their outbox events (polyplan/scaffold/doc_outbox.py), its reads skip
tombstones, and the generated `doc_relay` command keeps the index equal to the collection, also when
it is SIGKILLed at random points with a second relay beside it. On the real MongoDB wire-protocol
server of POLYPLAN_MONGODB_URL (FerretDB here: no claim about MongoDB itself) and OpenSearch."""

from __future__ import annotations

import importlib
import random
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.outbox_worker import drain, kill_relays
from tests.scaffold_support import database_url, scaffold_clean, scaffolded, scratch_index_prefix

MODEL = ROOT / "tests" / "models" / "catalogue_documents.yaml"
APP = "catalogue_documents"


def test_the_fed_entity_gets_the_outbox_writes_and_a_relay() -> None:
    files, warnings = scaffold(plan_file(MODEL))
    assert {f"{APP}/doc_relay.py", f"{APP}/doc_outbox_runtime.py"} <= set(files)
    documents = files[f"{APP}/documents.py"]
    assert "insert_record(collection, row.to_document(), where)" in documents
    assert "found = update_record(collection, where, fields)" in documents
    assert "found = delete_record(collection, where)" in documents
    assert '"$and"' in documents and "_pp_deleted" in documents  # reads skip tombstones
    assert "def search_products(" in files[f"{APP}/search.py"]
    assert not [w for w in warnings if "search_products" in w.message or "access_patterns.1" in w.path]
    # The copied runtime is polyplan's, word for word below its header, but for its import of the
    # relays' shared metrics, which points at the package's own copy.
    runtime = (ROOT / "polyplan" / "scaffold" / "doc_outbox_runtime.py").read_text()
    code = runtime.split("from __future__ import annotations\n", 1)[1].lstrip()
    shared = "# In a package, the package's own relay_metrics (copied beside this module).\nfrom polyplan.scaffold."
    assert shared in code
    assert code.replace(shared, f"from {APP}.") in files[f"{APP}/doc_outbox_runtime.py"]
    assert "polyplan" not in files[f"{APP}/doc_outbox_runtime.py"].split('"""', 2)[2].split("\n", 3)[3]


def test_the_package_is_clean_under_mypy_strict_and_ruff(tmp_path: Path) -> None:
    # Its relational entity has no write pattern: writes.py is then imports-free, not `pass` with
    # unused ones (which ruff flagged).
    package = scaffold_clean(MODEL, tmp_path / APP)
    assert "def " not in (package / "writes.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, ModuleType]]]:
    folder = tmp_path_factory.mktemp("scaffold_doc_outbox")
    with scaffolded(MODEL, folder):
        modules = {n: importlib.import_module(f"{APP}.{n}") for n in ("settings", "documents", "search", "doc_relay")}
        yield folder, modules


@pytest.fixture
def stores(app: tuple[Path, dict[str, ModuleType]]) -> Iterator[tuple[Any, dict[str, str]]]:
    """The package's Stores on a scratch database and index prefix, and the environment its
    commands read (the same stores)."""
    from polyplan.stores.document.connect import scratch_database

    _, modules = app
    mongodb_url, search_url = resolve_url("mongodb"), resolve_url("opensearch")
    with scratch_index_prefix() as (client, prefix), scratch_database(mongodb_url) as db:
        made = modules["settings"].Stores(
            sa.create_engine("sqlite://"), documents=db, search=client, index_prefix=prefix
        )
        modules["documents"].install_documents(made)
        modules["search"].install_search(made)
        environment = {
            "CATALOGUE_DOCUMENTS_DATABASE_URL": "sqlite://",
            "CATALOGUE_DOCUMENTS_MONGODB_URL": database_url(mongodb_url, db.name),
            "CATALOGUE_DOCUMENTS_SEARCH_URL": search_url,
            "CATALOGUE_DOCUMENTS_INDEX_PREFIX": prefix,
        }
        yield made, environment


def _compare(stores: Any, alias: str) -> tuple[int, list[str], list[str], list[str]]:
    """(live products, lost, stale, extra): each live document's search document at its version."""
    from polyplan.scaffold.doc_outbox_runtime import DELETED, VERSION

    client = stores.search
    client.indices.refresh(index=stores.index_prefix + alias)
    records = {str(d["_id"]): d for d in stores.documents["product"].find({DELETED: {"$exists": False}})}
    found = client.search(
        index=stores.index_prefix + alias, body={"query": {"match_all": {}}, "size": 10_000, "version": True}
    )
    documents = {hit["_id"]: hit for hit in found["hits"]["hits"]}
    lost = sorted(set(records) - set(documents))
    extra = sorted(set(documents) - set(records))
    stale = sorted(
        key
        for key in set(records) & set(documents)
        if documents[key]["_version"] != records[key][VERSION]
        or documents[key]["_source"]
        != {"id": str(records[key]["_id"]), **{f: records[key].get(f) for f in ("sku", "title", "stock")}}
    )
    return len(records), lost, stale, extra


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_generated_writes_and_relay_keep_the_index_equal(
    app: tuple[Path, dict[str, ModuleType]], stores: tuple[Any, dict[str, str]]
) -> None:
    _, modules = app
    made, _ = stores
    documents, search, relay = modules["documents"], modules["search"], modules["doc_relay"]
    ids = [uuid.UUID(int=n + 1) for n in range(6)]
    for number, key in enumerate(ids):
        documents.add_product(made, documents.Product(key, f"SKU{number}", f"blue lamp number {number}", number))
    assert documents.restock(made, ids[1], 40).stock == 40
    assert documents.drop_product(made, ids[2]).sku == "SKU2"
    assert documents.product_by_sku(made, "SKU2") is None  # its tombstone is skipped
    assert documents.product_by_sku(made, "SKU1").stock == 40
    assert relay.run(made, once=True) == 8
    alias = search.TARGETS["Product"].alias
    assert _compare(made, alias) == (5, [], [], [])
    page = search.search_products(made, "lamp")
    assert page.total == 5 and {hit.sku for hit in page.hits} == {"SKU0", "SKU1", "SKU3", "SKU4", "SKU5"}
    assert made.documents["product"].count_documents({}) == 5  # the tombstone went after its delete


@pytest.mark.mongodb
@pytest.mark.opensearch
def test_generated_relay_killed_at_random_leaves_index_equal_to_the_record(
    app: tuple[Path, dict[str, ModuleType]], stores: tuple[Any, dict[str, str]]
) -> None:
    folder, modules = app
    made, environment = stores
    documents, search = modules["documents"], modules["search"]
    keys = [uuid.UUID(int=n + 1) for n in range(60)]
    stop = threading.Event()
    counts = {"add_product": 0, "restock": 0, "drop_product": 0, "refused": 0}
    lock = threading.Lock()

    def writer(seed: int) -> None:
        local = random.Random(seed)
        while not stop.is_set():
            number = local.randrange(len(keys))
            choice = local.random()
            try:
                if choice < 0.35:
                    row = documents.Product(keys[number], f"SKU{number}", f"lamp {number}", local.randrange(100))
                    documents.add_product(made, row)
                    done = "add_product"
                elif choice < 0.8:
                    done = "restock" if documents.restock(made, keys[number], local.randrange(100)) else "refused"
                else:
                    done = "drop_product" if documents.drop_product(made, keys[number]) else "refused"
            except Exception as error:  # a duplicate key (the product exists): refused, as insert_one refuses
                if "duplicate key" not in str(error).lower() and "E11000" not in str(error):
                    raise
                done = "refused"
            with lock:
                counts[done] += 1

    command = [sys.executable, "-m", f"{APP}.doc_relay", "--batch", "50"]
    env = {**environment, "PYTHONPATH": str(folder)}
    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2, 3)]
    for thread in threads:
        thread.start()
    try:
        kills, after_batch, two_at_once = kill_relays(command, 20, random.Random(15), env)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    last = drain(command, "--once", env)
    from polyplan.scaffold.doc_outbox_runtime import PARKED, outbox_lag

    pending, _ = outbox_lag([made.documents["product"]])
    parked = made.documents["product"].count_documents({f"{PARKED}.0": {"$exists": True}})
    records, lost, stale, extra = _compare(made, search.TARGETS["Product"].alias)
    print(
        f"\ngenerated doc_relay fault run: {kills} SIGKILLs ({after_batch} of 20 after a batch), two relays at "
        f"once for {two_at_once:.1f} s; writes: {counts}; {pending} pending, {parked} parked; index: {records} "
        f"products, {len(lost)} lost, {len(stale)} stale, {len(extra)} extra\n{last}"
    )
    assert kills >= 20 and after_batch >= 15
    assert counts["add_product"] and counts["restock"] and counts["drop_product"]
    assert (pending, parked) == (0, 0)
    assert (lost, stale, extra) == ([], [], [])

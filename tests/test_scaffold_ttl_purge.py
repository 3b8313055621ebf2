"""A record its store expires by itself (a Redis key TTL, a Cassandra table TTL) leaves its search
index too: the plan maps an `expires_at` field and filters every query on it, the scaffold's keyed
relay sets it from each event's write time + the TTL and purges expired documents by query, and the
generated checker does not count an expired document as extra.

The stores test runs tests/models/keyed_search.yaml with 3-second TTLs (the model's own setting,
so the scaffold's generated code is the deployment's) on the real Redis, Cassandra and OpenSearch;
never skipped under POLYPLAN_REQUIRE naming them."""

from __future__ import annotations

import importlib
import json
import math
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold
from polyplan.stores.search.design import design_search
from polyplan.stores.search.render import sync_document
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import keyed_stores, scaffold_clean, scaffolded

KEYED = ROOT / "tests" / "models" / "keyed_search.yaml"
APP = "keyed_expiry"
TTL = 3


def _model(folder: Path, ttl: int = TTL) -> Path:
    """keyed_search as `keyed_expiry`, its Notes (Redis) and Words (Cassandra) kept `ttl` seconds."""
    text = KEYED.read_text()
    text = text.replace("name: keyed_search", f"name: {APP}").replace("ttl_seconds: 86400", f"ttl_seconds: {ttl}")
    text = text.replace(
        "growth: {initial_rows: 10000, rows_per_day: 100}",
        f"growth: {{initial_rows: 10000, rows_per_day: 100, ttl_seconds: {ttl}}}",
    )
    path = folder / f"{APP}.yaml"
    path.write_text(text)
    return path


def test_the_plan_maps_filters_and_purges_the_expiry_of_self_expiring_records() -> None:
    design = design_search(plan_file(KEYED))
    by_entity = {index.entity: index for index in design.indexes}
    note, word = by_entity["Note"], by_entity["Word"]
    # Redis expires a Note 1 d after its last write; keyed_search's Words are kept (no TTL).
    assert (note.expiry_field, note.expiry_seconds) == ("expires_at", 86400)
    assert note.properties["expires_at"]["type"] == "date" and "expires_at" not in note.fields
    assert (word.expiry_field, word.expiry_seconds) == (None, None) and word.properties == word.fields
    (query,) = note.queries
    assert {"range": {"expires_at": {"gt": "now"}}} in query.body["query"]["bool"]["filter"]
    assert "expires_at" not in json.dumps(word.queries[0].body)
    assert [e.name for e in note.events][
        -1
    ] == "expiry purge (TTL in the system of record: delete by query on expires_at)"
    sync = sync_document(design)
    assert "every query in queries.json filters `expires_at > now`" in sync
    assert '{"query": {"range": {"expires_at": {"lte": "now"}}}}' in sync


def test_a_cassandra_table_ttl_gives_the_index_an_expiry_and_the_scaffold_its_purge(tmp_path: Path) -> None:
    plan = plan_file(_model(tmp_path))
    word = next(i for i in design_search(plan).indexes if i.entity == "Word")
    assert (word.expiry_field, word.expiry_seconds) == ("expires_at", TTL)
    files, _ = scaffold(plan)
    relay, search = files[f"{APP}/keyed_relay.py"], files[f"{APP}/search.py"]
    assert "EXPIRY: dict[str, tuple[str, int]] = {'Note': ('expires_at', 3), 'Word': ('expires_at', 3)}" in relay
    assert "bulk, outcome, EXPIRY)" in relay and "bulk, outcome, EXPIRY, 1.0)" in relay
    assert "steps.insert(0, purge)" in relay and "expiry=('expires_at', 3)" in search
    assert "target.expiry)" in files[f"{APP}/check.py"]
    # A model whose fed records never expire renders none of it (autocomplete's, no TTL).
    plain = scaffold(plan_file(ROOT / "tests" / "models" / "autocomplete.yaml"))[0]
    relayed = next(text for name, text in plain.items() if name.endswith("/keyed_relay.py"))
    assert "EXPIRY" not in relayed and "purge" not in relayed


@pytest.mark.opensearch
def test_the_plans_generated_opensearch_tests_pass_with_the_expiry_field(tmp_path: Path) -> None:
    """The plan's own generated tests (mapping, templates, seeded documents, whose expiry instant is
    far ahead) pass on the real OpenSearch for an index with `expires_at`."""
    from polyplan.emit.writer import write_tree
    from polyplan.pipeline import render
    from polyplan.stores.search.testgen import SEEDED_EXPIRY, test_data
    from polyplan.validate.runner import run_validation

    plan = plan_file(_model(tmp_path))
    data = test_data(plan, design_search(plan))
    for alias in ("note", "word"):
        assert "expires_at" in data["indexes"][alias]["fields"]
        assert {d["source"]["expires_at"] for d in data["indexes"][alias]["docs"]} == {SEEDED_EXPIRY}
    files, _ = render(plan)
    write_tree(files, tmp_path / "out")
    assert run_validation(tmp_path / "out", "opensearch", resolve_url("opensearch")) == 0


@pytest.mark.parametrize("engine", ["opensearch", "elasticsearch"])
def test_the_expiring_package_is_clean_under_mypy_strict_and_ruff(tmp_path: Path, engine: str) -> None:
    """The purge calls each engine's client its own way (opensearch-py: `body=`; elasticsearch 8:
    `query=`, the answer's `.body`): both packages type-check."""
    model = _model(tmp_path)
    model.write_text(model.read_text().replace("search: opensearch", f"search: {engine}"))
    package = scaffold_clean(model, tmp_path / engine)
    relay = (package / "keyed_relay.py").read_text()
    call = 'body={"query": query}' if engine == "opensearch" else 'query=query, conflicts="proceed", refresh=True).body'
    assert call in relay, relay


def test_the_expiry_instant_is_the_write_time_plus_the_ttl_floored_to_the_store() -> None:
    from polyplan.scaffold.stream_outbox_runtime import expiry_instant

    written = datetime(2026, 12, 8, 0, 0, 0, 456789, tzinfo=UTC).timestamp()
    assert expiry_instant(written, 60) == "2026-12-08T00:01:00.456Z"  # Redis: to the millisecond
    assert expiry_instant(written, 60, 1.0) == "2026-12-08T00:01:00.000Z"  # Cassandra: the whole second


def test_the_checker_leaves_expired_documents_out() -> None:
    from polyplan.scaffold.e2e_runtime import Findings, compare_records

    now = datetime.now(UTC)
    past, ahead = "2000-01-01T00:00:00.000Z", f"{now.year + 1}-01-01T00:00:00.000Z"
    documents = {"a": (1, {"id": "a", "expires_at": ahead}), "b": (1, {"id": "b", "expires_at": past})}
    records = {"a": (None, {"id": "a"})}
    findings = Findings()
    compare_records(findings, "Note", records, documents, dict, ("expires_at", 60))
    assert (findings.lost, findings.stale, findings.extra) == ([], [], [])
    unaware = Findings()  # without the expiry: the expired document is extra, the live one stale
    compare_records(unaware, "Note", records, documents, dict)
    assert unaware.extra == ["Note b"] and unaware.stale


@pytest.fixture
def expiring(tmp_path: Path) -> Iterator[tuple[dict[str, ModuleType], Any]]:
    """keyed_expiry scaffolded and imported, on a scratch Redis prefix, Cassandra keyspace and index
    prefix: its modules and its Stores."""
    model = _model(tmp_path)
    with scaffolded(model, tmp_path / "app"):
        names = ("settings", "records", "wide_column", "wide_column_runtime", "search", "keyed_relay", "check")
        modules = {n: importlib.import_module(f"{APP}.{n}") for n in names}
        with keyed_stores(model, APP, modules) as (made, _, _, _):
            yield modules, made


def _ids(stores: Any, alias: str) -> set[str]:
    """The ids of every document behind a write alias, expired or not."""
    name = stores.index_prefix + alias
    stores.search.indices.refresh(index=name)
    found = stores.search.search(index=name, body={"query": {"match_all": {}}, "size": 1000})
    return {hit["_id"] for hit in found["hits"]["hits"]}


def _check(modules: dict[str, ModuleType], stores: Any) -> Any:
    """The generated checker's comparison of the Redis and Cassandra records with their indexes."""
    findings = modules["check"].Findings()
    modules["check"].check_stores(stores, findings)
    return findings


@pytest.mark.redis
@pytest.mark.cassandra
@pytest.mark.opensearch
def test_an_expired_record_stops_answering_and_its_document_is_purged(
    expiring: tuple[dict[str, ModuleType], Any],
) -> None:
    modules, made = expiring
    records, wide, search, relay = modules["records"], modules["wide_column"], modules["search"], modules["keyed_relay"]
    old_notes = [records.Note(uuid.UUID(int=n + 1), f"old{n}", f"old otter note {n}", n) for n in range(2)]
    old_words = [wide.Word(uuid.UUID(int=n + 1), f"old{n}", f"an old otter meaning {n}", n) for n in range(2)]
    for note, word in zip(old_notes, old_words, strict=True):
        records.add_note(made, note)
        wide.add_word(made, word)
    written = time.time()
    metrics = relay.Metrics()
    assert relay.run(made, once=True, metrics=metrics, purge_every=3600) == 4
    assert len(_ids(made, "note")) == len(_ids(made, "word")) == 2  # refreshed: searchable
    assert {h.code for h in search.search_notes(made, "otter").hits} == {"old0", "old1"}
    assert {h.term for h in search.search_words(made, "otter").hits} == {"old0", "old1"}
    first = _check(modules, made)
    assert (first.lost, first.stale, first.extra, first.pending) == ([], [], [], 0), first.lines()

    time.sleep(max(0.0, written + TTL + 1.5 - time.time()))  # the old records have expired in their stores
    assert records.note_by_code(made, "old0") is None
    assert _words_left(made) == 0
    fresh_note = records.Note(uuid.UUID(int=9), "fresh", "a fresh otter note", 9)
    fresh_word = wide.Word(uuid.UUID(int=9), "fresh", "a fresh otter meaning", 9)
    records.add_note(made, fresh_note)
    wide.add_word(made, fresh_word)
    # Relayed without a purge: the expired documents are still there, and the search functions skip
    # them already; the checker counts them neither extra nor lost.
    assert relay.run(made, once=True, metrics=metrics, purge_every=math.inf) == 2
    assert _ids(made, "note") == {str(n.id) for n in [*old_notes, fresh_note]}
    assert _ids(made, "word") == {str(w.id) for w in [*old_words, fresh_word]}
    assert {h.code for h in search.search_notes(made, "otter").hits} == {"fresh"}
    assert {h.term for h in search.search_words(made, "otter").hits} == {"fresh"}
    before = _check(modules, made)
    assert (before.lost, before.stale, before.extra) == ([], [], []), before.lines()
    # The purge (the relay's first step) deletes the four expired documents, counted.
    assert relay.run(made, once=True, metrics=metrics) == 0
    assert metrics.purged == 4
    assert 'polyplan_relay_purged_total{relay="r"} 4.0' in metrics.exposition("r")
    assert _ids(made, "note") == {str(fresh_note.id)} and _ids(made, "word") == {str(fresh_word.id)}
    after = _check(modules, made)
    assert (after.lost, after.stale, after.extra, after.pending) == ([], [], [], 0), after.lines()
    assert after.checked["Note documents"] == 1 and after.checked["Word documents"] == 1


def _words_left(stores: Any) -> int:
    session, keyspace = stores.wide_column.session("test"), stores.wide_column.keyspace
    return len(list(session.execute(f"SELECT id FROM {keyspace}.word_by_id")))


def test_the_expiry_instant_keeps_the_write_millisecond_a_float_would_lose() -> None:
    """CI: a Redis entry of millisecond …294656 was indexed as expiring at …294.655 (the floored
    time as a float, …294.655999, truncated by isoformat): the instant is computed in whole
    microseconds, so the document names the stream entry's own millisecond."""
    from polyplan.scaffold.stream_outbox_runtime import expiry_instant

    assert expiry_instant(1796781294656 / 1000, 0) == "2026-12-09T01:54:54.656Z"
    assert expiry_instant(1796788004429 / 1000, 86400) == "2026-12-10T03:46:44.429Z"
    assert expiry_instant(1796781294999999 / 1e6, 0, 1.0) == "2026-12-09T01:54:54.000Z"  # Cassandra: its second

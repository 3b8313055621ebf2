"""`polyplan scaffold` for entities the plan keeps in Cassandra (issue 15): counters' DailyViews (a
counter table read by partition, newest day first, and with a one-sided range) and Video (an update
that rewrites both of its query tables in one LOGGED batch, a counter in its own table), and
marketplace's ItemViews. Every generated function runs against the real Cassandra of
POLYPLAN_CASSANDRA_URL, in a keyspace of the run with the plan's schema.cql applied, and is compared
with what the test wrote; a Cassandra that does not answer gives one line. Never skipped under
POLYPLAN_REQUIRE=cassandra."""

from __future__ import annotations

import importlib
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_file
from polyplan.scaffold import scaffold, write_scaffold
from polyplan.scaffold.design import design_scaffold
from polyplan.stores.wide_column.design import design_wide_column
from polyplan.stores.wide_column.render import schema_cql, writes_document
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import forget, import_scaffold, imported_scaffolds

COUNTERS = ROOT / "scenarios" / "counters.yaml"
MARKETPLACE = ROOT / "scenarios" / "marketplace.yaml"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The counters and marketplace scaffolds, written and imported (their wide_column modules)."""
    root = tmp_path_factory.mktemp("scaffold_wide_column")
    with imported_scaffolds(root, (COUNTERS, MARKETPLACE), "wide_column") as loaded:
        yield loaded


def test_each_pattern_runs_the_planned_statements_or_is_named() -> None:
    plan = plan_file(COUNTERS)
    wide = design_scaffold(plan).wide_column
    assert wide is not None
    assert [r.pattern for r in wide.reads] == ["views_of_article", "views_until", "videos_of_channel", "video_by_id"]
    # The read plan's counter-table read: one SELECT of plays by id per row.
    by_id = next(r for r in wide.reads if r.pattern == "video_by_id")
    assert by_id.counters == ("SELECT plays FROM counters.video_counters WHERE id = :id", ("id",), ("plays",))
    assert [(w.name, w.kind.value) for w in wide.writes] == [
        ("count_daily_view", "increment"),
        ("play", "increment"),
        ("rate_video", "increment"),
        ("retitle", "update"),
    ]
    # The operations are writes.json's own (one source: polyplan.stores.wide_column).
    planned = writes_document(design_wide_column(plan), plan.model)["entities"]
    retitle = next(w for w in wide.writes if w.name == "retitle")
    assert retitle.operation == planned["Video"]["operations"]["retitle"]
    assert len(retitle.operation["statements"]) == 2  # both query tables, one LOGGED batch
    _, warnings = scaffold(plan)
    said = {d.message for d in warnings}
    assert not any("compare-and-set" in m for m in said)  # rate_video's is scaffolded (compare_and_set)
    assert not any("DailyViews" in m for m in said)


def test_a_missing_or_silent_cassandra_is_one_line(packages: dict[str, ModuleType]) -> None:
    wide = packages["counters"]
    settings = importlib.import_module("counters.settings")
    runtime = importlib.import_module("counters.wide_column_runtime")
    with pytest.raises(settings.SettingsError) as missing:
        wide.views_of_article(settings.Stores(sa.create_engine("sqlite://")), "a")
    assert str(missing.value) == "views_of_article needs Cassandra: set COUNTERS_CASSANDRA_URL to its cassandra:// URL"
    silent = runtime.WideColumnStore("cassandra://127.0.0.1:9/datacenter1", "counters")
    with pytest.raises(runtime.WideColumnUnreachable) as unreachable:
        wide.play(settings.Stores(sa.create_engine("sqlite://"), wide_column=silent), uuid.uuid4())
    (line,) = str(unreachable.value).splitlines()
    assert line.startswith("play: Cassandra is not reachable (NoHostAvailable: "), line
    connected = settings.connect(
        {
            "COUNTERS_DATABASE_URL": "sqlite://",
            "COUNTERS_CASSANDRA_URL": "cassandra://h:9042/dc1",
            "COUNTERS_CASSANDRA_KEYSPACE": "blog_eu",
        }
    )
    assert connected.wide_column is not None and connected.wide_column.keyspace == "blog_eu"


@pytest.mark.cassandra
def test_every_wide_column_function_answers_as_written(packages: dict[str, ModuleType]) -> None:
    from polyplan.stores.wide_column.connect import Writer, apply_schema, connect, drop_keyspace, run_keyspace

    url = resolve_url("cassandra")
    cluster, session = connect(url)
    called: dict[str, set[str]] = {name: set() for name in packages}
    rng = random.Random(15)
    try:
        for name, wide in packages.items():
            plan = plan_file(COUNTERS if name == "counters" else MARKETPLACE)
            design = design_wide_column(plan)
            keyspace = run_keyspace()
            apply_schema(session, schema_cql(design, plan.model), keyspace)
            try:
                settings = importlib.import_module(f"{name}.settings")
                runtime = importlib.import_module(f"{name}.wide_column_runtime")
                store = runtime.WideColumnStore(url, design.keyspace, keyspace, session=session)
                stores = settings.Stores(sa.create_engine("sqlite://"), wide_column=store)
                # Daily view counters: added to, then read by partition (newest first) and up to a day.
                count, read, through, key = (
                    ("count_daily_view", "views_of_article", "views_until", "article_slug")
                    if name == "counters"
                    else ("count_view", "views_of_item", None, "item_ref")
                )
                start = date(2026, 1, 1)
                expected: dict[str, dict[date, int]] = {}
                for slug in ("a", "b"):
                    for offset in rng.sample(range(60), 12):
                        day = start + timedelta(days=offset)
                        times = rng.randrange(1, 4)
                        for _ in range(times):
                            getattr(wide, count)(stores, slug, day)
                        expected.setdefault(slug, {})[day] = times
                called[name].add(count)
                for slug, days in expected.items():
                    if through is None:  # marketplace: views_of_item has a one-sided range and a limit 30
                        cutoff = sorted(days)[6]
                        rows = getattr(wide, read)(stores, slug, cutoff)
                        wanted = sorted((d for d in days if d <= cutoff), reverse=True)
                    else:
                        rows = getattr(wide, read)(stores, slug)
                        wanted = sorted(days, reverse=True)
                        cutoff = sorted(days)[8]
                        until = getattr(wide, through)(stores, slug, cutoff)
                        assert [(r.day, r.views) for r in until] == [
                            (d, days[d]) for d in sorted((d for d in days if d <= cutoff), reverse=True)[:7]
                        ]
                        called[name].add(through)
                    assert [(getattr(r, key), r.day, r.views) for r in rows] == [(slug, d, days[d]) for d in wanted]
                called[name].add(read)
                if name != "counters":
                    continue
                # Video: inserted with the validation runtime's Writer (writes.json), then changed by the package.
                writes = writes_document(design, plan.model)
                writer = Writer(session, writes, keyspace)
                videos = [uuid.UUID(int=n + 1) for n in range(3)]
                for number, video in enumerate(videos):
                    record = {"id": video, "title": f"v{number}", "channel": "c1", "rating_sum": 0.0, "plays": 0}
                    writer.run(writes["entities"]["Video"]["operations"]["insert"], record, {})
                changed = wide.retitle(stores, videos[1], "renamed")
                assert changed is not None and (changed.id, changed.title, changed.channel) == (
                    videos[1],
                    "renamed",
                    "c1",
                )
                assert wide.retitle(stores, uuid.uuid4(), "nobody") is None
                called[name].add("retitle")
                titles = {
                    table: session.execute(
                        f"SELECT title FROM {keyspace}.{table} WHERE {where}",
                        [videos[1]] if table == "video_by_id" else ["c1", videos[1]],
                    ).one()["title"]
                    for table, where in (("video_by_id", "id = %s"), ("videos_of_channel", "channel = %s AND id = %s"))
                }
                assert titles == {"video_by_id": "renamed", "videos_of_channel": "renamed"}
                for _ in range(3):
                    wide.play(stores, videos[0])
                called[name].add("play")
                plays = session.execute(f"SELECT plays FROM {keyspace}.video_counters WHERE id = %s", [videos[0]]).one()
                assert plays["plays"] == 3
                # rating_sum is a double, not a counter: compare-and-set, retried while another writer
                # wins. 4 threads × 5 adds of the model's 0.5 at once lose none of them.
                threads = [
                    threading.Thread(target=_rate, args=(wide.rate_video, stores, videos[2], 5)) for _ in range(4)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert wide.rate_video(stores, uuid.uuid4()) is False  # no row: nothing written
                called[name].add("rate_video")
                rating = session.execute(f"SELECT rating_sum FROM {keyspace}.video_by_id WHERE id = %s", [videos[2]])
                assert rating.one()["rating_sum"] == 10.0
                # Reads whose plan is two statements: the rows, then each row's counters by key.
                found = wide.video_by_id(stores, videos[0])
                assert found is not None and (found.title, found.plays) == ("v0", 3)
                found = wide.video_by_id(stores, videos[2])
                assert found is not None and (found.rating_sum, found.plays) == (10.0, 0)  # inserted with 0 plays
                assert wide.video_by_id(stores, uuid.uuid4()) is None
                listed = sorted((r.id, r.title, r.plays) for r in wide.videos_of_channel(stores, "c1"))
                assert listed == [(videos[0], "v0", 3), (videos[1], "renamed", 0), (videos[2], "v2", 0)]
                called[name] |= {"video_by_id", "videos_of_channel"}
            finally:
                drop_keyspace(session, keyspace)
    finally:
        cluster.shutdown()
    for name, module in packages.items():
        assert called[name] == set(module.__all__), name


def test_the_package_names_its_cassandra_settings(tmp_path: Path) -> None:
    write_scaffold(COUNTERS, tmp_path / "out")
    settings = (tmp_path / "out" / "counters" / "settings.py").read_text(encoding="utf-8")
    assert 'CASSANDRA_URL = "COUNTERS_CASSANDRA_URL"' in settings
    assert "cassandra-driver" in (tmp_path / "out" / "requirements.txt").read_text(encoding="utf-8")


def test_a_bucket_walk_answers_as_one_query_over_the_whole_table(tmp_path: Path) -> None:
    """iot's device_window (day buckets between the range's bounds, newest first, limit 2000) and
    social's home_timeline (day buckets from today back to the 30-day retention, limit 50): the rows,
    spread over several buckets, equal one query over all of them, sorted and cut at the limit."""
    from polyplan.stores.wide_column.connect import apply_schema, connect, drop_keyspace, run_keyspace

    url = resolve_url("cassandra")
    cluster, session = connect(url)
    rng = random.Random(15)
    try:
        for model in (ROOT / "scenarios" / "iot.yaml", ROOT / "scenarios" / "social.yaml"):
            plan = plan_file(model)
            design = design_wide_column(plan)
            wide = import_scaffold(model, tmp_path / model.stem, "wide_column")
            name = model.stem
            keyspace = run_keyspace()
            apply_schema(session, schema_cql(design, plan.model), keyspace)
            try:
                settings = importlib.import_module(f"{name}.settings")
                runtime = importlib.import_module(f"{name}.wide_column_runtime")
                store = runtime.WideColumnStore(url, design.keyspace, keyspace, session=session)
                stores = settings.Stores(sa.create_engine("sqlite://"), wide_column=store)
                mine, other = uuid.UUID(int=1), uuid.UUID(int=2)
                if name == "iot":
                    start = datetime(2026, 3, 1, tzinfo=UTC)
                    moments = sorted({start + timedelta(minutes=rng.randrange(6 * 24 * 60)) for _ in range(60)})
                    for device in (mine, other):
                        for moment in moments:
                            wide.ingest_reading(stores, wide.Reading(device, moment, 20.5, 40.0, 3000))
                    low, high = start + timedelta(days=1, hours=5), start + timedelta(days=4, hours=3)
                    wanted = sorted((m for m in moments if low <= m < high), reverse=True)
                    got = wide.device_window(stores, mine, low, high)
                    assert [r.taken_at for r in got] == wanted and {r.device_id for r in got} == {mine}
                    assert len({m.date() for m in wanted}) == 4  # four day buckets walked
                    # The limit stops the walk (the plan's 2000, here 5 through the same runtime).
                    values = {"device_id": mine, "taken_at_from": low, "taken_at_to": high}
                    cql = importlib.import_module(f"{name}.wide_column").READS["device_window"]
                    first = runtime.walk_time_buckets(
                        store, "t", cql, values, "taken_at_day", "day", 5, True, low, high
                    )
                    assert [r["taken_at"].replace(tzinfo=UTC) for r in first] == wanted[:5]
                else:
                    now = datetime.now(UTC).replace(microsecond=0)
                    moments = sorted({now - timedelta(minutes=rng.randrange(1, 5 * 24 * 60)) for _ in range(70)})
                    old = now - timedelta(days=40)  # past the retention: never read
                    for moment in [*moments, old]:
                        wide.fan_out(stores, wide.TimelineEntry(mine, moment, uuid.uuid4(), other))
                    got = wide.home_timeline(stores, mine)
                    assert [r.created_at for r in got] == sorted(moments, reverse=True)[:50]
                    assert wide.home_timeline(stores, other) == []
            finally:
                drop_keyspace(session, keyspace)
    finally:
        cluster.shutdown()
        forget("iot", "social")


def _rate(rate: Any, stores: Any, video: uuid.UUID, times: int) -> None:
    for _ in range(times):
        assert rate(stores, video) is True


GLOSSARY = """\
name: glossary
version: 1
engines: {relational: postgresql}
entities:
  Word:
    placement: {family: wide_column}
    attributes:
      term: {type: string, max_length: 60, unique: true}
      meaning: {type: string, max_length: 400}
    growth: {initial_rows: 1000, rows_per_day: 10}
access_patterns:
  - {name: word_by_term, entity: Word, filters: [{attribute: term}], rate: 20}
write_patterns:
  - {name: add_word, entity: Word, kind: insert, rate: 5}
  - {name: reword, entity: Word, kind: update, attributes: [meaning], rate: 10}
  - {name: drop_word, entity: Word, kind: delete, rate: 1}
"""


def test_an_update_racing_a_delete_finds_no_row_and_resurrects_nothing(tmp_path: Path) -> None:
    """reword reads the row, then drop_word deletes it (and releases its term) before reword's
    `UPDATE word_by_term … IF …` check: under load that race refused the update with an error (CI,
    keyed_search's load). The update reads again and, the record gone, returns None like an UPDATE
    of no row; no table gets the record back. A record whose term row moved is read again too."""
    from polyplan.stores.wide_column.connect import apply_schema, connect, drop_keyspace, run_keyspace

    model = tmp_path / "glossary.yaml"
    model.write_text(GLOSSARY, encoding="utf-8")
    plan = plan_file(model)
    design = design_wide_column(plan)
    reword = writes_document(design, plan.model)["entities"]["Word"]["operations"]["reword"]
    assert reword["before_batch"][0]["cql"].endswith("IF id = :id")  # the term row still this word's
    assert [s["table"] for s in reword["statements"]] == ["word_by_id", "word_by_term"]
    url = resolve_url("cassandra")
    cluster, session = connect(url)
    keyspace = run_keyspace()
    apply_schema(session, schema_cql(design, plan.model), keyspace)
    try:
        wide = import_scaffold(model, tmp_path / "out", "wide_column")
        settings = importlib.import_module("glossary.settings")
        runtime = importlib.import_module("glossary.wide_column_runtime")
        store = runtime.WideColumnStore(url, design.keyspace, keyspace, session=session)
        stores = settings.Stores(sa.create_engine("sqlite://"), wide_column=store)
        gone, kept = uuid.UUID(int=1), uuid.UUID(int=2)
        wide.add_word(stores, wide.Word(gone, "ephemeral", "short-lived"))
        wide.add_word(stores, wide.Word(kept, "lasting", "stays"))
        reads = {"n": 0}
        plain_rows = store.rows

        def racing_rows(who: str, cql: str, values: Any) -> list[dict[str, Any]]:
            found = plain_rows(who, cql, values)
            if who == "reword":
                reads["n"] += 1
                if reads["n"] == 1:  # another writer deletes the record right after reword read it,
                    wide.drop_word(stores, values["id"])  # and a third claims its term for a new word
                    wide.add_word(stores, wide.Word(uuid.UUID(int=9), "ephemeral", "claimed again"))
            return found

        store.rows = racing_rows
        assert wide.reword(stores, gone, "changed") is None
        assert reads["n"] == 2  # read again, and found nothing
        for table in ("word_by_id", "word_by_term"):
            assert (
                list(session.execute(f"SELECT * FROM {keyspace}.{table} WHERE meaning = 'changed' ALLOW FILTERING"))
                == []
            )
        # The check is the claim's owner, not its existence: the new word's term row is left as it was.
        claimed = wide.word_by_term(stores, "ephemeral")
        assert claimed is not None and (claimed.id, claimed.meaning) == (uuid.UUID(int=9), "claimed again")
        store.rows = plain_rows
        changed = wide.reword(stores, kept, "still here")
        assert changed is not None and changed.meaning == "still here"
        found = wide.word_by_term(stores, "lasting")
        assert found is not None and found.meaning == "still here"
        # The delete lands after reword's lightweight transaction, before its batch (CI, keyed_search's
        # load): the batch's timestamp is its read's, so the delete still wins and the record is not
        # brought back without its term row (which made every later reword of it refuse).
        late = uuid.UUID(int=3)
        wide.add_word(stores, wide.Word(late, "late", "first"))
        plain_writing_at = store.writing_at

        def deleted_first(who: str, timestamp: int | None) -> Any:
            if who == "reword":
                wide.drop_word(stores, late)
            return plain_writing_at(who, timestamp)

        store.writing_at = deleted_first
        assert wide.reword(stores, late, "lost") is not None  # it wrote, at its read's timestamp
        store.writing_at = plain_writing_at
        for table in ("word_by_id", "word_by_term"):
            assert (
                list(session.execute(f"SELECT * FROM {keyspace}.{table} WHERE meaning = 'lost' ALLOW FILTERING")) == []
            )
        assert wide.word_by_term(stores, "late") is None
        wide.add_word(stores, wide.Word(late, "late", "again"))
        again = wide.reword(stores, late, "reworded")
        assert again is not None and again.meaning == "reworded"
        # Two rewords racing: the second reads and writes while the first is between its read and its
        # writes. Both tables keep the one that read last: the claim row's changed column is written in
        # the batch at the read's timestamp, as the base row's is, not by the later lightweight transaction.
        nested = {"done": False}

        def raced_rows(who: str, cql: str, values: Any) -> list[dict[str, Any]]:
            found = plain_rows(who, cql, values)
            if who == "reword" and not nested["done"]:
                nested["done"] = True
                assert wide.reword(stores, kept, "read last") is not None
            return found

        store.rows = raced_rows
        assert wide.reword(stores, kept, "read first") is not None
        store.rows = plain_rows
        assert nested["done"]
        meanings = {
            table: session.execute(f"SELECT meaning FROM {keyspace}.{table} WHERE {column} = %s", (value,)).one()
            for table, column, value in (("word_by_id", "id", kept), ("word_by_term", "term", "lasting"))
        }
        assert meanings == {"word_by_id": {"meaning": "read last"}, "word_by_term": {"meaning": "read last"}}
    finally:
        drop_keyspace(session, keyspace)
        cluster.shutdown()
        forget("glossary")


def test_a_table_kept_to_a_typed_constant_holds_the_records_of_that_value() -> None:
    """writes.json keeps a condition's constants as the model wrote them (a date as text): the
    application's record holds a `date`, so `holds` compared a date with text and a scaffolded
    write skipped the table of every such record silently (the seed's side of it: fuzz model 907).
    Each constant is now read in the type of the record's value."""
    from decimal import Decimal

    from polyplan.scaffold.wide_column_runtime import holds

    def member(constant: Any, value: Any) -> bool:
        return holds([{"attribute": "a", "in": [constant]}], {"a": value})

    assert member("2024-09-10", date(2024, 9, 10)) and not member("2024-09-11", date(2024, 9, 10))
    assert member("2024-09-10T12:00:00Z", datetime(2024, 9, 10, 12))  # the driver's naive UTC
    assert member("2024-09-10T14:00:00+02:00", datetime(2024, 9, 10, 12))
    some = uuid.uuid4()
    assert member(str(some).upper(), some) and not member(str(uuid.uuid4()), some)
    assert member(0.8405, Decimal("0.8405")) and member("1.50", Decimal("1.5")) and not member(0.84, Decimal("0.8405"))
    assert member("alpha", "alpha") and not member("2024-09-10", None) and not member("not a date", date(2024, 9, 10))

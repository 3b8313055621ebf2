"""Increment write patterns (issue 12): every store adds atomically, and the generated tests prove it.

Design tests read what the targets emit for `scenarios/counters.yaml` and small models of our
own; the real-store tests run the generated test modules (`polyplan validate`) against the
servers this machine runs, where eight threads each add 25 times to one record at once.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.pipeline import plan_text, render, write_plan
from polyplan.plan.increments import increments_of
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.increments import TIMES, WORKERS, check_counter, hammer
from polyplan.validate.runner import run_validation
from tests.conftest import ROOT, Golden, planned

COUNTERS = ROOT / "scenarios" / "counters.yaml"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    emitted, _ = render(planned(COUNTERS))
    return emitted


# --- the model ----------------------------------------------------------------------------


def test_step_defaults_to_one_and_keeps_its_sign() -> None:
    plan = planned(COUNTERS)
    steps = {i.write: i.step for i in increments_of(plan.model, "Profile")}
    assert steps == {"follow": 1.0, "unfollow": -1.0}


# --- relational: x = x + :delta, never read-modify-write ----------------------------------


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_relational_increment_adds_in_the_statement(files: dict[str, str], engine: str, golden: Golden) -> None:
    text = files[f"relational/{engine}/writes.sql"]
    golden.check(f"counters/relational/{engine}/writes.sql", text)
    assert "SELECT" not in text.upper().split("-- NAME:", 1)[1]
    assert "SET views=(article.views + :views_delta) WHERE article.id = :id" in text
    # A nullable counter counts from 0: NULL + 1 would stay NULL.
    assert "coalesce(article.likes, 0) + :likes_delta" in text


def test_models_without_increments_write_no_writes_sql() -> None:
    emitted, _ = render(planned(ROOT / "scenarios" / "shop.yaml"))
    assert not [path for path in emitted if path.endswith("writes.sql")]


# --- MongoDB: $inc ----------------------------------------------------------------------


def test_mongodb_increment_is_inc_on_the_key(files: dict[str, str]) -> None:
    writes = {w["write"]: w for w in json.loads(files["mongodb/queries.json"])["writes"]}
    assert writes["follow"]["update"] == {"$inc": {"followers": 1}}
    assert writes["unfollow"]["update"] == {"$inc": {"followers": -1}}
    assert writes["follow"]["filter"] == {"_id": {"$param": "id"}}


# --- Redis: HINCRBY in place, or invalidation with PP430 ------------------------------------


def test_redis_keeps_a_cached_counter_as_a_hash_and_adds_in_place(files: dict[str, str]) -> None:
    design = json.loads(files["redis/keys.json"])
    (key,) = [k for k in design["keys"] if k["name"] == "cache.article.article_by_slug"]
    assert key["structure"] == "hash"
    assert "HINCRBY" in key["why_structure"]
    writes = {w["write"]: w for w in design["writes"]}
    (command,) = writes["count_view"]["commands"]
    assert command[0] == "EVAL" and "EXISTS" in command[1] and "'HINCRBY'" in command[1]
    assert command[3:] == ["counters:cache:article:slug:<slug>", "views", "1"]


def test_redis_invalidates_a_decimal_counter_instead_of_drifting(files: dict[str, str]) -> None:
    writes = {w["write"]: w for w in json.loads(files["redis/keys.json"])["writes"]}
    assert writes["like"]["commands"] == [["DEL", "counters:cache:article:slug:<slug>"]]
    _, diagnostics = render(planned(COUNTERS))
    assert any(d.code == "PP430" and "like adds to likes, score" in d.message for d in diagnostics)


HITS = """
name: hits
entities:
  Hit:
    placement: {family: cache}
    attributes:
      path: {type: string, max_length: 100}
      count: {type: integer, bits: 64}
    growth: {initial_rows: 1000, ttl_seconds: 3600}
access_patterns:
  - {name: hit_by_id, entity: Hit, filters: [{attribute: id}], rate: 100}
write_patterns:
  - {name: count_hit, entity: Hit, kind: increment, attributes: [count], step: 2, rate: 500}
"""


def test_redis_record_store_adds_with_hincrby() -> None:
    emitted, diagnostics = render(plan_text(HITS, "hits.yaml"))
    assert not [d for d in diagnostics if d.code == "PP430"]
    writes = {w["write"]: w for w in json.loads(emitted["redis/keys.json"])["writes"]}
    assert writes["count_hit"]["commands"] == [
        ["HINCRBY", "hits:hit:<id>", "count", "2"],
        ["EXPIRE", "hits:hit:<id>", "3600"],  # the TTL counts from the last write
    ]


# --- Cassandra: counter tables ----------------------------------------------------------


def test_cassandra_table_of_only_counters_becomes_a_counter_table(files: dict[str, str]) -> None:
    schema = files["cassandra/schema.cql"]
    block = schema.split("CREATE TABLE IF NOT EXISTS counters.views_of_article", 1)[1].split(";", 1)[0]
    assert "views counter" in block
    assert "default_time_to_live" not in block  # Cassandra refuses a TTL on counter tables
    assert "LeveledCompactionStrategy" in block  # rows added to over and over, not a time series


def test_cassandra_counters_beside_regular_columns_get_a_table_of_their_own(files: dict[str, str]) -> None:
    schema = files["cassandra/schema.cql"]
    own = schema.split("CREATE TABLE IF NOT EXISTS counters.video_counters", 1)[1].split(";", 1)[0]
    assert "plays counter" in own and "PRIMARY KEY (id)" in own
    for table in ("video_by_id", "videos_of_channel"):
        block = schema.split(f"CREATE TABLE IF NOT EXISTS counters.{table} ", 1)[1].split(";", 1)[0]
        assert "plays" not in block
    assert "then read plays from video_counters by id for each row" in files["cassandra/queries.cql"]


def test_cassandra_increment_adds_alone_never_in_a_logged_batch(files: dict[str, str]) -> None:
    writes = json.loads(files["cassandra/writes.json"])["entities"]
    play = writes["Video"]["operations"]["play"]
    assert play["statements"] == [] and play["step"] == 1
    (add,) = play["after_batch"]
    assert add["cql"] == "UPDATE counters.video_counters SET plays = plays + :plays_delta WHERE id = :id"
    # The insert starts the counter row by adding the record's value: counters cannot be inserted.
    insert = writes["Video"]["operations"]["insert"]
    assert [s["table"] for s in insert["statements"]] == ["video_by_id", "videos_of_channel"]
    assert [s["cql"] for s in insert["after_batch"]] == [
        "UPDATE counters.video_counters SET plays = plays + :plays WHERE id = :id"
    ]


def test_cassandra_fractional_counter_is_compare_and_set_with_pp430(files: dict[str, str]) -> None:
    writes = json.loads(files["cassandra/writes.json"])["entities"]
    rate = writes["Video"]["operations"]["rate_video"]
    assert rate["after_batch"] == []
    assert [s["cql"] for s in rate["before_batch"]] == [
        "UPDATE counters.video_by_id SET rating_sum = :rating_sum_new WHERE id = :id IF rating_sum = :rating_sum_old"
    ]
    _, diagnostics = render(planned(COUNTERS))
    assert any(d.code == "PP430" and d.path == "entities.Video.attributes.rating_sum" for d in diagnostics)


# --- search: the projection copies, never adds ----------------------------------------------


def test_search_projection_re_reads_the_record_after_an_increment() -> None:
    emitted, _ = render(
        plan_text(
            textwrap.dedent(
                """
                name: blog
                entities:
                  Post:
                    attributes:
                      title: {type: string, max_length: 200}
                      body: {type: text, avg_length: 2000}
                      views: {type: integer, default: 0}
                    growth: {initial_rows: 2000000, rows_per_day: 5000}
                access_patterns:
                  - {name: search_posts, entity: Post, filters: [{attribute: body, op: fulltext}], rate: 50,
                     consistency: eventual, staleness_seconds: 30}
                write_patterns:
                  - {name: count_view, entity: Post, kind: increment, attributes: [views], rate: 2000}
                """
            ),
            "blog.yaml",
        )
    )
    (sync,) = [text for path, text in emitted.items() if path.endswith("sync.md")]
    assert "`count_view` (increment) → `index`: the relay re-reads the whole record" in sync


# --- real stores ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("counters")
    write_plan(COUNTERS, out)
    return out


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cassandra", marks=pytest.mark.cassandra),
        pytest.param("mongodb", marks=pytest.mark.mongodb),
    ],
)
def test_generated_increment_tests_pass(folder: Path, engine: str) -> None:
    """The generated modules, concurrent increment checks included, pass on each real engine."""
    module = (folder / "tests" / f"test_{engine}.py").read_text(encoding="utf-8")
    assert "def test_increment_is_atomic" in module
    url = None if engine == "sqlite" else resolve_url(engine)
    assert run_validation(folder, engine, url) == 0


@pytest.mark.postgresql
def test_the_check_catches_a_read_modify_write_on_postgresql() -> None:
    """The concurrency check is not vacuous: reading then writing back the value loses adds."""
    with scratch_database(resolve_url("postgresql")) as engine:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL)")
            connection.exec_driver_sql("INSERT INTO c VALUES (1, 0)")

        def read() -> int:
            with engine.connect() as connection:
                return int(connection.execute(sa.text("SELECT n FROM c WHERE id = 1")).scalar_one())

        def read_modify_write() -> None:
            with engine.begin() as connection:
                value = connection.execute(sa.text("SELECT n FROM c WHERE id = 1")).scalar_one()
                connection.execute(sa.text("SELECT pg_sleep(0.001)"))  # the gap a real application has
                connection.execute(sa.text("UPDATE c SET n = :n WHERE id = 1"), {"n": value + 1})

        with pytest.raises(AssertionError, match="went from 0 to"):
            check_counter(read, read_modify_write, 1, "c.n", WORKERS, TIMES)
        engine.dispose()


@pytest.mark.mongodb
def test_ferretdb_loses_concurrent_inc_and_the_probe_says_so() -> None:
    """A finding, not a wish: on FerretDB 1.x concurrent $inc updates are lost (MongoDB counts them all)."""
    from polyplan.stores.document import connect, runtime

    with connect.scratch_database(resolve_url("mongodb")) as db:
        examination = connect.examine(db)
        probe = next(p for p in examination.probes if p.feature == runtime.ATOMIC_INC)
        if examination.server.is_mongodb:
            assert probe.present, probe.detail
            return
        collection = db["inc"]
        collection.insert_one({"_id": 1, "n": 0})

        def add() -> None:
            collection.update_one({"_id": 1}, {"$inc": {"n": 1}})

        hammer(add, WORKERS, TIMES)
        counted = collection.find_one({"_id": 1})["n"]  # type: ignore[index]
        assert probe.present == (counted == WORKERS * TIMES), (probe.detail, counted)


@pytest.mark.redis
def test_generated_redis_tests_prove_hincrby_on_a_record_store(tmp_path: Path) -> None:
    """A record whose system of record is Redis: the generated test adds with HINCRBY from many threads."""
    from tests.test_cache_redis import write_folder

    folder = write_folder(plan_text(HITS, "hits.yaml"), tmp_path / "hits")
    assert "def test_increment_is_atomic" in (folder / "tests" / "test_redis.py").read_text(encoding="utf-8")
    assert run_validation(folder, "redis", resolve_url("redis")) == 0


def test_an_interrupt_while_workers_start_does_not_leave_them_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM arrives (as KeyboardInterrupt) after some workers started: they leave the barrier, the run ends.

    Seen in CI: a terminated generated-test run hung at interpreter exit, a worker still at the barrier.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    submitted = 0
    real_submit = ThreadPoolExecutor.submit

    def submit_then_interrupt(self: ThreadPoolExecutor, *args: object, **kwargs: object) -> object:
        nonlocal submitted
        submitted += 1
        if submitted == 3:
            raise KeyboardInterrupt("signal 15")
        return real_submit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit_then_interrupt)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            hammer(lambda: None, workers=4, times=1)
        except BaseException as exc:  # the interrupt is the expected outcome
            outcome.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive(), "hammer still waits for the workers it started"
    assert submitted == 3 and isinstance(outcome[0], KeyboardInterrupt)

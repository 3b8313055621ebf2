"""Cache read models chosen by rate, staleness and size: the four hot reads that used to get no
cache (a top-100 leaderboard, a home timeline, a hot feature-flag table, a blog front page), the
expert's answer for each, the fan-out decision, PP431 for hot reads left without a cache, and the
generated Redis tests of the new structures run on a real Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyplan.diagnostics import Severity
from polyplan.model.loader import load_text
from polyplan.model.schema import Family
from polyplan.plan.assign import build_plan
from polyplan.plan.ir import Plan, SyncMechanism
from polyplan.stores.cache import Target
from polyplan.stores.cache.design import CacheDesign, Structure, design
from polyplan.stores.cache.readmodels import registry
from polyplan.testkit import resolve_url
from polyplan.validate.runner import EXIT_OK, run_validation
from tests.test_cache_redis import leftover_keys, write_folder

READ_MODELS = """
name: readmodels
entities:
  User:
    attributes:
      handle: {type: string, max_length: 30, unique: true}
    growth: {initial_rows: 100000}
  Player:
    attributes:
      handle: {type: string, max_length: 30, unique: true}
      points: {type: integer, min: 0, max: 1000000}
    growth: {initial_rows: 100000}
  FeedEntry:
    attributes:
      post_ref: {type: string, max_length: 20}
      created_at: {type: timestamptz}
    growth: {rows_per_day: 1000000, retention_days: 30, time_attribute: created_at}
  Post:
    attributes:
      title: {type: string, max_length: 120}
      status: {type: enum, values: [published, hidden], weights: [90, 10]}
      published_at: {type: timestamptz}
    growth: {rows_per_day: 2000}
  Flag:
    key: {attributes: [code], kind: natural}
    attributes:
      code: {type: string, max_length: 24}
      enabled: {type: boolean}
      rollout: {type: integer, min: 0, max: 100}
    growth: {initial_rows: 200}
relationships:
  - {name: user_feed, kind: one_to_many, from: User, to: FeedEntry, owned: true}
access_patterns:
  - {name: top_players, entity: Player, sort: [{attribute: points, direction: desc}], limit: 100, rate: 2000, consistency: eventual, staleness_seconds: 1}
  - {name: home_timeline, entity: FeedEntry, filters: [{attribute: user_id}], sort: [{attribute: created_at, direction: desc}], limit: 50, rate: 5000, consistency: eventual, staleness_seconds: 5}
  - {name: all_flags, entity: Flag, rate: 50000, consistency: eventual, staleness_seconds: 5}
  - {name: front_page, entity: Post, filters: [{attribute: status, value: published}], sort: [{attribute: published_at, direction: desc}], limit: 20, rate: 3000, consistency: eventual, staleness_seconds: 10}
write_patterns:
  - {name: join, entity: Player, kind: insert, rate: 5}
  - {name: score, entity: Player, kind: increment, attributes: [points], rate: 300}
  - {name: fan_out, entity: FeedEntry, kind: insert, rate: 50}
  - {name: publish, entity: Post, kind: insert, rate: 2}
  - {name: take_down, entity: Post, kind: delete, rate: 0.1}
  - {name: toggle, entity: Flag, kind: update, attributes: [enabled, rollout], rate: 0.1}
"""


def read_models_plan(text: str = READ_MODELS) -> Plan:
    return build_plan(load_text(text, "readmodels.yaml"))


def cached(cache: CacheDesign, pattern: str):  # type: ignore[no-untyped-def]
    return next(k for k in cache.keys if pattern in k.serves)


def test_every_read_model_is_registered_once() -> None:
    names = [m.name for m in registry()]
    assert names == ["key_cache", "table_hash", "capped_list", "sorted_set"]


def test_hot_reads_that_are_not_key_lookups_now_get_a_cache() -> None:
    plan = read_models_plan()
    projected = {p for _, projection in plan.projections_in(Family.CACHE) for p in projection.patterns}
    assert projected == {"top_players", "home_timeline", "all_flags", "front_page"}
    assert not [d for d in design(plan).diagnostics if d.code in ("PP431", "PP403")]


def test_leaderboard_is_a_sorted_set_moved_in_place() -> None:
    cache = design(read_models_plan())
    top = cached(cache, "top_players")
    assert top.read_model == "sorted_set" and top.structure is Structure.ZSET
    assert top.template.render() == "readmodels:cache:player:top:all:points_desc"
    assert top.index is not None and top.index.descending and top.index.limit == 100
    read = next(r for r in cache.reads if r.pattern == "top_players")
    assert read.commands[0] == ("ZRANGE", top.template.render(), "0", "99", "REV")
    writes = {w.write: w for w in cache.writes if top.name in w.keys}
    assert "ZINCRBY" in writes["score"].commands[0][1]  # the increment moves the player, no refill
    assert "ZADD" in writes["join"].commands[0][1] and "EXISTS" in writes["join"].commands[0][1]
    assert top.sync is SyncMechanism.WRITE_THROUGH and top.ttl_seconds == 3600


def test_home_timeline_is_a_capped_list_fanned_out_on_write() -> None:
    cache = design(read_models_plan())
    timeline = cached(cache, "home_timeline")
    assert timeline.read_model == "capped_list" and timeline.structure is Structure.LIST
    assert timeline.template.render() == "readmodels:cache:feed_entry:latest:by_user_id:<user_id>"
    assert "fan-out on write" in timeline.structure_reason and "100×" in timeline.structure_reason
    assert "runner-up sorted_set" in timeline.structure_reason
    push = next(w for w in cache.writes if w.write == "fan_out")
    script, _, key, _, last = push.commands[0][1:]
    assert "LPUSH" in script and "LTRIM" in script and key == timeline.template.render() and last == "49"
    read = next(r for r in cache.reads if r.pattern == "home_timeline")
    assert read.commands[0] == ("LRANGE", timeline.template.render(), "0", "49")


def test_timeline_fans_out_on_read_when_writes_outnumber_reads() -> None:
    busy = READ_MODELS.replace(
        "{name: fan_out, entity: FeedEntry, kind: insert, rate: 50}",
        "{name: fan_out, entity: FeedEntry, kind: insert, rate: 50000}",
    )
    cache = design(read_models_plan(busy))
    timeline = cached(cache, "home_timeline")
    assert timeline.read_model == "capped_list"
    assert "fan-out on read" in timeline.structure_reason
    assert timeline.sync is SyncMechanism.CACHE_ASIDE_INVALIDATE and timeline.ttl_seconds == 5
    push = next(w for w in cache.writes if w.write == "fan_out")
    assert push.commands == () and "built on read" in push.steps[0]


def test_hot_flag_table_is_one_hash_bounded_by_staleness() -> None:
    cache = design(read_models_plan())
    flags = cached(cache, "all_flags")
    assert flags.read_model == "table_hash" and flags.structure is Structure.HASH
    assert flags.template.render() == "readmodels:cache:flag:table:all"
    assert flags.ttl_seconds == 5 and flags.memory.keys == 1
    assert flags.memory.encoding == "listpack"
    read = next(r for r in cache.reads if r.pattern == "all_flags")
    assert read.commands[0] == ("HGETALL", flags.template.render())
    toggle = next(w for w in cache.writes if w.write == "toggle")
    assert toggle.commands == (("DEL", flags.template.render()),)
    assert toggle.steps[0].startswith("commit toggle")


def test_a_big_table_read_whole_is_not_put_in_one_hash() -> None:
    big = READ_MODELS.replace("growth: {initial_rows: 200}", "growth: {initial_rows: 2000000}")
    cache = design(read_models_plan(big))
    warning = next(d for d in cache.diagnostics if d.code == "PP431")
    assert "all_flags" in warning.message and "too big to read whole" in warning.message
    assert not [k for k in cache.keys if "all_flags" in k.serves]


def test_front_page_is_a_capped_list_of_published_posts() -> None:
    cache = design(read_models_plan())
    front = cached(cache, "front_page")
    assert front.read_model == "capped_list"
    assert front.template.render() == "readmodels:cache:post:latest:all:status=published"
    assert front.memory.keys == 1
    paths = {w.write: w for w in cache.writes if front.name in w.keys}
    assert paths["take_down"].commands == (("DEL", front.template.render()),)
    assert "runner-up sorted_set" in front.structure_reason


def test_front_page_becomes_a_sorted_set_when_posts_are_republished() -> None:
    edited = READ_MODELS.replace(
        "  - {name: toggle,",
        "  - {name: republish, entity: Post, kind: update, attributes: [published_at], rate: 1}\n  - {name: toggle,",
    )
    front = cached(design(read_models_plan(edited)), "front_page")
    assert front.read_model == "sorted_set"  # a changed time would break the list's insert order


STRONG = """
name: strong
entities:
  Post:
    attributes:
      title: {type: string, max_length: 80}
      score: {type: integer}
      body: {type: text, avg_length: 400}
    growth: {initial_rows: 50000}
access_patterns:
  - {name: best_posts, entity: Post, sort: [{attribute: score, direction: desc}], limit: 10, rate: 3000}
  - {name: posts_in_range, entity: Post, filters: [{attribute: score, op: range}], rate: 900, consistency: eventual, staleness_seconds: 30}
"""


def test_hot_reads_left_without_a_cache_say_why() -> None:
    plan = read_models_plan(STRONG)
    strong = next(d for d in plan.diagnostics if d.code == "PP431")
    assert (
        strong.severity is Severity.WARNING
        and strong.path == "access_patterns.0"
        and "best_posts is hot" in strong.message
    )
    assert "strong consistency" in strong.message and "staleness_seconds" in strong.message
    artifacts = Target().emit(plan)
    unserved = next(d for d in artifacts.diagnostics if d.code == "PP431")
    assert unserved.path == "access_patterns.posts_in_range" and "posts_in_range is hot" in unserved.message
    assert "range filter on score cannot name a key" in unserved.message
    assert "stays on postgresql" in unserved.message


def test_no_cache_engine_is_a_warning_too() -> None:
    plan = read_models_plan(STRONG.replace("name: strong\n", "name: strong\nengines: {cache: null}\n"))
    messages = [d.message for d in plan.diagnostics if d.code == "PP431"]
    assert any(m.startswith("posts_in_range is hot") and "no cache engine" in m for m in messages)


def test_keys_json_names_the_read_model_and_its_members() -> None:
    data = json.loads(Target().emit(read_models_plan()).files["redis/keys.json"])
    families = {k["name"]: k for k in data["keys"]}
    assert families["cache.player.top_players"]["read_model"] == "sorted_set"
    assert families["cache.player.top_players"]["index"]["member"] == "<id>"
    assert families["cache.flag.all_flags"]["index"]["member"] == "<code>"
    assert families["cache.feed_entry.home_timeline"]["structure"] == "list"


@pytest.mark.redis
def test_generated_redis_tests_pass_for_the_read_models(tmp_path: Path) -> None:
    """Sorted set = the oracle's top N in order; capped list stays capped; the hash holds the table."""
    url = resolve_url("redis")
    folder = write_folder(read_models_plan(), tmp_path / "readmodels")
    text = (folder / "tests" / "test_redis.py").read_text(encoding="utf-8")
    assert "test_capped_lists_stay_capped" in text and "test_table_hashes_hold_the_table" in text
    assert run_validation(folder, "redis", url) == EXIT_OK
    assert leftover_keys(url) == []


@pytest.mark.redis
def test_a_list_that_outgrows_its_cap_fails_validation(tmp_path: Path) -> None:
    """The generated checks are real: a push that trims one too few entries fails them."""
    url = resolve_url("redis")
    folder = write_folder(read_models_plan(), tmp_path / "broken")
    keys = folder / "redis" / "keys.json"
    text = keys.read_text(encoding="utf-8")
    assert '"<member>",\n          "19"' in text
    keys.write_text(text.replace('"<member>",\n          "19"', '"<member>",\n          "20"'), encoding="utf-8")
    assert run_validation(folder, "redis", url, trust_edits=True) != EXIT_OK
    assert leftover_keys(url) == []


def test_only_a_key_cache_holds_an_answer_a_reader_can_get_and_set() -> None:
    """The scaffold's cache-aside reads ask the read model, not its name (a new value-shaped read
    model needs no change there)."""
    from polyplan.stores.cache.readmodels import read_model, registry

    assert {model.name: model.answer_is_value for model in registry()} == {
        "key_cache": True,
        "table_hash": False,
        "capped_list": False,
        "sorted_set": False,
    }
    assert read_model("sorted_set").name == "sorted_set"
    with pytest.raises(KeyError, match="no read model called 'nope'"):
        read_model("nope")

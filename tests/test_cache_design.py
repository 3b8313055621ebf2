"""The Redis key design: key templates, structures, hash tags, TTLs, paths, eviction, bad input."""

from __future__ import annotations

import json

import pytest

from polyplan.diagnostics import DiagnosticError, Severity
from polyplan.model.loader import LoadedModel, load_text
from polyplan.model.schema import RequirementsModel
from polyplan.plan.assign import build_plan
from polyplan.plan.ir import Plan, SyncMechanism
from polyplan.stores.cache import Target
from polyplan.stores.cache.design import Role, Structure, design
from tests.conftest import ROOT, planned

# A model that exercises every key kind: records (hash and string), a pointer, indexes with and
# without a hash tag, a constant filter, a range, a write-through projection, and a pattern Redis
# cannot serve.
CACHE_MODEL = """
name: cachetest
entities:
  Player:
    attributes:
      handle: {type: string, max_length: 30, unique: true}
      region: {type: enum, values: [eu, us, apac], weights: [50, 30, 20]}
      "display name": {type: string, max_length: 40}
      level: {type: integer, min: 1, max: 100}
      online: {type: boolean}
      bio: {type: text, nullable: true, avg_length: 120}
    growth: {initial_rows: 1000, ttl_seconds: 3600}
    placement: {family: cache}
  Score:
    attributes:
      points: {type: integer, min: 0, max: 100000}
      scored_at: {type: timestamptz}
      mode: {type: enum, values: [ranked, casual]}
    growth: {rows_per_day: 100000, ttl_seconds: 600}
    placement: {family: cache}
  Account:
    attributes:
      email: {type: string, max_length: 120, unique: true}
      name: {type: string, max_length: 60}
      balance: {type: decimal, precision: 12, scale: 2}
    growth: {initial_rows: 50000}
  Flag:
    key: {attributes: [code], kind: natural}
    attributes:
      code: {type: string, max_length: 12, avg_length: 6}  # short codes: the hash stays a listpack
      enabled: {type: boolean}
      percent: {type: integer, min: 0, max: 100}
    growth: {initial_rows: 200}
relationships:
  - {name: player_scores, kind: one_to_many, from: Player, to: Score, owned: true, max_children: 50}
access_patterns:
  - {name: player_by_id, entity: Player, filters: [{attribute: id}], rate: 100, latency_ms: 5}
  - {name: player_by_handle, entity: Player, filters: [{attribute: handle}], rate: 100, latency_ms: 5}
  - {name: players_in_region, entity: Player, filters: [{attribute: region}], sort: [{attribute: level, direction: desc}], limit: 10}
  - {name: scores_of_player, entity: Score, filters: [{attribute: player_id}], sort: [{attribute: scored_at, direction: desc}], limit: 20}
  - name: ranked_scores_between
    entity: Score
    filters: [{attribute: player_id}, {attribute: mode, value: ranked}, {attribute: scored_at, op: range}]
    sort: [{attribute: scored_at}]
  - {name: account_by_email, entity: Account, filters: [{attribute: email}], rate: 1000, latency_ms: 5, consistency: read_your_writes}
  - {name: scores_by_points, entity: Score, filters: [{attribute: points, op: range}]}
  - {name: flag_by_code, entity: Flag, filters: [{attribute: code}], rate: 5000, latency_ms: 2, consistency: eventual, staleness_seconds: 5}
write_patterns:
  - {name: toggle_flag, entity: Flag, kind: update, attributes: [enabled]}
  - {name: rename, entity: Player, kind: update, attributes: [handle]}
  - {name: level_up, entity: Player, kind: update, attributes: [level]}
  - {name: go_online, entity: Player, kind: update, attributes: [online]}
  - {name: forget_player, entity: Player, kind: delete}
  - {name: record_score, entity: Score, kind: insert}
  - {name: update_account, entity: Account, kind: update, attributes: [name]}
  - {name: open_account, entity: Account, kind: insert}
  - {name: close_account, entity: Account, kind: delete}
"""


def cache_plan() -> Plan:
    return build_plan(load_text(CACHE_MODEL, "cachetest.yaml"))


def test_records_lookups_and_indexes_get_their_keys() -> None:
    cache = design(cache_plan())
    keys = {k.name: k for k in cache.keys}
    assert keys["player"].template.render() == "cachetest:player:<id>"
    assert keys["player"].role is Role.RECORD
    assert keys["player.by_handle"].role is Role.POINTER
    assert keys["player.by_handle"].template.render() == "cachetest:player:handle:<handle>"
    assert (
        keys["player.idx.players_in_region"].template.render() == "cachetest:player:idx:by_region:level_desc:<region>"
    )
    assert keys["player.idx.players_in_region"].structure is Structure.ZSET
    assert keys["score.idx.ranked_scores_between"].template.render() == (
        "cachetest:score:idx:by_player_id:mode=ranked:scored_at_asc:{<player_id>}"
    )
    assert keys["cache.account.account_by_email"].template.render() == "cachetest:cache:account:email:<email>"


def test_structure_follows_access() -> None:
    cache = design(cache_plan())
    player = cache.key("player")
    assert player.structure is Structure.HASH  # rename/level_up update single attributes
    assert "updates handle only" in player.structure_reason
    shop = design(planned(ROOT / "scenarios" / "shop.yaml"))
    cart = shop.key("cart")
    assert cart.structure is Structure.STRING  # 600-byte JSON items: a listpack hash is impossible
    assert "hashtable" in cart.structure_reason


def test_hash_tags_only_where_keys_are_used_together() -> None:
    cache = design(cache_plan())
    score = cache.key("score")
    assert score.template.render() == "cachetest:score:{<player_id>}:<id>"
    assert cache.key("score.idx.scores_of_player").template.tag_attributes == ("player_id",)
    record_score = next(w for w in cache.writes if w.write == "record_score")
    assert record_score.atomic, "record and index keys share the tag, so one MULTI covers them"
    assert cache.key("player").template.tag_attributes == ()
    rename = next(w for w in cache.writes if w.write == "rename")
    assert not rename.atomic and "pipelined" in rename.steps[-1]


def test_ttls_come_from_growth_and_staleness() -> None:
    cache = design(cache_plan())
    assert cache.key("player").ttl_seconds == 3600
    assert cache.key("player.by_handle").ttl_seconds == 3600
    assert cache.key("score.idx.scores_of_player").ttl_seconds == 600
    account = cache.key("cache.account.account_by_email")
    assert account.sync is SyncMechanism.WRITE_THROUGH and account.ttl_seconds == 3600
    shop = design(planned(ROOT / "scenarios" / "shop.yaml"))
    product = shop.key("cache.product.product_by_sku")
    assert product.sync is SyncMechanism.CACHE_ASIDE_INVALIDATE
    assert product.ttl_seconds == 60  # product_by_sku tolerates 60 s


def test_small_cached_answers_are_listpack_hashes() -> None:
    flag = design(cache_plan()).key("cache.flag.flag_by_code")
    assert flag.template.render() == "cachetest:cache:flag:<code>"
    assert flag.structure is Structure.HASH and flag.memory.encoding == "listpack"
    assert flag.ttl_seconds == 5 and flag.sync is SyncMechanism.CACHE_ASIDE_INVALIDATE
    read = next(r for r in design(cache_plan()).reads if r.pattern == "flag_by_code")
    assert read.commands == (
        ("HGETALL", "cachetest:cache:flag:<code>"),
        ("HSET", "cachetest:cache:flag:<code>", "<fields…>"),
        ("EXPIRE", "cachetest:cache:flag:<code>", "5"),
    )


def test_invalidation_runs_after_the_commit() -> None:
    shop = design(planned(ROOT / "scenarios" / "shop.yaml"))
    update = next(w for w in shop.writes if w.write == "update_stock")
    assert update.commands == (("DEL", "shop:cache:product:sku:<sku>"),)
    assert update.steps[0].startswith("commit update_stock in postgresql first")
    assert "never before" in update.steps[1]
    cache = design(cache_plan())
    paths = {w.write: w for w in cache.writes}
    assert paths["update_account"].commands[0][0] == "SET"  # write-through
    assert paths["close_account"].commands == (("DEL", "cachetest:cache:account:email:<email>"),)
    assert paths["open_account"].commands[0][0] == "SET"


def test_unservable_pattern_is_a_warning_not_a_key() -> None:
    cache = design(cache_plan())
    warnings = [d for d in cache.diagnostics if d.code == "PP403"]
    assert len(warnings) == 1 and "scores_by_points" in warnings[0].message
    assert warnings[0].severity is Severity.WARNING
    assert not any("scores_by_points" in k.serves for k in cache.keys)


def test_eviction_separates_state_from_cache() -> None:
    shop = design(planned(ROOT / "scenarios" / "shop.yaml"))
    policies = {i.name: i.policy for i in shop.instances}
    assert policies == {"state": "noeviction", "cache": "allkeys-lru"}
    assert shop.shared_policy == "noeviction"
    iot = design(planned(ROOT / "scenarios" / "iot.yaml"))
    assert [i.policy for i in iot.instances] == ["noeviction"]


def test_memory_totals_add_up() -> None:
    shop = design(planned(ROOT / "scenarios" / "shop.yaml"))
    assert shop.total_bytes == pytest.approx(sum(k.memory.total_bytes for k in shop.keys))
    cart = shop.key("cart")
    assert cart.memory.keys == pytest.approx(300000)  # a day of carts, then they expire
    assert cart.memory.total_per_key == cart.memory.usage_bytes + 8 + 32
    product = shop.key("cache.product.product_by_sku")
    assert product.memory.keys == pytest.approx(2500 * 60)  # at most rate × TTL distinct keys


def test_keys_json_is_deterministic_and_complete() -> None:
    first = Target().emit(cache_plan())
    second = Target().emit(cache_plan())
    assert first.files == second.files and first.tests == second.tests
    data = json.loads(first.files["redis/keys.json"])
    assert {k["name"] for k in data["keys"]} >= {"player", "score", "cache.account.account_by_email"}
    assert data["eviction"]["single_instance_policy"] == "noeviction"
    assert abs(data["memory"]["total_bytes"] - sum(k["memory"]["total_bytes"] for k in data["keys"])) <= len(
        data["keys"]
    )
    assert first.summary["total_bytes"] == data["memory"]["total_bytes"]
    assert set(first.tests) == {"data/redis_records.json", "test_redis.py"}


def _unchecked_plan(text: str) -> Plan:
    """A plan built without the loader's cross-checks (as another front end might produce)."""
    import yaml

    model = RequirementsModel.model_validate(yaml.safe_load(text))
    return build_plan(LoadedModel(model, "inline.yaml", {}))


NO_TTL = """
name: nottl
entities:
  Board:
    attributes:
      title: {type: string, max_length: 40}
    growth: {initial_rows: 100}
    placement: {family: cache}
access_patterns:
  - {name: board_by_id, entity: Board, filters: [{attribute: id}]}
"""


def test_cache_entity_without_ttl_is_rejected_by_the_loader() -> None:
    with pytest.raises(DiagnosticError) as raised:
        load_text(NO_TTL, "nottl.yaml")
    assert [d.code for d in raised.value.diagnostics] == ["PP310"]
    assert "needs growth.ttl_seconds" in raised.value.diagnostics[0].render()


def test_cache_entity_without_ttl_gets_a_stated_design_change() -> None:
    artifacts = Target().emit(_unchecked_plan(NO_TTL))
    warning = next(d for d in artifacts.diagnostics if d.code == "PP310")
    assert warning.severity is Severity.WARNING
    assert "without a TTL" in warning.message and "noeviction" in warning.message
    data = json.loads(artifacts.files["redis/keys.json"])
    assert data["keys"][0]["ttl_seconds"] is None
    assert data["eviction"]["instances"][0]["maxmemory_policy"] == "noeviction"


NO_WRITES = """
name: nowrites
engines: {search: null}
entities:
  Item:
    attributes:
      code: {type: string, max_length: 20, unique: true}
    growth: {initial_rows: 1000}
access_patterns:
  - {name: item_by_code, entity: Item, filters: [{attribute: code}], rate: 900, consistency: eventual, staleness_seconds: 20}
"""


def test_projection_without_writes_warns_that_only_the_ttl_bounds_staleness() -> None:
    artifacts = Target().emit(build_plan(load_text(NO_WRITES, "nowrites.yaml")))
    warning = next(d for d in artifacts.diagnostics if d.code == "PP310")
    assert "no write pattern" in warning.message and "20 s TTL" in warning.message

"""The sizing models against the real engines, at a CI scale (bench/capacity.py's checks).

SQLite (a temp file) at 20,000 rows: parts of ≥ 1 MiB within ±15 % of dbstat. MongoDB documents:
the design's average within ±10 % of bson.encode of the generated test's documents (no server).
Redis: every key family of the bundled scenarios' cache designs, 1,500 records per entity stored
as the generated tests store them, per-key MEMORY USAGE and used_memory growth within ±15 %.

The shop scenario's relational entities are seeded with 20,000 rows each into a throw-away
database on PostgreSQL and on MariaDB, and the estimate for the rows loaded is compared with the
engine's own sizes, per table and per index. At this scale a small index is a few dozen pages and
InnoDB rounds segments to 1 MiB extents, so the bounds are looser than the bench's goal (±15 %
PostgreSQL, ±25 % InnoDB at 100,000 rows): every part measured at ≥ 1 MiB within ±40 % on
PostgreSQL and ±50 % on InnoDB, and each engine's total within ±20 %.

Cassandra: the iot readings (5,000 rows) written to the design's table, flushed, and the SSTable
model's Data.db (uncompressed) and index files within ±25 % of the files on disk, Data.db as
stored within the stated LZ4 range. OpenSearch: the social posts (5,000 documents) in a
one-shard index with the design's mapping, force-merged: the Lucene model within ±25 % of
`_stats/store`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from polyplan.seed.lengths import expected_chars
from polyplan.testkit import resolve_url, unavailable

ROOT = Path(__file__).resolve().parent.parent
ROWS = 20_000
PART_BOUND = {"postgresql": 0.40, "mysql": 0.50}
TOTAL_BOUND = 0.20
URL_VARIABLE = {"postgresql": "POLYPLAN_POSTGRES_URL", "mysql": "POLYPLAN_MYSQL_URL"}


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_capacity", ROOT / "bench" / "capacity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


REDIS_RECORDS = 1_500
REDIS_BOUND = 0.15
REDIS_DB = 12  # not the bench's: both may run at once


@pytest.mark.redis
@pytest.mark.parametrize("scenario", ["shop", "social", "iot", "counters"])
def test_redis_estimate_holds_per_key_family(scenario: str) -> None:
    """keys.json's per-key figure within ±15 % of MEMORY USAGE, and keys × per-key total within ±15 %
    of the used_memory the family's keys took, for every key family of the scenario's cache design."""
    families = _bench().run_redis(scenario, REDIS_RECORDS, resolve_url("redis"), REDIS_DB)
    assert families, f"{scenario}: no key family measured"
    for family in families:
        assert family.keys >= 10, (family.family, family.keys)
        assert family.encoding == family.measured_encoding, (family.family, family.encoding, family.measured_encoding)
        assert abs(family.ratio - 1) <= REDIS_BOUND, (family.family, family.estimate, family.measured)
        assert abs(family.total_ratio - 1) <= REDIS_BOUND, (family.family, family.estimate_total, family.measured_total)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_estimate_holds_on_the_engine(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VARIABLE[engine], resolve_url(engine))  # skips through the shared helper
    ratios = _bench().run_scenario("shop", [engine], ROWS, 2**20)
    judged = [r for r in ratios if r.judged]
    assert len(judged) >= 8, [r.part for r in ratios]
    missed = [(r.table, r.part, round(r.ratio, 2)) for r in judged if abs(r.ratio - 1) > PART_BOUND[engine]]
    assert not missed, missed
    total = sum(r.estimate for r in ratios) / sum(r.measured for r in ratios)
    assert abs(total - 1) <= TOTAL_BOUND, total


@pytest.mark.parametrize("scenario", ["saas", "iot"])
def test_sqlite_estimate_holds(scenario: str) -> None:
    """SQLite (a temp file, no server): every part of ≥ 1 MiB within ±15 % of dbstat at 20,000 rows."""
    ratios = _bench().run_scenario(scenario, ["sqlite"], ROWS, 2**20)
    judged = [r for r in ratios if r.judged]
    assert len(judged) >= 3, [r.part for r in ratios]
    missed = [(r.table, r.part, round(r.ratio, 2)) for r in judged if abs(r.ratio - 1) > 0.15]
    assert not missed, missed
    total = sum(r.estimate for r in ratios) / sum(r.measured for r in ratios)
    assert abs(total - 1) <= 0.10, total


@pytest.mark.parametrize("scenario", ["saas", "counters"])
def test_document_estimate_matches_bson(scenario: str) -> None:
    """The document design's average bytes within ±10 % of bson.encode of the generated test's documents."""
    ratios = _bench().run_bson(scenario, 500)
    assert ratios, f"{scenario}: no collection"
    for ratio in ratios:
        assert abs(ratio.ratio - 1) <= 0.10, (ratio.collection, ratio.estimate, ratio.measured)


def test_json_seed_honours_avg_length() -> None:
    """The seeder's JSON values are as long as the model's avg_length the estimate assumes."""
    import json
    import random
    import statistics

    from polyplan.model.schema import Attribute
    from polyplan.seed.values import random_maker

    for average in (200, 600, 2500):
        attribute = Attribute.model_validate({"type": "json", "avg_length": average})
        make = random_maker(attribute, random.Random(0), "x")
        drawn = statistics.fmean(len(json.dumps(make())) for _ in range(300))
        assert abs(drawn / expected_chars(attribute) - 1) < 0.1, (average, drawn)


def test_realistic_lengths_match_the_seeder() -> None:
    """REALISTIC_CHARS are the mean lengths of the values the seeder draws for each kind."""
    import random
    import statistics

    from polyplan.seed import realistic
    from polyplan.seed.lengths import REALISTIC_CHARS

    rng = random.Random(1)
    for kind, expected in REALISTIC_CHARS.items():
        make = realistic.maker(kind, rng, 255)
        assert make is not None
        drawn = statistics.fmean(len(make()) for _ in range(3000))
        assert abs(drawn / expected - 1) < 0.05, (kind, drawn)


def test_store_estimates_follow_the_designs() -> None:
    """The capacity plan's per-store functions agree with the designs' own figures at the horizon."""
    from polyplan.pipeline import plan_file
    from polyplan.stores.cache.capacity import estimate_store_bytes as cache_bytes
    from polyplan.stores.cache.design import design as cache_design
    from polyplan.stores.document.capacity import estimate_store_bytes as document_bytes
    from polyplan.stores.document.design import design as document_design

    shop = plan_file(ROOT / "scenarios" / "shop.yaml")
    horizon = shop.model.options.horizon_years * 365.0
    assert cache_bytes(shop, horizon) == pytest.approx(cache_design(shop).total_bytes)
    assert 0 < cache_bytes(shop, 0.0) < cache_bytes(shop, horizon)
    counters = plan_file(ROOT / "scenarios" / "counters.yaml")
    collections = document_design(counters).collections
    documents = sum(c.avg_document_bytes * c.documents_at_horizon for c in collections)
    at_horizon = document_bytes(counters, counters.model.options.horizon_years * 365.0)
    assert documents < at_horizon < 1.6 * documents  # documents plus their index entries


CASSANDRA_RECORDS = 5_000


@pytest.mark.cassandra
def test_cassandra_sstable_model_holds() -> None:
    """The SSTable model against the files a flush writes (the server's data directory must be
    readable here: POLYPLAN_CASSANDRA_DATA, else the bench's default)."""
    from polyplan.analyse.capabilities import load_capabilities
    from polyplan.stores.wide_column.sizing import compression_range

    url = resolve_url("cassandra")
    bench = _bench()
    if not bench.CASSANDRA_DATA.is_dir():
        unavailable("cassandra", f"{bench.CASSANDRA_DATA}: the server's data directory is not readable here")
    parts = bench.run_cassandra("iot", CASSANDRA_RECORDS, url, 0.0)
    by_part = {r.part: r for r in parts}
    assert set(by_part) == {"data (uncompressed)", "index files", "data (stored, LZ4)"}, by_part
    for part in ("data (uncompressed)", "index files"):
        assert abs(by_part[part].ratio - 1) <= 0.25, (part, by_part[part].estimate, by_part[part].measured)
    stored = by_part["data (stored, LZ4)"].measured / by_part["data (uncompressed)"].measured
    low, high = compression_range(load_capabilities()["cassandra"].sizing)
    assert low <= stored <= high, stored


@pytest.mark.opensearch
def test_opensearch_lucene_model_holds() -> None:
    """The Lucene model against `_stats/store` of a force-merged one-shard index."""
    parts = _bench().run_opensearch("social", CASSANDRA_RECORDS, resolve_url("opensearch"), 0.0)
    store = [r for r in parts if r.part == "store"]
    assert store, [r.part for r in parts]
    for ratio in store:
        assert ratio.rows >= CASSANDRA_RECORDS // 2, ratio.rows
        assert abs(ratio.ratio - 1) <= 0.25, (ratio.table, ratio.estimate, ratio.measured)

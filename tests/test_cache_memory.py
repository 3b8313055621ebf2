"""The Redis memory formulas: allocator classes, encodings, and agreement with MEMORY USAGE."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from polyplan.stores.cache import connect, memory
from polyplan.testkit import resolve_url


@pytest.mark.parametrize(
    ("request_bytes", "size_class"),
    [
        (1, 8),
        (8, 8),
        (9, 16),
        (17, 32),
        (33, 48),
        (64, 64),
        (65, 80),
        (104, 112),
        (129, 160),
        (257, 320),
        (2006, 2048),
        (5006, 5120),
        (9000, 10240),
    ],
)
def test_jemalloc_size_classes(request_bytes: int, size_class: int) -> None:
    assert memory.jemalloc_size(request_bytes) == size_class


def test_sds_headers_grow_with_length() -> None:
    assert memory.sds_alloc(8) == 16  # 1 + 8 + 1 → 16
    assert memory.sds_alloc(37) == 48  # 3 + 37 + 1 → 48
    assert memory.sds_alloc(2000) == 2048  # 5 + 2000 + 1 → 2048


# MEMORY USAGE figures read from a Redis 7.0 (jemalloc 5.3) with `SET ppcal:sNNN x…` and friends.
@pytest.mark.parametrize(
    ("key", "value", "usage"),
    [(8, 1, 72), (9, 20, 88), (9, 44, 104), (9, 45, 120), (10, 100, 168), (10, 2000, 2104), (10, 5000, 5176)],
)
def test_string_formula_matches_measurements(key: int, value: int, usage: int) -> None:
    assert memory.bundled().string_key(key, value).usage_bytes == usage


def test_integer_strings_are_bare_objects() -> None:
    assert memory.string_key_of(7, "12345") == memory.Estimate(56, "int")
    assert memory.string_key_of(7, "012345").encoding == "embstr"


def test_hash_formula_matches_measurements() -> None:
    small = memory.hash_key_of(8, [(f"f{i}", "v" * 10) for i in range(5)])
    assert small == memory.Estimate(152, "listpack")
    large = memory.hash_key_of(8, [(f"f{i}", "v" * 100) for i in range(4)])
    assert large == memory.Estimate(720, "hashtable")


def test_zset_formula_matches_measurements() -> None:
    members = [(f"{i:032x}", float(1_700_000_000_000 + i)) for i in range(128)]
    assert memory.zset_key_of(10, members) == memory.Estimate(6200, "listpack")
    assert memory.zset_key_of(9, members[:1]) == memory.Estimate(120, "listpack")


def test_listpack_stores_integers_compactly() -> None:
    assert memory.listpack_entry_bytes("7") == 2
    assert memory.listpack_entry_bytes("1700000000000") == 10
    assert memory.listpack_entry_bytes("abc") == 5
    assert memory.integer_like("-12") and not memory.integer_like("-0") and not memory.integer_like("1.5")


def test_totals_add_keyspace_and_expiry_overhead() -> None:
    assert memory.bundled().total_per_key(100, has_ttl=False) == 108
    assert memory.bundled().total_per_key(100, has_ttl=True) == 140


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    server = connect.connect(resolve_url("redis"))
    yield server
    server.close()


@pytest.mark.redis
def test_formulas_agree_with_a_real_redis(client: redis.Redis) -> None:
    """Every structure and encoding the design uses, across sizes, within 10 % of MEMORY USAGE."""
    with connect.scratch_prefix(client) as prefix:
        checks: list[tuple[str, memory.Estimate]] = []
        for length in (1, 30, 44, 45, 63, 200, 700, 3000):
            key = f"{prefix}s{length}"
            value = "x" * length
            client.set(key, value)
            checks.append((key, memory.string_key_of(len(key), value)))
        for fields, width in ((3, 10), (20, 60), (6, 65), (40, 300)):
            key = f"{prefix}h{fields}x{width}"
            pairs = [
                (f"field_{i}", str(uuid.UUID(int=i))[:width] if width <= 36 else "w" * width) for i in range(fields)
            ]
            client.hset(key, mapping=dict(pairs))
            checks.append((key, memory.hash_key_of(len(key), pairs)))
        for members in (1, 50, 128, 129, 400):
            key = f"{prefix}z{members}"
            entries = [(str(uuid.UUID(int=i)), float(1_700_000_000_000 + 7 * i)) for i in range(members)]
            client.zadd(key, dict(entries))
            checks.append((key, memory.zset_key_of(len(key), entries)))
        for key, estimate in checks:
            usage = int(client.memory_usage(key, samples=0) or 0)
            encoding = client.object("encoding", key)
            assert encoding is not None and estimate.encoding == encoding.decode(), key
            assert abs(estimate.usage_bytes - usage) <= 0.10 * usage, f"{key}: {estimate} vs {usage}"
    assert not list(client.scan_iter(match=prefix + "*"))

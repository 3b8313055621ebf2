"""`polyplan scaffold` for entities the plan keeps in Redis as their system of record (issue 15):
marketplace's capped ticker (hash records and a sorted-set index, pipelined), iot's device states
and social's sessions (hashes with a TTL, MULTI/EXEC) and shop's carts (a JSON string with a TTL).
Every generated function runs against the real Redis of POLYPLAN_REDIS_URL under a scratch key
prefix and is compared with the records the test wrote; a Redis that does not answer gives one
line. Never skipped under POLYPLAN_REQUIRE=redis."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from polyplan.model.schema import Attribute
from polyplan.scaffold.cache_record_runtime import json_of, score_of, text_of
from polyplan.stores.cache import codec
from polyplan.stores.cache.connect import connect as redis_connect
from polyplan.stores.cache.connect import scratch_prefix
from polyplan.testkit import resolve_url
from tests.conftest import ROOT
from tests.scaffold_support import imported_scaffolds

MODELS = ("marketplace", "iot", "social", "shop")


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The four scaffolds, written and imported (their records modules)."""
    root = tmp_path_factory.mktemp("scaffold_records")
    with imported_scaffolds(root, [ROOT / "scenarios" / f"{name}.yaml" for name in MODELS], "records") as loaded:
        yield loaded


def test_values_are_stored_as_the_redis_codec_stores_them() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    cases: list[tuple[str, Any]] = [
        ("uuid", uuid.UUID(int=7)),
        ("decimal", Decimal("12.50")),
        ("timestamptz", moment),
        ("date", date(2026, 3, 4)),
        ("float", 2.5),
        ("integer", 3),
        ("boolean", True),
        ("json", {"a": [1, 2]}),
        ("string", "a:b"),
    ]
    for kind, value in cases:
        attribute = Attribute.model_validate({"type": kind})
        assert text_of(kind, value) == codec.field_text(attribute, value), kind
        assert json_of(kind, value) == codec.json_value(attribute, value), kind
        if kind in ("decimal", "timestamptz", "date", "float", "integer", "boolean"):
            assert score_of(kind, value) == codec.score_of(attribute, value), kind


def _value(kind: str, number: int) -> Any:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "uuid": uuid.UUID(int=number + 1),
        "string": f"s{number:03d}",
        "timestamptz": start + timedelta(seconds=number, milliseconds=number % 1000),
        "integer": number,
        "float": number + 0.5,
        "boolean": number % 2 == 0,
        "json": {"n": number, "tags": ["x"] * (number % 3)},
    }
    return values[kind]


def _row(cls: Any, number: int) -> Any:
    return cls(**{field: _value(cls.KINDS[name], number) for name, field in cls.FIELDS.items()})


def test_a_missing_or_silent_redis_is_one_line(packages: dict[str, ModuleType]) -> None:
    records = packages["iot"]
    settings = importlib.import_module("iot.settings")
    runtime = importlib.import_module("iot.runtime")
    with pytest.raises(settings.SettingsError) as missing:
        records.latest_state(settings.Stores(sa.create_engine("sqlite://")), uuid.uuid4())
    assert str(missing.value) == "latest_state needs Redis: set IOT_REDIS_URL to its URL"
    silent = redis.Redis(port=9, socket_connect_timeout=0.3)
    with pytest.raises(runtime.StoreUnreachable) as unreachable:
        records.latest_state(settings.Stores(sa.create_engine("sqlite://"), silent), uuid.uuid4())
    (line,) = str(unreachable.value).splitlines()
    assert line.startswith("latest_state: Redis is not reachable (ConnectionError: "), line


@pytest.mark.redis
def test_every_record_function_answers_as_written(packages: dict[str, ModuleType]) -> None:
    client = redis_connect(resolve_url("redis"))
    called: dict[str, set[str]] = {name: set() for name in packages}
    with scratch_prefix(client) as prefix:
        for name, records in packages.items():
            settings = importlib.import_module(f"{name}.settings")
            stores = settings.Stores(sa.create_engine("sqlite://"), client, prefix)
            if name == "marketplace":
                rows = [_row(records.Activity, n) for n in range(60)]
                for row in rows:
                    assert records.post_activity(stores, row) == row
                called[name].add("post_activity")
                newest = sorted(rows, key=lambda r: r.at, reverse=True)
                assert records.ticker(stores) == newest[:50]  # the plan's limit, newest first
                stored = client.hgetall(f"{prefix}marketplace:activity:{newest[0].id}")
                assert stored[b"message"].decode() == newest[0].message
                assert client.ttl(f"{prefix}marketplace:activity:{newest[0].id}") == -1  # bounded by the cap, no TTL
                # A record gone (expired, deleted) is dropped from the answer and from the index (the
                # read does not refill past the plan's range), so the next read has 50 again.
                client.delete(f"{prefix}marketplace:activity:{newest[1].id}")
                assert records.ticker(stores) == [newest[0], *newest[2:50]]
                assert records.ticker(stores) == [newest[0], *newest[2:51]]
                assert client.zcard(f"{prefix}marketplace:activity:idx:all:at_desc") == 59
                called[name].add("ticker")
                # The plan's cap (the newest 1,000 by at, PP475): each insert trims the records past it.
                for number in range(60, 1010):
                    records.post_activity(stores, _row(records.Activity, number))
                assert client.zcard(f"{prefix}marketplace:activity:idx:all:at_desc") == 1000  # 59 + 950 - 9
                gone = [client.exists(f"{prefix}marketplace:activity:{uuid.UUID(int=n + 1)}") for n in range(10)]
                assert gone == [0] * 9 + [1]
                continue
            write, read, ttl = {
                "iot": ("update_state", "latest_state", 900),
                "social": ("sign_in", "session_by_token", 1209600),
                "shop": ("touch_cart", "cart_by_session", 86400),
            }[name]
            read_function = getattr(records, read)
            cls = next(getattr(records, c) for c in ("DeviceState", "Session", "Cart") if hasattr(records, c))
            rows = [_row(cls, n) for n in range(5)]
            for row in rows:
                assert getattr(records, write)(stores, row) == row
            if name == "iot":  # an upsert: the same key again replaces the record
                rows[0] = _row(cls, 7).__class__(**{**_row(cls, 7).__dict__, "device_id": rows[0].device_id})
                records.update_state(stores, rows[0])
            called[name].add(write)
            parameters = read_function.__code__.co_varnames[1 : read_function.__code__.co_argcount]
            for row in rows:
                assert read_function(stores, *(getattr(row, p) for p in parameters)) == row
            missing = {p: _value(cls.KINDS[next(c for c, f in cls.FIELDS.items() if f == p)], 999) for p in parameters}
            assert read_function(stores, **missing) is None
            called[name].add(read)
            keys = [k for k in client.scan_iter(match=f"{prefix}{name}:*")]
            assert keys and all(0 < client.ttl(k) <= ttl for k in keys), name
    for name, module in packages.items():
        assert called[name] == set(module.__all__), name

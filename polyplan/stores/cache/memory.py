"""Redis memory arithmetic: what `MEMORY USAGE key` reports for a key, from its sizes.

The formulas follow Redis 7's `objectComputeSize` on a 64-bit build with jemalloc: a key costs
its dict entry (24 B), the allocation of its name (an sds string) and its value object, each
allocation rounded up to a jemalloc size class. Values have one of two encodings: a compact
listpack while a hash or sorted set is small (`*-max-listpack-entries` / `-value`), else a hash
table (hash) or skiplist plus hash table (sorted set). The constants are the Redis 7 defaults.
Checked against a real Redis 7.0 by the generated tests (±25 %).

Beyond MEMORY USAGE, every key costs a slot in the keyspace table and, when it has a TTL, an
entry in the expires table: `total_per_key` adds those. Allocator fragmentation is not included;
the design states it separately as headroom.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

_SPREAD_POINTS = 21


def jemalloc_size(request: float) -> int:
    """The size class jemalloc rounds a request of `request` bytes up to (64-bit, 16-byte quantum)."""
    size = math.ceil(request)
    if size <= 8:
        return 8
    if size <= 64:
        return -(-size // 16) * 16
    # Four classes per doubling above 64 bytes: (2^k, 2^(k+1)] in steps of 2^(k-2).
    step = 1 << (max(size - 1, 1).bit_length() - 3)
    return -(-size // step) * step


def jemalloc_mean(request: float, spread: float = 0.0) -> float:
    """The mean size class of requests averaging `request` bytes with standard deviation `spread`
    (uniformly spread): classes are steps, so sizing a varying value at its mean is biased."""
    if spread <= 0:
        return float(jemalloc_size(request))
    half = spread * math.sqrt(3)  # a uniform distribution of this width has standard deviation `spread`
    points = [request - half + 2 * half * i / (_SPREAD_POINTS - 1) for i in range(_SPREAD_POINTS)]
    return sum(jemalloc_size(max(p, 1.0)) for p in points) / _SPREAD_POINTS


def sds_header(length: float) -> int:
    """Header bytes of an sds string of `length` bytes created at its exact size."""
    if length < 32:
        return 1
    if length < 256:
        return 3
    if length < 65536:
        return 5
    return 9


def sds_alloc(length: float, spread: float = 0.0) -> float:
    """Allocated bytes of an exact-size sds string (header + bytes + NUL); `spread`: the length's sd."""
    return jemalloc_mean(sds_header(length) + length + 1, spread)


def integer_like(text: str) -> bool:
    """Whether listpack stores `text` as an integer (canonical decimal of an int64)."""
    if not text or len(text) > 20:
        return False
    body = text[1:] if text[0] == "-" else text
    if not body.isdigit() or not body.isascii() or (len(body) > 1 and body[0] == "0") or text == "-0":
        return False
    return -(2**63) <= int(text) < 2**63


def listpack_int_bytes(value: int) -> int:
    """Bytes of one listpack integer entry, backlen included."""
    if 0 <= value <= 127:
        body = 1
    elif -4096 <= value <= 4095:
        body = 2
    elif -(2**15) <= value < 2**15:
        body = 3
    elif -(2**23) <= value < 2**23:
        body = 4
    elif -(2**31) <= value < 2**31:
        body = 5
    else:
        body = 9
    return body + 1


def listpack_string_bytes(length: float) -> float:
    """Bytes of one listpack string entry of `length` bytes, backlen included."""
    header = 1 if length <= 63 else (2 if length <= 4095 else 5)
    entry = header + length
    backlen = 1 if entry < 128 else (2 if entry < 16384 else (3 if entry < 2097152 else 4))
    return entry + backlen


def listpack_entry_bytes(text: str) -> float:
    """Bytes of one listpack entry holding `text` (integers are stored as integers)."""
    if integer_like(text):
        return listpack_int_bytes(int(text))
    return listpack_string_bytes(len(text.encode("utf-8")))


def table_slots(entries: float) -> int:
    """Buckets of a Redis dict holding `entries` (powers of two, at least 4)."""
    return max(4, 1 << max(math.ceil(entries) - 1, 0).bit_length())


@dataclass(frozen=True)
class Estimate:
    """The MEMORY USAGE estimate of one key, with the encoding it assumes."""

    usage_bytes: int
    encoding: str


def score_text(score: float) -> str:
    """How Redis writes a score into a listpack: integral scores as integers."""
    if score == int(score) and abs(score) < 2**53:
        return str(int(score))
    return repr(score)


@dataclass(frozen=True)
class RedisMemory:
    """The memory formulas with one set of constants: the `sizing:` of a Redis target profile
    (the plan's, `RedisMemory.of(plan.sizing("redis"))`; with their sources in targets/redis.yaml)."""

    robj: int
    dict_entry: int
    dict: int
    pointer: int
    zset: int
    zskiplist: int
    skiplist_header: int
    skiplist_node: float
    quicklist: int
    quicklist_node: int
    list_node_bytes: int
    listpack_overhead: int
    hash_max_listpack_entries: int
    hash_max_listpack_value: int
    zset_max_listpack_entries: int
    zset_max_listpack_value: int
    embstr_limit: int
    length_spread: float
    key_slot: int

    @classmethod
    def of(cls, sizing: Mapping[str, float]) -> RedisMemory:
        """The formulas with a profile's `sizing:` constants (KeyError names one it lacks)."""
        values: dict[str, Any] = {f.name: (float if f.type == "float" else int)(sizing[f.name]) for f in fields(cls)}
        return cls(**values)

    def string_value(self, length: float, spread: float = 0.0) -> float:
        """A string value object (embstr up to 44 bytes, else raw): object plus its sds."""
        if length <= self.embstr_limit:
            return jemalloc_mean(self.robj + 3 + length + 1, spread)
        return self.robj + sds_alloc(length, spread)

    def key_entry(self, key_length: float) -> float:
        """What every key costs in MEMORY USAGE besides its value: dict entry plus its name."""
        return self.dict_entry + sds_alloc(key_length)

    def total_per_key(self, usage: float, has_ttl: bool) -> float:
        """Memory of one key in the keyspace: MEMORY USAGE plus its table slot and expires entry."""
        return usage + self.key_slot + ((self.dict_entry + self.key_slot) if has_ttl else 0)

    def string_key(self, key_length: float, value_length: float, spread: float = 0.0) -> Estimate:
        """A string key holding `value_length` bytes on average (standard deviation `spread`)."""
        encoding = "embstr" if value_length <= self.embstr_limit else "raw"
        return Estimate(round(self.key_entry(key_length) + self.string_value(value_length, spread)), encoding)

    def string_key_of(self, key_length: int, value: str) -> Estimate:
        """`string_key` for a concrete value (Redis keeps integer-like strings as integers)."""
        if integer_like(value):
            return Estimate(round(self.key_entry(key_length) + self.robj), "int")
        return self.string_key(key_length, len(value.encode("utf-8")))

    def hash_key(
        self,
        key_length: float,
        fields: Sequence[tuple[float, float, float]],
        present: Sequence[float] | None = None,
        spread: float = 0.0,
    ) -> Estimate:
        """A hash: `fields` are (field length, value length, value's listpack entry bytes) averages;
        `present` the share of keys holding each field (a null attribute's field is left out);
        `spread` the standard deviation of the listpack's length."""
        shares = list(present) if present is not None else [1.0] * len(fields)
        largest = max((max(f, v) for f, v, _ in fields), default=0.0)
        if len(fields) <= self.hash_max_listpack_entries and largest <= self.hash_max_listpack_value:
            entries = sum(
                w * (listpack_string_bytes(f) + entry) for w, (f, _, entry) in zip(shares, fields, strict=True)
            )
            return Estimate(
                round(self.key_entry(key_length) + self.robj + jemalloc_mean(self.listpack_overhead + entries, spread)),
                "listpack",
            )
        elements = sum(
            w * (sds_alloc(f) + sds_alloc(v) + self.dict_entry) for w, (f, v, _) in zip(shares, fields, strict=True)
        )
        table = self.dict + self.pointer * table_slots(sum(shares))
        return Estimate(round(self.key_entry(key_length) + self.robj + table + elements), "hashtable")

    def hash_key_of(self, key_length: int, pairs: Sequence[tuple[str, str]]) -> Estimate:
        """`hash_key` for concrete field/value strings."""
        return self.hash_key(
            key_length,
            [(len(f.encode("utf-8")), len(v.encode("utf-8")), listpack_entry_bytes(v)) for f, v in pairs],
        )

    def zset_key(self, key_length: float, members: float, member_length: float, score_bytes: float) -> Estimate:
        """A sorted set of `members` members of average `member_length` bytes; `score_bytes` per listpack score."""
        if members <= self.zset_max_listpack_entries and member_length <= self.zset_max_listpack_value:
            payload = self.listpack_overhead + members * (listpack_string_bytes(member_length) + score_bytes)
            return Estimate(round(self.key_entry(key_length) + self.robj + jemalloc_size(payload)), "listpack")
        fixed = (
            self.robj
            + self.zset
            + self.zskiplist
            + self.dict
            + self.skiplist_header
            + self.pointer * table_slots(members)
        )
        per_member = sds_alloc(member_length) + self.dict_entry + self.skiplist_node
        return Estimate(round(self.key_entry(key_length) + fixed + members * per_member), "skiplist")

    def zset_key_of(self, key_length: int, entries: Sequence[tuple[str, float]]) -> Estimate:
        """`zset_key` for concrete members and scores (averaged)."""
        if not entries:
            return self.zset_key(key_length, 0, 0, 0)
        member = sum(len(m.encode("utf-8")) for m, _ in entries) / len(entries)
        score = sum(listpack_entry_bytes(score_text(s)) for _, s in entries) / len(entries)
        return self.zset_key(key_length, len(entries), member, score)

    def list_key(self, key_length: float, entries: float, entry_bytes: float) -> Estimate:
        """A list (quicklist of listpack nodes, Redis 7.0) of `entries` elements of `entry_bytes` listpack bytes each."""
        payload = entries * entry_bytes
        nodes = max(1, math.ceil(payload / self.list_node_bytes))
        per_node = self.quicklist_node + jemalloc_size(self.listpack_overhead + payload / nodes)
        return Estimate(round(self.key_entry(key_length) + self.robj + self.quicklist + nodes * per_node), "quicklist")

    def list_key_of(self, key_length: int, values: Sequence[str]) -> Estimate:
        """`list_key` for concrete elements (averaged)."""
        if not values:
            return self.list_key(key_length, 0, 0)
        return self.list_key(key_length, len(values), sum(listpack_entry_bytes(v) for v in values) / len(values))


@cache
def bundled() -> RedisMemory:
    """The bundled Redis profile's constants, for the generated tests only: they measure a real
    Redis 7 (whose internals those constants describe) after checking its listpack settings are
    the ones keys.json assumes. Planning uses the plan's profile (`RedisMemory.of(plan.sizing("redis"))`)."""
    from polyplan.analyse.capabilities import load_capabilities

    return RedisMemory.of(load_capabilities()["redis"].sizing)


def string_key_of(key_length: int, value: str) -> Estimate:
    """`RedisMemory.string_key_of` with the bundled constants (the generated tests' estimate)."""
    return bundled().string_key_of(key_length, value)


def hash_key_of(key_length: int, pairs: Sequence[tuple[str, str]]) -> Estimate:
    """`RedisMemory.hash_key_of` with the bundled constants (the generated tests' estimate)."""
    return bundled().hash_key_of(key_length, pairs)


def zset_key_of(key_length: int, entries: Sequence[tuple[str, float]]) -> Estimate:
    """`RedisMemory.zset_key_of` with the bundled constants (the generated tests' estimate)."""
    return bundled().zset_key_of(key_length, entries)


def list_key_of(key_length: int, values: Sequence[str]) -> Estimate:
    """`RedisMemory.list_key_of` with the bundled constants (the generated tests' estimate)."""
    return bundled().list_key_of(key_length, values)

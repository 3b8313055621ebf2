"""What an application computes before it binds a query or a write (pure).

These are the rules design.json and writes.json refer to, written once so the generated tests
and applications compute bucket values and prefix bounds the same way:
- a time bucket is the start (UTC) of the year, month, day, hour or minute holding the value;
- a hash bucket is CRC-32 (zlib, IEEE) of the key values joined with "|", modulo the count —
  `java.util.zip.CRC32` and most languages' CRC-32 give the same number;
- a prefix `p` is served as the range `p <= value < prefix_end(p)`;
- a prefix bucket is the value's first `length` characters (code points): a prefix of at least
  that many characters names one bucket, `prefix_bucket(p, length)`.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

UNITS = ("year", "month", "day", "hour", "minute")


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def time_bucket(value: dt.date | dt.datetime, unit: str) -> dt.date | dt.datetime:
    """The start of the `unit` that holds `value` (a date stays a date; datetimes become naive UTC)."""
    if isinstance(value, dt.datetime):
        moment = _as_utc(value)
        if unit == "year":
            return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        if unit == "month":
            return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if unit == "day":
            return moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if unit == "hour":
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(second=0, microsecond=0)
    if unit == "year":
        return value.replace(month=1, day=1)
    if unit == "month":
        return value.replace(day=1)
    return value


def next_bucket(bucket: dt.date | dt.datetime, unit: str) -> dt.date | dt.datetime:
    """The bucket after `bucket`."""
    if unit == "year":
        return bucket.replace(year=bucket.year + 1)
    if unit == "month":
        return bucket.replace(year=bucket.year + bucket.month // 12, month=bucket.month % 12 + 1)
    step = {"day": dt.timedelta(days=1), "hour": dt.timedelta(hours=1), "minute": dt.timedelta(minutes=1)}[unit]
    return bucket + step


def buckets_between(
    low: dt.date | dt.datetime, high: dt.date | dt.datetime, unit: str, newest_first: bool = False
) -> Iterator[dt.date | dt.datetime]:
    """Every bucket that can hold a value in [low, high), oldest first (or newest first)."""
    found = []
    bucket = time_bucket(low, unit)
    end = _as_utc(high) if isinstance(high, dt.datetime) else high
    while bucket < end:
        found.append(bucket)
        bucket = next_bucket(bucket, unit)
    yield from (reversed(found) if newest_first else found)


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return _as_utc(value).isoformat(timespec="milliseconds")
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    return str(value)


def hash_bucket(key_values: Sequence[Any], count: int) -> int:
    """The hash bucket of a record from its key values."""
    joined = "|".join(_text(v) for v in key_values)
    return zlib.crc32(joined.encode("utf-8")) % count


def prefix_end(prefix: str) -> str:
    """The smallest string above every string that starts with `prefix` (exclusive upper bound)."""
    if not prefix:
        raise ValueError("an empty prefix matches everything; it has no range")
    last = prefix[-1]
    if ord(last) >= 0x10FFFF:
        return prefix_end(prefix[:-1]) if len(prefix) > 1 else prefix + "\U0010ffff"
    following = ord(last) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: skip to the next one
        following = 0xE000
    return prefix[:-1] + chr(following)


def prefix_bucket(value: str, length: int) -> str:
    """The prefix bucket of a value (or of a prefix of at least `length` characters): its first `length`."""
    return value[:length]


def bucket_value(spec: Mapping[str, Any], record: Mapping[str, Any]) -> Any:
    """The bucket column's value for `record`, from a `computed` entry of writes.json."""
    if spec["kind"] == "time":
        return time_bucket(record[spec["of"]], spec["unit"])
    if spec["kind"] == "prefix":
        return prefix_bucket(str(record[spec["of"]]), int(spec["length"]))
    return hash_bucket([record[name] for name in spec["of"]], int(spec["count"]))

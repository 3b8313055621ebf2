"""The average size of the values an attribute holds: what the sizing models assume and what the
seeder draws (one assumption, so seeded data is a fair test of an estimate).

The model's own numbers come first: `avg_length` for strings, text, json and binary, enum
`weights`. Where the model says nothing, the assumption is what the seeder draws for it
(`polyplan.seed.values`): real-looking values by the attribute's name (mean lengths below, of the
seeder's tables), a pattern's strings, 200-character text, 1–3 words, fixed-length codes for
strings of at most 6 characters. `tests/test_capacity_sizes.py` checks the seeder against these.

Where the seeder does not honour the model (documented in docs/capacity.md): text is capped at
~2,100 characters (MAX_TEXT_WORDS) and binary values at 256 bytes (MAX_BINARY_BYTES), to keep
test data small.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from functools import cache

from polyplan.model.schema import Attribute, TypeName
from polyplan.seed import realistic
from polyplan.seed.regex import PatternGenerator
from polyplan.seed.values import NULL_RATE, SHORT_STRING, WORDS, decimal_bounds, int_bounds, random_maker

NULL_SHARE = NULL_RATE  # rows where a nullable attribute is NULL, in the estimate as in the seed
DEFAULT_TEXT_CHARS = 200  # text without avg_length (the seeder's _text_maker default)
DEFAULT_JSON_CHARS = 60  # json without avg_length (the seeder's JSON maker default)
DEFAULT_BINARY_BYTES = 16  # binary without avg_length (the seeder's default)
UNIQUE_TOKEN = 4  # base-36 record number a unique value carries: 4 characters up to 1.7M rows
# Mean lengths of the seeder's real-looking values (its mimesis tables, English locale; checked by
# tests/test_capacity_sizes.py), before any max_length cut.
REALISTIC_CHARS = {
    "first": 6.0,
    "last": 6.1,
    "city": 9.2,
    "street": 18.8,
    "country": 9.6,
    "company": 14.9,
    "a2": 2.0,
    "a3": 3.0,
    "email": 25.1,
    "name": 13.1,
    "phone": 12.0,
}
# The shortest max_length each kind is used for (realistic.maker returns None below it).
_REALISTIC_MIN = {"a2": 2, "a3": 3, "phone": 12, "email": 16}
_WORD = statistics.fmean(len(w) for w in WORDS)


def expected_chars(attribute: Attribute, name: str = "", unique: bool = False) -> float:
    """Average characters (bytes, for binary; JSON text for json) of one non-null value; `unique`
    for a column that is a key on its own (the seeder then draws distinct values, as for `unique`)."""
    kind = attribute.type
    if kind is TypeName.ENUM:
        values = attribute.values or ["x"]
        weights = attribute.weights or [1.0] * len(values)
        total = sum(weights) or 1.0
        return sum(len(v.encode("utf-8")) * w for v, w in zip(values, weights, strict=False)) / total
    if kind is TypeName.BINARY:
        return float(attribute.avg_length or DEFAULT_BINARY_BYTES)
    if kind in (TypeName.JSON, TypeName.LIST, TypeName.SET, TypeName.OBJECT):
        return float(attribute.avg_length or DEFAULT_JSON_CHARS)
    if kind not in (TypeName.STRING, TypeName.TEXT):
        return 8.0
    limit = attribute.max_length
    cap = float(limit) if limit is not None else math.inf
    distinct = unique or attribute.unique or attribute.distinct is not None
    real = realistic.kind_of(name, attribute)
    if real is not None and (limit is None or limit >= _REALISTIC_MIN.get(real, 4)):
        token = 1 + UNIQUE_TOKEN if distinct and real not in realistic.CODES else 0
        return min(cap, REALISTIC_CHARS[real] + token)
    if attribute.pattern is not None:
        return _pattern_chars(attribute.pattern, limit)
    if attribute.avg_length is not None:
        return min(cap, float(attribute.avg_length))
    if kind is TypeName.TEXT:
        return min(cap, float(DEFAULT_TEXT_CHARS))
    if limit is not None and limit <= SHORT_STRING:
        return float(limit)
    if distinct:
        room = (limit - UNIQUE_TOKEN - 1) if limit is not None else 40
        return min(float(room), 2 * _WORD + 1) + 1 + UNIQUE_TOKEN
    return min(cap, 2 * _WORD + 1)  # one to three words, two on average


@cache
def _pattern_chars(pattern: str, limit: int | None) -> float:
    """Mean length of the strings the seeder draws for `pattern` (64 draws, fixed seed)."""
    generator = PatternGenerator(pattern, limit, "sizing")
    rng = random.Random(0)
    try:
        return statistics.fmean(len(generator.draw(rng)) for _ in range(64))
    except ValueError:
        return float(limit or 16)


def numeric_digits(attribute: Attribute, declared: bool = False) -> tuple[int, int]:
    """(digits before, digits after the point) of a decimal: as declared (`declared`, for a
    fixed-size type), else of a typical value the seeder draws (uniform over its bounds)."""
    scale = attribute.scale or 0
    if declared:
        return max(0, (attribute.precision or 18) - scale), scale
    low, high, _ = decimal_bounds(attribute)
    whole = max(abs(low), abs(high)) // (10**scale)
    return len(str(whole)) if whole else 1, scale


def _mean_text_digits(low: int, high: int, least: int = 1) -> float:
    """Mean characters of the decimal text of an integer drawn uniformly from [low, high]: its
    digits (at least `least`) plus a sign for negatives. Counted per band of equal digit count."""
    total = high - low + 1
    if total <= 0:
        return float(least)
    chars = 0.0
    for sign, lo, hi in ((0, max(low, 0), high), (1, max(-high, 1), -low)):  # non-negatives, then |negatives|
        for digits in range(1, 40):
            band_lo, band_hi = (0 if digits == 1 else 10 ** (digits - 1)), 10**digits - 1
            count = min(hi, band_hi) - max(lo, band_lo) + 1
            if count > 0:
                chars += count * (max(digits, least) + sign)
            if band_hi >= hi:
                break
    return chars / total


def integer_chars(attribute: Attribute) -> float:
    """Mean decimal characters of the integers the seeder draws (uniform over `int_bounds`)."""
    low, high = int_bounds(attribute)
    return _mean_text_digits(low, high)


def decimal_chars(attribute: Attribute) -> float:
    """Mean characters of the decimals the seeder draws (`str(Decimal)`: digits, a point when the
    scale is positive, a leading 0 below 1)."""
    low, high, scale = decimal_bounds(attribute)
    return _mean_text_digits(low, high, scale + 1) + (1 if scale else 0)


def compact_json_chars(attribute: Attribute) -> float:
    """Mean length of the compact JSON text (no spaces after `,` and `:`) of the seeder's values of
    a json attribute, which is how a document or cache value holds it."""
    return _compact_json_chars(attribute.avg_length)


@cache
def _compact_json_chars(average: int | None) -> float:
    """64 draws of the seeder's JSON maker for this avg_length, fixed seed."""
    attribute = Attribute.model_validate({"type": "json", **({"avg_length": average} if average else {})})
    make = random_maker(attribute, random.Random(0), "sizing")
    return statistics.fmean(len(json.dumps(make(), separators=(",", ":"))) for _ in range(64))

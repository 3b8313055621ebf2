"""Per-attribute value sources: one closure per attribute, built once, called once per row.

A source honours the attribute's type, max_length, min/max, pattern, enum values and weights,
nullability and `distinct`; a unique source draws without replacement from the attribute's value
space (`exclusive`), so redrawing it would waste values and the row generator never does.
"""

from __future__ import annotations

import math
import random
import string
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName
from polyplan.seed import realistic
from polyplan.seed.geo import geo_maker
from polyplan.seed.regex import PatternGenerator

NULL_RATE = 0.1
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730
SHORT_STRING = 6  # strings this short are codes ("DE", "K7Q"), longer ones are words
DEFAULT_LIST_ITEMS = 5
# Sizes a model may declare for sizing (avg_length 2**31, max_items 10**6, distinct 10**13) are
# estimates of production data, not what a test row needs: seeded values stay this small, so
# test data is fast to make and to load whatever the model says.
MAX_TEXT_WORDS = 300
MAX_BINARY_BYTES = 256
MAX_JSON_KEYS = 1000
JSON_PAIR_CHARS = 14.5
MAX_LIST_ITEMS = 10
MAX_POOL = 10_000
_BASE36 = string.digits + string.ascii_lowercase

# Lower-case ASCII words: equal and ordered the same under every engine's collation, and
# real words so that full-text search has terms to find.
_WORD_TEXT = (
    "alpha amber anchor apple arrow autumn badge basket beacon berry blade bloom border breeze "
    "bridge bronze cabin candle canyon carbon castle cedar chalk cherry circle cliff cloud copper "
    "coral cotton crystal dawn delta desert diamond dune eagle echo ember falcon fern field flame "
    "forest fossil galaxy garden garnet glacier granite harbor hazel horizon island ivory jasper "
    "jungle lagoon lantern lemon linen lotus maple marble meadow meteor mint mirror mosaic "
    "nectar nickel oasis ocean olive onyx orbit orchid pebble pepper pine planet plaza prairie "
    "quartz quill rain raven reef ridge river rocket saffron sage sand satin shadow shore silver "
    "slate snow spark spruce star stone storm summit sun thunder tide timber topaz trail tulip "
    "valley velvet violet voyage willow winter zephyr"
)
WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())


def base36(number: int) -> str:
    """`number` ≥ 0 in lower-case base 36."""
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if number == 0:
            return digits


def _realistic(attribute: Attribute, rng: random.Random, where: str) -> tuple[str, Callable[[], str]] | None:
    """(kind, maker) of real-looking values for the attribute (polyplan.seed.realistic), or None."""
    kind = realistic.kind_of(leaf(where), attribute)
    make = realistic.maker(kind, rng, attribute.max_length) if kind is not None else None
    return (kind, make) if kind is not None and make is not None else None


def leaf(where: str) -> str:
    """The attribute's own name in a `where` label ("Customer.email", "Order.lines[]" → "lines")."""
    return where.rsplit(".", 1)[-1].rstrip("[]")


@dataclass(frozen=True)
class Source:
    """Draws one value per call. `exclusive` sources must not be redrawn (they consume a pool);
    `pool`, when they have one, can exchange a drawn value for another (see Pool). `choices`,
    when known, are every value `draw` can give but NULL (a `distinct` pool, drawn with
    replacement): where random redraws keep hitting taken combinations of a composite unique
    rule, the generator looks for a free one among them (fuzz10's model 214)."""

    draw: Callable[[], Any]
    exclusive: bool = False
    pool: Pool | None = None
    choices: tuple[Any, ...] | None = None


class Pool:
    """The distinct values of a unique attribute, handed out once each.

    A record whose other side of a check is fixed (a hot group's shared value) may give back the
    value it drew and take one on the right side of the check instead: the first in the pool
    that fits, or a value from outside that the pool then no longer hands out. Either way the
    values stay distinct and the pool holds one value per remaining record.
    """

    def __init__(self, values: list[Any]) -> None:
        self.values = deque(values)
        self.out: set[Any] = set()  # handed out and not given back: no fresh value may repeat one

    def draw(self) -> Any:
        value = self.values.popleft()
        self.out.add(normalise(value))
        return value

    def exchange(self, given: Any, wanted: Callable[[Any], bool]) -> Any | None:
        """The first value left that passes `wanted`, with `given` back in the pool; None when
        none passes."""
        found = next((index for index, value in enumerate(self.values) if wanted(value)), None)
        if found is None:
            return None
        taken = self.values[found]
        del self.values[found]
        self._give_back(given)
        self.out.add(normalise(taken))
        return taken

    def replace(self, given: Any, fresh: Any) -> bool:
        """Take `fresh` (drawn outside the pool) instead of `given`, which goes back; False (and
        nothing changes) when `fresh` was handed out already."""
        if normalise(fresh) in self.out:
            return False
        with suppress(ValueError):
            self.values.remove(fresh)
        self._give_back(given)
        self.out.add(normalise(fresh))
        return True

    def _give_back(self, given: Any) -> None:
        self.out.discard(normalise(given))
        self.values.appendleft(given)


def normalise(value: Any) -> Any:
    """The identity of a value as a unique index sees it (MySQL compares strings case-blind)."""
    if isinstance(value, str):
        return value.casefold().rstrip(" ")
    return value


# --- value spaces --------------------------------------------------------------------------


def int_bounds(attribute: Attribute, need: int = 0) -> tuple[int, int]:
    """Inclusive integer range for an integer attribute (wide enough for `need` distinct values)."""
    limit = 2 ** (attribute.bits - 1) - 1
    width = max(10_000, 2 * need)
    low = math.ceil(attribute.min) if attribute.min is not None else None
    high = math.floor(attribute.max) if attribute.max is not None else None
    if low is None and high is None:
        low, high = 0, width
    elif low is None:
        assert high is not None
        low = high - width
    elif high is None:
        high = low + width
    return max(low, -limit), min(high, limit)


def decimal_bounds(attribute: Attribute, need: int = 0) -> tuple[int, int, int]:
    """(low, high, scale): the range in units of 10**-scale."""
    scale = attribute.scale or 0
    precision = attribute.precision or 18
    unit = 10**scale
    limit = 10**precision - 1
    width = max(10_000 * unit, 2 * need)
    low = math.ceil(attribute.min * unit) if attribute.min is not None else None
    high = math.floor(attribute.max * unit) if attribute.max is not None else None
    if low is None and high is None:
        low, high = 0, width
    elif low is None:
        assert high is not None
        low = high - width
    elif high is None:
        high = low + width
    return max(low, -limit), min(high, limit), scale


def float_bounds(attribute: Attribute, need: int = 0) -> tuple[float, float]:
    """Range of a float attribute: its min and max, else 1,000 wide (wider for `need` distinct
    values drawn in steps of 0.001)."""
    width = max(1000.0, need / 500)
    low = attribute.min if attribute.min is not None else (attribute.max - width if attribute.max is not None else 0.0)
    high = attribute.max if attribute.max is not None else low + width
    return float(low), float(high)


PATTERN_DRAWS_PER_MATCH = 10


def _sample_range(rng: random.Random, low: int, high: int, count: int, where: str) -> list[int]:
    span = high - low + 1
    if span < count:
        raise ValueError(f"{where}: only {span} distinct values fit between {low} and {high}, {count} needed")
    if span > 2**62:
        # range() cannot be sampled past sys.maxsize; in a space this large a retry is rare.
        chosen: dict[int, None] = {}
        while len(chosen) < count:
            chosen.setdefault(rng.randint(low, high))
        return list(chosen)
    return [low + offset for offset in rng.sample(range(span), count)]


def _encode(number: int, alphabet: str, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(alphabet))
        chars.append(alphabet[rest])
    return "".join(reversed(chars))


def _distinct_strings(attribute: Attribute, rng: random.Random, count: int, where: str) -> Iterator[str]:
    max_length = attribute.max_length
    real = _realistic(attribute, rng, where)
    if real is not None:
        kind, make = real
        if kind in realistic.CODES:
            if count <= realistic.space(kind):
                yield from rng.sample(realistic.codes(kind), count)
                return
        elif realistic.unique_variant(kind, make(), base36(count), max_length) is not None:
            # A real-looking value made unique by the record's number: ann.lee.1f@example.com.
            for index in range(count):
                variant = realistic.unique_variant(kind, make(), base36(index), max_length)
                assert variant is not None  # the longest token fitted above; values are cut to fit
                yield variant
            return
    if attribute.pattern is not None:
        generator = PatternGenerator(attribute.pattern, max_length, where)
        seen: set[str] = set()
        misses = 0
        # Draws are not uniform over the matches ([0-9]{1,3} picks a length first, so one-digit
        # values come up a hundred times as often as each three-digit one): collecting most of a
        # small space of matches takes many times its size in draws, not `count` misses.
        space = generator.count_estimate()
        budget = 1000 + count + (PATTERN_DRAWS_PER_MATCH * space if space is not None and space <= 100_000 else 0)
        while len(seen) < count:
            value = generator.draw(rng)
            key = normalise(value)
            if key in seen:
                misses += 1
                if misses > budget:
                    raise ValueError(f"{where}: cannot find {count} distinct values matching {attribute.pattern!r}")
                continue
            seen.add(key)
            yield value
        return
    if max_length is not None and max_length <= SHORT_STRING:
        for alphabet in (string.ascii_uppercase, string.ascii_uppercase + string.digits):
            if len(alphabet) ** max_length >= count:
                for number in rng.sample(range(len(alphabet) ** max_length), count):
                    yield _encode(number, alphabet, max_length)
                return
        raise ValueError(f"{where}: {count} distinct strings do not fit in {max_length} characters")
    for index in range(count):
        token = base36(index)
        if max_length is not None and len(token) > max_length:
            raise ValueError(f"{where}: {count} distinct strings do not fit in {max_length} characters")
        room = (max_length - len(token) - 1) if max_length is not None else 40
        prefix = " ".join(rng.choices(WORDS, k=2))[: max(room, 0)].rstrip(" ")
        yield f"{prefix} {token}" if prefix else token


def distinct_capacity(attribute: Attribute, need: int, name: str = "") -> int:
    """How many pairwise distinct values `distinct_values` can draw for the attribute, up to `need`.

    Exact for the finite spaces (a boolean, an enum, a bounded number, a short string, a pattern
    with few matches); `need` where the space grows with the request (dates, uuids, text).
    `name` is the attribute's: a `country_code` holds one of the ISO 3166 codes.
    """
    real = realistic.kind_of(name, attribute) if name else None
    if real in realistic.CODES:
        return min(need, realistic.space(real))
    kind = attribute.type
    if kind is TypeName.BOOLEAN:
        return min(need, 2)
    if kind is TypeName.ENUM:
        return min(need, len(set(attribute.values or [])))
    if kind is TypeName.INTEGER:
        low, high = int_bounds(attribute, need)
        return max(0, min(need, high - low + 1))
    if kind is TypeName.DECIMAL:
        low, high, _ = decimal_bounds(attribute, need)
        return max(0, min(need, high - low + 1))
    if kind is TypeName.FLOAT:
        low_f, high_f = float_bounds(attribute, need)
        return max(0, min(need, math.floor(high_f * 1000) - math.ceil(low_f * 1000) + 1))
    if kind in (TypeName.STRING, TypeName.TEXT) and attribute.pattern is not None:
        estimate = PatternGenerator(attribute.pattern, attribute.max_length, "capacity").count_estimate()
        if estimate is not None and estimate >= 4 * need:
            return need  # room to spare: no need to generate them to know
        # Few values, or no bound: count what the generator finds, as it would.
        found = 0
        try:
            for _ in distinct_values(attribute, random.Random("capacity"), need, "capacity"):
                found += 1
        except ValueError:
            pass
        return found
    if kind is TypeName.STRING and attribute.max_length is not None:
        return min(need, int(36 ** min(attribute.max_length, 20)))  # 36**20 is past any count anyway
    return need


def random_space(attribute: Attribute, name: str = "") -> int:
    """About how many different values `random_maker` draws from (no more than 10**12); `name`
    is the attribute's, which may choose real-looking values (a first name among a few thousand)."""
    real = realistic.kind_of(name, attribute) if name else None
    if real is not None and realistic.maker(real, random.Random(0), attribute.max_length) is not None:
        return min(10**12, realistic.space(real))
    kind = attribute.type
    big = 10**12
    if kind is TypeName.BOOLEAN:
        return 2
    if kind is TypeName.ENUM:
        weights = attribute.weights or [1.0] * len(attribute.values or [])
        return max(1, sum(1 for weight in weights if weight > 0))
    if kind is TypeName.INTEGER:
        low, high = int_bounds(attribute)
        return max(1, min(big, high - low + 1))
    if kind is TypeName.DECIMAL:
        low, high, _ = decimal_bounds(attribute)
        return max(1, min(big, high - low + 1))
    if kind is TypeName.FLOAT:
        low_f, high_f = float_bounds(attribute)
        return max(1, min(big, math.floor(high_f * 1000) - math.ceil(low_f * 1000) + 1))
    if kind is TypeName.DATE:
        return SPAN_DAYS
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return SPAN_DAYS * 86_400
    if kind in (TypeName.STRING, TypeName.TEXT) and attribute.pattern is not None:
        estimate = PatternGenerator(attribute.pattern, attribute.max_length, "space").count_estimate()
        return max(1, min(big, estimate if estimate is not None else big))
    if kind is TypeName.STRING and attribute.max_length is not None and attribute.max_length <= SHORT_STRING:
        return int(26**attribute.max_length)  # upper-case codes
    if kind is TypeName.STRING and attribute.max_length is not None and attribute.max_length < 12:
        return len(WORDS) * attribute.max_length  # words cut short: few distinct prefixes
    return big


def uuid7(unix_ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, version 7, 74 random bits, variant 10.

    Hand-made because Python's `uuid` gains uuid7() only in 3.14 and refuses version 7 before."""
    value = (unix_ms & (2**48 - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
    return uuid.UUID(int=value | 0b10 << 62 | rng.getrandbits(62))


def distinct_values(attribute: Attribute, rng: random.Random, count: int, where: str) -> Iterator[Any]:
    """`count` values of the attribute's type, pairwise distinct (as a unique index sees them)."""
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT):
        if kind is TypeName.TEXT and attribute.pattern is None:
            make = _text_maker(attribute, rng)
            for index in range(count):
                yield f"{make()} {base36(index)}"
            return
        yield from _distinct_strings(attribute, rng, count, where)
    elif kind is TypeName.INTEGER:
        low, high = int_bounds(attribute, count)
        yield from _sample_range(rng, low, high, count, where)
    elif kind is TypeName.DECIMAL:
        low, high, scale = decimal_bounds(attribute, count)
        for units in _sample_range(rng, low, high, count, where):
            yield Decimal(units).scaleb(-scale)
    elif kind is TypeName.FLOAT:
        low_f, high_f = float_bounds(attribute, count)
        low, high = math.ceil(low_f * 1000), math.floor(high_f * 1000)
        for units in _sample_range(rng, low, high, count, where):
            yield units / 1000
    elif kind is TypeName.ENUM:
        values = list(attribute.values or [])
        if count > len(values):
            raise ValueError(f"{where}: {count} distinct values needed, the enum has {len(values)}")
        yield from rng.sample(values, count)
    elif kind is TypeName.BOOLEAN:
        if count > 2:
            raise ValueError(f"{where}: {count} distinct values needed, a boolean has 2")
        yield from rng.sample([False, True], count)
    elif kind is TypeName.UUID:
        # Distinct uuids are keys: time-ordered UUIDv7, as polyplan's surrogate keys are made
        # (docs/relational.md), one millisecond apart so each is new and they arrive in order.
        start = int(EPOCH.timestamp() * 1000)
        for number in range(count):
            yield uuid7(start + number, rng)
    elif kind is TypeName.DATE:
        for days in _sample_range(rng, 0, max(SPAN_DAYS, 2 * count), count, where):
            yield EPOCH.date() + timedelta(days=days)
    elif kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        for seconds in _sample_range(rng, 0, max(SPAN_DAYS * 86_400, 2 * count), count, where):
            yield _timestamp(kind, seconds)
    elif kind is TypeName.BINARY:
        for index in range(count):
            yield rng.randbytes(8) + index.to_bytes(8, "big")
    else:
        raise ValueError(f"{where}: a {kind.value} attribute cannot hold distinct values")


# --- values on one side of another ----------------------------------------------------------

# How far past the other side's value a repaired value may land, in the type's own units.
_REPAIR_SPAN = {
    TypeName.INTEGER: 10_000,
    TypeName.DECIMAL: 10_000,
    TypeName.FLOAT: 1_000_000,
    TypeName.DATE: 365,
    TypeName.TIMESTAMP: 30 * 86_400,
    TypeName.TIMESTAMPTZ: 30 * 86_400,
}


def _units(kind: TypeName, scale: int, value: Any) -> Decimal | None:
    """`value` in the integer units a seeded value of `kind` is counted in (exact, may be fractional)."""
    if value is None or isinstance(value, bool):
        return None
    if kind in (TypeName.INTEGER, TypeName.DECIMAL, TypeName.FLOAT) and isinstance(value, (int, float, Decimal)):
        exact = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
        step = {TypeName.INTEGER: 0, TypeName.DECIMAL: scale, TypeName.FLOAT: 3}[kind]
        return exact.scaleb(step)
    if not isinstance(value, date):
        return None
    # A check may compare a date with a timestamp: midnight of the date is its instant.
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    seconds = Decimal(str(((moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - EPOCH).total_seconds()))
    if kind is TypeName.DATE:
        return seconds / 86_400
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return seconds
    return None


def _from_units(kind: TypeName, scale: int, units: int) -> Any:
    if kind is TypeName.INTEGER:
        return units
    if kind is TypeName.DECIMAL:
        return Decimal(units).scaleb(-scale)
    if kind is TypeName.FLOAT:
        return units / 1000
    if kind is TypeName.DATE:
        return EPOCH.date() + timedelta(days=units)
    return _timestamp(kind, units)


def _unit_range(attribute: Attribute) -> tuple[int, int]:
    """The values an attribute may hold, in units: its min/max, else what its type stores."""
    kind = attribute.type
    if kind is TypeName.INTEGER:
        limit = 2 ** (attribute.bits - 1) - 1
        low = math.ceil(attribute.min) if attribute.min is not None else -limit
        high = math.floor(attribute.max) if attribute.max is not None else limit
        return max(low, -limit), min(high, limit)
    if kind is TypeName.DECIMAL:
        scale = attribute.scale or 0
        limit = 10 ** (attribute.precision or 18) - 1
        low = math.ceil(Decimal(repr(attribute.min)).scaleb(scale)) if attribute.min is not None else -limit
        high = math.floor(Decimal(repr(attribute.max)).scaleb(scale)) if attribute.max is not None else limit
        return max(low, -limit), min(high, limit)
    if kind is TypeName.FLOAT:
        low = math.ceil(Decimal(repr(attribute.min)).scaleb(3)) if attribute.min is not None else -(10**15)
        high = math.floor(Decimal(repr(attribute.max)).scaleb(3)) if attribute.max is not None else 10**15
        return low, high
    if kind is TypeName.DATE:
        return -10 * 365, 20 * 365
    return -10 * 365 * 86_400, 20 * 365 * 86_400


def draw_beyond(attribute: Attribute, rng: random.Random, other: Any, above: bool, strict: bool) -> Any | None:
    """A value of a number, date or timestamp attribute above (or below) `other`, within the
    attribute's range, near `other`; None when the type has no such value or none fits.

    Test data generation uses it to repair a row that breaks a check (`ends_at > starts_at`)
    directly, instead of redrawing at random until a draw happens to satisfy it.
    """
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT):
        return _text_beyond(attribute, other, above, strict)
    if kind not in _REPAIR_SPAN:
        return None
    scale = attribute.scale or 0
    units = _units(kind, scale, other)
    if units is None:
        return None
    low, high = _unit_range(attribute)
    span = _REPAIR_SPAN[kind]
    if above:
        first = math.floor(units) + 1 if strict else math.ceil(units)
        low, high = max(low, first), min(high, max(low, first) + span)
    else:
        last = math.ceil(units) - 1 if strict else math.floor(units)
        low, high = max(low, min(high, last) - span), min(high, last)
    if low > high:
        return None
    return _from_units(kind, scale, rng.randint(low, high))


def shift(attribute: Attribute, value: Any, step: int) -> Any | None:
    """`value` moved `step` units up (0.001 for a float, the scale's unit for a decimal, a day, a
    second), as a value of `attribute` within its range; None when that is out of range or the
    type has no units. Distinct values stay distinct, so a shifted unique value stays unique."""
    kind = attribute.type
    if kind not in _REPAIR_SPAN:
        return None
    scale = attribute.scale or 0
    units = _units(kind, scale, value)
    if units is None or units != units.to_integral_value():
        return None
    low, high = _unit_range(attribute)
    moved = int(units) + step
    return _from_units(kind, scale, moved) if low <= moved <= high else None


_ORDERED = string.digits + string.ascii_lowercase
_NEXT = {char: _ORDERED[index + 1] for index, char in enumerate(_ORDERED[:-1])}  # "z" has no next


def _text_beyond(attribute: Attribute, other: Any, above: bool, strict: bool) -> str | None:
    """A text just above `other` (its last raisable character raised: "ab" → "ac") or just below
    it (a prefix: "ab" → "a"), within max_length; None with a pattern (it might not match)."""
    if not isinstance(other, str) or attribute.pattern is not None:
        return None
    limit = attribute.max_length if attribute.max_length is not None else len(other) + 1
    if not above:
        candidate = other[: min(len(other) - 1, limit)] if other else None
        return (
            candidate if candidate is not None and (candidate < other or (not strict and candidate == other)) else None
        )
    if not strict and len(other) <= limit:
        return other
    for index in range(min(len(other), limit) - 1, -1, -1):
        raised = _NEXT.get(other[index])
        if raised is not None:
            return other[:index] + raised
    return None


# --- random values -------------------------------------------------------------------------


def _timestamp(kind: TypeName, seconds: int) -> datetime:
    moment = EPOCH + timedelta(seconds=seconds)
    return moment if kind is TypeName.TIMESTAMPTZ else moment.replace(tzinfo=None)


def _text_maker(attribute: Attribute, rng: random.Random) -> Callable[[], str]:
    """Words (WORDS: plain, lower-case, found by every engine's full-text search) adding up to
    about `avg_length` characters: each value within -5 %..+15 % of it past a few words (a word
    is dropped when one overshoots), never past max_length."""
    average = attribute.avg_length or 200
    longest = min(average, MAX_TEXT_WORDS * 7)  # sizes for production data, not for test rows
    limit = attribute.max_length if attribute.max_length is not None else 10**9
    rand, vocabulary, size = rng.random, WORDS, len(WORDS)

    def make() -> str:
        # random() arithmetic instead of choices()/randint(): several times faster per value.
        target = min(limit, round(longest * (0.95 + 0.15 * rand())))
        high = min(limit, longest * 1.15)
        words: list[str] = []
        length = -1
        while length < target:
            word = vocabulary[int(rand() * size)]
            words.append(word)
            length += len(word) + 1
        if length > high and len(words) > 1:
            length -= len(words.pop()) + 1
        text = " ".join(words)
        return text if len(text) <= limit else text[:limit].rstrip(" ")

    return make


def _string_maker(attribute: Attribute, rng: random.Random, where: str) -> Callable[[], str]:
    max_length = attribute.max_length
    real = _realistic(attribute, rng, where)
    if real is not None:
        return real[1]
    if attribute.pattern is not None:
        generator = PatternGenerator(attribute.pattern, max_length, where)
        return lambda: generator.draw(rng)
    if attribute.type is TypeName.TEXT:
        return _text_maker(attribute, rng)
    if attribute.avg_length is not None and (max_length is None or max_length > SHORT_STRING):
        return _text_maker(attribute, rng)
    rand, vocabulary, size = rng.random, WORDS, len(WORDS)
    if max_length is not None and max_length <= SHORT_STRING:
        letters = string.ascii_uppercase
        space = len(letters) ** max_length
        return lambda: _encode(int(rand() * space), letters, max_length)

    def make() -> str:
        text = " ".join([vocabulary[int(rand() * size)] for _ in range(1 + int(rand() * 3))])
        return text[:max_length].rstrip(" ") if max_length is not None else text

    return make


# The longest deck `weighted_deck` deals: a value rarer than 1/MAX_DECK still gets its share over
# several decks (its remainder carries over), it just does not appear in every one.
MAX_DECK = 1000


def weighted_deck(values: list[Any], weights: list[float], rng: random.Random) -> Callable[[], Any]:
    """Draws of `values` at exactly their `weights`' shares: dealt from shuffled decks of the
    smallest size that holds every positive weight at least once (at most MAX_DECK), each deck
    holding each value its share of the draws so far, rounded (largest remainder, carried on).

    Independent draws would give a rare value's share only on average: 20 rows of a 10 % value
    hold none an eighth of the time, and a partial index's seeded size would then be a poor test
    of its estimate (`_where_share`). A deck keeps any n draws within one deck of n × the share,
    and the shuffle keeps the order random. A zero weight is never drawn.
    """
    total = sum(w for w in weights if w > 0)
    if not values or total <= 0:
        return lambda: rng.choice(values) if values else None
    shares = [max(0.0, w) / total for w in weights[: len(values)]]
    shares += [0.0] * (len(values) - len(shares))
    smallest = min(s for s in shares if s > 0)
    # A share below 1/MAX_DECK needs the longest deck; 1/share itself may overflow (a weight of 1e-308).
    wanted = MAX_DECK if smallest < 1 / MAX_DECK else math.ceil(1 / smallest - 1e-9)
    size = min(MAX_DECK, max(len([s for s in shares if s > 0]), wanted))
    dealt = [0] * len(values)  # draws of each value in the decks so far
    deck: list[Any] = []
    decks = 0

    def draw() -> Any:
        nonlocal decks
        if not deck:
            decks += 1
            wanted = [decks * size * s - d for s, d in zip(shares, dealt, strict=True)]
            counts = [max(0, math.floor(w + 1e-9)) for w in wanted]
            # Largest remainders first (earlier values on ties): the deck holds exactly `size`.
            for i in sorted(range(len(values)), key=lambda i: (counts[i] - wanted[i], i))[: max(0, size - sum(counts))]:
                counts[i] += 1
            for i, count in enumerate(counts):
                dealt[i] += count
                deck.extend([values[i]] * count)
            rng.shuffle(deck)
        return deck.pop()

    return draw


def random_maker(attribute: Attribute, rng: random.Random, where: str, rows: int = 0) -> Callable[[], Any]:
    """A closure drawing one random non-null value of the attribute.

    Only an object's fields can be unique here (a field flattened into a unique column): they
    draw from pools sized for `rows` records.
    """
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT):
        return _string_maker(attribute, rng, where)
    if kind is TypeName.INTEGER:
        low, high = int_bounds(attribute)
        return lambda: rng.randint(low, high)
    if kind is TypeName.DECIMAL:
        d_low, d_high, scale = decimal_bounds(attribute)
        return lambda: Decimal(rng.randint(d_low, d_high)).scaleb(-scale)
    if kind is TypeName.FLOAT:
        f_low, f_high = float_bounds(attribute)
        return lambda: min(max(round(rng.uniform(f_low, f_high), 3), f_low), f_high)
    if kind is TypeName.BOOLEAN:
        return weighted_deck([False, True], [1.0, 1.0], rng)
    if kind is TypeName.ENUM:
        values = list(attribute.values or [])
        return weighted_deck(values, list(attribute.weights or [1.0] * len(values)), rng)
    if kind is TypeName.UUID:
        return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    if kind is TypeName.DATE:
        # Two years, or more for a large table: a date in a composite key ((tenant, day) with
        # one tenant) needs as many distinct days as records, as distinct_values gives a unique one.
        days = max(SPAN_DAYS, 2 * rows)
        return lambda: EPOCH.date() + timedelta(days=rng.randrange(days))
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return lambda: _timestamp(kind, rng.randrange(SPAN_DAYS * 86_400))
    if kind is TypeName.JSON:
        # Pairs of about JSON_PAIR_CHARS characters (`"k7": 512, ` / `"k8": "cedar", `) adding up to
        # avg_length, the size the sizing models assume (polyplan.seed.lengths).
        keys = max(1, min(MAX_JSON_KEYS, round(((attribute.avg_length or 60) - 2) / JSON_PAIR_CHARS)))

        # Declared sub-fields (the ones `path` filters name) hold values of their declared type,
        # drawn like attributes of their own: a filter on them then selects some rows, not all.
        declared = {
            name: make_source(field, rng, rows, f"{where}.{name}") for name, field in (attribute.fields or {}).items()
        }

        def make_json() -> dict[str, Any]:
            document: dict[str, Any] = {
                f"k{i}": (rng.randint(0, 999) if i % 2 else rng.choice(WORDS)) for i in range(keys)
            }
            document.update({name: source.draw() for name, source in declared.items()})
            return document

        return make_json
    if kind is TypeName.BINARY:
        size = min(attribute.avg_length or 16, MAX_BINARY_BYTES)
        return lambda: rng.randbytes(size)
    if kind is TypeName.OBJECT:
        fields = {
            name: make_source(field, rng, rows, f"{where}.{name}") for name, field in (attribute.fields or {}).items()
        }
        return lambda: {name: source.draw() for name, source in fields.items()}
    if kind in COLLECTION_TYPES:
        return _list_maker(attribute, rng, where)
    if kind is TypeName.GEO_POINT:
        return geo_maker(rng)
    raise ValueError(f"{where}: cannot generate values of type {kind.value}")


def _list_maker(attribute: Attribute, rng: random.Random, where: str) -> Callable[[], list[Any]]:
    item = attribute.items
    if item is None:
        raise ValueError(f"{where}: a list needs items")
    most = min(attribute.max_items or DEFAULT_LIST_ITEMS, MAX_LIST_ITEMS)
    if attribute.avg_items is not None:
        most = min(most, max(1, round(2 * attribute.avg_items)))
    # An item's `distinct` is the pool its values come from (12 tags, 6 genres): sized by it, so
    # that a contains filter finds each value in several records and not in the others.
    item_source = make_source(item.model_copy(update={"unique": False}), rng, item.distinct or 0, f"{where}[]")
    unique_items = item.unique or attribute.type is TypeName.SET

    def make() -> list[Any]:
        count = rng.randint(0, most)
        if not unique_items:
            return [item_source.draw() for _ in range(count)]
        # Items declared unique are unique within their list.
        items: list[Any] = []
        seen: set[Any] = set()
        for _ in range(4 * count):
            if len(items) == count:
                break
            value = item_source.draw()
            if normalise(value) not in seen:
                seen.add(normalise(value))
                items.append(value)
        return items

    return make


def make_source(attribute: Attribute, rng: random.Random, rows: int, where: str, unique: bool | None = None) -> Source:
    """The value source of one attribute for a table of `rows` records.

    `unique` overrides `attribute.unique` (keys are unique without saying so).
    """
    is_unique = attribute.unique if unique is None else unique
    nullable = attribute.nullable
    if is_unique and rows > 0:
        if nullable:
            # NULLs never collide: once a small value space (a unique boolean) is used up, the
            # remaining records hold NULL instead of failing.
            size = distinct_capacity(attribute, rows, leaf(where))
            spare = iter(list(distinct_values(attribute, rng, size, where)))
            return Source(lambda: None if rng.random() < NULL_RATE else next(spare, None), exclusive=True)
        stream = distinct_values(attribute, rng, rows, where)
        if attribute.type is TypeName.UUID:  # uuids cannot fail, and no check compares them
            return Source(lambda: next(stream), exclusive=True)
        # Materialise now so an impossible request fails before any row is produced.
        pool = Pool(list(stream))
        return Source(pool.draw, exclusive=True, pool=pool)
    if attribute.distinct is not None and attribute.type not in (
        TypeName.JSON,
        TypeName.LIST,
        TypeName.SET,
        TypeName.OBJECT,
        TypeName.GEO_POINT,
    ):
        choices = _pool_of(attribute, rng, where, rows)
        # An enum whose values all fit the pool is drawn at its weights (no pool).
        draw = random_maker(attribute, rng, where) if choices is None else _choice(rng, choices)
    else:
        choices = None
        draw = random_maker(attribute, rng, where, rows)
    if nullable:
        inner = draw
        return Source(lambda: None if rng.random() < NULL_RATE else inner(), choices=choices)
    return Source(draw, choices=choices)


def _choice(rng: random.Random, values: tuple[Any, ...]) -> Callable[[], Any]:
    return lambda: rng.choice(values)


def _pool_of(attribute: Attribute, rng: random.Random, where: str, rows: int = 0) -> tuple[Any, ...] | None:
    """The pool of `distinct` values a source draws from (fewer if the type's space is
    smaller); None for an enum whose values all fit, drawn at its weights instead.

    The pool is never larger than the rows drawn from it (nor MAX_POOL): a `distinct` of
    10**12 describes production data, and building such a pool would never finish.
    """
    wanted = max(1, min(attribute.distinct or 1, max(rows, 1), MAX_POOL))
    if attribute.type is TypeName.ENUM and wanted >= len(attribute.values or []):
        return None
    pool: list[Any] = []
    try:
        pool.extend(islice(distinct_values(attribute, rng, wanted, where), wanted))
    except ValueError:
        # `distinct` is an estimate: a smaller value space simply yields fewer distinct values.
        make = random_maker(attribute, rng, where)
        seen: dict[Any, Any] = {}
        for _ in range(wanted * 4):
            value = make()
            seen.setdefault(normalise(value), value)
            if len(seen) >= wanted:
                break
        pool = list(seen.values())
    return tuple(pool)

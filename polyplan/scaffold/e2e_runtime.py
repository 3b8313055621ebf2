"""The end-to-end runtime of a scaffolded application: the load generator (the plan's patterns at
their relative rates, parameters drawn from rows the system of record holds) and the checker's
comparisons of each projection with the system of record.

Copied verbatim (without this docstring, its runtime import pointed at the package's own
`runtime`) into every package `polyplan scaffold` writes, as `e2e_runtime.py`; polyplan's tests
import it from here, so one source serves both. It imports no search client and no package module:
the package's `load.py` and `check.py` pass in the functions and tables it runs.
"""

from __future__ import annotations

import json
import math
import random
import re
import string
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from polyplan.scaffold.runtime import decode, fill, key_part, payload, record_json

# How far a range parameter reaches either side of the sampled row's value, so the row is inside.
_REACH = {"timestamp": timedelta(days=1), "timestamptz": timedelta(days=1), "date": timedelta(days=1)}
_NEAR_RADIUS_M = 50_000.0
_TOKEN = string.ascii_lowercase + string.digits


_LOWER = ("from", "above", "gt", "ge", "gte")
_UPPER = ("to", "below", "lt", "le", "lte")


def _open_end(kind: str, upper: bool) -> Any:
    """A bound of `kind` below (or above) any stored value."""
    if kind in ("timestamp", "timestamptz"):
        moment = datetime(9999, 1, 1) if upper else datetime(1970, 1, 1)
        return moment.replace(tzinfo=UTC) if kind == "timestamptz" else moment
    if kind == "date":
        return date(9999, 1, 1) if upper else date(1, 1, 1)
    if kind == "decimal":
        return Decimal("1e15") if upper else Decimal("-1e15")
    if kind in ("integer", "float"):
        return (1 << 62) if upper else -(1 << 62)
    return "\uffff" if upper else ""


class NoValue(Exception):
    """The sampled row cannot fill a parameter (an empty list for `contains`, a null column)."""


@dataclass(frozen=True)
class ReadSpec:
    """One access pattern the load runs: its function and where each parameter's value comes from."""

    pattern: str
    entity: str
    rate: float
    store: str  # database, cache or search: what a call needs to answer
    function: Callable[..., Any]
    params: tuple[tuple[str, str, str, str], ...]  # (parameter, column, op, kind)


@dataclass(frozen=True)
class WriteSpec:
    """One write pattern the load runs."""

    pattern: str
    entity: str
    rate: float
    kind: str  # insert, upsert, update, delete, increment (by key), predicate (writes.sql's) or
    # delete_row (a Redis record's delete, given the whole record)
    function: Callable[..., Any]
    key: tuple[tuple[str, str], ...]  # (parameter, column) of the primary key
    written: tuple[tuple[str, str], ...]  # (parameter, column) an update sets
    where: tuple[tuple[str, str, str, str], ...] = ()  # a predicate's (parameter, column, op, kind)


@dataclass(frozen=True)
class EntitySpec:
    """An entity whose rows the load samples and copies: its row class, its sample statement, its key
    and unique columns (an inserted copy gets new values there)."""

    entity: str
    row: Any  # the package's dataclass: KINDS and FIELDS (attribute → Python name)
    sample: Any  # SQL, `:n` rows at random; or (stores, n) → up to n records (another store's)
    key: tuple[tuple[str, str], ...]  # (column, kind)
    uniques: tuple[tuple[str, str, int | None], ...]  # (column, kind, max_length)
    references: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()  # (columns, parent, its columns)


def record_of(cls: Any, values: Mapping[str, Any]) -> Any:
    """An instance of a generated row class (any store's: KINDS, FIELDS) from attribute → value."""
    return cls(**{field: values[name] for name, field in cls.FIELDS.items()})


def values_of(record: Any) -> dict[str, Any]:
    """Attribute → value of an instance of a generated row class."""
    return {name: getattr(record, field) for name, field in record.FIELDS.items()}


class Pool:
    """Rows of each entity the load has seen (sampled at the start, inserted, updated), thread-safe:
    the source of every parameter, so reads ask for rows that exist."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def add(self, entity: str, key: Sequence[str], row: Mapping[str, Any]) -> None:
        """Remember (or replace) one row, by its key columns."""
        with self.lock:
            self.rows.setdefault(entity, {})[tuple(row[c] for c in key)] = dict(row)

    def remove(
        self, entity: str, key: Sequence[str], row: Mapping[str, Any], entities: Mapping[str, EntitySpec]
    ) -> None:
        """Forget a deleted row and the known rows that refer to it (a copy of one would name a
        parent that is gone)."""
        with self.lock:
            self.rows.get(entity, {}).pop(tuple(row[c] for c in key), None)
            for child in entities.values():
                for columns, parent, parent_columns in child.references:
                    if parent != entity or not all(c in row for c in parent_columns):
                        continue
                    gone = tuple(row[c] for c in parent_columns)
                    rows = self.rows.get(child.entity, {})
                    for found in [k for k, r in rows.items() if tuple(r.get(c) for c in columns) == gone]:
                        del rows[found]

    def pick(self, entity: str) -> dict[str, Any]:
        """A row of `entity` at random (NoValue when none is known)."""
        with self.lock:
            rows = self.rows.get(entity)
            if not rows:
                raise NoValue(f"no {entity} row to draw from")
            return dict(self.rng.choice(list(rows.values())))

    def size(self, entity: str) -> int:
        """How many rows of `entity` are known."""
        with self.lock:
            return len(self.rows.get(entity, {}))


def _shift(value: Any, kind: str, steps: int) -> Any:
    """`value` moved `steps` reaches along its type (a day for times, 1 for numbers)."""
    if kind in _REACH:
        return value + steps * _REACH[kind]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    return value + steps


def param_value(op: str, kind: str, column: str, row: Mapping[str, Any], rng: random.Random) -> Any:
    """A parameter's value from a row of the pattern's entity, chosen so the row matches: the value
    itself for equality, a range around it, a word of it for full text, an item of it for contains."""
    if "." in column:
        # A relationship path: the row does not hold the related field, so a range on it is left
        # open (every related row is inside) and any other operator has no value to take.
        if op in _LOWER or op in _UPPER:
            return _open_end(kind, op in _UPPER)
        raise NoValue(f"{column} is reached through a relationship")
    name, _, inside = column.partition("#")
    value = row.get(name)
    if inside:  # a JSON sub-field
        value = value.get(inside) if isinstance(value, Mapping) else None
    if value is None:
        raise NoValue(f"{column} is null in the sampled row")
    if op in ("near_radius_m", "radius_m"):
        return _NEAR_RADIUS_M
    if op in _LOWER:
        return _shift(value, kind, -1)
    if op in _UPPER:
        return _shift(value, kind, 1)
    if op == "prefix":
        return str(value)[:3]
    if op in ("search", "fulltext"):
        words = re.findall(r"\w{3,}", " ".join(value) if isinstance(value, list) else str(value))
        if not words:
            raise NoValue(f"{column} has no word to search for")
        return rng.choice(words)
    if op == "contains":
        items = list(value) if isinstance(value, list | tuple | set) else []
        if not items:
            raise NoValue(f"{column} is empty in the sampled row")
        return rng.choice(items)
    if op == "in":
        return [value]
    return value


def _fresh(kind: str, value: Any, max_length: int | None, rng: random.Random) -> Any:
    """A new value of `kind` for a unique column, shaped like `value` (its first run of letters and
    digits replaced — an email's local part, a code's prefix — and, room permitting, lengthened to
    12), so the column's checks still hold."""
    if kind == "uuid":
        return uuid.uuid4()
    if kind == "integer":
        return rng.randrange(1 << 40, 1 << 52)
    if not isinstance(value, str):
        return value
    runs = list(re.finditer(r"[0-9A-Za-z]+", value))
    if not runs:
        return "".join(rng.choice(_TOKEN) for _ in range(min(12, max_length or 12)))
    run = runs[0]
    width = max(run.end() - run.start(), min(12, (max_length or 12) - len(value) + run.end() - run.start()))
    token = "".join(rng.choice(_TOKEN) for _ in range(width))
    return value[: run.start()] + token + value[run.end() :]


def new_row(entity: EntitySpec, template: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """A row to insert: a copy of a stored row (so its references and checks hold) with a new key and
    new values in its unique columns."""
    row = dict(template)
    for column, kind in entity.key:
        row[column] = _fresh(kind, row.get(column), None, rng)
    for column, kind, max_length in entity.uniques:
        if row.get(column) is not None:
            row[column] = _fresh(kind, row[column], max_length, rng)
    return row


@dataclass
class PatternStats:
    """What one pattern did during a load run."""

    calls: int = 0
    errors: int = 0
    empty: int = 0  # reads that found nothing (their parameters hit no row)
    skipped: int = 0  # turns with no row to draw parameters from
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _empty(answer: Any) -> bool:
    if answer is None:
        return True
    hits = getattr(answer, "hits", None)
    return (hits is not None and not hits) or (isinstance(answer, list) and not answer)


class Load:
    """The plan's patterns called at their relative rates, from several threads."""

    def __init__(
        self,
        stores: Any,
        entities: Mapping[str, EntitySpec],
        reads: Sequence[ReadSpec],
        writes: Sequence[WriteSpec],
        seed: int = 15,
    ) -> None:
        self.stores, self.entities = stores, entities
        self.specs: list[ReadSpec | WriteSpec] = [*reads, *writes]
        self.weights = [spec.rate for spec in self.specs]
        self.rng = random.Random(seed)
        self.pool = Pool(random.Random(seed + 1))
        self.stats = {spec.pattern: PatternStats() for spec in self.specs}
        self.lock = threading.Lock()

    def sample(self, connection: Any, statement: Callable[[EntitySpec], Any], rows: int = 500) -> None:
        """Start the pool from `rows` random rows of each entity the patterns use."""
        for entity in sorted({spec.entity for spec in self.specs if spec.entity in self.entities}):
            spec = self.entities[entity]
            if callable(spec.sample):  # a document-store, Cassandra or Redis record: its own read
                for record in spec.sample(self.stores, rows):
                    self.pool.add(entity, [c for c, _ in spec.key], values_of(record))
                continue
            for found in connection.execute(statement(spec), {"n": rows}).mappings():
                self.pool.add(entity, [c for c, _ in spec.key], values_of(record_of(spec.row, found)))

    def _read(self, spec: ReadSpec, rng: random.Random) -> Any:
        row = self.pool.pick(spec.entity)
        params = {name: param_value(op, kind, column, row, rng) for name, column, op, kind in spec.params}
        return spec.function(self.stores, **params)

    def _write(self, spec: WriteSpec, rng: random.Random) -> Any:
        entity = self.entities[spec.entity]
        key = [c for c, _ in entity.key]
        row = self.pool.pick(spec.entity)
        if spec.kind in ("increment", "predicate"):
            # The step is the model's (the function's default); a predicate's values match the
            # sampled row, its written values are another row's. The pool keeps its rows: they
            # still serve as parameters, and a row a predicate deleted only makes a read miss.
            params = {name: row[column] for name, column in spec.key}
            params |= {name: param_value(op, kind, column, row, rng) for name, column, op, kind in spec.where}
            other = self.pool.pick(spec.entity)
            params |= {name: other[column] for name, column in spec.written}
            spec.function(self.stores, **params)
            return None
        if spec.kind in ("insert", "upsert"):
            written = spec.function(self.stores, record_of(entity.row, new_row(entity, row, rng)))
        elif spec.kind == "delete_row":
            written = spec.function(self.stores, record_of(entity.row, row))
        else:
            params = {name: row[column] for name, column in spec.key}
            if spec.kind == "update":
                # The new values are another stored row's: valid for every check by construction.
                other = self.pool.pick(spec.entity)
                params |= {name: other[column] for name, column in spec.written}
            written = spec.function(self.stores, **params)
        if written is None:
            return None
        if spec.kind in ("delete", "delete_row"):
            self.pool.remove(spec.entity, key, values_of(written), self.entities)
        else:
            self.pool.add(spec.entity, key, values_of(written))
        return written

    def call(self, spec: ReadSpec | WriteSpec, rng: random.Random) -> None:
        """One call of one pattern, timed and counted."""
        stats = self.stats[spec.pattern]
        started = time.perf_counter()
        try:
            answer = self._read(spec, rng) if isinstance(spec, ReadSpec) else self._write(spec, rng)
        except NoValue:
            with self.lock:
                stats.skipped += 1
            return
        except Exception as error:  # noqa: BLE001, RUF100  (counted and reported per pattern; the run goes on)
            with self.lock:
                stats.calls += 1
                stats.errors += 1
                stats.first_error = stats.first_error or f"{type(error).__name__}: {str(error).splitlines()[0]}"
            return
        elapsed = time.perf_counter() - started
        with self.lock:
            stats.calls += 1
            stats.latencies.append(elapsed)
            stats.empty += isinstance(spec, ReadSpec) and _empty(answer)

    def run(self, seconds: float, rate: float = 0.0, threads: int = 4) -> float:
        """Call patterns chosen by their rates for `seconds` from `threads` threads, paced to `rate`
        calls per second in all (0: as fast as they go). Returns the elapsed seconds."""
        started = time.monotonic()
        deadline = started + seconds
        turns = iter(range(1 << 62))

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            while True:
                with self.lock:
                    turn = next(turns)
                due = started + turn / rate if rate > 0 else time.monotonic()
                if due >= deadline or time.monotonic() >= deadline:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                self.call(rng.choices(self.specs, self.weights)[0], rng)

        pool = [threading.Thread(target=worker, args=(self.rng.randrange(1 << 30),)) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return time.monotonic() - started

    def report(self, elapsed: float) -> list[str]:
        """One line per pattern: calls, calls/s, errors, empty answers, skipped turns, p50/p99."""
        lines = []
        for spec in self.specs:
            s = self.stats[spec.pattern]
            kind = "read" if isinstance(spec, ReadSpec) else spec.kind
            line = (
                f"{spec.pattern} ({kind}, rate {spec.rate:g}): {s.calls} calls, {s.calls / max(elapsed, 1e-9):.1f}/s, "
                f"{s.errors} errors, {s.empty} empty, {s.skipped} skipped, "
                f"p50 {percentile(s.latencies, 0.5) * 1000:.1f} ms, p99 {percentile(s.latencies, 0.99) * 1000:.1f} ms"
            )
            lines.append(line + (f"; first error: {s.first_error}" if s.first_error else ""))
        return lines


# --- the checker -----------------------------------------------------------------------------------


@dataclass
class Findings:
    """Mismatches between the projections and the system of record, by class."""

    checked: Counter[str] = field(default_factory=Counter)  # what was compared, by projection
    lost: list[str] = field(default_factory=list)  # a row with no document
    stale: list[str] = field(default_factory=list)  # a copy with another version or content
    extra: list[str] = field(default_factory=list)  # a copy whose row is gone
    pending: int = 0  # outbox events not relayed yet
    parked: list[str] = field(default_factory=list)  # dead letters: events the relay could not apply
    within_bound: int = 0  # cached answers behind a change younger than the staleness bound

    def lines(self) -> list[str]:
        """One line per mismatch class found (none: nothing to report)."""
        found = []
        for name, items in (("lost", self.lost), ("stale", self.stale), ("extra", self.extra)):
            if items:
                found.append(f"{name}: {len(items)} ({', '.join(items[:5])}{', …' if len(items) > 5 else ''})")
        if self.pending:
            found.append(f"pending: {self.pending} outbox events not relayed yet (run the relay first)")
        if self.parked:
            found.append(f"parked: {len(self.parked)} dead-letter events ({self.parked[0]})")
        return found

    def summary(self) -> str:
        """`checked …: 0 lost, 0 stale, 0 extra, …`."""
        checked = ", ".join(f"{n} {what}" for what, n in sorted(self.checked.items())) or "nothing"
        return (
            f"checked {checked}: {len(self.lost)} lost, {len(self.stale)} stale, {len(self.extra)} extra, "
            f"{self.pending} pending, {len(self.parked)} parked, {self.within_bound} cached within the staleness bound"
        )


@dataclass(frozen=True)
class Change:
    """One outbox event as the checker reads it."""

    id: int
    entity: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime  # aware, UTC
    done: bool
    error: str | None


def _aware(moment: datetime | str) -> datetime:
    """A database timestamp as an aware datetime (SQLite answers text, without a zone: UTC)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def changes(rows: Iterable[Any]) -> list[Change]:
    """Outbox rows (id, entity, before, after, created_at, done_at, error) in id order."""
    return sorted(
        (
            Change(
                int(r.id),
                str(r.entity),
                None if r.before is None else json.loads(r.before),
                None if r.after is None else json.loads(r.after),
                _aware(r.created_at),
                r.done_at is not None,
                r.error,
            )
            for r in rows
        ),
        key=lambda c: c.id,
    )


def compare_index(
    findings: Findings,
    entity: str,
    rows: Mapping[str, Mapping[str, Any]],
    events: Sequence[Change],
    documents: Mapping[str, tuple[int, Mapping[str, Any]]],
    document: Callable[[Mapping[str, Any]], dict[str, Any]],
    doc_id: Callable[[Mapping[str, Any]], str],
) -> None:
    """Every row (document id → its JSON form) has its document at the version of the last event that
    touched that id, with the row's content; no document is left without its row."""
    last: dict[str, int] = {}
    for event in events:
        if event.entity == entity:
            for side in (event.before, event.after):
                if side is not None:
                    last[doc_id(side)] = event.id
    findings.checked[f"{entity} documents"] += len(rows)
    for key, row in rows.items():
        if key not in documents:
            findings.lost.append(f"{entity} {key}")
            continue
        version, source = documents[key]
        if version != last.get(key) or source != document(row):
            findings.stale.append(f"{entity} {key} (document v{version}, last event {last.get(key)})")
    findings.extra.extend(f"{entity} {key}" for key in sorted(set(documents) - set(rows)))


def key_pattern(template: str, prefix: str) -> tuple[str, re.Pattern[str]]:
    """The SCAN glob and the parsing expression of the keys of one cached pattern."""
    glob = re.sub(r"<[^>]+>", "*", template)
    pieces = re.split(r"<([^>]+)>", template)  # text, attribute, text, …
    expression = "".join(
        f"(?P<{_group(piece)}>[^:|]*)" if i % 2 else re.escape(piece) for i, piece in enumerate(pieces)
    )
    return prefix + glob, re.compile(re.escape(prefix) + expression + "$")


def _group(attribute: str) -> str:
    return "a_" + re.sub(r"\W", "_", attribute)


def key_values(parsed: re.Match[str], parts: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """The read's parameters from a parsed key: (attribute, parameter, kind) per key part, each part
    decoded back from `key_part`'s form."""
    values: dict[str, Any] = {}
    for attribute, param, kind in parts:
        text = unquote(parsed.group(_group(attribute)))
        if kind == "boolean":
            values[param] = text == "1"
        elif kind in ("integer", "float", "decimal"):
            values[param] = Decimal(text) if kind == "decimal" else (int(text) if kind == "integer" else float(text))
        elif kind in ("timestamp", "timestamptz"):
            values[param] = datetime.fromisoformat(text)
        elif kind == "date":
            values[param] = date.fromisoformat(text)
        else:
            values[param] = decode(kind, text)
    return values


def answer_key(template: str, parts: Sequence[tuple[str, str, str]], row: Mapping[str, Any] | None) -> str | None:
    """The key (without prefix) of the answer a row (column → JSON value) is part of: (attribute,
    column, kind) per part, as the projection's invalidation computes it."""
    if row is None or any(row.get(column) is None for _, column, _ in parts):
        return None
    return fill(template, {a: key_part(kind, decode(kind, row[column])) for a, column, kind in parts})


def same_answer(cached: Any, fresh: Any) -> bool:
    """A cached answer equals the system of record's: one row, or the same rows in any order (rows
    that tie on the sort may come back in either order)."""
    if isinstance(cached, list) and isinstance(fresh, list):
        return Counter(r.to_json() for r in cached) == Counter(r.to_json() for r in fresh)
    return bool(cached == fresh)


@dataclass(frozen=True)
class CachedRead:
    """One access pattern the plan caches in Redis, as the checker reads its answers back."""

    pattern: str
    entity: str
    template: str
    ttl: int  # seconds: the plan's staleness bound
    parts: tuple[tuple[str, str, str, str], ...]  # (attribute, parameter, column, kind)
    single: bool  # one row or None; else a list of rows
    function: Callable[..., Any]  # the package's read: called with the system of record only
    row: Any  # the answer's dataclass (from_json, to_json)


def changed_keys(read: CachedRead, events: Sequence[Change]) -> dict[str, datetime]:
    """Key (without prefix) → when the last change of a row that is or was part of it committed."""
    parts = [(a, c, k) for a, _, c, k in read.parts]
    found: dict[str, datetime] = {}
    for event in events:
        if event.entity == read.entity:
            for side in (event.before, event.after):
                key = answer_key(read.template, parts, side)
                if key is not None:
                    found[key] = max(found.get(key, event.created_at), event.created_at)
    return found


def compare_cache(
    findings: Findings, client: Any, prefix: str, read: CachedRead, truth: Any, events: Sequence[Change]
) -> None:
    """Every answer of `read` in Redis against what the system of record answers now. An answer that
    differs is within the bound (counted, not a mismatch) when it was filled before a change that
    committed less than the pattern's staleness bound ago; otherwise it is stale, or extra when the
    system of record has no answer at all."""
    glob, parse = key_pattern(read.template, prefix)
    changed = changed_keys(read, events)
    for raw_key in client.scan_iter(match=glob, count=500):
        key = raw_key.decode("utf-8") if isinstance(raw_key, bytes) else str(raw_key)
        parsed = parse.match(key)
        if parsed is None:  # a single-flight lock, or another template's key the glob also matched
            continue
        raw, left_ms = client.get(key), client.pttl(key)
        if raw is None:  # expired or invalidated since the scan
            continue
        text = payload(raw)
        cached = read.row.from_json(text) if read.single else [read.row.from_json(t) for t in json.loads(text)]
        fresh = read.function(truth, **key_values(parsed, [(a, p, k) for a, p, _, k in read.parts]))
        findings.checked["cached answers"] += 1
        if same_answer(cached, fresh):
            continue
        now = datetime.now(UTC)
        filled = now - timedelta(seconds=read.ttl - max(left_ms, 0) / 1000)
        change = changed.get(key[len(prefix) :])
        if (
            change is not None
            and change >= filled - timedelta(seconds=1)
            and now - change <= timedelta(seconds=read.ttl)
        ):
            findings.within_bound += 1
        elif read.single and fresh is None:
            findings.extra.append(f"{read.pattern} {key}")
        else:
            findings.stale.append(f"{read.pattern} {key}")


# --- the checker: records kept outside the relational system of record -----------------------------

# doc_outbox_runtime's bookkeeping fields of a document-store record (this module imports no pymongo).
_VERSION, _OUTBOX, _DELETED, _PARKED = "_pp_v", "_pp_outbox", "_pp_deleted", "_pp_parked"
# A record → (its version, or None when its store keeps none once relayed; its JSON form).
Records = dict[str, tuple[int | None, dict[str, Any]]]


def live_documents(
    documents: Mapping[str, tuple[int, Mapping[str, Any]]], field: str, now: datetime | None = None
) -> dict[str, tuple[int, dict[str, Any]]]:
    """The documents whose record has not expired by `now` (their expiry instant `field` is ahead),
    without that field (the record's own content is what is compared): a document of a record its
    store expired without an event is the purge's to delete, not an extra copy."""
    now = now if now is not None else datetime.now(UTC)
    live: dict[str, tuple[int, dict[str, Any]]] = {}
    for key, (version, source) in documents.items():
        instant = source.get(field)
        if instant is not None and datetime.fromisoformat(str(instant)) <= now:
            continue
        live[key] = (version, {name: value for name, value in source.items() if name != field})
    return live


def compare_records(
    findings: Findings,
    entity: str,
    records: Mapping[str, tuple[int | None, Mapping[str, Any]]],
    documents: Mapping[str, tuple[int, Mapping[str, Any]]],
    document: Callable[[Mapping[str, Any]], dict[str, Any]],
    expiry: tuple[str, int] | None = None,
) -> None:
    """Every record (document id → its version and JSON form) has its document at that version (when
    the store keeps one) with the record's content; no document is left without its record. With
    `expiry` (the index's expiry field and TTL), documents of expired records are left out."""
    if expiry is not None:
        documents = live_documents(documents, expiry[0])
    findings.checked[f"{entity} documents"] += len(records)
    for key, (version, row) in records.items():
        if key not in documents:
            findings.lost.append(f"{entity} {key}")
            continue
        found, source = documents[key]
        if (version is not None and found != version) or source != document(row):
            findings.stale.append(f"{entity} {key} (document v{found}, record v{version})")
    findings.extra.extend(f"{entity} {key}" for key in sorted(set(documents) - set(records)))


def document_records(
    findings: Findings,
    entity: str,
    stored: Iterable[Mapping[str, Any]],
    read: Callable[[Mapping[str, Any]], Any],
    doc_id: Callable[[Mapping[str, Any]], str],
) -> Records:
    """A fed collection's live records at their versions (`_pp_v`, the relay's external version);
    its pending events (tombstones' included) and dead letters are added to `findings`."""
    found: Records = {}
    for document in stored:
        findings.pending += len(document.get(_OUTBOX) or ())
        findings.parked += [f"{entity} {document.get('_id')}: {p.get('error')}" for p in document.get(_PARKED) or ()]
        if document.get(_DELETED):
            continue
        row = record_json(read(document))
        found[doc_id(row)] = (int(document[_VERSION]), row)
    return found


def wide_records(
    rows: Iterable[Mapping[str, Any]],
    read: Callable[[Mapping[str, Any]], Any],
    doc_id: Callable[[Mapping[str, Any]], str],
    written: Sequence[str],
) -> Records:
    """A Cassandra base table's records at their versions: the newest write timestamp of their cells
    (the `written` WRITETIME columns), which is the timestamp of the batch that wrote them last and so
    the external version of its outbox event."""
    found: Records = {}
    for stored in rows:
        stamps = [int(stored[w]) for w in written if stored.get(w) is not None]
        row = record_json(read(stored))
        found[doc_id(row)] = (max(stamps) if stamps else None, row)
    return found


def redis_records(
    client: Any, glob: str, read: Callable[[Any], Any], doc_id: Callable[[Mapping[str, Any]], str], string: bool
) -> Records:
    """Redis records under one key family (`glob`), with no version: the stream entry that wrote each
    one last is deleted once relayed, so only their content is compared."""
    found: Records = {}
    for key in client.scan_iter(match=glob, count=500):
        record = read(client.get(key) if string else client.hgetall(key))
        if record is not None:  # expired since the scan
            row = record_json(record)
            found[doc_id(row)] = (None, row)
    return found


def stream_outbox(findings: Findings, client: Any, stream: str) -> None:
    """The Redis records' outbox: its entries are the pending events (relayed ones are deleted), and
    its `:parked` stream the dead letters."""
    findings.pending += int(client.xlen(stream))
    for _, fields in client.xrange(f"{stream}:parked"):
        body = {_text(k): _text(v) for k, v in fields.items()}
        findings.parked.append(f"{body.get('entity')} {body.get('key')}: {body.get('error')}")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)

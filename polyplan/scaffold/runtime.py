"""The runtime of a scaffolded application: value codec, cache-aside with a stampede guard, and
the relational outbox relay (its loop and metrics are relay_metrics.py's, shared with the
document-store relay).

This module is copied verbatim (without this docstring, its relay_metrics import pointed at the
package's own) into every package `polyplan scaffold` writes, so it imports only the standard
library, SQLAlchemy and redis-py; polyplan's own tests import it from here, so one source serves
both.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import redis
import sqlalchemy as sa

# In a package, the package's own relay_metrics (copied beside this module).
from polyplan.scaffold.relay_metrics import Metrics, relay_loop

# Characters left readable in key parts (polyplan's Redis key convention, keys.json).
KEY_SAFE = "-._~@+=!$&'()*,;"
# A cached value is "<version>|<json>"; a cache-aside fill writes version 0. (The relay only ever
# deletes keys, so the version is 0 today; the prefix keeps the format open to versioned writers.)
# Releases a single-flight lock only when this caller still holds it.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return moment.isoformat(timespec="milliseconds")


def encode(kind: str, value: Any) -> Any:
    """The JSON form of one column value of `kind` (a model type name)."""
    if value is None:
        return None
    if kind == "decimal":
        return str(value)
    if kind in ("timestamp", "timestamptz"):
        # Microseconds kept: a cached answer must equal what the database returns.
        return value.isoformat()
    if kind == "date":
        return value.isoformat()
    if kind == "uuid":
        return str(value)
    if kind == "binary":
        return base64.b64encode(value).decode("ascii")
    return value


def record_json(record: Any) -> dict[str, Any]:
    """Attribute → JSON value of an instance of a generated row class (its KINDS and FIELDS): the
    state an outbox event carries and the row a search document is built from."""
    return {name: encode(kind, getattr(record, record.FIELDS[name])) for name, kind in record.KINDS.items()}


def decode(kind: str, value: Any) -> Any:
    """A column value of `kind` back from its JSON form (`encode`'s inverse)."""
    if value is None:
        return None
    if kind == "decimal":
        return Decimal(value)
    if kind in ("timestamp", "timestamptz"):
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "binary":
        return base64.b64decode(value)
    return value


def to_json(kinds: Mapping[str, str], row: Mapping[str, Any]) -> str:
    """A row (column → value) as compact JSON, in the order of `kinds`."""
    body = {name: encode(kind, row.get(name)) for name, kind in kinds.items()}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def from_json(kinds: Mapping[str, str], text: str) -> dict[str, Any]:
    """`to_json`'s inverse: column → typed value."""
    body = json.loads(text)
    return {name: decode(kind, body.get(name)) for name, kind in kinds.items()}


def key_part(kind: str, value: Any) -> str:
    """One value inside a key name, percent-encoded so it cannot hold ':', '{' or '}'."""
    if kind == "boolean":
        text = "1" if value else "0"
    elif kind == "float":
        text = repr(float(value))
    elif kind in ("timestamp", "timestamptz") and isinstance(value, datetime):
        text = _iso(value)
    else:
        encoded = encode(kind, value)
        text = encoded if isinstance(encoded, str) else json.dumps(encoded, separators=(",", ":"))
    return quote(text, safe=KEY_SAFE)


def fill(template: str, parts: Mapping[str, str]) -> str:
    """A key name from a template such as `shop:cache:product:sku:<sku>` and encoded parts."""
    for name, part in parts.items():
        template = template.replace(f"<{name}>", part)
    return template


def payload(raw: bytes | str) -> str:
    """The JSON of a cached value, without its version."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return text.split("|", 1)[1]


def cached(
    client: redis.Redis,
    key: str,
    ttl: int,
    load: Callable[[], str | None],
    lock_ms: int = 2000,
) -> str | None:
    """Cache-aside read of one answer (its JSON), with single-flight on a miss.

    A miss takes a short lock (SET NX PX); its holder loads from the system of record and fills
    the key with SET NX (never over a newer value a relay wrote meanwhile), while the other
    callers wait for the fill instead of all querying the database at once (a stampede). If the
    holder dies or the answer does not exist, the waiters load it themselves after at most
    `lock_ms`. Absent answers are not cached.
    """
    raw = client.get(key)
    if raw is not None:
        return payload(raw)
    lock = f"{key}|lock"
    token = uuid.uuid4().hex
    if client.set(lock, token, nx=True, px=lock_ms):
        try:
            # Filled between our miss and our lock (by the previous holder): no second load.
            raw = client.get(key)
            if raw is not None:
                return payload(raw)
            value = load()
            if value is not None:
                client.set(key, f"0|{value}", ex=ttl, nx=True)
            return value
        finally:
            client.eval(RELEASE_LOCK, 1, lock, token)
    deadline = time.monotonic() + lock_ms / 1000
    while time.monotonic() < deadline:
        time.sleep(0.005)
        raw = client.get(key)
        if raw is not None:
            return payload(raw)
        if not client.exists(lock):
            # The holder finished: it filled the key just before releasing, unless there was no answer.
            raw = client.get(key)
            return payload(raw) if raw is not None else load()
    return load()


@dataclass(frozen=True)
class Event:
    """One outbox row: a committed change of one entity record, before and after (JSON text)."""

    id: int
    entity: str
    op: str
    before: str | None
    after: str | None


class StoreUnreachable(Exception):
    """A store a function needs did not answer: one line naming the pattern, the store and why."""


def unreachable(pattern: str, store: str, error: BaseException) -> StoreUnreachable:
    """The one-line error of a pattern whose store did not answer (the driver's first line of why)."""
    why = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return StoreUnreachable(f"{pattern}: {store} is not reachable ({type(error).__name__}: {why})")


class UnknownEntity(Exception):
    """An outbox event the relay has no projection for: parked with the reason, never dropped."""


def _utc(moment: datetime | str) -> datetime:
    """A database timestamp as an aware UTC datetime (SQLite answers text, without a zone)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def relay_batch(
    engine: sa.Engine,
    statements: Mapping[str, str],
    apply: Callable[[Event], None],
    batch: int = 100,
    after_apply: Callable[[Sequence[int]], None] | None = None,
    apply_all: Callable[[Sequence[Event]], Mapping[int, str]] | None = None,
    metrics: Metrics | None = None,
) -> int:
    """Apply the oldest pending outbox events in id order and mark them done, in one transaction.

    The batch stays locked (FOR UPDATE where the engine has it) until it is marked, so a second
    relay waits rather than applying the same or later events out of order. A crash after
    applying and before the commit leaves the events pending: the next run applies them again,
    which the projections tolerate (cache deletes are idempotent, search actions carry the event id
    as their version).
    `apply` takes one event (the cache); `apply_all` then takes the batch's events that `apply`
    did not park at once (the search index's bulk request) and answers the ones it parks, with the
    reason. `after_apply` runs between applying and marking (a test's crash point); `metrics`
    records the batch once committed. Returns the events handled.
    """
    with engine.begin() as connection:
        rows = connection.execute(sa.text(statements["pending"]), {"batch": batch}).all()
        known: list[Event] = []
        parked: list[tuple[int, str]] = []
        for row in rows:
            event = Event(int(row.id), str(row.entity), str(row.op), row.before, row.after)
            try:
                apply(event)
            except UnknownEntity as error:
                parked.append((event.id, str(error)))
            else:
                known.append(event)
        refused = apply_all(known) if apply_all is not None and known else {}
        parked += sorted(refused.items())
        done = [event.id for event in known if event.id not in refused]
        if after_apply is not None:
            after_apply([int(row.id) for row in rows])
        now = datetime.now(UTC)
        if done:
            connection.execute(sa.text(statements["done"]), [{"id": i, "now": now} for i in done])
        if parked:
            connection.execute(sa.text(statements["park"]), [{"id": i, "now": now, "error": why} for i, why in parked])
    if metrics is not None and rows:
        committed = datetime.now(UTC)
        metrics.record([(committed - _utc(row.created_at)).total_seconds() for row in rows], len(parked))
    return len(rows)


def relay_lag(engine: sa.Engine, statements: Mapping[str, str]) -> tuple[int, float]:
    """Pending events and the age in seconds of the oldest one (0 when none is pending)."""
    with engine.connect() as connection:
        count, oldest = connection.execute(sa.text(statements["lag"])).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (datetime.now(UTC) - _utc(oldest)).total_seconds())


def relay_forever(
    engine: sa.Engine,
    statements: Mapping[str, str],
    apply: Callable[[Event], None],
    batch: int = 100,
    once: bool = False,
    report: Callable[[str], None] = print,
    apply_all: Callable[[Sequence[Event]], Mapping[int, str]] | None = None,
    transient: tuple[type[Exception], ...] = (),
    metrics: Metrics | None = None,
) -> int:
    """Relay until stopped (or, with `once`, until nothing is pending); retry store errors (the
    database's, Redis's and the `transient` ones of other stores) with exponential backoff. Prints
    each batch with the lag that remains; `metrics` (the relay's `--metrics-port` serves them) are
    kept up to date. Returns the events handled."""
    metrics = metrics if metrics is not None else Metrics()
    return relay_loop(
        lambda: relay_batch(engine, statements, apply, batch, apply_all=apply_all, metrics=metrics),
        lambda: relay_lag(engine, statements),
        (sa.exc.OperationalError, sa.exc.InterfaceError, redis.RedisError, *transient),
        metrics,
        once,
        report,
    )


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamptz: MySQL/MariaDB keep it as a DATETIME holding UTC (the plan's schema note), so
    there an aware value is bound as its UTC wall time and read back aware in UTC; other engines
    keep the zone themselves."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None and dialect.name in ("mysql", "mariadb"):
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None and dialect.name in ("mysql", "mariadb"):
            return value.replace(tzinfo=UTC)
        return value


class HexUuid(sa.types.TypeDecorator[uuid.UUID]):
    """A uuid as the plan's schema stores it: native on PostgreSQL, CHAR(32) hex elsewhere. Plain
    `sa.Uuid()` would bind MariaDB's own text form (with dashes), which the CHAR(32) never holds."""

    impl = sa.Uuid()
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        native = dialect.name not in ("mysql", "mariadb")
        return dialect.type_descriptor(sa.Uuid() if native else sa.Uuid(native_uuid=False))


def column_type(kind: str) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy type that binds and reads a column of model type `kind` on every dialect."""
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "uuid": HexUuid(),
        "integer": sa.BigInteger(),
        "float": sa.Float(),
        "decimal": sa.Numeric(asdecimal=True),
        "boolean": sa.Boolean(),
        "date": sa.Date(),
        "timestamp": sa.DateTime(),
        "timestamptz": UtcDateTime(),
        "json": sa.JSON(),
        "binary": sa.LargeBinary(),
    }
    return types.get(kind, sa.String())


def write_row(
    connection: sa.Connection,
    statements: Mapping[str, str],
    params: Mapping[str, str],
    columns: Mapping[str, str],
    values: Mapping[str, Any],
) -> Mapping[Any, Any] | None:
    """Run a write pattern's statement (`statements["write"]`, parameters name → kind, result
    columns name → kind) and answer the row it leaves, or None when no row had the key.

    On PostgreSQL and SQLite that is the statement's RETURNING. MySQL has no RETURNING (MariaDB none
    for UPDATE), so there the package has an `after` statement: the row read again by its key in the
    same transaction, or `{}` for a delete that removed one (its row was read before it)."""
    if "after" not in statements:
        return connection.execute(statement(statements["write"], params, columns), values).mappings().first()
    done = connection.execute(statement(statements["write"], params, {}), values)
    if not done.rowcount:  # the MySQL dialects count the rows matched (CLIENT_FOUND_ROWS), changed or not
        return None
    after = statements["after"]
    # Only the key's parameters: a text clause refuses a type for a name it does not bind.
    used = {name: kind for name, kind in params.items() if re.search(rf":{name}\b", after)}
    again = connection.execute(statement(after, used, columns), values).mappings().first()
    return {} if again is None else again


def aggregate_value(kind: str, value: Any) -> Any:
    """An aggregate's value as the type its function gives (`kind`): PostgreSQL and MariaDB answer a
    sum of integers as a decimal, SQLite an average as a float; None stays None (no value counted)."""
    if value is None:
        return None
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "decimal" and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value


def statement(
    sql: str, params: Mapping[str, str], columns: Mapping[str, str], expanding: Sequence[str] = ()
) -> sa.TextClause | sa.TextualSelect:
    """`sql` with typed parameters (name → kind) and, when it returns rows, typed result columns."""
    clause = sa.text(sql).bindparams(
        *(sa.bindparam(name, type_=column_type(kind), expanding=name in expanding) for name, kind in params.items())
    )
    if not columns:
        return clause
    return clause.columns(*(sa.column(name, column_type(kind)) for name, kind in columns.items()))

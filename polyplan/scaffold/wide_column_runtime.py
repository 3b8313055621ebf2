"""The runtime of a scaffolded package's wide-column store (Cassandra): a lazily connected session
whose statements are prepared once each (in the deployment's keyspace), values to and from the
driver, and a logical write run as the plan's writes.json says.

This module is copied verbatim (without this docstring) into every package whose plan keeps an
entity in Cassandra, so it imports only the standard library and cassandra-driver; polyplan's tests
import it from here. `run_operation` follows writes.json's own rules, which the validation runtime
(`polyplan.stores.wide_column.connect.Writer`) also follows: lightweight transactions alone before
the batch, the rest in one LOGGED batch (one statement alone), counter updates alone after it; a
statement skipped when its `when` does not hold for its record; `only_if` by whether the row moved.
That class imports pytest and polyplan's test kit, which an application must not, hence this one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from cassandra import ConsistencyLevel, DriverException
from cassandra.cluster import NoHostAvailable, Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement, dict_factory

# In a package these two are replaced by their modules' code (the URL and bucket rules of the plan).
from polyplan.stores.wide_column.cluster import cassandra_cluster
from polyplan.stores.wide_column.runtime import bucket_value, buckets_between, next_bucket, time_bucket

_BARE = re.compile(r"[a-z][a-z0-9_]*")


class WideColumnUnreachable(Exception):
    """Cassandra did not answer: one line naming the pattern and why."""


class ConditionalWriteRefused(Exception):
    """A lightweight transaction was not applied (a unique value is taken): one line naming the table."""


class RowMoved(ConditionalWriteRefused):
    """An `UPDATE … IF EXISTS` of a row read first found no row: another writer deleted the record,
    or moved its copy, after the read. `write_after_read` reads again; nothing of the batch ran."""


def to_driver(kind: str, value: Any) -> Any:
    """One value of model type `kind` as the driver binds it (JSON is kept as its text)."""
    if value is None:
        return None
    if kind == "json":
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if kind in ("timestamp", "timestamptz") and isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if kind == "float":
        return float(value)
    return value


def from_driver(kind: str, value: Any) -> Any:
    """`to_driver`'s inverse for a value read back (Cassandra keeps timestamps in UTC milliseconds)."""
    if value is None:
        return None
    if kind == "json" and isinstance(value, str):
        return json.loads(value)
    if kind == "timestamptz" and isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    if kind == "date" and not isinstance(value, dt.date):
        return value.date()  # cassandra.util.Date
    if kind == "integer" and not isinstance(value, bool):
        return int(value)
    return value


def holds(conditions: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether `record` (driver values) is a member of a table: every `when` condition of writes.json
    holds, its constants read in the type of the record's value (writes.json has them as the model
    wrote them: a date, timestamp, uuid or decimal as text, a decimal perhaps as a number)."""
    for condition in conditions:
        value = record.get(condition["attribute"])
        if condition.get("is_not_null") and value is None:
            return False
        if "in" in condition and value not in [_typed_like(constant, value) for constant in condition["in"]]:
            return False
    return True


def _typed_like(constant: Any, value: Any) -> Any:
    """A writes.json constant in the type of `value`, when it is a date, timestamp, uuid or decimal."""
    try:
        if isinstance(value, dt.datetime) and isinstance(constant, str):
            moment = dt.datetime.fromisoformat(constant)  # Python 3.11 reads a trailing Z
            if moment.tzinfo is not None and value.tzinfo is None:  # the driver's timestamps: UTC, naive
                return moment.astimezone(dt.UTC).replace(tzinfo=None)
            return moment
        if isinstance(value, dt.date) and isinstance(constant, str):
            return dt.date.fromisoformat(constant)
        if isinstance(value, uuid.UUID) and isinstance(constant, str):
            return uuid.UUID(constant)
        if isinstance(value, Decimal) and isinstance(constant, str | int | float) and not isinstance(constant, bool):
            return Decimal(repr(constant)) if isinstance(constant, float) else Decimal(constant)
    except (ValueError, ArithmeticError):  # not a value of that type: equal to none
        return constant
    return constant


class PinnableTimestamps:
    """A cluster's write-timestamp generator that one thread can pin for its next writes
    (`WideColumnStore.writing_at`). The driver takes each write's client-side timestamp from
    `cluster.timestamp_generator` when it executes and has no per-statement argument; pinning it
    spares rewriting the plan's CQL with USING TIMESTAMP."""

    pinnable = True

    def __init__(self, inner: Callable[[], int]) -> None:
        self.inner = inner
        self.local = threading.local()

    def __call__(self) -> int:
        pinned: int | None = getattr(self.local, "at", None)
        return self.inner() if pinned is None else pinned


def _pinnable(session: Session) -> Session:
    cluster = session.cluster
    if not getattr(cluster.timestamp_generator, "pinnable", False):
        cluster.timestamp_generator = PinnableTimestamps(cluster.timestamp_generator)
    return session


class WideColumnStore:
    """Cassandra for one deployment: its URL, its keyspace (the plan's unless the deployment names
    another), and a session opened on first use."""

    def __init__(self, url: str, source: str, keyspace: str | None = None, session: Session | None = None) -> None:
        if keyspace is not None and not _BARE.fullmatch(keyspace):
            raise ValueError(f"keyspace {keyspace!r}: use lower-case letters, digits and _ (a bare CQL name)")
        self.url = url
        self.source = source  # the keyspace every planned statement names
        self.keyspace = keyspace or source
        self._session = None if session is None else _pinnable(session)
        self._prepared: dict[str, PreparedStatement] = {}

    def session(self, who: str) -> Session:
        """The session, connected now if it was not (one line naming `who` when nothing answers)."""
        if self._session is None:
            try:
                cluster = cassandra_cluster(self.url, row_factory=dict_factory, request_timeout=30)
                self._session = _pinnable(cluster.connect())
            except (NoHostAvailable, DriverException, OSError, ValueError) as error:
                raise unreachable_line(who, error) from None
        return self._session

    def timestamp(self, who: str) -> int:
        """A write timestamp of now (microseconds), from the cluster's generator as the driver takes its own."""
        generator: PinnableTimestamps = self.session(who).cluster.timestamp_generator
        return generator.inner()

    @contextmanager
    def writing_at(self, who: str, timestamp: int | None) -> Iterator[None]:
        """This thread's writes inside the block take `timestamp` (None: the driver's own, as outside)."""
        local = self.session(who).cluster.timestamp_generator.local
        local.at = timestamp
        try:
            yield
        finally:
            local.at = None

    def prepare(self, who: str, cql: str) -> PreparedStatement:
        """`cql` (written for the plan's keyspace) prepared once for this deployment's, at LOCAL_QUORUM."""
        if cql not in self._prepared:
            text = re.sub(r"(?<![\w\".])" + re.escape(self.source) + r"\.(?=[\w\"])", f"{self.keyspace}.", cql)
            try:
                prepared = self.session(who).prepare(text)
            except (NoHostAvailable, DriverException, OSError) as error:
                raise unreachable_line(who, error) from None
            prepared.consistency_level = ConsistencyLevel.LOCAL_QUORUM
            self._prepared[cql] = prepared
        return self._prepared[cql]

    def rows(self, who: str, cql: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of one planned SELECT."""
        statement = self.prepare(who, cql)
        try:
            return list(self.session(who).execute(statement, dict(values)))
        except (NoHostAvailable, DriverException, OSError) as error:
            raise unreachable_line(who, error) from None


def unreachable_line(who: str, error: BaseException) -> WideColumnUnreachable:
    """The one-line error of a pattern whose Cassandra did not answer."""
    why = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return WideColumnUnreachable(f"{who}: Cassandra is not reachable ({type(error).__name__}: {why[:200]})")


def run_operation(
    store: WideColumnStore,
    who: str,
    operation: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    row_keys: Mapping[str, Sequence[str]],
    outbox: Callable[[list[tuple[PreparedStatement, dict[str, Any]]]], None] | None = None,
    timestamp: int | None = None,
) -> None:
    """One logical write as writes.json has it; `delete` statements bind the current record,
    `insert`, `update` and `add` the new one (driver values, bucket columns computed). With
    `outbox` (a record a search index projects), the batch's statements are handed to it instead,
    to run in one LOGGED batch with the record's outbox event (even one statement, or none). The
    batch is written at `timestamp` when one is given (an update's: taken before its read)."""

    def values(statement: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
        found = dict(record)
        for spec in statement["computed"]:
            found[spec["column"]] = bucket_value(spec, record)
        return found

    def bound(statement: Mapping[str, Any]) -> dict[str, Any] | None:
        record = current if statement["action"] == "delete" else new
        if record is None or not holds(statement["when"], record):
            return None
        if statement["only_if"] is not None and current is not None and new is not None:
            table = statement["table"]
            before, after = values(statement, current), values(statement, new)
            moved = holds(statement["when"], current) != holds(statement["when"], new) or [
                before.get(c) for c in row_keys[table]
            ] != [after.get(c) for c in row_keys[table]]
            if moved != (statement["only_if"] == "moved"):
                return None
        return values(statement, record)

    session = store.session(who)
    try:
        for statement in operation["before_batch"]:
            binds = bound(statement)
            if binds is not None and not session.execute(store.prepare(who, statement["cql"]), binds).was_applied:
                if statement["action"] == "update":  # IF EXISTS: the row is gone since it was read
                    raise RowMoved(f"{who}: {statement['table']}: the row was deleted or moved after it was read")
                raise ConditionalWriteRefused(f"{who}: {statement['table']}: conditional write not applied")
        batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.LOCAL_QUORUM)
        pending = [(s, b) for s in operation["statements"] if (b := bound(s)) is not None]
        with store.writing_at(who, timestamp):
            if outbox is not None:
                outbox([(store.prepare(who, statement["cql"]), binds) for statement, binds in pending])
            elif len(pending) == 1:  # one statement needs no batch log
                session.execute(store.prepare(who, pending[0][0]["cql"]), pending[0][1])
            elif pending:
                for statement, binds in pending:
                    batch.add(store.prepare(who, statement["cql"]), binds)
                session.execute(batch)
        for statement in operation["after_batch"]:
            binds = bound(statement)
            if binds is not None:
                session.execute(store.prepare(who, statement["cql"]), binds)
    except (NoHostAvailable, DriverException, OSError) as error:
        raise unreachable_line(who, error) from None


CAS_ATTEMPTS = 20  # compare-and-set retries before giving up (each lost one means another writer won)


def compare_and_set(
    store: WideColumnStore,
    who: str,
    operation: Mapping[str, Any],
    key: Mapping[str, Any],
    step: Any,
    row_keys: Mapping[str, Sequence[str]],
    attempts: int = CAS_ATTEMPTS,
) -> bool:
    """An increment of columns that are not counters, as writes.json's `before_batch` says: read each
    column, bind `:x_old` to the value read and `:x_new` to it plus `step`, and retry from the read
    while the `UPDATE … IF x = :x_old` is not applied (another writer changed it first). False when
    the key has no row; ConditionalWriteRefused after `attempts` lost races (one line)."""
    for statement in operation["before_batch"]:
        cql = statement["cql"]
        columns = re.findall(r":(\w+)_old\b", cql)
        table = re.search(r"UPDATE\s+(\S+)\s+SET", cql)
        if not columns or table is None:
            raise ValueError(f"{who}: not a compare-and-set statement: {cql}")
        where = " AND ".join(f"{c} = :{c}" for c in row_keys[statement["table"]])
        # The plan writes only the UPDATE; its read is the same row's columns by the same key.
        read = f"SELECT {', '.join(columns)} FROM {table.group(1)} WHERE {where}"
        for _ in range(attempts):
            rows = store.rows(who, read, key)
            if not rows:
                return False
            old = {f"{c}_old": rows[0][c] for c in columns}
            new = {f"{c}_new": (rows[0][c] or 0) + step for c in columns}
            try:
                applied = store.session(who).execute(store.prepare(who, cql), {**key, **old, **new}).was_applied
            except (NoHostAvailable, DriverException, OSError) as error:
                raise unreachable_line(who, error) from None
            if applied:
                break
        else:
            raise ConditionalWriteRefused(
                f"{who}: {statement['table']}: compare-and-set not applied after {attempts} attempts "
                "(other writers kept changing the row): retry later"
            )
    rest = {**operation, "before_batch": []}
    if rest["statements"] or rest["after_batch"]:
        run_operation(store, who, rest, None, dict(key), row_keys)
    return True


def write_after_read(
    store: WideColumnStore,
    who: str,
    operation: Mapping[str, Any],
    key: Mapping[str, Any],
    change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    row_keys: Mapping[str, Sequence[str]],
    outbox: Callable[[Any, Any], Callable[[list[tuple[PreparedStatement, dict[str, Any]]]], None]] | None = None,
    attempts: int = CAS_ATTEMPTS,
) -> dict[str, Any] | None:
    """An update or upsert as writes.json says: read the current row (`read_first`), make the new one
    with `change` (None: nothing to write, returned as is), run the operation. A writer that deleted
    or moved the record between the read and the lightweight transaction makes it refuse (RowMoved)
    before anything else runs, so the write starts again from a fresh read: an update of a record
    deleted meanwhile finds no row, as the same UPDATE would on a relational store. The batch is
    written at a timestamp taken before the read, so a delete landing after the read (after the
    lightweight transaction too) wins over it: the record is not brought back without its claim
    rows. The new row, or None; ConditionalWriteRefused after `attempts` lost races."""
    for _ in range(attempts):
        read_at = store.timestamp(who)
        rows = store.rows(who, operation["read_first"], key)
        current = rows[0] if rows else None
        new = change(current)
        if new is None:
            return None
        try:
            run_operation(
                store,
                who,
                operation,
                current,
                new,
                row_keys,
                None if outbox is None else outbox(current, new),
                read_at,
            )
        except RowMoved:
            continue
        return new
    raise ConditionalWriteRefused(
        f"{who}: the row was deleted or moved after each of {attempts} reads (other writers kept changing it): retry later"
    )


def walk_time_buckets(
    store: WideColumnStore,
    who: str,
    cql: str,
    values: Mapping[str, Any],
    bucket: str,
    unit: str,
    limit: int | None,
    newest_first: bool,
    low: Any = None,
    high: Any = None,
    retention_days: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows of a read on a time-bucketed table, as its read plan walks the buckets: `cql` once
    per bucket (bound to `bucket`, computed with time_bucket), between `low` and `high` or, without
    them, from the current bucket back to the retention horizon; stops once `limit` rows are in.
    Each bucket's rows come in the table's clustering order, so the walk's order is the query's."""
    if low is not None and high is not None:
        buckets = list(buckets_between(low, high, unit, newest_first))
    else:
        current = now or dt.datetime.now(dt.UTC)
        horizon = current - dt.timedelta(days=retention_days or 0)
        buckets = list(buckets_between(horizon, next_bucket(time_bucket(current, unit), unit), unit, True))
    rows: list[dict[str, Any]] = []
    for value in buckets:
        rows += store.rows(who, cql, {**values, bucket: value})
        if limit is not None and len(rows) >= limit:
            break
    return rows[:limit] if limit is not None else rows

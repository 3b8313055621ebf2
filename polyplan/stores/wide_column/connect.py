"""The only I/O of the wide-column target: reach a Cassandra 4.1 or 5.0 server for validation.

Used by the generated tests and by our integration tests. A run creates its own keyspace
(`pp_<random>`), applies the generated schema.cql into it (every statement retargeted from the
design's keyspace to the run's), and drops it afterwards.
URL form: cassandra://HOST:PORT/DATACENTER (port 9042, data center `datacenter1` by default).

When nothing answers and the engine is required (POLYPLAN_REQUIRE, as `polyplan validate` sets
it), the generated tests stop the whole pytest run with one line naming the engine and the URL
(`connect(url, exit_run=True)`): each of them needs the server, and the same error repeated per
test, with the driver's tracebacks, buries it. Other callers fail (or skip) per test as usual.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest
from cassandra import ConsistencyLevel, DriverException, OperationTimedOut, UnresolvableContactPoints
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement, dict_factory

from polyplan.stores.wide_column.cluster import CASSANDRA_CONNECT_TIMEOUT, cassandra_address, cassandra_cluster
from polyplan.stores.wide_column.cql import quote, retarget, split_statements
from polyplan.stores.wide_column.runtime import bucket_value
from polyplan.testkit import how_to_run, required_engines, unavailable

ENGINE = "cassandra"
# The generated CQL is the same for 4.1 and 5.0 (it uses nothing that differs between them).
SUPPORTED = "4.1 or 5.0"
_RELEASE = re.compile(r"^(\d+)\.(\d+)")
_KEYSPACE = re.compile(r"^(CREATE KEYSPACE IF NOT EXISTS )(\S+)", re.IGNORECASE)


def _give_up(why: str, skippable: bool, exit_run: bool) -> NoReturn:
    """Stop: with `exit_run` the whole run in one line if Cassandra is required, else skip (or fail) the test."""
    if exit_run and ENGINE in required_engines():
        pytest.exit(f"{ENGINE}: {why}", returncode=1)
    if skippable:
        unavailable(ENGINE, why)
    pytest.fail(f"{ENGINE}: {why}", pytrace=False)


def _reason(exc: Exception) -> str:
    """The driver's error in a few words (it nests the socket error in a per-host dict)."""
    if isinstance(exc, UnresolvableContactPoints):
        return "the host name does not resolve"
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        exc = next(iter(errors.values()))
    if isinstance(exc, OperationTimedOut):
        return f"no reply within {CASSANDRA_CONNECT_TIMEOUT} s"
    text = str(exc.args[-1] if isinstance(exc, OSError) and exc.args else exc)
    if "does not support protocol version" in text:  # the first bytes of a reply were no CQL frame
        return "something answers there, but not in Cassandra's native protocol: is it the CQL port?"
    return text.rsplit("Last error: ", 1)[-1] or type(exc).__name__


@contextmanager
def _quiet_driver() -> Iterator[None]:
    """Mute the driver's own connection-error logging (tracebacks): the failure is reported once, by us."""
    logger = logging.getLogger("cassandra")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def connect(url: str, exit_run: bool = False) -> tuple[Cluster, Session]:
    """A cluster and session for `url`; skips (or fails, if required) when nothing answers there.

    With `exit_run` a failure to connect stops the whole pytest run (with one line) when Cassandra
    is required, instead of failing each test that asked: for a module whose every test needs it.
    """
    try:
        _, _, datacenter = cassandra_address(url)
    except ValueError as exc:
        _give_up(str(exc), False, exit_run)
    cluster: Cluster | None = None
    try:
        with _quiet_driver():
            cluster = cassandra_cluster(
                url,
                consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                request_timeout=60,
                row_factory=dict_factory,  # rows as {column name: value}, whatever the names look like
            )
            session = cluster.connect()
    # NoHostAvailable is no DriverException; UnresolvableContactPoints (a bad host name) is.
    except (NoHostAvailable, DriverException, OSError) as exc:
        seen = sorted({h.datacenter for h in cluster.metadata.all_hosts() if h.datacenter}) if cluster else []
        if cluster is not None:
            cluster.shutdown()
        if isinstance(exc, NoHostAvailable) and seen and datacenter not in seen:
            _give_up(
                f"{url}: no node in data center {datacenter!r} (the cluster has {', '.join(seen)})", False, exit_run
            )
        _give_up(f"cannot reach Cassandra at {url} ({_reason(exc)}). To run: {how_to_run(ENGINE)}", True, exit_run)
    release = str(session.execute("SELECT release_version FROM system.local").one()["release_version"])
    if not supported_release(release):
        cluster.shutdown()
        _give_up(f"{url} runs Cassandra {release}; the artifacts are for Cassandra {SUPPORTED}", False, exit_run)
    return cluster, session


def supported_release(release: str) -> bool:
    """Whether a server's `release_version` is one the artifacts were written for (4.1.x, 5.0.x)."""
    found = _RELEASE.match(release)
    return found is not None and (int(found[1]), int(found[2])) in ((4, 1), (5, 0))


def run_keyspace() -> str:
    """A keyspace name unique to this run."""
    return f"pp_{uuid.uuid4().hex[:16]}"


def schema_keyspace(schema: str) -> str:
    """The keyspace schema.cql creates (as written there, quoted if it needs to be)."""
    for _, statement in split_statements(schema):
        found = _KEYSPACE.match(statement)
        if found:
            return found.group(2).strip('"').replace('""', '"')
    raise ValueError("schema.cql creates no keyspace")


def apply_schema(session: Session, schema: str, keyspace: str) -> list[str]:
    """Run schema.cql in `keyspace` instead of its own; returns the statements run."""
    source = schema_keyspace(schema)
    ran: list[str] = []
    for _, statement in split_statements(schema):
        text = _KEYSPACE.sub(lambda m: m.group(1) + quote(keyspace), statement)
        text = retarget(text, source, keyspace)
        session.execute(text)
        ran.append(text)
    return ran


def drop_keyspace(session: Session, keyspace: str) -> None:
    """Remove the run's keyspace."""
    if not keyspace.startswith("pp_"):
        raise ValueError(f"refusing to drop {keyspace!r}: not a test keyspace")
    session.execute(f"DROP KEYSPACE IF EXISTS {quote(keyspace)}")


def table_name(keyspace: str, table: str) -> str:
    """A table of the run's keyspace, qualified (no statement of ours relies on USE)."""
    return f"{quote(keyspace)}.{quote(table)}"


class Writer:
    """Runs writes.json operations in the run's keyspace, as an application would (prepared once each)."""

    def __init__(self, session: Session, writes: Mapping[str, Any], keyspace: str) -> None:
        self.session = session
        self.source = str(writes["keyspace"])
        self.keyspace = keyspace
        self.row_keys: dict[str, list[str]] = {
            table: list(key) for entity in writes["entities"].values() for table, key in entity["row_keys"].items()
        }
        self._prepared: dict[str, PreparedStatement] = {}

    def prepare(self, cql: str, consistency: int = ConsistencyLevel.LOCAL_QUORUM) -> PreparedStatement:
        """`cql` (written for the design's keyspace) prepared for the run's keyspace."""
        if cql not in self._prepared:
            prepared = self.session.prepare(retarget(cql, self.source, self.keyspace))
            prepared.consistency_level = consistency
            self._prepared[cql] = prepared
        return self._prepared[cql]

    def _values(self, statement: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(record)
        for spec in statement["computed"]:
            values[spec["column"]] = bucket_value(spec, record)
        return values

    def values(self, statement: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
        """What `statement` binds for `record`: its values plus the bucket columns it computes."""
        return self._values(statement, record)

    def _key(self, statement: Mapping[str, Any], record: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self._values(statement, record)
        return tuple(values.get(column) for column in self.row_keys[statement["table"]])

    def read_current(self, operation: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The current row, by `read_first` with the key of `record` (None if there is none)."""
        if not operation["read_first"]:
            raise ValueError("this operation reads nothing first")
        row = self.session.execute(self.prepare(operation["read_first"]), dict(record)).one()
        return dict(row) if row is not None else None

    def run(self, operation: Mapping[str, Any], record: Mapping[str, Any], members: Mapping[str, bool]) -> None:
        """An insert or delete operation for one record (tables it is not a member of are skipped)."""
        if operation["kind"] == "delete":
            self.change(operation, record, members, None, {})
        else:
            self.change(operation, None, {}, record, members)

    def change(
        self,
        operation: Mapping[str, Any],
        current: Mapping[str, Any] | None,
        current_members: Mapping[str, bool],
        new: Mapping[str, Any] | None,
        new_members: Mapping[str, bool],
    ) -> None:
        """Any operation, as writes.json says: conditional steps alone, the rest in one LOGGED batch.

        `delete` statements bind the current record, `insert`/`update` the new one, each only if that
        record is a member of the table; `only_if` statements run only when the row moved (or stayed).
        """

        def bound(statement: Mapping[str, Any]) -> dict[str, Any] | None:
            deleting = statement["action"] == "delete"
            record, members = (current, current_members) if deleting else (new, new_members)
            table = statement["table"]
            if record is None or not members.get(table, True):
                return None
            if statement.get("only_if") is not None and current is not None and new is not None:
                moved = current_members.get(table, True) != new_members.get(table, True) or self._key(
                    statement, current
                ) != self._key(statement, new)
                if moved != (statement["only_if"] == "moved"):
                    return None
            return self._values(statement, record)

        for statement in operation["before_batch"]:
            values = bound(statement)
            if values is not None and not self.session.execute(self.prepare(statement["cql"]), values).was_applied:
                raise RuntimeError(f"{statement['table']}: conditional write not applied (a unique value is taken)")
        batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.LOCAL_QUORUM)
        count = 0
        for statement in operation["statements"]:
            values = bound(statement)
            if values is not None:
                batch.add(self.prepare(statement["cql"]), values)
                count += 1
        if count:
            self.session.execute(batch)
        for statement in operation["after_batch"]:
            values = bound(statement)
            if values is not None:
                self.session.execute(self.prepare(statement["cql"]), values)
        record = current if operation["kind"] == "delete" else new
        for add in operation.get("parent_adds", []):
            added = None if record is None else parent_add_values(add, record)
            if added is not None:  # alone: a counter update shares no batch
                self.session.execute(self.prepare(add["cql"]), added)


def parent_add_values(add: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a child's add to its parent's derived counter binds (writes.json `parent_adds`): the
    child's values (its reference names the parent's row) and each `<column>_delta`, ±1 for a count
    or ± the child's value for a sum; None when nothing is added (no parent, or a null value)."""
    if any(record.get(attribute) is None for attribute in add["reference"]):  # keys of the mapping
        return None
    values = dict(record)
    for marker, delta in add["delta"].items():
        part = delta["step"] if "step" in delta else record.get(delta["attribute"])
        if part is None:
            return None
        values[marker] = int(delta["sign"]) * int(part)
    return values


def consistency(name: str) -> int:
    """A consistency level by its name in design.json (`LOCAL_ONE`, `LOCAL_QUORUM`)."""
    level: int = getattr(ConsistencyLevel, name)
    return level


def run_pattern(
    session: Session,
    cql: str,
    binds: Sequence[Mapping[str, Any]],
    order: Sequence[tuple[str, str]],
    limit: int | None,
    merge: bool,
    level: str = "LOCAL_QUORUM",
) -> list[Any]:
    """Run a pattern's query once per bind set, as its read plan says, and combine the rows.

    `cql` is already in the run's keyspace; `level` is the pattern's consistency from design.json.
    Bind sets are visited in order (time buckets already newest- or oldest-first); with `merge`
    (hash buckets, or one query per IN value) the rows are re-sorted by the pattern's order.
    """
    prepared = session.prepare(cql)
    prepared.consistency_level = consistency(level)
    rows: list[Any] = []
    for bind in binds:
        rows.extend(session.execute(prepared, bind))
        if limit is not None and not merge and len(rows) >= limit:
            break
    if merge and order:
        for column, direction in reversed(order):  # stable sorts, last key first
            rows.sort(key=_row_key(column), reverse=direction == "desc")
    return rows[:limit] if limit is not None else rows


def _row_key(column: str) -> Callable[[Any], Any]:
    def key(row: Any) -> Any:
        return _sortable(row[column])

    return key


def _sortable(value: Any) -> Any:
    date = getattr(value, "date", None)  # cassandra.util.Date orders as the date it holds
    return date() if callable(date) and not isinstance(value, dt.datetime) else value

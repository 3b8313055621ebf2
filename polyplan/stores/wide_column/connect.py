"""The only I/O of the wide-column target: reach a Cassandra 4.1 server for validation.

Used by the generated tests and by our integration tests. A run creates its own keyspace
(`pp_<random>`), applies the generated schema.cql into it, and drops it afterwards.
URL form: cassandra://HOST:PORT/DATACENTER (port 9042, data center `datacenter1` by default).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement, dict_factory

from polyplan.stores.wide_column.cql import quote, split_statements
from polyplan.stores.wide_column.runtime import bucket_value
from polyplan.testkit import unavailable

_KEYSPACE = re.compile(r"^(CREATE KEYSPACE IF NOT EXISTS )(\S+)", re.IGNORECASE)


def connect(url: str) -> tuple[Cluster, Session]:
    """A cluster and session for `url`; skips (or fails, if required) when nothing answers there."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or 9042
    datacenter = parsed.path.strip("/") or "datacenter1"
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=datacenter),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        request_timeout=60,
        row_factory=dict_factory,  # rows as {column name: value}, whatever the names look like
    )
    cluster = Cluster([host], port=port, execution_profiles={EXEC_PROFILE_DEFAULT: profile}, connect_timeout=10)
    try:
        session = cluster.connect()
    except (NoHostAvailable, OSError) as exc:
        cluster.shutdown()
        unavailable("cassandra", f"{host}:{port} did not answer ({type(exc).__name__}: {exc})")
    release = str(session.execute("SELECT release_version FROM system.local").one()["release_version"])
    if not release.startswith("4."):
        cluster.shutdown()
        raise RuntimeError(f"{url} runs Cassandra {release}; the artifacts target Cassandra 4.1")
    return cluster, session


def run_keyspace() -> str:
    """A keyspace name unique to this run."""
    return f"pp_{uuid.uuid4().hex[:16]}"


def apply_schema(session: Session, schema: str, keyspace: str) -> list[str]:
    """Run schema.cql with its keyspace renamed to `keyspace`; returns the statements run."""
    ran: list[str] = []
    for _, statement in split_statements(schema):
        if statement.upper().startswith("USE "):
            session.set_keyspace(keyspace)
            continue
        text = _KEYSPACE.sub(lambda m: m.group(1) + quote(keyspace), statement)
        session.execute(text)
        ran.append(text)
    return ran


def drop_keyspace(session: Session, keyspace: str) -> None:
    """Remove the run's keyspace."""
    if not keyspace.startswith("pp_"):
        raise ValueError(f"refusing to drop {keyspace!r}: not a test keyspace")
    session.execute(f"DROP KEYSPACE IF EXISTS {quote(keyspace)}")


class Writer:
    """Runs writes.json operations for records (prepared statements are cached)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._prepared: dict[str, PreparedStatement] = {}

    def prepare(self, cql: str) -> PreparedStatement:
        if cql not in self._prepared:
            prepared = self.session.prepare(cql)
            prepared.consistency_level = ConsistencyLevel.LOCAL_QUORUM
            self._prepared[cql] = prepared
        return self._prepared[cql]

    def _values(self, statement: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(record)
        for spec in statement["computed"]:
            values[spec["column"]] = bucket_value(spec, record)
        return values

    def run(self, operation: Mapping[str, Any], record: Mapping[str, Any], members: Mapping[str, bool]) -> None:
        """Conditional steps alone, the rest in one LOGGED batch; tables the record is not a member of are skipped."""
        for statement in operation["before_batch"]:
            if members.get(statement["table"], True):
                result = self.session.execute(self.prepare(statement["cql"]), self._values(statement, record))
                if not result.was_applied:
                    raise RuntimeError(f"{statement['table']}: conditional write not applied (a unique value is taken)")
        batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.LOCAL_QUORUM)
        count = 0
        for statement in operation["statements"]:
            if members.get(statement["table"], True):
                batch.add(self.prepare(statement["cql"]), self._values(statement, record))
                count += 1
        if count:
            self.session.execute(batch)
        for statement in operation["after_batch"]:
            if members.get(statement["table"], True):
                self.session.execute(self.prepare(statement["cql"]), self._values(statement, record))


def run_pattern(
    session: Session,
    cql: str,
    binds: list[dict[str, Any]],
    order: list[tuple[str, str]],
    limit: int | None,
    merge: bool,
) -> list[Any]:
    """Run a pattern's query once per bind set, as its read plan says, and combine the rows.

    Bind sets are visited in order (time buckets already newest- or oldest-first); with `merge`
    (hash buckets, or one query per IN value) the rows are re-sorted by the pattern's order.
    """
    prepared = session.prepare(cql)
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

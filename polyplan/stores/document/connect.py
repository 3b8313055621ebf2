"""The only I/O of the MongoDB target: reach a server, work in a throw-away database, probe features.

When nothing answers and MongoDB is required (POLYPLAN_REQUIRE, as `polyplan validate` sets it),
the generated tests stop the whole pytest run with one line naming the engine and the URL
(`exit_run=True`): every one of them needs the server, and the same error repeated per test
buries it. Otherwise an unreachable server is a skip that says how to run the tests.

A MongoDB URL may lead to another product speaking MongoDB's wire protocol (FerretDB): `examine`
says which, and probes each feature the design relies on, so the tests skip by capability
(naming the gap) instead of failing on it or passing without having checked it.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest
from bson.decimal128 import Decimal128
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError, WriteError
from pymongo.uri_parser import parse_uri

from polyplan.stores.document import runtime
from polyplan.stores.document.runtime import Examination, Probe
from polyplan.stores.scratch import process_alive, terminate_as_interrupt
from polyplan.testkit import how_to_run, required_engines, unavailable

ENGINE = "mongodb"
SERVER_SELECTION_MS = 5000
# Every wait of the teardown drop: long enough for a loaded server, short enough not to hang a CI job.
CLEANUP_TIMEOUT_MS = 20000
DOCUMENT_VALIDATION_FAILURE = 121
# pptest_<pid of the creating process>_<random hex>: the pid lets a later run tell a database
# whose creator was killed (and so never dropped it) from one that another run is still using.
SCRATCH_NAME = re.compile(r"^pptest_(\d+)_[0-9a-f]{12}$")
PROBE_PREFIX = "polyplan_probe_"
_PASSWORD = re.compile(r"(?<=//)([^:/@]+):[^@/]*@")


def _give_up(why: str, skippable: bool, exit_run: bool) -> NoReturn:
    """Stop: with `exit_run` the whole run in one line if MongoDB is required, else skip (or fail) the test.

    `skippable`: the server is not there (rather than the URL being wrong), so the message says
    how to get one, and outside a required run the test skips.
    """
    if exit_run and ENGINE in required_engines():
        pytest.exit(f"{ENGINE}: {why}" + (f". To run: {how_to_run(ENGINE)}" if skippable else ""), returncode=1)
    if skippable:
        unavailable(ENGINE, why)  # adds how to run
    pytest.fail(f"{ENGINE}: {why}", pytrace=False)


def shown(url: str) -> str:
    """`url` as messages show it: a password in it is masked."""
    return _PASSWORD.sub(r"\1:***@", url)


def _first_error(exc: Exception) -> str:
    """The driver's error without its timeout settings and topology dump."""
    return str(exc).split(" (configured timeouts", 1)[0].split(", Timeout:", 1)[0]


def connect(url: str, exit_run: bool = False) -> MongoClient[Any]:
    """A client for `url` (uuids as standard binary, dates tz-aware), or a skip naming how to get one.

    With `exit_run` a failure to connect stops the whole pytest run (one line) when MongoDB is
    required, instead of failing each test that asked.
    """
    # A timeout written in the URL wins; otherwise do not wait the driver's default 30 s.
    options: dict[str, Any] = {"uuidRepresentation": "standard", "tz_aware": True}
    if "serverselectiontimeoutms" not in url.lower():
        options["serverSelectionTimeoutMS"] = SERVER_SELECTION_MS
    try:
        client: MongoClient[Any] = MongoClient(url, **options)
    except (PyMongoError, ValueError) as exc:  # InvalidURI, ConfigurationError, a bad option: nothing to retry
        _give_up(f"{shown(url)} is not a usable MongoDB URL ({_first_error(exc)})", False, exit_run)
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        waited = client.options.server_selection_timeout
        _give_up(
            f"cannot reach a MongoDB server at {shown(url)} within {waited:g} s ({_first_error(exc)})",
            True,
            exit_run,
        )
    return client


def is_local(url: str) -> bool:
    """Whether every host of `url` is this machine (where a pid tells whether a run still lives)."""
    try:
        hosts = [host for host, _ in parse_uri(url)["nodelist"]]
    except (PyMongoError, ValueError):
        return False
    return bool(hosts) and all(h in ("localhost", "127.0.0.1", "::1", os.uname().nodename) for h in hosts)


def sweep_abandoned(client: MongoClient[Any]) -> list[str]:
    """Drop the scratch databases of killed runs: named by polyplan, their creator gone.

    Only called for servers on this machine, where a pid says whether the creator still runs.
    """
    dropped = []
    for name in sorted(client.list_database_names()):
        match = SCRATCH_NAME.match(name)
        if match and not process_alive(int(match.group(1))):
            client.drop_database(name)
            dropped.append(name)
    return dropped


@contextmanager
def scratch_database(url: str, exit_run: bool = False) -> Iterator[Database[Any]]:
    """A database unique to this run, dropped on exit: after a failure and on SIGTERM too.

    A run killed outright (SIGKILL) leaves it behind; the next run against a server on this
    machine drops it.
    """
    client = connect(url, exit_run)
    name = f"pptest_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    try:
        with terminate_as_interrupt():
            if is_local(url):
                sweep_abandoned(client)
            try:
                yield client[name]
            finally:
                drop_scratch_database(url, name)
    finally:
        client.close()


def drop_scratch_database(url: str, name: str) -> None:
    """Drop `name` through a client of its own, whose every wait is bounded.

    The run's own client cannot be trusted here: SIGTERM (raised as KeyboardInterrupt) may land
    inside one of its driver calls, between the pool's bookkeeping steps, and a later checkout on
    that pool can then wait forever (seen: a terminated run that never exited). A drop that still
    cannot finish leaves the database to the next run's sweep rather than hang the teardown.
    """
    cleaner: MongoClient[Any] = MongoClient(
        url,
        serverSelectionTimeoutMS=CLEANUP_TIMEOUT_MS,
        connectTimeoutMS=CLEANUP_TIMEOUT_MS,
        socketTimeoutMS=CLEANUP_TIMEOUT_MS,
        waitQueueTimeoutMS=CLEANUP_TIMEOUT_MS,
    )
    try:
        cleaner.drop_database(name)
    except PyMongoError as exc:
        warnings.warn(
            f"{ENGINE}: could not drop scratch database {name} ({_first_error(exc)}); the next run sweeps it",
            stacklevel=2,
        )
    finally:
        cleaner.close()


# --- what the server is and what it can do ----------------------------------------------------


def _failure(exc: PyMongoError) -> str:
    """An error in a few stable words: the code name and number (messages carry pointers and ids)."""
    if isinstance(exc, OperationFailure):
        name = (exc.details or {}).get("codeName") or "error"
        return f"{name} (code {exc.code})"
    return f"{type(exc).__name__}: {_first_error(exc)}"


def _probe_validators(db: Database[Any]) -> tuple[bool, str]:
    name = f"{PROBE_PREFIX}validators"
    validator = {"$jsonSchema": {"bsonType": "object", "required": ["x"]}, "$expr": {"$lt": ["$x", 10]}}
    try:
        db.create_collection(name, validator=validator, validationLevel="strict", validationAction="error")
    except OperationFailure as exc:
        return False, f"creating a collection with a validator fails: {_failure(exc)}"
    accepted = []
    for document, rule in (({}, "a required field"), ({"x": 20}, "an $expr rule")):
        try:
            db[name].insert_one(document)
            accepted.append(rule)
        except WriteError as exc:
            if exc.code != DOCUMENT_VALIDATION_FAILURE:
                return False, f"a document breaking {rule} fails with {_failure(exc)}, not code 121"
    if accepted:
        return False, f"accepts a validator but stores documents breaking {' and '.join(accepted)}"
    db[name].insert_one({"x": 1})
    return True, "rejects documents breaking $jsonSchema and $expr with code 121"


def _probe_partial_indexes(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}partial"]
    partial = {"p": {"$exists": True}}
    try:
        collection.create_index([("p", 1)], name="p_1", partialFilterExpression=partial)
    except OperationFailure as exc:
        return False, f"creating an index with partialFilterExpression fails: {_failure(exc)}"
    listed = {i["name"]: i for i in collection.list_indexes()}.get("p_1", {})
    if listed.get("partialFilterExpression") != partial:
        return False, "accepts partialFilterExpression but does not list it on the index"
    return True, "creates and lists partial indexes"


def _probe_ttl_indexes(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}ttl"]
    try:
        collection.create_index([("t", 1)], name="t_1", expireAfterSeconds=3600)
    except OperationFailure as exc:
        return False, f"creating an index with expireAfterSeconds fails: {_failure(exc)}"
    listed = {i["name"]: i for i in collection.list_indexes()}.get("t_1", {})
    if listed.get("expireAfterSeconds") != 3600:
        return False, "accepts expireAfterSeconds but does not list it on the index"
    return True, "creates and lists TTL indexes (expiry timing is not probed)"


def _probe_text_indexes(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}text"]
    try:
        collection.create_index([("s", "text")], name="s_text", default_language="english")
        collection.insert_one({"s": "probing words"})
        found = list(collection.find({"$text": {"$search": "probing"}}))
    except OperationFailure as exc:
        return False, f"a text index or a $text query fails: {_failure(exc)}"
    if len(found) != 1:
        return False, f"a $text query finds {len(found)} documents instead of 1"
    return True, "creates text indexes and answers $text"


def _probe_hashed_indexes(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}hashed"]
    try:
        collection.create_index([("h", "hashed")], name="h_hashed")
    except OperationFailure as exc:
        return False, f"creating a hashed index fails: {_failure(exc)}"
    return True, "creates hashed indexes"


def _probe_decimal128(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}decimal"]
    value = Decimal128("12.50")
    try:
        collection.insert_one({"_id": 1, "d": value})
        stored = collection.find_one({"_id": 1})
    except PyMongoError as exc:  # FerretDB 1.x drops the connection (AutoReconnect)
        return False, f"storing a Decimal128 fails: {_failure(exc)}"
    if stored is None or stored.get("d") != value:
        return False, f"a stored Decimal128 reads back as {stored and stored.get('d')!r}"
    return True, "stores and reads Decimal128"


def _probe_query_plans(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}plans"]
    collection.create_index([("k", 1)], name="k_1")
    collection.insert_one({"k": 1})
    try:
        explained = collection.find({"k": 1}).explain()
    except OperationFailure as exc:
        return False, f"explain fails: {_failure(exc)}"
    if "winningPlan" not in explained.get("queryPlanner", {}):
        shown = sorted(explained.get("queryPlanner", {}))
        return False, f"explain has no queryPlanner.winningPlan (queryPlanner has {shown})"
    return True, "explain reports the winning plan"


def _probe_hints(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}hints"]
    collection.insert_one({"k": 1})
    try:
        list(collection.find({"k": 1}).hint("polyplan_no_such_index"))
    except OperationFailure:
        return True, "refuses a hint to a missing index, so it honours hints"
    return False, "runs a query hinted to an index that does not exist (it ignores hints)"


def _probe_atomic_inc(db: Database[Any]) -> tuple[bool, str]:
    # Imported here: the harness is needed only when a server is examined.
    from polyplan.validate.increments import hammer

    collection = db[f"{PROBE_PREFIX}inc"]
    collection.insert_one({"_id": 1, "n": 0})
    workers, times = 8, 10

    def add() -> None:
        collection.update_one({"_id": 1}, {"$inc": {"n": 1}})

    hammer(add, workers, times)
    stored = collection.find_one({"_id": 1})
    counted = stored.get("n") if stored else None
    if counted != workers * times:
        return False, f"{workers}×{times} concurrent $inc of 1 on one document counted {counted} (updates are lost)"
    return True, f"counts all {workers}×{times} concurrent $inc on one document"


def _probe_lookup(db: Database[Any]) -> tuple[bool, str]:
    children, parents = db[f"{PROBE_PREFIX}lookup_child"], db[f"{PROBE_PREFIX}lookup_parent"]
    parents.insert_one({"_id": 1, "t": "parent"})
    children.insert_one({"_id": 1, "p": 1})
    stage = {"$lookup": {"from": parents.name, "localField": "p", "foreignField": "_id", "as": "found"}}
    try:
        joined = list(children.aggregate([stage]))
    except OperationFailure as exc:
        return False, f"an aggregation with $lookup fails: {_failure(exc)}"
    if [d.get("found") for d in joined] != [[{"_id": 1, "t": "parent"}]]:
        return False, f"$lookup joins {joined!r} instead of the one parent"
    return True, "joins with $lookup"


def _probe_capped(db: Database[Any]) -> tuple[bool, str]:
    name, most, inserted = f"{PROBE_PREFIX}capped", 3, 10
    try:
        db.create_collection(name, capped=True, size=4096, max=most)
        db[name].insert_many([{"_id": i} for i in range(inserted)], ordered=True)
    except OperationFailure as exc:
        return False, f"a capped collection fails: {_failure(exc)}"
    kept = db[name].count_documents({})
    if kept > most:
        return False, f"a capped collection of max {most} holds {kept} documents after {inserted} inserts"
    return True, f"a capped collection of max {most} holds {kept} after {inserted} inserts"


def _probe_group_extremes(db: Database[Any]) -> tuple[bool, str]:
    collection = db[f"{PROBE_PREFIX}group"]
    collection.insert_many([{"g": 1, "v": 3}, {"g": 1, "v": 5}])
    stage = {"$group": {"_id": "$g", "most": {"$max": "$v"}, "least": {"$min": "$v"}}}
    try:
        grouped = list(collection.aggregate([stage]))
    except OperationFailure as exc:
        return False, f"$group with $max and $min fails: {_failure(exc)}"
    if grouped != [{"_id": 1, "most": 5, "least": 3}]:
        return False, f"$group with $max and $min gives {grouped!r}"
    return True, "groups with $max and $min"


PROBES: dict[str, Callable[[Database[Any]], tuple[bool, str]]] = {
    runtime.VALIDATORS: _probe_validators,
    runtime.PARTIAL_INDEXES: _probe_partial_indexes,
    runtime.TTL_INDEXES: _probe_ttl_indexes,
    runtime.TEXT_INDEXES: _probe_text_indexes,
    runtime.HASHED_INDEXES: _probe_hashed_indexes,
    runtime.DECIMAL128: _probe_decimal128,
    runtime.QUERY_PLANS: _probe_query_plans,
    runtime.HINTS: _probe_hints,
    runtime.ATOMIC_INC: _probe_atomic_inc,
    runtime.LOOKUP: _probe_lookup,
    runtime.CAPPED: _probe_capped,
    runtime.GROUP_EXTREMES: _probe_group_extremes,
}
assert set(PROBES) == set(runtime.FEATURES)


def examine(db: Database[Any]) -> Examination:
    """Which server `db` lives on, and each feature probed on a scratch collection of `db`."""
    server = runtime.identify(db.client.admin.command("buildInfo"))
    probes = []
    for feature, probe in PROBES.items():
        try:
            present, detail = probe(db)
        finally:
            for name in db.list_collection_names():
                if name.startswith(PROBE_PREFIX):
                    db.drop_collection(name)
        probes.append(Probe(feature, present, detail))
    return Examination(server, tuple(probes))

"""The only I/O of the MongoDB target: reach a server and work in a throw-away database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from polyplan.testkit import unavailable

SERVER_SELECTION_MS = 5000


def connect(url: str) -> MongoClient[Any]:
    """A client for `url` (uuids as standard binary, dates tz-aware), or a skip naming how to get one."""
    # A timeout written in the URL wins; otherwise do not wait the driver's default 30 s.
    options: dict[str, Any] = {"uuidRepresentation": "standard", "tz_aware": True}
    if "serverselectiontimeoutms" not in url.lower():
        options["serverSelectionTimeoutMS"] = SERVER_SELECTION_MS
    client: MongoClient[Any] = MongoClient(url, **options)
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        unavailable("mongodb", f"{url} did not answer ({exc.__class__.__name__})")
    return client


@contextmanager
def scratch_database(url: str) -> Iterator[Database[Any]]:
    """A database unique to this run, dropped on exit."""
    client = connect(url)
    name = f"pptest_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()

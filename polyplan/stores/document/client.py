"""Reach MongoDB (or a server speaking its protocol) from a URL: one source for polyplan's scripts.

Every generated script that talks to MongoDB (setup.py, migration steps, the verify step of a move,
erasure) carries this code (`polyplan.emit.embed`), so all of them read uuids, dates and the
database name alike and give up on a missing server at the same time. That is why it imports only
the driver, and only when called: a verify script counts two stores of several and needs only
their drivers.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: a script carrying this code imports no more than it needs
    from typing import Any

    from pymongo import MongoClient
    from pymongo.database import Database

MONGODB_SELECTION_MS = 10000  # how long to look for a server (the driver's default is 30 s)


def mongodb_client(url: str) -> "MongoClient[Any]":
    """A client for `url`: uuids as standard binary, tz-aware dates; a timeout written in the URL wins."""
    from pymongo import MongoClient

    timeout: dict[str, Any] = {}
    if "serverselectiontimeoutms" not in url.lower():
        timeout["serverSelectionTimeoutMS"] = MONGODB_SELECTION_MS
    return MongoClient(url, uuidRepresentation="standard", tz_aware=True, **timeout)


def mongodb_database(url: str, name: str | None, default: str) -> "Database[Any]":
    """The database `name` of the server at `url`; without a name, the URL's, else `default`."""
    client = mongodb_client(url)
    return client.get_default_database(default=default) if name is None else client[name]

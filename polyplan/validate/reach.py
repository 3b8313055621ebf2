"""Is the server behind a URL there at all? One TCP connect, before any generated test runs.

`polyplan validate` asks this first so that an unreachable server is one clear line naming the
engine and the URL (exit 1), not a page of errors from every generated test. Protocol-level
problems (wrong server, bad credentials) are left to the tests, which report them precisely.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

DEFAULT_PORTS = {
    "postgresql": 5432,
    "mysql": 3306,
    "redis": 6379,
    "mongodb": 27017,
    "elasticsearch": 9200,
    "opensearch": 9200,
    "cassandra": 9042,
}


def masked(url: str) -> str:
    """`url` with any password replaced by ***, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}").geturl()


def endpoints(engine: str, url: str) -> list[tuple[str, int]]:
    """The host:port pairs `url` names (MongoDB URLs may list several, comma-separated)."""
    parts = urlsplit(url)
    if parts.scheme.endswith("+srv"):
        return []  # resolved through DNS SRV records by the driver: nothing to probe here
    netloc = parts.netloc.rsplit("@", 1)[-1]
    found = []
    for item in netloc.split(","):
        probe = urlsplit(f"//{item}")
        found.append((probe.hostname or "127.0.0.1", probe.port or DEFAULT_PORTS[engine]))
    return found


def unreachable(engine: str, url: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at `url` (None when a server accepts the connection)."""
    if engine not in DEFAULT_PORTS:
        return None
    try:
        targets = endpoints(engine, url)
    except ValueError as error:
        return f"the URL cannot be read ({error})"
    problems = []
    for host, port in targets:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as error:
            problems.append(f"{host}:{port}: {error.strerror or error}")
    return "; ".join(problems) or None

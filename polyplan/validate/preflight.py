"""Before `polyplan validate` runs a single generated test: is the URL for this engine, and does the
server behind it speak this engine's protocol? One line when not, instead of the same error from
every test (issue 13: 87 identical errors for a wrong port or another engine's URL).

`reach.unreachable` answers "does anything listen"; this module answers "is it the right thing":
the URL's scheme against the engine, then one round trip in the engine's own protocol through its
driver (a `SELECT 1`, a PING, a ping command, the search server's root document).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

# The URL schemes each engine's tests accept (SQLAlchemy URLs carry a `+driver` suffix).
SCHEMES = {
    "postgresql": ("postgresql", "postgres"),
    "mysql": ("mysql", "mariadb"),
    "sqlite": ("sqlite",),
    "redis": ("redis", "rediss", "unix"),
    "mongodb": ("mongodb",),
    "elasticsearch": ("http", "https"),
    "opensearch": ("http", "https"),
    "cassandra": ("cassandra",),
}
_ENGINE_OF_SCHEME = {scheme: engine for engine, schemes in SCHEMES.items() for scheme in schemes if scheme != "http"}


def wrong_engine(engine: str, url: str) -> str | None:
    """Why `url` is not a URL for `engine` (None when its scheme fits)."""
    scheme = urlsplit(url).scheme.lower().split("+", 1)[0]
    if scheme in SCHEMES.get(engine, (scheme,)):
        return None
    other = _ENGINE_OF_SCHEME.get(scheme)
    kind = f"a {other} URL" if other else f"a '{scheme}:' URL" if scheme else "not a URL"
    return f"--url is {kind}, but --engine is {engine} (expected {' or '.join(f'{s}://' for s in SCHEMES[engine])})"


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _relational(url: str, timeout: float) -> None:
    import sqlalchemy as sa

    from polyplan.stores.relational.connect import create_engine

    engine = create_engine(url, connect_args={"connect_timeout": int(timeout)})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def _redis(url: str, timeout: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def _mongodb(url: str, timeout: float) -> None:
    from pymongo import MongoClient
    from pymongo.errors import ServerSelectionTimeoutError

    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        client.admin.command("ping")
    except ServerSelectionTimeoutError:
        # pymongo's own message carries the whole topology description: too much for one line.
        raise ValueError(f"no MongoDB server answered within {timeout:g} s") from None
    finally:
        client.close()


def _search(engine: str, url: str, timeout: float) -> None:
    # The root document names the product; read with the standard library so that a wrong server
    # is told apart before either client refuses it in its own words.
    # Imported here: urllib.request pulls in http.client, email and ssl, which every `polyplan`
    # command (even --help) paid for through the CLI's import of the validator.
    import urllib.error
    import urllib.request

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    request = urllib.request.Request(parts._replace(netloc=netloc, path="/", query="").geturl())
    if parts.username is not None:
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(
            request, timeout=timeout
        ) as response:  # http(s) only: wrong_engine checked the scheme
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return  # a server that asks for credentials is there: the tests report the refusal
        raise
    except ValueError as error:
        raise ValueError(f"the answer is not a search server's (not JSON: {error})") from None
    distribution = str(body.get("version", {}).get("distribution", "elasticsearch")) if isinstance(body, dict) else ""
    if not distribution:
        raise ValueError("the answer is not a search server's root document")
    found = "opensearch" if distribution == "opensearch" else "elasticsearch"
    if found != engine:
        raise ValueError(f"the server is {found}, not {engine}")


def handshake(engine: str, url: str, timeout: float = 5.0) -> str | None:
    """Why the server at `url` does not answer as `engine` (None when it does, or when this
    engine has no cheap handshake: Cassandra's driver takes seconds to give up, the TCP probe of
    `reach` stands for it)."""
    try:
        if engine in ("postgresql", "mysql"):
            _relational(url, timeout)
        elif engine == "redis":
            _redis(url, timeout)
        elif engine == "mongodb":
            _mongodb(url, timeout)
        elif engine in ("elasticsearch", "opensearch"):
            _search(engine, url, timeout)
    except Exception as error:  # any failure of the round trip is the answer: reported in one line
        return _first_line(error)
    return None

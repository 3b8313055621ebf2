"""Reach Redis from a URL: one source for polyplan's scripts.

Every generated script that talks to Redis (setup.py, migration steps, the verify step of a move,
erasure) carries this code (`polyplan.emit.embed`), so all of them give up on a missing server
alike, at connecting rather than at their first command. That is why it imports only the driver,
and only when called: a verify script counts two stores of several and needs only their drivers.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: a script carrying this code imports no more than it needs
    import redis

REDIS_CONNECT_SECONDS = 10  # how long to wait for a connection (the driver's default is the OS's)


def redis_client(url: str, **options: object) -> "redis.Redis":
    """A client for `url` that answered PING; `options` go to `Redis.from_url` (decode_responses...)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_CONNECT_SECONDS, **options)
    client.ping()  # a server that is not there fails here, in one line
    return client

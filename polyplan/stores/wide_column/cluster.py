"""Reach Cassandra from a `cassandra://HOST:PORT/DATACENTER` URL: one source for polyplan and its scripts.

The validation runtime (`connect.py`) imports it, and every generated script that talks to
Cassandra (migration steps, the verify step of a move, erasure) carries its code
(`polyplan.emit.embed`), so all of them read the URL and speak the protocol alike. That is why it
imports only the standard library and the driver, and the driver only when called: a verify script
counts two stores of several and needs only their drivers.
"""

from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from cassandra.cluster import Cluster

CASSANDRA_CONNECT_TIMEOUT = 10  # seconds to open a connection


def cassandra_address(url: str) -> tuple[str, int, str]:
    """Host, port and data center of a cassandra:// URL (127.0.0.1, 9042 and datacenter1 by default)."""
    parsed = urlparse(url)
    if parsed.scheme != "cassandra":
        raise ValueError(f"{url} is not a cassandra:// URL (expected cassandra://HOST:PORT/DATACENTER)")
    return parsed.hostname or "127.0.0.1", parsed.port or 9042, parsed.path.strip("/") or "datacenter1"


def cassandra_cluster(url: str, **profile: object) -> "Cluster":
    """A cluster for `url`, not connected yet; `profile` adds ExecutionProfile options (timeouts, row factory)."""
    from cassandra import ProtocolVersion
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy

    host, port, datacenter = cassandra_address(url)
    default = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=datacenter), **profile)
    # Protocol v5 is what 4.1 and 5.0 both speak; naming it spares a downgrade dance (and its warnings).
    return Cluster(
        [host],
        port=port,
        protocol_version=ProtocolVersion.V5,
        execution_profiles={EXEC_PROFILE_DEFAULT: default},
        connect_timeout=CASSANDRA_CONNECT_TIMEOUT,
    )

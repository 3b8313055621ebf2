"""Seeded geo points: clusters around a few places, so that a near or within query selects some
rows and not others, and a query that ignores its geo clause returns rows it must not.

One cluster straddles the antimeridian (Fiji) and one lies near a pole (Svalbard): a fallback
that bounds longitude naively, or wraps it wrongly, misses rows there.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# (lat, lon, spread in degrees): cities apart by thousands of km, tight enough that a radius of a
# few km to a few hundred km holds some of a cluster.
CLUSTERS = (
    (48.8566, 2.3522, 0.15),  # Paris
    (35.6762, 139.6503, 0.3),  # Tokyo
    (-23.5505, -46.6333, 0.5),  # São Paulo
    (6.5244, 3.3792, 1.5),  # Lagos, wide
    (-17.7134, 179.9, 0.8),  # Fiji, across the antimeridian
    (78.2232, 15.6267, 0.6),  # Svalbard, near the pole
)


def geo_maker(rng: random.Random) -> Callable[[], dict[str, float]]:
    """A closure drawing one point {lat, lon} in degrees, rounded to 6 decimals (about 0.1 m)."""

    def draw() -> dict[str, float]:
        lat, lon, spread = CLUSTERS[rng.randrange(len(CLUSTERS))]
        lat = max(-90.0, min(90.0, lat + rng.gauss(0, spread)))
        lon = lon + rng.gauss(0, spread)
        lon = (lon + 180.0) % 360.0 - 180.0  # wrap across the antimeridian
        return {"lat": round(lat, 6), "lon": round(lon, 6)}

    return draw

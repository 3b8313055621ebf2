"""The oracle of geo reads (near, within, a distance sort) for the generated tests.

Cases are built from the seeded rows: a `near` case is centred on a seeded point, with a radius
half-way between the distances of its k-th and (k+1)-th nearest rows, chosen where those differ by
more than the tolerance, so that no row lies near the edge; a `within` case is a box around a
seeded point that holds some rows and not others. A query that ignores the geo clause returns
rows outside the circle or box, or more rows than match, and fails.

Distances are haversine distances at the mean Earth radius (`plan.geo.haversine_m`). PostGIS
measures on the WGS 84 spheroid, up to about 0.5 % apart: rows within GEO_TOLERANCE of the radius
may fall either side, and a distance order may swap rows whose distances differ by less.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polyplan.model.schema import AccessPattern, FilterOp
from polyplan.plan.geo import BOX_PARTS, GEO_OPS, GEO_TOLERANCE, NEAR_PARTS, distance_sorted, haversine_m
from polyplan.stores.relational.spec import QueryParam

Row = dict[str, Any]


@dataclass(frozen=True)
class GeoCase:
    """One parameter set of a geo query and the rows the oracle says it selects."""

    params: dict[str, Any]
    matching: list[Row]  # sure to be selected, nearest first when the pattern sorts by distance
    either: list[Row]  # within the tolerance of the radius: selected or not
    distance: dict[int, float]  # id(row) → distance from the centre (near only)


class MissingGeoParameter(ValueError):
    """A geo query binds no latitude or longitude parameter of its filter (a broken query)."""


def _columns(params: Sequence[QueryParam], op_prefix: str) -> tuple[str, str]:
    lat = next((p.column for p in params if p.op in (f"{op_prefix}_lat", f"{op_prefix}_south")), None)
    lon = next((p.column for p in params if p.op in (f"{op_prefix}_lon", f"{op_prefix}_west")), None)
    if lat is None or lon is None:
        missing = "latitude" if lat is None else "longitude"
        raise MissingGeoParameter(f"the query binds no {missing} parameter of its {op_prefix} filter")
    return lat, lon


def _radii(distances: list[float], limit: int | None) -> list[float]:
    """Radii between consecutive distances (sorted) with a clear gap: a few rows, and (for a
    limited pattern) more rows than the limit."""
    wanted = [3, (limit or 0) + 2, len(distances) // 2]
    radii: list[float] = []
    for k in sorted(set(wanted)):
        for i in range(max(k, 1), len(distances) - 1):
            low, high = distances[i - 1], distances[i]
            if low > 0 and high > low * (1 + 4 * GEO_TOLERANCE):
                radii.append((low + high) / 2)
                break
    return list(dict.fromkeys(radii))


def geo_cases(
    pattern: AccessPattern, params: Sequence[QueryParam], selections: Sequence[tuple[dict[str, Any], list[Row]]]
) -> list[GeoCase] | str:
    """The cases of a geo query, or why none can be built. `selections`: parameter sets of the
    pattern's other filters with the seeded rows (canonical values, by column) each keeps."""
    geo = [f for f in pattern.filters if f.op in GEO_OPS]
    if len(geo) != 1:
        return "the geo oracle covers one near or within filter per pattern"
    flt = geo[0]
    near = flt.op is FilterOp.NEAR
    lat, lon = _columns(params, "near" if near else "box")
    mine = [p for p in params if p.op.startswith("near_" if near else "box_")]
    names = {p.op.split("_", 1)[1]: p.name for p in mine}
    cases: list[GeoCase] = []
    for bound, selected in selections:
        kept = [r for r in selected if r[lat] is not None and r[lon] is not None]
        # Centres spread over the rows (every 7th), deterministic.
        for centre in kept[:: max(1, len(kept) // 7)][:7]:
            if near:
                dist = {id(r): haversine_m(centre[lat], centre[lon], r[lat], r[lon]) for r in kept}
                ordered = sorted(kept, key=lambda r: dist[id(r)])
                for radius in _radii([dist[id(r)] for r in ordered], pattern.limit):
                    sure = [r for r in ordered if dist[id(r)] <= radius * (1 - GEO_TOLERANCE)]
                    either = [r for r in ordered if abs(dist[id(r)] - radius) < radius * GEO_TOLERANCE]
                    values = {names["lat"]: centre[lat], names["lon"]: centre[lon], names["radius_m"]: radius}
                    cases.append(GeoCase({**bound, **values}, sure, either, dist))
            else:
                # A box around the centre, a band of longitude (every latitude: rows beyond east or
                # west only) and a band of latitude (rows beyond north or south only).
                half = 1.0
                boxes = (
                    (centre[lat] - half, centre[lon] - 2 * half, centre[lat] + half, centre[lon] + 2 * half),
                    (-90.0, centre[lon] - 2 * half, 90.0, centre[lon] + 2 * half),
                    (centre[lat] - half, -180.0, centre[lat] + half, 180.0),
                )
                for south, west, north, east in boxes:
                    south, north = max(-90.0, south), min(90.0, north)
                    west, east = max(-180.0, west), min(180.0, east)
                    inside = [r for r in kept if south <= r[lat] <= north and west <= r[lon] <= east]
                    if 0 < len(inside) < len(kept):
                        box = dict(zip((names[p] for p in BOX_PARTS), (south, west, north, east), strict=True))
                        cases.append(GeoCase({**bound, **box}, inside, [], {}))
            if len(cases) >= 6:
                return cases
    if not cases:
        return f"the seeded rows give no {flt.op.value} case that selects some rows and not others"
    return cases


def compare_geo(pattern: AccessPattern, case: GeoCase, got: list[Row], key: str) -> str | None:
    """What is wrong with the rows an engine returned for `case`, or None. `key`: the id column."""
    sure = {r[key] for r in case.matching}
    either = {r[key] for r in case.either}
    returned = [r[key] for r in got]
    if len(set(returned)) != len(returned):
        return f"returned a row twice: {returned}"
    stray = [k for k in returned if k not in sure | either]
    if stray:
        return f"returned {len(stray)} rows outside the {_shape(pattern)}: {stray[:3]}"
    total = len(sure) + len(either)
    if pattern.limit is None:
        missing = sure - set(returned)
        if missing:
            return f"missed {len(missing)} rows inside the {_shape(pattern)}: {sorted(map(str, missing))[:3]}"
    elif not min(pattern.limit, len(sure)) <= len(returned) <= min(pattern.limit, total):
        return f"returned {len(returned)} rows; {min(pattern.limit, len(sure))} expected (limit {pattern.limit})"
    if distance_sorted(pattern) is not None and case.distance:
        by_key = {r[key]: case.distance[id(r)] for r in [*case.matching, *case.either]}
        distances = [by_key[k] for k in returned]
        for before, after in itertools.pairwise(distances):
            if after < before * (1 - GEO_TOLERANCE):
                return f"not nearest first: {before:.1f} m before {after:.1f} m"
        if pattern.limit is not None and returned:
            farthest = max(distances)
            closer = [k for k in sure - set(returned) if by_key[k] < farthest * (1 - GEO_TOLERANCE)]
            if closer:
                return f"left out {len(closer)} nearer rows than the farthest returned ({farthest:.1f} m)"
    return None


def _shape(pattern: AccessPattern) -> str:
    return "radius" if any(f.op is FilterOp.NEAR for f in pattern.filters) else "box"


__all__ = ["BOX_PARTS", "NEAR_PARTS", "GeoCase", "compare_geo", "geo_cases"]

"""Geo points and facets as every store sees them: one place reads `geo_point`, `near`, `within`,
a distance sort and `facets` from the model.

A geo point is a latitude and a longitude in degrees (WGS 84). `near` selects the records within
a radius in metres of a point given at run time, `within` those inside a latitude/longitude box;
a sort on the geo attribute of a `near` filter orders by distance, nearest first. Distances are
great-circle distances on a sphere of the mean Earth radius (haversine): the oracle of the
generated tests, the fallbacks and MariaDB's ST_Distance_Sphere all use this radius; PostGIS,
OpenSearch and MongoDB measure on their own model of the Earth (see GEO_TOLERANCE).

Planning code only: no I/O. The warnings say which pattern a store serves without a spatial
index (PP422), cannot serve (PP423) or cannot count facets for (PP424).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.derived import all_attributes
from polyplan.model.schema import AccessPattern, Attribute, Family, Filter, FilterOp, ObjectStorage, TypeName
from polyplan.plan.ir import Plan

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius R1
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # along a meridian, on that sphere
# PostGIS geography measures on the WGS 84 spheroid and OpenSearch on its own sphere (6,371,008.7714 m
# "arc" distance): a record within this share of the radius from its edge may fall either side.
GEO_TOLERANCE = 0.006

GEO_OPS = (FilterOp.NEAR, FilterOp.WITHIN)
# Parameter suffixes a geo filter binds, in order (the point and radius, or the box).
NEAR_PARTS = ("lat", "lon", "radius_m")
BOX_PARTS = ("south", "west", "north", "east")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(half)))


def as_columns(attribute: Attribute) -> Attribute:
    """A geo point as the object a relational store flattens into two columns, `<name>_lat` and
    `<name>_lon` (double precision, range-checked): what the application writes everywhere, and
    what a spatial column (PostGIS, MariaDB) is derived from."""
    fields = {
        "lat": Attribute(type=TypeName.FLOAT, min=-90, max=90, description="Latitude in degrees (WGS 84)."),
        "lon": Attribute(type=TypeName.FLOAT, min=-180, max=180, description="Longitude in degrees (WGS 84)."),
    }
    return Attribute(
        type=TypeName.OBJECT,
        fields=fields,
        storage=ObjectStorage.COLUMNS,
        nullable=attribute.nullable,
        description=attribute.description or "Geo point.",
        pii=attribute.pii,
    )


def geo_filters(pattern: AccessPattern) -> list[Filter]:
    """The pattern's near and within filters."""
    return [f for f in pattern.filters if f.op in GEO_OPS]


def is_geo_filter(flt: Filter) -> bool:
    """Whether a filter is near or within."""
    return flt.op in GEO_OPS


def is_geo(pattern: AccessPattern) -> bool:
    """Whether a read selects by location."""
    return any(f.op in GEO_OPS for f in pattern.filters)


def distance_sorted(pattern: AccessPattern) -> str | None:
    """The geo attribute a pattern sorts by distance on (nearest first), or None."""
    near = {f.attribute for f in pattern.filters if f.op is FilterOp.NEAR}
    return next((s.attribute for s in pattern.sort if s.attribute in near), None)


@dataclass(frozen=True)
class Serving:
    """Which family serves a read in production: its system of record or a search projection."""

    family: Family
    engine: str


def serving(plan: Plan, pattern: AccessPattern) -> Serving | None:
    """The store that answers `pattern`, or None when its entity is not planned."""
    decided = plan.entities.get(pattern.entity)
    if decided is None:
        return None
    for projection in decided.projections:
        if pattern.name in projection.patterns and projection.family is Family.SEARCH:
            return Serving(Family.SEARCH, projection.engine)
    engine = plan.model.engines.engine_for(decided.family) or ""
    return Serving(decided.family, engine)


def _spatial_fallback(plan: Plan, engine: str) -> str | None:
    """Why a relational engine serves geo filters without a spatial index, or None."""
    if engine == "postgresql" and not plan.model.options.postgis:
        return (
            "options.postgis is false: lat/lon columns with a B-tree latitude prefilter and an exact haversine "
            "check; PostGIS (geography(Point,4326), a GiST index and ST_DWithin) would serve it better"
        )
    if engine == "sqlite":
        return (
            "SQLite: lat/lon columns with a B-tree latitude prefilter and an exact haversine check (no spatial "
            "index is kept; PostgreSQL with PostGIS or MariaDB's SPATIAL index would serve it better)"
        )
    return None


# What each non-relational, non-search family does with a geo read (none has a design here yet).
_NO_GEO = {
    Family.DOCUMENT: "a 2dsphere index with $nearSphere/$geoWithin is not designed by polyplan yet; a search "
    "projection (geo_point, geo_distance) or PostgreSQL with PostGIS would serve it",
    Family.CACHE: "Redis keeps records by key here (GEOSEARCH is not designed for a record store); a search projection "
    "or PostgreSQL with PostGIS would serve it",
    Family.WIDE_COLUMN: "Cassandra has no spatial index: a geohash-prefix bucketed table is not designed; a search "
    "projection or PostgreSQL with PostGIS would serve it",
}


def geo_warnings(plan: Plan) -> list[Diagnostic]:
    """PP422 for a geo read a relational store serves without a spatial index, PP423 for one a store
    cannot serve, PP424 for facets a store cannot count, one per pattern."""
    found: list[Diagnostic] = []
    for index, pattern in enumerate(plan.model.access_patterns):
        served = serving(plan, pattern)
        if served is None:
            continue
        path = f"access_patterns.{index}"
        if is_geo(pattern):
            if served.family is Family.RELATIONAL:
                why = _spatial_fallback(plan, served.engine)
                if why is not None:
                    found.append(Diagnostic("PP422", f"{pattern.name}: {why}", f"{path}.filters", Severity.WARNING))
            elif served.family in _NO_GEO:
                found.append(
                    Diagnostic(
                        "PP423", f"{pattern.name}: {_NO_GEO[served.family]}", f"{path}.filters", Severity.WARNING
                    )
                )
        if pattern.facets and served.family not in (Family.SEARCH, Family.RELATIONAL):
            found.append(
                Diagnostic(
                    "PP424",
                    f"{pattern.name}: the {served.family.value} store returns the rows and the application counts the "
                    f"facets {', '.join(pattern.facets)}; a search projection counts them as terms aggregations",
                    f"{path}.facets",
                    Severity.WARNING,
                )
            )
    return found


def geo_attributes(plan: Plan, entity: str) -> list[str]:
    """The entity's geo point attributes, in model order."""
    return [n for n, a in all_attributes(plan.model, entity).items() if a.type is TypeName.GEO_POINT]

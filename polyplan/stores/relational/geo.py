"""Geo points in the relational stores: columns, spatial indexes and the near/within queries.

Every engine stores a geo point as two columns, `<name>_lat` and `<name>_lon` (what the
application writes, range-checked; see `plan.geo.as_columns`). What serves a geo filter differs:

- PostgreSQL with PostGIS (`options.postgis`, the default): a generated
  `<name>_geog geography(Point,4326)` column with a GiST index; `near` is ST_DWithin (index
  assisted), the distance sort is the KNN operator `<->`.
- MariaDB/MySQL: a `<name>_point POINT REF_SYSTEM_ID=4326 NOT NULL` column kept from the pair by
  BEFORE INSERT/UPDATE triggers (MariaDB refuses a SPATIAL index on a generated column, which
  cannot be NOT NULL), with a SPATIAL index; `near` is an MBRIntersects latitude band (the index)
  and ST_Distance_Sphere at the mean Earth radius; a nullable point has no spatial column
  (a SPATIAL index needs NOT NULL) and takes the fallback.
- The fallback (PostgreSQL without PostGIS, SQLite, a nullable point on MariaDB): a B-tree index
  on (lat, lon), a latitude band from the radius (correct at the poles and across the
  antimeridian, unlike a longitude band) and the exact haversine test, compared as
  hav <= sin²(r / 2R) so that no asin of a rounding error past 1 is ever taken.

`within` is a latitude/longitude box (south <= lat <= north, west <= lon <= east, west <= east)
everywhere, on the B-tree (MariaDB: an MBRIntersects prefilter on the SPATIAL index first).

SQLAlchemy has no spatial types of its own; GeoAlchemy2 would add a dependency for two column
types and four functions, so the two types below are SQLAlchemy UserDefinedTypes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, UserDefinedType

from polyplan.model.schema import AccessPattern, FilterOp
from polyplan.plan.geo import BOX_PARTS, EARTH_RADIUS_M, GEO_OPS, METRES_PER_DEGREE, NEAR_PARTS, geo_filters
from polyplan.stores.relational.design import GEO_POINTS, POSTGIS, fit
from polyplan.stores.relational.spec import IndexKind, Query, QueryParam, TableSpec

SRID = 4326


class Geography(UserDefinedType[Any]):
    """PostGIS `geography(Point,4326)`."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return f"geography(Point,{SRID})"


class SpatialPoint(UserDefinedType[Any]):
    """MariaDB/MySQL `POINT REF_SYSTEM_ID=4326`."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return f"POINT REF_SYSTEM_ID={SRID}"


@dataclass(frozen=True)
class GeoColumns:
    """One geo point of a table: its lat/lon columns and the spatial column an engine adds."""

    attribute: str
    lat: str
    lon: str
    nullable: bool
    boxed: bool  # a `within` filter reads it: PostGIS's box is the (lat, lon) B-tree's

    def spatial(self, engine: str, postgis: bool) -> str | None:
        """The spatial column `engine` keeps for this point, or None (the fallback)."""
        if engine == "postgresql" and postgis:
            return f"{self.attribute}_geog"
        if engine == "mysql" and not self.nullable:
            return f"{self.attribute}_point"
        return None


def geo_columns(spec: TableSpec) -> list[GeoColumns]:
    """The geo points of an entity table."""
    points = spec.extra.get(GEO_POINTS) or {}
    return [
        GeoColumns(name, lat, lon, bool(nullable), bool(boxed))
        for name, (lat, lon, nullable, boxed) in sorted(points.items())
    ]


def _latlon_index(table: str, point: GeoColumns, engine: str, postgis: bool) -> str | None:
    """The name of the point's B-tree on (lat, lon), when `engine` creates one: the latitude band
    of the fallback, and PostGIS's `within` box (a lat/lon box, which a geography's geodesic
    edges would not match)."""
    if point.spatial(engine, postgis) is None or (engine == "postgresql" and point.boxed):
        return fit(f"ix_{table}_{point.attribute}_latlon")
    return None


def geo_index_names(spec: TableSpec, engine: str) -> list[str]:
    """Every index `attach_geo` creates on the table for `engine` (B-tree, GiST or SPATIAL): the
    generated catalog check compares them with the design like the designed indexes."""
    postgis = bool(spec.extra.get(POSTGIS, True))
    names: list[str] = []
    for point in geo_columns(spec):
        latlon = _latlon_index(spec.name, point, engine, postgis)
        spatial = point.spatial(engine, postgis)
        names += [latlon] if latlon is not None else []
        names += [fit(f"ix_{spec.name}_{spatial}")] if spatial is not None else []
    return names


def attach_geo(table: sa.Table, spec: TableSpec, engine: str) -> None:
    """Add each geo point's spatial column, index and (MariaDB) triggers to `table` for `engine`."""
    postgis = bool(spec.extra.get(POSTGIS, True))
    for point in geo_columns(spec):
        spatial = point.spatial(engine, postgis)
        lat, lon = table.c[point.lat], table.c[point.lon]
        latlon = _latlon_index(table.name, point, engine, postgis)
        if latlon is not None:
            sa.Index(latlon, lat, lon)
        if spatial is None:
            continue
        index = fit(f"ix_{table.name}_{spatial}")
        if engine == "postgresql":
            source = f"ST_SetSRID(ST_MakePoint({_q(lon.name)}, {_q(lat.name)}), {SRID})::geography"
            table.append_column(
                sa.Column(
                    spatial,
                    Geography(),
                    sa.Computed(source, persisted=True),
                    comment=f"geo point {point.attribute} for its GiST index (generated from {lat.name}, {lon.name})",
                )
            )
            sa.Index(index, table.c[spatial], postgresql_using="gist")
            continue
        table.append_column(
            sa.Column(
                spatial,
                SpatialPoint(),
                nullable=False,
                comment=f"geo point {point.attribute} for its SPATIAL index (set from {lat.name}, {lon.name} by triggers)",
            )
        )
        sa.Index(index, table.c[spatial], mysql_prefix="SPATIAL")
        for when, letter in (("INSERT", "i"), ("UPDATE", "u")):
            trigger = fit(f"trg_{table.name}_{point.attribute}_b{letter}")
            ddl = (
                f"CREATE TRIGGER `{trigger}` BEFORE {when} ON `{table.name}` FOR EACH ROW "
                f"SET NEW.`{spatial}` = ST_GeomFromWKB(ST_AsWKB(Point(NEW.`{lon.name}`, NEW.`{lat.name}`)), {SRID})"
            )
            # Names are model identifiers (no backquote, no %): quoted as is.
            trigger_ddl = sa.DDL(ddl).execute_if(dialect="mysql")  # type: ignore[no-untyped-call]
            sa.event.listen(table, "after_create", trigger_ddl)
    if engine == "postgresql" and postgis and geo_columns(spec):
        extension = sa.DDL("CREATE EXTENSION IF NOT EXISTS postgis")  # type: ignore[no-untyped-call]
        sa.event.listen(table, "before_create", extension.execute_if(dialect="postgresql"))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _number(value: float) -> ColumnElement[Any]:
    # Written into the SQL as is: a bound constant would be inlined as an integer (LIMIT's rule).
    return sa.literal_column(repr(float(value)), sa.Double())


def _div(left: ColumnElement[Any], right: ColumnElement[Any]) -> ColumnElement[Any]:
    # A plain `/`: SQLAlchemy's true division casts the divisor on PostgreSQL, noise in the SQL.
    return left.op("/", return_type=sa.Double())(right)


def _mbr(box: ColumnElement[Any], column: ColumnElement[Any]) -> ColumnElement[bool]:
    # The bare function as the predicate: MariaDB uses a SPATIAL index for MBRIntersects(...)
    # and not for MBRIntersects(...) = 1.
    return sa.func.MBRIntersects(box, column, type_=NullType())  # a Boolean would render "= 1" here


def _param(name: str) -> sa.BindParameter[float]:
    return sa.bindparam(name, type_=sa.Double())


def geo_params(pattern: AccessPattern, spec: TableSpec, taken: set[str]) -> list[QueryParam]:
    """The parameters of the pattern's geo filters: (near_lat, near_lon, near_radius_m) or
    (box_south, box_west, box_north, box_east), named `<attribute>_<part>`."""
    from polyplan.stores.relational.render import param_name

    points = {p.attribute: p for p in geo_columns(spec)}
    params: list[QueryParam] = []
    for flt in geo_filters(pattern):
        point = points[flt.attribute]
        near = flt.op is FilterOp.NEAR
        for part in NEAR_PARTS if near else BOX_PARTS:
            column = point.lon if part in ("lon", "west", "east") else point.lat
            op = f"{'near' if near else 'box'}_{part}"
            params.append(QueryParam(param_name(flt.attribute, taken, part), column, op))
    return params


def _haversine(table: sa.Table, point: GeoColumns, binds: dict[str, Any]) -> ColumnElement[Any]:
    """The haversine term hav(d/R) of each row's distance from the bound point (monotone in d)."""
    lat, lon = table.c[point.lat], table.c[point.lon]
    f = sa.func
    half = _number(2)
    return f.power(f.sin(_div(f.radians(lat - binds["lat"]), half)), 2) + f.cos(f.radians(binds["lat"])) * f.cos(
        f.radians(lat)
    ) * f.power(f.sin(_div(f.radians(lon - binds["lon"]), half)), 2)


def geo_predicates(
    table: sa.Table, spec: TableSpec, engine: str, pattern: AccessPattern, params: list[QueryParam]
) -> tuple[list[ColumnElement[bool]], dict[str, ColumnElement[Any]]]:
    """The WHERE terms of the pattern's geo filters and, per near attribute, the distance order."""
    postgis = bool(spec.extra.get(POSTGIS, True))
    points = {p.attribute: p for p in geo_columns(spec)}
    terms: list[ColumnElement[bool]] = []
    order: dict[str, ColumnElement[Any]] = {}
    f = sa.func
    taken = iter(params)
    for flt in geo_filters(pattern):
        point = points[flt.attribute]
        parts = NEAR_PARTS if flt.op is FilterOp.NEAR else BOX_PARTS
        mine = [next(taken) for _ in parts]
        binds = {part: _param(p.name) for part, p in zip(parts, mine, strict=True)}
        lat, lon = table.c[point.lat], table.c[point.lon]
        spatial = point.spatial(engine, postgis)
        if flt.op is FilterOp.WITHIN:
            if spatial is not None and engine == "mysql":
                box = f.ST_Envelope(
                    f.LineString(f.Point(binds["west"], binds["south"]), f.Point(binds["east"], binds["north"]))
                )
                terms.append(_mbr(box, table.c[spatial]))
            terms += [lat.between(binds["south"], binds["north"]), lon.between(binds["west"], binds["east"])]
            continue
        band = _div(binds["radius_m"], _number(METRES_PER_DEGREE))
        if spatial is not None and engine == "postgresql":
            centre = sa.cast(
                f.ST_SetSRID(f.ST_MakePoint(binds["lon"], binds["lat"]), sa.literal_column(str(SRID))), Geography()
            )
            terms.append(f.ST_DWithin(table.c[spatial], centre, binds["radius_m"]))
            order[flt.attribute] = table.c[spatial].op("<->")(centre)
        elif spatial is not None:  # MariaDB/MySQL
            box = f.ST_Envelope(
                f.LineString(f.Point(_number(-180), binds["lat"] - band), f.Point(_number(180), binds["lat"] + band))
            )
            distance = f.ST_Distance_Sphere(
                table.c[spatial], f.Point(binds["lon"], binds["lat"]), _number(EARTH_RADIUS_M)
            )
            terms += [_mbr(box, table.c[spatial]), distance <= binds["radius_m"]]
            order[flt.attribute] = distance
        else:
            hav = _haversine(table, point, binds)
            terms += [
                lat.between(binds["lat"] - band, binds["lat"] + band),
                hav <= f.power(f.sin(_div(binds["radius_m"], _number(2 * EARTH_RADIUS_M))), 2),
            ]
            order[flt.attribute] = hav
    return terms, order


def geo_query(
    pattern: AccessPattern, spec: TableSpec, table: sa.Table, dialect: Any, notes: tuple[str, ...]
) -> Query | str:
    """The SQL of a read with near/within filters (its other filters as a plain read has them),
    or the reason it cannot be written against this table."""
    # render.py builds on this module for its tables: imported here, not at the top.
    from polyplan.stores.relational.render import (
        column_for,
        compiled_text,
        filter_conditions,
        query_columns,
        where_clause,
    )

    columns = query_columns(pattern, spec)
    if columns is None:
        return "it reads an attribute stored in another table"
    taken: set[str] = set()
    built = filter_conditions([f for f in pattern.filters if f.op not in GEO_OPS], pattern.entity, spec, taken)
    if isinstance(built, str):
        return built
    params, conditions = built
    geo = geo_params(pattern, spec, taken)
    terms, distances = geo_predicates(table, spec, dialect.name, pattern, geo)
    searched = [column_for(spec, pattern.entity, f.attribute) for f in pattern.filters if f.op is FilterOp.FULLTEXT]
    fulltext = [c for c in searched if c is not None]
    indexes = [i for i in spec.indexes if i.kind is IndexKind.FULLTEXT]
    statement = sa.select(*[table.c[c] for c in columns]).where(
        *where_clause(conditions, table, dialect, fulltext, indexes), *terms
    )
    for item in pattern.sort:
        if item.attribute in distances:
            statement = statement.order_by(distances[item.attribute].asc())
            continue
        name = column_for(spec, pattern.entity, item.attribute)
        if name is None:
            return f"it sorts on {item.attribute}, which is not a column of {spec.name}"
        statement = statement.order_by(table.c[name].desc() if item.direction.value == "desc" else table.c[name].asc())
    if pattern.limit is not None:
        statement = statement.limit(pattern.limit)
    all_params = [*params, *geo]
    sql = compiled_text(statement, dialect, {p.name for p in all_params})
    kinds = ", ".join(f"{f.attribute} {f.op.value}" for f in geo_filters(pattern))
    return Query(
        pattern.name, pattern.entity, spec.name, tuple(columns), tuple(all_params), sql, (*notes, f"geo: {kinds}")
    )

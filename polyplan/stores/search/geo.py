"""Geo filters, the distance sort and facets in a search template (pure).

- `near` → `geo_distance` (a radius in metres around `{lat, lon}`), nearest first with a
  `_geo_distance` sort (arc distance, in metres) when the pattern sorts on the point;
- `within` → `geo_bounding_box` (top_left = north/west, bottom_right = south/east);
- `facets` → one `terms` aggregation per attribute (`facet_<name>`), `facet_size` buckets, on
  the keyword field with doc values (`mapping.facet_field`): counts beside the hits.

Parameter names follow the relational queries' (`<attr>_lat`, `<attr>_radius_m`, `<attr>_south`):
one name per meaning in every store's artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from polyplan.model.schema import AccessPattern, Filter, FilterOp
from polyplan.plan.geo import BOX_PARTS, NEAR_PARTS
from polyplan.stores.search.mapping import facet_field

if TYPE_CHECKING:
    from polyplan.stores.search.queries import QueryParam

GEO_DISTANCE = "_geo_distance"  # the sort key of a distance order


def geo_clause(
    flt: Filter, base: str, kind: str, name_for: Callable[[str], str], one: Callable[[str], str]
) -> tuple[list[QueryParam], dict[str, Any]]:
    """The parameters and the filter clause of one near or within filter."""
    from polyplan.stores.search.queries import QueryParam

    near = flt.op is FilterOp.NEAR
    parts = NEAR_PARTS if near else BOX_PARTS
    names = {part: name_for(f"{base}_{part}") for part in parts}
    prefix = "near" if near else "box"
    params = [QueryParam(names[part], flt.attribute, f"{prefix}_{part}", kind) for part in parts]
    if near:
        point = {"lat": one(names["lat"]), "lon": one(names["lon"])}
        # A number without a unit is metres (the default distance unit).
        return params, {"geo_distance": {"distance": one(names["radius_m"]), flt.attribute: point}}
    box = {
        "top_left": {"lat": one(names["north"]), "lon": one(names["west"])},
        "bottom_right": {"lat": one(names["south"]), "lon": one(names["east"])},
    }
    return params, {"geo_bounding_box": {flt.attribute: box}}


def distance_sort(pattern: AccessPattern, params: list[QueryParam], one: Callable[[str], str]) -> dict[str, Any]:
    """The `_geo_distance` sort from the near filter's point, nearest first, in metres."""
    attribute = next(f.attribute for f in pattern.filters if f.op is FilterOp.NEAR)
    lat = next(p.name for p in params if p.attribute == attribute and p.op == "near_lat")
    lon = next(p.name for p in params if p.attribute == attribute and p.op == "near_lon")
    return {
        GEO_DISTANCE: {
            attribute: {"lat": one(lat), "lon": one(lon)},
            "order": "asc",
            "unit": "m",
            "distance_type": "arc",
        }
    }


def facet_aggregations(pattern: AccessPattern, mappings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One terms aggregation per facet: the `facet_size` most frequent values and their counts."""
    return {
        f"facet_{name}": {"terms": {"field": facet_field(name, mappings[name]), "size": pattern.facet_size}}
        for name in pattern.facets
    }

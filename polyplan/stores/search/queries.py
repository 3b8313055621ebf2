"""Access patterns → search templates (pure).

Each served pattern becomes a stored mustache search template. How a parameter is inserted is
the engine's (`SearchEngine.placeholder`): Elasticsearch inserts every one with
`{{#toJson}}name{{/toJson}}` so that strings, numbers and lists keep their JSON type, which is why
the template source is a string rather than a JSON object (Elasticsearch accepts both); OpenSearch
does so only for lists. Ranges are half-open: `<attr>_from` inclusive, `<attr>_to` exclusive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from polyplan.model.derived import snake
from polyplan.model.ranges import ONE_SIDED
from polyplan.model.schema import AccessPattern, Attribute, FilterOp
from polyplan.plan.geo import GEO_OPS, distance_sorted
from polyplan.stores.search.engines import Placeholder, SearchEngine
from polyplan.stores.search.geo import GEO_DISTANCE, distance_sort, facet_aggregations, geo_clause
from polyplan.stores.search.mapping import exact_field

DEFAULT_SIZE = 100  # a pattern without a limit still gets a bounded page

# Only the strings this module writes are unquoted: a parameter, or the size with its default.
_PLACEHOLDER = re.compile(r'"(\{\{#toJson\}\}\w+\{\{/toJson\}\}|\{\{size\}\}\{\{\^size\}\}\d+\{\{/size\}\})"')

# A stand-in's escape, not preceded by an escaped backslash (`\\u0000` is a model's own text).
_STAND_IN = re.compile(r"(?<!\\)((?:\\\\)*)\\u000([01])")

# A one-sided bound's parameter kind → its range query key.
SEARCH_BOUNDS = {"from": "gte", "above": "gt", "to": "lt", "through": "lte"}


@dataclass(frozen=True)
class QueryParam:
    """One parameter the caller supplies."""

    name: str
    attribute: str
    op: str  # eq, in, range_from, range_to, prefix, fulltext, near_lat/lon/radius_m, box_south/west/north/east
    type: str  # the portable type of the attribute


@dataclass(frozen=True)
class SearchQuery:
    """The search template of one access pattern."""

    pattern: str
    template_id: str
    params: tuple[QueryParam, ...]
    body: dict[str, Any]  # with the engine's placeholders (e.g. "{{#toJson}}p{{/toJson}}") where parameters go
    size: int
    constants: tuple[tuple[str, Any], ...]  # attribute → constant value(s) every hit must have
    sort: tuple[tuple[str, str], ...]  # (field, direction)


def _hide_braces(value: Any) -> Any:
    # NUL and SOH cannot occur in a model value (the loader refuses control characters), and
    # json.dumps always writes them as \u0000 and \u0001: stand-ins for braces to escape later.
    if isinstance(value, Placeholder):
        return value
    if isinstance(value, str):
        return value.replace("{", "\x00").replace("}", "\x01")
    if isinstance(value, dict):
        return {_hide_braces(k): _hide_braces(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_hide_braces(v) for v in value]
    return value


def template_source(body: dict[str, Any]) -> str:
    """The mustache template text: the body as compact JSON with parameters unquoted.

    Mustache has no escape for a literal `{{`; JSON has one for any character. So every brace
    in a string that is not one of our placeholders is written as a JSON escape (\u007b,
    \u007d): mustache passes it through, and the engine's JSON parser reads it as the brace.
    """
    text = json.dumps(_hide_braces(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = _STAND_IN.sub(lambda m: m.group(1) + ("\\u007b" if m.group(2) == "0" else "\\u007d"), text)
    return _PLACEHOLDER.sub(r"\1", text)


def build_query(
    index: str,
    pattern: AccessPattern,
    attributes: dict[str, Attribute],
    mappings: dict[str, dict[str, Any]],
    engine: SearchEngine,
    expiry_field: str | None = None,
) -> SearchQuery:
    """The `engine` search template for `pattern` over an index whose fields are `mappings`; with
    `expiry_field`, a document whose record has expired (that instant is past) never matches."""
    one, many = engine.placeholder, engine.list_placeholder
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    params: list[QueryParam] = []
    constants: list[tuple[str, Any]] = []
    used: set[str] = set()

    def name_for(base: str) -> str:
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        return candidate

    for flt in pattern.filters:
        attr = flt.attribute
        kind = attributes[attr].type.value
        field = exact_field(attr, mappings[attr])
        base = snake(attr) or "p"
        if flt.value is not None:
            values = flt.value if isinstance(flt.value, list) else [flt.value]
            filters.append({"terms": {field: values}} if flt.op is FilterOp.IN else {"term": {field: flt.value}})
            constants.append((attr, values))
        elif flt.op is FilterOp.EQ:
            name = name_for(base)
            params.append(QueryParam(name, attr, "eq", kind))
            filters.append({"term": {field: one(name)}})
        elif flt.op is FilterOp.IN:
            name = name_for(f"{base}_values")
            params.append(QueryParam(name, attr, "in", kind))
            filters.append({"terms": {field: many(name)}})
        elif flt.op is FilterOp.RANGE:
            low, high = name_for(f"{base}_from"), name_for(f"{base}_to")
            params += [QueryParam(low, attr, "range_from", kind), QueryParam(high, attr, "range_to", kind)]
            filters.append({"range": {field: {"gte": one(low), "lt": one(high)}}})
        elif flt.op in ONE_SIDED:
            bound = ONE_SIDED[flt.op][0]
            name = name_for(f"{base}_{bound}")
            params.append(QueryParam(name, attr, f"range_{bound}", kind))
            filters.append({"range": {field: {SEARCH_BOUNDS[bound]: one(name)}}})
        elif flt.op is FilterOp.PREFIX:
            name = name_for(f"{base}_prefix")
            params.append(QueryParam(name, attr, "prefix", kind))
            filters.append({"prefix": {field: {"value": one(name), "case_insensitive": True}}})
        elif flt.op in GEO_OPS:
            geo_params, clause = geo_clause(flt, base, kind, name_for, one)
            params += geo_params
            filters.append(clause)
        else:  # full text: analysed match, all words required, typo-tolerant
            name = name_for(f"{base}_query")
            params.append(QueryParam(name, attr, "fulltext", kind))
            must.append({"match": {attr: {"query": one(name), "operator": "and", "fuzziness": "AUTO"}}})
    if expiry_field is not None:
        # The record expired in its store without an event: never answer it, even before the purge.
        filters.append({"range": {expiry_field: {"gt": "now"}}})
    size = pattern.limit or DEFAULT_SIZE
    bool_query: dict[str, Any] = {}
    if must:
        bool_query["must"] = must
    if filters:
        bool_query["filter"] = filters
    body: dict[str, Any] = {
        "query": {"bool": bool_query} if bool_query else {"match_all": {}},
        # A caller may pass `size` (e.g. a test looking past the first page); the limit is the default.
        "size": Placeholder("{{size}}{{^size}}" + str(size) + "{{/size}}"),
    }
    by_distance = distance_sorted(pattern)
    sort = tuple(
        (
            GEO_DISTANCE if s.attribute == by_distance else exact_field(s.attribute, mappings[s.attribute]),
            s.direction.value,
        )
        for s in pattern.sort
    )
    if sort:
        body["sort"] = [
            distance_sort(pattern, params, one) if field == GEO_DISTANCE else {field: {"order": direction}}
            for field, direction in sort
        ]
    if pattern.facets:
        body["aggs"] = facet_aggregations(pattern, mappings)
    if pattern.reads:
        body["_source"] = {"includes": list(pattern.reads)}
    return SearchQuery(
        pattern=pattern.name,
        template_id=f"{index}-{pattern.name}",
        params=tuple(params),
        body=body,
        size=size,
        constants=tuple(constants),
        sort=sort,
    )

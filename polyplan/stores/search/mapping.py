"""Portable attributes → Elasticsearch 8 field mappings (pure).

Rules, in the order they are applied:
- a string or text attribute searched by a full-text filter is `text` with the language analyzer,
  plus a `raw` keyword sub-field (multi-field) for sorting, aggregations and exact filters;
- other strings are `keyword` with a lowercase/ASCII-folding normalizer, so exact filters on
  codes, e-mails and names ignore case;
- `text` attributes not searched are still analysed `text` (they are prose), with `raw` only when
  a pattern filters or sorts on them exactly;
- uuids and enums are plain `keyword` (their values are canonical already);
- decimals become `scaled_float` (exact to their scale), JSON is kept in `_source` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyplan.diagnostics import Diagnostic, Severity
from polyplan.model.schema import COLLECTION_TYPES, Attribute, TypeName

# Lucene refuses terms above 32 766 bytes; at 4 bytes per UTF-8 character that is 8 191 characters.
KEYWORD_MAX_CHARS = 8191
# A long holds 18 decimal digits safely; scaled_float stores value × 10^scale in a long.
SCALED_FLOAT_MAX_PRECISION = 18

NORMALIZER = "pp_lowercase"


def analyzer_name(language: str) -> str:
    """Name of the custom analyzer for one language, e.g. `pp_english`."""
    return f"pp_{language}"


def analysis_settings(languages: list[str]) -> dict[str, Any]:
    """Index analysis settings: the lowercase normalizer and one analyzer per language.

    Each analyzer is the built-in language analyzer rebuilt from its parts (as the Elasticsearch
    reference shows) so that synonyms or keyword markers can be added to it without a reindex of
    the template logic; `asciifolding` makes "café" match "cafe".
    """
    filters: dict[str, Any] = {}
    analyzers: dict[str, Any] = {}
    for language in sorted(set(languages)):
        filters[f"pp_{language}_stop"] = {"type": "stop", "stopwords": f"_{language}_"}
        filters[f"pp_{language}_stemmer"] = {"type": "stemmer", "language": language}
        analyzers[analyzer_name(language)] = {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", f"pp_{language}_stop", f"pp_{language}_stemmer"],
        }
    return {
        "analysis": {
            "analyzer": analyzers,
            "filter": filters,
            "normalizer": {NORMALIZER: {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
        }
    }


@dataclass(frozen=True)
class FieldUse:
    """How the served patterns use one top-level attribute."""

    fulltext: bool = False
    exact: bool = False  # eq / in / sort on the attribute itself
    facet: bool = False  # counted per value by a pattern's facets: a keyword with doc values, as written


def _raw_subfield(attribute: Attribute) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": "keyword"}
    limit = attribute.max_length if attribute.type is TypeName.STRING else None
    if limit is None or limit > KEYWORD_MAX_CHARS:
        raw["ignore_above"] = KEYWORD_MAX_CHARS
    return raw


def field_mapping(
    attribute: Attribute, use: FieldUse, language: str, path: str, notes: list[Diagnostic]
) -> dict[str, Any]:
    """The mapping of one attribute; substitutions are appended to `notes`."""
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT):
        if use.fulltext or kind is TypeName.TEXT:
            mapping: dict[str, Any] = {"type": "text", "analyzer": analyzer_name(language)}
            if kind is TypeName.STRING or use.exact:
                mapping["fields"] = {"raw": _raw_subfield(attribute)}
            return mapping
        keyword: dict[str, Any] = {"type": "keyword", "normalizer": NORMALIZER}
        if attribute.max_length is not None and attribute.max_length > KEYWORD_MAX_CHARS:
            keyword["ignore_above"] = KEYWORD_MAX_CHARS
        if use.facet:
            # The normalizer would count "ACME" and "acme" as one lowercased bucket: facets count
            # the values as written, from the `raw` sub-field (doc values, not normalized).
            keyword["fields"] = {"raw": _raw_subfield(attribute)}
        return keyword
    if kind in (TypeName.UUID, TypeName.ENUM):
        return {"type": "keyword"}
    if kind is TypeName.INTEGER:
        return {"type": {16: "short", 32: "integer", 64: "long"}[attribute.bits]}
    if kind is TypeName.DECIMAL:
        precision = attribute.precision or SCALED_FLOAT_MAX_PRECISION
        if precision <= SCALED_FLOAT_MAX_PRECISION:
            return {"type": "scaled_float", "scaling_factor": 10 ** (attribute.scale or 0)}
        notes.append(
            Diagnostic(
                "PP402",
                f"decimal({precision}) does not fit a scaled_float; mapped as double (searches and sorts are "
                "approximate, _source keeps the exact value)",
                path,
                Severity.WARNING,
            )
        )
        return {"type": "double"}
    if kind is TypeName.FLOAT:
        return {"type": "double"}
    if kind is TypeName.BOOLEAN:
        return {"type": "boolean"}
    if kind is TypeName.DATE:
        return {"type": "date", "format": "strict_date"}
    if kind in (TypeName.TIMESTAMP, TypeName.TIMESTAMPTZ):
        return {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
    if kind is TypeName.BINARY:
        return {"type": "binary"}
    if kind is TypeName.GEO_POINT:
        # {lat, lon} in degrees: geo_distance, geo_bounding_box and the _geo_distance sort.
        return {"type": "geo_point"}
    if kind is TypeName.JSON:
        # Free-form JSON cannot have a strict mapping: keep it in _source, unparsed.
        return {"type": "object", "enabled": False}
    if kind in COLLECTION_TYPES and attribute.items is not None:
        # Elasticsearch has no array type: any field holds zero or more values of its type, so
        # the items are mapped as the list is used (full text over a list of strings: analysed text).
        return field_mapping(attribute.items, use, language, f"{path}.items", notes)
    if kind is TypeName.OBJECT:
        return {
            "type": "object",
            "properties": {
                name: field_mapping(field, FieldUse(), language, f"{path}.fields.{name}", notes)
                for name, field in sorted((attribute.fields or {}).items())
            },
        }
    raise ValueError(f"no Elasticsearch mapping for type {kind.value}")  # unreachable: the schema is closed


def facet_field(name: str, mapping: dict[str, Any]) -> str:
    """The field a facet's terms aggregation counts: a `raw` keyword sub-field when there is one
    (text, or a normalized keyword), else the keyword, number or boolean itself (doc values)."""
    if "raw" in mapping.get("fields", {}):
        return f"{name}.raw"
    return name


def exact_field(name: str, mapping: dict[str, Any]) -> str:
    """The field an exact filter or a sort uses: the keyword itself, or its `raw` sub-field."""
    if mapping.get("type") == "text":
        return f"{name}.raw"
    return name

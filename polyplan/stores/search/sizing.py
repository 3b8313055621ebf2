"""Bytes of a search index on one copy (pure: no I/O): Lucene's files after a force-merge, by kind.

Per document, from the design's mapping and the model's value sizes (`seed.lengths`, the same
assumptions as the seeder):

- stored fields: the `_source` JSON as the sync relay sends it (`search.documents`), LZ4-compressed
  in blocks (`source_compression`), plus the `_id` and a per-document overhead;
- inverted index: per indexed field, the terms dictionary (each distinct term once, its bytes
  prefix-compressed, `term_bytes_per_char`, plus `term_overhead`) and postings: a keyword or
  number costs `posting_bytes` per document, a `text` field `text_bytes_per_token` per token
  (doc ids, frequencies and positions) and a norm byte; `_id` one term per document;
- doc values and points: keywords their ordinals (log2 of the distinct values, in bits) and their
  terms again (sorted doc values keep a terms dictionary of their own); numbers and dates `numeric_bytes` (doc values and BKD
  points); `_seq_no`, `_version` and `_primary_term` `meta_bytes` per document.

A mapping that is not indexed (`enabled: false` JSON, binary) costs only its `_source`. Replicas
multiply it (the capacity plan applies the node profile's copies). Constants: `sizing:` in the
search target profiles (targets/opensearch.yaml, targets/elasticsearch.yaml: the same Lucene),
with their sources; checked on the real OpenSearch by `bench/capacity.py --engine opensearch`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from polyplan.model.domains import effective_distinct
from polyplan.model.schema import Attribute, TypeName
from polyplan.seed.lengths import NULL_SHARE, compact_json_chars, decimal_chars, expected_chars, integer_chars
from polyplan.seed.values import random_space

_WORD_CHARS = 7.0  # a seeded word and its separator: the seeder's word list averages ~6 letters
_NUMERIC = frozenset({"long", "integer", "short", "byte", "double", "float", "scaled_float", "date"})


@dataclass(frozen=True)
class SearchSize:
    """One index's bytes on one copy, after a force-merge, by Lucene file kind."""

    documents: float
    stored_bytes: float
    inverted_bytes: float
    columnar_bytes: float  # doc values and points

    @property
    def total_bytes(self) -> float:
        return self.stored_bytes + self.inverted_bytes + self.columnar_bytes

    @property
    def document_bytes(self) -> float:
        """Bytes per document (all kinds)."""
        return self.total_bytes / self.documents if self.documents else 0.0


Constants = Mapping[str, float]


def json_chars(attribute: Attribute, name: str) -> float:
    """Characters of one non-null value in the document's JSON (`search.documents.to_json_value`)."""
    kind = attribute.type
    if kind in (TypeName.STRING, TypeName.TEXT, TypeName.ENUM):
        return 2 + expected_chars(attribute, name)
    if kind is TypeName.UUID:
        return 38.0
    if kind is TypeName.DATE:
        return 12.0
    if kind is TypeName.TIMESTAMP:
        return 21.0  # "2024-05-01T12:00:00", seconds (the seeder draws whole seconds)
    if kind is TypeName.TIMESTAMPTZ:
        return 27.0  # with "+00:00"
    if kind is TypeName.INTEGER:
        return integer_chars(attribute)
    if kind is TypeName.DECIMAL:
        return decimal_chars(attribute)
    if kind is TypeName.FLOAT:
        return 9.0  # a float rounded to 3 decimals
    if kind is TypeName.BOOLEAN:
        return 4.5
    if kind is TypeName.BINARY:
        return 2 + 4 * math.ceil(expected_chars(attribute) / 3)  # base64
    if kind is TypeName.JSON:
        return compact_json_chars(attribute)
    if kind is TypeName.LIST and attribute.items is not None:
        return 2 + (attribute.avg_items or 2.5) * (1 + json_chars(attribute.items, name))
    if kind is TypeName.OBJECT:
        fields = attribute.fields or {}
        return 2 + sum(len(n) + 4 + json_chars(f, n) for n, f in fields.items())
    return 8.0


def source_chars(attributes: Mapping[str, Attribute]) -> float:
    """The document's compact JSON: braces, and per field its quoted name, colon, value and comma."""
    total = 2.0
    for name, attribute in attributes.items():
        value = json_chars(attribute, name)
        if attribute.nullable:
            value = (1 - NULL_SHARE) * value + NULL_SHARE * 4  # null
        total += len(name) + 4 + value
    return total


def _distinct(attribute: Attribute, name: str, documents: float) -> float:
    """Distinct values of a field among `documents` (its terms)."""
    if attribute.unique:
        return documents
    declared = effective_distinct(attribute)
    if declared:
        return min(documents, float(declared))
    return min(documents, float(random_space(attribute, name)))


def _keyword(chars: float, distinct: float, documents: float, k: Constants) -> tuple[float, float]:
    """(inverted, doc values) bytes of a keyword field over `documents`."""
    terms = distinct * (k["term_overhead"] + chars * k["term_bytes_per_char"])
    inverted = terms + documents * k["posting_bytes"]
    ordinals = documents * max(1.0, math.log2(max(distinct, 2.0))) / 8
    # Sorted doc values keep their own copy of the terms dictionary beside the ordinals.
    return inverted, ordinals + terms


def _field(
    mapping: Mapping[str, Any], attribute: Attribute, name: str, documents: float, k: Constants
) -> tuple[float, float]:
    """(inverted, columnar) bytes of one mapped field over `documents` (its non-null values)."""
    kind = mapping.get("type")
    if kind == "object" and "properties" in mapping and attribute.fields:
        parts = [_field(mapping["properties"][n], f, n, documents, k) for n, f in attribute.fields.items()]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)
    values = documents * (attribute.avg_items or 2.5) if attribute.type is TypeName.LIST else documents
    leaf = attribute.items if attribute.type is TypeName.LIST and attribute.items is not None else attribute
    if kind == "keyword":
        return _keyword(expected_chars(leaf, name), _distinct(leaf, name, values), values, k)
    if kind == "text":
        tokens = values * expected_chars(leaf, name) / _WORD_CHARS
        inverted = tokens * k["text_bytes_per_token"] + values * k["norm_bytes"]
        columnar = 0.0
        raw = (mapping.get("fields") or {}).get("raw")
        if raw is not None:
            more_inverted, columnar = _keyword(expected_chars(leaf, name), _distinct(leaf, name, values), values, k)
            inverted += more_inverted
        return inverted, columnar
    if kind == "boolean":
        return values * k["posting_bytes"], values / 8
    if kind in _NUMERIC:
        return 0.0, values * k["numeric_bytes"]
    return 0.0, 0.0  # not indexed: `enabled: false` objects, binary


def index_size(
    fields: Mapping[str, Mapping[str, Any]],
    doc_id: tuple[str, ...],
    attributes: Mapping[str, Attribute],
    documents: float,
    k: Constants,
) -> SearchSize:
    """The bytes of an index with mapping `fields` (attribute → mapping) and document ids from
    `doc_id` holding `documents` documents of `attributes`, on one copy after a force-merge, by
    the constants `k` of the engine's target profile (`plan.sizing(engine)`)."""
    mapped = {n: a for n, a in attributes.items() if n in fields}
    per_source = source_chars(mapped)
    id_chars = sum(json_chars(attributes[k], k) - 2 for k in doc_id if k in attributes) + len(doc_id) - 1
    stored = documents * (per_source * k["source_compression"] + id_chars + k["stored_overhead"])
    inverted = documents * (id_chars * k["term_bytes_per_char"] + k["term_overhead"])
    columnar = documents * k["meta_bytes"]
    for name, attribute in mapped.items():
        present = documents * ((1 - NULL_SHARE) if attribute.nullable else 1.0)
        more_inverted, more_columnar = _field(fields[name], attribute, name, present, k)
        inverted += more_inverted
        columnar += more_columnar
    return SearchSize(documents, stored, inverted, columnar)

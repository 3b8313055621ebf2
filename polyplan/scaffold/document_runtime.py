"""The runtime of a scaffolded package's document store (a MongoDB wire-protocol server): values to
and from BSON as the document design stores them, the plan's query templates filled in, and the
store's failures as one line.

This module is copied verbatim (without this docstring) into every package whose plan keeps an
entity in the document store, so it imports only the standard library and pymongo (with its
`bson`); polyplan's tests import it from here. The value rules are `polyplan.stores.document.codec`'s
(uuid as standard binary, decimal as Decimal128, dates and timestamps as UTC BSON dates in
milliseconds, a null field left out), written again over type names instead of model attributes
because the package must not import polyplan; tests/test_scaffold_document.py checks that both
give the same values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from bson.decimal128 import Decimal128
from pymongo import IndexModel
from pymongo.errors import ConnectionFailure

# In a package this is replaced by the module's code (the plan's query templates filled in).
from polyplan.stores.document.templates import substitute

T = TypeVar("T")
# Index options of a design's index definition (collections/*.json) that pymongo passes on as is.
INDEX_OPTIONS = ("unique", "partialFilterExpression", "expireAfterSeconds", "weights", "default_language")


class DocumentStoreUnreachable(Exception):
    """The document store did not answer: one line naming the pattern and why."""


def _moment(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    # BSON dates hold milliseconds: rounding here keeps a written value equal to the one read back.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def to_bson(kind: str, value: Any) -> Any:
    """One value of model type `kind` as the document design stores it (None stays None)."""
    if value is None:
        return None
    if kind == "uuid":
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if kind == "decimal":
        return Decimal128(Decimal(str(value)))
    if kind in ("timestamp", "timestamptz"):
        return _moment(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
    if kind == "date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if kind == "float":
        return float(value)
    if kind == "integer":
        return int(value)
    return value


def from_bson(kind: str, value: Any) -> Any:
    """`to_bson`'s inverse for a value read from the server (a client with tz_aware=True)."""
    if value is None:
        return None
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if kind == "timestamp" and isinstance(value, datetime):
        # A timestamp without a zone is stored as UTC: read back without one, as it was given.
        return value.astimezone(UTC).replace(tzinfo=None)
    if kind == "timestamptz" and isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if kind == "date" and isinstance(value, datetime):
        return value.date()
    return value


def param_value(kind: str, use: str, value: Any) -> Any:
    """A function argument as the query's `{"$param": …}` takes it: a list's items each converted, a
    prefix as the anchored regular expression the design matches it with, text as it is."""
    if use == "list":
        return [to_bson(kind, item) for item in value]
    if use == "prefix":
        return "^" + re.escape(str(value))
    if use == "text":
        return str(value)
    return to_bson(kind, value)


def to_document(kinds: Mapping[str, str], paths: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """A document from attribute → value: each at its path, as BSON, a null attribute left out."""
    document: dict[str, Any] = {}
    for name, kind in kinds.items():
        value = to_bson(kind, values.get(name))
        if value is not None:
            document[paths[name]] = value
    return document


def from_document(
    kinds: Mapping[str, str], paths: Mapping[str, str], fields: Mapping[str, str], document: Mapping[str, Any]
) -> dict[str, Any]:
    """Python name → value of a stored document (a field left out is None)."""
    return {fields[name]: from_bson(kind, document.get(paths[name])) for name, kind in kinds.items()}


def index_model(spec: Mapping[str, Any]) -> IndexModel:
    """The pymongo IndexModel of one of the design's index definitions."""
    options = {name: spec[name] for name in INDEX_OPTIONS if name in spec}
    return IndexModel([(path, direction) for path, direction in spec["key"]], name=spec["name"], **options)


@contextmanager
def answering(pattern: str) -> Iterator[None]:
    """Turns "no server answered" into one line naming the pattern (the driver's first line of why)."""
    try:
        yield
    except ConnectionFailure as error:
        why = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise DocumentStoreUnreachable(
            f"{pattern}: the document store is not reachable ({type(error).__name__}: {why.split(', Timeout')[0]})"
        ) from None


def find_all(
    collection: Any, query: Mapping[str, Any], params: Mapping[str, Any], build: Callable[[Mapping[str, Any]], T]
) -> list[T]:
    """Run one planned find (filter, projection, sort, limit as queries.json has them) and build each result."""
    cursor = collection.find(substitute(query["filter"], params), query["projection"])
    if query["sort"]:
        cursor = cursor.sort([(path, direction) for path, direction in query["sort"]])
    if query["limit"]:
        cursor = cursor.limit(query["limit"])
    return [build(document) for document in cursor]


def key_filter(template: Mapping[str, Any], kinds: Mapping[str, str], values: Sequence[Any]) -> dict[str, Any]:
    """A by-key filter template filled from the key's values, in the key's order."""
    params = {name: to_bson(kind, value) for (name, kind), value in zip(kinds.items(), values, strict=True)}
    result = substitute(dict(template), params)
    assert isinstance(result, dict)
    return result

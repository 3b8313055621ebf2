"""The MongoDB store's bytes over time, from the document design (one source of truth).

Documents: the design's average BSON document (`bson_size`, value lengths as the seeder draws
them, `_id` included; checked against `bson.encode` by bench/capacity.py --engine bson) times the
live documents. Indexes: one entry per document per index (the `_id` index too) of the indexed
values' BSON bytes, a type byte each and an 8-byte RecordId: an uncompressed upper bound, not
measured here (no MongoDB server; WiredTiger prefix-compresses index keys). On disk WiredTiger
compresses collections with snappy by default: about 0.3-0.6 of the BSON bytes for text-heavy
documents (`COMPRESSION_RANGE`), stated as a range, not measured.
"""

from __future__ import annotations

from polyplan.analyse.sizing import live_rows
from polyplan.model.derived import all_attributes
from polyplan.plan.ir import Plan
from polyplan.stores.document import bson_size
from polyplan.stores.document.design import design
from polyplan.stores.document.spec import CollectionSpec, DocumentDesign

RECORD_ID = 8  # WiredTiger's int64 RecordId beside each index key
COMPRESSION_RANGE = (0.3, 0.6)  # snappy block compression of BSON documents: a range, not measured


def index_entry_bytes(plan: Plan, collection: CollectionSpec) -> float:
    """Bytes per document of all the collection's indexes (the `_id` index included), uncompressed."""
    attributes = all_attributes(plan.model, collection.entity)
    by_path = {path: attributes[name] for name, path in collection.paths.items() if name in attributes}
    id_bytes = (
        bson_size.value_bytes(attributes[collection.id_attribute], name=collection.id_attribute, unique=True)
        if collection.id_attribute is not None
        else 12.0
    )
    total = 1 + id_bytes + RECORD_ID
    for index in collection.indexes:
        if index.text_options is not None:
            continue  # a text index holds one entry per word, not sized here
        values = [by_path[str(path)] for path, _ in index.keys if str(path) in by_path]
        total += sum(1 + bson_size.value_bytes(a) for a in values) + RECORD_ID
    return total


def estimate_store_bytes(plan: Plan, days: float, documents: DocumentDesign | None = None) -> float:
    """Uncompressed bytes (BSON documents plus index entries) of the plan's MongoDB collections
    after `days`; multiply by `COMPRESSION_RANGE` for WiredTiger's data files."""
    documents = documents if documents is not None else design(plan)
    total = 0.0
    for collection in documents.collections:
        count = live_rows(plan.model.entities[collection.entity].growth, days)
        total += count * (collection.avg_document_bytes + index_entry_bytes(plan, collection))
    return total

"""The MongoDB design: embed or reference, validators, indexes, queries, shard keys."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from polyplan.diagnostics import Severity
from polyplan.model.loader import load_text
from polyplan.plan.assign import build_plan
from polyplan.plan.ir import Plan
from polyplan.stores.document import Target
from polyplan.stores.document.design import design
from polyplan.stores.document.extjson import Decimal128
from polyplan.stores.document.spec import CollectionSpec, DocumentDesign
from tests.conftest import ROOT, planned

# Every feature the target handles: an embedded part, unbounded and independent children, a
# many-to-many array, a composite key, TTL, full text (no search engine), prefix, partial and
# unique indexes, an entity check, an odd attribute name, decimals, lists and objects.
DOC_MODEL = """
name: doctest
engines: {search: null}
entities:
  Author:
    attributes:
      handle: {type: string, max_length: 30, unique: true, pattern: '^[a-z0-9_]+$'}
      "display name": {type: string, max_length: 80}
      bio: {type: text, nullable: true, avg_length: 100}
      joined_at: {type: timestamptz, default: now}
    growth: {initial_rows: 5000}
    placement: {family: document}
  Article:
    attributes:
      title: {type: string, max_length: 200}
      body: {type: text, avg_length: 400}
      status: {type: enum, values: [draft, published, retired], weights: [20, 70, 10]}
      published_at: {type: timestamptz, nullable: true}
      created_at: {type: timestamptz}
      updated_at: {type: timestamptz}
      views: {type: integer, bits: 64, min: 0}
      rating: {type: decimal, precision: 3, scale: 1, min: 0, max: 5}
      tags: {type: list, items: {type: string, max_length: 20}, max_items: 5}
      meta: {type: object, fields: {lang: {type: string, max_length: 5}, words: {type: integer, min: 0}}}
    checks:
      - {name: updated_after_created, left: updated_at, op: ge, right: created_at}
    growth: {initial_rows: 20000}
    placement: {family: document}
  Comment:
    attributes:
      text: {type: text, avg_length: 80}
      at: {type: timestamptz}
      score: {type: integer, bits: 16, min: -10, max: 10}
    growth: {initial_rows: 60000}
    placement: {family: document}
  Revision:
    attributes:
      number: {type: integer, min: 1}
      diff: {type: text, avg_length: 300}
    growth: {initial_rows: 100000}
    placement: {family: document}
  Topic:
    attributes:
      name: {type: string, max_length: 40, unique: true}
    growth: {initial_rows: 50}
    placement: {family: document}
  Login:
    attributes:
      agent: {type: string, max_length: 100}
      last_seen: {type: timestamptz}
    growth: {initial_rows: 1000, rows_per_day: 1000, ttl_seconds: 3600}
    placement: {family: document}
  Vote:
    key: {attributes: [voter, article_ref], kind: natural}
    attributes:
      voter: {type: string, max_length: 30}
      article_ref: {type: uuid}
      up: {type: boolean}
    growth: {initial_rows: 1000}
    placement: {family: document}
relationships:
  - {name: author_articles, kind: one_to_many, from: Author, to: Article}
  - {name: article_comments, kind: one_to_many, from: Article, to: Comment, owned: true, max_children: 50, avg_children: 3}
  - {name: article_revisions, kind: one_to_many, from: Article, to: Revision, owned: true}
  - {name: author_logins, kind: one_to_many, from: Author, to: Login, owned: true}
  - {name: topic_articles, kind: many_to_many, from: Topic, to: Article, attributes: {main: {type: boolean}}, avg_children: 2}
access_patterns:
  - {name: author_by_handle, entity: Author, filters: [{attribute: handle}]}
  - {name: authors_by_prefix, entity: Author, filters: [{attribute: handle, op: prefix}], limit: 10}
  - {name: articles_of_author, entity: Article, filters: [{attribute: author_id}], sort: [{attribute: published_at, direction: desc}], limit: 20, reads: [title, published_at]}
  - name: published_between
    entity: Article
    filters: [{attribute: status, value: published}, {attribute: published_at, op: range}]
    sort: [{attribute: published_at}]
  - {name: article_with_comments, entity: Article, filters: [{attribute: id}], loads: [Comment, Revision, Author]}
  - {name: search_articles, entity: Article, filters: [{attribute: body, op: fulltext}], limit: 10, rate: 5}
  - {name: by_status, entity: Article, filters: [{attribute: status, op: in}], sort: [{attribute: views, direction: desc}], limit: 5}
  - {name: logins_of_author, entity: Login, filters: [{attribute: author_id}]}
  - {name: votes_for_article, entity: Vote, filters: [{attribute: article_ref}]}
  - {name: all_topics, entity: Topic, sort: [{attribute: name}]}
write_patterns:
  - {name: publish, entity: Article, kind: update, attributes: [status, published_at]}
  - {name: comment, entity: Comment, kind: insert}
  - {name: remove_author, entity: Author, kind: delete}
"""


def doc_plan(text: str = DOC_MODEL) -> Plan:
    return build_plan(load_text(text, "doctest.yaml"))


@pytest.fixture(scope="module")
def doc() -> DocumentDesign:
    return design(doc_plan())


def collection(doc: DocumentDesign, name: str) -> CollectionSpec:
    found = next((c for c in doc.collections if c.name == name), None)
    assert found is not None, name
    return found


# --- embed or reference ----------------------------------------------------------------------


def test_owned_bounded_loaded_part_is_embedded(doc: DocumentDesign) -> None:
    comments = next(e for e in doc.embeddings if e.child == "Comment")
    assert comments.embedded and comments.field == "article_comments"
    assert "owned, bounded (at most 50 per Article), loaded together by article_with_comments" in comments.reason
    assert "of the 16 MiB document limit" in comments.reason
    assert "comment" not in {c.name for c in doc.collections}
    schema = collection(doc, "article").validator["$jsonSchema"]["properties"]["article_comments"]
    assert schema["bsonType"] == "array" and schema["maxItems"] == 50
    assert "article_id" not in schema["items"]["properties"], "the back-reference is implied by nesting"


def test_unbounded_or_independent_children_are_referenced(doc: DocumentDesign) -> None:
    reasons = {e.child: e.reason for e in doc.embeddings if not e.embedded}
    assert "unbounded (no max_children)" in reasons["Revision"]
    assert "is read on its own (logins_of_author)" in reasons["Login"]
    assert "expires on its own schedule" in reasons["Login"]
    assert "is shared: many-to-many (topic_articles)" in reasons["Article"]
    revision = collection(doc, "revision")
    assert [i.keys for i in revision.indexes] == [(("article_id", 1),)]  # article_with_comments loads it


def test_sixteen_megabyte_bound_refuses_embedding() -> None:
    text = DOC_MODEL.replace("max_children: 50, avg_children: 3", "max_children: 400000, avg_children: 3")
    comments = next(e for e in design(doc_plan(text)).embeddings if e.child == "Comment")
    assert not comments.embedded
    assert "over half the 16 MiB limit" in comments.reason
    assert comments.worst_case_bytes is not None and comments.worst_case_bytes > 8 * 1024 * 1024


def test_many_to_many_is_an_array_of_references_with_a_multikey_index(doc: DocumentDesign) -> None:
    article = collection(doc, "article")
    assert [link.field for link in article.links] == ["topic_articles"]
    items = article.validator["$jsonSchema"]["properties"]["topic_articles"]["items"]
    assert items["required"] == ["topic_id", "main"]
    assert any(i.keys == (("topic_articles.topic_id", 1),) for i in article.indexes)


# --- validator -------------------------------------------------------------------------------


def test_validator_follows_the_model(doc: DocumentDesign) -> None:
    author = collection(doc, "author").validator["$jsonSchema"]
    assert author["required"] == ["_id", "handle", "display name", "joined_at"]
    assert author["additionalProperties"] is False
    handle = author["properties"]["handle"]
    assert handle == {"bsonType": "string", "maxLength": 30, "pattern": "^[a-z0-9_]+$"}
    assert author["properties"]["bio"]["bsonType"] == "string"  # nullable: optional, never null
    article = collection(doc, "article").validator
    props = article["$jsonSchema"]["properties"]
    assert props["status"] == {"bsonType": "string", "enum": ["draft", "published", "retired"]}
    assert props["views"]["bsonType"] == ["int", "long"] and props["views"]["minimum"] == 0
    assert props["rating"]["minimum"] == Decimal128(Decimal("0")) and props["rating"]["maximum"] == Decimal128(
        Decimal("5")
    )
    assert props["tags"] == {"bsonType": "array", "items": {"bsonType": "string", "maxLength": 20}, "maxItems": 5}
    assert props["meta"]["required"] == ["lang", "words"] and props["meta"]["additionalProperties"] is False
    assert article["$expr"] == {"$gte": ["$updated_at", "$created_at"]}
    comments = props["article_comments"]["items"]["properties"]
    assert comments["score"]["minimum"] == -10 and comments["score"]["maximum"] == 10


def test_schema_variability_allows_extra_fields_and_json_is_any_non_null_value() -> None:
    saas = design(planned(ROOT / "scenarios" / "saas.yaml"))
    custom = collection(saas, "custom_record")
    assert custom.additional_properties
    assert custom.validator["$jsonSchema"]["additionalProperties"] is True
    assert "null" not in custom.validator["$jsonSchema"]["properties"]["fields"]["bsonType"]


def test_odd_names_are_read_with_get_field() -> None:
    from polyplan.stores.document.validator import field_ref

    assert field_ref("updated_at") == "$updated_at"
    assert field_ref("last seen") == {"$getField": {"field": {"$literal": "last seen"}, "input": "$$CURRENT"}}
    assert field_ref("at", "$e") == "$$e.at"


# --- indexes and queries ---------------------------------------------------------------------


def index_keys(c: CollectionSpec) -> dict[str, tuple[tuple[str, int | str], ...]]:
    return {i.name: i.keys for i in c.indexes}


def test_compound_keys_follow_equality_sort_range() -> None:
    text = DOC_MODEL.replace(
        "  - {name: all_topics",
        "  - {name: esr, entity: Article, filters: [{attribute: views, op: range}, {attribute: author_id}], sort: [{attribute: created_at}]}\n  - {name: all_topics",
    )
    article = collection(design(doc_plan(text)), "article")
    esr = next(i for i in article.indexes if "esr" in i.serves)
    assert esr.keys == (("author_id", 1), ("created_at", 1), ("views", 1))


def test_constant_filters_become_partial_indexes(doc: DocumentDesign) -> None:
    article = collection(doc, "article")
    partial = next(i for i in article.indexes if "published_between" in i.serves)
    assert partial.keys == (("published_at", 1),) and partial.partial == {"status": "published"}


def test_unique_text_ttl_and_prefix_covered_indexes(doc: DocumentDesign) -> None:
    author = collection(doc, "author")
    handle = next(i for i in author.indexes if i.keys == (("handle", 1),))
    assert handle.unique and {"authors_by_prefix", "unique:handle"} <= set(handle.serves)
    article = collection(doc, "article")
    text = next(i for i in article.indexes if i.text_options)
    assert text.keys == (("body", "text"),) and text.text_options == {
        "default_language": "english",
        "weights": {"body": 1},
    }
    login = collection(doc, "login")
    ttl = next(i for i in login.indexes if i.expire_after)
    assert ttl.keys == (("last_seen", 1),) and ttl.expire_after == 3600
    # author_id_1 (for the reference) is a prefix of articles_of_author's index: one index serves both.
    assert "author_id_1" not in index_keys(article)
    assert index_keys(article)["author_id_1_published_at_-1"] == (("author_id", 1), ("published_at", -1))
    vote = collection(doc, "vote")
    assert vote.id_attribute is None
    assert next(i for i in vote.indexes if i.unique).keys == (("voter", 1), ("article_ref", 1))


def test_nullable_unique_attribute_is_a_partial_unique_index() -> None:
    text = DOC_MODEL.replace(
        "bio: {type: text, nullable: true, avg_length: 100}",
        "bio: {type: text, nullable: true, avg_length: 100}\n      email: {type: string, max_length: 100, unique: true, nullable: true}",
    )
    author = collection(design(doc_plan(text)), "author")
    email = next(i for i in author.indexes if i.keys == (("email", 1),))
    assert email.unique and email.partial == {"email": {"$exists": True}}


def test_queries_name_their_index_and_what_they_load(doc: DocumentDesign) -> None:
    queries = {q.pattern: q for q in doc.queries}
    assert queries["article_with_comments"].index == "_id_"
    assert queries["article_with_comments"].embedded == ("article_comments",)
    lookups = {lookup.entity: lookup for lookup in queries["article_with_comments"].lookups}
    assert lookups["Revision"].foreign_paths == ("article_id",) and lookups["Revision"].index == "article_id_1"
    assert lookups["Author"].local_paths == ("author_id",) and lookups["Author"].index == "_id_"
    assert queries["articles_of_author"].projection == {"title": 1, "published_at": 1, "_id": 1}
    assert queries["authors_by_prefix"].filter == {"handle": {"$regex": {"$param": "handle_prefix"}}}
    assert queries["search_articles"].filter == {"$text": {"$search": {"$param": "text"}}}
    assert queries["published_between"].filter["status"] == "published"
    assert queries["all_topics"].index == "name_1"


def test_search_projection_patterns_get_no_mongodb_index() -> None:
    text = DOC_MODEL.replace("engines: {search: null}", "engines: {}").replace("rate: 5}", "rate: 500}")
    plan = doc_plan(text)
    assert any(p.family.value == "search" for p in plan.entities["Article"].projections)
    article_design = design(plan)
    assert not any(i.text_options for i in collection(article_design, "article").indexes)
    assert "search_articles" not in {q.pattern for q in article_design.queries}


# --- shard keys ------------------------------------------------------------------------------


def test_small_collections_are_not_sharded(doc: DocumentDesign) -> None:
    assert all(not c.shard.sharded for c in doc.collections)
    assert "fit one replica set" in collection(doc, "article").shard.reason


def test_saas_custom_records_are_sharded_by_tenant_and_type() -> None:
    custom = collection(design(planned(ROOT / "scenarios" / "saas.yaml")), "custom_record")
    assert custom.shard.sharded
    assert custom.shard.keys == (("tenant_id", 1), ("record_type", 1), ("_id", 1))
    verdicts = {c.fields: c.verdict for c in custom.shard.candidates}
    assert verdicts[("record_type",)].startswith("only 40 values")
    assert "usable with a field appended" in verdicts[("tenant_id", "record_type")]
    assert any(i.keys == custom.shard.keys for i in custom.indexes), "the shard key needs a supporting index"


BIG = """
name: big
entities:
  Event:
    attributes:
      happened_at: {type: timestamptz, default: now}
      kind: {type: enum, values: [a, b]}
      code: {type: string, max_length: 20, unique: true}
      payload: {type: text, avg_length: 2000}
    growth: {initial_rows: 2000000000, rows_per_day: 10000000}
    placement: {family: document}
access_patterns:
  - {name: events_at, entity: Event, filters: [{attribute: happened_at}]}
  - {name: event_by_code, entity: Event, filters: [{attribute: code}]}
write_patterns:
  - {name: record, entity: Event, kind: insert, rate: 20000}
"""


def test_unique_key_targets_and_a_monotonic_field_is_not_chosen() -> None:
    event = design(doc_plan(BIG)).collections[0]
    assert event.shard.keys == (("code", 1),)
    monotonic = next(c for c in event.shard.candidates if c.fields == ("happened_at",))
    assert monotonic.monotonic and "monotonic" in monotonic.verdict


def test_only_monotonic_candidates_are_hashed_and_none_means_hashed_id() -> None:
    only_time = BIG.replace("  - {name: event_by_code, entity: Event, filters: [{attribute: code}]}\n", "")
    event = design(doc_plan(only_time)).collections[0]
    assert event.shard.keys == (("happened_at", "hashed"),)
    no_filter = only_time.replace("filters: [{attribute: happened_at}]", "sort: [{attribute: happened_at}]")
    event = design(doc_plan(no_filter)).collections[0]
    assert event.shard.keys == (("_id", "hashed"),)
    assert any(i.keys == (("_id", "hashed"),) for i in event.indexes)


def test_unique_index_outside_the_shard_key_is_demoted_with_a_warning() -> None:
    text = BIG.replace(
        "  - {name: event_by_code, entity: Event, filters: [{attribute: code}]}\n",
        "  - {name: by_kind, entity: Event, filters: [{attribute: kind}, {attribute: happened_at}]}\n",
    )
    result = design(doc_plan(text))
    code = next(i for i in result.collections[0].indexes if i.keys == (("code", 1),))
    assert not code.unique and "not unique" in code.reason
    assert any(d.code == "PP402" and "side collection" in d.message for d in result.diagnostics)


# --- what MongoDB cannot express -------------------------------------------------------------


def test_unenforceable_rules_are_warnings(doc: DocumentDesign) -> None:
    messages = {d.message for d in doc.diagnostics}
    assert all(d.severity is Severity.WARNING for d in doc.diagnostics)
    assert any("rating as Decimal128" in m for m in messages)
    assert any("does not enforce the reference author_articles" in m for m in messages)
    saas = design(planned(ROOT / "scenarios" / "saas.yaml"))
    assert [d.code for d in saas.diagnostics if "tenant_records" in d.message] == ["PP407"]


def test_artifacts_are_deterministic_and_complete() -> None:
    first, second = Target().emit(doc_plan()), Target().emit(doc_plan())
    assert first.files == second.files and first.tests == second.tests
    assert set(first.files) == {
        *(f"mongodb/collections/{n}.json" for n in ("author", "article", "revision", "topic", "login", "vote")),
        "mongodb/queries.json",
        "mongodb/setup.py",
        "mongodb/design.md",
    }
    definition = json.loads(first.files["mongodb/collections/article.json"])
    assert definition["validationLevel"] == "strict" and definition["validationAction"] == "error"
    assert definition["indexes"][0]["key"] == [["author_id", 1], ["published_at", -1]]
    assert first.summary["collections"][1]["embedded"] == ["Comment"]


def test_setup_script_compiles() -> None:
    setup = Target().emit(doc_plan()).files["mongodb/setup.py"]
    compile(setup, "setup.py", "exec")
    # Without a database name (nor one in the URL) the model's name is the database.
    assert 'mongodb_database(args.url, args.dbname, "doctest")' in setup


READINGS = """
name: readings
entities:
  Reading:
    attributes:
      device_id: {type: uuid}
      taken_at: {type: timestamptz}
      value: {type: float}
    growth: {initial_rows: 10000000000, rows_per_day: 1000000000, time_attribute: taken_at}
    placement: {family: document}
access_patterns:
  - {name: device_window, entity: Reading, filters: [{attribute: device_id}, {attribute: taken_at, op: range}], sort: [{attribute: taken_at, direction: desc}], limit: 100}
write_patterns:
  - {name: ingest, entity: Reading, kind: insert, rate: 40000}
"""


def test_append_only_entity_splits_a_hot_value_by_time() -> None:
    reading = design(doc_plan(READINGS)).collections[0]
    assert reading.shard.keys == (("device_id", 1), ("taken_at", 1))
    assert "taken_at is appended" in reading.shard.reason
    device = next(c for c in reading.shard.candidates if c.fields == ("device_id",))
    assert "assumed √rows" in device.verdict
    index = next(i for i in reading.indexes if "device_window" in i.serves)
    assert index.keys == (("device_id", 1), ("taken_at", -1))

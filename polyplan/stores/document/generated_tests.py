"""The text of the generated MongoDB test module (`tests/test_mongodb.py`), pure data: the base
module and the parts a design adds (increments, subsets, `$lookup` pipelines, capped collections,
derived attributes). The cases it reads are `testgen.py`'s `data/mongodb_cases.json`.
"""

from __future__ import annotations

from polyplan.stores.document.spec import DocumentDesign


def render_test(design: DocumentDesign, increments: bool = False, subsets: bool = False, derived: bool = False) -> str:
    """tests/test_mongodb.py; with `increments`, also the concurrent `$inc` checks of queries.json's
    writes; with `subsets`, the subset pattern's bounded arrays (subset.py); the `$lookup`
    pipelines (lookups.py) when a pattern has one, capped collections (capped.py), and with
    `derived` the derived attributes' write paths (derived.py)."""
    return (
        TEST_TEMPLATE.replace("__MODEL__", design.model)
        + (INCREMENT_TESTS if increments else "")
        + (SUBSET_TESTS if subsets else "")
        + (LOOKUP_TESTS if any(q.pipeline for q in design.queries) else "")
        + (CAPPED_TESTS if any(c.options for c in design.collections) else "")
        + (DERIVED_TESTS if derived else "")
    )


DERIVED_TESTS = '''

# Derived attributes (queries.json "derived_writes"): each child write followed by the parent's update.
DERIVED = json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)[
    "derived_writes"
]
DERIVED_CASES = {case["attribute"]: case for case in DATA.get("derived", [])}


@pytest.mark.parametrize("mode", ["in_order", "transaction"])
@pytest.mark.parametrize("write", [w for w in DERIVED if w["attribute"] in DERIVED_CASES], ids=lambda w: w["attribute"])
def test_derived_attribute_follows_child_writes(
    db: Database[Any], server: Examination, applied: dict[str, Any], write: dict[str, Any], mode: str
) -> None:
    """In a database of its own: children inserted, changed, moved and deleted through the emitted
    paths (in the documented order, or in one transaction per child write); after each round every
    parent holds the aggregate of its children read back from the server."""
    from polyplan.validate.document_derived import exercise, no_transactions

    case = DERIVED_CASES[write["attribute"]]
    needs = {DECIMAL128} if runtime.has_decimal(case) else set()
    skip_unless_server_has(server, needs, f"that {write['attribute']} follows its child writes")
    if mode == "transaction" and (why := no_transactions(db, server.server.label)):
        pytest.skip(why)
    with connect.scratch_database(resolve_url("mongodb")) as other:
        SETUP.apply(other, without=applied["without"])
        exercise(other, write, case, transactional=mode == "transaction")


@pytest.mark.parametrize("write", [w for w in DERIVED if w["attribute"] in DERIVED_CASES], ids=lambda w: w["attribute"])
def test_derived_repair_recomputes_parents(server: Examination, applied: dict[str, Any], write: dict[str, Any]) -> None:
    """Children written without their parent updates (a failure between the two), then the repair."""
    from polyplan.validate.document_derived import check_repair

    case = DERIVED_CASES[write["attribute"]]
    needs = {DECIMAL128} if runtime.has_decimal(case) else set()
    if write["function"] in ("max", "min"):
        needs.add(runtime.GROUP_EXTREMES)
    skip_unless_server_has(server, needs, f"the repair of {write['attribute']}")
    with connect.scratch_database(resolve_url("mongodb")) as other:
        SETUP.apply(other, without=applied["without"])
        check_repair(other, write, case)


# Increments of a child attribute a parent sums (queries.json "writes" with "then").
FOLLOWED = [
    (increment, entry)
    for increment in json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS).get("writes", [])
    for step in increment.get("then", [])
    for entry in DERIVED
    if entry["attribute"] == step["attribute"] and entry["attribute"] in DERIVED_CASES
]
if FOLLOWED:

    @pytest.mark.parametrize(("increment", "entry"), FOLLOWED, ids=[f"{i['write']}:{e['attribute']}" for i, e in FOLLOWED])
    def test_derived_sum_follows_increments(
        server: Examination, applied: dict[str, Any], increment: dict[str, Any], entry: dict[str, Any]
    ) -> None:
        from polyplan.validate.document_derived import check_increment

        case = DERIVED_CASES[entry["attribute"]]
        skip_unless_server_has(server, {DECIMAL128} if runtime.has_decimal(case) else set(), f"{entry['attribute']} after {increment['write']}")
        with connect.scratch_database(resolve_url("mongodb")) as other:
            SETUP.apply(other, without=applied["without"])
            check_increment(other, increment, entry, case)
'''


CAPPED_TESTS = '''

# Capped collections (capped.py): created with the designed options; the server keeps the bound.
CAPPED = [name for name, definition in DEFINITIONS.items() if definition.get("options", {}).get("capped")]
CAPPED_CASES = {case["collection"]: case for case in DATA.get("capped", [])}


@pytest.mark.parametrize("name", CAPPED)
def test_capped_collection_is_created_as_designed(db: Database[Any], applied: dict[str, Any], name: str) -> None:
    options = db[name].options()
    assert {key: options.get(key) for key in ("capped", "size", "max")} == DEFINITIONS[name]["options"], options


@pytest.mark.parametrize("name", sorted(CAPPED_CASES))
def test_capped_collection_keeps_at_most_its_max(server: Examination, applied: dict[str, Any], name: str) -> None:
    """In a database of its own (the seeded one stays as the other checks expect), setup.py's
    collection takes more documents than its max, one by one: at most max remain, the newest."""
    most = DEFINITIONS[name]["options"]["max"]
    skip_unless_server_has(server, {runtime.CAPPED}, f"that capped collection {name} keeps at most {most} documents")
    documents = CAPPED_CASES[name]["documents"]
    with connect.scratch_database(resolve_url("mongodb")) as other:
        SETUP.apply(other, without=applied["without"])
        for document in documents:
            other[name].insert_one(document)
        kept = list(other[name].find({}, {"_id": 1}).sort("$natural", 1))
        assert len(kept) <= most, f"{name}: {len(kept)} documents after {len(documents)} inserts, max {most}"
        newest = [document["_id"] for document in documents[-len(kept):]] if kept else []
        assert kept and [document["_id"] for document in kept] == newest, f"{name}: not the newest {len(kept)}"
'''


LOOKUP_TESTS = '''

# Patterns whose related fields are joined by $lookup (stores/document/lookups.py): the pipeline.
PIPELINED = [(query, index) for query, index in RUNS if query.get("pipeline")]


@pytest.mark.parametrize(("query", "index"), PIPELINED, ids=[f"{q['pattern']}:{DATA['queries'][i]['spread']}" for q, i in PIPELINED])
def test_lookup_pipeline_answers(
    db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any], index: int
) -> None:
    """The emitted aggregation returns the find()'s documents in its order, each with the related
    fields the oracle reaches by following the references on the seeded documents."""
    skip_unless_server_has(server, answer_needs(query) | {runtime.LOOKUP}, f"the $lookup pipeline of {query['pattern']}")
    case = DATA["queries"][index]
    found = list(db[query["collection"]].aggregate(substitute(query["pipeline"], case["params"])))
    ids = [identity(query["collection"], document) for document in found]
    if case["text"]:
        assert len(found) >= case["expected_count"], f"{query['pattern']}: {len(found)} < {case['expected_count']}"
    else:
        assert len(found) == case["expected_count"], f"{query['pattern']}: {len(found)} documents, expected {case['expected_count']}"
        if case["sort_keys"] is not None:
            keys = [[document.get(path) for path, _ in query["sort"]] for document in found]
            assert keys == case["sort_keys"], f"{query['pattern']}: wrong order"
    assert case["expected_count"] > 0, "the case selects nothing"
    for joined_field in case["joined"]:
        field = joined_field["field"]
        expected = {norm(key): value for key, value in joined_field["values"]}
        assert set(ids) <= set(expected), f"{query['pattern']}: returned a document that does not match"
        got = {key: norm(document.get(field)) for key, document in zip(ids, found, strict=True)}
        assert got == {key: norm(expected[key]) for key in ids}, f"{query['pattern']}: {field} differs from the oracle"
        assert any(expected[key] is not None for key in ids), f"{query['pattern']}: no answer has a parent holding {field}"
'''


SUBSET_TESTS = '''

# Subset pattern (queries.json "subset_writes"): a parent keeps its first N children in an array.
SUBSETS = json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)[
    "subset_writes"
]


@pytest.mark.parametrize("write", SUBSETS, ids=lambda w: f"{w['collection']}.{w['field']}")
def test_subset_keeps_the_first_children(db: Database[Any], applied: dict[str, Any], write: dict[str, Any]) -> None:
    """More children than the array holds, pushed one by one through the emitted update: the
    parent's array is exactly the oracle's first N of them, in the load's order."""
    from polyplan.validate.subsets import check_subset, honours_push_modifiers

    if not honours_push_modifiers(db):
        pytest.skip("the server ignores $push's $sort/$slice modifiers (FerretDB): the subset array is not checked")
    parent = DATA["documents"][write["collection"]][0]
    check_subset(db, write, parent, DATA["documents"][write["child_collection"]])
'''


INCREMENT_TESTS = '''

# Increment write patterns (queries.json "writes") on top-level documents: one update_one with $inc.
INCREMENTS = [
    write
    for write in json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)[
        "writes"
    ]
    if not any("." in path for path in write["filter"])
]


@pytest.mark.parametrize("write", INCREMENTS, ids=lambda w: w["write"])
def test_increment_is_atomic(
    db: Database[Any], server: Examination, applied: dict[str, Any], write: dict[str, Any]
) -> None:
    """WORKERS threads × TIMES runs of the emitted $inc on one document at once: every add counts."""
    from polyplan.validate.increments import TIMES, WORKERS, check_counter

    skip_unless_server_has(server, {runtime.ATOMIC_INC}, f"that {write['write']} ($inc) loses no concurrent add")

    collection = db[write["collection"]]
    document = DATA["documents"][write["collection"]][0]
    selector = {path: document[path] for path in write["filter"]}

    def add() -> None:
        assert collection.update_one(selector, write["update"]).matched_count == 1

    for field, step in write["update"]["$inc"].items():

        def read(field: str = field) -> Any:
            found = collection.find_one(selector)
            return None if found is None else found.get(field)

        check_counter(read, add, step, f"{write['collection']}.{field}", WORKERS, TIMES)
'''


TEST_TEMPLATE = '''"""Generated by polyplan: the MongoDB design of `__MODEL__`, checked on a real server.

Applies ../mongodb/setup.py to a throw-away database (dropped afterwards, after a failure too),
twice (the second run must change nothing), inserts the seeded documents of
data/mongodb_cases.json, then checks: the validator accepts them and rejects each invalid document
with DocumentValidationFailure, unique indexes refuse duplicates, every designed index exists with
its options (unique, partial, TTL), an index supports each shard key, and every access pattern's
query (from ../mongodb/queries.json) returns the right documents in the right order, its winning
plan scans the designed index (IXSCAN; IDHACK/EXPRESS for `_id`) and the hinted index answers the
same. Dates of collections with a TTL index are 100 years ahead in the data so the TTL monitor
leaves them alone during the run.

The server is asked what it is (buildInfo) and every feature the design uses is probed on a
scratch collection. On a server that only speaks MongoDB's protocol (FerretDB), a check that needs
a feature the server lacks skips with a reason naming the server and the feature, everything else
runs, and the run's summary names the server: such a pass is not a MongoDB pass. On MongoDB
nothing skips. Run it with `polyplan validate OUT --engine mongodb` (POLYPLAN_MONGODB_URL, else
testcontainers, else it skips saying how to run it).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bson import json_util
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, WriteError

from polyplan.stores.document import connect, runtime
from polyplan.stores.document.render import JSON_OPTIONS
from polyplan.stores.document.runtime import DECIMAL128, HINTS, QUERY_PLANS, TEXT_INDEXES, VALIDATORS, Examination
from polyplan.stores.document.templates import substitute
from polyplan.testkit import resolve_url

HERE = Path(__file__).resolve().parent
DESIGN_DIR = HERE.parent / "mongodb"
QUERIES = json_util.loads((DESIGN_DIR / "queries.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)["queries"]
DATA = json_util.loads((HERE / "data" / "mongodb_cases.json").read_text(encoding="utf-8"), json_options=JSON_OPTIONS)
CASES = {case["pattern"]: case for case in reversed(DATA["queries"])}  # the first case of each pattern
# Every case of every query: a limited range has a wide case and a narrow one.
RUNS = [(query, index) for query in QUERIES for index, case in enumerate(DATA["queries"]) if case["pattern"] == query["pattern"]]
ID_STAGES = {"IDHACK", "EXPRESS_IXSCAN", "EXPRESS_CLUSTERED_IXSCAN"}
DOCUMENT_VALIDATION_FAILURE = 121


def load_setup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mongodb_setup", DESIGN_DIR / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP = load_setup()
DEFINITIONS = {definition["collection"]: definition for definition in SETUP.definitions()}
INDEXES = {(name, spec["name"]): spec for name, d in DEFINITIONS.items() for spec in d["indexes"]}
SHARDED = [name for name, definition in DEFINITIONS.items() if definition["shardKey"]["sharded"]]
# Where each collection's documents hold decimals: a server without Decimal128 stores them without.
DECIMALS = {name: runtime.decimal_paths(documents) for name, documents in DATA["documents"].items()}
# The features setup.py can leave out that this design uses (every collection has a validator).
USES = {VALIDATORS} | {need for spec in INDEXES.values() for need in SETUP.index_needs(spec)}


def joined(query: dict[str, Any]) -> list[dict[str, Any]]:
    """The lookups of a pattern that read another collection of this design."""
    return [lookup for lookup in query["lookups"] if lookup["collection"] and lookup["local"]]


INDEXED = [query for query in QUERIES if query["hint"] or any(lookup["hint"] for lookup in joined(query))]
HINTED = [query for query in QUERIES if query["hint"] and not CASES[query["pattern"]]["text"]]


@pytest.fixture(scope="module")
def db() -> Iterator[Database[Any]]:
    # exit_run: when MongoDB is required and does not answer, one line ends the run.
    with connect.scratch_database(resolve_url("mongodb"), exit_run=True) as database:
        yield database


@pytest.fixture(scope="module")
def server(db: Database[Any], request: pytest.FixtureRequest) -> Examination:
    """What the server is and which features it has, named in the run's summary."""
    examination = connect.examine(db)
    runtime.report(request.config, examination)
    return examination


@pytest.fixture(scope="module")
def applied(db: Database[Any], server: Examination) -> dict[str, Any]:
    # What the server lacks is left out of the design (each check needing it skips); on MongoDB nothing.
    without = sorted(server.missing & USES)
    server.left_out = tuple(SETUP.left_out(without))
    first = SETUP.apply(db, without=without)
    second = SETUP.apply(db, without=without)
    for name, documents in DATA["documents"].items():
        if DECIMAL128 in server.missing:
            documents = [runtime.without_decimals(document) for document in documents]
        if documents:
            db[name].insert_many(documents, ordered=True)
    return {"first": first, "second": second, "without": without}


def skip_unless_server_has(server: Examination, needs: set[str], what: str) -> None:
    """Skip the calling check, naming the server and the features, when the server lacks one."""
    if why := server.lacks(needs, what):
        pytest.skip(why)


def index_needs(collection: str, name: str | None) -> set[str]:
    """The features a designed index needs (none for `_id_`)."""
    spec = INDEXES.get((collection, name or ""))
    return set(SETUP.index_needs(spec)) if spec is not None else set()


def decimal_needs(collection: str, paths: list[str], values: Any = None) -> set[str]:
    """Decimal128, when a check reads a field where `collection` stores decimals or sends one."""
    if runtime.touches(paths, DECIMALS[collection]) or runtime.has_decimal(values):
        return {DECIMAL128}
    return set()


def answer_needs(query: dict[str, Any]) -> set[str]:
    """The features running a pattern's query (and its lookups) on the seeded data needs."""
    case = CASES[query["pattern"]]
    collection = query["collection"]
    paths = [path for path in query["filter"] if not path.startswith("$")] + [path for path, _ in query["sort"]]
    needs = {TEXT_INDEXES} if case["text"] else set()
    needs |= decimal_needs(collection, paths + DATA["identity"][collection], case["params"])
    for lookup in case["lookups"]:
        related = lookup["collection"]
        needs |= decimal_needs(related, [lookup["path"], *DATA["identity"][related]], lookup["values"])
    return needs


def test_every_feature_probe_passes_on_mongodb(server: Examination) -> None:
    """On MongoDB every probe passes (else checks elsewhere could skip wrongly); other servers list their gaps."""
    skip_unless_server_has(server, set(server.missing), "that it passes every feature probe")
    failed = [f"{probe.feature}: {probe.detail}" for probe in server.probes if not probe.present]
    assert not failed, f"feature probes failed on {server.server.label}: {failed}"


def test_setup_is_idempotent(applied: dict[str, Any]) -> None:
    assert applied["first"], "the first run created nothing"
    assert applied["second"] == [], f"a second run changed: {applied['second']}"


def test_setup_applies_the_whole_design(server: Examination, applied: dict[str, Any]) -> None:
    skip_unless_server_has(server, set(applied["without"]), "setup.py applying what it left out here")
    assert SETUP.left_out(applied["without"]) == []


@pytest.mark.parametrize("name", sorted(DATA["documents"]))
def test_validator_accepts_the_seeded_documents(
    db: Database[Any], server: Examination, applied: dict[str, Any], name: str
) -> None:
    needs = {VALIDATORS} | decimal_needs(name, sorted(DECIMALS[name]))
    skip_unless_server_has(server, needs, f"that the validator of {name} accepts its documents")
    assert db[name].count_documents({}) == len(DATA["documents"][name]), name


@pytest.mark.parametrize("key", sorted(INDEXES), ids=lambda key: f"{key[0]}.{key[1]}")
def test_designed_index_exists(
    db: Database[Any], server: Examination, applied: dict[str, Any], key: tuple[str, str]
) -> None:
    collection, name = key
    spec = INDEXES[key]
    skip_unless_server_has(server, index_needs(collection, name), f"index {collection}.{name}")
    current = {index["name"]: index for index in db[collection].list_indexes()}
    assert name in current, f"{collection}: index {name} missing"
    assert current[name].get("expireAfterSeconds") == spec.get("expireAfterSeconds"), f"{name}: TTL"
    assert bool(current[name].get("unique")) == bool(spec.get("unique")), f"{name}: unique"
    assert current[name].get("partialFilterExpression") == spec.get("partialFilterExpression"), f"{name}: partial"


# Sections whose cases this design does not have are left out rather than collected empty.
if DATA["index_needs"]:

    @pytest.mark.parametrize("need", DATA["index_needs"], ids=lambda n: f"{n['collection']}.{n['pattern']}")
    def test_an_index_leads_with_what_the_pattern_needs(
        db: Database[Any], server: Examination, applied: dict[str, Any], need: dict[str, Any]
    ) -> None:
        """From the model, not from the design: some index on the server starts with the pattern's
        equality fields (any order), then its sort (in order, or all reversed)."""
        equality, sort = set(need["equality"]), [tuple(pair) for pair in need["sort"]]
        reverse = [(path, -direction) for path, direction in sort]
        width = len(equality)
        found = []
        for index in db[need["collection"]].list_indexes():
            keys = [(path, d if isinstance(d, str) else int(d)) for path, d in index["key"].items()]  # "text", "hashed"
            found.append(keys)
            lead, rest = keys[:width], keys[width : width + len(sort)]
            if {path for path, _ in lead} == equality and rest in (sort, reverse):
                return
        # setup.py leaves out an index the server cannot build (e.g. partial ones on FerretDB).
        for spec in DEFINITIONS[need["collection"]]["indexes"]:
            if need["pattern"] in spec.get("serves", []):
                skip_unless_server_has(server, index_needs(need["collection"], spec["name"]), f"the index of {need['pattern']}")
        raise AssertionError(f"{need['collection']}.{need['pattern']}: no index leads with {sorted(equality)} then {sort}; indexes: {found}")


# Sections whose cases this design does not have are left out rather than collected empty.
if SHARDED:

    @pytest.mark.parametrize("collection", SHARDED)
    def test_an_index_supports_the_shard_key(
        db: Database[Any], server: Examination, applied: dict[str, Any], collection: str
    ) -> None:
        key = [(path, direction) for path, direction in DEFINITIONS[collection]["shardKey"]["key"]]
        supporting = [
            index_needs(collection, spec["name"])
            for spec in DEFINITIONS[collection]["indexes"]
            if [tuple(pair) for pair in spec["key"][: len(key)]] == key
        ]
        assert supporting, f"no designed index of {collection} supports the shard key {key}"
        skip_unless_server_has(server, min(supporting, key=len), f"the index supporting the shard key of {collection}")
        current = db[collection].list_indexes()
        assert any(list(index["key"].items())[: len(key)] == key for index in current), "no index supports the shard key"


if DATA["invalid"]:

    @pytest.mark.parametrize("case", DATA["invalid"], ids=lambda c: f"{c['collection']}: {c['why']}")
    def test_validator_rejects(db: Database[Any], server: Examination, applied: dict[str, Any], case: dict[str, Any]) -> None:
        collection = case["collection"]
        needs = {VALIDATORS} | decimal_needs(collection, [], case["document"])
        skip_unless_server_has(server, needs, f"that the validator of {collection} rejects a document ({case['why']})")
        with pytest.raises(WriteError) as caught:
            db[collection].insert_one(case["document"])
        assert caught.value.code == DOCUMENT_VALIDATION_FAILURE, caught.value.details


if DATA["duplicates"]:

    @pytest.mark.parametrize("case", DATA["duplicates"], ids=lambda c: f"{c['collection']}.{c['index']}")
    def test_unique_index_refuses_duplicates(
        db: Database[Any], server: Examination, applied: dict[str, Any], case: dict[str, Any]
    ) -> None:
        collection, index = case["collection"], case["index"]
        paths = [path for path, _ in INDEXES[(collection, index)]["key"]]
        needs = index_needs(collection, index) | decimal_needs(collection, paths)
        skip_unless_server_has(server, needs, f"that unique index {collection}.{index} refuses a duplicate")
        document = runtime.without_decimals(case["document"]) if DECIMAL128 in server.missing else case["document"]
        with pytest.raises(DuplicateKeyError):
            db[collection].insert_one(document)
            pytest.fail(f"{collection}.{index} accepted a duplicate")


def identity(collection: str, document: dict[str, Any]) -> str:
    """A document's key as canonical Extended JSON (comparable whatever tzinfo object a date carries)."""
    return norm([document.get(path) for path in DATA["identity"][collection]])


def norm(value: Any) -> str:
    return json_util.dumps(value, json_options=JSON_OPTIONS)


def plan_stages(plan: Any) -> list[tuple[str, str | None]]:
    """(stage, indexName) of every stage of a winning plan (classic or slot-based)."""
    found: list[tuple[str, str | None]] = []
    if isinstance(plan, dict):
        if "stage" in plan:
            found.append((plan["stage"], plan.get("indexName")))
        for value in plan.values():
            found += plan_stages(value)
    elif isinstance(plan, list):
        for value in plan:
            found += plan_stages(value)
    return found


def assert_uses_index(explained: dict[str, Any], index: str, collection: Any) -> None:
    stages = plan_stages(explained["queryPlanner"]["winningPlan"])
    designed = {spec["name"] for spec in collection.list_indexes()}
    if index == "_id_" and any(stage in ID_STAGES for stage, _ in stages):
        return
    scans = [name for stage, name in stages if stage == "IXSCAN"]
    assert scans, f"no IXSCAN in the winning plan: {stages}"
    assert set(scans) <= designed, f"scans {scans}, not a designed index"


def find(collection: Any, query: dict[str, Any], params: dict[str, Any], hint: str | None = None) -> Any:
    cursor = collection.find(substitute(query["filter"], params), query["projection"])
    if query["sort"]:
        cursor = cursor.sort([(path, direction) for path, direction in query["sort"]])
    if query["limit"]:
        cursor = cursor.limit(query["limit"])
    if hint is not None:
        cursor = cursor.hint(hint)
    return cursor


def _shown(case: dict[str, Any], name: str) -> str | None:
    """Why `case` cannot fail a query that lost property `name`, or None when it can: checked on
    the case's own data (its match count, sort keys, and the answer without a filter)."""
    keys = case["sort_keys"] or []
    kind = name.split()[0]
    if kind == "limit":
        limit = case["limit"]
        return None if len(case["matching_ids"]) > limit else f"{len(case['matching_ids'])} matches, limit {limit}"
    if kind == "sort":
        return None if len({norm(key) for key in keys}) > 1 else "one sort value"
    if kind == "ties":
        return None if any(a[:1] == b[:1] for a, b in zip(keys, keys[1:])) else "no two documents tie"
    lost = case["without"].get(name)
    if lost is None:
        return "no answer recorded without it"
    same = lost["count"] == case["expected_count"] and lost["sort_keys"] == case["sort_keys"] and not lost["outside"]
    return "the answer without it is the same" if same else None


@pytest.mark.parametrize("pattern", sorted(CASES))
def test_pattern_data_discriminates(pattern: str) -> None:
    """Before the server is asked anything: for each property of the pattern (its limit, each
    sort direction, ties on the first sort key, each range bound, each other filter), a case of
    the data fails a query that lost it. A property the model rules out is stated with its
    reason as a warning, after checking all the others."""
    cases = [case for case in DATA["queries"] if case["pattern"] == pattern]
    claimed = cases[0]["properties"]
    impossible = {name: reason for name, reason in claimed.items() if reason}
    for name in sorted(set(claimed) - set(impossible)):
        why = [_shown(case, name) for case in cases if name in case["shows"]]
        assert why and None in why, f"{pattern}: the data cannot show its {name} ({'; '.join(filter(None, why))})"
    for name, reason in sorted(impossible.items()):
        # Stated, not skipped (a skip here would read as a server gap): the warnings summary lists it.
        warnings.warn(f"{pattern}: the data does not show its {name}: {reason}", UserWarning, stacklevel=1)


@pytest.mark.parametrize(("query", "index"), RUNS, ids=[f"{q['pattern']}:{DATA['queries'][i]['spread']}" for q, i in RUNS])
def test_pattern_answers(
    db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any], index: int
) -> None:
    skip_unless_server_has(server, answer_needs(query), f"the answer of {query['pattern']}")
    case = DATA["queries"][index]
    collection = db[query["collection"]]
    found = list(find(collection, query, case["params"]))
    ids = [identity(query["collection"], document) for document in found]
    matching = [norm(key) for key in case["matching_ids"]]
    if case["text"]:
        # Stemming finds more than the exact word: every exact match must be there (up to the limit).
        assert len(found) >= case["expected_count"], f"{query['pattern']}: {len(found)} < {case['expected_count']}"
        if not query["limit"]:
            assert set(matching) <= set(ids)
    else:
        expected = case["expected_count"]
        assert len(found) == expected, f"{query['pattern']}: {len(found)} documents, expected {expected}"
        assert set(ids) <= set(matching), f"{query['pattern']}: returned a document that does not match"
        if case["sort_keys"] is not None:
            keys = [[document.get(path) for path, _ in query["sort"]] for document in found]
            assert keys == case["sort_keys"], f"{query['pattern']}: wrong order"
    assert case["expected_count"] > 0 or not matching, "the case selects nothing"
    for field in case["embedded_present"]:
        assert all(field in document for document in found), f"embedded {field} missing from the answer"
    for lookup, expected in zip(joined(query), case["lookups"], strict=True):
        condition = {expected["path"]: {"$in": expected["values"]}}
        got = [identity(lookup["collection"], document) for document in db[lookup["collection"]].find(condition)]
        assert sorted(got) == sorted(norm(key) for key in expected["expected_ids"]), f"lookup {lookup['entity']}"


if INDEXED:

    @pytest.mark.parametrize("query", INDEXED, ids=lambda q: q["pattern"])
    def test_pattern_uses_its_index(db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any]) -> None:
        needs = answer_needs(query) | {QUERY_PLANS} | index_needs(query["collection"], query["hint"])
        for lookup in joined(query):
            needs |= index_needs(lookup["collection"], lookup["hint"])
        skip_unless_server_has(server, needs, f"that {query['pattern']} is served by its designed indexes")
        case = CASES[query["pattern"]]
        collection = db[query["collection"]]
        if query["hint"]:
            assert_uses_index(find(collection, query, case["params"]).explain(), query["hint"], collection)
        for lookup, expected in zip(joined(query), case["lookups"], strict=True):
            if lookup["hint"]:
                related = db[lookup["collection"]]
                condition = {expected["path"]: {"$in": expected["values"]}}
                assert_uses_index(related.find(condition).explain(), lookup["hint"], related)


if HINTED:

    @pytest.mark.parametrize("query", HINTED, ids=lambda q: q["pattern"])
    def test_hinted_index_answers_the_same(db: Database[Any], server: Examination, applied: dict[str, Any], query: dict[str, Any]) -> None:
        # MongoDB refuses hint() on a $text query: text patterns are not in HINTED.
        needs = answer_needs(query) | {HINTS} | index_needs(query["collection"], query["hint"])
        skip_unless_server_has(server, needs, f"that index {query['hint']} gives {query['pattern']} the same answer")
        case = CASES[query["pattern"]]
        collection = db[query["collection"]]
        plain = [identity(query["collection"], d) for d in find(collection, query, case["params"])]
        hinted = [identity(query["collection"], d) for d in find(collection, query, case["params"], query["hint"])]
        assert sorted(hinted) == sorted(plain), "the designed index answers differently"
'''

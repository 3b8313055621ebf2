"""The mutation suite: break each bundled scenario's relational output on purpose, on every
engine CI runs, and require the generated tests to fail and name what was broken.

* Query mutations (drop/change a LIMIT, flip each sort key, drop each filter — constants,
  equalities, each range bound, from the SQL and its `-- param` comment — loosen each bound,
  drop a projected column) of every scenario: each mutated `queries.sql` is read back by the
  generated harness and run through the very checks `test_<engine>.py` runs
  (`check_data`, `check_query`), on one loaded database per scenario and engine.
* Constraint mutations (drop a primary key, unique, foreign key, check, NOT NULL): each mutated
  `schema.sql` is applied to a fresh database and the generated constraint check runs.
* Index mutations (drop, reorder columns, change a partial predicate) run end to end through
  `run_validation(..., trust_edits=True)`: `test_<engine>_indexes.py` must fail naming the index.
  A run loads thousands of rows, so by default each operator runs once per engine, on
  different indexes in one run (PostgreSQL: two scenarios); POLYPLAN_MUTATIONS=all runs every
  index mutation of every scenario.
* The issue's listed query mutations also run end to end through `run_validation` on shop.

The score per engine is printed; the goal is 100 %, and `SURVIVORS` explains any exception.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyplan.emit.writer import write_tree
from polyplan.pipeline import render
from polyplan.stores.relational.connect import scratch_database
from polyplan.testkit import resolve_url
from polyplan.validate.mutations import (
    ISSUE_OPERATORS,
    Mutation,
    Outcome,
    constraint_mutations,
    defeat_index_mutations,
    index_mutations,
    judge,
    mutated_copy,
    query_mutations,
    rounds,
)
from polyplan.validate.oracle import parse_queries
from polyplan.validate.relational import Harness
from polyplan.validate.runner import UsageError, mutation_score, run_validation
from tests.conftest import SCENARIOS, planned, write_relational_folder

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]
# Index mutations run end to end (a child pytest per round, the slow part): one scenario per
# engine by default, each engine a different one, so that CI stays within a few minutes.
# By default one mutation per operator, on different indexes (one run per scenario); PostgreSQL
# needs two scenarios: its multi-column index is social's, its partial indexes are saas's.
# POLYPLAN_MUTATIONS=all runs every index mutation of every scenario.
INDEX_SCENARIOS: dict[str, list[tuple[str, set[str]]]] = {
    "sqlite": [("shop", {"drop-index", "reorder-index", "change-predicate"})],
    "postgresql": [("social", {"drop-index", "reorder-index"}), ("saas", {"change-predicate"})],
    "mysql": [("shop", {"drop-index", "reorder-index"})],
}
INDEX_OPERATORS = ("drop-index", "reorder-index", "change-predicate")
# (operator, target) → why the generated tests cannot catch it. Empty: every mutation is caught.
# Open defects, listed so that any new survivor still fails CI and a fixed one is noticed.
SURVIVORS: dict[tuple[str, str], str] = {}


_scores: dict[str, dict[str, list[Outcome]]] = {}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scenario stem → its plan folder (written once for the module)."""
    return {s.stem: write_relational_folder(s, tmp_path_factory.mktemp(s.stem)) for s in SCENARIOS}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _record(engine: str, kind: str, outcomes: list[Outcome], seconds: float) -> None:
    _scores.setdefault(engine, {}).setdefault(kind, []).extend(outcomes)
    caught = sum(o.caught for o in outcomes)
    print(f"\nmutation score {engine} {kind}: {caught}/{len(outcomes)} caught in {seconds:.0f}s")
    for outcome in outcomes:
        if not outcome.caught:
            print(f"  survivor: {outcome.mutation.label}: {outcome.why}")


def _unexplained(outcomes: list[Outcome]) -> list[str]:
    return [
        f"{o.mutation.label}: {o.why}"
        for o in outcomes
        if not o.caught and (o.mutation.operator, o.mutation.target) not in SURVIVORS
    ]


def check_queries(folder: Path, engine: str, database: sa.Engine, mutations: list[Mutation]) -> list[Outcome]:
    """Run the generated query checks on each mutated queries.sql (one loaded database)."""
    harness = Harness.from_plan_folder(folder / "tests", engine)
    harness.load(database)
    original = (folder / f"relational/{engine}/queries.sql").read_text(encoding="utf-8")
    for name in harness.query_names():  # the unmutated output passes, or nothing below means anything
        harness.check_data(name)
        harness.check_query(database, name)
    outcomes: list[Outcome] = []
    for mutation in mutations:
        harness.queries = parse_queries(original.replace(mutation.old, mutation.new))
        try:
            harness.check_data(mutation.target)
            harness.check_query(database, mutation.target)
        except AssertionError as error:
            named = str(error).startswith(f"{mutation.target}:")
            outcomes.append(Outcome(mutation, named, "" if named else f"failed without naming it: {error}"))
        except sa.exc.DBAPIError:
            # The generated test of this query fails with the engine's error: named by its test id.
            outcomes.append(Outcome(mutation, True, ""))
        else:
            outcomes.append(Outcome(mutation, False, "every check passed"))
    harness.queries = parse_queries(original)
    return outcomes


def check_constraints(folder: Path, engine: str, url: str, mutations: list[Mutation]) -> list[Outcome]:
    """Apply each round of mutated schema.sql to a fresh database and run the constraint checks."""
    original = (folder / f"relational/{engine}/schema.sql").read_text(encoding="utf-8")
    outcomes: list[Outcome] = []
    harness = Harness.from_plan_folder(folder / "tests", engine)  # one seed generation for every round
    for batch in rounds(mutations):
        text = original
        for mutation in batch:
            text = text.replace(mutation.old, mutation.new)
        harness.schema_sql = text
        with scratch_database(url) as database:
            harness.load(database)
            for mutation in batch:
                try:
                    harness.check_constraint(database, mutation.target)
                except AssertionError as error:
                    named = str(error).startswith(f"{mutation.target}:")
                    outcomes.append(Outcome(mutation, named, "" if named else f"failed without naming it: {error}"))
                else:
                    outcomes.append(Outcome(mutation, False, "the constraint check passed"))
    return outcomes


def run_rounds(folder: Path, engine: str, url: str, mutations: list[Mutation], work: Path) -> list[Outcome]:
    """Each round of mutations applied to a copy of the folder and validated end to end."""
    outcomes: list[Outcome] = []
    for batch in rounds(mutations):
        copy = mutated_copy(folder, batch, work)
        with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
            code = run_validation(copy, engine, url, trust_edits=True, modules=[batch[0].module], output=output)
            output.seek(0)
            outcomes += judge(batch, code, output.read())
    return outcomes


def one_per_operator(found: list[Mutation], operators: Sequence[str]) -> list[Mutation]:
    """One mutation per operator, each on a different target where possible, so that they all
    fit in as few end-to-end runs as possible (a run takes one edit per target)."""
    options = {operator: [m for m in found if m.operator == operator] for operator in operators}
    chosen: list[Mutation] = []
    # The operators with the fewest targets to choose from first: fewer shared targets, fewer runs.
    for operator in sorted(options, key=lambda o: (len(options[o]), list(operators).index(o))):
        fresh = [m for m in options[operator] if all(m.target != c.target for c in chosen)]
        chosen.extend((fresh or options[operator])[:1])
    return sorted(chosen, key=lambda m: list(operators).index(m.operator))


def issue_list(folder: Path, engine: str) -> list[Mutation]:
    """One mutation per query operator the issue lists; the LIMIT change is the issue's 20 → 5."""
    found = [m for m in query_mutations(folder, engine) if m.operator != "change-limit" or m.detail == "20 → 5"]
    return one_per_operator(found, [o for o in ISSUE_OPERATORS if o != "reorder-index"])


@pytest.fixture
def url(engine: str) -> str:
    return resolve_url(engine)


def test_query_mutations_are_caught(folders: dict[str, Path], engine: str, url: str) -> None:
    started = time.monotonic()
    outcomes: list[Outcome] = []
    for stem, folder in folders.items():
        mutations = query_mutations(folder, engine)
        assert mutations, f"{stem}: no query mutations"
        with scratch_database(url) as database:
            outcomes += check_queries(folder, engine, database, mutations)
    operators = {o.mutation.operator for o in outcomes}
    assert set(ISSUE_OPERATORS) - {"reorder-index"} <= operators, operators
    _record(engine, "queries", outcomes, time.monotonic() - started)
    assert not _unexplained(outcomes), "\n".join(_unexplained(outcomes))


def test_constraint_mutations_are_caught(folders: dict[str, Path], engine: str, url: str) -> None:
    started = time.monotonic()
    outcomes: list[Outcome] = []
    for folder in folders.values():
        outcomes += check_constraints(folder, engine, url, constraint_mutations(folder, engine))
    kinds = {o.mutation.operator for o in outcomes}
    assert kinds == {"drop-primary-key", "drop-unique", "drop-foreign-key", "drop-check", "drop-not-null"}, kinds
    _record(engine, "constraints", outcomes, time.monotonic() - started)
    assert not _unexplained(outcomes), "\n".join(_unexplained(outcomes))


def _index_mutations(folders: dict[str, Path], engine: str) -> list[tuple[Path, list[Mutation]]]:
    if os.environ.get("POLYPLAN_MUTATIONS") == "all":
        return [(folder, index_mutations(folder, engine)) for folder in folders.values()]
    chosen = []
    for stem, operators in INDEX_SCENARIOS[engine]:
        found = index_mutations(folders[stem], engine)
        chosen.append((folders[stem], one_per_operator(found, [o for o in INDEX_OPERATORS if o in operators])))
    return chosen


def test_index_mutations_are_caught_end_to_end(folders: dict[str, Path], engine: str, url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    outcomes: list[Outcome] = []
    for folder, mutations in _index_mutations(folders, engine):
        outcomes += run_rounds(folder, engine, url, mutations, tmp_path)
    operators = {o.mutation.operator for o in outcomes}
    # MariaDB has no partial indexes (the predicate's columns lead the key instead).
    assert operators == {"drop-index", "reorder-index"} | ({"change-predicate"} if engine != "mysql" else set())
    _record(engine, "indexes", outcomes, time.monotonic() - started)
    assert not _unexplained(outcomes), "\n".join(_unexplained(outcomes))


def test_issue_mutations_are_caught_end_to_end(folders: dict[str, Path], engine: str, url: str, tmp_path: Path) -> None:
    """The issue's list — LIMIT removed or 20 → 5, a sort flipped, a constant filter dropped, a
    range bound dropped — through `polyplan validate`'s own runner, on shop, with the wrong
    index columns on top (a separate module, so the same run)."""
    folder = folders["shop"]
    started = time.monotonic()
    outcomes = run_rounds(folder, engine, url, issue_list(folder, engine), tmp_path)
    assert {o.mutation.operator for o in outcomes} == set(ISSUE_OPERATORS) - {"reorder-index"}
    _record(engine, "issue list (end to end)", outcomes, time.monotonic() - started)
    assert not _unexplained(outcomes), "\n".join(_unexplained(outcomes))


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    for engine, kinds in _scores.items():
        outcomes = [o for found in kinds.values() for o in found]
        caught = sum(o.caught for o in outcomes)
        print(f"\nmutation score {engine}: {caught}/{len(outcomes)} ({100 * caught / max(1, len(outcomes)):.0f} %)")


def test_rounds_keep_index_and_index_defeating_edits_apart(folders: dict[str, Path]) -> None:
    folder = folders["shop"]
    mutations = [*index_mutations(folder, "sqlite"), *defeat_index_mutations(folder, "sqlite")]
    packed = rounds(mutations)
    assert sorted(m.label for batch in packed for m in batch) == sorted(m.label for m in mutations)
    for batch in packed:
        assert len({m.path for m in batch}) == 1, [m.label for m in batch]
        assert len({m.target for m in batch}) == len(batch), "one edit per target in a run"


def test_mutation_score_is_for_relational_engines(folders: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="relational engines"):
        mutation_score(folders["shop"], "redis")


@pytest.mark.redis
def test_redis_ttl_mutation_is_caught(tmp_path: Path) -> None:
    """A record key family's TTL changed in redis/keys.json: the expectation comes from the
    model (growth.ttl_seconds, in data/redis_records.json), so the Redis tests fail naming it."""
    url = resolve_url("redis")
    folder = tmp_path / "shop"
    write_tree(render(planned(next(s for s in SCENARIOS if s.stem == "shop")))[0], folder)
    keys = folder / "redis" / "keys.json"
    design = json.loads(keys.read_text(encoding="utf-8"))
    family = next(f for f in design["keys"] if f["role"] == "record" and f["ttl_seconds"])
    family["ttl_seconds"] *= 2
    keys.write_text(json.dumps(design, indent=2), encoding="utf-8")
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        code = run_validation(folder, "redis", url, trust_edits=True, output=output)
        output.seek(0)
        text = output.read()
    assert code != 0, text[-2000:]
    assert f"{family['name']}: designed TTL {family['ttl_seconds']}" in text, text[-2000:]

"""Generated EXPLAIN-proof tests of the index design (pure: design → test files).

For each engine, `test_<engine>_indexes.py` creates a throw-away database, applies
`relational/<engine>/schema.sql` and loads seeded rows through the relational target's own
harness (`polyplan.validate.relational.Harness`, which reads `tests/data/relational.json`), only
more of them: enough that a sequential scan loses. After refreshing the planner's statistics it
asks the engine to EXPLAIN each access pattern's query exactly as `queries.sql` holds it (and each
child lookup of a pattern that loads children), with parameters taken from the loaded rows, and
asserts from the engine's own plan that the designed index is used (index-only where the design
says covering) *with an index condition on its leading designed columns* and that the pattern's
table is not scanned, and that every designed index in the catalog has the designed columns,
order, predicate and included columns. The plan and catalog readers are
`polyplan.stores.relational.explain` (pure, unit-tested on recorded plans) and `.catalog`.
`tests/data/indexes.json` holds the proofs, the designed indexes per engine and the seed sizes.

Each kind of generated proof is in one module; this one puts them together into the files:

- index_proof_plans.py — the plan proofs: per routed pattern, its query, parameters and what
  each engine's EXPLAIN must show.
- index_proof_catalog.py — the catalog proof: each designed index as the catalog must show it.
- index_proof_seed.py — how many rows the proofs load, and which tables in time order.
- index_proof_runtime.py — the generated test module's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyplan.perf import data_json
from polyplan.plan.ir import Plan
from polyplan.seed.generate import PROOF_CONSTANT_RATE
from polyplan.stores.relational.explain import IndexShape
from polyplan.stores.relational.index_proof_catalog import designed_shapes
from polyplan.stores.relational.index_proof_plans import SQLITE_PREFIX, route_proofs, served_patterns
from polyplan.stores.relational.index_proof_runtime import TITLES, runtime_module
from polyplan.stores.relational.index_proof_seed import (
    MIN_ROWS,
    TARGET_ROWS,
    brin_rows,
    proved_entities,
    reference_parents,
    seed_rows,
    time_ordered,
)
from polyplan.stores.relational.render import EngineBuild
from polyplan.stores.relational.spec import TableSpec

DATA_FILE = "data/indexes.json"


def index_test_data(
    plan: Plan,
    tables: list[TableSpec],
    builds: Mapping[str, EngineBuild],
    shapes: Mapping[str, Sequence[IndexShape]],
) -> dict[str, Any]:
    """The content of `tests/data/indexes.json`; `shapes` is `designed_shapes` per engine."""
    return proof_data(plan, tables, route_proofs(plan, tables, builds), shapes, list(builds))


def proof_data(
    plan: Plan,
    tables: list[TableSpec],
    proofs: list[dict[str, Any]],
    shapes: Mapping[str, Sequence[IndexShape]],
    engines: Sequence[str],
    rows: dict[str, int] | None = None,
) -> dict[str, Any]:
    """`tests/data/indexes.json` from `route_proofs` of `engines` (perhaps merged from several
    processes' calls, see `merge_proofs`); `rows` are the seeded rows when made already."""
    return {
        "rows": proof_seed_rows(plan, tables, proofs) if rows is None else rows,
        "constant_rate": PROOF_CONSTANT_RATE,
        "time_ordered": time_ordered(plan, tables),
        "proofs": proofs,
        "indexes": {engine: [s.as_data() for s in shapes[engine]] for engine in engines},
    }


def proof_seed_rows(plan: Plan, tables: list[TableSpec], proofs: list[dict[str, Any]]) -> dict[str, int]:
    """The rows the index proofs seed: each proved entity's share, a table whose BRIN a proof
    reads with enough rows for several block ranges (`brin_rows`)."""
    proved = proved_entities(plan, tables, proofs)
    return seed_rows(plan, proved, floors=brin_rows(tables, proved), parents=reference_parents(tables, proofs))


def merge_proofs(parts: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`route_proofs` of all engines from its calls on disjoint groups of engines, given in
    engine order: every call lists the same routes in the same order (a route is listed whatever
    its engines), each with its own engines' checks."""
    merged = []
    for same in zip(*parts, strict=True):
        assert len({(proof["table"], proof["name"]) for proof in same}) == 1, "engines' proofs out of step"
        engines = {engine: check for proof in same for engine, check in proof["engines"].items()}
        merged.append({**same[0], "engines": engines})
    return merged


def index_tests(
    plan: Plan,
    tables: list[TableSpec],
    builds: Mapping[str, EngineBuild],
    shapes: Mapping[str, Sequence[IndexShape]],
) -> dict[str, str]:
    """Generated files (paths relative to the output's `tests/` folder) proving the index design;
    `shapes` is `designed_shapes` per engine (computed once by the target, which hands the same
    to the report).

    They need the relational target's own `tests/data/relational.json` and `relational/<engine>/`
    files beside them (the relational Target emits both).
    """
    return index_test_files(plan, index_test_data(plan, tables, builds, shapes), list(builds))


def index_test_files(plan: Plan, data: dict[str, Any], engines: Sequence[str]) -> dict[str, str]:
    """The index tests' files from their data (`proof_data`)."""
    # Without a proof, the catalog check still reads back every index schema.sql creates (a
    # model whose only indexes are its geo points' gets it too).
    if not data["proofs"] and not any(data["indexes"].values()):
        return {}
    files = {DATA_FILE: data_json(data)}
    for engine in engines:
        files[f"test_{engine}_indexes.py"] = runtime_module(engine, plan.model.name)
    return files


__all__ = [
    "DATA_FILE",
    "MIN_ROWS",
    "SQLITE_PREFIX",
    "TARGET_ROWS",
    "TITLES",
    "designed_shapes",
    "index_test_data",
    "index_test_files",
    "index_tests",
    "merge_proofs",
    "proof_data",
    "seed_rows",
    "served_patterns",
    "time_ordered",
]

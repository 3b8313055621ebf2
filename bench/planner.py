"""How polyplan's own speed grows with the model: load → check → score → plan → emit → write.

Generates synthetic models of N entities with 10 access patterns each (a chain of one-to-many
relationships, a mix of store-friendly profiles), then times every stage. The brief's bar:
1,000 entities / 10,000 patterns in a few seconds on 2 cores, and 10× the model for about 10×
the time.

    python bench/planner.py                 # 100 and 1,000 entities
    python bench/planner.py --sizes 100 1000 10000
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

from polyplan.emit.writer import write_tree
from polyplan.pipeline import plan_text, render

PATTERNS_PER_ENTITY = 10


def synthetic_model(entities: int) -> str:
    """A model text with `entities` entities and 10 access patterns per entity."""
    model: dict[str, object] = {
        "name": f"synthetic_{entities}",
        "entities": {},
        "relationships": [],
        "access_patterns": [],
        "write_patterns": [],
    }
    entity_map: dict[str, object] = {}
    relationships: list[object] = []
    patterns: list[object] = []
    writes: list[object] = []
    for index in range(entities):
        name = f"Entity{index}"
        kind = index % 10
        attributes: dict[str, object] = {
            "code": {"type": "string", "max_length": 32, "unique": True},
            "status": {"type": "enum", "values": ["new", "open", "closed"]},
            "amount": {"type": "decimal", "precision": 12, "scale": 2, "min": 0},
            "title": {"type": "string", "max_length": 200},
            "body": {"type": "text", "avg_length": 400},
            "created_at": {"type": "timestamptz"},
            "score": {"type": "integer"},
            "extra": {"type": "json", "nullable": True},
        }
        growth: dict[str, object] = {"initial_rows": 10_000 * (1 + kind), "rows_per_day": 100 * (1 + kind)}
        if kind == 7:
            growth = {"initial_rows": 0, "rows_per_day": 1_000_000, "ttl_seconds": 3600}
        if kind == 8:
            growth = {
                "initial_rows": 0,
                "rows_per_day": 500_000_000,
                "retention_days": 30,
                "time_attribute": "created_at",
            }
        entity_map[name] = {
            "attributes": attributes,
            "growth": growth,
            "schema_variability": "high" if kind == 9 else "low",
        }
        if index > 0 and kind not in (7, 8):
            parent = f"Entity{index - 1}" if (index - 1) % 10 not in (7, 8) else "Entity0"
            relationships.append(
                {"name": f"rel_{index}", "kind": "one_to_many", "from": parent, "to": name, "required": kind != 9}
            )
        filters = [
            [{"attribute": "code", "op": "eq"}],
            [{"attribute": "status", "op": "eq", "value": "open"}, {"attribute": "created_at", "op": "range"}],
            [{"attribute": "status", "op": "in"}],
            [{"attribute": "title", "op": "prefix"}],
            [{"attribute": "amount", "op": "range"}],
            [{"attribute": "score", "op": "eq"}, {"attribute": "created_at", "op": "range"}],
            [{"attribute": "id", "op": "eq"}],
            [{"attribute": "code", "op": "eq"}, {"attribute": "status", "op": "eq"}],
            [{"attribute": "title", "op": "fulltext"}] if kind == 3 else [{"attribute": "created_at", "op": "range"}],
            [{"attribute": "score", "op": "range"}],
        ]
        for number in range(PATTERNS_PER_ENTITY):
            pattern: dict[str, object] = {
                "name": f"p{index}_{number}",
                "entity": name,
                "filters": filters[number],
                "rate": 10 + number * 5,
                "latency_ms": 50,
            }
            if number in (1, 5):
                pattern["sort"] = [{"attribute": "created_at", "direction": "desc"}]
                pattern["limit"] = 50
            if kind in (7, 8):
                pattern["filters"] = [{"attribute": "code" if kind == 7 else "score", "op": "eq"}]
                pattern["consistency"] = "eventual"
            patterns.append(pattern)
        writes.append({"name": f"w{index}", "entity": name, "kind": "insert", "rate": 5 if kind != 8 else 20000})
    model["entities"] = entity_map
    model["relationships"] = relationships
    model["access_patterns"] = patterns
    model["write_patterns"] = writes
    return yaml.safe_dump(model, sort_keys=False)


def measure(entities: int) -> dict[str, float]:
    """Seconds spent in each stage for a model of `entities` entities."""
    text = synthetic_model(entities)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    plan = plan_text(text, f"synthetic_{entities}.yaml")
    timings["load+plan"] = time.perf_counter() - start
    mark = time.perf_counter()
    files, _ = render(plan)
    timings["emit"] = time.perf_counter() - mark
    mark = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        write_tree(files, Path(scratch) / "out")
    timings["write"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    timings["files"] = float(len(files))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    print(f"# polyplan planner benchmark — Python {platform.python_version()}, {platform.machine()}")
    print(f"# reproduce: python bench/planner.py --sizes {' '.join(map(str, args.sizes))}")
    print(f"{'entities':>9} {'patterns':>9} {'load+plan':>10} {'emit':>8} {'write':>8} {'total':>8} {'files':>7}")
    previous: tuple[int, float] | None = None
    for size in args.sizes:
        t = measure(size)
        print(
            f"{size:>9,} {size * PATTERNS_PER_ENTITY:>9,} {t['load+plan']:>9.2f}s "
            f"{t['emit']:>7.2f}s {t['write']:>7.2f}s {t['total']:>7.2f}s {int(t['files']):>7,}"
        )
        if previous is not None:
            growth = size / previous[0]
            print(f"# {growth:g}× the model took {t['total'] / previous[1]:.1f}× the time")
        previous = (size, t["total"])
        sys.stdout.flush()


if __name__ == "__main__":
    main()

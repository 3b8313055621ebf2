"""Hash every output file of every bundled scenario and of generated models: the byte-identity
check for changes that must not change output (issue 7's speed work).

    python bench/digests.py --save /tmp/before.json          # before the change
    python bench/digests.py --compare /tmp/before.json       # after: lists every changed file, exit 1
    python bench/digests.py --compare /tmp/before.json --jobs 2 --always-fork   # through the worker

Covers scenarios/*.yaml, tests/models/*.yaml and the synthetic models of bench/planner.py
(--sizes, default 30 and 300 entities).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def digests(sizes: list[int], jobs: int = 1) -> dict[str, dict[str, str]]:
    """{source: {output path: sha256}} for every bundled model and each synthetic size, rendered
    with `jobs` (`render(plan, jobs=…)`)."""
    from planner import synthetic_model  # type: ignore[import-not-found]

    from polyplan.pipeline import plan_file, plan_text, render

    out: dict[str, dict[str, str]] = {}
    models = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "tests" / "models").glob("*.yaml"))
    for path in models:
        files, _ = render(plan_file(path), jobs)
        out[str(path.relative_to(ROOT))] = _hashed(files)
    for size in sizes:
        files, _ = render(plan_text(synthetic_model(size), f"synthetic_{size}.yaml"), jobs)
        out[f"synthetic_{size}"] = _hashed(files)
    return out


def _hashed(files: dict[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[30, 300])
    parser.add_argument("--save", type=Path, help="write the digests here")
    parser.add_argument("--compare", type=Path, help="compare with digests saved earlier; exit 1 on a difference")
    parser.add_argument("--jobs", type=int, default=1, help="render's jobs (2: the relational worker)")
    parser.add_argument(
        "--always-fork",
        action="store_true",
        help="with --jobs 2, fork the worker for every model, however small (FORK_MIN_TABLE_ENGINES = 0)",
    )
    args = parser.parse_args()
    if args.always_fork:
        import polyplan.stores.relational as relational

        relational.FORK_MIN_TABLE_ENGINES = 0
    found = digests(args.sizes, args.jobs)
    if args.save:
        args.save.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    count = sum(len(files) for files in found.values())
    if args.compare is None:
        print(f"{count} files of {len(found)} models hashed")
        return 0
    saved: dict[str, dict[str, str]] = json.loads(args.compare.read_text(encoding="utf-8"))
    changed = []
    for source in sorted(set(saved) | set(found)):
        old, new = saved.get(source, {}), found.get(source, {})
        changed += [f"{source}: {name}" for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    for line in changed:
        print("changed:", line)
    print(f"{count} files of {len(found)} models hashed; {len(changed)} differ")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Hash every output file of every bundled scenario and of generated models: the byte-identity
check for changes that must not change output (issue 7's speed work).

    python bench/digests.py --save /tmp/before.json          # before the change
    python bench/digests.py --compare /tmp/before.json       # after: lists every changed file, exit 1

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


def digests(sizes: list[int]) -> dict[str, dict[str, str]]:
    """{source: {output path: sha256}} for every bundled model and each synthetic size."""
    from planner import synthetic_model  # type: ignore[import-not-found]

    from polyplan.pipeline import plan_file, plan_text, render

    out: dict[str, dict[str, str]] = {}
    models = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "tests" / "models").glob("*.yaml"))
    for path in models:
        files, _ = render(plan_file(path))
        out[str(path.relative_to(ROOT))] = _hashed(files)
    for size in sizes:
        files, _ = render(plan_text(synthetic_model(size), f"synthetic_{size}.yaml"))
        out[f"synthetic_{size}"] = _hashed(files)
    return out


def _hashed(files: dict[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[30, 300])
    parser.add_argument("--save", type=Path, help="write the digests here")
    parser.add_argument("--compare", type=Path, help="compare with digests saved earlier; exit 1 on a difference")
    args = parser.parse_args()
    found = digests(args.sizes)
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

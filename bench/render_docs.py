"""Regenerate the benchmark sections of docs/benchmarks.md from the committed results files.

Each benchmark `bench/NAME.py` saves its figures with `--json bench/results/NAME.json` and
exposes `render_saved(results) -> str`. In docs/benchmarks.md, the text between

    <!-- bench:NAME begin -->
    <!-- bench:NAME end -->

is that benchmark's section, rendered from its results file; everything outside the markers is
prose kept by hand. So the documented figures are always the saved ones, and anyone can check
them:

    python bench/render_docs.py            # rewrite docs/benchmarks.md
    python bench/render_docs.py --check    # exit 1 if the doc differs from the results files
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent
DOC = BENCH.parent / "docs" / "benchmarks.md"
RESULTS = BENCH / "results"
SECTION = re.compile(r"(<!-- bench:(?P<name>[a-z_]+) begin -->\n)(?P<body>.*?)(<!-- bench:(?P=name) end -->)", re.S)


def _benchmark(name: str) -> ModuleType:
    """The module bench/NAME.py, loaded from its file (bench/ is not a package)."""
    path = BENCH / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"render_docs: no benchmark {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def render(doc: str) -> str:
    """The doc with every marked section replaced by its benchmark's rendering of its results."""

    def section(match: re.Match[str]) -> str:
        name = match["name"]
        results = RESULTS / f"{name}.json"
        if not results.exists():
            raise SystemExit(f"render_docs: {results} is missing; run bench/{name}.py --json {results}")
        text = _benchmark(name).render_saved(json.loads(results.read_text(encoding="utf-8")))
        return f"{match[1]}{text.rstrip()}\n{match[4]}"

    return SECTION.sub(section, doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the doc is stale")
    args = parser.parse_args()
    current = DOC.read_text(encoding="utf-8")
    rendered = render(current)
    if args.check:
        if rendered != current:
            print(f"{DOC} is stale: run python bench/render_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The code of a polyplan module as text, for a generated script to carry (pure).

Some helpers serve both polyplan (imported, unit-tested) and the standalone scripts it writes,
which must not import polyplan. Such a helper lives in a small module that imports only the
standard library and the store's driver; a script carries that module's code, without its
docstring and `from __future__` line, so there is one source for both.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib.resources import files


@cache
def module_code(package: str, resource: str) -> str:
    """The code of `package`'s `resource` from its first statement that is neither docstring nor `__future__`.

    It starts and ends with a newline, so that it sits between a script's other blocks as one more block.
    """
    text = files(package).joinpath(resource).read_text(encoding="utf-8")
    tree = ast.parse(text)
    body = [
        node
        for node in tree.body
        if not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        )
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    if not body:
        raise ValueError(f"{package}/{resource} has no code to embed")
    code = "".join(text.splitlines(keepends=True)[body[0].lineno - 1 :])
    return "\n" + code.rstrip("\n") + "\n\n"


# A whole-line import of a polyplan module: `from polyplan.emit.error_line import one_line`.
_POLYPLAN_IMPORT = re.compile(r"^from (polyplan(?:\.\w+)*)\.(\w+) import [^\n]*\n", re.MULTILINE)


def standalone(text: str) -> str:
    """`text` (a script kept as a real polyplan module) with each `from polyplan.… import` line
    replaced by that module's code, so the emitted script imports no polyplan.

    A polyplan import this cannot replace (indented, or `import polyplan…`) raises, rather than
    emitting a script that fails on a user's machine without polyplan.
    """

    def inline(found: re.Match[str]) -> str:
        return module_code(found.group(1), found.group(2) + ".py").strip("\n") + "\n"

    result = _POLYPLAN_IMPORT.sub(inline, text)
    if re.search(r"^\s*(from|import) polyplan\b", result, re.MULTILINE):
        raise ValueError("a polyplan import the emitted script cannot carry")
    return result


def carried_code(package: str, resource: str) -> str:
    """`module_code` of a module kept importable inside polyplan (so its tests import it) whose
    `from polyplan.` imports, and the `# In a package …` comment above them, a generated package
    replaces by those modules' own code (`merged_code`)."""
    code = module_code(package, resource)
    return "".join(line for line in code.splitlines(keepends=True) if not line.startswith(("from polyplan.", "# In a")))


def merged_code(*codes: str) -> str:
    """Several modules' code as one: their top-level imports merged into one block, stdlib then
    third-party (a name imported twice, or an import after code, would fail a linted package's
    ruff), then each body in turn. For a generated package, which ruff checks; a script uses
    `standalone`."""
    plain: dict[str, None] = {}
    names: dict[str, dict[str, None]] = {}
    bodies = []
    for code in codes:
        lines = code.splitlines(keepends=True)
        drop: set[int] = set()
        for node in ast.parse(code).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                drop.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        plain[f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")] = None
                else:
                    for alias in node.names:
                        name = alias.name + (f" as {alias.asname}" if alias.asname else "")
                        names.setdefault(node.module or "", {})[name] = None
        bodies.append("".join(line for i, line in enumerate(lines) if i not in drop))

    def by_type(name: str) -> tuple[bool, bool, str]:  # isort's order: CONSTANTS, Classes, functions
        return (not name.isupper(), not name[:1].isupper(), name)

    def section(stdlib: bool) -> list[str]:
        def ours(module: str) -> bool:
            return (module.split(".")[0] in sys.stdlib_module_names) == stdlib

        found = sorted(p for p in plain if ours(p.split()[1]))
        return found + [f"from {m} import {', '.join(sorted(names[m], key=by_type))}" for m in sorted(names) if ours(m)]

    block = "\n".join(section(True)) + "\n\n" + "\n".join(section(False))
    text = "".join(bodies).lstrip("\n")
    return "\n" + block + ("\n\n\n" if text.startswith(("def ", "class ", "@")) else "\n\n") + text

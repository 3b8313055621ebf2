"""The code of a polyplan module as text, for a generated script to carry (pure).

Some helpers serve both polyplan (imported, unit-tested) and the standalone scripts it writes,
which must not import polyplan. Such a helper lives in a small module that imports only the
standard library and the store's driver; a script carries that module's code, without its
docstring and `from __future__` line, so there is one source for both.
"""

from __future__ import annotations

import ast
import re
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

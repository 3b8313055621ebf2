"""Random strings that match a regular expression, for seeding attributes that declare `pattern`.

Hand-written on purpose: the libraries that do this (rstr, exrex, hypothesis) are not runtime
dependencies of polyplan, and the job is small. The pattern is parsed once by Python's own regex
parser (`re._parser`, the same parse tree `re.compile` uses) and compiled into closures, so each
value costs one walk of the tree plus one `re.fullmatch` to verify it — never a guess-and-search loop.

Characters are drawn from a "safe" alphabet (lower-case ASCII letters and digits first) so that
generated values compare the same under every engine's default collation.
"""

from __future__ import annotations

import importlib
import random
import re
import string
from collections.abc import Callable
from typing import Any

_parser: Any = importlib.import_module("re._parser")  # private but stable since 3.11; typeshed has no stub

# Preference order for negated classes and '.': collation-neutral characters first.
_UNIVERSE = string.ascii_lowercase + string.digits + string.ascii_uppercase + "-_.+ "
_SAFE_ANY = string.ascii_lowercase + string.digits
_RANGE_CAP = 512  # a class like [\u0000-\uffff] is sampled from its first characters only

_Gen = Callable[[random.Random, int, dict[int, str]], str]


def _category_chars(name: str) -> str:
    return {
        "CATEGORY_DIGIT": string.digits,
        "CATEGORY_NOT_DIGIT": string.ascii_lowercase,
        "CATEGORY_SPACE": " ",
        "CATEGORY_NOT_SPACE": _SAFE_ANY,
        "CATEGORY_WORD": string.ascii_lowercase + string.digits + "_",
        "CATEGORY_NOT_WORD": "-. ",
    }.get(name, _SAFE_ANY)


def _category_matches(name: str, char: str) -> bool:
    if name == "CATEGORY_DIGIT":
        return char.isdigit()
    if name == "CATEGORY_NOT_DIGIT":
        return not char.isdigit()
    if name == "CATEGORY_SPACE":
        return char.isspace()
    if name == "CATEGORY_NOT_SPACE":
        return not char.isspace()
    if name == "CATEGORY_WORD":
        return char.isalnum() or char == "_"
    if name == "CATEGORY_NOT_WORD":
        return not (char.isalnum() or char == "_")
    return False


def _class_chars(items: list[tuple[Any, Any]]) -> str:
    """The characters a `[...]` class allows, drawn from the safe universe when negated."""
    negate = any(op.name == "NEGATE" for op, _ in items)
    if negate:

        def member(char: str) -> bool:
            for op, av in items:
                name = op.name
                if name == "LITERAL" and chr(av) == char:
                    return True
                if name == "RANGE" and av[0] <= ord(char) <= av[1]:
                    return True
                if name == "CATEGORY" and _category_matches(av.name, char):
                    return True
            return False

        allowed = "".join(c for c in _SAFE_ANY if not member(c))
        return allowed or "".join(c for c in _UNIVERSE if not member(c))
    chars: list[str] = []
    for op, av in items:
        name = op.name
        if name == "LITERAL":
            chars.append(chr(av))
        elif name == "RANGE":
            low, high = av
            chars.extend(chr(code) for code in range(low, min(high, low + _RANGE_CAP) + 1))
        elif name == "CATEGORY":
            chars.extend(_category_chars(av.name))
    return "".join(dict.fromkeys(chars))


def _compile(nodes: Any) -> _Gen:
    parts = [_compile_node(op, av) for op, av in nodes]

    def sequence(rng: random.Random, cap: int, groups: dict[int, str]) -> str:
        return "".join(part(rng, cap, groups) for part in parts)

    return sequence


def _fixed(text: str) -> _Gen:
    return lambda rng, cap, groups: text


def _choose(chars: str, source: str) -> _Gen:
    if not chars:
        raise ValueError(f"the character class in {source} matches no printable ASCII character")
    return lambda rng, cap, groups: rng.choice(chars)


def _compile_node(op: Any, av: Any) -> _Gen:
    name = op.name
    if name == "LITERAL":
        return _fixed(chr(av))
    if name == "NOT_LITERAL":
        return _choose("".join(c for c in _UNIVERSE if c != chr(av)), "a negated literal")
    if name == "ANY":
        return _choose(_SAFE_ANY, "'.'")
    if name == "IN":
        return _choose(_class_chars(av), "a class")
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = av
        body = _compile(sub)
        bounded = high != _parser.MAXREPEAT

        def repeat(rng: random.Random, cap: int, groups: dict[int, str]) -> str:
            top = low + cap
            if bounded:
                top = min(top, high)
            count = rng.randint(low, max(low, top))
            return "".join(body(rng, cap, groups) for _ in range(count))

        return repeat
    if name == "SUBPATTERN":
        group, _add, _del, sub = av
        body = _compile(sub)

        def subpattern(rng: random.Random, cap: int, groups: dict[int, str]) -> str:
            text = body(rng, cap, groups)
            if group is not None:
                groups[group] = text
            return text

        return subpattern
    if name == "ATOMIC_GROUP":
        return _compile(av)
    if name == "BRANCH":
        _, alternatives = av
        options = [_compile(alt) for alt in alternatives]
        return lambda rng, cap, groups: rng.choice(options)(rng, cap, groups)
    if name == "GROUPREF":
        return lambda rng, cap, groups: groups.get(av, "")
    if name == "GROUPREF_EXISTS":
        group, yes, no = av
        yes_gen = _compile(yes)
        no_gen = _compile(no) if no is not None else _fixed("")
        return lambda rng, cap, groups: (yes_gen if group in groups else no_gen)(rng, cap, groups)
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        # Anchors and lookarounds produce no text; fullmatch verification rejects a miss.
        return _fixed("")
    raise ValueError(f"regular expression construct {name} is not supported for seeding")


class PatternGenerator:
    """Draws strings matching `pattern` (as `re.fullmatch`), at most `max_length` characters long."""

    def __init__(self, pattern: str, max_length: int | None, where: str) -> None:
        self.pattern = pattern
        self.max_length = max_length
        self.where = where
        self._regex = re.compile(pattern)
        self._gen = _compile(_parser.parse(pattern))

    def draw(self, rng: random.Random) -> str:
        """One matching string; raises ValueError when none fits after a bounded number of tries."""
        for attempt in range(24):
            cap = 6 if attempt < 8 else 2 if attempt < 16 else 0
            text = self._gen(rng, cap, {})
            if self.max_length is not None and len(text) > self.max_length:
                continue
            if self._regex.fullmatch(text):
                return text
        limit = f" within {self.max_length} characters" if self.max_length is not None else ""
        raise ValueError(f"{self.where}: cannot generate a string matching {self.pattern!r}{limit}")

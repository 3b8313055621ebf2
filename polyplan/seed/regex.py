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


# The most characters a pattern value may need when the attribute sets no max_length (text).
MAX_PATTERN_TEXT = 10_000
_MAX_CAP = 6  # the most extra repetitions `repeat` adds to a quantifier's minimum

_Sizes = dict[int, int]  # length → how many strings of that length (an upper bound)


def _convolve(left: _Sizes, right: _Sizes, limit: int) -> _Sizes:
    out: _Sizes = {}
    for a, x in left.items():
        for b, y in right.items():
            if a + b <= limit:
                out[a + b] = out.get(a + b, 0) + x * y
    return out


def _sizes(nodes: Any, limit: int, cap: int | None = _MAX_CAP) -> _Sizes | None:
    """Per length, an upper bound of how many distinct strings the generator makes for `nodes`
    (lengths over `limit` dropped; with `cap` None, what the pattern matches rather than what
    the generator, which repeats at most `cap` times more than the minimum, makes); None for a
    construct it cannot bound."""
    total: _Sizes = {0: 1}
    for op, av in nodes:
        part = _node_sizes(op.name, av, limit, cap)
        if part is None:
            return None
        total = _convolve(total, part, limit)
    return total


def _node_sizes(name: str, av: Any, limit: int, cap: int | None) -> _Sizes | None:
    if name == "LITERAL":
        return {1: 1}
    if name == "NOT_LITERAL":
        return {1: len(_UNIVERSE)}
    if name == "ANY":
        return {1: len(_SAFE_ANY)}
    if name == "IN":
        return {1: len(_class_chars(av))}
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = av
        body = _sizes(sub, limit, cap)
        if body is None:
            return None
        # With no cap, every count a string within the limit can have.
        top = min(high, limit) if cap is None else min(high, low + cap)
        power: _Sizes = {0: 1}
        for _ in range(low):
            power = _convolve(power, body, limit)
        out = dict(power)
        for _ in range(low, top):
            power = _convolve(power, body, limit)
            for length, count in power.items():
                out[length] = out.get(length, 0) + count
        return out
    if name in ("SUBPATTERN", "ATOMIC_GROUP"):
        return _sizes(av[-1] if name == "SUBPATTERN" else av, limit, cap)
    if name == "BRANCH":
        out = {}
        for alternative in av[1]:
            sizes = _sizes(alternative, limit, cap)
            if sizes is None:
                return None
            for length, count in sizes.items():
                out[length] = out.get(length, 0) + count
        return out
    if name == "GROUPREF_EXISTS":
        yes = _sizes(av[1], limit, cap)
        no = _sizes(av[2], limit, cap) if av[2] is not None else {0: 1}
        if yes is None or no is None:
            return None
        return {length: yes.get(length, 0) + no.get(length, 0) for length in set(yes) | set(no)}
    if name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF"):
        return {0: 1}  # no text of its own (a back-reference repeats text, adding no choice)
    return None


def _nested_repeat(nodes: Any, inside: bool = False) -> bool:
    """Whether a quantifier sits inside another (in any group): such patterns spell one string
    in many ways, so counting the ways says little about the strings."""
    for op, av in nodes:
        name = op.name
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            children, nested = [av[2]], True
            if inside:
                return True
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            children, nested = [av[-1] if name == "SUBPATTERN" else av], inside
        elif name == "BRANCH":
            children, nested = list(av[1]), inside
        else:
            continue
        if any(_nested_repeat(child, nested) for child in children):
            return True
    return False


_ONE_CHARACTER = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_START_ANCHORS = frozenset({"AT_BEGINNING", "AT_BEGINNING_STRING"})


def _looks_around(nodes: Any) -> bool:
    """Whether a lookaround or a back-reference sits anywhere in the tree: either can tie one
    character of a match to another."""
    for op, av in nodes:
        name = op.name
        if name in ("ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS"):
            return True
        if name in _REPEATS:
            children = [av[2]]
        elif name == "SUBPATTERN":
            children = [av[3]]
        elif name == "ATOMIC_GROUP":
            children = [av]
        elif name == "BRANCH":
            children = list(av[1])
        else:
            continue
        if any(_looks_around(child) for child in children):
            return True
    return False


def splices_prefix(pattern: str, length: int) -> bool:
    """Whether the first `length` characters of any string matching `pattern` (`re.fullmatch`)
    can replace those of any other and leave a match: where each of those positions is always
    matched by the same one-character node (a class, a literal, '.'), alone or repeated at least
    that often (`[A-F0-9]{8}`, `[A-Z]{2}-[0-9]+`), and no lookaround or back-reference can see
    them. A quantifier whose count varies before `length` (`[a-z]{1,3}[0-9]`) moves the
    positions, and a group or an alternative is not looked into: False for those."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return False
    if _looks_around(parsed):
        return False
    covered = 0
    for op, av in parsed:
        name = op.name
        if name == "AT" and av.name in _START_ANCHORS and covered == 0:
            continue
        if name in _ONE_CHARACTER:
            low = high = 1
        elif name in _REPEATS and len(av[2]) == 1 and av[2][0][0].name in _ONE_CHARACTER:
            low, high = av[0], av[1]
        else:
            return False
        covered += low
        if covered >= length:
            return True
        if high != low:
            return False
    return False


def _spell(nodes: Any, limit: int) -> list[str]:
    """Every string a closed pattern matches, up to `limit` characters (only called when few)."""
    texts = [""]
    for op, av in nodes:
        name = op.name
        if name == "LITERAL":
            options = [chr(av)]
        elif name == "IN":
            options = list(_class_chars(av))
        elif name == "BRANCH":
            options = [t for branch in av[1] for t in _spell(branch, limit)]
        elif name == "SUBPATTERN":
            options = _spell(av[3], limit)
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, sub = av
            body = _spell(sub, limit)
            options, power = [], [""]
            for count in range(high + 1):
                if count >= low:
                    options.extend(power)
                power = [a + b for a in power for b in body if len(a + b) <= limit]
        else:  # AT: an anchor spells nothing
            options = [""]
        texts = [a + b for a in texts for b in options if len(a + b) <= limit]
    return texts


_EXACT_NODES = frozenset({"LITERAL", "IN", "BRANCH", "SUBPATTERN", "MAX_REPEAT", "MIN_REPEAT", "AT"})


def _closed(nodes: Any) -> bool:
    """Whether the pattern spells a small, exactly countable set of strings: literals, classes
    of listed characters and ranges, alternatives and bounded repeats, no flags."""
    for op, av in nodes:
        name = op.name
        if name not in _EXACT_NODES:
            return False
        if name == "IN" and any(item.name in ("NEGATE", "CATEGORY") for item, _ in av):
            return False
        if name == "SUBPATTERN" and (av[1] or av[2] or not _closed(av[3])):
            return False  # (?i:...) and friends change what the characters match
        if name == "BRANCH" and not all(_closed(branch) for branch in av[1]):
            return False
        if name in ("MAX_REPEAT", "MIN_REPEAT") and (av[1] == _parser.MAXREPEAT or not _closed(av[2])):
            return False
    return True


class PatternGenerator:
    """Draws strings matching `pattern` (as `re.fullmatch`), at most `max_length` characters long."""

    def __init__(self, pattern: str, max_length: int | None, where: str) -> None:
        self.pattern = pattern
        self.max_length = max_length
        self.where = where
        self._regex = re.compile(pattern)
        self._parsed = _parser.parse(pattern)
        # A quantifier such as a{1000000} would build that string on every draw: refuse first.
        shortest = self._parsed.getwidth()[0]
        if shortest > (max_length or MAX_PATTERN_TEXT):
            raise ValueError(
                f"{where}: every string matching {pattern!r} has at least {shortest} characters, "
                f"more than {max_length or MAX_PATTERN_TEXT}"
            )
        self._gen = _compile(self._parsed)

    def exact_count(self) -> int | None:
        """How many strings of at most max_length characters match, when the pattern is closed
        (see _closed) and has no repeat inside a repeat; None otherwise."""
        if self._parsed.state.flags & ~re.UNICODE or not _closed(self._parsed) or _nested_repeat(self._parsed):
            return None
        widest = self._parsed.getwidth()[1]
        if widest > 200:
            return None
        limit = min(self.max_length if self.max_length is not None else widest, widest)
        # Alternatives may spell one string twice ((a|a)): count the strings, when few.
        estimate = _sizes(self._parsed, limit, cap=None)
        if estimate is None:
            return None
        total = sum(estimate.values())
        if total > 10_000:
            return total
        return len(set(_spell(self._parsed, limit)))

    def count_estimate(self) -> int | None:
        """About how many distinct values `draw` can return, or None for a construct it cannot count.

        Counted on the parse tree, per length, dropping lengths over max_length (or over 200,
        which only lowers the count); exact for literals, classes and quantifiers, too high when
        lookarounds or overlapping alternatives remove or repeat values.
        """
        if _nested_repeat(self._parsed):
            return None  # (a+)+ makes "aa" twice: the count would be far too high
        limit = self.max_length if self.max_length is not None else MAX_PATTERN_TEXT
        sizes = _sizes(self._parsed, min(limit, 200))
        return None if sizes is None else sum(sizes.values())

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

"""Load a requirements model from YAML, keeping line and column of every node.

PyYAML's `safe_load` throws positions away, so we compose the node tree ourselves and record
the start mark of each key and value; pydantic's error locations are then mapped back onto it.

Reading is bounded whatever the input (PP005): the file's size, how deep values nest (checked
before any recursion could go deeper), how much aliases may expand the document, the length of
one value and of one number. Scalars are constructed here, tag by tag, so that text YAML cannot
turn into a value (`2024-13-45`, `!!int abc`, `.inf`, a NUL written as an escape) is reported
at its line and column instead of escaping as an exception.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import math
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location
from polyplan.model.bounded_loads import bounded_loads, with_load_reads
from polyplan.model.checks import Problem, check_model
from polyplan.model.paths import PathRead, path_reads, planning_model
from polyplan.model.schema import RequirementsModel

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedModel:
    """A validated model plus the positions needed to report later findings.

    `positions` holds where each key (or list item) starts; `values` where each scalar or
    flow-style value starts, so a complaint about a value can point at the value itself.
    """

    model: RequirementsModel
    source: str
    positions: Mapping[PathKey, Location]
    values: Mapping[PathKey, Location] = field(default_factory=dict)
    # The patterns that filter or sort through relationships, resolved once (model/paths.py);
    # `model` holds their local predicate only.
    paths: tuple[PathRead, ...] = ()

    def locate(self, path: PathKey) -> Location | None:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        return _nearest(self.positions, path)

    def locate_value(self, path: PathKey) -> Location | None:
        """The position of the value at `path` if it is written inline, else `locate(path)`."""
        return self.values.get(path) or self.values.get(_indexed(path)) or self.locate(path)


def _indexed(path: PathKey) -> PathKey:
    """Paths split from a dotted string ("access_patterns.0") carry list indices as text."""
    # str.isdigit() is also true for '¹' or '٣', which int() refuses: ASCII digits only.
    return tuple(int(part) if isinstance(part, str) and part.isascii() and part.isdigit() else part for part in path)


def _nearest(positions: Mapping[PathKey, Location], path: PathKey) -> Location | None:
    indexed = _indexed(path)
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end]) or positions.get(indexed[:end])
        if found is not None:
            return found
    return None


class Positions(Mapping[PathKey, Location]):
    """Path → Location in one file, kept as (line, column) pairs and made a Location when asked.

    The loader records a position for every key and value of the model (~380,000 for a
    1,000-entity model) and a diagnostic asks for a handful: building a Location each took most
    of the walk's time and a share of the planner's peak memory.
    """

    __slots__ = ("marks", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.marks: dict[PathKey, tuple[int, int]] = {}

    def __getitem__(self, path: PathKey) -> Location:
        line, column = self.marks[path]
        return Location(self.source, line, column)

    def __iter__(self) -> Iterator[PathKey]:
        return iter(self.marks)

    def __len__(self) -> int:
        return len(self.marks)


# Limits on what one model may make the loader do. Each is far beyond any real model and far
# below what would cost seconds or gigabytes; crossing one is PP005.
MAX_FILE_BYTES = 10 * 1024 * 1024
# A model nests ~8 levels (entities → Order → attributes → total → ...); objects in objects add a
# few. 64 keeps the walk's recursion (3 frames per level) far from Python's limit.
MAX_DEPTH = 64
# Aliases are for reusing a definition a few times; a billion-laughs document repeats one value
# exponentially. What aliases add on top of the values written in the file may grow the document
# by about as much again as its own text, and by at least these (a few for small files).
MIN_ALIAS_NODES = 10_000
MIN_ALIAS_CHARS = 1_000_000
# One value longer than the longest string a model can declare (max_length 65,535).
MAX_SCALAR_CHARS = 65_536
# A number's digits: no field needs more than 40 (decimal(38) with a sign and a point).
MAX_NUMBER_CHARS = 100
# Text with a syntax error is read again by the pure-Python parser for a better message, up to
# this size (it reads about 100 KB a second).
MAX_REREAD_CHARS = 1_000_000

# What YAML forbids in a stream (the same class as PyYAML's reader): C0 controls other than tab,
# line feed and carriage return, DEL and C1 controls other than NEL, surrogates, U+FFFE/U+FFFF.
_NOT_YAML = re.compile(r"[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Control characters in a value, which double-quoted escapes such as "\0" can still produce: no
# name, value or description needs one, and stores, generated code and terminals mangle them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_TAG = "tag:yaml.org,2002:"
_STR_TAG = f"{_TAG}str"


def _location(source: str, mark: Any) -> Location:
    # A yaml.Mark from either parser (libyaml's has the same line and column fields).
    return Location(source, mark.line + 1, mark.column + 1) if mark else Location(source, 1, 1)


def _offset_location(text: str, offset: int, source: str) -> Location:
    """Line and column of a character offset, counting line breaks the way YAML marks do."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, match.end()
    return Location(source, line, offset - start + 1)


def _codepoint(char: str) -> str:
    return "a NUL character" if char == "\x00" else f"the character U+{ord(char):04X}"


def _dotted(path: PathKey) -> str:
    return ".".join(map(str, path))


def check_text(text: str, source: str) -> None:
    """Refuse text YAML forbids before a parser sees it, pointing at the first bad character.

    Both parsers would stop there too, but with an error that has no line and column.
    """
    bad = _NOT_YAML.search(text)
    if bad is not None:
        problem = (
            f"YAML syntax error: {_codepoint(bad.group())} is not allowed in YAML text (of the control "
            "characters, only tab, line feed and carriage return are); remove it"
        )
        location = _offset_location(text, bad.start(), source)
        raise DiagnosticError([Diagnostic("PP002", problem, location=location)])


class _LimitError(Exception):
    """A PP005 limit crossed while walking: the walk stops at once, since going on is the cost."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


# A model holds plain data: YAML's core types only. Other tags (!!binary, !!set, !!python/...,
# custom ones) mean nothing here, and refusing them keeps loading free of surprises.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_NODE = yaml.ScalarNode  # bound once: the walk tests it once per node


def _check_tag(node: yaml.Node) -> None:
    if node.tag not in _CORE_TAGS:
        shown = node.tag.replace("tag:yaml.org,2002:", "!!")
        problem = f"the YAML tag '{shown}' is not supported (a model holds plain values only)"
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


class _BadScalar(Exception):
    """A scalar whose text cannot be the value its tag (written or implied) says it is."""


# Failures of PyYAML's constructors on text that does not fit the tag: `!!int abc` (ValueError),
# `!!bool maybe` (KeyError), `!!timestamp abc` (AttributeError: its regex does not match),
# `!!float ""` (IndexError), `2024-13-45` or a UTC offset of 99 hours (ValueError).
_CONSTRUCT_FAILURES = (ValueError, KeyError, AttributeError, IndexError, TypeError, OverflowError)
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timestamp": "a valid date or timestamp",
    "map": "a mapping",
    "seq": "a list",
}


def _construct(node: yaml.ScalarNode, loader: yaml.SafeLoader) -> Any:
    """The Python value of a scalar, or _BadScalar with the reason; dates become ISO text."""
    tag = node.tag.removeprefix(_TAG)
    if tag == "str":
        return node.value
    if tag == "null":
        return None
    constructors = {
        "bool": loader.construct_yaml_bool,
        "int": loader.construct_yaml_int,
        "float": loader.construct_yaml_float,
        "timestamp": loader.construct_yaml_timestamp,
    }
    construct = constructors.get(tag)
    try:
        if construct is None:  # !!map or !!seq written on a plain value
            raise ValueError
        value: Any = construct(node)
    except _CONSTRUCT_FAILURES as exc:
        # Python's own wording helps for dates ("month must be in 1..12"), not for numbers.
        reason = f" ({exc})" if tag == "timestamp" and isinstance(exc, ValueError) and str(exc) else ""
        hint = "; quote it if it is text" if tag == "timestamp" and node.style is None else ""
        raise _BadScalar(f"{node.value!r} is not {_EXPECTED.get(tag, 'a plain value')}{reason}{hint}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _BadScalar(f"{node.value!r} is not a finite number")
    # Validation goes through JSON (see load_text): dates and times become ISO strings, which is
    # also how the model stores them.
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _expanded_size(root: yaml.Node, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(nodes, scalar characters) of `root` with every alias expanded, without expanding any.

    Iterative and memoised per node, so it costs one visit of each distinct node however deep
    the tree or however often a node is repeated. A node that contains itself counts as empty
    here; the walk reports the cycle.
    """
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    active: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in memo:
            continue
        if isinstance(node, yaml.ScalarNode):
            memo[key] = (1, len(node.value))
            continue
        children = (
            [child for pair in node.value for child in pair] if isinstance(node, yaml.MappingNode) else node.value
        )
        if not children_done:
            if key in active:
                continue  # a cycle: reported by the walk
            active.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in memo)
            continue
        active.discard(key)
        sizes = [memo.get(id(child), (0, 0)) for child in children]
        memo[key] = (1 + sum(n for n, _ in sizes), sum(c for _, c in sizes))
    return memo.get(id(root), (0, 0))


@dataclass
class _Walk:
    """State of one pass over the YAML node tree.

    The walk recurses once per level of nesting, so it stops at MAX_DEPTH before it could get
    anywhere near Python's recursion limit. A node reached a second time came through an alias;
    its expanded size counts against the alias budget before it is converted again.
    """

    source: str
    loader: yaml.SafeLoader
    max_alias_nodes: int = MIN_ALIAS_NODES
    max_alias_chars: int = MIN_ALIAS_CHARS
    positions: Positions = field(init=False)
    values: Positions = field(init=False)
    errors: list[Diagnostic] = field(default_factory=list)
    open_nodes: set[int] = field(default_factory=set)  # collections being converted (alias cycles)
    seen: set[int] = field(default_factory=set)  # every node converted so far
    repeated: yaml.Node | None = None  # the outermost node being converted again through an alias
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)  # memo of _expanded_size
    alias_nodes: int = 0
    alias_chars: int = 0

    def __post_init__(self) -> None:
        self.positions = Positions(self.source)
        self.values = Positions(self.source)

    def _limit(self, message: str, node: yaml.Node, path: PathKey) -> NoReturn:
        location = _location(self.source, node.start_mark)
        raise _LimitError(Diagnostic("PP005", message, _dotted(path), location=location))

    def convert(self, node: yaml.Node, path: PathKey, depth: int = 1, keyed: bool = False) -> Any:
        """`node` as plain data, its positions recorded under `path`. `keyed`: `path` already
        has its key's position (a mapping's value), which a value's own never replaces."""
        if node.tag not in _CORE_TAGS:  # tested here first: this runs once per node of the model
            _check_tag(node)
        ident = id(node)
        if ident in self.open_nodes:
            problem = "an alias inside this anchored value refers to the value itself (a cycle)"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
        if depth > MAX_DEPTH:
            # The position says where; the path names only the field the nesting starts in.
            self._limit(f"values nest more than {MAX_DEPTH} levels deep", node, path[:2])
        seen = self.seen
        if ident in seen and self.repeated is None:
            # Reached again, so through an alias: charge its whole expansion before converting
            # any of it (nested aliases included), so an exponential document costs nothing.
            nodes, chars = _expanded_size(node, self.sizes)
            self.alias_nodes += nodes
            self.alias_chars += chars
            if self.alias_nodes > self.max_alias_nodes or self.alias_chars > self.max_alias_chars:
                self._limit(
                    f"aliases expand the document by more than {self.max_alias_nodes:,} values or "
                    f"{self.max_alias_chars:,} characters; the value anchored here is repeated too often",
                    node,
                    path,
                )
            self.repeated = node
            try:
                return self.convert(node, path, depth, keyed)
            finally:
                self.repeated = None
        seen.add(ident)
        mark = node.start_mark
        here = (mark.line + 1, mark.column + 1)
        if not keyed:
            self.positions.marks.setdefault(path, here)
        # An empty value (`key:` and nothing) has no token of its own: its key is the place to point.
        if isinstance(node, _SCALAR_NODE):
            value = node.value
            if value != "" or node.style:
                self.values.marks[path] = here
            if node.tag == _STR_TAG and len(value) <= MAX_SCALAR_CHARS and _CONTROL.search(value) is None:
                return value  # most values: plain text that passes every check of _scalar
            return self._scalar(node, path)
        if isinstance(node, yaml.CollectionNode) and node.flow_style:
            self.values.marks[path] = here
        self.open_nodes.add(ident)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, depth)
            return [self.convert(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(ident)

    def _text_problem(self, text: str, node: yaml.Node, path: PathKey) -> str | None:
        """Why a scalar's text cannot be used as written (a limit crossed stops the walk)."""
        if len(text) > MAX_SCALAR_CHARS:
            self._limit(f"a value of {len(text):,} characters (at most {MAX_SCALAR_CHARS:,})", node, path)
        control = _CONTROL.search(text)
        if control is not None:
            return f"{_codepoint(control.group())} in {text[:40]!r} is not allowed; names and values are printable text"
        return None

    def _scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        problem = self._text_problem(node.value, node, path)
        if node.tag in (f"{_TAG}int", f"{_TAG}float") and len(node.value) > MAX_NUMBER_CHARS:
            # int() refuses more than 4,300 digits and is slow well before; no field needs 100.
            self._limit(
                f"a number written with {len(node.value):,} characters (at most {MAX_NUMBER_CHARS})", node, path
            )
        if problem is None:
            try:
                return _construct(node, self.loader)
            except _BadScalar as exc:
                problem = str(exc)
        location = self.values.get(path) or self.positions.get(path)
        self.errors.append(Diagnostic("PP103", problem, _dotted(path), location=location))
        return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        marks = self.positions.marks
        for key_node, value_node in node.value:
            mark = key_node.start_mark
            if not isinstance(key_node, yaml.ScalarNode):
                self.errors.append(
                    Diagnostic(
                        "PP002",
                        "a key must be a plain name, not a list or mapping",
                        _dotted(path),
                        location=_location(self.source, mark),
                    )
                )
                continue
            if key_node.tag == _MERGE_TAG:
                # `<<: *defaults` would silently mix keys from elsewhere into this mapping, and an
                # existing key would win over a merged one: a model spells its keys out.
                merge = "merge keys (<<) are not supported: write the keys out, or alias a whole value"
                self.errors.append(Diagnostic("PP002", merge, _dotted(path), location=_location(self.source, mark)))
                continue
            # Keys are names: take the text as written, so `on:` or `1:` is not read as true or 1.
            key_text = str(key_node.value)
            child = (*path, key_text)
            if len(key_text) > MAX_SCALAR_CHARS or _CONTROL.search(key_text) is not None:
                # What _text_problem tests, inline for the common case: nearly every key passes.
                problem = self._text_problem(key_text, key_node, child)
                if problem is not None:
                    self.errors.append(
                        Diagnostic("PP103", problem, _dotted(path), location=_location(self.source, mark))
                    )
                    continue
            if key_text in result:
                message = f"duplicate key '{key_text}' (first defined at line {self.positions[child].line})"
                self.errors.append(Diagnostic("PP003", message, _dotted(child), location=_location(self.source, mark)))
                continue
            marks[child] = (mark.line + 1, mark.column + 1)
            result[key_text] = self.convert(value_node, child, depth + 1, keyed=True)
        return result


_YAML_HINTS = (
    ("'\\t'", "found a tab character; YAML indents with spaces only"),
    ("expected <block end>", "this line is indented differently from the lines above it"),
    (
        "mapping values are not allowed here",
        "unexpected ':' (quote a value that contains ': ', or check the indentation)",
    ),
)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "invalid YAML"
    for needle, hint in _YAML_HINTS:
        if needle in problem:
            return hint
    problem = problem.replace("'<stream end>'", "the end of the file").replace("end of stream", "end of the file")
    if exc.context and exc.context_mark and exc.problem:
        mark = exc.context_mark
        context = re.sub(r"^while (parsing|scanning) (an? )?", "", exc.context)
        return f"{problem} (in the {context} that starts at line {mark.line + 1}, column {mark.column + 1})"
    return problem


def _syntax_error(exc: yaml.YAMLError, source: str) -> DiagnosticError:
    if isinstance(exc, yaml.MarkedYAMLError):
        location = _location(source, exc.problem_mark or exc.context_mark)
        return DiagnosticError([Diagnostic("PP002", f"YAML syntax error: {_yaml_problem(exc)}", location=location)])
    # A reader error (check_text catches those first) or anything else PyYAML has no mark for.
    return DiagnosticError([Diagnostic("PP002", f"YAML syntax error: {exc}", location=Location(source, 1, 1))])


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


class _ResolvingOnce:
    """PyYAML's implicit tag resolution, memoised per document.

    libyaml composes in C but asks the Python resolver for every node's tag, trying the regexes
    of a scalar's first character each time (a fifth of composing a large model). Without path
    resolvers (SafeLoader has none) a tag depends only on the node's kind, text and implicit
    flags, and a model repeats most of its texts (types, flags, enum words, attribute names), so
    each distinct one is resolved once; the memo is `functools.lru_cache`'s, whose hits cost no
    Python frame. Mixed in before the loader class; `dispose` drops it (it refers back to the
    loader, a cycle the paused collector would keep).
    """

    yaml_path_resolvers: dict[Any, Any]

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        if not self.yaml_path_resolvers:
            self.__dict__["resolve"] = functools.lru_cache(maxsize=None)(super().resolve)  # type: ignore[misc]

    def dispose(self) -> None:
        self.__dict__.pop("resolve", None)
        super().dispose()  # type: ignore[misc]


_COMPOSER: Any = type("_Composer", (_ResolvingOnce, _FAST_LOADER), {}) if _FAST_LOADER is not None else None


class _DepthError(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__("too deep")
        self.mark = mark


def _too_deep(mark: Any, source: str) -> DiagnosticError:
    message = f"values nest more than {MAX_DEPTH} levels deep"
    return DiagnosticError([Diagnostic("PP005", message, location=_location(source, mark))])


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python loader with its composer's recursion stopped at MAX_DEPTH.

    The composer recurses once per level of nesting: 10,000 `[` took seconds and ended in
    RecursionError. Its scanner and parser keep explicit stacks, so only this needs a bound.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _DepthError(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_depth_fast(text: str, source: str, loader: Any) -> None:
    """With libyaml's event parser, find nesting beyond MAX_DEPTH without composing anything.

    libyaml refuses more than 1,000 levels with a terse error; this turns that case into PP005
    at the first level too deep, at C speed. Any other error is left to the pure-Python parser.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(event.start_mark, source)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # libyaml's scanner looks ahead, so past 1,000 levels it stops before the parser has
        # reported level 65: point at where it stopped, which is nested too deep as well.
        if "maximum nesting depth" in str(exc.problem):
            raise _too_deep(exc.problem_mark, source) from None
    except yaml.YAMLError:
        return


def _compose_checked(text: str, source: str) -> yaml.Node | None:
    """Compose with the pure-Python parser, which words errors well, with its depth bounded."""
    if _FAST_LOADER is not None:
        _check_depth_fast(text, source, _FAST_LOADER)
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    except _DepthError as exc:
        raise _too_deep(exc.mark, source) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source) from None
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> tuple[Any, Positions, Positions]:
    """Parse YAML text into plain Python data plus maps of path → key position and → value position."""
    check_text(text, source)
    root: yaml.Node | None = None
    if _FAST_LOADER is not None:
        # libyaml composes without Python recursion and refuses nesting past 1,000 levels itself;
        # the walk below stops at MAX_DEPTH.
        try:
            root = yaml.compose(text, Loader=_COMPOSER)
        except yaml.YAMLError as exc:
            if len(text) > MAX_REREAD_CHARS:
                # Re-reading megabytes with the pure-Python parser would take minutes: libyaml's
                # terser words at the same position have to do.
                _check_depth_fast(text, source, _FAST_LOADER)
                raise _syntax_error(exc, source) from None
            root = None
    if root is None:
        # libyaml is ~10x faster but words errors tersely; the pure-Python parser explains them
        # better, so it re-reads the text only when something is wrong (or the text is empty).
        root = _compose_checked(text, source)
    if root is None:
        raise DiagnosticError([Diagnostic("PP004", "the file is empty", location=Location(source, 1, 1))])
    # A value takes at least two characters of text (`1,`), so len(text) // 10 is well under
    # what the file itself holds: aliases may add that much again.
    walk = _Walk(
        source,
        yaml.SafeLoader(""),
        max_alias_nodes=max(MIN_ALIAS_NODES, len(text) // 10),
        max_alias_chars=max(MIN_ALIAS_CHARS, len(text)),
    )
    try:
        data = walk.convert(root, ())
    except _LimitError as exc:
        raise DiagnosticError([exc.diagnostic]) from None
    except yaml.constructor.ConstructorError as exc:
        location = _location(source, exc.problem_mark)
        raise DiagnosticError([Diagnostic("PP002", f"YAML error: {exc.problem}", location=location)]) from None
    if walk.errors:
        raise DiagnosticError(_in_file_order(walk.errors))
    if not isinstance(data, dict):
        raise DiagnosticError(
            [Diagnostic("PP004", "the model must be a mapping with 'name' and 'entities'", location=walk.positions[()])]
        )
    return data, walk.positions, walk.values


_PYDANTIC_CODES = {"extra_forbidden": "PP101", "missing": "PP102"}
_SNAKE_CASE = "^[a-z][a-z0-9_]*$"


def _shown(value: Any) -> str:
    """A value as the YAML author wrote it, not as Python prints it."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _model_at(path: PathKey) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, by walking the schema's annotations."""
    current: Any = RequirementsModel
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        else:
            current = _container_item(current)
        current = _unwrapped(current)
        while get_origin(current) in (Union, types.UnionType):
            # A model among the branches (a loads item: a name or a Load mapping), else the first.
            branches = [_unwrapped(arg) for arg in get_args(current) if arg is not type(None)]
            models = [b for b in branches if isinstance(b, type) and issubclass(b, BaseModel)]
            current = models[0] if models else next(iter(branches), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrapped(annotation: Any) -> Any:
    """`X` of `Annotated[X, ...]` (nested too); anything else as is."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _container_item(annotation: Any) -> Any:
    args = get_args(annotation)
    if get_origin(annotation) is list and args:
        return args[0]
    if get_origin(annotation) is dict and len(args) == 2:
        return args[1]
    return None


def _describe(error: ErrorDetails) -> str:
    """Pydantic's message reworded for the author of a YAML file."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in ("enum", "literal_error"):
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) or [
            part.strip() for part in re.split(r",| or ", str(ctx.get("expected", ""))) if part.strip()
        ]
        hint = _suggest(given, allowed) if isinstance(given, str) else ""
        return f"expected one of {', '.join(allowed)}; got {_shown(given)}{hint}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (name: value lines), got {_shown(given)}"
    if kind == "list_type":
        return f"expected a list, got {_shown(given)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_shown(given)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {_shown(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_shown(given)}"
    if kind == "string_type":
        return f"expected a string, got {_shown(given)}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == _SNAKE_CASE:
        return (
            f"must be lower_snake_case (a lowercase letter, then lowercase letters, digits or _), got {_shown(given)}"
        )
    if kind == "too_short" and isinstance(given, (list, dict)):
        wanted = int(ctx.get("min_length", 1))
        return f"needs at least {wanted} {'entry' if wanted == 1 else 'entries'}, got {len(given)}"
    message = str(error["msg"]).replace("Input should be", "must be", 1)
    return f"{message}, got {_shown(given)}" if not isinstance(given, (dict, list)) else message


def _pydantic_diagnostics(
    exc: ValidationError, source: str, positions: Mapping[PathKey, Location], values: Mapping[PathKey, Location]
) -> list[Diagnostic]:
    found = []
    for error in exc.errors(include_url=False):
        # function-…: a validator's frame; tag-…: the branch of a tagged union (schema.LoadItem).
        loc: PathKey = tuple(part for part in error["loc"] if not str(part).startswith(("function-", "tag-")))
        code = _PYDANTIC_CODES.get(error["type"], "PP103")
        if code == "PP101":
            owner = _model_at(loc[:-1])
            allowed = [info.alias or name for name, info in owner.model_fields.items()] if owner else []
            message = f"unknown key '{loc[-1]}'{_suggest(str(loc[-1]), allowed)}"
            location = _nearest(positions, loc)
        elif code == "PP102":
            message = f"required field '{loc[-1]}' is missing"
            location = _nearest(positions, loc)
        else:
            message = _describe(error)
            location = values.get(loc) or _nearest(positions, loc)
        found.append(Diagnostic(code, message, ".".join(map(str, loc)), location=location or Location(source, 1, 1)))
    return _in_file_order(found)


def _file_order(d: Diagnostic) -> tuple[int, int, str, str]:
    return (d.location.line if d.location else 0, d.location.column if d.location else 0, d.path, d.code)


def _in_file_order(found: list[Diagnostic]) -> list[Diagnostic]:
    """Findings sorted by position, so every run lists them the same way, top of the file first."""
    return sorted(found, key=_file_order)


def _problem_location(loaded: LoadedModel, problem: Problem) -> Location | None:
    return loaded.locate(problem.path) if problem.at_key else loaded.locate_value(problem.path)


def load_text(text: str, source: str = "<model>") -> LoadedModel:
    """Parse, type-check and cross-check a model; raise DiagnosticError with every problem."""
    data, positions, values = parse_yaml(text, source)
    try:
        # Strict validation of JSON-shaped data: YAML already typed every scalar, so a `yes` or
        # a quoted "20" where a number belongs is a mistake to report, not a value to coerce.
        # (Python-mode strict would also refuse a plain string for an enum field.)
        model = RequirementsModel.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise DiagnosticError(_pydantic_diagnostics(exc, source, positions, values)) from None
    loaded = LoadedModel(model, source, positions, values)
    problems = check_model(model)
    if problems:
        located = [
            Diagnostic(p.code, p.message, ".".join(map(str, p.path)), location=_problem_location(loaded, p))
            for p in problems
        ]
        raise DiagnosticError(_in_file_order(located))
    reads = path_reads(model)
    if reads:
        loaded = LoadedModel(planning_model(model, reads), source, positions, values, reads)
    planned = with_load_reads(loaded.model)  # bounded loads are reads of their own (bounded_loads.py)
    if planned is not loaded.model:
        # A finding about a bounded load's read points at its `loads` item.
        at = {load.name: ("access_patterns", load.position, "loads", load.index) for load in bounded_loads(model)}
        for position, pattern in enumerate(planned.access_patterns):
            mark = positions.marks.get(at.get(pattern.name, ()))
            if mark is not None:
                positions.marks[("access_patterns", position)] = mark
        loaded = LoadedModel(planned, source, positions, values, loaded.paths)
    return loaded


def load_file(path: str | Path) -> LoadedModel:
    """Load a model file; unreadable files are reported as PP001."""
    file = Path(path)
    try:
        # Read one byte past the limit rather than the whole file: a model cannot be that big,
        # and a multi-gigabyte file (or /dev/zero) must not be read into memory to say so.
        with file.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DiagnosticError(
            [Diagnostic("PP001", f"cannot read model file: {reason}", location=Location(str(path), 1, 1))]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        message = f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most a model may be"
        raise DiagnosticError([Diagnostic("PP005", message, location=Location(str(path), 1, 1))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Point at the offending byte by line and column, as for any other mistake.
        before = raw[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        raise DiagnosticError([Diagnostic("PP001", message, location=Location(str(path), line, column))]) from None
    return load_text(text, str(path))

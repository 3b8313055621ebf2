"""Load a requirements model from YAML, keeping line and column of every node.

PyYAML's `safe_load` throws positions away, so we compose the node tree ourselves and record
the start mark of each key and value; pydantic's error locations are then mapped back onto it.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location
from polyplan.model.checks import Problem, check_model
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
    positions: dict[PathKey, Location]
    values: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Location | None:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        return _nearest(self.positions, path)

    def locate_value(self, path: PathKey) -> Location | None:
        """The position of the value at `path` if it is written inline, else `locate(path)`."""
        return self.values.get(path) or self.values.get(_indexed(path)) or self.locate(path)


def _indexed(path: PathKey) -> PathKey:
    """Paths split from a dotted string ("access_patterns.0") carry list indices as text."""
    return tuple(int(part) if isinstance(part, str) and part.isdigit() else part for part in path)


def _nearest(positions: dict[PathKey, Location], path: PathKey) -> Location | None:
    indexed = _indexed(path)
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end]) or positions.get(indexed[:end])
        if found is not None:
            return found
    return None


def _location(source: str, mark: yaml.Mark | None) -> Location:
    return Location(source, mark.line + 1, mark.column + 1) if mark else Location(source, 1, 1)


def _scalar(node: yaml.ScalarNode, loader: yaml.SafeLoader) -> Any:
    value = loader.construct_object(node, deep=True)
    # Validation goes through JSON (see load_text): dates and times become ISO strings, which is
    # also how the model stores them.
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


# A model holds plain data: YAML's core types only. Other tags (!!binary, !!set, !!python/...,
# custom ones) mean nothing here, and refusing them keeps loading free of surprises.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


def _check_tag(node: yaml.Node) -> None:
    if node.tag not in _CORE_TAGS:
        shown = node.tag.replace("tag:yaml.org,2002:", "!!")
        problem = f"the YAML tag '{shown}' is not supported (a model holds plain values only)"
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


@dataclass
class _Walk:
    """State of one pass over the YAML node tree."""

    source: str
    loader: yaml.SafeLoader
    positions: dict[PathKey, Location] = field(default_factory=dict)
    values: dict[PathKey, Location] = field(default_factory=dict)
    errors: list[Diagnostic] = field(default_factory=list)
    open_nodes: set[int] = field(default_factory=set)  # collections being converted (alias cycles)

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        _check_tag(node)
        if id(node) in self.open_nodes:
            problem = "an alias inside this anchored value refers to the value itself (a cycle)"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
        here = _location(self.source, node.start_mark)
        self.positions.setdefault(path, here)
        # An empty value (`key:` and nothing) has no token of its own: its key is the place to point.
        if isinstance(node, yaml.ScalarNode):
            written = node.value != "" or bool(node.style)
        else:
            written = isinstance(node, yaml.CollectionNode) and bool(node.flow_style)
        if written:
            self.values[path] = here
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node, self.loader)
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_location = _location(self.source, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                where = ".".join(map(str, path))
                self.errors.append(
                    Diagnostic(
                        "PP002", "a key must be a plain name, not a list or mapping", where, location=key_location
                    )
                )
                continue
            # Keys are names: take the text as written, so `on:` or `1:` is not read as true or 1.
            key_text = str(key_node.value)
            child = (*path, key_text)
            if key_text in result:
                message = f"duplicate key '{key_text}' (first defined at line {self.positions[child].line})"
                self.errors.append(Diagnostic("PP003", message, ".".join(map(str, child)), location=key_location))
                continue
            self.positions[child] = key_location
            result[key_text] = self.convert(value_node, child)
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


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_for_errors(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        location = _location(source, exc.problem_mark or exc.context_mark)
        raise DiagnosticError(
            [Diagnostic("PP002", f"YAML syntax error: {_yaml_problem(exc)}", location=location)]
        ) from None


def parse_yaml(text: str, source: str) -> tuple[Any, dict[PathKey, Location], dict[PathKey, Location]]:
    """Parse YAML text into plain Python data plus maps of path → key position and → value position."""
    try:
        root = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.MarkedYAMLError:
        root = None
    if root is None:
        # libyaml is ~10x faster but words errors tersely; the pure-Python parser explains them
        # better, so it re-reads the text only when something is wrong (or the text is empty).
        root = _compose_for_errors(text, source)
    if root is None:
        raise DiagnosticError([Diagnostic("PP004", "the file is empty", location=Location(source, 1, 1))])
    walk = _Walk(source, yaml.SafeLoader(""))
    try:
        data = walk.convert(root, ())
    except yaml.constructor.ConstructorError as exc:
        location = _location(source, exc.problem_mark)
        raise DiagnosticError([Diagnostic("PP002", f"YAML error: {exc.problem}", location=location)]) from None
    if walk.errors:
        raise DiagnosticError(walk.errors)
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
        while get_origin(current) in (Union, types.UnionType):
            current = next((arg for arg in get_args(current) if arg is not type(None)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


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
    exc: ValidationError, source: str, positions: dict[PathKey, Location], values: dict[PathKey, Location]
) -> list[Diagnostic]:
    found = []
    for error in exc.errors(include_url=False):
        loc: PathKey = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
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
    return loaded


def load_file(path: str | Path) -> LoadedModel:
    """Load a model file; unreadable files are reported as PP001."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DiagnosticError(
            [Diagnostic("PP001", f"cannot read model file: {reason}", location=Location(str(path), 1, 1))]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Point at the offending byte by line and column, as for any other mistake.
        before = raw[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        raise DiagnosticError([Diagnostic("PP001", message, location=Location(str(path), line, column))]) from None
    return load_text(text, str(path))

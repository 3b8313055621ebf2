"""Load a requirements model from YAML, keeping line and column of every node.

PyYAML's `safe_load` throws positions away, so we compose the node tree ourselves and record
the start mark of each key and value; pydantic's error locations are then mapped back onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location
from polyplan.model.checks import check_model
from polyplan.model.schema import RequirementsModel

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedModel:
    """A validated model plus the positions needed to report later findings."""

    model: RequirementsModel
    source: str
    positions: dict[PathKey, Location]

    def locate(self, path: PathKey) -> Location | None:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        return _nearest(self.positions, path)


def _nearest(positions: dict[PathKey, Location], path: PathKey) -> Location | None:
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end])
        if found is not None:
            return found
    return None


def _scalar(node: yaml.ScalarNode, loader: yaml.SafeLoader) -> Any:
    return loader.construct_object(node, deep=True)  # type: ignore[no-untyped-call]


def _to_python(
    node: yaml.Node,
    path: PathKey,
    source: str,
    positions: dict[PathKey, Location],
    errors: list[Diagnostic],
    loader: yaml.SafeLoader,
) -> Any:
    positions.setdefault(path, Location(source, node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            key_text = str(key)
            child = (*path, key_text)
            key_location = Location(source, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key_text in result:
                errors.append(
                    Diagnostic("PP003", f"duplicate key '{key_text}'", ".".join(map(str, child)), location=key_location)
                )
                continue
            positions[child] = key_location
            result[key_text] = _to_python(value_node, child, source, positions, errors, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), source, positions, errors, loader) for index, item in enumerate(node.value)
        ]
    return _scalar(node, loader)  # type: ignore[arg-type]


def parse_yaml(text: str, source: str) -> tuple[Any, dict[PathKey, Location]]:
    """Parse YAML text into plain Python data plus a map of path → position."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise DiagnosticError([Diagnostic("PP002", f"YAML syntax error: {problem}", location=location)]) from None
    if root is None:
        raise DiagnosticError([Diagnostic("PP004", "the file is empty", location=Location(source, 1, 1))])
    positions: dict[PathKey, Location] = {}
    errors: list[Diagnostic] = []
    loader = yaml.SafeLoader("")
    try:
        data = _to_python(root, (), source, positions, errors, loader)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        location = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source, 1, 1)
        raise DiagnosticError([Diagnostic("PP002", f"YAML error: {exc.problem}", location=location)]) from None
    if errors:
        raise DiagnosticError(errors)
    if not isinstance(data, dict):
        raise DiagnosticError(
            [Diagnostic("PP004", "the model must be a mapping with 'name' and 'entities'", location=positions[()])]
        )
    return data, positions


_PYDANTIC_CODES = {"extra_forbidden": "PP101", "missing": "PP102"}


def _pydantic_diagnostics(exc: ValidationError, source: str, positions: dict[PathKey, Location]) -> list[Diagnostic]:
    found = []
    for error in exc.errors(include_url=False):
        loc: PathKey = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        code = _PYDANTIC_CODES.get(error["type"], "PP103")
        if code == "PP101":
            message = f"unknown key '{loc[-1]}'"
        elif code == "PP102":
            message = f"required field '{loc[-1]}' is missing"
        else:
            given = error.get("input")
            shown = f" (got {given!r})" if isinstance(given, (str, int, float, bool)) or given is None else ""
            message = f"{error['msg']}{shown}"
        location = _nearest(positions, loc) or Location(source, 1, 1)
        found.append(Diagnostic(code, message, ".".join(map(str, loc)), location=location))
    return sorted(found, key=lambda d: (d.location.line if d.location else 0, d.path))


def load_text(text: str, source: str = "<model>") -> LoadedModel:
    """Parse, type-check and cross-check a model; raise DiagnosticError with every problem."""
    data, positions = parse_yaml(text, source)
    try:
        model = RequirementsModel.model_validate(data)
    except ValidationError as exc:
        raise DiagnosticError(_pydantic_diagnostics(exc, source, positions)) from None
    loaded = LoadedModel(model, source, positions)
    problems = check_model(model)
    if problems:
        located = [
            Diagnostic(p.code, p.message, ".".join(map(str, p.path)), location=loaded.locate(p.path)) for p in problems
        ]
        raise DiagnosticError(located)
    return loaded


def load_file(path: str | Path) -> LoadedModel:
    """Load a model file; unreadable files are reported as PP001."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DiagnosticError([Diagnostic("PP001", f"cannot read model file: {reason}", location=Location(str(path), 1, 1))]) from None
    return load_text(text, str(path))

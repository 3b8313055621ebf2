"""Capability profiles of store engines, read from `targets/*.yaml` (editable data).

The bundled profiles, overlaid by a folder of the user's own (`polyplan plan --targets DIR`,
`polyplan.plan(model, targets=DIR)`), are loaded once per plan and travel on it
(`Plan.capabilities`): the scorer, the sizing models, capacity, sharding and expiry all read them
from there, never from the bundled files.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from polyplan.diagnostics import Diagnostic, DiagnosticError, Location
from polyplan.model.schema import Family

BUNDLED_TARGETS = Path(__file__).resolve().parent.parent / "targets"


class NodeCapacity(BaseModel):
    """One node's capacity (the profile's `node:` section): what `polyplan capacity` measures each
    store's need against. Every figure is an assumption the profile's comments explain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage_bytes: float
    writes_per_second: float
    reads_per_second: float
    connections: float | None = None  # None: the engine's clients multiplex, connections do not bind
    memory_bytes: float | None = None
    vertical_factor: float = 1.0  # the largest single machine, as a multiple of this node
    replication_factor: int = 1  # copies of every byte the store keeps (Cassandra, search)
    replica_lag_seconds: float | None = None  # None: the engine has no read replicas


class Capability(BaseModel):
    """What one engine is good at, as numbers the scorer weighs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str
    family: Family
    title: str
    transactions: Literal["multi_entity", "single_record", "none"]
    durable: bool
    scales_out: bool
    max_nodes: int
    write_rows_per_second_per_node: float
    comfortable_bytes_per_node: float
    typical_latency_ms: float
    schema_flexibility: float
    referential_integrity: float
    query_shapes: dict[str, float]
    consistency: dict[str, float]
    lifecycle: dict[str, float]
    features: frozenset[str]
    # Storage constants of the engine's sizing model (polyplan.stores.relational.sizing); the
    # profile's comments say where each comes from.
    sizing: dict[str, float] = {}
    node: NodeCapacity | None = None

    def has(self, feature: str) -> bool:
        """Whether the emitter may use `feature` on this engine."""
        return feature in self.features

    @property
    def write_capacity(self) -> float:
        """Rows per second the engine absorbs comfortably at its largest sensible size."""
        return self.write_rows_per_second_per_node * (self.max_nodes if self.scales_out else 1)

    @property
    def storage_capacity(self) -> float:
        """Bytes the engine holds comfortably at its largest sensible size."""
        return self.comfortable_bytes_per_node * (self.max_nodes if self.scales_out else 1)


@cache
def load_capabilities(directory: Path = BUNDLED_TARGETS) -> dict[str, Capability]:
    """Engine name → capability, from every YAML file in `directory` (trusted: the bundled profiles).
    A folder of the user's goes through `load_targets`, which reports mistakes as diagnostics."""
    found: dict[str, Capability] = {}
    for file in sorted(directory.glob("*.yaml")):
        capability = Capability.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
        found[capability.engine] = capability
    return found


def load_targets(directory: str | Path | None = None) -> dict[str, Capability]:
    """The bundled profiles, each replaced or joined by the profile of the same `engine` among the
    `*.yaml` files of `directory` (None: the bundled ones alone). Pure apart from reading the files.

    Raises DiagnosticError, every problem one `FILE:LINE:COL: path: problem` line: PP618 when the
    folder or a file cannot be read or parsed, PP619 when a profile is not a valid one.
    """
    bundled = load_capabilities()
    if directory is None:
        return dict(bundled)
    folder = Path(directory)
    if not folder.is_dir():
        raise DiagnosticError([_problem("PP618", "the targets folder does not exist or is not a folder", folder)])
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DiagnosticError([_problem("PP618", "the targets folder holds no profile (*.yaml)", folder)])
    problems: list[Diagnostic] = []
    found: dict[str, tuple[Path, Capability]] = {}
    for file in files:
        try:
            capability, positions = _read_profile(file)
        except DiagnosticError as error:
            problems.extend(error.diagnostics)
            continue
        # A profile replaces the bundled one whole: an engine's sizing model needs every constant.
        wanted = bundled[capability.engine].sizing if capability.engine in bundled else {}
        missing = [name for name in wanted if name not in capability.sizing]
        if missing:
            where = positions.get(("sizing",)) or positions.get(("engine",))
            shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            problems.append(
                _problem(
                    "PP619",
                    f"the {capability.engine} sizing model needs every constant of the bundled profile; missing: {shown}",
                    file,
                    "sizing",
                    where,
                )
            )
            continue
        if capability.engine in found:
            problems.append(
                _problem(
                    "PP619",
                    f"a second profile for engine '{capability.engine}' (the first: {found[capability.engine][0].name})",
                    file,
                    "engine",
                )
            )
            continue
        found[capability.engine] = (file, capability)
    if problems:
        raise DiagnosticError(problems)
    return {**bundled, **{engine: capability for engine, (_, capability) in found.items()}}


def _problem(code: str, message: str, file: Path, path: str = "", location: Location | None = None) -> Diagnostic:
    return Diagnostic(code, message, path, location=location or Location(str(file), 1, 1))


def _read_profile(file: Path) -> tuple[Capability, Mapping[Any, Location]]:
    """One profile file, checked, and the position of each key; DiagnosticError (PP618/PP619)
    pointing at the line of the mistake."""
    from polyplan.model.loader import parse_yaml  # the model's reader: positions of every key and value

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise DiagnosticError([_problem("PP618", f"cannot read target profile: {reason}", file)]) from None
    try:
        data, positions, values = parse_yaml(text, str(file))
    except DiagnosticError as error:
        # The reader words YAML problems for a model file; they are the same for a profile, under
        # this command's code. Its one model-specific sentence (a non-mapping document) is reworded.
        raise DiagnosticError(
            [
                Diagnostic(
                    "PP618",
                    "a target profile must be a mapping with 'engine', 'family', … (see polyplan/targets/)"
                    if d.code == "PP004" and "mapping" in d.message
                    else d.message,
                    d.path,
                    location=d.location,
                )
                for d in error.diagnostics
            ]
        ) from None
    try:
        return Capability.model_validate(data), positions
    except ValidationError as error:
        diagnostics = []
        for detail in error.errors(include_url=False):
            loc = tuple(detail["loc"])
            if detail["type"] == "extra_forbidden":
                message = f"unknown key '{loc[-1]}'"
            elif detail["type"] == "missing":
                message = f"required key '{loc[-1]}' is missing"
            else:
                message = f"{detail['msg']} (got {_shown(detail.get('input'))})"
            where = values.get(loc) or _enclosing(positions, loc) or Location(str(file), 1, 1)
            diagnostics.append(Diagnostic("PP619", message, ".".join(map(str, loc)), location=where))
        raise DiagnosticError(diagnostics) from None


def _enclosing(positions: Mapping[Any, Location], loc: tuple[Any, ...]) -> Location | None:
    """The position of `loc`'s key, else of the nearest key that holds it (a missing key: its mapping)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

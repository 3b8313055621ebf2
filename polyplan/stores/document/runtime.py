"""What the generated MongoDB tests need at run time besides I/O: the server, its gaps, the report.

A MongoDB wire-protocol server is not necessarily MongoDB: FerretDB (used where MongoDB cannot
run) answers the same commands but lacks features the design uses. `connect.examine` asks the
server what it is and probes each feature on scratch collections; this module turns the result
into skip reasons that name the server and the missing feature, and into the lines the run's
summary shows, so a pass on FerretDB is never mistaken for a pass on MongoDB. On MongoDB itself
no check is ever skipped: a failed probe there is reported and the checks run (and fail).
Pure apart from pytest's skip and the summary plugin.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from bson.decimal128 import Decimal128

# Features the design uses that a MongoDB wire-protocol server may lack, each with a phrase.
# The first five are also the names the generated setup.py's `apply(without=...)` takes.
VALIDATORS = "validators"
PARTIAL_INDEXES = "partial_indexes"
TTL_INDEXES = "ttl_indexes"
TEXT_INDEXES = "text_indexes"
HASHED_INDEXES = "hashed_indexes"
DECIMAL128 = "decimal128"
QUERY_PLANS = "query_plans"
HINTS = "hints"
ATOMIC_INC = "atomic_inc"
LOOKUP = "lookup"
CAPPED = "capped_collections"
GROUP_EXTREMES = "group_extremes"
FEATURES: dict[str, str] = {
    VALIDATORS: "$jsonSchema/$expr validators",
    PARTIAL_INDEXES: "partial indexes",
    TTL_INDEXES: "TTL indexes",
    TEXT_INDEXES: "text indexes and $text",
    HASHED_INDEXES: "hashed indexes",
    DECIMAL128: "the BSON Decimal128 type",
    QUERY_PLANS: "query plans in explain (winningPlan)",
    HINTS: "index hints",
    ATOMIC_INC: "$inc that counts every one of concurrent updates",
    LOOKUP: "the $lookup aggregation stage",
    CAPPED: "capped collections that keep at most their max documents",
    GROUP_EXTREMES: "the $group accumulators $max and $min",
}


@dataclass(frozen=True)
class Server:
    """The product behind a MongoDB URL, from `buildInfo`."""

    product: str  # "MongoDB" or "FerretDB"
    version: str
    reports: str  # the MongoDB version it claims in buildInfo.version

    @property
    def is_mongodb(self) -> bool:
        """Whether this is MongoDB itself (not a server that only speaks its protocol)."""
        return self.product == "MongoDB"

    @property
    def label(self) -> str:
        """Product and version, e.g. `FerretDB 1.24.2`."""
        return f"{self.product} {self.version}"

    def describe(self) -> str:
        """One phrase for the run's summary that never passes another server off as MongoDB."""
        if self.is_mongodb:
            return self.label
        return f"{self.label} (MongoDB wire protocol, reports MongoDB {self.reports}; not MongoDB)"


def identify(build_info: Mapping[str, Any]) -> Server:
    """The server from its `buildInfo` reply: FerretDB adds `ferretdbVersion` to MongoDB's fields."""
    reports = str(build_info.get("version", "?"))
    ferretdb = build_info.get("ferretdbVersion")
    if ferretdb:
        return Server("FerretDB", str(ferretdb).removeprefix("v"), reports)
    return Server("MongoDB", reports, reports)


@dataclass(frozen=True)
class Probe:
    """What a probe of one feature saw."""

    feature: str
    present: bool
    detail: str


@dataclass
class Examination:
    """The server under test, its probed features, and the checks skipped for what it lacks."""

    server: Server
    probes: tuple[Probe, ...]
    skipped: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (check, features it lacked)
    left_out: tuple[str, ...] = ()  # what setup.py applied the design without

    @property
    def missing(self) -> frozenset[str]:
        """Features whose checks skip: those a probe found absent, on a server that is not MongoDB.

        On MongoDB nothing is missing, whatever a probe saw: its checks must run (and fail if the
        feature really is broken), never skip.
        """
        if self.server.is_mongodb:
            return frozenset()
        return frozenset(p.feature for p in self.probes if not p.present)

    def lacks(self, needs: Iterable[str], what: str) -> str | None:
        """The skip reason of a check of `what` needing `needs`, or None when the server has them all.

        A reason returned is recorded for the summary: the check must skip with it.
        """
        lacking = tuple(f for f in FEATURES if f in set(needs) & self.missing)
        if not lacking:
            return None
        self.skipped.append((what, lacking))
        return (
            f"{self.server.label} lacks {_join([FEATURES[f] for f in lacking])}, which MongoDB has: "
            f"run against MongoDB to check {what}"
        )

    def summary(self) -> list[str]:
        """The lines that close the run: which server was tested and what could not be checked on it."""
        lines = [f"document store under test: {self.server.describe()}"]
        failed = [p for p in self.probes if not p.present]
        if not failed:
            lines.append("every feature probe passed")
            return lines
        if self.server.is_mongodb:
            lines += [f"feature probe failed on MongoDB (its checks still run): {p.detail}" for p in failed]
            return lines
        lines.append(f"{self.server.label} lacks, by probe:")
        lines += [f"  - {FEATURES[p.feature]}: {p.detail}" for p in failed]
        if self.left_out:
            lines.append(f"setup.py applied the design without: {'; '.join(self.left_out)}")
        if self.skipped:
            counts = Counter(f for _, lacking in self.skipped for f in lacking)
            shown = ", ".join(f"{FEATURES[f]} {counts[f]}" for f in FEATURES if counts[f])
            checks = f"{len(self.skipped)} check{'s' if len(self.skipped) != 1 else ''}"
            lines.append(f"{checks} skipped for these gaps ({shown}); MongoDB would run them:")
            lines += [f"  - {what}: {', '.join(FEATURES[f] for f in lacking)}" for what, lacking in self.skipped]
        lines.append(
            f"a pass on {self.server.label} is not a MongoDB pass: validate on MongoDB too (compose or testcontainers)"
        )
        return lines


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class ServerReport:
    """A pytest plugin, registered by the generated tests, that names the server in the summary."""

    def __init__(self, examination: Examination) -> None:
        self.examination = examination

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Close the run with the server under test and its gaps (shown with `-q` too)."""
        terminalreporter.write_sep("=", "document store under test")
        for line in self.examination.summary():
            terminalreporter.write_line(line)


def report(config: pytest.Config, examination: Examination) -> None:
    """Show `examination` in this run's summary (once per run)."""
    name = "polyplan-mongodb-server"
    if not config.pluginmanager.has_plugin(name):
        config.pluginmanager.register(ServerReport(examination), name)


# --- Decimal128 ------------------------------------------------------------------------------


def decimal_paths(documents: Iterable[Any], prefix: str = "") -> set[str]:
    """Dotted paths (array positions left out, as in queries) where a document holds a Decimal128."""
    found: set[str] = set()
    for value in documents:
        if isinstance(value, Decimal128):
            found.add(prefix.rstrip("."))
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                found |= decimal_paths([inner], f"{prefix}{key}.")
        elif isinstance(value, list):
            found |= decimal_paths(value, prefix)
    return found


def has_decimal(value: Any) -> bool:
    """Whether `value` holds a Decimal128 anywhere."""
    return bool(decimal_paths([value]))


def touches(paths: Iterable[str], decimals: set[str]) -> bool:
    """Whether one of `paths` is, holds or lies inside a path where documents store decimals."""
    return any(p == d or d.startswith(p + ".") or p.startswith(d + ".") for p in paths for d in decimals)


def without_decimals(value: Any) -> Any:
    """A copy of `value` with every Decimal128 left out (a field removed, an array item dropped).

    For a server without Decimal128 (FerretDB 1.x drops the connection on one): the documents are
    stored without their decimal fields, and every check that reads such a field skips.
    """
    if isinstance(value, Mapping):
        return {k: without_decimals(v) for k, v in value.items() if not isinstance(v, Decimal128)}
    if isinstance(value, list):
        return [without_decimals(v) for v in value if not isinstance(v, Decimal128)]
    return value

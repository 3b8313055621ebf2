"""The retention and archive design of every aged entity, for capacity.md (pure).

Every `retention_days` and `archive_after_days` rule of the model appears here with the
mechanism the chosen store uses, or with the warning that says why it has none (PP410–PP413,
PP402): no rule is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyplan.diagnostics import Diagnostic
from polyplan.markdown import cell, prose
from polyplan.model.schema import Family
from polyplan.plan.ir import Plan

LIFECYCLE_CODES = frozenset({"PP402", "PP410", "PP411", "PP412", "PP413"})


def _rule(retention: int | None, archive: int | None) -> str:
    parts = []
    if archive:
        parts.append(f"archive after {archive} days")
    if retention:
        parts.append(f"delete after {retention} days")
    return ", ".join(parts)


def _relational(data: Mapping[str, Any], engine: str) -> str:
    column, unit = data["column"], data["unit"]
    jobs = f"jobs in relational/{engine}/retention.sql"
    archive = f"; archive table {data['archive_table']}" if data.get("archive_table") else ""
    if engine in data["partitioned"]:
        return f"range partitions on {column}, one per {unit}; whole partitions dropped or detached{archive}; {jobs}"
    why = "; ".join(data["obstacles"].get(engine, []))
    return f"batched DELETE over an index on {column} ({why}){archive}; {jobs}"


def _mechanism(plan: Plan, entity: str, stores: Mapping[str, Any], warned: set[str]) -> str:
    decision = plan.entities[entity]
    growth = plan.model.entities[entity].growth
    family = decision.family
    if family is Family.RELATIONAL:
        data = stores.get("relational", {}).get("retention", {}).get(entity)
        return _relational(data, decision.engine) if data else "no time column to age rows by (see the warning)"
    if family is Family.DOCUMENT:
        if growth.retention_days and "PP412" not in warned:
            return f"TTL index on {growth.time_attribute} (expireAfterSeconds {growth.retention_days * 86400:,})"
        return "scheduled batched deleteMany (see the warnings)" if growth.retention_days else "see the warnings"
    if family is Family.WIDE_COLUMN:
        if growth.retention_days and "PP402" not in warned:
            return f"default TTL of {growth.retention_days} days on its tables (compaction: cassandra/schema.cql)"
        return "see the warnings"
    if family is Family.CACHE:
        return f"key TTL of {growth.ttl_seconds:,} s" if growth.ttl_seconds else "see the warnings"
    return "index lifecycle policy (ILM/ISM) or relayed deletes"


def lifecycle_lines(plan: Plan, stores: Mapping[str, Any], diagnostics: Sequence[Diagnostic]) -> list[str]:
    """The `## Retention and archiving` section of capacity.md; empty when no entity ages."""
    aged = [
        name
        for name, entity in plan.model.entities.items()
        if name in plan.entities and (entity.growth.retention_days or entity.growth.archive_after_days)
    ]
    if not aged:
        return []
    lines = ["## Retention and archiving", "", "| entity | store | rule | design |", "|---|---|---|---|"]
    notes: list[str] = []
    for name in aged:
        growth = plan.model.entities[name].growth
        decision = plan.entities[name]
        mine = [d for d in diagnostics if d.code in LIFECYCLE_CODES and d.path.startswith(f"entities.{name}.growth")]
        design = _mechanism(plan, name, stores, {d.code for d in mine})
        store = f"{decision.family.value} ({decision.engine})"
        lines.append(
            "| "
            + " | ".join(
                cell(x) for x in (name, store, _rule(growth.retention_days, growth.archive_after_days), design)
            )
            + " |"
        )
        notes += [f"- {prose(d.message)} [{d.code}]" for d in mine]
    if notes:
        lines += ["", *notes]
    return [*lines, ""]

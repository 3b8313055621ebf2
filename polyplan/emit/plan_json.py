"""plan.json: the machine-readable decisions, stable for diffing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from polyplan import __version__
from polyplan.diagnostics import Diagnostic
from polyplan.perf import indented_json
from polyplan.plan.ir import EntityPlan, FamilyScore, Plan


def _score(score: FamilyScore) -> dict[str, Any]:
    return {
        "engine": score.engine,
        "total": score.total,
        "eligible": score.eligible,
        "blockers": list(score.blockers),
        "factors": [
            {"factor": f.factor, "score": f.score, "weight": f.weight, "reason": f.reason} for f in score.factors
        ],
    }


def _profile(entity: EntityPlan) -> dict[str, Any]:
    # Field by field rather than `asdict`, which deep-copies every pattern only to drop it: the
    # other fields are scalars, enums and tuples of text.
    profile = {f.name: getattr(entity.profile, f.name) for f in fields(entity.profile)}
    profile["patterns"] = [p.name for p in entity.profile.patterns]
    profile["strongest_consistency"] = entity.profile.strongest_consistency.value
    return {key: (round(value, 3) if isinstance(value, float) else value) for key, value in profile.items()}


def entity_json(entity: EntityPlan) -> dict[str, Any]:
    """One entity's decision with every family's score and the reasons."""
    return {
        "name": entity.name,
        "system_of_record": {"family": entity.family.value, "engine": entity.engine},
        "forced": entity.forced,
        "projections": [
            {
                "family": p.family.value,
                "engine": p.engine,
                "patterns": list(p.patterns),
                "sync": p.sync.value,
                "reason": p.reason,
            }
            for p in entity.projections
        ],
        "scores": {score.family.value: _score(score) for score in entity.scores},
        "reasons": list(entity.reasons),
        "runner_up": {"family": entity.runner_up.value if entity.runner_up else None, "why": entity.runner_up_reason},
        "profile": _profile(entity),
    }


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    """A diagnostic as plain data."""
    return {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "path": diagnostic.path,
        "message": diagnostic.message,
    }


def render_plan_json(
    plan: Plan,
    stores: Mapping[str, Any],
    diagnostics: list[Diagnostic],
    capacity: Mapping[str, Any] | None = None,
    serving: list[dict[str, Any]] | None = None,
) -> str:
    """The whole plan as indented JSON with a trailing newline; `capacity` is the capacity plan's
    data (`CapacityPlan.as_data`), `serving` what serves each pattern (`emit.serving.serving_json`)."""
    model = plan.model
    document = {
        "polyplan": __version__,
        "model": {"name": model.name, "version": model.version, "horizon_years": model.options.horizon_years},
        "engines": model.engines.model_dump(),
        "entities": [entity_json(entity) for entity in plan.entities.values()],
        "stores": dict(stores),
        **({"capacity": dict(capacity)} if capacity is not None else {}),
        **({"serving": serving} if serving is not None else {}),
        **({"related_reads": [d.as_data() for d in plan.related_reads]} if plan.related_reads else {}),
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
    }
    return indented_json(document) + "\n"

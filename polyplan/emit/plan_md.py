"""plan.md: the decisions and their explanations, for people."""

from __future__ import annotations

from collections.abc import Iterable

from polyplan.diagnostics import Diagnostic
from polyplan.emit.erd import render_erd
from polyplan.markdown import cell, prose
from polyplan.plan.ir import EntityPlan, Plan

# Mermaid's default `maxTextSize`; GitHub and most viewers keep it, so larger diagrams show an error.
MERMAID_MAX_TEXT = 50_000


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return lines


def _entity_section(entity: EntityPlan) -> list[str]:
    lines = [f"### {prose(entity.name)} → {entity.family.value} ({entity.engine})", ""]
    # Reasons quote model names and values: shown as text, never as Markdown.
    lines += [f"- {prose(reason)}" for reason in entity.reasons]
    lines.append(f"- Runner-up: {prose(entity.runner_up_reason)}.")
    for projection in entity.projections:
        lines.append(
            f"- Projection to {projection.family.value} ({projection.engine}) for "
            f"{', '.join(projection.patterns)}, kept in step by {projection.sync.value}: {prose(projection.reason)}."
        )
    lines.append("")
    families = [s for s in entity.scores if s.engine is not None]
    header = ["factor (weight)", *[s.family.value for s in families]]
    rows = []
    for index, factor in enumerate(families[0].factors if families else ()):
        rows.append([f"{factor.factor} ({factor.weight:.2f})", *[f"{s.factors[index].score:.2f}" for s in families]])
    rows.append(["**total**", *[f"**{s.total:.2f}**" for s in families]])
    rows.append(["blocked", *[("; ".join(s.blockers) or "—") for s in families]])
    lines += _table(header, rows)
    chosen = entity.score_of(entity.family)
    lines += ["", "<details><summary>Why each factor scored as it did (chosen family)</summary>", ""]
    lines += [f"- **{f.factor}** {f.score:.2f}: {prose(f.reason)}" for f in chosen.factors]
    lines += ["", "</details>", ""]
    return lines


def _related_reads(plan: Plan) -> list[str]:
    """One line per related field read: joined, copied or cached, over the runner-up, and why."""
    if not plan.related_reads:
        return []
    lines = ["", "## Related fields read", ""]
    lines += ["Costs are row operations a second (`polyplan/plan/related_reads.py` says how each is counted).", ""]
    for decision in plan.related_reads:
        kept = ""
        if decision.copied:
            causes = ", ".join(decision.causes) or "no write pattern"
            kept = (
                f" Kept in `{decision.entity}.{decision.copy}`, rewritten by {causes}: "
                f"{decision.fan_out:,.1f} rows per change on average, {decision.worst_fan_out:,.0f} at most; "
                f"{decision.upkeep}."
            )
        if decision.cached and not decision.copied:
            kept += (
                f" The cached answer holds it; the parent's writes {decision.entry.value} the cached answers of its "
                f"children because {decision.entry_reason}."
                if decision.entry is not None
                else f" The cached answer cannot hold it (PP471): {decision.entry_reason}."
            )
        lines.append(f"- `{decision.pattern}` {prose(decision.line())}.{kept}")
    return lines


def render_plan_md(plan: Plan, diagnostics: list[Diagnostic]) -> str:
    """The human-readable plan."""
    model = plan.model
    lines = [f"# Persistence plan: {model.name} (model version {model.version})", ""]
    if model.description:
        lines += [prose(model.description), ""]
    lines += [f"Planning horizon: {model.options.horizon_years:g} years.", "", "## Decisions", ""]
    rows = []
    for entity in plan.entities.values():
        projections = ", ".join(f"{p.family.value} ({p.engine})" for p in entity.projections) or "—"
        profile = entity.profile
        rows.append(
            [
                cell(entity.name),
                f"{entity.family.value} ({entity.engine})",
                projections,
                f"{entity.score_of(entity.family).total:.2f}",
                f"{profile.read_rate:,.0f} / {profile.write_rate:,.0f}",
                f"{profile.rows_at_horizon:,.0f}",
            ]
        )
    lines += _table(
        ["entity", "system of record", "projections", "score", "reads/s / writes/s", "rows at horizon"], rows
    )
    lines += _related_reads(plan)
    lines += ["", "## Entities", ""]
    for entity in plan.entities.values():
        lines += _entity_section(entity)
    lines += ["## Diagnostics", ""]
    lines += [
        f"- `{d.code}` {d.severity.value}: {cell(d.path) + ': ' if d.path else ''}{prose(d.message)}"
        for d in diagnostics
    ] or ["None."]
    lines += ["", "## Diagram", ""]
    erd = render_erd(plan)
    if len(erd) <= MERMAID_MAX_TEXT:
        lines += ["Also in `erd.mmd`. Each box names the entity's system of record and projections.", ""]
        lines += ["```mermaid", erd.rstrip("\n"), "```", ""]
    else:
        lines += [
            f"`erd.mmd` ({len(erd):,} characters) is too large to render inline: Mermaid refuses text "
            f"over {MERMAID_MAX_TEXT:,} characters by default. Render it with `mmdc -i erd.mmd` and a "
            "raised `maxTextSize`.",
            "",
        ]
    return "\n".join(lines)

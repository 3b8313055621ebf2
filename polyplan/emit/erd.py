"""erd.mmd: a Mermaid ER diagram of the model, annotated with where each entity lives."""

from __future__ import annotations

import re

from polyplan.model.derived import all_attributes, key_of, references_into
from polyplan.model.schema import RelationshipKind
from polyplan.plan.ir import Plan

_CARDINALITY = {
    # (kind, required) → Mermaid relationship; the left side is the parent (`from`).
    (RelationshipKind.ONE_TO_MANY, True): "||--o{",
    (RelationshipKind.ONE_TO_MANY, False): "|o--o{",
    (RelationshipKind.ONE_TO_ONE, True): "||--o|",
    (RelationshipKind.ONE_TO_ONE, False): "|o--o|",
    (RelationshipKind.MANY_TO_MANY, True): "}o--o{",
    (RelationshipKind.MANY_TO_MANY, False): "}o--o{",
}


def _mermaid_name(name: str) -> str:
    # Mermaid accepts only word characters in entity and attribute names.
    return re.sub(r"\W", "_", name)


def _comment(text: str) -> str:
    return text.replace('"', "'")


def render_erd(plan: Plan) -> str:
    """The diagram text (GitHub renders ```mermaid blocks; `mmdc` renders files)."""
    model = plan.model
    lines = ["erDiagram"]
    for name in model.entities:
        decision = plan.entities[name]
        keys = set(key_of(model.entities[name]).attributes)
        references = {column for ref in references_into(model, name) for column in ref.columns}
        lines.append(f"    {_mermaid_name(name)} {{")
        for attr_name, attribute in all_attributes(model, name).items():
            markers = [
                m
                for m, present in (("PK", attr_name in keys), ("FK", attr_name in references), ("UK", attribute.unique))
                if present
            ]
            note = [] if attr_name == _mermaid_name(attr_name) else [f"name: {attr_name}"]
            if attribute.pii.value != "none":
                note.append(f"PII {attribute.pii.value}")
            marker_text = f" {','.join(markers)}" if markers else ""
            note_text = f' "{_comment("; ".join(note))}"' if note else ""
            lines.append(f"        {attribute.type.value} {_mermaid_name(attr_name)}{marker_text}{note_text}")
        lines.append("    }")
        where = f"{decision.family.value}:{decision.engine}"
        projections = ", ".join(f"{p.family.value}:{p.engine}" for p in decision.projections)
        lines.append(f"    %% {name} → {where}" + (f" (+ {projections})" if projections else ""))
    for relationship in model.relationships:
        shape = _CARDINALITY[(relationship.kind, relationship.required)]
        label = relationship.name + (" (owned)" if relationship.owned else "")
        lines.append(f'    {_mermaid_name(relationship.from_)} {shape} {_mermaid_name(relationship.to)} : "{label}"')
    return "\n".join(lines) + "\n"

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


def _unique_ids(names: list[str]) -> dict[str, str]:
    """A Mermaid id per name, in the given order: `a b` and `a-b` both map to `a_b`, so the later
    one gets a numeric suffix instead of silently merging two boxes into one."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = candidate = _mermaid_name(name)
        suffix = 2
        while candidate in taken:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        ids[name] = candidate
    return ids


def _comment(text: str) -> str:
    return text.replace('"', "'")


def render_erd(plan: Plan) -> str:
    """The diagram text (GitHub renders ```mermaid blocks; `mmdc` renders files)."""
    model = plan.model
    lines = ["erDiagram"]
    entity_ids = _unique_ids(list(model.entities))
    for name in model.entities:
        decision = plan.entities[name]
        keys = set(key_of(model.entities[name]).attributes)
        references = {column for ref in references_into(model, name) for column in ref.columns}
        where = f"{decision.family.value}:{decision.engine}"
        projections = ", ".join(f"{p.family.value}:{p.engine}" for p in decision.projections)
        # The alias is what the rendered box shows, so the store is visible, not only a comment.
        label = f"{name} · {where}" + (f" + {projections}" if projections else "")
        lines.append(f'    {entity_ids[name]}["{_comment(label)}"] {{')
        attributes = all_attributes(model, name)
        attribute_ids = _unique_ids(list(attributes))
        for attr_name, attribute in attributes.items():
            markers = [
                m
                for m, present in (("PK", attr_name in keys), ("FK", attr_name in references), ("UK", attribute.unique))
                if present
            ]
            note = [] if attr_name == attribute_ids[attr_name] else [f"name: {attr_name}"]
            if attribute.pii.value != "none":
                note.append(f"PII {attribute.pii.value}")
            marker_text = f" {','.join(markers)}" if markers else ""
            note_text = f' "{_comment("; ".join(note))}"' if note else ""
            lines.append(f"        {attribute.type.value} {attribute_ids[attr_name]}{marker_text}{note_text}")
        lines.append("    }")
    for relationship in model.relationships:
        shape = _CARDINALITY[(relationship.kind, relationship.required)]
        label = relationship.name + (" (owned)" if relationship.owned else "")
        source, target = entity_ids[relationship.from_], entity_ids[relationship.to]
        lines.append(f'    {source} {shape} {target} : "{_comment(label)}"')
    return "\n".join(lines) + "\n"

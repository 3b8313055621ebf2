"""erd.mmd: a Mermaid ER diagram of the model, annotated with where each entity lives."""

from __future__ import annotations

import re

from polyplan.emit.diagram import build_graph, render_dbml, render_dot, store_slug, stores
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


def render_erd(plan: Plan, store: str | None = None) -> str:
    """The diagram text (GitHub renders ```mermaid blocks; `mmdc` renders files): the whole plan,
    or with `store` (`family:engine`) the entities whose system of record is there."""
    graph = build_graph(plan, store)
    lines = ["erDiagram"]
    entity_ids = _unique_ids([box.name for box in graph.boxes])
    for box in graph.boxes:
        projections = ", ".join(box.projections)
        # The alias is what the rendered box shows, so the store is visible, not only a comment.
        label = f"{box.name} · {box.store}" + (f" + {projections}" if projections else "")
        lines.append(f'    {entity_ids[box.name]}["{_comment(label)}"] {{')
        attribute_ids = _unique_ids([column.name for column in box.columns])
        for column in box.columns:
            note = [] if column.name == attribute_ids[column.name] else [f"name: {column.name}"]
            if column.pii is not None:
                note.append(f"PII {column.pii}")
            marker_text = f" {','.join(column.markers)}" if column.markers else ""
            note_text = f' "{_comment("; ".join(note))}"' if note else ""
            lines.append(f"        {column.type} {attribute_ids[column.name]}{marker_text}{note_text}")
        lines.append("    }")
    for link in graph.links:
        shape = _CARDINALITY[(RelationshipKind(link.kind), link.required)]
        label = link.name + (" (owned)" if link.owned else "")
        lines.append(f'    {entity_ids[link.source]} {shape} {entity_ids[link.target]} : "{_comment(label)}"')
    return "\n".join(lines) + "\n"


def diagram_files(plan: Plan) -> dict[str, str]:
    """`erd.dot` and `erd.dbml` for the whole plan, and with more than one store
    `diagrams/<family>-<engine>.{mmd,dot,dbml}` per store (erd.mmd is written by the pipeline)."""
    graph = build_graph(plan)
    files = {"erd.dot": render_dot(graph), "erd.dbml": render_dbml(graph)}
    every = stores(plan)
    if len(every) > 1:
        for store in every:
            part = build_graph(plan, store)
            slug = store_slug(store)
            files[f"diagrams/{slug}.mmd"] = render_erd(plan, store)
            files[f"diagrams/{slug}.dot"] = render_dot(part)
            files[f"diagrams/{slug}.dbml"] = render_dbml(part)
    return files

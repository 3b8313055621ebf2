"""The ER diagram as data, and its Graphviz DOT and DBML exports (erd.mmd is `erd.py`).

One graph per plan (every entity) and one per store (the entities whose system of record is
there, with the relationships between them). Each box names its store; relationships carry their
cardinality; many-to-many links carry their own attributes. Pure: text only, no `dot` binary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import graphviz

from polyplan.model.derived import all_attributes, key_of, reference_of, references_into
from polyplan.model.schema import RelationshipKind
from polyplan.plan.ir import Plan

# (kind, required) → (parent end, child end), as read in the diagrams: "1" exactly one, "0..1"
# at most one, "*" any number.
_ENDS = {
    (RelationshipKind.ONE_TO_MANY, True): ("1", "*"),
    (RelationshipKind.ONE_TO_MANY, False): ("0..1", "*"),
    (RelationshipKind.ONE_TO_ONE, True): ("1", "0..1"),
    (RelationshipKind.ONE_TO_ONE, False): ("0..1", "0..1"),
    (RelationshipKind.MANY_TO_MANY, True): ("*", "*"),
    (RelationshipKind.MANY_TO_MANY, False): ("*", "*"),
}


@dataclass(frozen=True)
class Column:
    """One attribute as the diagrams show it."""

    name: str
    type: str
    markers: tuple[str, ...]  # PK, FK, UK
    pii: str | None


@dataclass(frozen=True)
class Box:
    """One entity: where it lives (`store`, e.g. `relational:postgresql`) and its columns."""

    name: str
    store: str
    projections: tuple[str, ...]
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Link:
    """One relationship: `source` is the parent (`from`) side; `ends` are the cardinalities."""

    name: str
    kind: str
    source: str
    target: str
    ends: tuple[str, str]
    required: bool
    owned: bool
    # child column → parent key column (one-to-*); empty for many-to-many.
    columns: tuple[tuple[str, str], ...]
    attributes: tuple[Column, ...]  # a many-to-many link's own attributes


@dataclass(frozen=True)
class Graph:
    """An ER diagram: `title` names the plan or the store."""

    title: str
    boxes: tuple[Box, ...]
    links: tuple[Link, ...]


def store_of(plan: Plan, entity: str) -> str:
    """`family:engine` of an entity's system of record."""
    decision = plan.entities[entity]
    return f"{decision.family.value}:{decision.engine}"


def stores(plan: Plan) -> list[str]:
    """Every store that is some entity's system of record, in first-use order."""
    return list(dict.fromkeys(store_of(plan, name) for name in plan.model.entities))


def build_graph(plan: Plan, store: str | None = None) -> Graph:
    """The whole plan's diagram, or (with `store`) the part of it whose records live in `store`."""
    model = plan.model
    names = [n for n in model.entities if store is None or store_of(plan, n) == store]
    chosen = set(names)
    boxes = []
    for name in names:
        decision = plan.entities[name]
        keys = set(key_of(model.entities[name]).attributes)
        references = {column for ref in references_into(model, name) for column in ref.columns}
        columns = tuple(
            Column(
                attr_name,
                attribute.type.value,
                tuple(
                    m
                    for m, present in (
                        ("PK", attr_name in keys),
                        ("FK", attr_name in references),
                        ("UK", attribute.unique),
                    )
                    if present
                ),
                None if attribute.pii.value == "none" else attribute.pii.value,
            )
            for attr_name, attribute in all_attributes(model, name).items()
        )
        projections = tuple(f"{p.family.value}:{p.engine}" for p in decision.projections)
        boxes.append(Box(name, store_of(plan, name), projections, columns))
    links = []
    for relationship in model.relationships:
        if relationship.from_ not in chosen or relationship.to not in chosen:
            continue
        reference = reference_of(model, relationship)
        attributes = tuple(
            Column(n, a.type.value, (), None if a.pii.value == "none" else a.pii.value)
            for n, a in relationship.attributes.items()
        )
        links.append(
            Link(
                relationship.name,
                relationship.kind.value,
                relationship.from_,
                relationship.to,
                _ENDS[(relationship.kind, relationship.required)],
                relationship.required,
                relationship.owned,
                tuple(reference.columns.items()) if reference is not None else (),
                attributes,
            )
        )
    return Graph(model.name if store is None else f"{model.name} · {store}", tuple(boxes), tuple(links))


def store_slug(store: str) -> str:
    """A file-name form of `family:engine` (`relational-postgresql`)."""
    return re.sub(r"[^a-z0-9_]+", "-", store.lower()).strip("-")


# --- Graphviz DOT ------------------------------------------------------------------------------


def _html(text: str) -> str:
    # Graphviz HTML-like labels are XML: model names are escaped, never read as markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _dot_label(box: Box) -> str:
    store = box.store + (f" + {', '.join(box.projections)}" if box.projections else "")
    rows = [
        f'<TR><TD BGCOLOR="#dde7f3" ALIGN="LEFT"><B>{_html(box.name)}</B></TD></TR>',
        f'<TR><TD BGCOLOR="#dde7f3" ALIGN="LEFT"><FONT POINT-SIZE="9">{_html(store)}</FONT></TD></TR>',
    ]
    for column in box.columns:
        marks = f" {','.join(column.markers)}" if column.markers else ""
        rows.append(f'<TR><TD ALIGN="LEFT">{_html(column.name)} : {_html(column.type)}{marks}</TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">' + "".join(rows) + "</TABLE>>"


def render_dot(graph: Graph) -> str:
    """The diagram as Graphviz DOT (`dot -Tsvg erd.dot > erd.svg`). The `graphviz` package writes
    the DOT syntax and its quoting; labels are HTML-like tables with escaped text."""
    dot = graphviz.Digraph("erd", comment=f"ER diagram: {graph.title}")
    dot.attr(rankdir="LR", fontname="Helvetica")
    dot.attr("node", shape="plaintext", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9", arrowhead="none")
    ids = {box.name: f"e{index}" for index, box in enumerate(graph.boxes)}
    for box in graph.boxes:
        dot.node(ids[box.name], label=_dot_label(box), tooltip=box.name)
    for link in graph.links:
        label = link.name + (" (owned)" if link.owned else "")
        if link.attributes:
            label += "\n" + ", ".join(f"{a.name}: {a.type}" for a in link.attributes)
        dot.edge(ids[link.source], ids[link.target], label=label, taillabel=link.ends[0], headlabel=link.ends[1])
    return str(dot.source)


# --- DBML (dbdiagram.io) -----------------------------------------------------------------------


def _dbml_name(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dbml_type(name: str) -> str:
    # A bare word stays bare (`uuid`); anything else is quoted as a name.
    return name if re.fullmatch(r"\w+", name) else _dbml_name(name)


def _dbml_note(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", " ") + "'"


def _dbml_column(column: Column) -> str:
    settings = [{"PK": "pk", "UK": "unique"}[m] for m in column.markers if m in ("PK", "UK")]
    if column.pii:
        settings.append(f"note: {_dbml_note('PII ' + column.pii)}")
    suffix = f" [{', '.join(settings)}]" if settings else ""
    return f"  {_dbml_name(column.name)} {_dbml_type(column.type)}{suffix}"


def render_dbml(graph: Graph) -> str:
    """The diagram as DBML for dbdiagram.io: a Table per entity (its store in the header note and
    a TableGroup per store), a Ref per one-to-* relationship through its reference columns, and
    a link Table per many-to-many relationship holding both keys and the link's attributes."""
    lines = [f"// ER diagram: {graph.title} (generated by polyplan)", ""]
    by_name = {box.name: box for box in graph.boxes}
    for box in graph.boxes:
        lines.append(f"Table {_dbml_name(box.name)} {{")
        lines += [_dbml_column(column) for column in box.columns]
        store = box.store + (f" + {', '.join(box.projections)}" if box.projections else "")
        lines += [f"  Note: {_dbml_note('stored in ' + store)}", "}", ""]
    for link in graph.links:
        if link.columns:
            for child_column, parent_column in link.columns:
                shape = "-" if link.kind == RelationshipKind.ONE_TO_ONE.value else "<"
                lines.append(
                    f"Ref {_dbml_name(link.name)}: {_dbml_name(link.source)}.{_dbml_name(parent_column)} {shape} "
                    f"{_dbml_name(link.target)}.{_dbml_name(child_column)}"
                )
            continue
        # Many-to-many: the link is a table of its own, keyed by both sides' keys.
        lines.append(f"Table {_dbml_name(link.name)} {{")
        ends: list[tuple[str, str, str]] = []
        for side in (link.source, link.target):
            for column in by_name[side].columns:
                if "PK" in column.markers:
                    local = f"{side.lower()}_{column.name}"
                    ends.append((side, column.name, local))
                    lines.append(f"  {_dbml_name(local)} {_dbml_type(column.type)}")
        lines += [_dbml_column(attribute) for attribute in link.attributes]
        lines += [f"  Note: {_dbml_note(f'many-to-many link between {link.source} and {link.target}')}", "}"]
        for side, key, local in ends:
            lines.append(f"Ref: {_dbml_name(link.name)}.{_dbml_name(local)} > {_dbml_name(side)}.{_dbml_name(key)}")
        lines.append("")
    groups: dict[str, list[str]] = {}
    for box in graph.boxes:
        groups.setdefault(box.store, []).append(box.name)
    for store, members in groups.items():
        lines.append(f"TableGroup {_dbml_name(store)} {{")
        lines += [f"  {_dbml_name(member)}" for member in members]
        lines += ["}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"

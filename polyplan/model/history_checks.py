"""Checks of the keys that relate a model to its previous version: `renamed_from` and `dropped`.

They are checked on one model alone (PP316): whatever names the previous version, not this one,
must not also be a name this version still has, and must be written where a migration can act
on it. Whether the previous version really had those names is checked by `polyplan.migrate`,
which has both versions.
"""

from __future__ import annotations

from collections import Counter

from polyplan.model.schema import Attribute, RequirementsModel

Path = tuple[str | int, ...]
Finding = tuple[str, str, Path]  # code, message, path (the caller turns them into Problems)


def _nested_renames(attribute: Attribute, path: Path) -> list[Finding]:
    """`renamed_from` below an entity's own attributes: a field's rename has no column to act on."""
    found: list[Finding] = []
    children: list[tuple[Path, Attribute]] = [((*path, "fields", n), f) for n, f in (attribute.fields or {}).items()]
    if attribute.items is not None:
        children.append(((*path, "items"), attribute.items))
    for child_path, child in children:
        if child.renamed_from is not None:
            found.append(
                (
                    "PP316",
                    "renamed_from is allowed on an entity and on its own attributes, not on an object's field or a "
                    "list's item; rename the attribute that holds it",
                    (*child_path, "renamed_from"),
                )
            )
        found.extend(_nested_renames(child, child_path))
    return found


def history_problems(model: RequirementsModel) -> list[Finding]:
    """Contradictions between `renamed_from`, `dropped` and the names this version has."""
    found: list[Finding] = []
    dropped_entities = set(model.dropped.entities)
    sources = Counter(e.renamed_from for e in model.entities.values() if e.renamed_from)
    for name, entity in model.entities.items():
        path: Path = ("entities", name)
        source = entity.renamed_from
        if source is not None:
            where = (*path, "renamed_from")
            if source == name or source in model.entities:
                found.append(
                    ("PP316", f"'{source}' is renamed to '{name}' but this version still has '{source}'", where)
                )
            elif sources[source] > 1:
                found.append(("PP316", f"more than one entity is renamed from '{source}'", where))
            elif source in dropped_entities:
                found.append(("PP316", f"'{source}' cannot be both renamed to '{name}' and dropped", where))
        attribute_sources = Counter(a.renamed_from for a in entity.attributes.values() if a.renamed_from)
        dropped_here = {a.split(".", 1)[1] for a in model.dropped.attributes if a.split(".", 1)[0] in (name, source)}
        for attr_name, attribute in entity.attributes.items():
            attr_path: Path = (*path, "attributes", attr_name)
            found.extend(_nested_renames(attribute, attr_path))
            old = attribute.renamed_from
            if old is None:
                continue
            where = (*attr_path, "renamed_from")
            if old == attr_name or old in entity.attributes:
                found.append(("PP316", f"'{old}' is renamed to '{attr_name}' but {name} still has '{old}'", where))
            elif attribute_sources[old] > 1:
                found.append(("PP316", f"more than one attribute of {name} is renamed from '{old}'", where))
            elif old in dropped_here:
                found.append(("PP316", f"'{old}' cannot be both renamed to '{attr_name}' and dropped", where))
    for index, name in enumerate(model.dropped.entities):
        if name in model.entities:
            found.append(
                (
                    "PP316",
                    f"entity '{name}' is declared dropped but this version still has it",
                    ("dropped", "entities", index),
                )
            )
    for index, dotted in enumerate(model.dropped.attributes):
        where = ("dropped", "attributes", index)
        entity_name, _, attr_name = dotted.partition(".")
        if not entity_name or not attr_name:
            found.append(("PP103", f"'{dotted}' should be written Entity.attribute", where))
            continue
        current = model.entities.get(entity_name)
        if current is not None and attr_name in current.attributes:
            found.append(("PP316", f"attribute '{dotted}' is declared dropped but this version still has it", where))
        if entity_name in dropped_entities:
            found.append(("PP316", f"'{dotted}' is dropped with its whole entity; list the entity only", where))
    return found

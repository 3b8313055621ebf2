"""Checks of a composite reference: `foreign_key` given as a list of the child's attributes.

`foreign_key: [o_w_id, o_d_id, o_c_id]` says that the child refers to its parent through these
attributes, one per parent key attribute in key order. Attributes the child declares are reused
(their type must be the parent key attribute's); the others are implied with the parent's types.
"""

from __future__ import annotations

import re
from collections import Counter

from polyplan.model.derived import key_attributes
from polyplan.model.schema import RelationshipKind, RequirementsModel

Path = tuple[str | int, ...]
Finding = tuple[str, str, Path]  # code, message, path (the caller turns them into Problems)


def composite_reference_problems(
    model: RequirementsModel, index: int, name_pattern: re.Pattern[str], name_rule: str
) -> list[Finding]:
    """Problems of relationship `index`, whose `foreign_key` is a list of attribute names."""
    relationship = model.relationships[index]
    names = relationship.foreign_key if isinstance(relationship.foreign_key, list) else []
    path: Path = ("relationships", index, "foreign_key")
    found: list[Finding] = [
        ("PP203", f"foreign key name '{name}' is not a valid name ({name_rule})", (*path, position))
        for position, name in enumerate(names)
        if not name_pattern.fullmatch(name)
    ]
    twice = sorted(name for name, count in Counter(names).items() if count > 1)
    if twice:
        found.append(("PP325", f"foreign_key names {', '.join(twice)} more than once", path))
    if relationship.kind is RelationshipKind.MANY_TO_MANY:
        found.append(("PP325", "a many_to_many relationship has no reference attributes to name", path))
        return found
    if relationship.from_ not in model.entities or relationship.to not in model.entities:
        return found  # PP201 says so
    parent_key = key_attributes(model.entities[relationship.from_])
    if len(names) != len(parent_key):
        found.append(
            (
                "PP325",
                f"foreign_key names {len(names)} attribute(s) but {relationship.from_}'s key has "
                f"{len(parent_key)} ({', '.join(parent_key)})",
                path,
            )
        )
        return found
    declared = model.entities[relationship.to].attributes
    for position, (name, (key_name, key_attribute)) in enumerate(zip(names, parent_key.items(), strict=True)):
        own = declared.get(name)
        if own is not None and own.type is not key_attribute.type:
            found.append(
                (
                    "PP303",
                    f"'{name}' has type {own.type.value} but {relationship.from_}.{key_name} has type "
                    f"{key_attribute.type.value}",
                    (*path, position),
                )
            )
    return found

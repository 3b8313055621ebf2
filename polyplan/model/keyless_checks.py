"""Checks of keys and of append-only histories without one (`key: {kind: none}`).

An entity declared keyless has no primary key in any store: its rows are inserted, read by their
attributes and removed in bulk (a `where`, retention), never addressed one by one. Whatever needs
to address one record is refused here: PP342 for a key that says two things, PP343 for what needs
the key, PP344 for a placement in a store that holds every record under its key.
"""

from __future__ import annotations

from polyplan.model.derived import is_keyless
from polyplan.model.schema import Family, KeyKind, RelationshipKind, RequirementsModel, WriteKind

Path = tuple[str | int, ...]
Finding = tuple[str, str, Path]  # code, message, path (the caller turns them into Problems)

# What each write kind needs the key for, when it has no `where` (an upsert always does).
BY_KEY = {
    WriteKind.UPDATE: "an update without where writes one record by its key",
    WriteKind.DELETE: "a delete without where removes one record by its key",
    WriteKind.INCREMENT: "an increment without where adds to one record found by its key",
}
KEYED_PLACEMENTS = {
    Family.WIDE_COLUMN: "Cassandra stores every row under its primary key",
    Family.CACHE: "Redis stores every value under a key",
}  # a search engine is never a system of record (PP307)


def _shape_problems(model: RequirementsModel) -> list[Finding]:
    """PP342: a key kind and its attributes that contradict, or unique rules on a keyless entity."""
    found: list[Finding] = []
    for name, entity in model.entities.items():
        key = entity.key
        if key is None:
            continue
        path: Path = ("entities", name, "key")
        if key.kind is KeyKind.NONE and key.attributes:
            found.append(
                ("PP342", "kind: none declares no key, so it names no attributes; drop them or say natural", path)
            )
        elif key.kind is not KeyKind.NONE and not key.attributes:
            found.append(("PP342", f"a {key.kind.value} key names its attributes (at least one)", path))
        if key.kind is not KeyKind.NONE:
            continue
        unique = [a for a, attribute in entity.attributes.items() if attribute.unique]
        for attribute in unique:
            found.append(
                (
                    "PP342",
                    f"'{attribute}' is unique, so {name} has a key after all: declare key: {{kind: natural, "
                    f"attributes: [{attribute}]}} instead of kind: none",
                    ("entities", name, "attributes", attribute, "unique"),
                )
            )
        if entity.unique:
            found.append(
                (
                    "PP342",
                    f"a unique rule is a key: declare it as {name}'s natural key instead of kind: none",
                    ("entities", name, "unique"),
                )
            )
    return found


def _needs_key_problems(model: RequirementsModel) -> list[Finding]:
    """PP343: relationships to a keyless entity, writes of one of its records, an erasure subject."""
    found: list[Finding] = []
    keyless = {name for name, entity in model.entities.items() if is_keyless(entity)}
    if not keyless:
        return found
    for index, relationship in enumerate(model.relationships):
        if relationship.from_ in keyless:
            found.append(
                (
                    "PP343",
                    f"{relationship.from_} has no key (kind: none), so {relationship.to} has nothing to refer to; "
                    "give it a key, or reverse the relationship",
                    ("relationships", index, "from"),
                )
            )
        elif relationship.kind is RelationshipKind.MANY_TO_MANY and relationship.to in keyless:
            found.append(
                (
                    "PP343",
                    f"{relationship.to} has no key (kind: none): a many_to_many link table refers to both sides' keys",
                    ("relationships", index, "to"),
                )
            )
    for index, write in enumerate(model.write_patterns):
        if write.entity not in keyless:
            continue
        if write.kind is WriteKind.UPSERT:
            found.append(
                (
                    "PP343",
                    f"{write.entity} has no key (kind: none): an upsert finds its record by key; insert instead",
                    ("write_patterns", index, "kind"),
                )
            )
        elif write.kind in BY_KEY and not write.where:
            found.append(
                (
                    "PP343",
                    f"{write.entity} has no key (kind: none): {BY_KEY[write.kind]}; say which rows with where",
                    ("write_patterns", index, "kind"),
                )
            )
    subject = model.security.data_subject
    if subject in keyless:
        found.append(
            (
                "PP343",
                f"{subject} has no key (kind: none): erasure finds one data subject by key",
                ("security", "data_subject"),
            )
        )
    return found


def _placement_problems(model: RequirementsModel) -> list[Finding]:
    """PP344: a keyless entity placed in a store that addresses every record by its key."""
    found: list[Finding] = []
    for name, entity in model.entities.items():
        placement = entity.placement
        if is_keyless(entity) and placement is not None and placement.family in KEYED_PLACEMENTS:
            found.append(
                (
                    "PP344",
                    f"{name} has no key (kind: none) and {KEYED_PLACEMENTS[placement.family]}; place it in a "
                    "relational or document store",
                    ("entities", name, "placement", "family"),
                )
            )
    return found


def keyless_problems(model: RequirementsModel) -> list[Finding]:
    """Every PP342, PP343 and PP344 problem of the model, in that order."""
    return [*_shape_problems(model), *_needs_key_problems(model), *_placement_problems(model)]

"""Checks of references the application keeps instead of the database (`enforced: false`).

An unenforced reference has no FOREIGN KEY, so the database neither refuses an orphan nor acts on
a parent's delete. Whatever asks the database to act on that delete contradicts it (PP356): a
cascade or set_null, ownership (the children die with the parent: a cascade), and a many_to_many
link, whose rows exist only for their two ends and are removed with either.
"""

from __future__ import annotations

from polyplan.model.schema import OnDelete, RelationshipKind, RequirementsModel

Path = tuple[str | int, ...]
Finding = tuple[str, str, Path]  # code, message, path (the caller turns them into Problems)

ACTING = (OnDelete.CASCADE, OnDelete.SET_NULL)


def unenforced_reference_problems(model: RequirementsModel) -> list[Finding]:
    """PP356 for every relationship with `enforced: false` that asks the database to act, in model order."""
    found: list[Finding] = []
    for index, relationship in enumerate(model.relationships):
        if relationship.enforced:
            continue
        path: Path = ("relationships", index, "enforced")
        if relationship.kind is RelationshipKind.MANY_TO_MANY:
            found.append(
                (
                    "PP356",
                    f"{relationship.name} is many_to_many: its link rows are removed with either end by the "
                    "link table's cascading foreign keys, so the reference cannot be left to the application",
                    path,
                )
            )
        elif relationship.owned:
            found.append(
                (
                    "PP356",
                    f"{relationship.name} is owned: {relationship.to} rows are deleted with their "
                    f"{relationship.from_} by the foreign key's cascade, which enforced: false removes; "
                    "drop owned, or keep the reference enforced",
                    path,
                )
            )
        elif relationship.on_delete in ACTING:
            found.append(
                (
                    "PP356",
                    f"{relationship.name} has on_delete: {relationship.on_delete.value}, which the database "
                    "performs through the foreign key that enforced: false removes; use restrict or "
                    "no_action (the application's duty then), or keep the reference enforced",
                    path,
                )
            )
    return found

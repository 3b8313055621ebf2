"""Checks of the erasure settings: `security.data_subject` and the entities' `erasure` key."""

from __future__ import annotations

from polyplan.model.schema import RequirementsModel

Path = tuple[str | int, ...]
Finding = tuple[str, str, Path]  # code, message, path (the caller turns them into Problems)


def erasure_problems(model: RequirementsModel) -> list[Finding]:
    """PP447: the data subject names no entity; PP448: an entity declares `erasure` with no data subject."""
    subject = model.security.data_subject
    found: list[Finding] = []
    if subject is not None and subject not in model.entities:
        known = ", ".join(model.entities)
        found.append(
            (
                "PP447",
                f"data subject '{subject}' is not an entity of the model (entities: {known})",
                ("security", "data_subject"),
            )
        )
    if subject is None:
        for name, entity in model.entities.items():
            if entity.erasure is not None:
                found.append(
                    (
                        "PP448",
                        f"{name} declares erasure: {entity.erasure.value}, but the model names no "
                        "security.data_subject whose erasure it would govern",
                        ("entities", name, "erasure"),
                    )
                )
    return found

"""The document target's query templates filled in: one source for polyplan and the packages it scaffolds.

queries.json marks each value the application supplies as `{"$param": name}`. polyplan's generated
tests and a scaffolded package (`polyplan.scaffold.document`, which carries this module's code
because the package must not import polyplan) fill them the same way, so this imports only the
standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def substitute(template: Any, params: Mapping[str, Any]) -> Any:
    """A query template (queries.json) with each `{"$param": name}` replaced by its value."""
    if isinstance(template, dict):
        if set(template) == {"$param"}:
            return params[template["$param"]]
        return {key: substitute(value, params) for key, value in template.items()}
    if isinstance(template, list):
        return [substitute(value, params) for value in template]
    return template

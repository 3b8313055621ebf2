"""Turn the command templates of keys.json into concrete Redis commands for one record.

A template token is either literal text, a key template (`shop:cart:<session_id>`: each
`<attribute>` becomes the record's encoded value) or one of the placeholders of `design.py`:
`<json>`, `<fields…>`, `<member>`, `<record key>`, `<value:a>`, `<score:a>`, `<min:a>`,
`<max:a>`. Records are given as `RecordView`s: the texts the codec produces for them, so this
module needs no model and works from keys.json alone (as generated tests and applications do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from polyplan.stores.cache.codec import KEY_SAFE

PLACEHOLDER = re.compile(r"<([^<>:]+)>")
SPECIAL = re.compile(r"^<(value|score|min|max):(.+)>$")


class NotApplicable(ValueError):
    """The command does not apply to this record (a value it needs is null), like a partial index."""


@dataclass(frozen=True)
class RecordView:
    """One record as Redis sees it: field texts (None = null), JSON texts per key family, scores."""

    fields: Mapping[str, str | None]
    json: Mapping[str, str]  # key family name → JSON text of that family's fields
    scores: Mapping[str, float] = field(default_factory=dict)

    def part(self, attribute: str) -> str:
        """The encoded value of `attribute` inside a key name."""
        text = self.fields[attribute]
        if text is None:
            raise NotApplicable(f"{attribute} is null: it cannot name a key")
        return quote(text, safe=KEY_SAFE)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RecordView:
        """A view from its JSON form in the generated test data."""
        return RecordView(data["fields"], data["json"], {k: float(v) for k, v in data.get("scores", {}).items()})

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in test data."""
        return {"fields": dict(self.fields), "json": dict(self.json), "scores": dict(self.scores)}


def fill(template: str, record: RecordView) -> str:
    """A concrete key name from a key template."""
    return PLACEHOLDER.sub(lambda m: record.part(m.group(1)), template)


def member(key: Mapping[str, Any], record: RecordView) -> str:
    """The index member of `record` in index key family `key` (keys.json form)."""
    return fill(str(key["index"]["member"]), record)


@dataclass(frozen=True)
class Context:
    """What the placeholders of one command resolve to."""

    record: RecordView
    families: Mapping[str, Mapping[str, Any]]  # key template → key family (keys.json form)
    bounds: Mapping[str, float] = field(default_factory=dict)  # "min:a"/"max:a" → score
    prefix: str = ""  # prepended to every key name (a test run's scratch namespace)


def _score_text(score: float) -> str:
    return str(int(score)) if score == int(score) else repr(score)


def expand(command: Sequence[str], context: Context) -> list[str]:
    """One concrete command from a template (keys.json `commands` entry)."""
    record = context.record
    result: list[str] = []
    family: Mapping[str, Any] | None = None
    for token in command:
        if token in context.families:
            family = context.families[token]
            constants = (family.get("index") or {}).get("constants") or {}
            for attribute, value in constants.items():
                # An index named by a constant lists only the records that have it (a partial index).
                if record.fields.get(attribute) is None or record.part(attribute) != value:
                    raise NotApplicable(f"{attribute} is not {value}: the record is not in {family['name']}")
            result.append(context.prefix + fill(token, record))
            continue
        special = SPECIAL.match(token)
        if special:
            kind, attribute = special.groups()
            if kind == "value":
                result.append(record.fields[attribute] or "")
            elif kind == "score":
                if attribute not in record.scores:
                    raise NotApplicable(f"{attribute} is null: the record has no score")
                result.append(_score_text(record.scores[attribute]))
            else:
                result.append(_score_text(context.bounds[f"{kind}:{attribute}"]))
        elif token == "<json>":
            assert family is not None, "<json> follows a key"
            result.append(record.json[family["name"]])
        elif token == "<fields…>":
            assert family is not None, "<fields…> follows a key"
            for spec in family["fields"]:
                text = record.fields.get(spec["name"])
                if text is not None:
                    result += [spec["name"], text]
        elif token == "<member>":
            assert family is not None, "<member> follows an index key"
            result.append(member(family, record))
        elif token == "<record key>":
            leads_to = family["leads_to"] if family is not None and "leads_to" in family else None
            target = next(f for f in context.families.values() if f["name"] == leads_to) if leads_to else None
            if target is None:
                raise ValueError("<record key> needs a pointer or index key before it")
            result.append(context.prefix + fill(str(target["template"]), record))
        elif ":" in token and PLACEHOLDER.search(token):
            # A key named from another entity's record by this one's values (a parent's key
            # filled from a child's reference): filled like a key family, with the run's prefix.
            result.append(context.prefix + fill(token, record))
        else:
            result.append(token)
    return result


def families_by_template(design: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """keys.json key families indexed by their template text."""
    return {str(key["template"]): key for key in design["keys"]}

"""Key templates: namespaced Redis key names with placeholders and optional hash tags.

A template such as `shop:order:{<customer_id>}:<id>` has literal segments and placeholders
(`<attribute>`); the segments inside `{…}` form the Redis Cluster hash tag, so every key whose
tag holds the same value lands in the same slot. Placeholders use angle brackets because braces
mean a hash tag to Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A literal piece of a key name, or a placeholder for one attribute's encoded value."""

    literal: str | None = None
    attribute: str | None = None
    tagged: bool = False

    @property
    def text(self) -> str:
        return self.literal if self.literal is not None else f"<{self.attribute}>"


@dataclass(frozen=True)
class KeyTemplate:
    """Segments joined by ':'; consecutive tagged segments share one `{…}` hash tag."""

    segments: tuple[Segment, ...]

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes whose values fill the placeholders, in order."""
        return tuple(s.attribute for s in self.segments if s.attribute is not None)

    @property
    def tag_attributes(self) -> tuple[str, ...]:
        """The attributes inside the hash tag."""
        return tuple(s.attribute for s in self.segments if s.attribute is not None and s.tagged)

    def _join(self, texts: list[str]) -> str:
        pieces: list[str] = []
        open_tag = False
        for segment, text in zip(self.segments, texts, strict=True):
            if segment.tagged and not open_tag:
                text = "{" + text
                open_tag = True
            elif not segment.tagged and open_tag:
                pieces[-1] += "}"
                open_tag = False
            pieces.append(text)
        if open_tag:
            pieces[-1] += "}"
        return ":".join(pieces)

    def render(self) -> str:
        """The template as documentation shows it, e.g. `shop:cart:session_id:<session_id>`."""
        return self._join([s.text for s in self.segments])

    def fill(self, parts: Mapping[str, str]) -> str:
        """A concrete key name from encoded attribute values (see `codec.key_part`)."""
        return self._join([s.literal if s.literal is not None else parts[s.attribute or ""] for s in self.segments])

    def length(self, part_lengths: Mapping[str, float]) -> float:
        """Average length of a concrete key, given average encoded lengths of its parts."""
        literal = sum(len(s.literal) for s in self.segments if s.literal is not None)
        parts = sum(part_lengths[s.attribute] for s in self.segments if s.attribute is not None)
        separators = len(self.segments) - 1
        braces = 2 if any(s.tagged for s in self.segments) else 0
        return literal + parts + separators + braces


def template(*pieces: str | tuple[str, bool]) -> KeyTemplate:
    """Build a template: plain strings are literals, `(attribute, tagged)` pairs are placeholders."""
    segments = []
    for piece in pieces:
        if isinstance(piece, tuple):
            segments.append(Segment(attribute=piece[0], tagged=piece[1]))
        else:
            segments.append(Segment(literal=piece))
    return KeyTemplate(tuple(segments))

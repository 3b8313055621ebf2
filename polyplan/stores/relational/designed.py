"""The relational design as one object, for emitters that describe it (the HTML report).

The relational target designs its tables once, builds each dialect's metadata and pattern
queries once and reads each dialect's designed indexes off its metadata once (`Target.emit`,
which hands the same shapes to the generated index tests); this hands them to the emitters that
run after it, so they read the design itself rather than re-parsing the files rendered from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from polyplan.stores.relational.explain import IndexShape
from polyplan.stores.relational.index_testgen import served_patterns
from polyplan.stores.relational.render import EngineBuild
from polyplan.stores.relational.spec import TableSpec


@dataclass(frozen=True)
class RelationalDesign:
    """Every relational table (with its designed indexes), each emitted dialect's build, and the
    designed indexes each dialect's schema creates (`index_testgen.designed_shapes`)."""

    tables: tuple[TableSpec, ...]
    builds: Mapping[str, EngineBuild]
    shapes: Mapping[str, Sequence[IndexShape]]

    def indexes(self, engine: str) -> dict[str, list[IndexShape]]:
        """Table name → the designed indexes `engine`'s schema creates, as it creates them (none
        when the model does not emit that dialect)."""
        found: dict[str, list[IndexShape]] = {}
        for shape in self.shapes.get(engine, ()):
            found.setdefault(shape.table, []).append(shape)
        return found

    def served(self, engine: str) -> dict[str, list[str]]:
        """Index name → the access patterns `engine` answers from it."""
        build = self.builds.get(engine)
        return {} if build is None else served_patterns(self.tables, build, engine)

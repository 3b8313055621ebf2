"""The relational design as one object, for emitters that describe it (the HTML report).

The relational target designs its tables once and builds each dialect's metadata and pattern
queries once (`Target.emit`); this hands both to the emitters that run after it, so they read
the design itself rather than re-parsing the files rendered from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from polyplan.stores.relational.explain import IndexShape
from polyplan.stores.relational.index_testgen import designed_shapes, served_patterns
from polyplan.stores.relational.render import EngineBuild
from polyplan.stores.relational.spec import TableSpec


@dataclass(frozen=True)
class RelationalDesign:
    """Every relational table (with its designed indexes) and each emitted dialect's build."""

    tables: tuple[TableSpec, ...]
    builds: Mapping[str, EngineBuild]

    def indexes(self, engine: str) -> dict[str, list[IndexShape]]:
        """Table name → the designed indexes `engine`'s schema creates, as it creates them (none
        when the model does not emit that dialect)."""
        build = self.builds.get(engine)
        found: dict[str, list[IndexShape]] = {}
        if build is not None:
            for shape in designed_shapes(self.tables, build, engine):
                found.setdefault(shape.table, []).append(shape)
        return found

    def served(self, engine: str) -> dict[str, list[str]]:
        """Index name → the access patterns `engine` answers from it."""
        build = self.builds.get(engine)
        return {} if build is None else served_patterns(self.tables, build, engine)

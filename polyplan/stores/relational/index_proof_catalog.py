"""The catalog proof of the generated index tests: each designed index as the engine's catalog
must show it (columns, order, collation, operator class, predicate, included columns; pure).

`designed_shapes` is what `test_every_designed_index_matches_the_catalog` compares with the
catalog (polyplan.stores.relational.catalog reads it back). Part of the generated index proofs
(index_testgen.py has the whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, UnaryExpression

from polyplan.stores.relational.explain import IndexShape, KeyPart
from polyplan.stores.relational.geo import geo_index_names
from polyplan.stores.relational.render import DIALECTS, INDEX_DDL, EngineBuild
from polyplan.stores.relational.spec import TableSpec


def dialect_of(engine: str) -> sa.engine.Dialect:
    return DIALECTS[engine].sa_dialect()


def _key_part(expression: Any, engine: str, index: sa.Index) -> KeyPart:
    """One rendered key expression (a column, maybe DESC, maybe COLLATE) as a KeyPart."""
    descending = False
    collation = None
    if isinstance(expression, UnaryExpression) and expression.modifier is operators.desc_op:
        descending, expression = True, expression.element
    if isinstance(expression, BinaryExpression) and expression.operator is operators.collate:
        collation, expression = str(expression.right.collation), expression.left
    name = str(expression.name)
    opclass = (index.dialect_options["postgresql"].get("ops") or {}).get(name) if engine == "postgresql" else None
    length = None
    if engine == "mysql":
        lengths = index.dialect_options["mysql"].get("length")
        length = lengths.get(name) if isinstance(lengths, dict) else lengths
    return KeyPart(name, descending, collation, opclass, length)


def index_shape(table: sa.Table, index: sa.Index, engine: str) -> IndexShape:
    """A rendered index as the catalog check compares it: what schema.sql was built to create.

    Kept in the index's `info`: every route through the index asks again, and compiling its
    DDL each time was a fifth of emitting the index proofs. An index belongs to one engine's
    metadata, so `engine` is always the same for it."""
    found = index.info.get("polyplan_shape")
    if not isinstance(found, IndexShape):
        found = index.info["polyplan_shape"] = _compile_shape(table, index, engine)
    return found


def _compile_shape(table: sa.Table, index: sa.Index, engine: str) -> IndexShape:
    # schema.sql compiled this index already (render._ddl keeps the text); compiled here otherwise.
    ddl = index.info.get(INDEX_DDL) or str(CreateIndex(index).compile(dialect=dialect_of(engine)))
    where = " ".join(ddl.rsplit(" WHERE ", 1)[1].split()) if " WHERE " in ddl else None
    method = str(index.dialect_options["postgresql"].get("using") or "btree") if engine == "postgresql" else "btree"
    if engine == "mysql" and index.dialect_options["mysql"].get("prefix") in ("FULLTEXT", "SPATIAL"):
        method = str(index.dialect_options["mysql"]["prefix"]).lower()
    return IndexShape(
        name=str(index.name),
        table=table.name,
        columns=tuple(_key_part(e, engine, index) for e in index.expressions),
        include=tuple(index.dialect_options["postgresql"].get("include") or ()) if engine == "postgresql" else (),
        where=where,
        unique=bool(index.unique),
        method=method,
    )


def designed_shapes(tables: Sequence[TableSpec], build: EngineBuild, engine: str) -> list[IndexShape]:
    """Every designed index `engine`'s schema creates, as its catalog must show it, by (table, name).

    An index an engine does not create (GIN off PostgreSQL, one a constraint already is, SQLite's
    FTS5 tables) is absent here; `test_every_designed_index_exists` covers the FTS5 tables. The
    geo points' indexes (stores/relational/geo.py) are here too: no plan proof names them (the
    geo checks prove the answers), so without this a reordered (lat, lon) B-tree went unseen.
    """
    metadata = build.rendered.metadata
    shapes = []
    for spec in tables:
        table = metadata.tables[spec.name]
        rendered = {str(i.name): i for i in table.indexes}
        for name in [*(d.name for d in spec.indexes), *geo_index_names(spec, engine)]:
            if name in rendered:
                shapes.append(index_shape(table, rendered[name], engine))
    return sorted(shapes, key=lambda s: (s.table, s.name))


__all__ = ["designed_shapes", "dialect_of", "index_shape"]

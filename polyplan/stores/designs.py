"""Each store family's design objects, as the targets hand them on (`Artifacts.design`).

Emitters that describe a design (the HTML report's schemas, the capacity figures) read these
rather than re-parse the text rendered from them: the relational `RelationalDesign`, MongoDB's
`DocumentDesign`, Redis's `CacheDesign`, the search engines' `SearchDesign` and Cassandra's
`WideColumnDesign`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from polyplan.stores.cache.spec import CacheDesign
from polyplan.stores.document.spec import DocumentDesign
from polyplan.stores.relational.designed import RelationalDesign
from polyplan.stores.search.design import SearchDesign
from polyplan.stores.wide_column.spec import WideColumnDesign

StoreDesign = RelationalDesign | DocumentDesign | CacheDesign | SearchDesign | WideColumnDesign
_D = TypeVar("_D", RelationalDesign, DocumentDesign, CacheDesign, SearchDesign, WideColumnDesign)


@dataclass(frozen=True)
class Designs:
    """The design of every family the plan uses (None for a family it does not use)."""

    relational: RelationalDesign | None = None
    document: DocumentDesign | None = None
    cache: CacheDesign | None = None
    search: SearchDesign | None = None
    wide_column: WideColumnDesign | None = None

    @classmethod
    def of(cls, designs: Iterable[StoreDesign]) -> Designs:
        """The designs the targets handed on, each in its family's place."""
        handed = list(designs)

        def pick(kind: type[_D]) -> _D | None:
            return next((design for design in handed if isinstance(design, kind)), None)

        return cls(
            pick(RelationalDesign), pick(DocumentDesign), pick(CacheDesign), pick(SearchDesign), pick(WideColumnDesign)
        )

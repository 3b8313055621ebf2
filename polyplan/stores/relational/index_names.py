"""Stable names for designed indexes that fit every engine (pure)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from polyplan.stores.relational.spec import IndexColumn, IndexKind

MAX_NAME = 60  # fits PostgreSQL (63) and MySQL (64)


def slug(text: str) -> str:
    """Lower-case letters, digits and underscores only (for derived names)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def shorten(name: str) -> str:
    """`name`, or its start plus a stable hash when it would not fit every engine."""
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('_')}_{digest}"


def index_name(
    table: str,
    kind: IndexKind,
    columns: tuple[IndexColumn, ...],
    where: tuple[tuple[str, Any], ...],
    suffix: str = "",
) -> str:
    """A stable name that fits every engine: `ix_<table>_<columns>[_where_<columns>][_<suffix>]`."""
    prefix = {IndexKind.FULLTEXT: "ft", IndexKind.BRIN: "brin", IndexKind.GIN: "gin", IndexKind.UNIQUE: "ux"}.get(
        kind, "ix"
    )
    base = "_".join([prefix, slug(table), *(slug(c.name) for c in columns)])
    if where:
        base += "_where_" + "_".join(slug(c) for c, _ in where)
    return shorten(f"{base}_{slug(suffix)}" if suffix else base)


__all__ = ["MAX_NAME", "index_name", "shorten", "slug"]

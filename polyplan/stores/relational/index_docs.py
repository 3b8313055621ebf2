"""`docs/index-plan.md`: each index, why it exists, what it serves, its size and write cost;
the patterns left unindexed and why (pure: text from the design)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyplan.diagnostics import Diagnostic
from polyplan.markdown import cell, code, prose
from polyplan.plan.ir import Plan
from polyplan.stores.relational import index_costs, index_needs, index_select
from polyplan.stores.relational.cardinality import DEFAULT_DISTINCT
from polyplan.stores.relational.heap_fill import heap_fill_of
from polyplan.stores.relational.index_results import IndexMetrics, PatternRoute, index_plan_of
from polyplan.stores.relational.membership import inside_section
from polyplan.stores.relational.spec import IndexKind, IndexSpec, TableSpec

_KIND = {
    IndexKind.BTREE: "B-tree",
    IndexKind.UNIQUE: "unique B-tree",
    IndexKind.FULLTEXT: "full-text",
    IndexKind.GIN: "GIN",
    IndexKind.BRIN: "BRIN",
}


def _bytes(size: float) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"


def _cell(text: Any) -> str:
    return cell(text)


def _where(where: tuple[tuple[str, Any], ...]) -> str:
    parts = []
    for column, value in where:
        if value is None:
            parts.append(f"{column} IS NULL")
        elif isinstance(value, tuple):
            parts.append(f"{column} IN ({', '.join(repr(v) for v in value)})")
        else:
            parts.append(f"{column} = {value!r}")
    return " AND ".join(parts)


def _columns(index: IndexSpec) -> str:
    shown = []
    for column in index.columns:
        text = f"`{column.name}`" + (" DESC" if column.descending else "")
        if column.prefix:
            text += " (prefix search)"
        shown.append(text)
    return ", ".join(shown)


def _served_by(route: PatternRoute) -> str:
    if route.via == "index":
        return f"`{route.index}`" + (" (index-only)" if route.covering else "")
    if route.via == "none":
        return "—"
    if route.via == "inside index":
        return f"`{route.index}` (inside the value)"
    return route.via


def _method() -> list[str]:
    return [
        "## How the indexes were chosen",
        "",
        "1. Every read pattern of a relationally stored entity asks for an index: equality columns first, "
        "then its sort columns in their direction, then its range column (equality–sort–range). A constant "
        "predicate makes the index partial; a pattern that reads a few narrow columns at "
        f"≥ {index_needs.COVERING_MIN_RATE:g}/s gets them as INCLUDE columns (index-only scans); full-text that "
        "stays relational gets a full-text index; a time range over a large append-only table gets BRIN. "
        "A foreign key asks for an index when a pattern loads children through it or parent rows are deleted. "
        "A read that filters inside a value is served by its inside-value index (below), except that a sorted read "
        "with a LIMIT and one such filter also asks for an ordered walk: its other columns and its sort, the filter "
        "checked on each row, about LIMIT ÷ (the share of rows the filter keeps) rows read.",
        "2. Requests the primary key or a unique rule already answers take no index; one whose equality columns "
        "lead the key is measured against that plan, not a scan. The rest merge when one index's column order "
        "serves another request (its equality columns in any order, then its sort columns in order or all "
        "reversed, then its range column). A request that sorts or ranges also proposes its equality columns "
        "alone: when an equality group holds few rows, sorting them in memory is cheaper than wider entries.",
        "3. A read through a B-tree (a candidate, the primary key or a unique rule) costs a page per level from "
        "its root to a leaf, then the leaf pages its entries fill and a heap page per row it fetches (none when "
        "it covers the read; rows found by a key numbered as they arrive, a generated or UUIDv7 key or such an "
        "owner's key leading a list child, arrived together and share pages: 1 + (rows - 1) ÷ (rows a page); "
        "InnoDB has no heap: a row found through a secondary index or unique rule costs a descent of the "
        "primary key, its levels in pages, and rows found through the primary key lie on its leaves). "
        "The levels follow each index's own leaf pages and key width: a key repeated over "
        "many rows is deduplicated (PostgreSQL 13+), so it can be a level shorter than a unique rule over the "
        "same rows; a MariaDB secondary entry carries the primary key. "
        "Each candidate's read benefit (rate × page reads saved against a scan) is weighed against its "
        f"write cost (writes that touch its columns × {index_costs.MAINTENANCE_PAGES[IndexKind.BTREE]:g} pages × "
        f"{index_costs.WRITE_WEIGHT:g}, a page write costing that many reads, × (0.5 + entry bytes ÷ "
        f"{index_costs.ENTRY_BYTES_PER_PAGE_WRITE:g}) for a B-tree) and its storage "
        f"({index_costs.STORAGE_UNITS_PER_GIB:g} page read/s per GiB kept); on PostgreSQL, a candidate holding a column "
        "that an update pattern writes (as a key, INCLUDE or WHERE column) also pays for the heap-only (HOT) "
        "updates it ends: each such update then writes an entry into every other index and a new heap page; a key "
        f"repeated across rows is deduplicated ({index_costs.HEAP_POINTER_BYTES} bytes per further row on PostgreSQL). "
        f"A candidate counts for a request only if it cuts its cost at least {index_select.MIN_IMPROVEMENT:g}×, which keeps "
        "near-duplicates out, or, if no write touches it (no entries maintained, no HOT update ended), if it saves at "
        f"least {index_select.MIN_PAGES_SAVED:g} page a read (a B-tree level less); a request the primary key or a "
        "unique rule answers goes through a chosen index that reads it at fewer pages. Candidates are taken by net benefit while it stays positive and the entity's write "
        "budget allows: "
        + ", ".join(
            f"≤ {limit} indexes up to {bound:g} writes/s" if bound != float("inf") else f"{limit} beyond"
            for bound, limit in index_select.WRITE_BUDGET
        )
        + ".",
        "4. Each request then takes the cheapest of its plans: the chosen index that finds its rows at the fewest "
        "pages, the key or unique prefix, or a scan (an index chosen for other requests can cost a wide range more "
        "than a scan: a heap page per matching row after its own). A chosen index no request is routed to is "
        "dropped, and so is an inside-value index (GIN or expression) no read or write is routed to, because each "
        "read filtering there walks a B-tree in order: it would only cost the writes of its column.",
        "",
        "Sizes are estimates at the planning horizon from the PostgreSQL sizing model that capacity.md uses "
        "(`polyplan/stores/relational/sizing.py`): an 8-byte index tuple header and the key, aligned, plus a "
        "4-byte item pointer per entry; leaves about 69 % full after random inserts (90 % for keys that arrive "
        "in order); a repeated key deduplicated into posting lists. Latency estimates count "
        f"{index_costs.PAGE_MS:g} ms per page touched plus {index_costs.BASE_MS:g} ms per round trip; the benchmark measures "
        "the real thing.",
        "",
        "Rows per equality group come from the distinct counts the model implies: `distinct`, unique rules, enum "
        "weights, booleans, integer `min`/`max`, a reference's parent rows (a composite reference through the "
        "parent's key columns), a composite key's columns numbered per parent; a group of columns counts at most "
        "the rows of the reference it holds and of the table, never a bare product. Where nothing applies, "
        f"{DEFAULT_DISTINCT:,} values are assumed, and a decision that changes within a hundredth to a hundred "
        "times that is reported as PP420.",
        "",
        "Where each rule lives, in `polyplan/stores/relational/`: what a request asks and how many rows it "
        "matches, `index_needs.py` (step 1); the candidate shapes and which request each serves, "
        "`index_candidates.py` (step 2); what each structure costs a read and a write, `index_costs.py`, with the "
        "heap-only updates an index ends in `hot_updates.py` and the distinct counts in `cardinality.py`; which "
        "candidates are taken and how each request is then served, `index_select.py` (step 3).",
        "",
    ]


def _by_index(notes: Sequence[Diagnostic]) -> dict[str, list[Diagnostic]]:
    """Notes by the index name their message starts with ("<index> on <engine>: …"), in order.

    Grouped once: scanning every note for every index was quadratic in a large model. A message
    is filed under each prefix that ends before an " on ", so the lookup finds exactly the notes
    a `startswith` test would."""
    found: dict[str, list[Diagnostic]] = {}
    for note in notes:
        at = note.message.find(" on ")
        while at != -1:
            found.setdefault(note.message[:at], []).append(note)
            at = note.message.find(" on ", at + 1)
    return found


def _substitutions(index: IndexSpec, notes: Mapping[str, Sequence[Diagnostic]]) -> list[str]:
    prefix = f"{index.name} on "
    found = []
    for note in notes.get(index.name, ()):
        engine, _, text = note.message[len(prefix) :].partition(": ")
        found.append(f"  - {engine}: {text} [{note.code}]")
    return found


def _read_benefit(metrics: IndexMetrics) -> str:
    """What each read it was chosen for touches through it against before it (the previous route:
    often a scan of the whole table at the horizon, which is why a per-second total of pages
    saved reads as an implausibly large number on its own)."""
    per_read = [
        f"`{pattern}` ({rate:,.4g}/s) ≈ {_pages(after)} per read instead of ≈ {_pages(before)}"
        for pattern, rate, before, after in metrics.reads
    ]
    if not per_read:
        return f"{metrics.benefit:,.0f} page reads/s saved"
    return "; ".join(per_read) + f" ({metrics.benefit:,.0f} page reads/s in all)"


def _pages(pages: float) -> str:
    return f"{pages:,.0f} pages" if pages >= 10 else f"{pages:,.1f} pages"


def _index_section(
    table: TableSpec, index: IndexSpec, metrics: IndexMetrics | None, notes: Mapping[str, Sequence[Diagnostic]]
) -> list[str]:
    lines = [f"### `{index.name}` on `{table.name}`", ""]
    lines.append(f"- **Kind:** {_KIND[index.kind]} on {_columns(index)}")
    if index.include:
        lines.append(f"- **Includes:** {', '.join(f'`{c}`' for c in index.include)} (covering)")
    if index.where:
        lines.append(f"- **Partial:** only rows where {code(_where(index.where))}")
    lines.append(f"- **Serves:** {', '.join(f'`{s}`' for s in index.serves)}")
    lines.append(f"- **Why:** {prose(index.reason)}")
    if metrics is not None:
        lines.append(
            f"- **Estimated size:** {_bytes(metrics.estimated_bytes)}; **write cost:** {metrics.writes_per_second:,.2f} "
            f"entries maintained/s (≈ {metrics.write_cost:,.1f} page reads/s); **read benefit:** "
            + _read_benefit(metrics)
        )
        if metrics.hot:
            lines.append(f"- **HOT updates (PostgreSQL):** {prose(metrics.hot)}; kept: the read benefit outweighs it")
    substitutions = _substitutions(index, notes)
    if substitutions:
        lines.append("- **Per engine:**")
        lines += substitutions
    lines.append("")
    return lines


def _heap_fill_lines(tables: Sequence[TableSpec]) -> list[str]:
    """The tables given room for heap-only updates (heap_fill.py), under the tables' list."""
    filled = [(table, fill) for table in tables if (fill := heap_fill_of(table)) is not None]
    if not filled:
        return []
    lines = [
        "",
        "Tables whose rows are updated in place often enough keep room on each heap page on PostgreSQL (a lower "
        "fillfactor), so those updates stay heap-only and write no index entry:",
        "",
    ]
    return lines + [f"- `{table.name}`: {fill.describe()}" for table, fill in filled]


def index_docs(plan: Plan, tables: Sequence[TableSpec], substitutions: Sequence[Diagnostic] = ()) -> str:
    """The text of `docs/index-plan.md` for the relational tables of `plan`.

    `tables` come from `design_indexes`; `substitutions` are the PP402 warnings `attach_index`
    returned while rendering each engine (they say what each engine got instead).
    """
    lines = [f"# Index plan: {plan.model.name}", ""]
    lines.append(
        "Every index below was designed from the declared workload before the database exists; the generated "
        "tests (`tests/test_<engine>_indexes.py`) prove from each engine's own query plan that every pattern uses "
        "the index named here."
    )
    lines.append("")
    lines += _method()
    planned = [(t, index_plan_of(t)) for t in tables]
    lines += [
        "## Tables",
        "",
        "| table | rows at horizon | writes/s | write budget | indexes |",
        "|---|---:|---:|---:|---:|",
    ]
    for table, table_plan in planned:
        if table_plan is None:
            continue
        lines.append(
            f"| `{table.name}` | {table_plan.rows:,.0f} | {table_plan.write_rate:,.2f} | {table_plan.budget} | {len(table.indexes)} |"
        )
    lines += _heap_fill_lines(tables)
    lines += ["", "## Indexes", ""]
    chosen = [(t, i, p) for t, p in planned for i in t.indexes]
    if not chosen:
        lines += ["No secondary index is needed: keys and unique rules serve every pattern.", ""]
    per_index = _by_index(substitutions)
    for table, index, table_plan in chosen:
        metrics = next((m for m in table_plan.metrics if m.name == index.name), None) if table_plan else None
        lines += _index_section(table, index, metrics, per_index)
    lines += inside_section([t for t, _ in planned])
    routes = [r for _, p in planned if p is not None for r in p.routes]
    patterns = [r for r in routes if not r.pattern.startswith("fk:")]
    lines += [
        "## Access patterns",
        "",
        "| pattern | table | shape | rate/s | served by | est. ms | target ms |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for r in sorted(patterns, key=lambda r: r.pattern):
        target = f"{r.latency_ms:g}" if r.latency_ms is not None else ""
        estimate = f"{r.estimated_ms:g}" if r.via != "none" or "search projection" not in r.reason else "—"
        lines.append(
            f"| `{r.pattern}` | `{r.table}` | {_cell(r.shape)} | {r.rate:g} | {_served_by(r)} | {estimate} | {target} |"
        )
    lookups = [r for r in routes if r.pattern.startswith("fk:")]
    if lookups:
        lines += ["", "### Foreign-key lookups", "", "| lookup | why | served by |", "|---|---|---|"]
        for r in sorted(lookups, key=lambda r: r.pattern):
            lines.append(f"| `{r.pattern}` | {_cell(r.shape)} | {_served_by(r)} |")
    lines += ["", "## Patterns left unindexed", ""]
    unserved = [r for r in routes if r.via == "none"]
    if not unserved:
        lines.append("None: every pattern is served by an index, the primary key or a unique rule.")
    for r in sorted(unserved, key=lambda r: r.pattern):
        lines.append(f"- `{r.pattern}` on `{r.table}`: {prose(r.reason)}.")
    notes = [(t, n) for t, p in planned if p is not None for n in p.unindexed_foreign_keys]
    lines += ["", "## Foreign keys without an index", ""]
    if not notes:
        lines.append("None.")
    for _, note in notes:
        lines.append(f"- `{note.split(' → ')[0]}` → {note.split(' → ', 1)[1]}.")
    if notes:
        lines += [
            "",
            "MariaDB (InnoDB) creates an index on every foreign key that no index leads with, whatever the design "
            "says; PostgreSQL and SQLite do not.",
        ]
    rejected = [(t, r) for t, p in planned if p is not None for r in p.rejected]
    if rejected:
        lines += ["", "## Candidates not taken", ""]
        for table, reason in rejected:
            name, _, why = reason.partition(": ")
            lines.append(f"- `{name}` on `{table.name}`: {prose(why)}.")
    return "\n".join(lines).rstrip() + "\n"

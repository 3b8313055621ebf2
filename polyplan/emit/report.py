"""docs/index.html: the whole plan as one self-contained, offline HTML page.

Built from a Jinja2 template (autoescaping on: every model string is untrusted) with the data
the other artifacts already carry: the decisions and scores from the plan (as plan.md), every
store's schema (`report_schema`, from the design objects each store target hands on), the
index, capacity and security plans from their Markdown files
(rendered by markdown-it with raw HTML off), and the ER diagram as inline SVG (`svg`). No script, style or font is fetched: the page works from a file:// URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from polyplan.capacity import CapacityPlan, capacity_plan
from polyplan.capacity import Designs as CapacityDesigns
from polyplan.diagnostics import Diagnostic
from polyplan.emit.capacity import human, planned_store_bytes
from polyplan.emit.diagram import build_graph, stores
from polyplan.emit.report_schema import store_schemas
from polyplan.emit.svg import anchor, bar_chart_svg, erd_svg
from polyplan.plan.ir import Plan
from polyplan.stores.designs import Designs

REPORT = "docs/index.html"
# The Markdown artifacts shown in the report, with their section titles, when the plan has them.
_MARKDOWN = (
    ("access-patterns", "What serves each access pattern", "docs/access-patterns.md"),
    ("index-plan", "Index plan", "docs/index-plan.md"),
    ("capacity-detail", "Capacity by entity and year", "capacity.md"),
    ("security", "Security plan", "docs/security-plan.md"),
)


# A Markdown artifact larger than this is named, not inlined: markdown-it parses ~50 kB/s of these
# tables in CPython, so the 2.6 MB index plan of a 1,000-entity model would cost the plan a minute.
MARKDOWN_INLINE_MAX = 64_000


@dataclass(frozen=True)
class Diagram:
    """One rendered ER diagram (`title`) with its anchor."""

    anchor: str
    title: str
    svg: Markup


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("polyplan", "emit/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _markdown(path: str, text: str) -> Markup:
    # CommonMark with GFM tables; raw HTML in the source stays text (html=False), and the
    # emitters already escape model strings as Markdown (polyplan.markdown).
    if len(text) > MARKDOWN_INLINE_MAX:
        return Markup("<p>{} ({:,} characters) is too large to show here: open it next to this page.</p>").format(
            Markup("<code>{}</code>").format(path), len(text)
        )
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    return Markup(parser.render(text))


def _entity_anchors(plan: Plan) -> dict[str, str]:
    return {name: anchor("entity", index) for index, name in enumerate(plan.entities)}


def report_diagrams(plan: Plan) -> list[Diagram]:
    """The report's ER diagrams (the whole plan's, and each store's when there are several): they
    read the plan alone, so `render` draws them while a worker renders."""
    entity_anchors = _entity_anchors(plan)
    whole = erd_svg(build_graph(plan), entity_anchors, "svg-erd-all")
    diagrams = [Diagram("erd-all", f"Whole plan ({len(plan.model.entities)} entities)", Markup(whole))]
    store_list = stores(plan)
    if len(store_list) > 1:
        for index, store in enumerate(store_list):
            svg = erd_svg(build_graph(plan, store), entity_anchors, f"svg-erd-{index}")
            diagrams.append(Diagram(anchor("erd-store", index), store, Markup(svg)))
    return diagrams


def render_report(
    plan: Plan,
    files: Mapping[str, str],
    diagnostics: Sequence[Diagnostic],
    designs: Designs,
    capacity: CapacityPlan | None = None,
    diagrams: Sequence[Diagram] | None = None,
) -> str:
    """The report's HTML, from the plan, the design objects the store targets handed on
    (`designs`) and the other rendered files it shows or lists (relative path → text).
    `diagrams`: `report_diagrams(plan)`, when made ahead (they read the plan alone)."""
    model = plan.model
    entity_anchors = _entity_anchors(plan)
    diagrams = report_diagrams(plan) if diagrams is None else diagrams
    relational = designs.relational
    if capacity is None:  # rendered on its own (tests): plan the capacity from the relational design
        capacity = capacity_plan(plan, CapacityDesigns(tables=relational.tables if relational is not None else ()))
    years = list(capacity.years)
    per_store = planned_store_bytes(capacity)
    bars = [(store, per_store[store][-1], human(per_store[store][-1], byte_units=True)) for store in sorted(per_store)]
    chart = bar_chart_svg(f"Size per store at year {years[-1]:g} (capacity.md)", bars, "svg-capacity")
    sections = [(key, title, _markdown(path, files[path])) for key, title, path in _MARKDOWN if path in files]
    template = _environment().get_template("report.html.j2")
    return template.render(
        model=model,
        plan=plan,
        entity_anchors=entity_anchors,
        diagrams=diagrams,
        schemas=store_schemas(designs, model.engines.relational or "postgresql"),
        chart=Markup(chart),
        horizon=years[-1],
        per_store=[(store, [human(b, byte_units=True) for b in per_store[store]]) for store in sorted(per_store)],
        years=years,
        sections=sections,
        diagnostics=diagnostics,
        # The generated tests are many and listed in their folder; the report lists itself.
        artifacts=sorted({REPORT, *(path for path in files if not path.startswith("tests/"))}),
    )

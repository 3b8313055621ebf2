"""Inline SVG for the HTML report: the ER diagram and the capacity bar chart.

Hand-written on purpose: planning must not depend on a binary (Graphviz `dot`, a browser for
Mermaid), and the report must be byte-identical whether or not one is installed. The ER
diagram's geometry (boxes, orthogonal routes around them, labels that cover neither a box nor
each other) is `erd_layout`; this module only writes it out. `erd.dot` gives the laid-out version
to anyone with Graphviz (`polyplan diagram --format svg`). Text is escaped with the standard
library's XML helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from polyplan.emit.diagram import Graph
from polyplan.emit.erd_layout import CHAR, LINE, MAX_CHARS, PAD, Point, fit, layout_erd

# Labels are drawn last, over a white halo (erd_layout.HALO), so a line never hides them.
_HALO = 'paint-order="stroke" stroke="#fff" stroke-width="4"'


def anchor(prefix: str, index: int) -> str:
    """A stable HTML id: model names may hold any character, positions never do."""
    return f"{prefix}-{index}"


def _polyline(points: list[Point], title: str) -> str:
    coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline class="link" points="{coordinates}" fill="none" stroke="#567">{title}</polyline>'


def erd_svg(graph: Graph, entity_anchors: dict[str, str], svg_id: str) -> str:
    """The ER diagram: boxes on a grid in model order, each linking to its entity's section, the
    relationships routed around the boxes, and their names and cardinalities (`layout_erd`)."""
    if not graph.boxes:
        return ""
    layout = layout_erd(graph)
    total_w, total_h = layout.width, layout.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(svg_id)} class="erd" role="img" '
        f'width="{total_w:.0f}" height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        'font-family="monospace" font-size="12">',
        f"<title>{escape('ER diagram: ' + graph.title)}</title>",
    ]
    out += [
        _polyline(points, f"<title>{escape(title)}</title>")
        for points, title in zip(layout.edges, layout.titles, strict=True)
    ]
    for index, box in enumerate(graph.boxes):
        x, y, w, h = layout.frames[index]
        href = "#" + entity_anchors[box.name]
        out.append(f'<a href={quoteattr(href)} class="box"><title>{escape(box.name)}</title>')
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#fff" stroke="#345"/>')
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{2 * LINE + PAD:.1f}" fill="#dde7f3"/>')
        for line_no, line in enumerate(layout.texts[index]):
            weight = ' font-weight="bold"' if line_no == 0 else ""
            ty = y + PAD + (line_no + 1) * LINE - 4
            out.append(f'<text x="{x + PAD:.1f}" y="{ty:.1f}"{weight}>{escape(line)}</text>')
        out.append("</a>")
    for label in layout.labels:
        style = ' class="end" fill="#a33"' if label.end else ""
        middle = ' text-anchor="middle"' if label.anchor == "middle" else ""
        out.append(f'<text{style} x="{label.x:.1f}" y="{label.y:.1f}"{middle} {_HALO}>{escape(label.text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart_svg(title: str, bars: Sequence[tuple[str, float, str]], svg_id: str) -> str:
    """Horizontal bars: (label, value, value as text), scaled to the largest value."""
    if not bars:
        return ""
    label_w = min(max(len(label) for label, _, _ in bars), MAX_CHARS) * CHAR + 2 * PAD
    bar_w, row_h = 360.0, 24
    largest = max(value for _, value, _ in bars) or 1.0
    height = len(bars) * row_h + 2 * PAD + LINE
    width = label_w + bar_w + 120
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(svg_id)} class="chart" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value, text) in enumerate(bars):
        y = PAD + LINE + index * row_h
        length = bar_w * value / largest
        out.append(
            f'<text x="{label_w - PAD:.1f}" y="{y + 15:.1f}" text-anchor="end">{escape(fit(label))}</text>'
            f'<rect x="{label_w:.1f}" y="{y + 3:.1f}" width="{length:.1f}" height="{row_h - 6}" fill="#4a78a8">'
            f"<title>{escape(f'{label}: {text}')}</title></rect>"
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15:.1f}">{escape(text)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)

"""Inline SVG for the HTML report: the ER diagram and the capacity bar chart.

Hand-written on purpose: planning must not depend on a binary (Graphviz `dot`, a browser for
Mermaid), and the report must be byte-identical whether or not one is installed. A grid of
entity boxes joined by straight lines is enough for reading; `erd.dot` gives the laid-out
version to anyone with Graphviz (`polyplan diagram --format svg`). Text is escaped with the
standard library's XML helpers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from polyplan.emit.diagram import Box, Graph

_CHAR = 7.2  # width of one character of the 12 px monospace font, in px
_LINE = 16  # line height
_PAD = 8
_GAP_X = 130
_GAP_Y = 80
# Labels are drawn last, over a white halo, so a box or a line never hides them.
_HALO = 'paint-order="stroke" stroke="#fff" stroke-width="4"'
_MAX_CHARS = 40  # longer names are cut in the box (the full name is in the title tooltip)


def _fit(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _box_lines(box: Box) -> list[str]:
    store = box.store + (f" + {', '.join(box.projections)}" if box.projections else "")
    lines = [box.name, store]
    lines += [f"{c.name}: {c.type}" + (f" {','.join(c.markers)}" if c.markers else "") for c in box.columns]
    return [_fit(line) for line in lines]


def _border_point(cx: float, cy: float, w: float, h: float, tx: float, ty: float) -> tuple[float, float]:
    """Where the line from a box's centre towards (tx, ty) leaves the box."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((w / 2) / abs(dx) if dx else math.inf, (h / 2) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def anchor(prefix: str, index: int) -> str:
    """A stable HTML id: model names may hold any character, positions never do."""
    return f"{prefix}-{index}"


def erd_svg(graph: Graph, entity_anchors: dict[str, str], svg_id: str) -> str:
    """The ER diagram: boxes on a grid in model order, each linking to its entity's section."""
    if not graph.boxes:
        return ""
    columns = max(1, math.ceil(math.sqrt(len(graph.boxes))))
    texts = [_box_lines(box) for box in graph.boxes]
    sizes = [(max(len(t) for t in lines) * _CHAR + 2 * _PAD, len(lines) * _LINE + 2 * _PAD) for lines in texts]
    widths = [max(w for i, (w, _) in enumerate(sizes) if i % columns == c) for c in range(columns)]
    rows = math.ceil(len(graph.boxes) / columns)
    heights = [max(h for i, (_, h) in enumerate(sizes) if i // columns == r) for r in range(rows)]
    xs = [_GAP_X / 2 + sum(widths[:c]) + c * _GAP_X for c in range(columns)]
    ys = [_GAP_Y / 2 + sum(heights[:r]) + r * _GAP_Y for r in range(rows)]
    frames: dict[str, tuple[float, float, float, float]] = {}
    for index, box in enumerate(graph.boxes):
        x, y = xs[index % columns], ys[index // columns]
        frames[box.name] = (x, y, sizes[index][0], sizes[index][1])
    total_w = sum(widths) + columns * _GAP_X
    total_h = sum(heights) + rows * _GAP_Y
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(svg_id)} class="erd" role="img" '
        f'width="{total_w:.0f}" height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        'font-family="monospace" font-size="12">',
        f"<title>{escape('ER diagram: ' + graph.title)}</title>",
    ]
    labels: list[str] = []
    for link in graph.links:
        x1, y1, w1, h1 = frames[link.source]
        x2, y2, w2, h2 = frames[link.target]
        c1, c2 = (x1 + w1 / 2, y1 + h1 / 2), (x2 + w2 / 2, y2 + h2 / 2)
        label = link.name + (" (owned)" if link.owned else "")
        if link.attributes:
            label += " {" + ", ".join(f"{a.name}: {a.type}" for a in link.attributes) + "}"
        title = f"<title>{escape(label)}</title>"
        if link.source == link.target:  # a self-reference: a loop on the box's right edge
            rx, ry = x1 + w1, y1 + h1 / 2
            out.append(
                f'<path class="link" d="M{rx:.1f},{ry - 10:.1f} c40,-30 40,50 0,20" fill="none" stroke="#567">{title}</path>'
            )
            labels.append(f'<text x="{rx + 34:.1f}" y="{ry:.1f}" {_HALO}>{escape(_fit(label))}</text>')
            continue
        a = _border_point(*c1, w1, h1, *c2)
        b = _border_point(*c2, w2, h2, *c1)
        out.append(
            f'<line class="link" x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" stroke="#567">{title}</line>'
        )
        for (px, py), (qx, qy), end in ((a, b, link.ends[0]), (b, a, link.ends[1])):
            # The cardinality sits just outside the box, along the line.
            length = math.hypot(qx - px, qy - py) or 1.0
            tx, ty = px + (qx - px) * 16 / length, py + (qy - py) * 16 / length + 4
            labels.append(f'<text class="end" x="{tx:.1f}" y="{ty:.1f}" fill="#a33" {_HALO}>{escape(end)}</text>')
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        labels.append(f'<text x="{mx:.1f}" y="{my - 3:.1f}" text-anchor="middle" {_HALO}>{escape(_fit(label))}</text>')
    for index, box in enumerate(graph.boxes):
        x, y, w, h = frames[box.name]
        href = "#" + entity_anchors[box.name]
        out.append(f'<a href={quoteattr(href)} class="box"><title>{escape(box.name)}</title>')
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#fff" stroke="#345"/>')
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{2 * _LINE + _PAD:.1f}" fill="#dde7f3"/>')
        for line_no, line in enumerate(texts[index]):
            weight = ' font-weight="bold"' if line_no == 0 else ""
            ty = y + _PAD + (line_no + 1) * _LINE - 4
            out.append(f'<text x="{x + _PAD:.1f}" y="{ty:.1f}"{weight}>{escape(line)}</text>')
        out.append("</a>")
    out += labels
    out.append("</svg>")
    return "\n".join(out)


def bar_chart_svg(title: str, bars: Sequence[tuple[str, float, str]], svg_id: str) -> str:
    """Horizontal bars: (label, value, value as text), scaled to the largest value."""
    if not bars:
        return ""
    label_w = min(max(len(label) for label, _, _ in bars), _MAX_CHARS) * _CHAR + 2 * _PAD
    bar_w, row_h = 360.0, 24
    largest = max(value for _, value, _ in bars) or 1.0
    height = len(bars) * row_h + 2 * _PAD + _LINE
    width = label_w + bar_w + 120
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(svg_id)} class="chart" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value, text) in enumerate(bars):
        y = _PAD + _LINE + index * row_h
        length = bar_w * value / largest
        out.append(
            f'<text x="{label_w - _PAD:.1f}" y="{y + 15:.1f}" text-anchor="end">{escape(_fit(label))}</text>'
            f'<rect x="{label_w:.1f}" y="{y + 3:.1f}" width="{length:.1f}" height="{row_h - 6}" fill="#4a78a8">'
            f"<title>{escape(f'{label}: {text}')}</title></rect>"
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15:.1f}">{escape(text)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)

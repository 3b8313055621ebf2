"""Inline SVG for the HTML report: the ER diagram and the capacity bar chart.

Hand-written on purpose: planning must not depend on a binary (Graphviz `dot`, a browser for
Mermaid), and the report must be byte-identical whether or not one is installed. A grid of
entity boxes joined by orthogonal lines routed through the gaps between them (never across
another box) is enough for reading; `erd.dot` gives the laid-out version to anyone with
Graphviz (`polyplan diagram --format svg`). Text is escaped with the
standard library's XML helpers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from polyplan.emit.diagram import Box, Graph

_CHAR = 7.2  # width of one character of the 12 px monospace font, in px
_LINE = 16  # line height
_PAD = 8
_GAP_X = 130
_GAP_Y = 80
_LANE_X = 10  # the least distance between two edges running side by side down a vertical gap
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


def anchor(prefix: str, index: int) -> str:
    """A stable HTML id: model names may hold any character, positions never do."""
    return f"{prefix}-{index}"


Point = tuple[float, float]
Frame = tuple[float, float, float, float]  # x, y, width, height


def _spread(low: float, high: float, count: int, index: int) -> float:
    """The `index`-th of `count` evenly spaced positions strictly inside (low, high)."""
    return low + (high - low) * (index + 1) / (count + 1)


@dataclass(frozen=True)
class _Route:
    """An edge's path through the grid, before lanes and ports are placed: `upper` and `lower` are
    box indices (`upper` is not below `lower`); `rows` the horizontal channels it runs in and
    `column` the vertical channel it changes rows in (None when it needs none)."""

    upper: int
    lower: int
    same_row: bool
    rows: tuple[int, ...]
    column: int | None = None


class _Router:
    """Orthogonal edge routes on the box grid that keep to the free space.

    Each column of the grid is one band of boxes, and so is each row: the gaps between them (and
    the margins) are channels no box reaches into. An edge between two rows leaves its upper box
    through the bottom edge, runs in the horizontal channel below it, changes rows in a vertical
    channel when the boxes are more than one row apart, and enters the lower box from above; in
    one row it joins the two top edges through the channel above the row. Only the end stubs cross
    a box's own grid cell, between the box and the channel beside it, where no other box is. Edges
    that share a channel get lanes of their own, and edges that share a box side get ports of their
    own, so they do not run on top of each other. Pure arithmetic in model order.
    """

    def __init__(self, columns: int, rows: int) -> None:
        # Channel k lies left of column k (k == columns: right of the last one), and above row k.
        self.column_count, self.row_count = columns, rows
        self.columns: list[tuple[float, float]] = []  # each vertical channel's x range, once placed
        self.rows: list[tuple[float, float]] = []  # each horizontal channel's y range
        self.lanes: dict[tuple[str, int], list[int]] = {}  # ("h" | "v", channel) → edge ids
        self.ports: dict[tuple[int, str], list[int]] = {}  # (box index, "top" | "bottom") → edge ids

    def gaps(self, kind: str, base: float, pitch: float) -> list[float]:
        """Each channel's width (`kind` "v") or height ("h"): `base` between boxes, half of it at
        the margins, and more where the channel has so many lanes that they would be closer than
        `pitch` apart (a horizontal lane carries its edge's name above it)."""
        count = self.column_count if kind == "v" else self.row_count
        return [
            max(base if 0 < k < count else base / 2, (len(self.lanes.get((kind, k), ())) + 1) * pitch)
            for k in range(count + 1)
        ]

    def place(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        ends: tuple[float, float],
        gaps: tuple[Sequence[float], Sequence[float]],
    ) -> None:
        """The channels' coordinates once the boxes are placed: gap k ends where column (row) k
        begins; the last one begins at `ends` (right edge of the last column, bottom of the last row)."""
        x_gaps, y_gaps = gaps
        self.columns = [(xs[k] - x_gaps[k], xs[k]) for k in range(len(xs))] + [(ends[0], ends[0] + x_gaps[-1])]
        self.rows = [(ys[k] - y_gaps[k], ys[k]) for k in range(len(ys))] + [(ends[1], ends[1] + y_gaps[-1])]

    def plan(self, edge: int, upper: tuple[int, int, int], lower: tuple[int, int, int]) -> _Route:
        """Reserve lanes and ports for `edge` between boxes given as (index, row, column)."""
        (a, ra, ca), (b, rb, cb) = upper, lower
        if ra == rb:
            route = _Route(a, b, True, (ra,))
        elif rb == ra + 1:
            route = _Route(a, b, False, (rb,))
        else:  # down the vertical channel right of the upper box's column, or left when cb < ca
            route = _Route(a, b, False, (ra + 1, rb), ca + 1 if ca <= cb else ca)
        self.ports.setdefault((a, "top" if route.same_row else "bottom"), []).append(edge)
        self.ports.setdefault((b, "top"), []).append(edge)
        for row in route.rows:
            self.lanes.setdefault(("h", row), []).append(edge)
        if route.column is not None:
            self.lanes.setdefault(("v", route.column), []).append(edge)
        return route

    def _lane(self, kind: str, channel: int, edge: int) -> float:
        users = self.lanes[(kind, channel)]
        low, high = (self.rows if kind == "h" else self.columns)[channel]
        return _spread(low, high, len(users), users.index(edge))

    def _port(self, frames: list[Frame], box: int, side: str, edge: int) -> Point:
        x, y, w, h = frames[box]
        users = self.ports[(box, side)]
        return _spread(x, x + w, len(users), users.index(edge)), y if side == "top" else y + h

    def points(self, edge: int, route: _Route, frames: list[Frame]) -> list[Point]:
        """The route's corner points, from the upper box's port to the lower box's."""
        ax, ay = self._port(frames, route.upper, "top" if route.same_row else "bottom", edge)
        bx, by = self._port(frames, route.lower, "top", edge)
        y1 = self._lane("h", route.rows[0], edge)
        if route.column is None:
            return [(ax, ay), (ax, y1), (bx, y1), (bx, by)]
        x = self._lane("v", route.column, edge)
        y2 = self._lane("h", route.rows[1], edge)
        return [(ax, ay), (ax, y1), (x, y1), (x, y2), (bx, y2), (bx, by)]


def _simplify(points: list[Point]) -> list[Point]:
    """The points without repeats and without middles of straight runs."""
    kept: list[Point] = []
    for point in points:
        if kept and point == kept[-1]:
            continue
        if len(kept) >= 2:
            (x0, y0), (x1, y1) = kept[-2], kept[-1]
            if (x0 == x1 == point[0]) or (y0 == y1 == point[1]):
                kept[-1] = point
                continue
        kept.append(point)
    return kept


def _end_label(end: Point, toward: Point) -> tuple[float, float]:
    """Where a cardinality goes: beside the route's stub, just outside the box."""
    (px, py), (_, qy) = end, toward
    return px + 4, py + 14 if qy > py else py - 5


def _middle(points: list[Point]) -> Point:
    """Where the route's name goes: the middle of its longest horizontal segment (whose lane has a
    text line of room above it, `_Router.gaps`), or of its longest segment when it has none."""
    segments = list(itertools.pairwise(points))
    level = [(p, q) for p, q in segments if p[1] == q[1]] or segments
    (x1, y1), (x2, y2) = max(level, key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1]))
    return (x1 + x2) / 2, (y1 + y2) / 2


def _polyline(points: list[Point], title: str) -> str:
    coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline class="link" points="{coordinates}" fill="none" stroke="#567">{title}</polyline>'


def erd_svg(graph: Graph, entity_anchors: dict[str, str], svg_id: str) -> str:
    """The ER diagram: boxes on a grid in model order, each linking to its entity's section, and
    the relationships routed around the boxes (`_Router`)."""
    if not graph.boxes:
        return ""
    columns = max(1, math.ceil(math.sqrt(len(graph.boxes))))
    texts = [_box_lines(box) for box in graph.boxes]
    sizes = [(max(len(t) for t in lines) * _CHAR + 2 * _PAD, len(lines) * _LINE + 2 * _PAD) for lines in texts]
    widths = [max(w for i, (w, _) in enumerate(sizes) if i % columns == c) for c in range(columns)]
    rows = math.ceil(len(graph.boxes) / columns)
    heights = [max(h for i, (_, h) in enumerate(sizes) if i // columns == r) for r in range(rows)]
    where = {box.name: (index, index // columns, index % columns) for index, box in enumerate(graph.boxes)}
    # Routes first (they need only grid positions), so each gap can be as wide as its lanes need.
    router = _Router(columns, rows)
    routes: dict[int, tuple[_Route, bool]] = {}  # edge → (route, whether the source is the upper box)
    for edge, link in enumerate(graph.links):
        if link.source != link.target:
            source, target = where[link.source], where[link.target]
            upper = source[1:] <= target[1:]
            routes[edge] = (router.plan(edge, *((source, target) if upper else (target, source))), upper)
    x_gaps, y_gaps = router.gaps("v", _GAP_X, _LANE_X), router.gaps("h", _GAP_Y, _LINE)
    xs = [sum(x_gaps[: c + 1]) + sum(widths[:c]) for c in range(columns)]
    ys = [sum(y_gaps[: r + 1]) + sum(heights[:r]) for r in range(rows)]
    router.place(xs, ys, (xs[-1] + widths[-1], ys[-1] + heights[-1]), (x_gaps, y_gaps))
    frames: list[Frame] = [(xs[i % columns], ys[i // columns], *sizes[i]) for i in range(len(graph.boxes))]
    total_w = sum(widths) + sum(x_gaps)
    total_h = sum(heights) + sum(y_gaps)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(svg_id)} class="erd" role="img" '
        f'width="{total_w:.0f}" height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        'font-family="monospace" font-size="12">',
        f"<title>{escape('ER diagram: ' + graph.title)}</title>",
    ]
    labels: list[str] = []
    for edge, link in enumerate(graph.links):
        label = link.name + (" (owned)" if link.owned else "")
        if link.attributes:
            label += " {" + ", ".join(f"{a.name}: {a.type}" for a in link.attributes) + "}"
        title = f"<title>{escape(label)}</title>"
        if link.source == link.target:  # a self-reference: a loop off the box's right edge
            x, y, w, h = frames[where[link.source][0]]
            rx, ry = x + w, y + h / 2
            out.append(_polyline([(rx, ry - 10), (rx + 24, ry - 10), (rx + 24, ry + 10), (rx, ry + 10)], title))
            labels.append(f'<text x="{rx + 34:.1f}" y="{ry:.1f}" {_HALO}>{escape(_fit(label))}</text>')
            continue
        route, upper = routes[edge]
        points = _simplify(router.points(edge, route, frames))
        if not upper:
            points.reverse()  # from the source (parent) end, whose cardinality is ends[0]
        out.append(_polyline(points, title))
        for end_point, toward, end in ((points[0], points[1], link.ends[0]), (points[-1], points[-2], link.ends[1])):
            tx, ty = _end_label(end_point, toward)
            labels.append(f'<text class="end" x="{tx:.1f}" y="{ty:.1f}" fill="#a33" {_HALO}>{escape(end)}</text>')
        mx, my = _middle(points)
        labels.append(f'<text x="{mx:.1f}" y="{my - 3:.1f}" text-anchor="middle" {_HALO}>{escape(_fit(label))}</text>')
    for index, box in enumerate(graph.boxes):
        x, y, w, h = frames[index]
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

"""Where the report's ER diagram puts its boxes, edges and labels (`svg.erd_svg` draws them).

Hand-written on purpose: planning must not depend on a binary (Graphviz `dot`, a browser for
Mermaid), and the report must be byte-identical whether or not one is installed. Boxes sit on a
grid in model order; relationships are orthogonal lines routed through the gaps between them
(never across another box); every label gets a place of its own, so no label covers a box or
another label (tests/test_report.py checks both on every diagram, and the browser test checks
the drawn text). Pure arithmetic in model order: the same graph gives the same numbers.

Labels are placed by construction rather than searched for: a relationship's name sits on a
text line reserved above its own lane, and a cardinality sits in a band reserved beside the box
side it leaves from, at its own port, with the ports of a side spread wide enough for their
labels. Space is reserved before the boxes are placed, so a crowded gap grows instead of
stacking labels on each other.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from polyplan.emit.diagram import Box, Graph, Link

CHAR = 7.2  # advance of one character of the 12 px monospace font, in px
LINE = 16  # line height: the pitch of text lines in a box, and of lanes in a horizontal gap
ASCENT, DESCENT = 10.0, 3.0  # a 12 px label reaches this far above and below its baseline
HALO = 1.0  # the white outline drawn around a label reaches this far beside its text
PAD = 8
_GAP_X = 130
_GAP_Y = 80
_LANE_X = 10  # the least distance between two edges running side by side down a vertical gap
# A cardinality's band beside a box side: the label's ink (ASCENT + DESCENT) plus its distance
# from the box (2 px) and from the name lines next to it (3 px).
_END_BAND = 18.0
_END_GAP = 5.0  # between a port's label and the next port (or the box's right corner)
MAX_CHARS = 40  # longer names are cut (the full name is in the title tooltip)

Point = tuple[float, float]
Frame = tuple[float, float, float, float]  # x, y, width, height


def fit(text: str) -> str:
    """`text` cut to MAX_CHARS characters, with an ellipsis when cut."""
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def text_width(text: str) -> float:
    """The width of `text` in the monospace font: wide (East Asian) characters take two cells."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * CHAR


def box_lines(box: Box) -> list[str]:
    """The text lines of an entity's box: name, store, then one line per column."""
    store = box.store + (f" + {', '.join(box.projections)}" if box.projections else "")
    lines = [box.name, store]
    lines += [f"{c.name}: {c.type}" + (f" {','.join(c.markers)}" if c.markers else "") for c in box.columns]
    return [fit(line) for line in lines]


def link_label(link: Link) -> str:
    """A relationship's name as the diagram shows it (the tooltip shows it uncut)."""
    label = link.name + (" (owned)" if link.owned else "")
    if link.attributes:
        label += " {" + ", ".join(f"{a.name}: {a.type}" for a in link.attributes) + "}"
    return label


@dataclass(frozen=True)
class Label:
    """A text at baseline (`x`, `y`); `anchor` is SVG's text-anchor, `end` marks a cardinality."""

    x: float
    y: float
    text: str
    anchor: str  # "start" | "middle"
    end: bool

    def rect(self) -> Frame:
        """The rectangle the drawn label (text and halo) covers."""
        width = text_width(self.text)
        left = self.x - (width / 2 if self.anchor == "middle" else 0.0)
        return left - HALO, self.y - ASCENT, width + 2 * HALO, ASCENT + DESCENT


@dataclass(frozen=True)
class Layout:
    """A placed diagram: a frame per box, an edge (corner points, from the source's end) and a
    tooltip per link, and every label."""

    width: float
    height: float
    texts: list[list[str]]
    frames: list[Frame]
    edges: list[list[Point]]
    titles: list[str]
    labels: list[Label]


def _spread(low: float, high: float, count: int, index: int) -> float:
    """The `index`-th of `count` evenly spaced positions strictly inside (low, high)."""
    return low + (high - low) * (index + 1) / (count + 1)


@dataclass(frozen=True)
class _Route:
    """An edge's path through the grid, before lanes and ports are placed: `upper` and `lower` are
    box indices (`upper` is not below `lower`; the same box for a self-reference); `rows` the
    horizontal channels it runs in and `column` the vertical channel it changes rows in (None
    when it needs none)."""

    upper: int
    lower: int
    same_row: bool
    rows: tuple[int, ...]
    column: int | None = None


_Port = tuple[int, int]  # (edge, slot): slot 0 is the end at the upper box, 1 at the lower box


class _Router:
    """Orthogonal edge routes on the box grid that keep to the free space.

    Each column of the grid is one band of boxes, and so is each row: the gaps between them (and
    the margins) are channels no box reaches into. An edge between two rows leaves its upper box
    through the bottom edge, runs in the horizontal channel below it, changes rows in a vertical
    channel when the boxes are more than one row apart, and enters the lower box from above; in
    one row (a self-reference too) it joins the two top edges through the channel above the row.
    Only the end stubs cross a box's own grid cell, between the box and the channel beside it,
    where no other box is. Edges that share a channel get lanes of their own, and edges that share
    a box side get ports of their own, so they do not run on top of each other.
    """

    def __init__(self, columns: int, rows: int) -> None:
        # Channel k lies left of column k (k == columns: right of the last one), and above row k.
        self.column_count, self.row_count = columns, rows
        self.columns: list[tuple[float, float]] = []  # each vertical channel's x range, once placed
        self.rows: list[tuple[float, float]] = []  # each horizontal channel's y range
        self.lanes: dict[tuple[str, int], list[int]] = {}  # ("h" | "v", channel) → edge ids
        self.ports: dict[tuple[int, str], list[_Port]] = {}  # (box index, "top" | "bottom") → ports
        self.sides: set[tuple[str, int]] = set()  # (side, row): some box of the row has ports there

    def _reserved(self, channel: int) -> tuple[float, float]:
        """The bands of horizontal channel `channel` kept for cardinalities: at its top for the
        bottom ports of the row above, at its bottom for the top ports of the row below."""
        top = _END_BAND if ("bottom", channel - 1) in self.sides else 0.0
        return top, _END_BAND if ("top", channel) in self.sides else 0.0

    def gaps(self, kind: str, base: float, pitch: float) -> list[float]:
        """Each channel's width (`kind` "v") or height ("h"): `base` between boxes, half of it at
        the margins, and more where the channel has so many lanes that they would be closer than
        `pitch` apart (a horizontal lane carries its edge's name above it, and its channel keeps
        bands for the cardinalities of the boxes on either side)."""
        count = self.column_count if kind == "v" else self.row_count
        needed = [(len(self.lanes.get((kind, k), ())) + 1) * pitch for k in range(count + 1)]
        if kind == "h":
            needed = [room + sum(self._reserved(k)) for k, room in enumerate(needed)]
        return [max(base if 0 < k < count else base / 2, needed[k]) for k in range(count + 1)]

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
        upper_side = "top" if route.same_row else "bottom"
        self.ports.setdefault((a, upper_side), []).append((edge, 0))
        self.ports.setdefault((b, "top"), []).append((edge, 1))
        self.sides |= {(upper_side, ra), ("top", rb)}
        for row in route.rows:
            self.lanes.setdefault(("h", row), []).append(edge)
        if route.column is not None:
            self.lanes.setdefault(("v", route.column), []).append(edge)
        return route

    def lane(self, kind: str, channel: int, edge: int) -> float:
        """The coordinate of `edge`'s lane in a channel (y for "h", x for "v")."""
        users = self.lanes[(kind, channel)]
        if kind == "v":
            low, high = self.columns[channel]
        else:
            (low, high), (top, bottom) = self.rows[channel], self._reserved(channel)
            low, high = low + top, high - bottom
        return _spread(low, high, len(users), users.index(edge))

    def port(self, frames: list[Frame], box: int, side: str, port: _Port) -> Point:
        """Where `port` meets its box: spread along the box's top or bottom edge."""
        x, y, w, h = frames[box]
        users = self.ports[(box, side)]
        return _spread(x, x + w, len(users), users.index(port)), y if side == "top" else y + h

    def points(self, edge: int, route: _Route, frames: list[Frame]) -> list[Point]:
        """The route's corner points, from the upper box's port to the lower box's."""
        ax, ay = self.port(frames, route.upper, "top" if route.same_row else "bottom", (edge, 0))
        bx, by = self.port(frames, route.lower, "top", (edge, 1))
        y1 = self.lane("h", route.rows[0], edge)
        if route.column is None:
            return [(ax, ay), (ax, y1), (bx, y1), (bx, by)]
        x = self.lane("v", route.column, edge)
        y2 = self.lane("h", route.rows[1], edge)
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


def _end_label(port: Point, side: str, text: str) -> Label:
    """A cardinality: right of its port's stub, in the band beside the box side (`_END_BAND`)."""
    px, py = port
    return Label(px + 4, py - 5 if side == "top" else py + 14, text, "start", True)


def _name_label(points: list[Point], width: float, text: str) -> Label:
    """A relationship's name: on the text line above its longest horizontal run (every route has
    one, of length 0 when its stubs line up), kept inside the diagram's `width`."""
    runs = [(p, q) for p, q in itertools.pairwise(points[1:-1]) if p[1] == q[1]]
    (x1, y), (x2, _) = max(runs, key=lambda run: abs(run[1][0] - run[0][0]))
    half = text_width(text) / 2 + HALO
    x = min(max((x1 + x2) / 2, half), width - half)
    return Label(x, y - 4, text, "middle", False)


def layout_erd(graph: Graph) -> Layout:
    """Place `graph`: boxes on a grid in model order, routes around them (`_Router`), and labels
    in the room kept for them."""
    columns = max(1, math.ceil(math.sqrt(len(graph.boxes))))
    rows = math.ceil(len(graph.boxes) / columns)
    texts = [box_lines(box) for box in graph.boxes]
    where = {box.name: (index, index // columns, index % columns) for index, box in enumerate(graph.boxes)}
    # Routes first (they need only grid positions), so each gap and box side can be as wide as
    # its lanes, ports and labels need.
    router = _Router(columns, rows)
    routes: list[tuple[_Route, bool]] = []  # per edge: (route, whether the source is the upper box)
    for edge, link in enumerate(graph.links):
        source, target = where[link.source], where[link.target]
        upper = source[1:] <= target[1:]
        routes.append((router.plan(edge, *((source, target) if upper else (target, source))), upper))
    end_texts = {
        (edge, slot): link.ends[slot if upper else 1 - slot]
        for edge, (link, (_, upper)) in enumerate(zip(graph.links, routes, strict=True))
        for slot in (0, 1)
    }
    sizes = []
    for index, lines in enumerate(texts):
        width = max(text_width(line) for line in lines) + 2 * PAD
        for side in ("top", "bottom"):
            ports = router.ports.get((index, side), [])
            if ports:  # each port's label, and the room after it, fits before the next port
                width = max(width, (len(ports) + 1) * (max(text_width(end_texts[p]) for p in ports) + _END_GAP))
        sizes.append((width, len(lines) * LINE + 2 * PAD))
    widths = [max(w for i, (w, _) in enumerate(sizes) if i % columns == c) for c in range(columns)]
    heights = [max(h for i, (_, h) in enumerate(sizes) if i // columns == r) for r in range(rows)]
    x_gaps, y_gaps = router.gaps("v", _GAP_X, _LANE_X), router.gaps("h", _GAP_Y, LINE)
    names = [fit(link_label(link)) for link in graph.links]
    # A name is centred on its run but never wider than the diagram: widen the right margin.
    widest = max((text_width(name) + 2 * HALO for name in names), default=0.0)
    x_gaps[-1] += max(0.0, widest - sum(widths) - sum(x_gaps))
    xs = [sum(x_gaps[: c + 1]) + sum(widths[:c]) for c in range(columns)]
    ys = [sum(y_gaps[: r + 1]) + sum(heights[:r]) for r in range(rows)]
    router.place(xs, ys, (xs[-1] + widths[-1], ys[-1] + heights[-1]), (x_gaps, y_gaps))
    frames: list[Frame] = [(xs[i % columns], ys[i // columns], *sizes[i]) for i in range(len(graph.boxes))]
    total_w, total_h = sum(widths) + sum(x_gaps), sum(heights) + sum(y_gaps)
    edges: list[list[Point]] = []
    labels: list[Label] = []
    for edge, (route, upper) in enumerate(routes):
        points = router.points(edge, route, frames)
        for slot, box, side in ((0, route.upper, "top" if route.same_row else "bottom"), (1, route.lower, "top")):
            port = router.port(frames, box, side, (edge, slot))
            labels.append(_end_label(port, side, end_texts[(edge, slot)]))
        labels.append(_name_label(points, total_w, names[edge]))
        points = _simplify(points)
        edges.append(points if upper else points[::-1])  # from the source (parent) end
    titles = [link_label(link) for link in graph.links]
    return Layout(total_w, total_h, texts, frames, edges, titles, labels)

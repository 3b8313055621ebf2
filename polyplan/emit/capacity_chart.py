"""Line charts of each store's size and load over time (docs/capacity-size.svg, -load.svg).

Hand-written SVG, like the report's bar chart (`emit/svg.py`): a few polylines on one axis
need no plotting library, and the text is byte-identical in every process (numbers
are formatted with fixed precision, series are drawn in sorted store order). The PNG copies
(`capacity_png.py`) need matplotlib, the optional `charts` extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from polyplan.capacity.spec import CapacityPlan, StoreYear

_WIDTH, _HEIGHT = 640.0, 300.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 80.0, 220.0, 30.0, 40.0
# Colour-blind-safe palette (Okabe and Ito, 2008), cycled by series.
_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


def _label(value: float, byte_units: bool) -> str:
    from polyplan.emit.capacity import human  # the same figures as capacity.md

    return human(value, byte_units=byte_units)


class _Scale:
    """The value axis: linear from 0 while values are within two orders of magnitude of each
    other, else logarithmic by decades (one store's terabytes would flatten another's megabytes)."""

    def __init__(self, smallest: float, largest: float) -> None:
        self.largest = largest
        self.log = largest / smallest > 100
        self.low = math.floor(math.log10(smallest)) if self.log else 0
        self.high = math.ceil(math.log10(largest)) if self.log else 0

    def at(self, value: float) -> float:
        """The value's height as a share of the plot (0 at the bottom)."""
        if not self.log:
            return value / self.largest
        if value <= 0:
            return 0.0
        return (math.log10(value) - self.low) / (self.high - self.low)

    def ticks(self) -> list[float]:
        if not self.log:
            return [0.0, self.largest / 2, self.largest]
        step = max(1, math.ceil((self.high - self.low) / 4))  # at most five labels
        return [10.0**e for e in range(self.low, self.high + 1, step)]


def line_chart_svg(
    title: str, years: Sequence[float], series: Sequence[tuple[str, Sequence[float]]], byte_units: bool
) -> str:
    """One polyline per (name, values at `years`), on a shared value axis (`_Scale`)."""
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    largest = max((v for _, values in series for v in values), default=0.0) or 1.0
    smallest = min((v for _, values in series for v in values if v > 0), default=largest)
    scale = _Scale(smallest, largest)
    last = years[-1] or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_WIDTH:.0f}" height="{_HEIGHT:.0f}" '
        f'viewBox="0 0 {_WIDTH:.0f} {_HEIGHT:.0f}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_LEFT:.0f}" y="18" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{_LEFT:.0f}" y1="{_TOP + plot_h:.0f}" x2="{_LEFT + plot_w:.0f}" y2="{_TOP + plot_h:.0f}" stroke="#444"/>',
        f'<line x1="{_LEFT:.0f}" y1="{_TOP:.0f}" x2="{_LEFT:.0f}" y2="{_TOP + plot_h:.0f}" stroke="#444"/>',
    ]
    for tick in scale.ticks():
        y = _TOP + plot_h * (1 - scale.at(tick))
        out.append(
            f'<text x="{_LEFT - 6:.0f}" y="{y + 4:.1f}" text-anchor="end">{escape(_label(tick, byte_units))}</text>'
            f'<line x1="{_LEFT:.0f}" y1="{y:.1f}" x2="{_LEFT + plot_w:.0f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
    for year in years:
        x = _LEFT + plot_w * year / last
        out.append(f'<text x="{x:.1f}" y="{_TOP + plot_h + 16:.0f}" text-anchor="middle">year {year:g}</text>')
    for index, (name, values) in enumerate(series):
        colour = _COLOURS[index % len(_COLOURS)]
        points = " ".join(
            f"{_LEFT + plot_w * year / last:.1f},{_TOP + plot_h * (1 - scale.at(value)):.1f}"
            for year, value in zip(years, values, strict=True)
        )
        out.append(
            f'<polyline fill="none" stroke={quoteattr(colour)} stroke-width="2" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        legend_y = _TOP + 16 * index + 8
        out.append(
            f'<rect x="{_WIDTH - _RIGHT + 12:.0f}" y="{legend_y - 8:.0f}" width="10" height="10" fill={quoteattr(colour)}/>'
            f'<text x="{_WIDTH - _RIGHT + 28:.0f}" y="{legend_y + 1:.0f}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _series(capacity: CapacityPlan, pick: str) -> list[tuple[str, list[float]]]:
    def value(y: StoreYear) -> float:
        return float(getattr(y, pick))

    return [(store.store, [value(y) for y in store.years]) for store in capacity.stores]


def capacity_charts(capacity: CapacityPlan) -> dict[str, str]:
    """docs/capacity-size.svg (stored bytes per store), docs/capacity-reads.svg and
    docs/capacity-writes.svg (peak operations per second per store)."""
    if not capacity.stores:
        return {}
    years = capacity.years
    return {
        "docs/capacity-size.svg": line_chart_svg(
            f"{capacity.model}: stored bytes per store", years, _series(capacity, "stored_bytes"), True
        ),
        "docs/capacity-reads.svg": line_chart_svg(
            f"{capacity.model}: peak reads/s per store", years, _series(capacity, "reads"), False
        ),
        "docs/capacity-writes.svg": line_chart_svg(
            f"{capacity.model}: peak writes/s per store", years, _series(capacity, "writes"), False
        ),
    }

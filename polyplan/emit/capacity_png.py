"""PNG line charts of each store's size and load over time (docs/capacity-size.png, -reads.png,
-writes.png), beside the SVG ones (`capacity_chart.py`), from plan.json's `capacity` figures.

matplotlib draws them (the optional `charts` extra: a rasterizer is not worth writing by hand),
with the Agg backend so no display is needed, and the bytes are the same in every process: no
`Software` or date metadata in the file, the fonts matplotlib ships, series in the plan's store
order. Without matplotlib only the SVG charts are written and `write_plan` says so (PP438).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

# The Okabe-Ito palette of the SVG charts, so both formats colour a store alike.
_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
CHARTS = (
    ("docs/capacity-size.png", "stored bytes per store", "stored_bytes", True),
    ("docs/capacity-reads.png", "peak reads/s per store", "reads_per_second", False),
    ("docs/capacity-writes.png", "peak writes/s per store", "writes_per_second", False),
)


def available() -> bool:
    """Whether matplotlib can be imported (the `charts` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _png(title: str, years: Sequence[float], series: Sequence[tuple[str, list[float]]], byte_units: bool) -> bytes:
    """One line per store; a logarithmic axis when the values span more than two decades (as the SVG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display; the same raster on every machine
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from polyplan.emit.capacity import human  # the figures capacity.md shows

    # A Figure of its own (not pyplot): nothing global to reset between charts or threads.
    figure = Figure(figsize=(6.4, 3.0), dpi=100)
    axes = figure.add_subplot()
    positive = [v for _, values in series for v in values if v > 0]
    if positive and max(positive) / min(positive) > 100:
        axes.set_yscale("log")
    for index, (name, values) in enumerate(series):
        axes.plot(list(years), values, label=name, color=_COLOURS[index % len(_COLOURS)], linewidth=2)
    axes.set_title(title, fontsize=10, loc="left")
    axes.set_xticks(list(years), [f"year {y:g}" for y in years], fontsize=8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: human(value, byte_units=byte_units)))
    axes.tick_params(axis="y", labelsize=8)
    axes.grid(True, color="#dddddd")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    # No Software (matplotlib's version) or creation-time chunk: identical bytes in every process.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def capacity_pngs(capacity: Mapping[str, Any], model: str) -> dict[str, bytes]:
    """The PNG charts of plan.json's `capacity` section (empty when no store is planned)."""
    stores = capacity.get("stores") or []
    if not stores:
        return {}
    years = [float(y) for y in capacity["years"]]
    charts: dict[str, bytes] = {}
    for path, title, figure, byte_units in CHARTS:
        series = [(str(s["store"]), [float(y[figure]) for y in s["years"]]) for s in stores]
        charts[path] = _png(f"{model}: {title}", years, series, byte_units)
    return charts

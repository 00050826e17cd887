"""Chart geometry for server-rendered SVG: the templates draw what these functions measure.

No script and no inline style (the CSP forbids both): shapes carry SVG
attributes for their geometry and CSS classes for their colours. Every bar
carries the link to the list of what it counts.
"""

import math
from dataclasses import dataclass, field


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    #: Tooltip (SVG <title>) and accessible name.
    title: str
    href: str
    css: str = ""
    #: The number written on or beside the bar.
    text: str = ""


@dataclass
class Tick:
    position: float
    text: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    #: Value axis (y for columns, x for horizontal bars).
    ticks: list[Tick] = field(default_factory=list)
    #: Category labels: (x, y, text).
    labels: list[tuple[float, float, str]] = field(default_factory=list)
    #: Polyline points "x,y x,y" and its dots (x, y): shapes only, a click goes to the column under them
    #: (whose title gives the line's figure too).
    line: str = ""
    dots: list[tuple[float, float]] = field(default_factory=list)
    plot: tuple[float, float, float, float] = (0, 0, 0, 0)


def nice_step(value: float) -> int:
    """The smallest 1/2/5 x 10^n at or above ``value``, at least 1: a tick step people read at a glance."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if value <= step * power)


def axis(largest: float, ticks: int = 4) -> tuple[int, int]:
    """(top, step) of a count axis holding ``largest``: whole-number steps, about ``ticks`` of them."""
    step = nice_step(largest / ticks)
    return step * max(math.ceil(largest / step), 1), step


def columns(items: list[dict], *, width: int = 1100, height: int = 220, label_every: int = 1) -> Chart:
    """Vertical bars: ``items`` have ``value``, ``label``, ``title``, ``href`` and optionally ``line`` (a second
    series drawn as a line over the bars) and ``css``."""
    left, right, top, bottom = 40, 10, 12, 36
    chart = Chart(width, height, plot=(left, top, width - right, height - bottom))
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, step = axis(max([i["value"] for i in items] + [i.get("line", 0) or 0 for i in items] + [0]))
    for value in range(0, top_value + 1, step):
        chart.ticks.append(Tick(round(top + plot_h - plot_h * value / top_value, 1), str(value)))
    slot = plot_w / max(len(items), 1)
    gap = min(6, slot * 0.2)
    points = []
    for n, item in enumerate(items):
        h = plot_h * item["value"] / top_value
        x = left + n * slot + gap / 2
        chart.bars.append(
            Bar(
                x=round(x, 1),
                y=round(top + plot_h - h, 1),
                width=round(slot - gap, 1),
                height=round(h, 1),
                title=item["title"],
                href=item["href"],
                css=item.get("css", ""),
                text=str(item["value"]) if item["value"] and slot >= 24 else "",
            )
        )
        if n % label_every == 0:
            chart.labels.append((round(x + (slot - gap) / 2, 1), height - bottom + 16, item["label"]))
        if "line" in item:
            y = top + plot_h - plot_h * (item["line"] or 0) / top_value
            points.append((round(x + (slot - gap) / 2, 1), round(y, 1)))
    if points:
        chart.line = " ".join(f"{x},{y}" for x, y in points)
        chart.dots = points
    return chart


def percent_bars(
    rows: list[dict], series: list[str], *, width: int = 640, row_height: int = 34, target: float = 90
) -> Chart:
    """Horizontal bars 0..100 %, one row per item and one bar per series in it; below ``target`` is marked low.

    ``rows`` have ``label`` and, per series name, a dict with ``percent`` (None: nothing counted),
    ``title``, ``href``.
    """
    left, right, top = 150, 50, 22
    height = top + row_height * max(len(rows), 1) + 8
    chart = Chart(width, height, plot=(left, top, width - right, height - 8))
    plot_w = width - left - right
    for k in range(5):
        chart.ticks.append(Tick(left + plot_w * k / 4, f"{25 * k}%"))
    bar_h = (row_height - 10) / max(len(series), 1)
    for n, row in enumerate(rows):
        y0 = top + n * row_height + 5
        chart.labels.append((left - 8, y0 + (row_height - 10) / 2 + 4, row["label"]))
        for s, name in enumerate(series):
            cell = row[name]
            if cell["percent"] is None:
                continue
            w = plot_w * cell["percent"] / 100
            chart.bars.append(
                Bar(
                    x=left,
                    y=round(y0 + s * bar_h, 1),
                    width=round(max(w, 1.5), 1),
                    height=round(bar_h - 2, 1),
                    title=cell["title"],
                    href=cell["href"],
                    css=f"series-{s} {'low' if cell['percent'] < target else ''}",
                    text=f"{cell['percent']:.0f}%",
                )
            )
    return chart

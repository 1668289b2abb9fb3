"""Bar charts drawn on the server as SVG: no JavaScript, light, sharp when printed.

A chart is geometry computed here and drawn by templates/reports/_chart.html: an <svg role="img">
whose <title> and <desc> say what it shows in words (totals, highest and lowest points), next
to the table of the same figures. Colours come from classes in static/css/reports.css (the CSP
forbids inline styles); each series also differs by pattern-free shade and is named in a legend.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_decimal

WIDTH = 720


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    id: str
    title: str
    description: str
    width: int
    height: int
    horizontal: bool = False
    bars: list = field(default_factory=list)
    grid: list = field(default_factory=list)  # value ticks
    axis: list = field(default_factory=list)  # category labels
    legend: list = field(default_factory=list)  # (series index, name)
    plot: tuple = (0, 0, 0, 0)  # left, top, width, height


def nice_ceiling(value) -> float:
    """The round number at or above value that makes a readable scale: 1, 2, 2.5, 5 × 10^k."""
    value = float(value)
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def number(value, unit="") -> str:
    if value is None:
        return "—"
    text = format_decimal(value, "#,##0.#") if isinstance(value, (float, Decimal)) else format_decimal(value, "#,##0")
    return f"{text}{unit}"


def _ticks(top, whole=False):
    """Gridline values from 0 to top: quarters of a percentage scale, whole steps for counts."""
    count = 4
    if whole and top <= 10:
        count = int(top) if top in (1, 2, 4, 5) else 5
    elif whole and (top / 4) != int(top / 4):
        count = 5
    return [top * n / count for n in range(count + 1)]


def columns(chart_id, title, description, labels, series, *, unit="", maximum=None, label_every=None, height=260, whole=False) -> Chart:
    """Vertical bars over time: labels[i] names bucket i; series = [(name, [value per bucket])].

    whole: the values are counts (gridlines on whole numbers). Labels closer than three buckets to
    the previous one are left out, so that they never overlap."""
    left, top, right, bottom = 52, 14, 10, 30
    chart = Chart(chart_id, title, description, WIDTH, height)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    chart.plot = (left, top, plot_w, plot_h)
    values = [v for _name, vs in series for v in vs if v is not None]
    scale_top = maximum if maximum is not None else nice_ceiling(max(values, default=0))
    if whole:
        scale_top = max(scale_top, 1)
    for value in _ticks(scale_top, whole):
        chart.grid.append(Tick(top + plot_h - plot_h * value / scale_top, number(value, unit)))
    count = max(1, len(labels))
    group = plot_w / count
    bar_w = group * 0.8 / max(1, len(series))
    for s_index, (_name, vs) in enumerate(series):
        for i, value in enumerate(vs):
            if not value:
                continue
            h = plot_h * min(float(value), scale_top) / scale_top
            chart.bars.append(Bar(left + i * group + group * 0.1 + s_index * bar_w, top + plot_h - h, bar_w, h, s_index))
    every = label_every or max(1, round(count / 8))
    spacing = max(3, round(count / 14))
    last = None
    for i, label in enumerate(labels):
        if label and i % every == 0 and (last is None or i - last >= spacing):
            chart.axis.append(Tick(left + i * group + group / 2, label))
            last = i
    chart.legend = [(i, name) for i, (name, _vs) in enumerate(series)] if len(series) > 1 else []
    return chart


def rows(chart_id, title, description, categories, series, *, unit="", maximum=None) -> Chart:
    """Horizontal bars per category (e.g. use rate per kind of device), one bar per series."""
    left, top, right, bottom = 170, 10, 20, 28
    per_category = 14 * len(series) + 14
    height = top + bottom + per_category * max(1, len(categories))
    chart = Chart(chart_id, title, description, WIDTH, height, horizontal=True)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    chart.plot = (left, top, plot_w, plot_h)
    values = [v for _name, vs in series for v in vs if v is not None]
    scale_top = maximum if maximum is not None else nice_ceiling(max(values, default=0))
    for value in _ticks(scale_top):
        chart.grid.append(Tick(left + plot_w * value / scale_top, number(value, unit)))
    for c_index, name in enumerate(categories):
        y0 = top + c_index * per_category + 7
        chart.axis.append(Tick(y0 + 7 * len(series), name))
        for s_index, (_name, vs) in enumerate(series):
            value = vs[c_index]
            if not value:
                continue
            chart.bars.append(Bar(left, y0 + s_index * 14, plot_w * min(float(value), scale_top) / scale_top, 12, s_index))
    chart.legend = [(i, name) for i, (name, _vs) in enumerate(series)] if len(series) > 1 else []
    return chart

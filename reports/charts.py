"""Bar charts drawn on the server as SVG: no JavaScript, light, sharp when printed.

A chart is geometry computed here and drawn by the `chart` macro of templates/reports/_macros.html: an <svg role="img">
whose <title> and <desc> say what it shows in words (totals, highest and lowest points), next
to the table of the same figures. Colours come from classes in static/css/reports.css (the CSP
forbids inline styles); each series also differs by pattern-free shade and is named in a legend.

`columns` and `rows` draw any chart; `site_charts` makes the three of a site's page from its tables.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _

from core.templating import french_date

from .formatting import report_number

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


# --- the charts of the site page ----------------------------------------------------------------


def site_charts(dashboard) -> dict:
    """The three charts of a site's page (reports.tables.SiteDashboard), each described in words."""
    week = dashboard.bucket_kind == "week"
    loans_rows = dashboard.loans_series.rows
    labels = []
    previous_month = None
    for first, _count in loans_rows:
        # Weeks: the month's name under the first week of each month; months: their short name.
        if week:
            month = (first.year, first.month)
            labels.append(format_date(first, "MMM") if month != previous_month else "")
            previous_month = month
        else:
            labels.append(first)
    values = [count for _first, count in loans_rows]
    total = sum(values)
    busiest = max(range(len(values)), key=lambda i: values[i]) if values else None
    when = _("la semaine du %(day)s", day=_day(loans_rows[busiest][0])) if week and busiest is not None else (
        loans_rows[busiest][0] if busiest is not None else "")
    loans_desc = (
        _("%(total)s prêts commencés %(period)s, au plus %(max)s %(when)s. Le détail est dans le tableau « %(table)s ».",
          total=number(total), period=dashboard.labels[0], max=number(values[busiest]), when=when,
          table=dashboard.loans_series.title)
        if total else _("Aucun prêt commencé %(period)s.", period=dashboard.labels[0])
    )
    loans_chart = columns("graphique-prets", str(dashboard.loans_series.title), loans_desc, labels,
                                 [(_("Prêts commencés"), values)], label_every=1, whole=True)

    occupancy = dashboard.occupancy_series.rows
    booked_rates = [row[4] for row in occupancy]
    used_rates = [row[5] for row in occupancy]
    defined = [r for r in booked_rates if r is not None]
    if defined:
        occ_desc = _(
            "Taux d'occupation des postes en accès libre, %(period)s : de %(low)s à %(high)s selon la %(unit)s, %(overall)s sur la période "
            "(%(used)s utilisés d'après les arrivées notées). Le détail est dans le tableau « %(table)s ».",
            period=dashboard.labels[0], low=report_number(min(defined), "pct"), high=report_number(max(defined), "pct"),
            unit=_("semaine") if week else _("mois"),
            overall=report_number(dashboard.rooms.lines[3].current, "pct"), used=report_number(dashboard.rooms.lines[4].current, "pct"),
            table=dashboard.occupancy_series.title,
        )
    else:
        occ_desc = _("Aucune heure d'accès libre offerte %(period)s.", period=dashboard.labels[0])
    occupancy_chart = columns(
        "graphique-occupation", str(dashboard.occupancy_series.title), occ_desc, labels,
        [(_("Réservés"), booked_rates), (_("Utilisés"), used_rates)], unit="\u202f%", maximum=100, label_every=1,
    )

    kinds = dashboard.kind_rates
    kind_desc = "; ".join(
        _("%(kind)s : %(now)s (période de comparaison : %(before)s)", kind=name, now=report_number(now_, "pct"),
          before=report_number(before, "pct"))
        for name, now_, before in kinds
    ) or _("Aucun équipement dans l'inventaire de la structure.")
    kinds_chart = rows(
        "graphique-usage", _("Taux d'usage par type d'équipement"), _("Taux d'usage : ") + kind_desc + ".",
        [name for name, _n, _b in kinds],
        [(dashboard.labels[0], [n for _k, n, _b in kinds]), (dashboard.labels[1], [b for _k, _n, b in kinds])],
        unit="\u202f%", maximum=100,
    )
    return {"loans": loans_chart, "occupancy": occupancy_chart, "kinds": kinds_chart}


def _day(value):
    return french_date(value, "d MMMM")

"""Report pages: a site's dashboard, the network side by side, the funder report, their CSV files.

Managers see the sites they belong to, admins every site; reception has no reports. A period that
cannot be read is answered with the form, the French message next to the field, and status 400.
"""
from datetime import timedelta

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core import csv_export
from core.authz import admin_required, get_site_or_404, staff_required
from core.extensions import db
from core.input import parse_int
from core.models import Role, Site
from core.templating import french_date

from . import charts, figures, periods, queries

bp = Blueprint("reports", __name__)


@bp.record_once
def _setup(state):
    from core.demo import register_demo_loader
    from core.templating import MANAGERS, add_nav

    app = state.app
    add_nav(app, "reports.index", _l("Rapports"), roles=MANAGERS, order=60)
    app.jinja_env.filters["report_number"] = report_number
    app.jinja_env.filters["report_change"] = report_change
    app.add_template_global(device_figures, "report_device_figures")

    from .demo import load_demo

    register_demo_loader(app, load_demo)

    from .bench import bench_activity

    app.cli.add_command(bench_activity)


# --- formatting -------------------------------------------------------------------------------------


def report_number(value, kind="int"):
    """French figures for a page: 1 234 ; 12,5 ; 12,5 % ; dates as 9 févr. 2026."""
    if value is None or value == "":
        return "—"
    if kind == "pct":
        return format_decimal(value, "#,##0.0") + "\u202f%"
    if kind == "dec":
        return format_decimal(value, "#,##0.0")
    if kind == "int":
        return format_decimal(value, "#,##0")
    if kind == "date":
        return french_date(value, "d MMM y")
    return value


def report_change(line):
    change = line.change
    if change is None:
        return "—"
    if change == 0:
        return _("stable")
    sign = "+" if change > 0 else "−"
    text = format_decimal(abs(change), "#,##0.0")
    return f"{sign}{text}\u202f" + (_("points") if line.change_kind == "points" else "%")


# --- the period asked for ------------------------------------------------------------------------------


def _period():
    """(period, errors by field). Errors: the caller answers 400 with the form."""
    try:
        return periods.from_args(request.args), {}
    except periods.PeriodErrors as exc:
        return None, {e.field: str(e) for e in exc.errors}
    except periods.PeriodError as exc:
        return None, {exc.field: str(exc)}


def _form_context(period, errors):
    choices = periods.choices()
    if period and period.kind != "custom" and all(period != item for _group, items in choices for item in items):
        choices = [(_("Période affichée"), [period]), *choices]  # an older period asked in the URL stays selected
    asked = any(request.args.get(key) for key in ("periode", "du", "au"))
    return {
        "period": period,
        "errors": errors,
        "default_note": None if asked or errors else periods.default_note(),
        "choices": choices,
        "typed": {"du": request.args.get("du", ""), "au": request.args.get("au", ""), "periode": request.args.get("periode", "")},
    }


def _sites_for_reports():
    return db.session.scalars(current_user.visible_sites_query()).all()


# --- pages --------------------------------------------------------------------------------------------------


@bp.get("/rapports")
@staff_required(Role.manager)
def index():
    sites = _sites_for_reports()
    return render_template("reports/index.html", sites=sites, period=periods.Period.default(), default_note=periods.default_note())


@bp.get("/rapports/structures/<int:site_id>")
@staff_required(Role.manager)
def site(site_id):
    site = get_site_or_404(site_id)
    period, errors = _period()
    if errors:
        return render_template("reports/site.html", site=site, dashboard=None, **_form_context(period, errors)), 400
    dashboard = figures.site_dashboard(site, period, periods.today(), lambda tag: url_for("loans.device", tag=tag))
    return render_template(
        "reports/site.html", site=site, dashboard=dashboard, charts=_site_charts(dashboard), **_form_context(period, errors)
    )


@bp.get("/rapports/structures/<int:site_id>/<table>.csv")
@staff_required(Role.manager)
def site_csv(site_id, table):
    site = get_site_or_404(site_id)
    period, errors = _period()
    if errors:
        return render_template("reports/site.html", site=site, dashboard=None, **_form_context(period, errors)), 400
    dashboard = figures.site_dashboard(site, period, periods.today(), lambda tag: tag)
    chosen = dashboard.tables().get(table) or abort(404)
    header, rows = chosen.csv()
    return csv_export.response(csv_export.write(header, rows), f"{table}-{_slug(site.name)}-{_period_slug(period)}.csv")


@bp.get("/rapports/reseau")
@admin_required
def network():
    period, errors = _period()
    if errors:
        return render_template("reports/network.html", report=None, **_form_context(period, errors)), 400
    sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    report = figures.network(sites, period, periods.today(), all_sites=True)
    return render_template("reports/network.html", report=report, **_form_context(period, errors))


@bp.get("/rapports/reseau.csv")
@admin_required
def network_csv():
    period, errors = _period()
    if errors:
        return render_template("reports/network.html", report=None, **_form_context(period, errors)), 400
    sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    report = figures.network(sites, period, periods.today(), all_sites=True)
    header, rows = report.csv()
    return csv_export.response(csv_export.write(header, rows), f"reseau-{_period_slug(period)}.csv")


def _funder_year():
    """(year, error): ?annee=2026; the current year by default (of yesterday, like every report)."""
    yesterday = periods.today() - timedelta(days=1)
    raw = (request.args.get("annee") or "").strip()
    if not raw:
        return yesterday.year, None
    try:
        return parse_int(raw, periods.EARLIEST.year, yesterday.year), None
    except ValueError:  # not a plain number ('²' passes str.isdigit()), or out of the list
        return None, _("Année inconnue : « %(value)s ». Choisissez-en une dans la liste.", value=raw[:10])


def _funder_context():
    yesterday = periods.today() - timedelta(days=1)
    return {"years": list(range(yesterday.year, yesterday.year - 6, -1)), "typed_year": request.args.get("annee", "")}


@bp.get("/rapports/financeur")
@staff_required(Role.manager)
def funder():
    year, error = _funder_year()
    if error:
        return render_template("reports/funder.html", report=None, error=error, **_funder_context()), 400
    sites = _sites_for_reports()
    report = figures.funder(sites, year, periods.today(), all_sites=current_user.is_admin)
    return render_template("reports/funder.html", report=report, error=None, sites=sites,
                           today_label=french_date(periods.today(), "d MMMM y"), **_funder_context())


@bp.get("/rapports/financeur.csv")
@staff_required(Role.manager)
def funder_csv():
    year, error = _funder_year()
    if error:
        return render_template("reports/funder.html", report=None, error=error, **_funder_context()), 400
    sites = _sites_for_reports()
    report = figures.funder(sites, year, periods.today(), all_sites=current_user.is_admin)
    header, rows = report.table.csv()
    rows += [[figures.plain(v) for v in row] for row in report.totals]
    return csv_export.response(csv_export.write(header, rows), f"rapport-financeur-{year}.csv")


# --- charts of the site page ---------------------------------------------------------------------------------


def _site_charts(dashboard):
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
          total=charts.number(total), period=dashboard.labels[0], max=charts.number(values[busiest]), when=when,
          table=dashboard.loans_series.title)
        if total else _("Aucun prêt commencé %(period)s.", period=dashboard.labels[0])
    )
    loans_chart = charts.columns("graphique-prets", str(dashboard.loans_series.title), loans_desc, labels,
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
    occupancy_chart = charts.columns(
        "graphique-occupation", str(dashboard.occupancy_series.title), occ_desc, labels,
        [(_("Réservés"), booked_rates), (_("Utilisés"), used_rates)], unit="\u202f%", maximum=100, label_every=1,
    )

    kinds = dashboard.kind_rates
    kind_desc = "; ".join(
        _("%(kind)s : %(now)s (période de comparaison : %(before)s)", kind=name, now=report_number(now_, "pct"),
          before=report_number(before, "pct"))
        for name, now_, before in kinds
    ) or _("Aucun équipement dans l'inventaire de la structure.")
    kinds_chart = charts.rows(
        "graphique-usage", _("Taux d'usage par type d'équipement"), _("Taux d'usage : ") + kind_desc + ".",
        [name for name, _n, _b in kinds],
        [(dashboard.labels[0], [n for _k, n, _b in kinds]), (dashboard.labels[1], [b for _k, _n, b in kinds])],
        unit="\u202f%", maximum=100,
    )
    return {"loans": loans_chart, "occupancy": occupancy_chart, "kinds": kinds_chart}


def _day(value):
    return french_date(value, "d MMMM")


def _slug(text):
    from core.residents import fold

    return "-".join("".join(c if c.isalnum() else " " for c in fold(text)).split())[:40]


def _period_slug(period):
    if period.kind == "custom":
        return f"{period.first.isoformat()}-{period.last.isoformat()}"
    return period.key


# --- the device page's figures (templates/reports/_device_figures.html) -------------------------------------


def device_figures(device):
    """Loans, days on loan and last loan of one device: one statement, on the device page."""
    row = queries.device_figures(device.id, periods.today())
    return {"loans": row.loans, "days": int(row.days or 0), "last_lent": figures.local_day(row.last_lent)}


"""Report pages: a site's dashboard, the network side by side, the funder report, their CSV files.

Managers see the sites they belong to, admins every site; reception has no reports. A period that
cannot be read is answered with the form, the French message next to the field, and status 400.
"""
from datetime import timedelta

from flask import Blueprint, abort, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core import csv_export
from core.authz import admin_required, get_site_or_404, staff_required
from core.clock import today
from core.extensions import db
from core.input import parse_int
from core.models import Role, Site
from core.templating import french_date

from . import charts, figures, formatting, periods, queries

bp = Blueprint("reports", __name__)


@bp.record_once
def _setup(state):
    from core.demo import register_demo_loader
    from core.templating import MANAGERS, add_nav

    app = state.app
    add_nav(app, "reports.index", _l("Rapports"), roles=MANAGERS, order=60)
    app.jinja_env.filters["report_number"] = formatting.report_number
    app.jinja_env.filters["report_change"] = formatting.report_change
    app.add_template_global(device_figures, "report_device_figures")

    from .demo import load_demo

    register_demo_loader(app, load_demo)

    from .bench import bench_activity

    app.cli.add_command(bench_activity)


# --- the period asked for ------------------------------------------------------------------------------


def _asked_period(template, **context):
    """The period of the query string. One that cannot be read ends the request here: the page's
    form answers 400, each French message next to its field ('periode', 'du' or 'au')."""
    try:
        return periods.from_args(request.args)
    except periods.PeriodErrors as exc:
        errors = {e.field: str(e) for e in exc.errors}
    except periods.PeriodError as exc:
        errors = {exc.field: str(exc)}
    abort(make_response(render_template(template, **context, **_form_context(None, errors)), 400))


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


def _all_sites():
    return db.session.scalars(select(Site).order_by(Site.name)).all()


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
    period = _asked_period("reports/site.html", site=site, dashboard=None)
    dashboard = figures.site_dashboard(site, period, today(), lambda tag: url_for("loans.device", tag=tag))
    return render_template(
        "reports/site.html", site=site, dashboard=dashboard, charts=charts.site_charts(dashboard), **_form_context(period, {})
    )


@bp.get("/rapports/structures/<int:site_id>/<table>.csv")
@staff_required(Role.manager)
def site_csv(site_id, table):
    site = get_site_or_404(site_id)
    period = _asked_period("reports/site.html", site=site, dashboard=None)
    dashboard = figures.site_dashboard(site, period, today(), lambda tag: tag)
    chosen = dashboard.tables().get(table) or abort(404)
    return _csv(chosen, f"{table}-{_slug(site.name)}-{_period_slug(period)}.csv")


@bp.get("/rapports/reseau")
@admin_required
def network():
    period = _asked_period("reports/network.html", report=None)
    report = figures.network(_all_sites(), period, today(), all_sites=True)
    return render_template("reports/network.html", report=report, **_form_context(period, {}))


@bp.get("/rapports/reseau.csv")
@admin_required
def network_csv():
    period = _asked_period("reports/network.html", report=None)
    report = figures.network(_all_sites(), period, today(), all_sites=True)
    return _csv(report, f"reseau-{_period_slug(period)}.csv")


def _asked_year():
    """?annee=2026; the current year by default (of yesterday, like every report). A year that
    cannot be read ends the request here: the form answers 400 with the message."""
    yesterday = today() - timedelta(days=1)
    raw = (request.args.get("annee") or "").strip()
    if not raw:
        return yesterday.year
    try:
        return parse_int(raw, periods.EARLIEST.year, yesterday.year)
    except ValueError:  # not a plain number ('²' passes str.isdigit()), or out of the list
        error = _("Année inconnue : « %(value)s ». Choisissez-en une dans la liste.", value=raw[:10])
    abort(make_response(render_template("reports/funder.html", report=None, error=error, **_funder_context()), 400))


def _funder_context():
    yesterday = today() - timedelta(days=1)
    return {"years": list(range(yesterday.year, yesterday.year - 6, -1)), "typed_year": request.args.get("annee", "")}


@bp.get("/rapports/financeur")
@staff_required(Role.manager)
def funder():
    year, sites = _asked_year(), _sites_for_reports()
    report = figures.funder(sites, year, today(), all_sites=current_user.is_admin)
    return render_template("reports/funder.html", report=report, error=None, sites=sites,
                           today_label=french_date(today(), "d MMMM y"), **_funder_context())


@bp.get("/rapports/financeur.csv")
@staff_required(Role.manager)
def funder_csv():
    year = _asked_year()
    report = figures.funder(_sites_for_reports(), year, today(), all_sites=current_user.is_admin)
    return _csv(report, f"rapport-financeur-{year}.csv")


def _csv(table, filename):
    """Any report table (or whole report) with a csv() method, as a file Excel opens (core/csv_export.py)."""
    header, rows = table.csv()
    return csv_export.response(csv_export.write(header, rows), filename)


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
    row = queries.device_figures(device.id, today())
    return {"loans": row.loans, "days": int(row.days or 0), "last_lent": figures.local_day(row.last_lent)}


"""The reception desk's home: the scan box, today's expected returns, overdue loans, devices available now.

Five queries whatever the size of the history: the loans overdue and due today (open loans of the
person's sites, index ix_loans_site_open_due), their counts, the person's sites, and the available devices counted by
site and kind with GROUP BY (index ix_devices_current_site_status).
"""
from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import case, func, select, true
from sqlalchemy.orm import joinedload

from core.authz import staff_required
from core.extensions import db
from core.models import Site
from core.templating import add_nav

from core.clock import today as today_in_paris

from ..models import Device, DeviceKind, Loan
from . import bp

SHOWN = 100  # loans listed at most; the count says how many there are


@bp.record_once
def _register_nav(state):
    add_nav(state.app, "loans.desk", _l("Guichet"), order=15)


def _site_filter(column):
    """Condition on a site column: the person's sites (admins: every site)."""
    if current_user.is_admin:
        return true()
    return column.in_(sorted(current_user.site_ids) or [-1])


@bp.get("/guichet")
@staff_required()
def desk():
    today = today_in_paris()
    mine = _site_filter(Loan.site_id)
    def open_loans(condition):
        return db.session.scalars(
            select(Loan)
            .where(Loan.is_open, condition, mine)
            .order_by(Loan.due_on, Loan.id)
            .limit(SHOWN)
            # Inner joins (every loan has a device, a resident and a site): a LEFT JOIN of devices with
            # their kind made SQLite materialise every device and scan them for each loan.
            .options(joinedload(Loan.device, innerjoin=True), joinedload(Loan.resident, innerjoin=True),
                     joinedload(Loan.site, innerjoin=True))
        ).all()

    overdue = open_loans(Loan.due_on < today)
    due_today = open_loans(Loan.due_on == today)
    overdue_count, today_count = db.session.execute(
        select(
            func.coalesce(func.sum(case((Loan.due_on < today, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Loan.due_on == today, 1), else_=0)), 0),
        ).where(Loan.is_open, Loan.due_on <= today, mine)
    ).one()
    available = db.session.execute(
        select(Site.id, Site.name, DeviceKind.name, func.count(Device.id))
        .join(Device, Device.current_site_id == Site.id)
        .join(DeviceKind, DeviceKind.id == Device.kind_id)
        .where(Device.is_available, _site_filter(Device.current_site_id))
        .group_by(Site.id, Site.name, DeviceKind.id, DeviceKind.name, DeviceKind.position)
        .order_by(Site.name, DeviceKind.position, DeviceKind.name)
    ).all()
    by_site = {}
    for site_id, site_name, kind_name, count in available:
        by_site.setdefault((site_id, site_name), []).append((kind_name, count))
    sites = db.session.scalars(current_user.visible_sites_query()).all()
    return render_template(
        "loans/desk.html",
        today=today,
        overdue=overdue,
        due_today=due_today,
        overdue_count=int(overdue_count),
        today_count=int(today_count),
        shown=SHOWN,
        available=by_site,
        sites=sites,
        can_set_rules=current_user.is_manager,
    )

"""The arrival desk: reception notes who came to their open-access seat (came / did not come).

The reports count seat-hours "used" from these marks. The rule lives in
reservations.operations.mark_arrival; this is only its page, per site and day.
"""
from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired

from core import clock
from core.authz import get_in_site_or_404, get_site_or_404, staff_required
from core.extensions import db
from core.forms import BaseForm
from core.input import parse_iso_day
from reservations import operations
from reservations.models import Attendance, Booking, BookingState
from reservations.slots import day_bounds_utc

from .views import bp


class ArrivalForm(BaseForm):
    attendance = StringField(validators=[InputRequired(), AnyOf([Attendance.present.value, Attendance.absent.value])])
    day = StringField()


def _day_from(raw) -> date | None:
    return parse_iso_day(raw) if raw else clock.local_now().date()


@bp.get("/arrivees")
@staff_required()
def arrivals_home():
    sites = db.session.scalars(current_user.visible_sites_query()).all()
    if len(sites) == 1:  # most desks: straight to today's list
        return _render(sites[0], clock.local_now().date())
    return render_template("reports/arrivals_sites.html", sites=sites)


@bp.get("/structures/<int:site_id>/arrivees")
@staff_required()
def arrivals(site_id):
    site = get_site_or_404(site_id)
    day = _day_from(request.args.get("jour"))
    if day is None:
        return _render(site, clock.local_now().date(), error=_("Date illisible : choisissez un jour dans le calendrier."), status=400)
    return _render(site, day)


def _render(site, day, error=None, status=200):
    start, end = day_bounds_utc(day, day)
    bookings = db.session.scalars(
        select(Booking)
        .options(joinedload(Booking.room))
        .where(
            Booking.site_id == site.id,
            Booking.workshop_id.is_(None),
            Booking.state == BookingState.confirmed,
            Booking.starts_at >= start,
            Booking.starts_at < end,
        )
        .order_by(Booking.starts_at, Booking.first_name, Booking.id)
    ).all()
    at = clock.now()
    return render_template(
        "reports/arrivals.html", site=site, day=day, bookings=bookings, error=error, form=ArrivalForm(),
        can_mark=lambda booking: operations.can_mark_arrival(booking, at), today=clock.local_now().date(),
        attendance=Attendance, timedelta_day=timedelta(days=1),
    ), status


@bp.post("/arrivees/<int:booking_id>")
@staff_required()
def mark_arrival(booking_id):
    booking = get_in_site_or_404(Booking, booking_id)
    form = ArrivalForm()
    day = booking.starts_at.astimezone(clock.PARIS).date()
    if not form.validate_on_submit():
        return _render(booking.site, day, error=_("Choisissez « Venu·e » ou « Pas venu·e »."), status=400)
    try:
        operations.mark_arrival(booking.id, Attendance(form.attendance.data), current_user)
    except operations.ReservationError as exc:
        db.session.rollback()
        return _render(booking.site, day, error=str(exc), status=400)
    db.session.commit()
    flash(_("%(name)s (%(ref)s) : %(state)s.", name=booking.first_name, ref=booking.reference,
            state=_("venu·e") if booking.attendance is Attendance.present else _("pas venu·e")), "success")
    return redirect(url_for("reports.arrivals", site_id=booking.site_id, jour=day.isoformat()) + f"#reservation-{booking.id}")

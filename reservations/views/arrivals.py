"""The arrival desk: reception notes who came to their open-access seat (came / did not come).

The reports count seat-hours "used" from these marks; the rule is bookings.mark_arrival.
"""
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired

from core import clock
from core.answers import attempt
from core.authz import get_in_site_or_404, get_site_or_404, staff_required
from core.extensions import db
from core.forms import BaseForm
from core.input import parse_iso_day

from .. import bookings
from ..models import Attendance, Booking
from . import bp


class ArrivalForm(BaseForm):
    attendance = StringField(validators=[InputRequired(), AnyOf([Attendance.present.value, Attendance.absent.value])])
    day = StringField()


@bp.get("/arrivees")
@staff_required()
def arrivals_home():
    sites = db.session.scalars(current_user.visible_sites_query()).all()
    if len(sites) == 1:  # most desks: straight to today's list
        return _render(sites[0], clock.today())
    return render_template("reservations/staff/arrivals_sites.html", sites=sites)


@bp.get("/structures/<int:site_id>/arrivees")
@staff_required()
def arrivals(site_id):
    site = get_site_or_404(site_id)
    raw = request.args.get("jour")
    day = parse_iso_day(raw) if raw else clock.today()
    if day is None:
        return _render(site, clock.today(), error=_("Date illisible : choisissez un jour dans le calendrier."), status=400)
    return _render(site, day)


def _render(site, day, error=None, status=200):
    at = clock.now()
    return render_template(
        "reservations/staff/arrivals.html", site=site, day=day, bookings=bookings.seats_of_the_day(site.id, day), error=error,
        form=ArrivalForm(), can_mark=lambda booking: bookings.can_mark_arrival(booking, at), today=clock.today(),
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
    outcome = attempt(bookings.mark_arrival, booking.id, Attendance(form.attendance.data), current_user)
    if not outcome:
        return _render(booking.site, day, error=outcome.error, status=outcome.status)
    flash(_("%(name)s (%(ref)s) : %(state)s.", name=booking.first_name, ref=booking.reference,
            state=_("venu·e") if booking.attendance is Attendance.present else _("pas venu·e")), "success")
    return redirect(url_for("reservations.arrivals", site_id=booking.site_id, jour=day.isoformat()) + f"#reservation-{booking.id}")

"""Staff pages for workshops: the week of a site, creation (with weekly repetition), registrants,
waiting list, walk-ins, attendance, history."""
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import clock
from core.answers import attempt, error_of, status_of
from core.authz import get_in_site_or_404, get_site_or_404, refuse, staff_required
from core.extensions import db
from core.forms import EmptyForm
from core.messaging import consent
from core.messaging.staff import messages_about
from core.models import Role

from .. import slots as slotlib
from .. import workshops as workshoplib
from ..forms import AttendanceForm, DeskWorkshopForm, WorkshopForm, WorkshopTextForm
from ..ledger import can_manage_site
from ..models import Attendance, Booking, BookingEvent, Room, Workshop
from ..workshops import WorkshopData
from . import bp, flash_promoted, parse_day, say_day


@bp.get("/structures/<int:site_id>/ateliers")
@staff_required()
def site_workshops(site_id):
    site = get_site_or_404(site_id)
    day = parse_day(request.args.get("date"), clock.today())
    monday = day - timedelta(days=day.weekday())
    start, end = slotlib.day_bounds_utc(monday, monday + timedelta(days=6))
    workshops = db.session.scalars(
        select(Workshop)
        .where(Workshop.site_id == site.id, Workshop.starts_at >= start, Workshop.starts_at < end)
        .options(selectinload(Workshop.room))
        .order_by(Workshop.starts_at)
    ).all()
    ids = [w.id for w in workshops]
    return render_template(
        "reservations/staff/site_workshops.html", site=site, monday=monday, workshops=workshops,
        confirmed=workshoplib.counts_by_workshop(ids, Booking.is_confirmed),
        waiting=workshoplib.counts_by_workshop(ids, Booking.is_waiting),
        prev_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7),
        can_manage=can_manage_site(current_user, site.id),
    )


@bp.route("/ateliers/nouveau", methods=["GET", "POST"])
@staff_required(Role.manager)
def workshop_new():
    site_ids = [s.id for s in db.session.scalars(current_user.visible_sites_query())
                if can_manage_site(current_user, s.id)]
    rooms = db.session.scalars(
        select(Room).where(Room.site_id.in_(site_ids)).options(selectinload(Room.site)).order_by(Room.site_id, Room.name)
    ).all()
    if not rooms:
        return render_template("reservations/staff/workshop_form.html", form=None, workshop=None, error=None)
    form = WorkshopForm(rooms=rooms)
    if request.method == "GET" and request.args.get("room_id", type=int):
        form.room_id.data = request.args.get("room_id", type=int)
    outcome = None
    if form.validate_on_submit():
        room = next(r for r in rooms if r.id == form.room_id.data)
        outcome = attempt(workshoplib.create_workshops, current_user, room, WorkshopData.from_form(form), form.day.data,
                          form.starts.data, form.ends.data, form.repeat_weeks.data or 0, form=form)
        if outcome:
            return _workshops_created(outcome.value)
    return render_template(
        "reservations/staff/workshop_form.html", form=form, workshop=None, error=error_of(outcome),
    ), status_of(form, outcome)


def _workshops_created(created):
    if len(created) > 1:
        flash(_("%(n)s ateliers créés, un par semaine.", n=len(created)), "success")
    else:
        flash(_("Atelier créé."), "success")
    if created.skipped:
        flash(_("Pas d'atelier les jours de fermeture : %(days)s.", days=" ; ".join(
            _("%(day)s (%(reason)s)", day=say_day(day), reason=reason) for day, reason in created.skipped)), "warning")
    return redirect(url_for("reservations.workshop_detail", workshop_id=created[0].id))


@bp.route("/ateliers/<int:workshop_id>/modifier", methods=["GET", "POST"])
@staff_required(Role.manager)
def workshop_edit(workshop_id):
    workshop = get_in_site_or_404(Workshop, workshop_id)
    if not can_manage_site(current_user, workshop.site_id):
        refuse("role")
    form = WorkshopTextForm(obj=workshop)
    if request.method == "GET":
        form.level.data = workshop.level.value
    outcome = None
    if form.validate_on_submit():
        outcome = attempt(workshoplib.update_workshop, current_user, workshop.id, WorkshopData.from_form(form), form=form)
        if outcome:
            flash(_("Atelier enregistré."), "success")
            flash_promoted(outcome.value)
            return redirect(url_for("reservations.workshop_detail", workshop_id=workshop.id))
    return render_template(
        "reservations/staff/workshop_form.html", form=form, workshop=workshop, error=error_of(outcome),
    ), status_of(form, outcome)


@bp.post("/ateliers/<int:workshop_id>/annuler")
@staff_required(Role.manager)
def workshop_cancel(workshop_id):
    workshop = get_in_site_or_404(Workshop, workshop_id)
    if not can_manage_site(current_user, workshop.site_id):
        refuse("role")
    if EmptyForm().validate_on_submit():
        outcome = attempt(workshoplib.cancel_workshop, current_user, workshop.id)
        if outcome:
            flash(ngettext("Atelier annulé. %(num)s inscription annulée : prévenez la personne.",
                           "Atelier annulé. %(num)s inscriptions annulées : prévenez les personnes.", outcome.value), "success")
        else:
            flash(outcome.error, "error")
    return redirect(url_for("reservations.workshop_detail", workshop_id=workshop.id))


@bp.get("/ateliers/<int:workshop_id>")
@staff_required()
def workshop_detail(workshop_id):
    workshop = get_in_site_or_404(Workshop, workshop_id)
    return _render_detail(workshop, DeskWorkshopForm(), None, 200)


def _render_detail(workshop, form, error, status):
    bookings = db.session.scalars(
        select(Booking).where(Booking.workshop_id == workshop.id).order_by(Booking.id)
    ).all()
    events = db.session.scalars(
        select(BookingEvent)
        .join(Booking, Booking.id == BookingEvent.booking_id)
        .where(Booking.workshop_id == workshop.id)
        .options(selectinload(BookingEvent.actor), selectinload(BookingEvent.booking))
        .order_by(BookingEvent.at.desc(), BookingEvent.id.desc())
        .limit(200)
    ).all()
    at = clock.now()
    confirmed = [b for b in bookings if b.is_confirmed]
    waiting = [b for b in bookings if b.is_waiting]
    return render_template(
        "reservations/staff/workshop_detail.html", workshop=workshop, confirmed=confirmed, waiting=waiting,
        cancelled=[b for b in bookings if b.is_cancelled], events=events, form=form, error=error, at=at,
        started=workshop.starts_at <= at, ended=workshop.ends_at <= at, action_form=EmptyForm(),
        attendance_form=AttendanceForm(), attendances=list(Attendance),
        can_manage=can_manage_site(current_user, workshop.site_id),
        sent_messages=messages_about(current_user, booking_ids=[b.id for b in bookings]),
        message_labels={b.id: f"{b.first_name} ({b.reference})" for b in bookings},
    ), status


@bp.post("/ateliers/<int:workshop_id>/inscrire")
@staff_required()
def desk_register(workshop_id):
    workshop = get_in_site_or_404(Workshop, workshop_id)
    form = DeskWorkshopForm()
    if not form.validate_on_submit():
        return _render_detail(workshop, form, None, 400)
    join = consent.choosing(workshoplib.register, form.parsed_contact, form.reminders.data, "desk", workshop.site_id)
    outcome = attempt(join, workshop.id, form.first_name.data, form.parsed_contact, actor=current_user, form=form)
    if not outcome:
        return _render_detail(workshop, form, outcome.error, outcome.status)
    booking, _token = outcome.value
    if booking.is_confirmed:
        flash(_("Place réservée pour %(name)s. Numéro : %(ref)s.", name=booking.first_name, ref=booking.reference), "success")
    else:
        flash(_("Atelier complet : %(name)s est sur la liste d'attente (numéro %(ref)s).",
                name=booking.first_name, ref=booking.reference), "info")
    return redirect(url_for("reservations.workshop_detail", workshop_id=workshop.id))


@bp.post("/reservations/<int:booking_id>/presence")
@staff_required()
def attendance(booking_id):
    booking = get_in_site_or_404(Booking, booking_id)
    if booking.workshop_id is None:
        return redirect(url_for("reservations.room_day", room_id=booking.room_id))
    form = AttendanceForm()
    if not form.validate_on_submit():
        flash(_("Choisissez présent, absent ou excusé."), "error")
    elif outcome := attempt(workshoplib.mark_attendance, booking.id, Attendance(form.attendance.data), current_user):
        flash(_("%(name)s : %(state)s.", name=booking.first_name, state=booking.attendance.label), "success")
    else:
        flash(outcome.error, "error")
    return redirect(url_for("reservations.workshop_detail", workshop_id=booking.workshop_id) + f"#b{booking.id}")

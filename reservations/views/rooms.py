"""Staff pages for rooms: the list, settings, closures, day and week calendars, booking at the desk."""
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from core import clock
from core.answers import attempt, status_of
from core.authz import check_site, get_in_site_or_404, get_site_or_404, refuse, staff_required
from core.clock import PARIS
from core.extensions import db
from core.forms import EmptyForm
from core.messaging import consent
from core.messaging.staff import messages_about
from core.models import Role

from .. import bookings
from .. import rooms as roomlib
from .. import slots as slotlib
from ..forms import WEEKDAYS, ClosureForm, DeskSeatForm, RoomForm
from ..ledger import can_manage_site
from ..models import Booking, Closure, Room
from . import bp, flash_promoted, parse_day, say_time


def _require_manager(site_id):
    if not can_manage_site(current_user, site_id):
        refuse("role")


def _managed_sites():
    return [s for s in db.session.scalars(current_user.visible_sites_query()) if can_manage_site(current_user, s.id)]


@bp.get("/salles")
@staff_required()
def rooms():
    sites = db.session.scalars(current_user.visible_sites_query()).all()
    site_ids = [s.id for s in sites]
    rooms = db.session.scalars(
        select(Room).where(Room.site_id.in_(site_ids)).options(selectinload(Room.hours)).order_by(Room.name)
    ).all()
    by_site = {s.id: [] for s in sites}
    for room in rooms:
        by_site[room.site_id].append(room)
    return render_template(
        "reservations/staff/rooms.html", sites=sites, by_site=by_site,
        manages={s.id for s in sites if can_manage_site(current_user, s.id)}, weekdays=WEEKDAYS,
    )


@bp.route("/salles/nouvelle", methods=["GET", "POST"])
@staff_required(Role.manager)
def room_new():
    sites = _managed_sites()
    if not sites:
        refuse("role")
    form = RoomForm(site_choices=sites)
    if request.method == "GET" and request.args.get("site_id", type=int):
        form.site_id.data = request.args.get("site_id", type=int)
    return _room_form(Room(), form)


@bp.route("/salles/<int:room_id>/modifier", methods=["GET", "POST"])
@staff_required(Role.manager)
def room_edit(room_id):
    room = get_in_site_or_404(Room, room_id)
    _require_manager(room.site_id)
    form = RoomForm(obj=room, site_choices=[room.site])
    if request.method == "GET":
        form.fill_hours(room)
    return _room_form(room, form)


def _room_form(room, form):
    if form.validate_on_submit():
        site_id = room.site_id if room.id else form.site_id.data
        check_site(site_id)
        outcome = attempt(
            roomlib.save_room, current_user, room, site_id=site_id, name=form.name.data.strip(), workstations=form.workstations.data,
            notes=(form.notes.data or "").strip(), slot_minutes=form.slot_minutes.data, days_ahead=form.days_ahead.data,
            minutes_before=form.minutes_before.data, hours=form.parsed_hours, active=form.active.data, form=form,
        )
        if outcome:
            flash(_("Salle enregistrée : %(name)s.", name=room.name), "success")
            return redirect(url_for("reservations.room_day", room_id=room.id))
    return render_template("reservations/staff/room_form.html", form=form, room=room), status_of(form)


@bp.post("/salles/<int:room_id>/lien-agenda")
@staff_required(Role.manager)
def room_feed_regenerate(room_id):
    room = get_in_site_or_404(Room, room_id)
    _require_manager(room.site_id)
    if EmptyForm().validate_on_submit() and attempt(roomlib.regenerate_feed_token, current_user, room):
        flash(_("Nouveau lien d'agenda créé. L'ancien lien ne marche plus."), "success")
    return redirect(url_for("reservations.room_edit", room_id=room.id))


# --- closures ---------------------------------------------------------------------------------


@bp.route("/structures/<int:site_id>/fermetures", methods=["GET", "POST"])
@staff_required(Role.manager)
def closures(site_id):
    """Add a closure. When it would cancel bookings or workshops, the same POST answers with the list
    of what it cancels and a confirmation button; the confirmation is checked against the list again."""
    site = get_site_or_404(site_id)
    _require_manager(site.id)
    rooms = db.session.scalars(select(Room).where(Room.site_id == site.id).order_by(Room.name)).all()
    form = ClosureForm(rooms=rooms)
    outcome = None
    if form.validate_on_submit():
        room_id = form.room_id.data or None
        if room_id is not None and room_id not in {r.id for r in rooms}:
            form.room_id.errors = [_("Choisissez une salle de ce centre.")]
        else:
            first_day, last_day = form.first_day.data, form.last_day.data or form.first_day.data
            outcome = attempt(roomlib.add_closure, current_user, site.id, room_id, first_day, last_day, form.reason.data.strip(),
                              confirmed=form.confirmed.data or None, form=form)
            if isinstance(outcome.exception, roomlib.ClosureNeedsConfirmation):
                return _closure_confirm(site, rooms, form, room_id, first_day, last_day, outcome)
            if outcome:
                return _closure_added(site, *outcome.value)
    return _closures_page(site, form, status_of(form, outcome))


def _closure_confirm(site, rooms, form, room_id, first_day, last_day, outcome):
    """What the closure would cancel, with the button that confirms exactly this list."""
    impact = roomlib.closure_impact(site.id, room_id, first_day, last_day)
    form.confirmed.data = impact.fingerprint
    return render_template(
        "reservations/staff/closure_confirm.html", site=site, form=form, impact=impact, message=outcome.error,
        room=next((r for r in rooms if r.id == room_id), None), first_day=first_day, last_day=last_day,
    ), outcome.status


def _closure_added(site, closure, cancelled):
    if cancelled:
        flash(ngettext("Fermeture ajoutée. %(num)s réservation annulée : prévenez la personne.",
                       "Fermeture ajoutée. %(num)s réservations annulées : prévenez les personnes.", len(cancelled)), "success")
        return redirect(url_for("reservations.closure_calls", closure_id=closure.id))
    flash(_("Fermeture ajoutée."), "success")
    return redirect(url_for("reservations.closures", site_id=site.id))


def _closures_page(site, form, status):
    """The closures to come, each with how many people it leaves to call, and the form to add one."""
    today = clock.today()
    listed = db.session.scalars(
        select(Closure).where(Closure.site_id == site.id, Closure.last_day >= today)
        .options(selectinload(Closure.room)).order_by(Closure.first_day)
    ).all()
    to_call = dict(db.session.execute(
        select(Booking.closure_id, func.count()).where(Booking.closure_id.in_([c.id for c in listed])).group_by(Booking.closure_id)
    ).all()) if listed else {}
    return render_template(
        "reservations/staff/closures.html", site=site, form=form, closures=listed, year=today.year, action_form=EmptyForm(),
        to_call=to_call,
    ), status


@bp.get("/fermetures/<int:closure_id>/a-prevenir")
@staff_required()
def closure_calls(closure_id):
    """The people whose booking a closure cancelled, with how to reach them: the desk calls them."""
    closure = get_in_site_or_404(Closure, closure_id)
    bookings = db.session.scalars(
        select(Booking).where(Booking.closure_id == closure.id)
        .options(selectinload(Booking.workshop), selectinload(Booking.room))
        .order_by(Booking.starts_at, Booking.id)
    ).all()
    return render_template("reservations/staff/closure_calls.html", closure=closure, site=closure.site, bookings=bookings)


@bp.post("/fermetures/<int:closure_id>/supprimer")
@staff_required(Role.manager)
def closure_delete(closure_id):
    closure = get_in_site_or_404(Closure, closure_id)
    _require_manager(closure.site_id)
    site_id = closure.site_id
    if EmptyForm().validate_on_submit() and attempt(roomlib.delete_closure, current_user, closure):
        flash(_("Fermeture retirée."), "success")
    return redirect(url_for("reservations.closures", site_id=site_id))


@bp.post("/structures/<int:site_id>/jours-feries")
@staff_required(Role.manager)
def holidays_add(site_id):
    site = get_site_or_404(site_id)
    _require_manager(site.id)
    year = request.form.get("year", type=int)
    if not year or not 2000 <= year <= 2100:
        abort(400)
    outcome = attempt(roomlib.add_public_holidays, current_user, site.id, year) if EmptyForm().validate_on_submit() else None
    if outcome:
        flash(ngettext("%(num)s jour férié ajouté pour %(year)s.", "%(num)s jours fériés ajoutés pour %(year)s.", outcome.value,
                       year=year), "success")
    return redirect(url_for("reservations.closures", site_id=site.id))


# --- calendars --------------------------------------------------------------------------------


def _room_or_404(room_id) -> Room:
    return get_in_site_or_404(Room, room_id)


@bp.get("/salles/<int:room_id>/jour")
@staff_required()
def room_day(room_id):
    room = _room_or_404(room_id)
    day = parse_day(request.args.get("date"), clock.today())
    return _render_day(room, day, DeskSeatForm(), None, 200)


def _render_day(room, day, form, error, status):
    period = slotlib.load_period(select(Room).where(Room.id == room.id), day, day)
    slots = period.slots(period.rooms[0])
    start, end = slotlib.day_bounds_utc(day, day)
    seats = db.session.scalars(
        select(Booking)
        .where(Booking.room_id == room.id, Booking.is_seat, Booking.is_confirmed, Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at, Booking.id)
    ).all()
    at = clock.now()
    form.slot.choices = [
        SelectChoice(s.starts_at.isoformat(), f"{say_time(s.starts_at)} – " + ngettext("%(num)s place", "%(num)s places", s.free))
        for s in slots if s.free and s.ends_at > at
    ]
    return render_template(
        "reservations/staff/room_day.html", room=room, day=day, slots=slots, bookings=seats, form=form, error=error,
        closure=period.closure(day, room.id), prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
        at=at, action_form=EmptyForm(), can_manage=can_manage_site(current_user, room.site_id),
        sent_messages=messages_about(current_user, booking_ids=[b.id for b in seats]),
        message_labels={b.id: f"{b.first_name} ({b.reference})" for b in seats},
        feed_url=current_app.config["PUBLIC_BASE_URL"] + url_for("reservations.room_feed", feed_token=room.feed_token),
    ), status


@bp.post("/salles/<int:room_id>/reserver")
@staff_required()
def desk_book_seat(room_id):
    room = _room_or_404(room_id)
    form = DeskSeatForm()
    form.slot.choices = [SelectChoice(form.slot.data)] if form.slot.data else []
    day = parse_day(request.args.get("date"), clock.today())
    if not form.validate_on_submit():
        return _render_day(room, day, form, None, 400)
    book = consent.choosing(bookings.book_seat, form.parsed_contact, form.reminders.data, "desk", room.site_id)
    outcome = attempt(book, room.id, form.starts_at, form.first_name.data, form.parsed_contact, actor=current_user,
                      form=form)
    if not outcome:
        return _render_day(room, day, form, outcome.error, outcome.status)
    booking, _token = outcome.value
    flash(_("Place réservée pour %(name)s à %(time)s. Numéro : %(ref)s.",
            name=booking.first_name, time=say_time(booking.starts_at), ref=booking.reference), "success")
    return redirect(url_for("reservations.room_day", room_id=room.id, date=booking.starts_at.astimezone(PARIS).date().isoformat()))


@bp.get("/salles/<int:room_id>/semaine")
@staff_required()
def room_week(room_id):
    room = _room_or_404(room_id)
    day = parse_day(request.args.get("date"), clock.today())
    monday = day - timedelta(days=day.weekday())
    period = slotlib.load_period(select(Room).where(Room.id == room.id), monday, monday + timedelta(days=6))
    by_day = {d: [] for d in period.days}
    for slot in period.slots(period.rooms[0]):
        by_day[slot.local_start.date()].append(("slot", slot))
    for workshop in period.workshops.get(room.id, []):
        day_of = workshop.starts_at.astimezone(PARIS).date()
        if day_of in by_day:
            by_day[day_of].append(("workshop", workshop))
    for entries in by_day.values():
        entries.sort(key=lambda entry: (entry[1].starts_at, entry[0]))
    return render_template(
        "reservations/staff/room_week.html", room=room, monday=monday, by_day=by_day, period=period,
        workshops=period.workshops.get(room.id, []), prev_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7),
    )


@bp.post("/reservations/<int:booking_id>/annuler")
@staff_required()
def staff_cancel(booking_id):
    booking = get_in_site_or_404(Booking, booking_id)
    back = (
        url_for("reservations.workshop_detail", workshop_id=booking.workshop_id) if booking.workshop_id
        else url_for("reservations.room_day", room_id=booking.room_id, date=booking.starts_at.astimezone(PARIS).date().isoformat())
    )
    if EmptyForm().validate_on_submit():
        outcome = attempt(bookings.cancel, booking.id, actor=current_user)
        if outcome:
            flash(_("Réservation %(ref)s annulée.", ref=booking.reference), "success")
            flash_promoted(outcome.value)
        else:
            flash(outcome.error, "error")
    return redirect(back)

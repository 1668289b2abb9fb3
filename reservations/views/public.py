"""Public pages: a resident books a seat or a workshop place without an account, then sees or
cancels it through a private link. Plain words, one idea per line, works without JavaScript.

No personal data in URLs: the name and contact travel only in POST bodies; the private link
carries a random token (not personal data) whose hash only is stored.
"""
import hmac
import re
from datetime import datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from core import clock
from core.answers import attempt, error_of, status_of
from core.authz import public
from core.extensions import db, limiter
from core.forms import EmptyForm
from core.hours import say_ranges
from core.messaging import consent
from core.models import Site
from core.privacy import erasure
from core.privacy.export import booking_record
from core.ratelimits import FailureLimit

from .. import bookings, calendar, ledger, workshops
from .. import slots as slotlib
from ..forms import BookingForm
from ..models import Booking, Room, Workshop
from . import bp, parse_day


def _booking_limit():
    return current_app.config.get("BOOKING_LIMIT_PER_ADDRESS", "40 per hour")


def _token_limit():
    return current_app.config.get("BOOKING_TOKEN_LIMIT_PER_ADDRESS", "60 per hour")


# A centre PC is shared by many residents: the per-address limit is generous; it only stops a
# script from emptying the rooms. Seats and workshops share it.
booking_limit = limiter.shared_limit(_booking_limit, scope="public-booking", methods=["POST"])
# Only failed look-ups count, and past the limit only they are refused: a resident's own link always
# opens, even when someone else at the centre's shared address has been guessing links.
token_limit = FailureLimit(_token_limit, "booking-token").on_not_found


def _public_rooms(site_id):
    return select(Room).where(Room.site_id == site_id, Room.active.is_(True)).order_by(Room.name)


def _public_site_or_404(site_id) -> Site:
    return db.session.get(Site, site_id) or abort(404)


@bp.get("/reserver")
@public
def public_centres():
    sites = db.session.scalars(
        select(Site).where(Site.id.in_(select(Room.site_id).where(Room.active.is_(True)))).order_by(Site.name)
    ).all()
    return render_template("reservations/public/centres.html", sites=sites)


@bp.get("/reserver/<int:site_id>")
@public
def public_days(site_id):
    """The days with a free seat, each with what a resident can use: the rooms' workstations and
    the hours when places are left (never a sum of seats over slots)."""
    site = _public_site_or_404(site_id)
    today = clock.today()
    horizon = db.session.scalar(select(func.max(Room.days_ahead)).where(Room.site_id == site.id, Room.active.is_(True)))
    days = []
    if horizon is not None:
        period = slotlib.load_period(_public_rooms(site.id), today, today + timedelta(days=horizon))
        days = [
            (day, workstations, say_ranges([(s.astimezone(clock.PARIS).time(), e.astimezone(clock.PARIS).time()) for s, e in ranges]))
            for day, workstations, ranges in slotlib.bookable_days(period, clock.now())
        ]
    upcoming = db.session.scalar(
        select(func.count()).where(Workshop.site_id == site.id, ~Workshop.is_cancelled, Workshop.starts_at > clock.now())
    )
    return render_template(
        "reservations/public/days.html", site=site, days=days, has_rooms=horizon is not None, workshops=upcoming
    )


def _why_nothing(period, day, at):
    """Why a day shows no free time, in the words of times.html: (reason, detail)."""
    today = at.astimezone(clock.PARIS).date()
    closure = period.closure(day, None)
    if closure is not None:
        return "closed", closure.reason
    if day < today:
        return "past", None
    with_slots = [(room, slots) for room in period.rooms if (slots := period.slots(room))]
    if not with_slots:
        room_closures = [period.closure(day, room.id) for room in period.rooms]
        if room_closures and all(room_closures):
            return "closed", room_closures[0].reason
        return "no_hours", None
    if all(day > today + timedelta(days=room.days_ahead) for room, _slots in with_slots):
        return "not_yet", day - timedelta(days=max(room.days_ahead for room, _slots in with_slots))
    if all(slot.starts_at - timedelta(minutes=room.minutes_before) < at for room, slots in with_slots for slot in slots):
        return "over", None
    return "full", None


@bp.get("/reserver/<int:site_id>/<day>")
@public
def public_times(site_id, day):
    site = _public_site_or_404(site_id)
    day = parse_day(day)
    period = slotlib.load_period(_public_rooms(site.id), day, day)
    at = clock.now()
    rooms = []
    for room in period.rooms:
        free = [slot for slot in period.slots(room) if slot.free and slotlib.bookable(slot, room, at)]
        if free:
            rooms.append((room, free))
    why, detail = (None, None) if rooms else _why_nothing(period, day, at)
    return render_template("reservations/public/times.html", site=site, day=day, rooms=rooms, why=why, detail=detail)


def _slot_start(day, hhmm) -> datetime:
    if not re.fullmatch(r"[0-9]{4}", hhmm):  # ASCII digits: str.isdigit() also takes '²'
        abort(404)
    try:
        return slotlib.local_to_utc(day, time(int(hhmm[:2]), int(hhmm[2:])))
    except ValueError:
        abort(404)


@bp.route("/reserver/salle/<int:room_id>/<day>/<hhmm>", methods=["GET", "POST"])
@public
@booking_limit
def public_book_seat(room_id, day, hhmm):
    room = db.session.get(Room, room_id)
    if room is None or not room.active:
        abort(404)
    day = parse_day(day)
    starts_at = _slot_start(day, hhmm)
    form = BookingForm()
    outcome = None
    if form.validate_on_submit():
        book = consent.choosing(bookings.book_seat, form.parsed_contact, form.reminders.data, "booking form", room.site_id)
        outcome = attempt(book, room.id, starts_at, form.first_name.data, form.parsed_contact, form=form)
        if outcome:
            _booking, token = outcome.value
            flash(_("C'est réservé ! Votre place vous attend."), "success")
            return redirect(url_for("reservations.public_booking", token=token))
    slot = bookings.find_slot(room, starts_at)
    if slot is None and request.method == "GET":
        abort(404)
    return render_template(
        "reservations/public/book_seat.html", room=room, site=room.site, day=day, starts_at=starts_at, slot=slot, form=form,
        error=error_of(outcome),
    ), status_of(form, outcome)


@bp.get("/ateliers/centre/<int:site_id>")
@public
def public_workshops(site_id):
    site = _public_site_or_404(site_id)
    rows = db.session.execute(
        select(Workshop, workshops.confirmed_places())
        .where(Workshop.site_id == site.id, ~Workshop.is_cancelled, Workshop.starts_at > clock.now())
        .order_by(Workshop.starts_at)
        .limit(100)
    ).all()
    return render_template("reservations/public/workshops.html", site=site, rows=rows)


@bp.route("/ateliers/<int:workshop_id>/inscription", methods=["GET", "POST"])
@public
@booking_limit
def public_join_workshop(workshop_id):
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None:
        abort(404)
    form = BookingForm()
    outcome = None
    if form.validate_on_submit():
        join = consent.choosing(workshops.register, form.parsed_contact, form.reminders.data, "booking form", workshop.site_id)
        outcome = attempt(join, workshop.id, form.first_name.data, form.parsed_contact, form=form)
        if outcome:
            booking, token = outcome.value
            if booking.is_confirmed:
                flash(_("C'est fait ! Votre place à l'atelier est réservée."), "success")
            else:
                flash(_("L'atelier est complet. Vous êtes sur la liste d'attente."), "info")
            return redirect(url_for("reservations.public_booking", token=token))
    taken = workshops.confirmed_count(workshop.id)
    return render_template(
        "reservations/public/join_workshop.html", workshop=workshop, site=workshop.site, left=max(0, workshop.places - taken),
        waiting=workshops.waiting_count(workshop.id) if taken >= workshop.places else 0,
        form=form, error=error_of(outcome), started=workshop.starts_at <= clock.now(),
    ), status_of(form, outcome)


# --- the private link ---------------------------------------------------------------------------


def _booking_or_404(token) -> Booking:
    booking = ledger.find_by_token(token)
    if booking is None:
        abort(404, description="booking-token")
    return booking


@bp.errorhandler(404)
def _not_found(error):
    if getattr(error, "description", "") == "booking-token":
        return render_template("reservations/public/bad_token.html"), 404
    from core.security import error_page

    return error_page(error)


@bp.get("/ma-reservation/<token>")
@public
@token_limit
def public_booking(token):
    booking = _booking_or_404(token)
    position = workshops.waiting_position(booking)
    link = current_app.config["PUBLIC_BASE_URL"] + url_for("reservations.public_booking", token=token)
    return render_template(
        "reservations/public/booking.html", booking=booking, token=token, position=position, link=link,
        can_cancel=bookings.can_cancel(booking, clock.now()), held=booking_record(booking),
    )


@bp.get("/ma-reservation/<token>/agenda.ics")
@public
@token_limit
def public_booking_ics(token):
    booking = _booking_or_404(token)
    return calendar.ics_response(calendar.booking_calendar(booking), f"reservation-{booking.reference}.ics")


@bp.route("/ma-reservation/<token>/annuler", methods=["GET", "POST"])
@public
@token_limit
def public_cancel(token):
    booking = _booking_or_404(token)
    form = EmptyForm()
    outcome = None
    if form.validate_on_submit():
        outcome = attempt(bookings.cancel, booking.id, form=form)
        if outcome:
            flash(_("Votre réservation est annulée. La place est libérée pour quelqu'un d'autre."), "success")
            return redirect(url_for("reservations.public_booking", token=token))
    elif request.method == "GET" and not bookings.can_cancel(booking, clock.now()):
        return redirect(url_for("reservations.public_booking", token=token))
    return render_template(
        "reservations/public/cancel.html", booking=booking, token=token, form=form, error=error_of(outcome),
    ), status_of(None, outcome)


@bp.route("/ma-reservation/<token>/effacer", methods=["GET", "POST"])
@public
@token_limit
def public_erase(token):
    """A person who only booked online erases what is held with their contact (core/privacy/erasure.py)."""
    booking = _booking_or_404(token)
    form = EmptyForm()
    outcome = None
    if form.validate_on_submit():
        outcome = attempt(erasure.erase_own_bookings, booking, form=form)
        if outcome:
            flash(_("Vos données sont effacées : votre prénom et votre contact ne sont plus gardés."), "success")
            return redirect(url_for("reservations.public_booking", token=token))
    return render_template(
        "reservations/public/erase.html", booking=booking, token=token, form=form, error=error_of(outcome),
        erased=booking.contact_key.startswith(erasure.PSEUDONYM_PREFIX),
    ), status_of(None, outcome)


# --- the read-only feed of a room -----------------------------------------------------------


@bp.get("/salles/agenda/<feed_token>.ics")
@public
@token_limit
def room_feed(feed_token):
    room = db.session.scalar(select(Room).where(Room.feed_token == feed_token)) if len(feed_token) <= 64 else None
    if room is None or not hmac.compare_digest(room.feed_token.encode(), feed_token.encode()):
        abort(404)
    return calendar.ics_response(calendar.room_calendar(room), f"salle-{room.id}.ics")

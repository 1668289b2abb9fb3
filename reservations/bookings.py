"""Open-access seats: booking one (online or at the desk), cancelling any booking (by its private
link or by the staff), and noting at the arrival desk who came.

Shared pieces (errors, locks, history, references) are in ledger.py; workshop places in workshops.py.
"""
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from core import clock
from core.clock import PARIS
from core.events import announce, booking_confirmed
from core.extensions import db

from . import slots as slotlib
from .identity import Contact
from .ledger import (
    FullError,
    ReservationError,
    actor_id,
    cancelled,
    facts,
    insert_booking,
    lock_seat,
    lock_workshop,
    note_attendance,
    record,
    refuse_if_closed,
)
from .models import Attendance, Booking, BookingAction, BookingState, Room
from .workshops import promote_from_waiting_list

# --- who may do what -------------------------------------------------------------------------


def can_cancel(booking: Booking, at: datetime, staff: bool = False) -> bool:
    if booking.is_cancelled:
        return False
    if booking.is_workshop or not staff:
        return booking.starts_at > at
    return booking.ends_at > at  # at the desk, a seat can be given back until the slot ends


def can_mark_arrival(booking: Booking, at: datetime) -> bool:
    """Open-access seats: reception notes who came once the slot has begun (the reports count them as used)."""
    return booking.is_seat and booking.is_confirmed and booking.starts_at <= at


# --- booking a seat ----------------------------------------------------------------------------


def per_person_limit() -> int:
    return current_app.config.get("BOOKING_LIMIT_PER_PERSON", 2)


def find_slot(room: Room, starts_at: datetime) -> slotlib.Slot | None:
    """The slot of `room` starting at `starts_at`, with its current counts (a few queries)."""
    day = starts_at.astimezone(PARIS).date()
    period = slotlib.load_period(select(Room).where(Room.id == room.id), day, day)
    for slot in period.slots(period.rooms[0]) if period.rooms else []:
        if slot.starts_at == starts_at:
            return slot
    return None


def book_seat(room_id: int, starts_at: datetime, first_name: str, contact: Contact, actor=None) -> tuple[Booking, str]:
    """Book one workstation in an open-access slot. Returns the booking and its private token.

    `actor` is the staff member at the desk, or None for a resident booking online. At the desk
    the booking window does not apply (a walk-in may take the slot in progress).
    Announces booking_confirmed.
    """
    room = db.session.get(Room, room_id)
    if room is None or not room.active:
        raise ReservationError(_("Cette salle n'existe pas ou n'est plus ouverte à la réservation."))
    lock_seat(room.site_id, room.id, starts_at, contact.key)
    at = clock.now()
    staff = actor_id(actor) is not None
    refuse_if_closed(room, starts_at.astimezone(PARIS).date())
    slot = find_slot(room, starts_at)
    if slot is None:
        raise ReservationError(_("Ce créneau n'existe pas. Choisissez une heure dans la liste."))
    if slot.ends_at <= at or (not staff and slot.starts_at <= at):
        raise ReservationError(_("Ce créneau est déjà passé. Choisissez un autre moment."))
    if not staff and not slotlib.bookable(slot, room, at):
        if slot.starts_at - timedelta(minutes=room.minutes_before) < at:
            raise ReservationError(
                _("Il est trop tard pour réserver ce créneau en ligne. Venez directement à l'accueil ou choisissez un autre moment.")
            )
        raise ReservationError(
            _("On peut réserver au plus %(days)s jours à l'avance. Choisissez un jour plus proche.", days=room.days_ahead)
        )
    _check_per_person(room, slot, contact, at)
    if slot.free <= 0:
        raise FullError(_("Ce créneau est complet. Choisissez une autre heure."))
    booking, token = insert_booking(
        site_id=room.site_id,
        room_id=room.id,
        workshop_id=None,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        state=BookingState.confirmed,
        first_name=first_name,
        phone=contact.phone,
        email=contact.email,
        contact_key=contact.key,
        created_by_id=actor_id(actor),
    )
    record(booking, actor, BookingAction.booked, to_state=BookingState.confirmed)
    db.session.flush()
    announce(booking_confirmed, **facts(booking), by_staff=staff, token=token)  # the token: for the message's link, never logged
    return booking, token


def _check_per_person(room: Room, slot: slotlib.Slot, contact: Contact, at: datetime) -> None:
    """One seat per person per slot, and at most `per_person_limit()` seats to come at the site."""
    mine = (Booking.is_seat, Booking.is_confirmed, Booking.contact_key == contact.key)
    if db.session.scalar(select(Booking.id).where(*mine, Booking.room_id == room.id, Booking.starts_at == slot.starts_at)):
        raise ReservationError(_("Vous avez déjà une place sur ce créneau."))
    upcoming = db.session.scalar(select(func.count()).where(*mine, Booking.site_id == room.site_id, Booking.starts_at > at))
    if upcoming >= per_person_limit():
        raise ReservationError(
            ngettext(
                "Vous avez déjà %(num)s réservation à venir dans ce centre. C'est le maximum. Annulez-la pour en faire une autre.",
                "Vous avez déjà %(num)s réservations à venir dans ce centre. C'est le maximum. Annulez-en une pour en faire une autre.",
                upcoming,
            )
        )


# --- cancelling --------------------------------------------------------------------------------


def cancel(booking_id: int, actor=None) -> list[Booking]:
    """Cancel a booking (a seat, a workshop place or a waiting-list entry): by the person through
    the private link (actor None) or by the staff.

    Frees its place exactly once (the booking's row is locked, then its state read again: a second
    cancellation at the same instant waits, then finds it cancelled), and for a workshop promotes the
    first person waiting in the same transaction. Returns the promoted bookings.
    Announces booking_cancelled (and waiting_list_promoted for each promoted booking).
    """
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise ReservationError(_("Cette réservation n'existe pas."))
    workshop = lock_workshop(booking.workshop_id) if booking.workshop_id else None
    db.session.refresh(booking, with_for_update=True)
    at = clock.now()
    staff = actor_id(actor) is not None
    if booking.is_cancelled:
        raise ReservationError(_("Cette réservation est déjà annulée."))
    if not can_cancel(booking, at, staff=staff):
        if booking.is_workshop:
            raise ReservationError(_("L'atelier a déjà commencé : on ne peut plus annuler. Le personnel peut noter une absence."))
        raise ReservationError(_("Ce créneau a déjà commencé : on ne peut plus l'annuler."))
    previous = booking.state
    # Through the ORM, not an UPDATE statement: the reports' summary follows the booking's state
    # (reports/summary.py).
    booking.state = BookingState.cancelled
    booking.cancelled_at = at
    cancelled(booking, actor, previous, by="staff" if staff else "person")
    promoted = []
    if workshop is not None and previous is BookingState.confirmed:
        promoted = promote_from_waiting_list(
            workshop, actor, reason=_("Place libérée par l'annulation %(ref)s", ref=booking.reference)
        )
    db.session.flush()
    return promoted


# --- the arrival desk ----------------------------------------------------------------------------


def seats_of_the_day(site_id: int, day: date) -> list[Booking]:
    """The confirmed open-access seats of a site on a local day, in the order of the desk's list."""
    start, end = slotlib.day_bounds_utc(day, day)
    return db.session.scalars(
        select(Booking)
        .options(joinedload(Booking.room))
        .where(Booking.site_id == site_id, Booking.is_seat, Booking.is_confirmed, Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at, Booking.first_name, Booking.id)
    ).all()


def mark_arrival(booking_id: int, attendance: Attendance, actor) -> Booking:
    """An open-access seat: the person came (present) or did not (absent). Recorded in the history."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise ReservationError(_("Cette réservation n'existe pas."))
    if booking.is_workshop or not booking.is_confirmed:
        raise ReservationError(_("On note l'arrivée seulement pour une réservation de poste confirmée."))
    if attendance not in (Attendance.present, Attendance.absent):
        raise ReservationError(_("Indiquez si la personne est venue ou non."))
    if booking.starts_at > clock.now():
        raise ReservationError(_("L'arrivée se note quand le créneau a commencé."))
    return note_attendance(booking, attendance, actor)

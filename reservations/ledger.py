"""What every use case of the reservations domain shares: its error, who manages a site, the locks,
the history row, the event facts of a booking, references and private tokens, and the closure of a day.

The use cases themselves live in bookings.py (open-access seats, cancelling, arrivals),
workshops.py (workshops, registration, waiting list, attendance) and rooms.py (rooms, closures,
public holidays). They flush; the view commits (core.answers.attempt), and their events
(core/events.py) are delivered after that commit.

Every rule that spans rows runs under a lock taken first: the site row (seat bookings, workshop
creation and edits, closures: capacity, per-person limit and workshop overlap all depend on it) or
the workshop row (registrations, cancellations, promotion). On PostgreSQL the lock is SELECT … FOR
UPDATE; on SQLite every writing transaction already starts with BEGIN IMMEDIATE (core/db.py), which
serialises them. Each change writes a BookingEvent.
"""
import hashlib
import hmac
import secrets
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import clock
from core.db import is_unique_violation
from core.errors import DomainError
from core.events import announce, booking_cancelled
from core.extensions import db
from core.models import Site, User

from .identity import resident_for
from .models import Booking, BookingAction, BookingEvent, BookingState, Closure, Room, Workshop

REFERENCE_ALPHABET = "ACDEFHJKLMNPRTUVWXY34679"  # no 0/O, 1/I/L confusion, no 2/Z, 5/S, 8/B


class ReservationError(DomainError):
    status = 400


class FullError(ReservationError):
    """No place left: the "complet" answer."""

    status = 409


# --- who may do what -------------------------------------------------------------------------


def can_manage_site(user: User, site_id: int) -> bool:
    """Rooms, closures and workshops: managers of the site, and admins."""
    return bool(user and user.is_authenticated and user.is_manager and user.can_access_site(site_id))


def actor_id(actor) -> int | None:
    """The staff member's id; None for a resident on the public pages."""
    return getattr(actor, "id", None) if actor is not None and getattr(actor, "is_authenticated", False) else None


# --- locks and history -------------------------------------------------------------------------


def lock_site(site_id: int) -> Site:
    # FOR NO KEY UPDATE on PostgreSQL: it serialises the site's lockers all the same, but lets a
    # transaction holding a workshop's lock insert a booking (whose foreign key takes FOR KEY SHARE
    # on the site) — with FOR UPDATE, a closure or workshop edit waiting for that workshop deadlocked.
    site = db.session.scalar(
        select(Site).where(Site.id == site_id).with_for_update(key_share=True).execution_options(populate_existing=True)
    )
    if site is None:
        raise ReservationError(_("Ce centre n'existe pas."))
    return site


def lock_seat(site_id: int, room_id: int, starts_at: datetime, contact_key: str) -> None:
    """The lock of a seat booking. By default the site row (lock_site). With BOOKING_SEAT_LOCK = "slot"
    (an experiment measured by bench/load_booking.py), on PostgreSQL: the site row FOR SHARE — shared
    by seat bookings, excluded by lock_site (closures, workshop creation and edits) — then two
    transaction-level advisory locks, always in this order: the person at the site (their limit of
    seats to come spans every slot) and the slot (its capacity). SQLite serialises every writing
    transaction anyway (BEGIN IMMEDIATE)."""
    if current_app.config.get("BOOKING_SEAT_LOCK", "site") != "slot" or db.session.get_bind().dialect.name != "postgresql":
        lock_site(site_id)
        return
    if db.session.scalar(select(Site.id).where(Site.id == site_id).with_for_update(read=True)) is None:
        raise ReservationError(_("Ce centre n'existe pas."))
    for key in (f"person {site_id} {contact_key}", f"slot {room_id} {starts_at.timestamp():.0f}"):
        db.session.execute(select(func.pg_advisory_xact_lock(_advisory_key(key))))


def _advisory_key(name: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock; two names sharing a key only wait for each other."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_workshop(workshop_id: int) -> Workshop:
    workshop = db.session.scalar(
        select(Workshop).where(Workshop.id == workshop_id).with_for_update().execution_options(populate_existing=True)
    )
    if workshop is None:
        raise ReservationError(_("Cet atelier n'existe pas."))
    return workshop


def record(booking: Booking, actor, action: BookingAction, *, from_state=None, to_state=None, attendance=None, note=""):
    event = BookingEvent(
        booking=booking,
        site_id=booking.site_id,
        actor_id=actor_id(actor),
        action=action,
        from_state=from_state,
        to_state=to_state,
        attendance=attendance,
        note=note,
        at=clock.now(),
    )
    db.session.add(event)
    return event


def facts(booking: Booking) -> dict:
    """What every booking event says: which booking, where, when (plain values, core/events.py)."""
    return {"booking_id": booking.id, "site_id": booking.site_id, "starts_at": booking.starts_at}


def cancel_in_transaction(booking: Booking, actor, at: datetime, *, by: str, note: str = "", closure_id=None) -> None:
    """Cancel a booking whose row is already locked (its workshop's, or its site's lock is held):
    the state, the history row and the `booking_cancelled` event."""
    previous = booking.state
    booking.state = BookingState.cancelled
    booking.cancelled_at = at
    if closure_id is not None:
        booking.closure_id = closure_id
    cancelled(booking, actor, previous, by=by, note=note)


def cancelled(booking: Booking, actor, previous: BookingState, *, by: str, note: str = "") -> None:
    """The history row and the event of a cancellation written on `booking`; by: person, staff, closure."""
    record(booking, actor, BookingAction.cancelled, from_state=previous, to_state=BookingState.cancelled, note=note)
    announce(booking_cancelled, **facts(booking), by=by)


def note_attendance(booking: Booking, attendance, actor) -> Booking:
    """Write the mark (and its history row) when it changes: arrivals at a seat, workshop attendance."""
    if booking.attendance is not attendance:
        booking.attendance = attendance
        record(booking, actor, BookingAction.attendance, attendance=attendance)
    db.session.flush()
    return booking


# --- tokens and references -------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_by_token(token: str) -> Booking | None:
    if not token or len(token) > 64:
        return None
    booking = db.session.scalar(select(Booking).where(Booking.token_hash == hash_token(token)))
    if booking is None or not hmac.compare_digest(booking.token_hash, hash_token(token)):
        return None
    return booking


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _n in range(6))


def unused_reference() -> str:
    """A fresh reference that no booking holds yet, for inserts that bypass `insert_booking` (demo
    data): a draw repeats one in about a billion, which the unique index would refuse."""
    while True:
        reference = new_reference()
        if not _reference_taken(reference):
            return reference


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


def insert_booking(**fields) -> tuple[Booking, str]:
    """Insert with a fresh reference and token, linked to the resident of the site who has its contact
    (reservations/identity.py); a reference collision retries."""
    fields.setdefault("resident_id", resident_for(fields["site_id"], fields["contact_key"]))
    for _attempt in range(10):
        token = secrets.token_urlsafe(24)
        booking = Booking(reference=new_reference(), token_hash=hash_token(token), created_at=clock.now(), **fields)
        try:
            with db.session.begin_nested():
                db.session.add(booking)
                db.session.flush()
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            if _reference_taken(booking.reference):
                continue
            raise ReservationError(_("Vous avez déjà une réservation à ce moment-là.")) from exc
        return booking, token
    raise ReservationError(_("Impossible de créer la réservation ; réessayez."))


def _reference_taken(reference):
    return db.session.scalar(select(Booking.id).where(Booking.reference == reference)) is not None


# --- closed days -------------------------------------------------------------------------------


def closures_between(room: Room, first_day: date, last_day: date) -> list[Closure]:
    """The closures of the room (or of its whole site) that touch [first_day, last_day]."""
    return db.session.scalars(
        select(Closure).where(
            Closure.site_id == room.site_id,
            Closure.first_day <= last_day,
            Closure.last_day >= first_day,
            (Closure.room_id.is_(None)) | (Closure.room_id == room.id),
        ).order_by(Closure.id)
    ).all()


def closure_on(room: Room, day: date) -> Closure | None:
    return next(iter(closures_between(room, day, day)), None)


def refuse_if_closed(room: Room, day: date) -> None:
    closure = closure_on(room, day)
    if closure is not None:
        raise ReservationError(_("Le centre est fermé ce jour-là (%(reason)s).", reason=closure.reason))

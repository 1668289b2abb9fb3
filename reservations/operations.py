"""Rules of the reservations domain: booking a seat, joining a workshop, cancelling, promotion,
attendance, creating workshops, rooms and closures.

Operations flush; the request commits. Every rule that spans rows runs under a lock taken first:
the site row (seat bookings, workshop creation and edits: capacity, per-person limit and workshop
overlap all depend on it) or the workshop row (registrations, cancellations, promotion).
On PostgreSQL the lock is SELECT … FOR UPDATE; on SQLite every writing transaction already
starts with BEGIN IMMEDIATE (core/db.py), which serialises them.
Each change writes a BookingEvent. The messages of ReservationError are shown to the person.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core import clock
from core.clock import PARIS
from core.db import is_unique_violation
from core.extensions import db
from core.models import Site, User
from core.templating import french_date

from . import slots as slotlib
from .identity import Contact
from .models import (
    Attendance,
    Booking,
    BookingAction,
    BookingEvent,
    BookingState,
    Closure,
    OpeningHours,
    Room,
    Workshop,
)

REFERENCE_ALPHABET = "ACDEFHJKLMNPRTUVWXY34679"  # no 0/O, 1/I/L confusion, no 2/Z, 5/S, 8/B
MAX_WORKSHOP_HOURS = 12


class ReservationError(Exception):
    """A rule was broken; the message is the French sentence shown to the person."""


class FullError(ReservationError):
    """No place left: the "complet" answer."""


# --- who may do what -------------------------------------------------------------------------


def can_manage_site(user: User, site_id: int) -> bool:
    """Rooms, closures and workshops: managers of the site, and admins."""
    return bool(user and user.is_authenticated and user.is_manager and user.can_access_site(site_id))


def can_work_at(user: User, site_id: int) -> bool:
    """Desk bookings, registrants, attendance: every staff member of the site."""
    return bool(user and user.is_authenticated and user.can_access_site(site_id))


def can_cancel(booking: Booking, at: datetime, staff: bool = False) -> bool:
    if booking.is_cancelled:
        return False
    if booking.is_workshop or not staff:
        return booking.starts_at > at
    return booking.ends_at > at  # at the desk, a seat can be given back until the slot ends


def can_mark_attendance(booking: Booking, at: datetime) -> bool:
    return booking.is_workshop and booking.is_confirmed and booking.starts_at <= at


def can_mark_arrival(booking: Booking, at: datetime) -> bool:
    """Open-access seats: reception notes who came once the slot has begun (the reports count them as used)."""
    return not booking.is_workshop and booking.is_confirmed and booking.starts_at <= at


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
    """A fresh reference that no booking holds yet, for inserts that bypass `_insert_booking` (demo
    data): a draw repeats one in about a billion, which the unique index would refuse."""
    while True:
        reference = new_reference()
        if not _reference_taken(reference):
            return reference


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


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


def lock_workshop(workshop_id: int) -> Workshop:
    workshop = db.session.scalar(
        select(Workshop).where(Workshop.id == workshop_id).with_for_update().execution_options(populate_existing=True)
    )
    if workshop is None:
        raise ReservationError(_("Cet atelier n'existe pas."))
    return workshop


def _actor_id(actor):
    return getattr(actor, "id", None) if actor is not None and getattr(actor, "is_authenticated", False) else None


def record(booking: Booking, actor, action: BookingAction, *, from_state=None, to_state=None, attendance=None, note=""):
    event = BookingEvent(
        booking=booking,
        site_id=booking.site_id,
        actor_id=_actor_id(actor),
        action=action,
        from_state=from_state,
        to_state=to_state,
        attendance=attendance,
        note=note,
        at=clock.now(),
    )
    db.session.add(event)
    return event


def _insert_booking(**fields) -> tuple[Booking, str]:
    """Insert with a fresh reference and token; a reference collision retries."""
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


# --- open-access seats -------------------------------------------------------------------------


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


def closure_on(room: Room, day: date) -> Closure | None:
    return db.session.scalar(
        select(Closure).where(
            Closure.site_id == room.site_id,
            Closure.first_day <= day,
            Closure.last_day >= day,
            (Closure.room_id.is_(None)) | (Closure.room_id == room.id),
        )
    )


def book_seat(room_id: int, starts_at: datetime, first_name: str, contact: Contact, actor=None) -> tuple[Booking, str]:
    """Book one workstation in an open-access slot. Returns the booking and its private token.

    `actor` is the staff member at the desk, or None for a resident booking online. At the desk
    the booking window does not apply (a walk-in may take the slot in progress).
    """
    room = db.session.get(Room, room_id)
    if room is None or not room.active:
        raise ReservationError(_("Cette salle n'existe pas ou n'est plus ouverte à la réservation."))
    lock_site(room.site_id)
    at = clock.now()
    staff = _actor_id(actor) is not None
    local_day = starts_at.astimezone(PARIS).date()
    closure = closure_on(room, local_day)
    if closure is not None:
        raise ReservationError(_("Le centre est fermé ce jour-là (%(reason)s).", reason=closure.reason))
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
    same_slot = db.session.scalar(
        select(Booking.id).where(
            Booking.room_id == room.id,
            Booking.workshop_id.is_(None),
            Booking.state == BookingState.confirmed,
            Booking.starts_at == slot.starts_at,
            Booking.contact_key == contact.key,
        )
    )
    if same_slot:
        raise ReservationError(_("Vous avez déjà une place sur ce créneau."))
    limit = per_person_limit()
    upcoming = db.session.scalar(
        select(func.count()).where(
            Booking.site_id == room.site_id,
            Booking.contact_key == contact.key,
            Booking.workshop_id.is_(None),
            Booking.state == BookingState.confirmed,
            Booking.starts_at > at,
        )
    )
    if upcoming >= limit:
        raise ReservationError(
            ngettext("Vous avez déjà %(num)s réservation à venir dans ce centre. C'est le maximum. Annulez-la pour en faire une autre.",
                     "Vous avez déjà %(num)s réservations à venir dans ce centre. C'est le maximum. Annulez-en une pour en faire une autre.", upcoming)
        )
    if slot.free <= 0:
        raise FullError(_("Ce créneau est complet. Choisissez une autre heure."))
    booking, token = _insert_booking(
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
        created_by_id=_actor_id(actor),
    )
    record(booking, actor, BookingAction.booked, to_state=BookingState.confirmed)
    db.session.flush()
    return booking, token


# --- workshops: registration, waiting list -----------------------------------------------------


def confirmed_count(workshop_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Booking.workshop_id == workshop_id, Booking.state == BookingState.confirmed)
    )


def waiting_count(workshop_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Booking.workshop_id == workshop_id, Booking.state == BookingState.waiting)
    )


def waiting_position(booking: Booking) -> int | None:
    """1 for the first person waiting."""
    if not booking.is_waiting:
        return None
    ahead = db.session.scalar(
        select(func.count()).where(
            Booking.workshop_id == booking.workshop_id,
            Booking.state == BookingState.waiting,
            Booking.id < booking.id,
        )
    )
    return ahead + 1


def register(workshop_id: int, first_name: str, contact: Contact, actor=None) -> tuple[Booking, str]:
    """A place in a workshop, or a place on its waiting list when it is full."""
    workshop = lock_workshop(workshop_id)
    at = clock.now()
    staff = _actor_id(actor) is not None
    if workshop.is_cancelled:
        raise ReservationError(_("Cet atelier est annulé."))
    if workshop.ends_at <= at or (not staff and workshop.starts_at <= at):
        raise ReservationError(_("Cet atelier a déjà commencé. On ne peut plus s'inscrire."))
    closure = closure_on(workshop.room, workshop.starts_at.astimezone(PARIS).date())
    if closure is not None:
        raise ReservationError(_("Le centre est fermé ce jour-là (%(reason)s).", reason=closure.reason))
    already = db.session.scalar(
        select(Booking.id).where(
            Booking.workshop_id == workshop.id,
            Booking.contact_key == contact.key,
            Booking.state.in_([BookingState.confirmed, BookingState.waiting]),
        )
    )
    if already:
        raise ReservationError(_("Vous avez déjà une place à cet atelier, ou vous êtes sur sa liste d'attente."))
    state = BookingState.confirmed if confirmed_count(workshop.id) < workshop.places else BookingState.waiting
    booking, token = _insert_booking(
        site_id=workshop.site_id,
        room_id=workshop.room_id,
        workshop_id=workshop.id,
        starts_at=workshop.starts_at,
        ends_at=workshop.ends_at,
        state=state,
        first_name=first_name,
        phone=contact.phone,
        email=contact.email,
        contact_key=contact.key,
        created_by_id=_actor_id(actor),
    )
    action = BookingAction.booked if state is BookingState.confirmed else BookingAction.joined_waiting_list
    record(booking, actor, action, to_state=state)
    db.session.flush()
    return booking, token


def promote_from_waiting_list(workshop: Workshop, actor=None, reason: str = "") -> list[Booking]:
    """Give free places to the first people waiting. The caller holds the workshop's lock."""
    at = clock.now()
    if workshop.is_cancelled or workshop.starts_at <= at:
        return []
    if closure_on(workshop.room, workshop.starts_at.astimezone(PARIS).date()) is not None:
        return []  # nobody is called in for a day the centre is closed
    free = workshop.places - confirmed_count(workshop.id)
    if free <= 0:
        return []
    waiting = db.session.scalars(
        select(Booking)
        .where(Booking.workshop_id == workshop.id, Booking.state == BookingState.waiting)
        .order_by(Booking.id)
        .limit(free)
    ).all()
    for booking in waiting:
        booking.state = BookingState.confirmed
        booking.promoted_at = at
        record(booking, actor, BookingAction.promoted, from_state=BookingState.waiting, to_state=BookingState.confirmed, note=reason)
    db.session.flush()
    return list(waiting)


def cancel(booking_id: int, actor=None) -> list[Booking]:
    """Cancel a booking (a seat, a workshop place or a waiting-list entry).

    Frees its place exactly once (a conditional update), and for a workshop promotes the first
    person waiting in the same transaction. Returns the promoted bookings.
    """
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise ReservationError(_("Cette réservation n'existe pas."))
    workshop = lock_workshop(booking.workshop_id) if booking.workshop_id else None
    db.session.refresh(booking)
    at = clock.now()
    staff = _actor_id(actor) is not None
    if booking.is_cancelled:
        raise ReservationError(_("Cette réservation est déjà annulée."))
    if not can_cancel(booking, at, staff=staff):
        if booking.is_workshop:
            raise ReservationError(_("L'atelier a déjà commencé : on ne peut plus annuler. Le personnel peut noter une absence."))
        raise ReservationError(_("Ce créneau a déjà commencé : on ne peut plus l'annuler."))
    previous = booking.state
    changed = db.session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.state == previous)
        .values(state=BookingState.cancelled, cancelled_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise ReservationError(_("Cette réservation est déjà annulée."))
    db.session.refresh(booking)
    record(booking, actor, BookingAction.cancelled, from_state=previous, to_state=BookingState.cancelled)
    promoted = []
    if workshop is not None and previous is BookingState.confirmed:
        promoted = promote_from_waiting_list(
            workshop, actor, reason=_("Place libérée par l'annulation %(ref)s", ref=booking.reference)
        )
    db.session.flush()
    return promoted


def mark_attendance(booking_id: int, attendance: Attendance, actor) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise ReservationError(_("Cette réservation n'existe pas."))
    if not booking.is_workshop or not booking.is_confirmed:
        raise ReservationError(_("On note la présence seulement des personnes inscrites à un atelier."))
    if booking.starts_at > clock.now():
        raise ReservationError(_("La présence se note quand l'atelier a commencé."))
    if booking.attendance is not attendance:
        booking.attendance = attendance
        record(booking, actor, BookingAction.attendance, attendance=attendance)
    db.session.flush()
    return booking


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
    if booking.attendance is not attendance:
        booking.attendance = attendance
        record(booking, actor, BookingAction.attendance, attendance=attendance)
    db.session.flush()
    return booking


# --- workshops: creation and edits ---------------------------------------------------------------


@dataclass
class WorkshopData:
    title: str
    description: str
    level: object
    facilitator: str
    places: int


def _max_seat_bookings(room_id: int, starts_at: datetime, ends_at: datetime) -> int:
    """The most open-access seats booked at the same moment during [starts_at, ends_at)."""
    rows = db.session.execute(
        select(Booking.starts_at, Booking.ends_at).where(
            Booking.room_id == room_id,
            Booking.workshop_id.is_(None),
            Booking.state == BookingState.confirmed,
            Booking.starts_at < ends_at,
            Booking.ends_at > starts_at,
        )
    ).all()
    instants = {max(start, starts_at) for start, _end in rows}
    return max((sum(1 for s, e in rows if s <= t < e) for t in instants), default=0)


def _other_workshop(room_id: int, starts_at: datetime, ends_at: datetime, except_id=None) -> Workshop | None:
    query = select(Workshop).where(
        Workshop.room_id == room_id,
        Workshop.cancelled_at.is_(None),
        Workshop.starts_at < ends_at,
        Workshop.ends_at > starts_at,
    )
    if except_id is not None:
        query = query.where(Workshop.id != except_id)
    return db.session.scalars(query.limit(1)).first()


def _when(day: date) -> str:
    return french_date(day, "EEEE d MMMM")


class CreatedWorkshops(list):
    """The workshops created, and the closed days skipped: [(day, closure reason)]."""

    def __init__(self, workshops=(), skipped=()):
        super().__init__(workshops)
        self.skipped = list(skipped)


def _closures_between(room: Room, first_day: date, last_day: date) -> list[Closure]:
    return db.session.scalars(
        select(Closure).where(
            Closure.site_id == room.site_id,
            Closure.first_day <= last_day,
            Closure.last_day >= first_day,
            (Closure.room_id.is_(None)) | (Closure.room_id == room.id),
        )
    ).all()


def create_workshops(actor, room: Room, data: WorkshopData, day: date, starts: time, ends: time, repeat_weeks: int = 0) -> CreatedWorkshops:
    """One workshop, or one per week for repeat_weeks more weeks: all or nothing, except that the
    weeks falling on a closure are skipped (listed in the result's `skipped`)."""
    if not can_manage_site(actor, room.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent créer un atelier."))
    lock_site(room.site_id)
    room = db.session.get(Room, room.id, populate_existing=True)
    if data.places > room.workstations:
        raise ReservationError(ngettext("La salle a %(num)s poste : pas plus de %(num)s place.", "La salle a %(num)s postes : pas plus de %(num)s places.", room.workstations))
    at = clock.now()
    closures = _closures_between(room, day, day + timedelta(weeks=repeat_weeks))
    occurrences = []
    skipped = []
    for week in range(repeat_weeks + 1):
        local_day = day + timedelta(weeks=week)
        closure = slotlib.closure_for(closures, local_day, room.id)
        if closure is not None:
            skipped.append((local_day, closure.reason))
            continue
        starts_at = slotlib.local_to_utc(local_day, starts)
        ends_at = slotlib.local_to_utc(local_day, ends)
        if ends_at <= starts_at:
            raise ReservationError(_("L'heure de fin doit être après l'heure de début."))
        if ends_at - starts_at > timedelta(hours=MAX_WORKSHOP_HOURS):
            raise ReservationError(_("Un atelier dure au plus %(n)s heures.", n=MAX_WORKSHOP_HOURS))
        if starts_at <= at:
            raise ReservationError(_("Le %(day)s est déjà passé.", day=_when(local_day)))
        other = _other_workshop(room.id, starts_at, ends_at)
        if other is not None:
            raise ReservationError(
                _("Le %(day)s, la salle a déjà l'atelier « %(title)s » à ce moment-là. Rien n'a été créé.",
                  day=_when(local_day), title=other.title)
            )
        seats = _max_seat_bookings(room.id, starts_at, ends_at)
        if seats + data.places > room.workstations:
            raise ReservationError(
                _("Le %(day)s, %(seats)s postes sont déjà réservés en accès libre à ce moment-là : "
                  "au plus %(left)s places pour l'atelier. Rien n'a été créé.",
                  day=_when(local_day), seats=seats, left=max(0, room.workstations - seats))
            )
        occurrences.append((starts_at, ends_at))
    if not occurrences:
        local_day, reason = skipped[0]
        raise ReservationError(
            _("Le %(day)s, le centre est fermé (%(reason)s). Choisissez un autre jour. Rien n'a été créé.",
              day=_when(local_day), reason=reason)
        )
    workshops = CreatedWorkshops(skipped=skipped)
    for starts_at, ends_at in occurrences:
        workshop = Workshop(
            site_id=room.site_id,
            room_id=room.id,
            title=data.title,
            description=data.description,
            level=data.level,
            facilitator=data.facilitator,
            starts_at=starts_at,
            ends_at=ends_at,
            places=data.places,
            created_by_id=_actor_id(actor),
            created_at=at,
        )
        db.session.add(workshop)
        workshops.append(workshop)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the exclusion constraint on PostgreSQL: a backstop
        raise ReservationError(_("La salle a déjà un atelier à ce moment-là. Rien n'a été créé.")) from exc
    if len(workshops) > 1:
        for workshop in workshops:
            workshop.series_id = workshops[0].id
        db.session.flush()
    return workshops


def update_workshop(actor, workshop_id: int, data: WorkshopData) -> list[Booking]:
    """Edit the words and the number of places; more places promote people waiting."""
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or not can_manage_site(actor, workshop.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent modifier cet atelier."))
    lock_site(workshop.site_id)
    workshop = lock_workshop(workshop_id)
    if workshop.is_cancelled:
        raise ReservationError(_("Cet atelier est annulé."))
    room = workshop.room
    if data.places > room.workstations:
        raise ReservationError(ngettext("La salle a %(num)s poste : pas plus de %(num)s place.", "La salle a %(num)s postes : pas plus de %(num)s places.", room.workstations))
    taken = confirmed_count(workshop.id)
    if data.places < taken:
        raise ReservationError(
            ngettext("%(num)s personne est déjà inscrite : gardez au moins %(num)s place.",
                     "%(num)s personnes sont déjà inscrites : gardez au moins %(num)s places.", taken)
        )
    seats = _max_seat_bookings(room.id, workshop.starts_at, workshop.ends_at)
    if data.places > workshop.places and seats + data.places > room.workstations:
        raise ReservationError(
            _("%(seats)s postes sont réservés en accès libre à ce moment-là : au plus %(left)s places.",
              seats=seats, left=room.workstations - seats)
        )
    for name in ("title", "description", "level", "facilitator", "places"):
        setattr(workshop, name, getattr(data, name))
    db.session.flush()
    return promote_from_waiting_list(workshop, actor, reason=_("Places ajoutées à l'atelier"))


def cancel_workshop(actor, workshop_id: int) -> int:
    """Cancel a workshop and every registration to it. Returns how many people were registered."""
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or not can_manage_site(actor, workshop.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent annuler cet atelier."))
    workshop = lock_workshop(workshop_id)
    at = clock.now()
    if workshop.is_cancelled:
        raise ReservationError(_("Cet atelier est déjà annulé."))
    if workshop.starts_at <= at:
        raise ReservationError(_("L'atelier a déjà commencé : on ne peut plus l'annuler."))
    workshop.cancelled_at = at
    active = db.session.scalars(
        select(Booking).where(Booking.workshop_id == workshop.id, Booking.state.in_([BookingState.confirmed, BookingState.waiting]))
    ).all()
    for booking in active:
        previous = booking.state
        booking.state = BookingState.cancelled
        booking.cancelled_at = at
        record(booking, actor, BookingAction.cancelled, from_state=previous, to_state=BookingState.cancelled,
               note=_("Atelier annulé"))
    db.session.flush()
    return len(active)


# --- rooms and closures ---------------------------------------------------------------------------


def save_room(actor, room: Room, *, site_id: int, name: str, workstations: int, notes: str, slot_minutes: int,
              days_ahead: int, minutes_before: int, hours: list[tuple[int, time, time]], active: bool = True) -> Room:
    if not can_manage_site(actor, site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent gérer ses salles."))
    duplicate = db.session.scalar(
        select(Room.id).where(Room.site_id == site_id, Room.name == name, Room.id != (room.id or 0))
    )
    if duplicate:
        raise ReservationError(_("Une salle porte déjà ce nom dans ce centre."))
    if room.id is None:
        room.feed_token = new_feed_token()
        room.site_id = site_id
        db.session.add(room)
    room.name = name
    room.workstations = workstations
    room.notes = notes
    room.slot_minutes = slot_minutes
    room.days_ahead = days_ahead
    room.minutes_before = minutes_before
    room.active = active
    room.hours = [OpeningHours(weekday=weekday, starts=starts, ends=ends) for weekday, starts, ends in hours]
    db.session.flush()
    return room


def regenerate_feed_token(actor, room: Room) -> str:
    if not can_manage_site(actor, room.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent changer ce lien."))
    room.feed_token = new_feed_token()
    db.session.flush()
    return room.feed_token


@dataclass
class ClosureImpact:
    """What a closure cancels: the workshops starting during it, their places and waiting lists,
    and the open-access seats booked during it (not yet started)."""

    workshops: list
    registrations: list
    seats: list

    @property
    def bookings(self) -> list:
        return self.seats + self.registrations

    @property
    def is_empty(self) -> bool:
        return not (self.workshops or self.registrations or self.seats)

    @property
    def fingerprint(self) -> str:
        """Identifies what the staff saw on the confirmation page; any change gives another value."""
        parts = [f"w{w.id}" for w in sorted(self.workshops, key=lambda w: w.id)]
        parts += [f"b{b.id}{b.state.value[0]}" for b in sorted(self.bookings, key=lambda b: b.id)]
        return hashlib.sha256(",".join(parts).encode()).hexdigest()[:32]


class ClosureNeedsConfirmation(ReservationError):
    """The closure would cancel bookings or workshops the staff has not confirmed (or not these)."""


def closure_impact(site_id: int, room_id: int | None, first_day: date, last_day: date) -> ClosureImpact:
    """Three queries, whatever the number of bookings."""
    start, end = slotlib.day_bounds_utc(first_day, last_day)
    at = clock.now()
    query = select(Workshop).where(
        Workshop.site_id == site_id, Workshop.cancelled_at.is_(None), Workshop.starts_at > at,
        Workshop.starts_at >= start, Workshop.starts_at < end,
    )
    seats_query = select(Booking).where(
        Booking.site_id == site_id, Booking.workshop_id.is_(None), Booking.state == BookingState.confirmed,
        Booking.starts_at > at, Booking.starts_at >= start, Booking.starts_at < end,
    )
    if room_id is not None:
        query = query.where(Workshop.room_id == room_id)
        seats_query = seats_query.where(Booking.room_id == room_id)
    workshops = db.session.scalars(query.options(selectinload(Workshop.room)).order_by(Workshop.starts_at, Workshop.id)).all()
    registrations = db.session.scalars(
        select(Booking)
        .where(Booking.workshop_id.in_([w.id for w in workshops]), Booking.state.in_([BookingState.confirmed, BookingState.waiting]))
        .options(selectinload(Booking.workshop))
        .order_by(Booking.starts_at, Booking.id)
    ).all() if workshops else []
    seats = db.session.scalars(seats_query.options(selectinload(Booking.room)).order_by(Booking.starts_at, Booking.id)).all()
    return ClosureImpact(list(workshops), list(registrations), list(seats))


def add_closure(actor, site_id: int, room_id: int | None, first_day: date, last_day: date, reason: str,
                *, confirmed: str | None = None) -> tuple[Closure, list[Booking]]:
    """Close a site (or one room) for some days, cancelling what was booked during them.

    When the closure cancels something, `confirmed` must be the fingerprint of the ClosureImpact the
    staff saw: the impact is computed again here, under the locks, and any difference (a booking
    made or cancelled since the preview) raises ClosureNeedsConfirmation and changes nothing.
    Cancelled bookings keep the closure (the desk's list of people to call) and a history row;
    nobody is promoted from a waiting list, since the workshop itself is cancelled.
    Returns the closure and the cancelled bookings.
    """
    if not can_manage_site(actor, site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent ajouter une fermeture."))
    if last_day < first_day:
        raise ReservationError(_("Le dernier jour doit être après le premier jour."))
    lock_site(site_id)  # no seat booked nor workshop created meanwhile
    for workshop in closure_impact(site_id, room_id, first_day, last_day).workshops:
        lock_workshop(workshop.id)  # nor a registration to them
    impact = closure_impact(site_id, room_id, first_day, last_day)
    if not impact.is_empty and confirmed != impact.fingerprint:
        raise ClosureNeedsConfirmation(
            _("Cette fermeture annule des réservations. Vérifiez la liste, puis confirmez.") if not confirmed else
            _("Les réservations ont changé depuis l'affichage de la liste. Vérifiez la nouvelle liste, puis confirmez.")
        )
    at = clock.now()
    closure = Closure(site_id=site_id, room_id=room_id, first_day=first_day, last_day=last_day, reason=reason, created_at=at)
    db.session.add(closure)
    db.session.flush()
    _cancel_for_closure(closure, impact, actor, at)
    return closure, impact.bookings


def _cancel_for_closure(closure: Closure, impact: ClosureImpact, actor, at: datetime) -> None:
    note = _("Fermeture : %(reason)s", reason=closure.reason)
    for workshop in impact.workshops:
        workshop.cancelled_at = at
    for booking in impact.bookings:
        previous = booking.state
        booking.state = BookingState.cancelled
        booking.cancelled_at = at
        booking.closure_id = closure.id
        record(booking, actor, BookingAction.cancelled, from_state=previous, to_state=BookingState.cancelled, note=note)
    db.session.flush()
    tell_closure_cancellations(closure, impact.bookings)


def tell_closure_cancellations(closure: Closure, bookings: list[Booking]) -> None:
    """THE hook for telling residents that a closure cancelled their booking (PRODUCT.md §4.8).

    Called once per closure, inside the transaction that cancels the bookings, after they are
    flushed: a message recorded here (an outbox row) is committed with the cancellation or rolled
    back with it, and the sender delivers it after the commit. Until the messages exist, the desk
    calls people from the closure's list (reservations.closure_calls).
    """


def french_public_holidays(year: int) -> list[tuple[date, str]]:
    """Public holidays in metropolitan France (Easter by the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    easter = date(year, month, day)
    return sorted(
        [
            (date(year, 1, 1), _("Jour de l'an")),
            (easter + timedelta(days=1), _("Lundi de Pâques")),
            (date(year, 5, 1), _("Fête du Travail")),
            (date(year, 5, 8), _("Victoire 1945")),
            (easter + timedelta(days=39), _("Ascension")),
            (easter + timedelta(days=50), _("Lundi de Pentecôte")),
            (date(year, 7, 14), _("Fête nationale")),
            (date(year, 8, 15), _("Assomption")),
            (date(year, 11, 1), _("Toussaint")),
            (date(year, 11, 11), _("Armistice 1918")),
            (date(year, 12, 25), _("Noël")),
        ]
    )


def add_public_holidays(actor, site_id: int, year: int) -> int:
    """Closures of the whole site for each public holiday of the year; already-known days are skipped."""
    if not can_manage_site(actor, site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent ajouter une fermeture."))
    holidays = french_public_holidays(year)
    existing = set(
        db.session.scalars(
            select(Closure.first_day).where(
                Closure.site_id == site_id,
                Closure.room_id.is_(None),
                Closure.first_day == Closure.last_day,
                Closure.first_day.in_([day for day, _name in holidays]),
            )
        )
    )
    lock_site(site_id)
    added = 0
    for day, name in holidays:
        if day not in existing:
            closure = Closure(site_id=site_id, room_id=None, first_day=day, last_day=day, reason=name, created_at=clock.now())
            db.session.add(closure)
            db.session.flush()
            # A public holiday is known long in advance: what was booked on it is cancelled all the same.
            impact = closure_impact(site_id, None, day, day)
            for workshop in impact.workshops:
                lock_workshop(workshop.id)
            _cancel_for_closure(closure, closure_impact(site_id, None, day, day), actor, clock.now())
            added += 1
    db.session.flush()
    return added


def delete_closure(actor, closure: Closure) -> None:
    if not can_manage_site(actor, closure.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent retirer une fermeture."))
    db.session.delete(closure)
    db.session.flush()

"""Workshops: creating them (with weekly repetition), editing and cancelling them, registering
(online or at the desk) with a waiting list and its promotion, and noting attendance.

Shared pieces (errors, locks, history, references) are in ledger.py.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import clock
from core.clock import PARIS
from core.events import announce, booking_confirmed, waiting_list_joined, waiting_list_promoted
from core.extensions import db
from core.templating import french_date

from . import slots as slotlib
from .identity import Contact
from .ledger import (
    ReservationError,
    actor_id,
    can_manage_site,
    cancel_in_transaction,
    closure_on,
    closures_between,
    facts,
    insert_booking,
    lock_site,
    lock_workshop,
    note_attendance,
    record,
    refuse_if_closed,
)
from .models import Attendance, Booking, BookingAction, BookingState, Level, Room, Workshop

MAX_WORKSHOP_HOURS = 12


# --- counts --------------------------------------------------------------------------------------


def confirmed_count(workshop_id: int) -> int:
    return db.session.scalar(select(func.count()).where(Booking.workshop_id == workshop_id, Booking.is_confirmed))


def waiting_count(workshop_id: int) -> int:
    return db.session.scalar(select(func.count()).where(Booking.workshop_id == workshop_id, Booking.is_waiting))


def counts_by_workshop(workshop_ids, state_test) -> dict:
    """{workshop_id: how many bookings pass `state_test`} (Booking.is_confirmed, Booking.is_waiting) in one query."""
    if not workshop_ids:
        return {}
    return dict(
        db.session.execute(
            select(Booking.workshop_id, func.count())
            .where(Booking.workshop_id.in_(workshop_ids), state_test)
            .group_by(Booking.workshop_id)
        ).all()
    )


def confirmed_places():
    """A column for a query of workshops: the confirmed places of each one (a correlated count)."""
    return (
        select(func.count()).where(Booking.workshop_id == Workshop.id, Booking.is_confirmed)
        .correlate(Workshop).scalar_subquery()
    )


def waiting_position(booking: Booking) -> int | None:
    """1 for the first person waiting."""
    if not booking.is_waiting:
        return None
    ahead = db.session.scalar(
        select(func.count()).where(Booking.workshop_id == booking.workshop_id, Booking.is_waiting, Booking.id < booking.id)
    )
    return ahead + 1


# --- registration and the waiting list -----------------------------------------------------------


def register(workshop_id: int, first_name: str, contact: Contact, actor=None) -> tuple[Booking, str]:
    """A place in a workshop, or a place on its waiting list when it is full (online, or at the desk
    when `actor` is a staff member). Announces booking_confirmed or waiting_list_joined."""
    workshop = lock_workshop(workshop_id)
    at = clock.now()
    staff = actor_id(actor) is not None
    if workshop.is_cancelled:
        raise ReservationError(_("Cet atelier est annulé."))
    if workshop.ends_at <= at or (not staff and workshop.starts_at <= at):
        raise ReservationError(_("Cet atelier a déjà commencé. On ne peut plus s'inscrire."))
    refuse_if_closed(workshop.room, workshop.starts_at.astimezone(PARIS).date())
    already = db.session.scalar(
        select(Booking.id).where(Booking.workshop_id == workshop.id, Booking.contact_key == contact.key, Booking.is_active)
    )
    if already:
        raise ReservationError(_("Vous avez déjà une place à cet atelier, ou vous êtes sur sa liste d'attente."))
    state = BookingState.confirmed if confirmed_count(workshop.id) < workshop.places else BookingState.waiting
    booking, token = insert_booking(
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
        created_by_id=actor_id(actor),
    )
    action = BookingAction.booked if state is BookingState.confirmed else BookingAction.joined_waiting_list
    record(booking, actor, action, to_state=state)
    db.session.flush()
    # The raw token goes to the in-transaction writer of messages (its link); never logged.
    announce(booking_confirmed if state is BookingState.confirmed else waiting_list_joined, **facts(booking), by_staff=staff,
             token=token)
    return booking, token


def promote_from_waiting_list(workshop: Workshop, actor=None, reason: str = "") -> list[Booking]:
    """Give free places to the first people waiting. The caller holds the workshop's lock.
    Announces waiting_list_promoted for each."""
    at = clock.now()
    if workshop.is_cancelled or workshop.starts_at <= at:
        return []
    if closure_on(workshop.room, workshop.starts_at.astimezone(PARIS).date()) is not None:
        return []  # nobody is called in for a day the centre is closed
    free = workshop.places - confirmed_count(workshop.id)
    if free <= 0:
        return []
    waiting = db.session.scalars(
        select(Booking).where(Booking.workshop_id == workshop.id, Booking.is_waiting).order_by(Booking.id).limit(free)
    ).all()
    for booking in waiting:
        booking.state = BookingState.confirmed
        booking.promoted_at = at
        record(booking, actor, BookingAction.promoted, from_state=BookingState.waiting, to_state=BookingState.confirmed, note=reason)
        announce(waiting_list_promoted, **facts(booking))
    db.session.flush()
    return list(waiting)


def mark_attendance(booking_id: int, attendance: Attendance, actor) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise ReservationError(_("Cette réservation n'existe pas."))
    if not booking.is_workshop or not booking.is_confirmed:
        raise ReservationError(_("On note la présence seulement des personnes inscrites à un atelier."))
    if booking.starts_at > clock.now():
        raise ReservationError(_("La présence se note quand l'atelier a commencé."))
    return note_attendance(booking, attendance, actor)


# --- creation and edits ----------------------------------------------------------------------------


@dataclass
class WorkshopData:
    title: str
    description: str
    level: Level
    facilitator: str
    places: int

    @classmethod
    def from_form(cls, form) -> "WorkshopData":
        return cls(
            title=form.title.data.strip(), description=(form.description.data or "").strip(), level=Level(form.level.data),
            facilitator=(form.facilitator.data or "").strip(), places=form.places.data,
        )


def _max_seat_bookings(room_id: int, starts_at: datetime, ends_at: datetime) -> int:
    """The most open-access seats booked at the same moment during [starts_at, ends_at)."""
    rows = db.session.execute(
        select(Booking.starts_at, Booking.ends_at).where(
            Booking.room_id == room_id,
            Booking.is_seat,
            Booking.is_confirmed,
            Booking.starts_at < ends_at,
            Booking.ends_at > starts_at,
        )
    ).all()
    instants = {max(start, starts_at) for start, _end in rows}
    return max((sum(1 for s, e in rows if s <= t < e) for t in instants), default=0)


def _other_workshop(room_id: int, starts_at: datetime, ends_at: datetime) -> Workshop | None:
    return db.session.scalars(
        select(Workshop)
        .where(Workshop.room_id == room_id, ~Workshop.is_cancelled, Workshop.starts_at < ends_at, Workshop.ends_at > starts_at)
        .limit(1)
    ).first()


def _when(day: date) -> str:
    return french_date(day, "EEEE d MMMM")


def _check_places(room: Room, places: int) -> None:
    if places > room.workstations:
        raise ReservationError(ngettext("La salle a %(num)s poste : pas plus de %(num)s place.",
                                        "La salle a %(num)s postes : pas plus de %(num)s places.", room.workstations))


class CreatedWorkshops(list):
    """The workshops created, and the closed days skipped: [(day, closure reason)]."""

    def __init__(self, workshops=(), skipped=()):
        super().__init__(workshops)
        self.skipped = list(skipped)


def create_workshops(actor, room: Room, data: WorkshopData, day: date, starts: time, ends: time, repeat_weeks: int = 0) -> CreatedWorkshops:
    """One workshop, or one per week for repeat_weeks more weeks: all or nothing, except that the
    weeks falling on a closure are skipped (listed in the result's `skipped`)."""
    if not can_manage_site(actor, room.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent créer un atelier."))
    lock_site(room.site_id)
    room = db.session.get(Room, room.id, populate_existing=True)
    _check_places(room, data.places)
    at = clock.now()
    closures = closures_between(room, day, day + timedelta(weeks=repeat_weeks))
    occurrences = []
    skipped = []
    for week in range(repeat_weeks + 1):
        local_day = day + timedelta(weeks=week)
        closure = slotlib.closure_for(closures, local_day, room.id)
        if closure is not None:
            skipped.append((local_day, closure.reason))
            continue
        starts_at, ends_at = slotlib.local_to_utc(local_day, starts), slotlib.local_to_utc(local_day, ends)
        _check_occurrence(room, data, local_day, starts_at, ends_at, at)
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
            site_id=room.site_id, room_id=room.id, title=data.title, description=data.description, level=data.level,
            facilitator=data.facilitator, starts_at=starts_at, ends_at=ends_at, places=data.places,
            created_by_id=actor_id(actor), created_at=at,
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


def _check_occurrence(room: Room, data: WorkshopData, local_day: date, starts_at: datetime, ends_at: datetime, at: datetime) -> None:
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
    _check_places(room, data.places)
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
    """Cancel a workshop and every registration to it. Returns how many people were registered.
    Announces booking_cancelled (by the staff) for each registration."""
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
    active = db.session.scalars(select(Booking).where(Booking.workshop_id == workshop.id, Booking.is_active)).all()
    for booking in active:
        cancel_in_transaction(booking, actor, at, by="staff", note=_("Atelier annulé"))
    db.session.flush()
    return len(active)

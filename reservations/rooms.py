"""Rooms and their opening hours, the read-only feed link, and closures: a closed day or room
cancels what was booked (previewed, then confirmed against a fingerprint), public holidays.

Shared pieces (errors, locks, history) are in ledger.py.
"""
import hashlib
from dataclasses import dataclass
from datetime import date, time

import holidays
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import clock
from core.events import announce, closure_added
from core.extensions import db

from . import slots as slotlib
from .ledger import ReservationError, can_manage_site, cancel_in_transaction, lock_site, lock_workshop, new_feed_token
from .models import Booking, Closure, OpeningHours, Room, Workshop

# --- rooms ---------------------------------------------------------------------------------------


def save_room(actor, room: Room, *, site_id: int, name: str, workstations: int, notes: str, slot_minutes: int,
              days_ahead: int, minutes_before: int, hours: list[tuple[int, time, time]], active: bool = True) -> Room:
    """Create a room (`room` not yet added) or edit it, with its weekly opening hours."""
    if not can_manage_site(actor, site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent gérer ses salles."), "name")
    duplicate = db.session.scalar(
        select(Room.id).where(Room.site_id == site_id, Room.name == name, Room.id != (room.id or 0))
    )
    if duplicate:
        raise ReservationError(_("Une salle porte déjà ce nom dans ce centre."), "name")
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


# --- closures ------------------------------------------------------------------------------------


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
    """The closure would cancel bookings or workshops the staff has not confirmed (or not these):
    the answer is the list to confirm (200), or the new list when it changed since (409)."""


def closure_impact(site_id: int, room_id: int | None, first_day: date, last_day: date) -> ClosureImpact:
    """Three queries, whatever the number of bookings."""
    start, end = slotlib.day_bounds_utc(first_day, last_day)
    at = clock.now()
    query = select(Workshop).where(
        Workshop.site_id == site_id, ~Workshop.is_cancelled, Workshop.starts_at > at,
        Workshop.starts_at >= start, Workshop.starts_at < end,
    )
    seats_query = select(Booking).where(
        Booking.site_id == site_id, Booking.is_seat, Booking.is_confirmed,
        Booking.starts_at > at, Booking.starts_at >= start, Booking.starts_at < end,
    )
    if room_id is not None:
        query = query.where(Workshop.room_id == room_id)
        seats_query = seats_query.where(Booking.room_id == room_id)
    workshops = db.session.scalars(query.options(selectinload(Workshop.room)).order_by(Workshop.starts_at, Workshop.id)).all()
    registrations = db.session.scalars(
        select(Booking)
        .where(Booking.workshop_id.in_([w.id for w in workshops]), Booking.is_active)
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
    Returns the closure and the cancelled bookings. Announces booking_cancelled (by the closure)
    for each, then closure_added.
    """
    if not can_manage_site(actor, site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent ajouter une fermeture."))
    if last_day < first_day:
        raise ReservationError(_("Le dernier jour doit être après le premier jour."), "last_day")
    lock_site(site_id)  # no seat booked nor workshop created meanwhile
    impact = _locked_impact(site_id, room_id, first_day, last_day)
    if not impact.is_empty and confirmed != impact.fingerprint:
        if confirmed:
            raise ClosureNeedsConfirmation(
                _("Les réservations ont changé depuis l'affichage de la liste. Vérifiez la nouvelle liste, puis confirmez."),
                status=409,
            )
        raise ClosureNeedsConfirmation(_("Cette fermeture annule des réservations. Vérifiez la liste, puis confirmez."), status=200)
    return _close(actor, site_id, room_id, first_day, last_day, reason, impact)


def _locked_impact(site_id: int, room_id: int | None, first_day: date, last_day: date) -> ClosureImpact:
    """The impact computed again once its workshops are locked (no registration to them meanwhile).
    The caller holds the site's lock."""
    for workshop in closure_impact(site_id, room_id, first_day, last_day).workshops:
        lock_workshop(workshop.id)
    return closure_impact(site_id, room_id, first_day, last_day)


def _close(actor, site_id: int, room_id: int | None, first_day: date, last_day: date, reason: str,
           impact: ClosureImpact) -> tuple[Closure, list[Booking]]:
    at = clock.now()
    closure = Closure(site_id=site_id, room_id=room_id, first_day=first_day, last_day=last_day, reason=reason, created_at=at)
    db.session.add(closure)
    db.session.flush()
    note = _("Fermeture : %(reason)s", reason=closure.reason)
    for workshop in impact.workshops:
        workshop.cancelled_at = at
    for booking in impact.bookings:
        cancel_in_transaction(booking, actor, at, by="closure", note=note, closure_id=closure.id)
    db.session.flush()
    announce(closure_added, closure_id=closure.id, site_id=site_id, room_id=room_id, first_day=first_day, last_day=last_day,
             cancelled=[booking.id for booking in impact.bookings])
    return closure, impact.bookings


def delete_closure(actor, closure: Closure) -> None:
    if not can_manage_site(actor, closure.site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent retirer une fermeture."))
    db.session.delete(closure)
    db.session.flush()


# --- public holidays ---------------------------------------------------------------------------

# The days come from the `holidays` package (metropolitan France); the names stay ours, as the
# residents read them on a closed day (keyed by the package's English names, which do not change).
HOLIDAY_NAMES = {
    "New Year's Day": _l("Jour de l'an"),
    "Easter Monday": _l("Lundi de Pâques"),
    "Labor Day": _l("Fête du Travail"),
    "Victory Day": _l("Victoire 1945"),
    "Ascension Day": _l("Ascension"),
    "Pentecost Monday": _l("Lundi de Pentecôte"),
    "National Day": _l("Fête nationale"),
    "Assumption Day": _l("Assomption"),
    "All Saints' Day": _l("Toussaint"),
    "Armistice Day": _l("Armistice 1918"),
    "Christmas Day": _l("Noël"),
}


def french_public_holidays(year: int) -> list[tuple[date, str]]:
    """Public holidays in metropolitan France: (day, French name), one entry per holiday (two
    holidays on the same day, as Ascension on 1 May 2008, are two entries)."""
    calendar = holidays.France(years=year, language="en_US")
    return sorted(
        (day, str(HOLIDAY_NAMES.get(name, name))) for day in calendar for name in calendar.get_list(day)
    )


def add_public_holidays(actor, site_id: int, year: int) -> int:
    """Closures of the whole site for each public holiday of the year; already-known days are skipped.
    A public holiday is known long in advance: what was booked on it is cancelled all the same
    (announced as for any closure)."""
    if not can_manage_site(actor, site_id):
        raise ReservationError(_("Seuls les responsables du centre peuvent ajouter une fermeture."))
    public_holidays = french_public_holidays(year)
    existing = set(
        db.session.scalars(
            select(Closure.first_day).where(
                Closure.site_id == site_id,
                Closure.room_id.is_(None),
                Closure.first_day == Closure.last_day,
                Closure.first_day.in_([day for day, _name in public_holidays]),
            )
        )
    )
    lock_site(site_id)
    added = 0
    for day, name in public_holidays:
        if day not in existing:
            _close(actor, site_id, None, day, day, name, _locked_impact(site_id, None, day, day))
            added += 1
    db.session.flush()
    return added


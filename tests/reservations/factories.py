"""Factories of the reservations domain, plain functions so that other test packages (the
authorisation matrix) can use them too."""
from datetime import date, datetime, time, timedelta

from core import clock
from core.extensions import db
from reservations import bookings, ledger, workshops
from reservations.identity import Contact
from reservations.models import OpeningHours, Room, Workshop
from reservations.slots import local_to_utc

EVERY_DAY = {wd: [(time(14), time(17))] for wd in range(7)}


def make_room(site, *, name=None, workstations=4, hours=None, slot_minutes=60, days_ahead=14, minutes_before=30, active=True):
    hours = EVERY_DAY if hours is None else hours
    room = Room(
        site_id=site.id,
        name=name or f"Salle {ledger.new_reference()}",
        workstations=workstations,
        notes="Imprimante",
        slot_minutes=slot_minutes,
        days_ahead=days_ahead,
        minutes_before=minutes_before,
        feed_token=ledger.new_feed_token(),
        active=active,
    )
    room.hours = [OpeningHours(weekday=wd, starts=s, ends=e) for wd, ranges in hours.items() for s, e in ranges]
    db.session.add(room)
    db.session.commit()
    return room


def tomorrow() -> date:
    return clock.local_now().date() + timedelta(days=1)


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return local_to_utc(day, time(hour, minute))


def contact(n: int) -> Contact:
    return Contact(phone=f"06{n:08d}", email="")


def make_workshop(room, *, day=None, starts=time(10), ends=time(12), places=3, title="Créer son adresse e-mail", actor=None):
    """A workshop inserted directly (no rule checked): for fixtures that need one quickly."""
    day = day or tomorrow()
    workshop = Workshop(
        site_id=room.site_id, room_id=room.id, title=title, description="On crée une adresse.", facilitator="Léa",
        starts_at=local_to_utc(day, starts), ends_at=local_to_utc(day, ends), places=places,
    )
    db.session.add(workshop)
    db.session.commit()
    return workshop


def book(room, starts_at, n=1, first_name="Fatima", actor=None):
    booking, token = bookings.book_seat(room.id, starts_at, first_name, contact(n), actor=actor)
    db.session.commit()
    return booking, token


def register(workshop, n=1, first_name="Nadia", actor=None):
    booking, token = workshops.register(workshop.id, first_name, contact(n), actor=actor)
    db.session.commit()
    return booking, token


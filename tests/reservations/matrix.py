"""URL arguments of the reservations routes, for the authorisation matrix of
tests/core/test_authorisation.py: each function creates an object belonging to `site`."""
import itertools
from datetime import time

from reservations import bookings, workshops
from reservations.models import Closure
from tests.reservations.factories import at_local, contact, make_room, make_workshop, tomorrow

_people = itertools.count(1)


def _commit(world):
    world.fixture("db").session.commit()


def room_id(world, site):
    return make_room(site).id


def feed_token(world, site):
    return make_room(site).feed_token


def workshop_id(world, site):
    return make_workshop(make_room(site)).id


def booking_id(world, site):
    """A confirmed place in a workshop tomorrow (attendance and cancellation apply to it)."""
    booking, _token = workshops.register(make_workshop(make_room(site)).id, "Marqueur", contact(next(_people)))
    _commit(world)
    return booking.id


def token(world, site):
    """The private link of a seat booked tomorrow at 14:00."""
    room = make_room(site)
    _booking, secret = bookings.book_seat(room.id, at_local(tomorrow(), 14), "Marqueur", contact(next(_people)))
    _commit(world)
    return secret


def closure_id(world, site):
    closure = Closure(site_id=site.id, room_id=None, first_day=tomorrow(), last_day=tomorrow(), reason="Inventaire")
    db = world.fixture("db")
    db.session.add(closure)
    db.session.commit()
    return closure.id


def day(world, site):
    return tomorrow().isoformat()


def hhmm(world, site):
    return time(14).strftime("%H%M")


ARGUMENTS = {
    "room_id": room_id,
    "feed_token": feed_token,
    "workshop_id": workshop_id,
    "booking_id": booking_id,
    "token": token,
    "closure_id": closure_id,
    "day": day,
    "hhmm": hhmm,
}

"""Arrivals at open-access seats (bookings.mark_arrival): what the reports count as seat-hours used."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from reservations import bookings
from reservations.ledger import ReservationError
from reservations.models import Attendance, BookingAction, BookingEvent
from tests.reservations.conftest import MONDAY
from tests.reservations.factories import at_local, book, make_room, make_workshop, register, tomorrow


@pytest.fixture
def seat(db, frozen, sites):
    room = make_room(sites["a"])
    booking, _token = book(room, at_local(tomorrow(), 14))
    return booking


def test_an_arrival_is_noted_once_the_slot_has_begun_and_recorded(db, frozen, sites, seat):
    with pytest.raises(ReservationError, match="quand le créneau a commencé"):
        bookings.mark_arrival(seat.id, Attendance.present, sites["reception_a"])
    frozen.set(seat.starts_at + timedelta(minutes=5))
    bookings.mark_arrival(seat.id, Attendance.present, sites["reception_a"])
    db.session.commit()
    assert seat.attendance is Attendance.present
    events = db.session.scalars(select(BookingEvent).where(BookingEvent.booking_id == seat.id,
                                                           BookingEvent.action == BookingAction.attendance)).all()
    assert [(e.attendance, e.actor_id) for e in events] == [(Attendance.present, sites["reception_a"].id)]
    # The same mark twice writes no second history row; a correction does.
    bookings.mark_arrival(seat.id, Attendance.present, sites["reception_a"])
    bookings.mark_arrival(seat.id, Attendance.absent, sites["reception_a"])
    db.session.commit()
    assert seat.attendance is Attendance.absent
    assert len(db.session.scalars(select(BookingEvent).where(BookingEvent.booking_id == seat.id,
                                                             BookingEvent.action == BookingAction.attendance)).all()) == 2


def test_workshop_places_cancelled_seats_and_excused_are_refused(db, frozen, sites, seat):
    room = make_room(sites["a"])
    cancelled, _token = book(room, at_local(tomorrow(), 15), n=2)
    bookings.cancel(cancelled.id, None)
    workshop = make_workshop(room, day=tomorrow())
    place, _token = register(workshop, n=3)
    db.session.commit()
    frozen.set(MONDAY + timedelta(days=2))
    with pytest.raises(ReservationError, match="réservation de poste confirmée"):
        bookings.mark_arrival(place.id, Attendance.present, sites["reception_a"])
    with pytest.raises(ReservationError, match="réservation de poste confirmée"):
        bookings.mark_arrival(cancelled.id, Attendance.present, sites["reception_a"])
    with pytest.raises(ReservationError, match="venue ou non"):
        bookings.mark_arrival(seat.id, Attendance.excused, sites["reception_a"])
    db.session.rollback()
    assert seat.attendance is None and place.attendance is None and cancelled.attendance is None

"""The public booking POSTs run the same number of SQL statements whatever the bookings and workshops
already there (the day views have theirs in test_public_http.py)."""
from datetime import date

from reservations.models import Booking, BookingState
from tests.reservations.factories import at_local, book, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)
SEAT_URL = "/reserver/salle/{room}/2026-03-24/1400"


def post_statements(db, client, count_queries, url, phone):
    db.session.commit()
    with count_queries() as n:
        response = client.post(url, data={"first_name": "Zoé", "contact": phone})
    assert response.status_code == 302 and "/ma-reservation/" in response.headers["Location"]
    return n()


def test_seat_booking_post_statements_do_not_grow_with_bookings(db, frozen, sites, client, count_queries):
    room = make_room(sites["a"], workstations=40)
    url = SEAT_URL.format(room=room.id)
    post_statements(db, client, count_queries, url, "06 00 00 00 01")  # warm up
    few = post_statements(db, client, count_queries, url, "06 00 00 00 02")
    for n in range(10, 30):
        book(room, at_local(TUESDAY, 14), n=n)  # the same slot
        book(room, at_local(TUESDAY, 15), n=n + 100)
        book(room, at_local(date(2026, 3, 25), 16), n=n + 200)
    for day in (23, 24, 25):
        make_workshop(room, day=date(2026, 3, day), places=2)
    assert post_statements(db, client, count_queries, url, "06 00 00 00 03") == few
    assert db.session.query(Booking).filter(Booking.starts_at == at_local(TUESDAY, 14),
                                            Booking.state == BookingState.confirmed).count() == 23


def test_workshop_registration_post_statements_do_not_grow_with_registrations(db, frozen, sites, client, count_queries):
    room = make_room(sites["a"], workstations=40)
    workshop = make_workshop(room, places=40)
    url = f"/ateliers/{workshop.id}/inscription"
    post_statements(db, client, count_queries, url, "06 00 00 00 01")
    few = post_statements(db, client, count_queries, url, "06 00 00 00 02")
    for n in range(10, 35):
        register(workshop, n=n)
    more = post_statements(db, client, count_queries, url, "06 00 00 00 03")
    assert more == few
    assert db.session.query(Booking).filter(Booking.workshop_id == workshop.id, Booking.state == BookingState.confirmed).count() == 28

"""The events of the reservations domain (core/events.py): each one is delivered once, after the
commit, with plain values; a refused attempt or a rolled-back transaction announces nothing."""
from datetime import date, time

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from reservations import bookings, ledger, rooms, workshops
from reservations.models import Booking
from tests.reservations.factories import at_local, book, contact, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)  # the clock stands at Monday 23 March 2026, 09:00 in Paris
SEAT_URL = "/reserver/salle/{room}/2026-03-24/1400"


def facts(booking, **more):
    return dict(booking_id=booking.id, site_id=booking.site_id, starts_at=booking.starts_at, **more)


def without_token(events):
    """booking_confirmed and waiting_list_joined carry the private link's token (for the message's
    link, core/messaging/writing.py): it is the booking's, and is then left out of the comparison."""
    kept = []
    for name, payload in events:
        payload = dict(payload)
        token = payload.pop("token")
        assert ledger.find_by_token(token).id == payload["booking_id"]
        kept.append((name, payload))
    return kept


# --- booking_confirmed -------------------------------------------------------------------------------


def test_a_seat_booked_online_is_announced_after_the_commit(db, frozen, sites, client, events):
    room = make_room(sites["a"])
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "kevin@exemple.fr"})
    assert response.status_code == 302
    booking = _db.session.scalars(select(Booking)).one()
    assert without_token(events) == [("booking_confirmed", facts(booking, by_staff=False))]


def test_a_seat_booked_at_the_desk_says_so(db, frozen, sites, events):
    room = make_room(sites["a"])
    booking, _token = bookings.book_seat(room.id, at_local(TUESDAY, 14), "Bernard", contact(1), actor=sites["reception_a"])
    assert events == []  # not before the commit
    _db.session.commit()
    assert without_token(events) == [("booking_confirmed", facts(booking, by_staff=True))]


def test_a_place_in_a_workshop_is_announced(db, frozen, sites, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    booking, _token = register(workshop, n=1)
    assert without_token(events) == [("booking_confirmed", facts(booking, by_staff=False))]


@pytest.mark.parametrize("refusal", ["full", "closed", "past"])
def test_a_refused_seat_announces_nothing(db, frozen, sites, events, refusal):
    room = make_room(sites["a"], workstations=1)
    book(room, at_local(TUESDAY, 14), n=1)
    rooms.add_closure(sites["manager_a"], sites["a"].id, None, date(2026, 3, 25), date(2026, 3, 25), "Travaux")
    _db.session.commit()
    events.clear()
    starts_at = {"full": at_local(TUESDAY, 14), "closed": at_local(date(2026, 3, 25), 14),
                 "past": at_local(date(2026, 3, 22), 14)}[refusal]
    with pytest.raises(ledger.ReservationError):
        bookings.book_seat(room.id, starts_at, "Rachid", contact(2))
    _db.session.rollback()
    assert events == []


def test_a_booking_rolled_back_after_the_rule_passed_announces_nothing(db, frozen, sites, events):
    room = make_room(sites["a"])
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", contact(1))
    _db.session.rollback()
    _db.session.commit()  # a later commit does not deliver what was rolled back
    assert events == []


def test_a_full_seat_over_http_announces_nothing(db, frozen, sites, client, events):
    room = make_room(sites["a"], workstations=1)
    book(room, at_local(TUESDAY, 14), n=1)
    events.clear()
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "kevin@exemple.fr"})
    assert response.status_code == 409
    assert events == []


# --- waiting_list_joined ---------------------------------------------------------------------------


def test_joining_the_waiting_list_is_announced(db, frozen, sites, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    register(workshop, n=1)
    events.clear()
    waiting, _token = workshops.register(workshop.id, "Nadia", contact(2), actor=sites["reception_a"])
    assert events == []
    _db.session.commit()
    assert without_token(events) == [("waiting_list_joined", facts(waiting, by_staff=True))]


def test_a_refused_registration_announces_nothing(db, frozen, sites, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    register(workshop, n=1)
    events.clear()
    with pytest.raises(ledger.ReservationError, match="déjà une place"):
        workshops.register(workshop.id, "Nadia", contact(1))  # the same person again
    _db.session.rollback()
    assert events == []


# --- booking_cancelled and waiting_list_promoted ---------------------------------------------------------


def test_a_cancellation_by_the_person_promotes_the_first_waiting(db, frozen, sites, client, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    placed, token = register(workshop, n=1)
    waiting, _token = register(workshop, n=2)
    events.clear()
    response = client.post(f"/ma-reservation/{token}/annuler")
    assert response.status_code == 302
    assert events == [
        ("booking_cancelled", facts(placed, by="person")),
        ("waiting_list_promoted", facts(waiting)),
    ]


def test_a_cancellation_by_the_staff(db, frozen, sites, client_for, events):
    booking, _token = book(make_room(sites["a"]), at_local(TUESDAY, 14))
    events.clear()
    client = client_for(sites["reception_a"])
    assert client.post(f"/reservations/{booking.id}/annuler").status_code == 302
    assert events == [("booking_cancelled", facts(booking, by="staff"))]


def test_a_cancelled_workshop_cancels_its_places_by_the_staff(db, frozen, sites, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    placed, _token = register(workshop, n=1)
    waiting, _token = register(workshop, n=2)
    events.clear()
    workshops.cancel_workshop(sites["manager_a"], workshop.id)
    _db.session.commit()
    assert sorted(events, key=lambda e: e[1]["booking_id"]) == [
        ("booking_cancelled", facts(placed, by="staff")),
        ("booking_cancelled", facts(waiting, by="staff")),
    ]


def test_more_places_promote_and_announce(db, frozen, sites, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    register(workshop, n=1)
    waiting, _token = register(workshop, n=2)
    events.clear()
    data = workshops.WorkshopData(workshop.title, workshop.description, workshop.level, workshop.facilitator, 2)
    workshops.update_workshop(sites["manager_a"], workshop.id, data)
    _db.session.commit()
    assert events == [("waiting_list_promoted", facts(waiting))]


def test_a_cancellation_too_late_announces_nothing(db, frozen, sites, events):
    booking, _token = book(make_room(sites["a"]), at_local(TUESDAY, 14))
    events.clear()
    frozen.set(at_local(TUESDAY, 14, 10))
    with pytest.raises(ledger.ReservationError, match="déjà commencé"):
        bookings.cancel(booking.id)
    _db.session.rollback()
    assert events == []


def test_a_cancellation_rolled_back_announces_nothing(db, frozen, sites, events):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    placed, _token = register(workshop, n=1)
    register(workshop, n=2)
    events.clear()
    assert len(bookings.cancel(placed.id)) == 1  # the cancellation and a promotion, then nothing kept
    _db.session.rollback()
    assert events == []


# --- closure_added ----------------------------------------------------------------------------------


def test_a_closure_without_bookings_is_announced(db, frozen, sites, events):
    room = make_room(sites["a"])
    closure, cancelled = rooms.add_closure(sites["manager_a"], sites["a"].id, room.id, TUESDAY, date(2026, 3, 26), "Travaux")
    assert events == []
    _db.session.commit()
    assert cancelled == []
    assert events == [("closure_added", dict(closure_id=closure.id, site_id=sites["a"].id, room_id=room.id,
                                             first_day=TUESDAY, last_day=date(2026, 3, 26), cancelled=[]))]


def test_a_closure_waiting_for_its_confirmation_announces_nothing(db, frozen, sites, client_for, events):
    booking, _token = book(make_room(sites["a"]), at_local(TUESDAY, 14))
    events.clear()
    client = client_for(sites["manager_a"])
    response = client.post(f"/structures/{sites['a'].id}/fermetures",
                           data={"room_id": 0, "first_day": TUESDAY.isoformat(), "reason": "Vacances de Noël"})
    assert response.status_code == 200 and "confirmez" in response.get_data(as_text=True)
    assert events == []
    fingerprint = rooms.closure_impact(sites["a"].id, None, TUESDAY, TUESDAY).fingerprint
    response = client.post(f"/structures/{sites['a'].id}/fermetures", data={
        "room_id": 0, "first_day": TUESDAY.isoformat(), "reason": "Vacances de Noël", "confirmed": fingerprint})
    assert response.status_code == 302
    assert [name for name, _payload in events] == ["booking_cancelled", "closure_added"]
    assert events[0][1] == facts(booking, by="closure") and events[1][1]["cancelled"] == [booking.id]


def test_public_holidays_are_closures_announced_one_by_one(db, frozen, sites, events):
    booking, _token = book(make_room(sites["a"]), at_local(date(2026, 4, 6), 14), actor=sites["reception_a"])  # Easter Monday
    events.clear()
    assert rooms.add_public_holidays(sites["manager_a"], sites["a"].id, 2026) == 11
    _db.session.commit()
    added = [payload for name, payload in events if name == "closure_added"]
    assert [payload["first_day"] for payload in added] == [day for day, _name in rooms.french_public_holidays(2026)]
    assert [payload["cancelled"] for payload in added if payload["cancelled"]] == [[booking.id]]
    assert [payload for name, payload in events if name == "booking_cancelled"] == [facts(booking, by="closure")]


def test_time_is_kept_as_plain_values(db, frozen, sites, events):
    register(make_workshop(make_room(sites["a"]), starts=time(10)), n=1)
    (_name, payload), = events
    assert all(isinstance(value, (int, str, bool, date)) for value in payload.values())

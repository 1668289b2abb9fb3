"""Concurrent requests for the last place: exactly the capacity is booked, on SQLite (a file
database, write lock taken at BEGIN IMMEDIATE) and on PostgreSQL (row locks).

Each thread has its own app context, hence its own session and connection; a Barrier releases
them together. Every test runs with both locks of seat bookings (reservations/ledger.py, lock_seat):
the site row, and the narrower one (the site shared, the person and the slot); on SQLite both are the
database's single write lock.
"""
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import date, time

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import User
from reservations import bookings, ledger, rooms, workshops
from reservations.models import Booking, BookingAction, BookingEvent, BookingState, Level, Room, Workshop
from tests.conftest import live_server
from tests.reservations.factories import at_local, book, contact, make_room, make_workshop, register

THREADS = 50
TUESDAY = date(2026, 3, 24)


@pytest.fixture(params=["site", "slot"])
def app_config(request):
    return {"BOOKING_SEAT_LOCK": request.param}


def run_together(app, n, work):
    """Run work(i) in n threads released at once; return each outcome ("ok", "full", or the error)."""
    barrier = threading.Barrier(n)
    outcomes = [None] * n

    def target(i):
        with app.app_context():
            try:
                barrier.wait()
                outcomes[i] = work(i)
                _db.session.commit()
            except ledger.FullError as exc:
                _db.session.rollback()
                outcomes[i] = ("full", str(exc))
            except ledger.ReservationError as exc:
                _db.session.rollback()
                outcomes[i] = ("refused", str(exc))
            except Exception as exc:
                _db.session.rollback()
                outcomes[i] = ("exception", repr(exc))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def kinds(outcomes):
    return Counter(o[0] for o in outcomes)


def test_many_residents_want_the_last_seat(app, db, frozen, sites):
    room = make_room(sites["a"], workstations=3)
    starts_at = at_local(TUESDAY, 14)
    book(room, starts_at, n=1)
    book(room, starts_at, n=2)
    room_id = room.id  # threads must not touch the objects of this session
    db.session.commit()

    outcomes = run_together(app, THREADS, lambda i: ("ok", bookings.book_seat(room_id, starts_at, "Fatima", contact(100 + i))[0].id))

    assert kinds(outcomes) == {"ok": 1, "full": THREADS - 1}, outcomes
    assert all("complet" in message for kind, message in outcomes if kind == "full")
    db.session.expire_all()
    booked = db.session.scalar(select(func.count()).where(Booking.room_id == room_id, Booking.state == BookingState.confirmed))
    assert booked == 3


def test_many_residents_want_the_last_workshop_place(app, db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"], workstations=8), day=TUESDAY, places=4)
    for n in range(3):
        register(workshop, n=n)
    workshop_id = workshop.id
    db.session.commit()

    outcomes = run_together(app, THREADS, lambda i: ("ok", workshops.register(workshop_id, "Nadia", contact(100 + i))[0].state.value))

    # Exactly one got the last place; everyone else is on the waiting list, in a distinct position.
    assert Counter(o[1] for o in outcomes if o[0] == "ok") == {"confirmed": 1, "waiting": THREADS - 1}, outcomes
    db.session.expire_all()
    assert workshops.confirmed_count(workshop.id) == 4
    waiting = db.session.scalars(select(Booking).where(Booking.workshop_id == workshop.id, Booking.state == BookingState.waiting)).all()
    assert sorted(workshops.waiting_position(b) for b in waiting) == list(range(1, THREADS))


def test_concurrent_cancellations_free_and_promote_once(app, db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"], workstations=8), day=TUESDAY, places=3)
    placed = [register(workshop, n=n)[0] for n in range(3)]
    waiting = [register(workshop, n=10 + n)[0] for n in range(6)]
    ids = [b.id for b in placed]
    waiting_ids = [b.id for b in waiting]
    workshop_id = workshop.id
    db.session.commit()

    # 24 threads: each of the 3 confirmed bookings is cancelled by 8 threads at once.
    outcomes = run_together(app, 24, lambda i: ("ok", len(bookings.cancel(ids[i % 3]))))

    assert kinds(outcomes) == {"ok": 3, "refused": 21}, outcomes
    assert all("déjà annulée" in message for kind, message in outcomes if kind == "refused")
    assert sum(o[1] for o in outcomes if o[0] == "ok") == 3  # three promotions in all
    db.session.expire_all()
    states = [db.session.get(Booking, i).state for i in waiting_ids]
    # The first three waiting are promoted, in order; the others still wait.
    assert states == [BookingState.confirmed] * 3 + [BookingState.waiting] * 3
    assert workshops.confirmed_count(workshop_id) == 3
    promotions = db.session.scalar(select(func.count()).where(BookingEvent.action == BookingAction.promoted))
    cancellations = db.session.scalar(select(func.count()).where(BookingEvent.action == BookingAction.cancelled))
    assert (promotions, cancellations) == (3, 3)


@pytest.mark.parametrize("app_config", [{"BOOKING_LIMIT_PER_ADDRESS": "1000 per hour", "BOOKING_SEAT_LOCK": lock}
                                        for lock in ("site", "slot")])
def test_parallel_http_requests_for_the_last_seat(app, db, sites):
    """Through the real HTTP stack: one confirmation, the others see "complet", never a 500."""
    room = make_room(sites["a"], workstations=2)
    from core import clock

    day = clock.local_now().date().toordinal() + 2
    day = date.fromordinal(day)
    book(room, at_local(day, 15), n=1)
    room_id = room.id
    path = f"/reserver/salle/{room_id}/{day.isoformat()}/1500"
    db.session.commit()

    with live_server(app) as base:
        barrier = threading.Barrier(THREADS)
        statuses = [None] * THREADS

        def post(i):
            body = urllib.parse.urlencode({"first_name": "Kévin", "contact": f"07 00 00 {i // 100:02d} {i % 100:02d}"}).encode()
            request = urllib.request.Request(base + path, data=body, method="POST")
            barrier.wait()
            try:
                with urllib.request.urlopen(request) as response:  # follows the redirect to the private page
                    statuses[i] = (response.status, response.read().decode())
            except urllib.error.HTTPError as exc:
                statuses[i] = (exc.code, exc.read().decode())

        threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert Counter(s for s, _body in statuses) == {200: 1, 409: THREADS - 1}
    assert all("Ce créneau est complet" in body for s, body in statuses if s == 409)
    assert "Votre place est réservée" in next(body for s, body in statuses if s == 200)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(Booking.room_id == room_id, Booking.state == BookingState.confirmed)) == 2


def test_a_closure_confirmed_while_residents_book_and_register_leaves_nothing_live_on_the_closed_day(app, db, frozen, sites):
    """The manager confirms the closure they previewed while residents book seats and join the workshop of
    that day: whatever the order, nothing stays confirmed or waiting on the closed day — either the closure
    went first (the others are refused) or a booking did (the closure asks for a new confirmation)."""
    room = make_room(sites["a"], workstations=8)
    workshop = make_workshop(room, day=TUESDAY, places=2)
    register(workshop, n=1)
    site_id, room_id, workshop_id, manager_id = sites["a"].id, room.id, workshop.id, sites["manager_a"].id
    fingerprint = rooms.closure_impact(site_id, None, TUESDAY, TUESDAY).fingerprint
    db.session.commit()
    n = 12

    def work(i):
        if i == 0:
            rooms.add_closure(_db.session.get(User, manager_id), site_id, None, TUESDAY, TUESDAY, "Vacances de Noël", confirmed=fingerprint)
            return ("closed",)
        if i % 2:
            return ("ok", bookings.book_seat(room_id, at_local(TUESDAY, 14), "Fatima", contact(200 + i))[0].id)
        return ("ok", workshops.register(workshop_id, "Nadia", contact(300 + i))[0].id)

    outcomes = run_together(app, n, work)

    assert not [o for o in outcomes if o[0] == "exception"], outcomes
    db.session.expire_all()
    live = db.session.scalar(select(func.count()).where(
        Booking.site_id == site_id, Booking.state.in_([BookingState.confirmed, BookingState.waiting])))
    if outcomes[0] == ("closed",):
        assert live == 0
        assert {kind for kind, *_rest in outcomes[1:]} == {"refused"}
        assert all("fermé" in message or "annulé" in message for _kind, message in outcomes[1:])
    else:
        assert outcomes[0][0] == "refused" and "ont changé" in outcomes[0][1]
        assert live == 1 + sum(1 for o in outcomes[1:] if o[0] == "ok")


def test_one_person_booking_every_slot_of_the_site_at_once_gets_no_more_than_the_limit(app, db, frozen, sites):
    """The per-person limit spans every slot of every room of the site: a lock on the slot alone would
    let each request count the others' bookings as not there yet."""
    rooms_of_a = [make_room(sites["a"], workstations=4), make_room(sites["a"], workstations=4)]
    slots = [(room.id, at_local(TUESDAY, hour)) for room in rooms_of_a for hour in (14, 15, 16)]
    db.session.commit()

    outcomes = run_together(app, len(slots), lambda i: ("ok", bookings.book_seat(*slots[i], "Fatima", contact(7))[0].id))

    assert kinds(outcomes) == {"ok": bookings.per_person_limit(), "refused": len(slots) - bookings.per_person_limit()}, outcomes
    assert all("C'est le maximum" in message for kind, message in outcomes if kind == "refused")
    db.session.expire_all()
    mine = db.session.scalar(select(func.count()).where(Booking.contact_key == contact(7).key, Booking.state == BookingState.confirmed))
    assert mine == bookings.per_person_limit()


def test_a_workshop_created_while_residents_book_the_same_hour_never_overfills_the_room(app, db, frozen, sites):
    """A workshop's places and the open-access seats share the room's workstations: either the workshop
    goes first (the seats are full) or enough seats do (the workshop is refused)."""
    room = make_room(sites["a"], workstations=4)
    book(room, at_local(TUESDAY, 14), n=1)
    room_id, manager_id = room.id, sites["manager_a"].id
    db.session.commit()  # reading the ids began a transaction: on SQLite it holds the write lock
    data = workshops.WorkshopData("Créer son adresse e-mail", "", Level.everyone, "Léa", 3)
    n = 12

    def work(i):
        if i == 0:
            workshops.create_workshops(_db.session.get(User, manager_id), _db.session.get(Room, room_id), data, TUESDAY, time(14), time(15))
            return ("created",)
        return ("ok", bookings.book_seat(room_id, at_local(TUESDAY, 14), "Fatima", contact(200 + i))[0].id)

    outcomes = run_together(app, n, work)

    assert not [o for o in outcomes if o[0] == "exception"], outcomes
    db.session.expire_all()
    seats = db.session.scalar(select(func.count()).where(
        Booking.room_id == room_id, Booking.workshop_id.is_(None), Booking.state == BookingState.confirmed))
    places = db.session.scalar(select(func.coalesce(func.sum(Workshop.places), 0)).where(Workshop.room_id == room_id))
    if outcomes[0] == ("created",):
        assert (seats, places) == (1, 3)
        assert all(kind == "full" for kind, *_rest in outcomes[1:]), outcomes
    else:
        assert outcomes[0][0] == "refused" and "en accès libre" in outcomes[0][1], outcomes[0]
        assert (seats, places) == (4, 0)

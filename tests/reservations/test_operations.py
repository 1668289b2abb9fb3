"""Booking rules, cancellation, waiting list and promotion, workshops, attendance, history."""
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from core.clock import PARIS
from core.extensions import db as _db
from reservations import bookings, ledger, rooms, workshops
from reservations.identity import parse_contact
from reservations.models import Attendance, Booking, BookingAction, BookingEvent, BookingState, Closure, Level, Workshop
from tests.reservations.conftest import MONDAY
from tests.reservations.factories import at_local, book, contact, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)


def confirmed_seats(room, starts_at):
    return _db.session.scalar(
        select(func.count()).where(Booking.room_id == room.id, Booking.starts_at == starts_at,
                                   Booking.workshop_id.is_(None), Booking.state == BookingState.confirmed)
    )


def events(booking):
    return [(e.action, e.actor_id) for e in _db.session.scalars(
        select(BookingEvent).where(BookingEvent.booking_id == booking.id).order_by(BookingEvent.id))]


# --- seats ---------------------------------------------------------------------------------------


def test_book_a_seat_records_who_and_returns_a_private_token(db, frozen, sites):
    room = make_room(sites["a"])
    booking, token = book(room, at_local(TUESDAY, 14))
    assert booking.is_confirmed and booking.site_id == sites["a"].id
    assert len(booking.reference) == 6 and set(booking.reference) <= set(ledger.REFERENCE_ALPHABET)
    # Only the hash of the token is stored; the token finds the booking.
    assert token not in (booking.token_hash, booking.reference) and len(token) >= 32
    assert ledger.find_by_token(token).id == booking.id
    assert ledger.find_by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert events(booking) == [(BookingAction.booked, None)]


@pytest.mark.parametrize(
    "when, message",
    [
        (lambda: at_local(date(2026, 3, 22), 14), "déjà passé"),  # yesterday
        (lambda: at_local(TUESDAY, 14, 30), "n'existe pas"),  # not a slot start
        (lambda: at_local(TUESDAY, 18), "n'existe pas"),  # outside the hours
        (lambda: at_local(date(2026, 4, 8), 14), "au plus 14 jours"),  # beyond the window
    ],
)
def test_refused_slots(db, frozen, sites, when, message):
    room = make_room(sites["a"])
    with pytest.raises(ledger.ReservationError, match=message):
        bookings.book_seat(room.id, when(), "Fatima", contact(1))


def test_too_late_online_but_possible_at_the_desk(db, frozen, sites):
    room = make_room(sites["a"], minutes_before=30)
    frozen.set(at_local(MONDAY.date(), 13, 45))
    with pytest.raises(ledger.ReservationError, match="trop tard"):
        bookings.book_seat(room.id, at_local(MONDAY.date(), 14), "Fatima", contact(1))
    # The reception books the walk-in for the slot about to start, and even the one in progress.
    frozen.set(at_local(MONDAY.date(), 14, 20))
    booking, _token = bookings.book_seat(room.id, at_local(MONDAY.date(), 14), "Fatima", contact(1), actor=sites["reception_a"])
    assert booking.created_by_id == sites["reception_a"].id
    with pytest.raises(ledger.ReservationError, match="déjà passé"):
        bookings.book_seat(room.id, at_local(MONDAY.date(), 14), "Kévin", contact(2))


def test_no_booking_during_a_closure(db, frozen, sites):
    room = make_room(sites["a"])
    db.session.add(Closure(site_id=sites["a"].id, first_day=TUESDAY, last_day=TUESDAY, reason="Jour férié"))
    db.session.commit()
    with pytest.raises(ledger.ReservationError, match="fermé ce jour-là \\(Jour férié\\)"):
        bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", contact(1), actor=sites["manager_a"])


def test_full_slot_says_complet_and_books_nothing(db, frozen, sites):
    room = make_room(sites["a"], workstations=2)
    for n in (1, 2):
        book(room, at_local(TUESDAY, 14), n=n)
    with pytest.raises(ledger.FullError, match="complet"):
        bookings.book_seat(room.id, at_local(TUESDAY, 14), "Kévin", contact(3))
    db.session.rollback()
    assert confirmed_seats(room, at_local(TUESDAY, 14)) == 2


def test_workshop_seats_count_against_the_slot(db, frozen, sites):
    room = make_room(sites["a"], workstations=3)
    make_workshop(room, day=TUESDAY, starts=time(14), ends=time(15), places=2)
    book(room, at_local(TUESDAY, 14), n=1)
    with pytest.raises(ledger.FullError):
        bookings.book_seat(room.id, at_local(TUESDAY, 14), "Kévin", contact(2))


def test_per_person_limit_uses_the_normalised_phone(app, db, frozen, sites):
    app.config["BOOKING_LIMIT_PER_PERSON"] = 2
    room = make_room(sites["a"])
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", parse_contact("06 12 34 56 78"))
    bookings.book_seat(room.id, at_local(TUESDAY, 15), "Fatima", parse_contact("+33 6 12 34 56 78"))
    with pytest.raises(ledger.ReservationError, match="déjà 2 réservations à venir"):
        bookings.book_seat(room.id, at_local(TUESDAY, 16), "Fatima", parse_contact("06.12.34.56.78"))
    # Another site has its own limit.
    other = make_room(sites["b"])
    bookings.book_seat(other.id, at_local(TUESDAY, 14), "Fatima", parse_contact("0612345678"))


def test_one_seat_per_person_per_slot(db, frozen, sites):
    room = make_room(sites["a"])
    book(room, at_local(TUESDAY, 14), n=1)
    with pytest.raises(ledger.ReservationError, match="déjà une place sur ce créneau"):
        bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", contact(1))


def test_cancel_frees_the_place_exactly_once(db, frozen, sites):
    room = make_room(sites["a"], workstations=1)
    booking, _token = book(room, at_local(TUESDAY, 14), n=1)
    bookings.cancel(booking.id)
    db.session.commit()
    assert booking.state is BookingState.cancelled and booking.cancelled_at == MONDAY
    with pytest.raises(ledger.ReservationError, match="déjà annulée"):
        bookings.cancel(booking.id)
    db.session.rollback()
    # The place is free once: one new booking fits, a second does not.
    book(room, at_local(TUESDAY, 14), n=2)
    with pytest.raises(ledger.FullError):
        bookings.book_seat(room.id, at_local(TUESDAY, 14), "Kévin", contact(3))
    assert [a for a, _actor in events(booking)] == [BookingAction.booked, BookingAction.cancelled]


def test_a_started_slot_cannot_be_cancelled_online(db, frozen, sites):
    room = make_room(sites["a"])
    booking, _token = book(room, at_local(TUESDAY, 14))
    frozen.set(at_local(TUESDAY, 14, 5))
    with pytest.raises(ledger.ReservationError, match="déjà commencé"):
        bookings.cancel(booking.id)
    bookings.cancel(booking.id, actor=sites["reception_a"])  # the desk can until the end
    assert events(booking)[-1] == (BookingAction.cancelled, sites["reception_a"].id)


# --- workshops: waiting list and promotion -------------------------------------------------------


def test_full_workshop_puts_people_on_the_waiting_list_in_order(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), places=2)
    first, _t = register(workshop, n=1)
    second, _t = register(workshop, n=2)
    third, _t = register(workshop, n=3)
    fourth, _t = register(workshop, n=4)
    assert [b.state for b in (first, second, third, fourth)] == [BookingState.confirmed] * 2 + [BookingState.waiting] * 2
    assert [workshops.waiting_position(b) for b in (third, fourth)] == [1, 2]
    assert events(third) == [(BookingAction.joined_waiting_list, None)]
    with pytest.raises(ledger.ReservationError, match="déjà une place à cet atelier"):
        workshops.register(workshop.id, "Fatima", contact(3))


def test_cancelling_promotes_the_first_waiting_in_the_same_transaction(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    placed, _t = register(workshop, n=1)
    waiting_1, _t = register(workshop, n=2)
    waiting_2, _t = register(workshop, n=3)

    promoted = bookings.cancel(placed.id)
    # Nothing committed yet: the promotion is part of the cancellation's transaction.
    assert [b.id for b in promoted] == [waiting_1.id]
    db.session.rollback()
    assert _db.session.get(Booking, placed.id).is_confirmed and _db.session.get(Booking, waiting_1.id).is_waiting

    bookings.cancel(placed.id)
    db.session.commit()
    _db.session.expire_all()
    assert _db.session.get(Booking, waiting_1.id).is_confirmed
    assert _db.session.get(Booking, waiting_1.id).promoted_at == MONDAY
    assert workshops.waiting_position(_db.session.get(Booking, waiting_2.id)) == 1
    assert events(waiting_1)[-1] == (BookingAction.promoted, None)


def test_cancelling_while_waiting_promotes_nobody(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    register(workshop, n=1)
    waiting_1, _t = register(workshop, n=2)
    waiting_2, _t = register(workshop, n=3)
    assert bookings.cancel(waiting_1.id) == []
    db.session.commit()
    assert workshops.waiting_position(waiting_2) == 1
    assert workshops.confirmed_count(workshop.id) == 1


def test_no_promotion_once_the_workshop_has_started(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), day=TUESDAY, places=1)
    placed, _t = register(workshop, n=1)
    waiting, _t = register(workshop, n=2)
    frozen.set(workshop.starts_at + timedelta(minutes=1))
    with pytest.raises(ledger.ReservationError, match="déjà commencé"):
        bookings.cancel(placed.id, actor=sites["manager_a"])
    with pytest.raises(ledger.ReservationError, match="déjà commencé"):
        workshops.register(workshop.id, "Kévin", contact(3))
    assert workshops.promote_from_waiting_list(workshop) == []
    db.session.rollback()
    assert _db.session.get(Booking, waiting.id).is_waiting


def test_more_places_promote_people_waiting(db, frozen, sites):
    room = make_room(sites["a"], workstations=6)
    workshop = make_workshop(room, places=1)
    register(workshop, n=1)
    waiting, _t = register(workshop, n=2)
    data = workshops.WorkshopData(workshop.title, workshop.description, workshop.level, workshop.facilitator, 2)
    promoted = workshops.update_workshop(sites["manager_a"], workshop.id, data)
    assert [b.id for b in promoted] == [waiting.id]
    with pytest.raises(ledger.ReservationError, match="2 personnes sont déjà inscrites"):
        workshops.update_workshop(sites["manager_a"], workshop.id, workshops.WorkshopData("x", "", Level.everyone, "", 1))


def test_attendance_after_the_start_only_and_recorded(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), day=TUESDAY, places=2)
    booking, _t = register(workshop, n=1)
    with pytest.raises(ledger.ReservationError, match="commencé"):
        workshops.mark_attendance(booking.id, Attendance.present, sites["reception_a"])
    frozen.set(workshop.starts_at + timedelta(minutes=10))
    workshops.mark_attendance(booking.id, Attendance.excused, sites["reception_a"])
    workshops.mark_attendance(booking.id, Attendance.present, sites["reception_a"])
    db.session.commit()
    assert booking.attendance is Attendance.present
    rows = _db.session.scalars(select(BookingEvent).where(BookingEvent.booking_id == booking.id,
                                                          BookingEvent.action == BookingAction.attendance)).all()
    assert [(e.attendance, e.actor_id, e.site_id) for e in rows] == [
        (Attendance.excused, sites["reception_a"].id, sites["a"].id),
        (Attendance.present, sites["reception_a"].id, sites["a"].id),
    ]


# --- workshops: creation -------------------------------------------------------------------------


def data(places=4, title="Démarches en ligne"):
    return workshops.WorkshopData(title, "On apprend.", Level.beginner, "Léa", places)


def test_create_a_weekly_series(db, frozen, sites):
    room = make_room(sites["a"], workstations=6)
    created = workshops.create_workshops(sites["manager_a"], room, data(), TUESDAY, time(10), time(12), repeat_weeks=3)
    db.session.commit()
    assert len(created) == 4 and len({w.series_id for w in created}) == 1
    # Every occurrence at 10:00 local, across the spring change.
    assert [w.starts_at.astimezone(PARIS).hour for w in created] == [10, 10, 10, 10]
    assert [w.starts_at.hour for w in created] == [9, 8, 8, 8]


def test_overlapping_workshops_are_refused_all_or_nothing(db, frozen, sites):
    room = make_room(sites["a"], workstations=6)
    make_workshop(room, day=TUESDAY + timedelta(weeks=2), starts=time(11), ends=time(13), title="Tablette")
    with pytest.raises(ledger.ReservationError, match="déjà l'atelier « Tablette »"):
        workshops.create_workshops(sites["manager_a"], room, data(), TUESDAY, time(10), time(12), repeat_weeks=3)
    db.session.rollback()
    assert _db.session.scalar(select(func.count()).select_from(Workshop)) == 1
    # Back to back is fine; another room is fine.
    workshops.create_workshops(sites["manager_a"], room, data(), TUESDAY + timedelta(weeks=2), time(13), time(14))
    workshops.create_workshops(sites["manager_a"], make_room(sites["a"]), data(places=2), TUESDAY + timedelta(weeks=2), time(11), time(13))


def test_workshop_cannot_overbook_a_slot_already_booked(db, frozen, sites):
    room = make_room(sites["a"], workstations=4)
    for n in (1, 2, 3):
        book(room, at_local(TUESDAY, 14), n=n)
    with pytest.raises(ledger.ReservationError, match="3 postes sont déjà réservés .* au plus 1 places"):
        workshops.create_workshops(sites["manager_a"], room, data(places=2), TUESDAY, time(14), time(16))
    db.session.rollback()
    workshops.create_workshops(sites["manager_a"], room, data(places=1), TUESDAY, time(14), time(16))


def test_workshop_rules(db, frozen, sites):
    room = make_room(sites["a"], workstations=4)
    with pytest.raises(ledger.ReservationError, match="4 postes : pas plus de 4 places"):
        workshops.create_workshops(sites["manager_a"], room, data(places=5), TUESDAY, time(10), time(12))
    with pytest.raises(ledger.ReservationError, match="déjà passé"):
        workshops.create_workshops(sites["manager_a"], room, data(), date(2026, 3, 20), time(10), time(12))
    with pytest.raises(ledger.ReservationError, match="Seuls les responsables"):
        workshops.create_workshops(sites["manager_b"], room, data(), TUESDAY, time(10), time(12))
    with pytest.raises(ledger.ReservationError, match="Seuls les responsables"):
        workshops.create_workshops(sites["reception_a"], room, data(), TUESDAY, time(10), time(12))


def test_the_database_backs_the_no_overlap_rule(db, frozen, sites):
    """PostgreSQL: an exclusion constraint refuses an overlap even when the Python check is bypassed.
    SQLite has none: the check in create_workshops, under the write lock, is the rule there."""
    from sqlalchemy.exc import IntegrityError

    room = make_room(sites["a"])
    make_workshop(room, day=TUESDAY, starts=time(10), ends=time(12))
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(IntegrityError, match="workshops_no_overlap"):
            make_workshop(room, day=TUESDAY, starts=time(11), ends=time(13))
    else:
        with pytest.raises(ledger.ReservationError, match="déjà l'atelier"):
            workshops.create_workshops(sites["manager_a"], room, data(places=1), TUESDAY, time(11), time(13))


def test_cancel_a_workshop_cancels_its_registrations(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    placed, _t = register(workshop, n=1)
    waiting, _t = register(workshop, n=2)
    assert workshops.cancel_workshop(sites["manager_a"], workshop.id) == 2
    db.session.commit()
    assert placed.is_cancelled and waiting.is_cancelled and workshop.is_cancelled
    # The room is free again for another workshop at that time.
    workshops.create_workshops(sites["manager_a"], workshop.room, data(places=2), workshop.starts_at.astimezone(PARIS).date(),
                               time(10), time(12))


def test_public_holidays():
    days = dict(rooms.french_public_holidays(2026))
    assert date(2026, 4, 6) in days  # Easter Monday 2026
    assert date(2026, 5, 14) in days  # Ascension
    assert date(2026, 5, 25) in days  # Whit Monday
    assert len(days) == 11

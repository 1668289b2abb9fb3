"""Slot derivation: weekly hours − closures − workshops, in local time across daylight saving."""
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from core.contacts import normalise_phone
from reservations import slots as slotlib
from reservations.forms import parse_hours
from reservations.identity import IdentityError, parse_contact
from reservations.models import Closure, Room
from tests.reservations.factories import book, make_room, make_workshop

UTC = UTC
TUESDAY_AFTERNOON = {1: [(time(14), time(17))]}


def slots_of(room, first, last=None):
    period = slotlib.load_period(select(Room).where(Room.id == room.id), first, last or first)
    return period.slots(period.rooms[0])


def test_hours_give_consecutive_slots_of_the_room_length(db, frozen, sites):
    room = make_room(sites["a"], hours={1: [(time(9), time(12)), (time(14), time(17))]}, slot_minutes=90)
    slots = slots_of(room, date(2026, 3, 24))
    starts = [s.local_start.strftime("%H:%M") for s in slots]
    # 90-minute slots: 9:00, 10:30 in the morning; 14:00, 15:30 in the afternoon (17:00 is the end).
    assert starts == ["09:00", "10:30", "14:00", "15:30"]
    assert all((s.ends_at - s.starts_at).total_seconds() == 90 * 60 for s in slots)
    assert slots_of(room, date(2026, 3, 25)) == []  # Wednesday: no hours


@pytest.mark.parametrize(
    "tuesday, utc_hour",
    [
        (date(2026, 3, 24), 13),  # before the spring change: CET, UTC+1
        (date(2026, 3, 31), 12),  # after: CEST, UTC+2
        (date(2026, 10, 20), 12),  # before the autumn change: CEST
        (date(2026, 10, 27), 13),  # after: CET
    ],
)
def test_a_14_h_slot_stays_14_h_local_across_daylight_saving(db, frozen, sites, tuesday, utc_hour):
    room = make_room(sites["a"], hours=TUESDAY_AFTERNOON, days_ahead=400)
    first = slots_of(room, tuesday)[0]
    assert first.local_start.hour == 14 and first.local_start.minute == 0
    assert first.starts_at == datetime(tuesday.year, tuesday.month, tuesday.day, utc_hour, tzinfo=UTC)


@pytest.mark.parametrize("sunday", [date(2026, 3, 29), date(2026, 10, 25)])
def test_slots_on_the_daylight_saving_sundays(db, frozen, sites, sunday):
    room = make_room(sites["a"], hours={6: [(time(9), time(12))]}, days_ahead=400)
    slots = slots_of(room, sunday)
    assert [s.local_start.hour for s in slots] == [9, 10, 11]
    assert all((s.ends_at - s.starts_at).total_seconds() == 3600 for s in slots)


def test_the_hour_that_does_not_exist_gives_no_slot(db, frozen, sites):
    # On 29 March 2026, 2:00 jumps to 3:00: a 2:00-3:00 slot has no length and is not offered.
    room = make_room(sites["a"], hours={6: [(time(1), time(4))]}, days_ahead=400)
    slots = slots_of(room, date(2026, 3, 29))
    assert [s.local_start.hour for s in slots] == [1, 3]
    assert all(s.ends_at > s.starts_at for s in slots)


def test_a_week_crossing_the_spring_change(db, frozen, sites):
    room = make_room(sites["a"], hours={wd: [(time(14), time(15))] for wd in range(7)}, days_ahead=400)
    slots = slots_of(room, date(2026, 3, 26), date(2026, 4, 1))
    assert len(slots) == 7
    assert {s.local_start.hour for s in slots} == {14}
    assert {s.starts_at.hour for s in slots} == {13, 12}


def test_closures_remove_days_for_the_room_or_the_whole_site(db, frozen, sites):
    room = make_room(sites["a"], hours={wd: [(time(14), time(16))] for wd in range(7)})
    other = make_room(sites["a"], hours={wd: [(time(14), time(16))] for wd in range(7)})
    db.session.add_all([
        Closure(site_id=sites["a"].id, room_id=None, first_day=date(2026, 3, 24), last_day=date(2026, 3, 24), reason="Férié"),
        Closure(site_id=sites["a"].id, room_id=room.id, first_day=date(2026, 3, 26), last_day=date(2026, 3, 27), reason="Travaux"),
        # A closure of site B changes nothing at site A.
        Closure(site_id=sites["b"].id, room_id=None, first_day=date(2026, 3, 25), last_day=date(2026, 3, 25), reason="B"),
    ])
    db.session.commit()
    days = lambda r: sorted({s.local_start.day for s in slots_of(r, date(2026, 3, 24), date(2026, 3, 28))})  # noqa: E731  (a one-line reading helper)
    assert days(room) == [25, 28]
    assert days(other) == [25, 26, 27, 28]


def test_workshops_and_bookings_take_places(db, frozen, sites):
    room = make_room(sites["a"], workstations=6, hours=TUESDAY_AFTERNOON)
    tuesday = date(2026, 3, 24)
    make_workshop(room, day=tuesday, starts=time(14, 30), ends=time(15, 30), places=4)
    first = slots_of(room, tuesday)[0]
    book(room, first.starts_at, n=1)
    slots = slots_of(room, tuesday)
    # 14:00 slot: 1 booking + the workshop overlapping its second half (4 places) → 1 free.
    assert (slots[0].booked, slots[0].workshop_use, slots[0].free) == (1, 4, 1)
    assert (slots[1].booked, slots[1].workshop_use, slots[1].free) == (0, 4, 2)
    assert (slots[2].booked, slots[2].workshop_use, slots[2].free) == (0, 0, 6)


def test_a_week_of_several_rooms_loads_in_a_fixed_number_of_queries(db, frozen, sites, count_queries):
    rooms = [make_room(sites["a"], workstations=3) for _n in range(3)]
    for room in rooms:
        make_workshop(room, day=date(2026, 3, 25), starts=time(10), ends=time(11))
        first = slots_of(room, date(2026, 3, 24))[0]
        book(room, first.starts_at, n=room.id)
    site_id = sites["a"].id
    db.session.commit()
    with count_queries() as n:
        period = slotlib.load_period(select(Room).where(Room.site_id == site_id), date(2026, 3, 23), date(2026, 3, 29))
        total = sum(len(period.slots(room)) for room in period.rooms)
    assert total == 3 * 7 * 3
    assert n() == 5  # rooms, their hours, closures, workshops, booking counts


# --- small parsers ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678", "+33 (0)6 12 34 56 78",
                                 "0033 6 12 34 56 78"])
def test_french_phone_numbers_are_the_same_number(raw):
    assert normalise_phone(raw) == "+33612345678"


@pytest.mark.parametrize("raw", ["12345", "06 12 34", "abc", "06 12 34 56 78 90", "00 00 00 00 00"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(IdentityError):
        normalise_phone(raw)


def test_contact_is_a_phone_or_an_email():
    assert parse_contact(" Nadia.B@Exemple.FR ").key == "nadia.b@exemple.fr"
    assert parse_contact("07 00 00 00 01").key == "+33700000001"
    assert parse_contact("+44 7700 900123").key == "+447700900123"
    with pytest.raises(IdentityError, match="adresse e-mail n'est pas valable"):
        parse_contact("nadia@")


def test_hours_parser():
    assert parse_hours("9:00-12:00, 14h-17h30") == [(time(9), time(12)), (time(14), time(17, 30))]
    assert parse_hours("") == []
    for bad in ("9-8", "25:00-26:00", "9:00-12:00, 11:00-13:00", "matin"):
        with pytest.raises(ValueError):
            parse_hours(bad)

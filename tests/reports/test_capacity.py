"""Open-access capacity by arithmetic (reports/capacity.py) agrees with the slots the booking pages
derive one by one (reservations/slots.derive), including both daylight-saving Sundays."""
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import PARIS
from reports import capacity
from reservations import slots as slotlib
from reservations.models import Closure, OpeningHours, Room, Workshop


def room(room_id=1, site_id=1, workstations=4, slot_minutes=60, hours=(), created=date(2026, 1, 1)):
    r = Room(id=room_id, site_id=site_id, name=f"Salle {room_id}", workstations=workstations, slot_minutes=slot_minutes,
             created_at=datetime.combine(created, time(8), tzinfo=PARIS).astimezone(UTC))
    r.hours = [OpeningHours(weekday=wd, starts=s, ends=e) for wd, s, e in hours]
    return r


def workshop(room_id, day, starts, ends, places):
    return Workshop(room_id=room_id, starts_at=slotlib.local_to_utc(day, starts), ends_at=slotlib.local_to_utc(day, ends), places=places)


def by_derive(rooms, closures, workshops, first, end):
    """The reference: every slot of every day, seats left after workshops × the slot's real length."""
    seat = open_ = 0
    for r in rooms:
        created = r.created_at.astimezone(PARIS).date()
        days = [first + timedelta(days=n) for n in range((end - first).days) if first + timedelta(days=n) >= created]
        site_closures = [c for c in closures if c.site_id == r.site_id]
        for slot in slotlib.derive(r, days, site_closures, [w for w in workshops if w.room_id == r.id]):
            seats = slot.capacity - slot.workshop_use
            if seats > 0:
                minutes = round((slot.ends_at - slot.starts_at).total_seconds() / 60)
                seat += seats * minutes
                open_ += minutes
    return seat, open_


def by_arithmetic(rooms, closures, workshops, first, end, site_id=1):
    result = capacity.offered(
        [capacity.RoomPlan.of(r) for r in rooms], closures,
        [(w.room_id, w.starts_at, w.ends_at, w.places) for w in workshops], [("all", first, end)],
    )
    total = result.get((site_id, "all"), capacity.Capacity())
    return total.seat_minutes, total.open_minutes


def test_the_hour_that_does_not_exist_and_the_hour_that_repeats():
    """Night hours on Sundays: 29 March has no 2:00 slot; on 25 October the 2:00 slot lasts 2 hours."""
    night = room(hours=[(6, time(1), time(4))], workstations=2)
    assert by_arithmetic([night], [], [], date(2026, 3, 29), date(2026, 3, 30)) == (2 * 2 * 60, 2 * 60)
    assert by_arithmetic([night], [], [], date(2026, 10, 25), date(2026, 10, 26)) == (2 * 4 * 60, 4 * 60)
    assert by_arithmetic([night], [], [], date(2026, 10, 18), date(2026, 10, 19)) == (2 * 3 * 60, 3 * 60)
    for first, end in ((date(2026, 3, 29), date(2026, 3, 30)), (date(2026, 10, 25), date(2026, 10, 26))):
        assert by_arithmetic([night], [], [], first, end) == by_derive([night], [], [], first, end)


def test_closures_workshops_and_the_creation_day():
    r = room(hours=[(1, time(14), time(17)), (5, time(9), time(12))], workstations=4, created=date(2026, 3, 2))
    other = room(room_id=2, hours=[(1, time(14), time(16))], workstations=3)
    closures = [
        Closure(site_id=1, room_id=None, first_day=date(2026, 3, 17), last_day=date(2026, 3, 17)),
        Closure(site_id=1, room_id=1, first_day=date(2026, 3, 21), last_day=date(2026, 3, 22)),
        Closure(site_id=2, room_id=None, first_day=date(2026, 3, 10), last_day=date(2026, 3, 10)),  # another site
    ]
    workshops = [workshop(1, date(2026, 3, 24), time(14), time(16), 3), workshop(1, date(2026, 3, 31), time(15, 30), time(16), 4)]
    first, end = date(2026, 3, 1), date(2026, 4, 1)
    # Room 1 (from the 2nd): Tuesdays 3, 10, 24, 31 and Saturdays 7, 14, 28 → 7 days × 3 slots × 4 seats = 84 h,
    # minus the workshops: 2 slots × 3 seats on the 24th, the 15:00 slot entirely on the 31st → 84 − 6 − 4 = 74 h.
    # Room 2: Tuesdays 3, 10, 24, 31 (17th closed) → 4 × 2 × 3 = 24 h.
    assert by_arithmetic([r, other], closures, workshops, first, end) == ((74 + 24) * 60, (21 - 1 + 8) * 60)
    assert by_arithmetic([r, other], closures, workshops, first, end) == by_derive([r, other], closures, workshops, first, end)


def test_buckets_split_the_same_total():
    r = room(hours=[(wd, time(9), time(12)) for wd in range(7)])
    buckets = [(k, date(2026, 3, 1) + timedelta(days=7 * k), date(2026, 3, 1) + timedelta(days=7 * k + 7)) for k in range(5)]
    result = capacity.offered([capacity.RoomPlan.of(r)], [], [], buckets)
    per_week = [result[(1, k)].seat_minutes for k in range(5)]
    assert per_week == [7 * 3 * 4 * 60] * 5
    assert sum(per_week) == by_derive([r], [], [], date(2026, 3, 1), date(2026, 4, 5))[0]


hours_strategy = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 20), st.integers(1, 4)), min_size=1, max_size=5
).map(lambda ranges: [(wd, time(h), time(min(23, h + length))) for wd, h, length in ranges])


@settings(max_examples=60, deadline=None)
@given(
    hours=hours_strategy,
    slot_minutes=st.sampled_from([30, 60, 90]),
    workstations=st.integers(1, 12),
    start=st.dates(date(2025, 12, 1), date(2027, 1, 1)),
    length=st.integers(1, 120),
    closure_days=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 5), st.booleans()), max_size=4),
    workshop_specs=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 22), st.integers(1, 3), st.integers(1, 12)), max_size=5),
    created_offset=st.integers(-30, 60),
)
def test_arithmetic_matches_the_slots_one_by_one(
    hours, slot_minutes, workstations, start, length, closure_days, workshop_specs, created_offset
):
    r = room(hours=hours, slot_minutes=slot_minutes, workstations=workstations, created=start + timedelta(days=created_offset))
    closures = [
        Closure(site_id=1, room_id=None if whole else 1, first_day=start + timedelta(days=d), last_day=start + timedelta(days=d + n))
        for d, n, whole in closure_days
    ]
    workshops = [
        workshop(1, start + timedelta(days=d), time(h), time(min(23, h + n)), places)
        for d, h, n, places in workshop_specs
    ]
    end = start + timedelta(days=length)
    assert by_arithmetic([r], closures, workshops, start, end) == by_derive([r], closures, workshops, start, end)

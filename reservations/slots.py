"""Open-access slots, derived (never stored) from weekly hours − closures − workshops.

Hours are local wall-clock times: a Tuesday 14:00 slot is built from the local date and time in
Europe/Paris, then converted to UTC, so it stays 14:00 local on both sides of a daylight-saving
change. A whole period is loaded with a fixed number of grouped queries, never one per slot.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from core.clock import PARIS, local_midnight_utc
from core.extensions import db

from .models import Booking, Closure, Room, Workshop


@dataclass
class Slot:
    room_id: int
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    capacity: int
    booked: int = 0
    workshop_use: int = 0
    workshops: list = field(default_factory=list)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(PARIS)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(PARIS)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked - self.workshop_use)

    @property
    def key(self) -> str:
        """How a slot appears in a URL: its local start, e.g. 1430."""
        return self.local_start.strftime("%H%M")


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=PARIS).astimezone(UTC)


def day_bounds_utc(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """From local midnight of first_day to local midnight after last_day, in UTC."""
    return local_midnight_utc(first_day), local_midnight_utc(last_day + timedelta(days=1))


def slot_times(day: date, starts: time, ends: time, minutes: int) -> list[tuple[datetime, datetime]]:
    """Consecutive slots of `minutes` inside one range of hours, as UTC (start, end) pairs."""
    pairs = []
    cursor = datetime.combine(day, starts)
    limit = datetime.combine(day, ends)
    step = timedelta(minutes=minutes)
    while cursor + step <= limit:
        start = cursor.replace(tzinfo=PARIS).astimezone(UTC)
        end = (cursor + step).replace(tzinfo=PARIS).astimezone(UTC)
        if end > start:  # a slot inside the hour skipped when clocks go forward does not exist
            pairs.append((start, end))
        cursor += step
    return pairs


def closure_for(closures, day: date, room_id: int):
    for closure in closures:
        if closure.covers(day, room_id):
            return closure
    return None


def derive(room: Room, days, closures=(), workshops=(), booking_counts=()) -> list[Slot]:
    """The slots of one room on the given local days.

    closures: Closure rows of the room's site; workshops: the room's workshops (not cancelled);
    booking_counts: (starts_at, ends_at, count) of confirmed seat bookings in the room.
    """
    slots = []
    by_weekday = defaultdict(list)
    for hours in room.hours:
        by_weekday[hours.weekday].append(hours)
    for day in days:
        if closure_for(closures, day, room.id):
            continue
        for hours in sorted(by_weekday.get(day.weekday(), []), key=lambda h: h.starts):
            for start, end in slot_times(day, hours.starts, hours.ends, room.slot_minutes):
                slot = Slot(room.id, start, end, room.workstations)
                for workshop in workshops:
                    if workshop.starts_at < end and workshop.ends_at > start:
                        slot.workshop_use += workshop.places
                        slot.workshops.append(workshop)
                for b_start, b_end, count in booking_counts:
                    if b_start < end and b_end > start:
                        slot.booked += count
                slots.append(slot)
    return slots


@dataclass
class Period:
    """Everything needed to draw the slots of some rooms over some days, loaded in 4 queries."""

    rooms: list
    days: list
    closures: list
    workshops: dict  # room_id -> [Workshop]
    counts: dict  # room_id -> [(starts_at, ends_at, count)]

    def slots(self, room: Room) -> list[Slot]:
        return derive(room, self.days, self.closures, self.workshops.get(room.id, ()), self.counts.get(room.id, ()))

    def closure(self, day: date, room_id: int):
        return closure_for(self.closures, day, room_id)


def load_period(rooms_query, first_day: date, last_day: date) -> Period:
    rooms = db.session.scalars(rooms_query.options(selectinload(Room.hours))).all()
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    room_ids = [room.id for room in rooms]
    site_ids = sorted({room.site_id for room in rooms})
    start, end = day_bounds_utc(first_day, last_day)
    if not room_ids:
        return Period(rooms, days, [], {}, {})
    closures = db.session.scalars(
        select(Closure).where(
            Closure.site_id.in_(site_ids),
            Closure.first_day <= last_day,
            Closure.last_day >= first_day,
            or_(Closure.room_id.is_(None), Closure.room_id.in_(room_ids)),
        )
    ).all()
    workshops = defaultdict(list)
    for workshop in db.session.scalars(
        select(Workshop)
        .where(
            Workshop.room_id.in_(room_ids),
            ~Workshop.is_cancelled,
            Workshop.starts_at < end,
            Workshop.ends_at > start,
        )
        .order_by(Workshop.starts_at)
    ):
        workshops[workshop.room_id].append(workshop)
    counts = defaultdict(list)
    rows = db.session.execute(
        select(Booking.room_id, Booking.starts_at, Booking.ends_at, func.count())
        .where(
            Booking.room_id.in_(room_ids),
            Booking.is_seat,
            Booking.is_confirmed,
            Booking.starts_at < end,
            Booking.starts_at >= start - timedelta(hours=2),
        )
        .group_by(Booking.room_id, Booking.starts_at, Booking.ends_at)
    )
    for room_id, b_start, b_end, count in rows:
        counts[room_id].append((b_start, b_end, count))
    return Period(rooms, days, closures, workshops, counts)


def bookable(slot: Slot, room: Room, at: datetime) -> bool:
    """Inside the booking window of residents: not started, not too late, not too far ahead."""
    if slot.starts_at - timedelta(minutes=room.minutes_before) < at:
        return False
    last_day = at.astimezone(PARIS).date() + timedelta(days=room.days_ahead)
    return slot.local_start.date() <= last_day


def bookable_days(period: Period, at: datetime) -> list[tuple[date, int, list[tuple[datetime, datetime]]]]:
    """The days with a seat residents can still book, each with what they can use: the workstations
    of the rooms with a free seat that day, and the (UTC) ranges of time when places are left —
    never a sum of seats over slots."""
    by_day = {}
    for room in period.rooms:
        for slot in period.slots(room):
            if slot.free and bookable(slot, room, at):
                rooms, ranges = by_day.setdefault(slot.local_start.date(), ({}, []))
                rooms[room.id] = room.workstations
                ranges.append((slot.starts_at, slot.ends_at))
    return [(day, sum(rooms.values()), _merge(ranges)) for day, (rooms, ranges) in sorted(by_day.items())]


def _merge(ranges):
    """Touching or overlapping (start, end) ranges merged: 9-10, 10-11, 11-12 → 9-12."""
    merged = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]

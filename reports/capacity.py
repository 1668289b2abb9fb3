"""Open-access capacity offered by computer rooms over a period, without deriving every slot.

The reference definition is reservations/slots.py: a room's slots come from its weekly hours in
local time, minus closure days, and a workshop takes its places from every slot it overlaps
(seats left = workstations − workshop places, never below 0). A year of slots for two hundred
sites is a few hundred thousand objects, so here the same figures come from arithmetic:

    offered = Σ weekdays (number of such days in the range × what one such day offers)
              − what the "special" days would have offered + what they really offer

where special days are closure days (offer nothing), days with a workshop in the room, and the
two daylight-saving Sundays of each year (the hour that does not exist gives no slot, the hour
that repeats makes a longer slot). Special days are derived slot by slot with slots.slot_times,
exactly as the booking pages do; tests/reports/test_capacity.py checks both ways agree.

Rooms, hours, closures and workshops are small tables: they are loaded; bookings never are.
A room offers nothing before the day it was created (no booking was possible before).
"""
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time, timedelta

from core.clock import PARIS
from reservations.slots import slot_times


@dataclass
class Capacity:
    seat_minutes: int = 0  # workstation-minutes open to residents (what "seat-hours offered" counts)
    open_minutes: int = 0  # minutes with at least one workstation open to residents

    def add(self, seat_minutes: int, open_minutes: int, times: int = 1):
        self.seat_minutes += seat_minutes * times
        self.open_minutes += open_minutes * times


@dataclass(frozen=True)
class RoomPlan:
    """What capacity needs to know about one room (built from a Room with its hours loaded)."""

    room_id: int
    site_id: int
    workstations: int
    slot_minutes: int
    created_on: date
    hours: tuple  # ((weekday, starts, ends), …)

    @classmethod
    def of(cls, room) -> "RoomPlan":
        return cls(
            room.id, room.site_id, room.workstations, room.slot_minutes,
            room.created_at.astimezone(PARIS).date(),
            tuple((h.weekday, h.starts, h.ends) for h in room.hours),
        )


def weekday_counts(first: date, end: date) -> list[int]:
    """How many Mondays … Sundays in [first, end)."""
    days = max(0, (end - first).days)
    counts = [days // 7] * 7
    for n in range(days % 7):
        counts[(first.weekday() + n) % 7] += 1
    return counts


def _daylight_saving_days(first: date, end: date) -> list[date]:
    """Days whose length is not 24 hours (last Sundays of March and October in Europe/Paris)."""
    found = []
    for year in range(first.year, end.year + 1):
        for month in (3, 10):
            day = date(year, month, 31)
            day -= timedelta(days=(day.weekday() + 1) % 7)  # back to Sunday
            if first <= day < end:
                found.append(day)
    return found


def _local_slot_count(starts: time, ends: time, minutes: int) -> int:
    span = (ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)
    return max(0, span // minutes)


def _day_exact(plan: RoomPlan, day: date, workshops) -> Capacity:
    """One day of one room, slot by slot, as slots.derive() sees it."""
    capacity = Capacity()
    for weekday, starts, ends in plan.hours:
        if weekday != day.weekday():
            continue
        for start, end in slot_times(day, starts, ends, plan.slot_minutes):
            used = sum(places for w_start, w_end, places in workshops if w_start < end and w_end > start)
            seats = plan.workstations - used
            if seats > 0:
                minutes = round((end - start).total_seconds() / 60)
                capacity.add(seats * minutes, minutes)
    return capacity


def offered(plans, closures, workshops, buckets) -> dict:
    """Capacity offered by each site in each bucket.

    plans: RoomPlan of every room of the sites; closures: objects with site_id, room_id,
    first_day, last_day; workshops: (room_id, starts_at, ends_at, places) of workshops not
    cancelled; buckets: [(key, first, end)] of half-open, non-overlapping day ranges.
    Returns {(site_id, key): Capacity}.
    """
    result = defaultdict(Capacity)
    if not buckets:
        return result
    buckets = sorted(buckets, key=lambda bucket: bucket[1])
    starts = [first for _key, first, _end in buckets]
    span_first, span_end = min(starts), max(end for _k, _f, end in buckets)

    def bucket_of(day):
        index = bisect_right(starts, day) - 1
        if index < 0:
            return None
        key, first, end = buckets[index]
        return key if first <= day < end else None

    closures_by_site = defaultdict(list)
    for closure in closures:
        closures_by_site[closure.site_id].append(closure)
    workshops_by_room = defaultdict(list)
    for room_id, w_start, w_end, places in workshops:
        workshops_by_room[room_id].append((w_start, w_end, places))
    dst_days = _daylight_saving_days(span_first, span_end)

    for plan in plans:
        per_weekday = [Capacity() for _ in range(7)]
        for weekday, h_starts, h_ends in plan.hours:
            slots = _local_slot_count(h_starts, h_ends, plan.slot_minutes)
            per_weekday[weekday].add(plan.workstations * plan.slot_minutes * slots, plan.slot_minutes * slots)
        room_first = max(span_first, plan.created_on)
        if room_first >= span_end:
            continue

        # Days that differ from an ordinary week: closed, with a workshop, or 23/25 hours long.
        closed = set()
        for closure in closures_by_site.get(plan.site_id, ()):
            if closure.room_id not in (None, plan.room_id):
                continue
            day = max(closure.first_day, room_first)
            while day <= closure.last_day and day < span_end:
                closed.add(day)
                day += timedelta(days=1)
        workshops_on = defaultdict(list)  # local day → the room's workshops that touch it
        for workshop in workshops_by_room.get(plan.room_id, []):
            w_start, w_end, _places = workshop
            day = w_start.astimezone(PARIS).date()
            while day <= (w_end - timedelta(microseconds=1)).astimezone(PARIS).date():
                workshops_on[day].append(workshop)
                day += timedelta(days=1)
        special = {d for d in closed | set(workshops_on) | set(dst_days) if room_first <= d < span_end}

        for key, first, end in buckets:
            first = max(first, room_first)
            if first >= end:
                continue
            target = result[(plan.site_id, key)]
            for weekday, count in enumerate(weekday_counts(first, end)):
                if count:
                    target.add(per_weekday[weekday].seat_minutes, per_weekday[weekday].open_minutes, count)
        for day in special:
            key = bucket_of(day)
            if key is None:
                continue
            target = result[(plan.site_id, key)]
            usual = per_weekday[day.weekday()]
            target.add(-usual.seat_minutes, -usual.open_minutes)
            if day not in closed:
                exact = _day_exact(plan, day, workshops_on.get(day, ()))
                target.add(exact.seat_minutes, exact.open_minutes)
    return result

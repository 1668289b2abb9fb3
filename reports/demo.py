"""Demo history for the reports: a year of open-access bookings with arrivals, weekly workshops with
attendance and waiting lists, residents registered through the year, devices nobody borrows.

The loans demo already has a year of loans; the reservations demo has rooms and the coming weeks.
This adds the past the charts need. Idempotent: a site whose demo bookings exist (contacts
07 99 …) is left as it is; demo devices are found by their serial number (DEMO-RAP-…).
Past bookings are inserted directly (the booking rules refuse the past), each with its history
rows, exactly like the reservations demo does for past workshops.
"""
import random
import secrets
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select

from core import clock
from core.clock import PARIS
from core.extensions import db
from core.models import Role, User
from core.residents import Resident, create_resident, resident_sites
from loans import operations as device_operations
from loans.models import Device
from reservations import ledger
from reservations import slots as slotlib
from reservations.demo import PEOPLE, ROOMS, WORKSHOPS
from reservations.identity import link_bookings
from reservations.models import Attendance, Booking, BookingAction, BookingEvent, BookingState, Room, Workshop

from . import summary

CONTACT_PREFIX = "+33799"  # E.164 (core/contacts.py) of 07 99 …, a range no operator gives out
HISTORY_DAYS = 365
NEW_FIRST = ["Aurélie", "Bruno", "Céline", "David", "Émilie", "Farid", "Gaëlle", "Hugo", "Imane", "Julie", "Laurent", "Mélissa"]
NEW_LAST = ["Vasseur", "Duhamel", "Carpentier", "Lefranc", "Bernard", "Hennebelle", "Descamps", "Delcroix"]


def load_demo(sites) -> list[str]:
    rng = random.Random(6)
    today = clock.local_now().date()
    start = today - timedelta(days=HISTORY_DAYS)
    admin = db.session.scalar(select(User).where(User.role == Role.admin).order_by(User.id).limit(1))
    bookings = workshops = residents = devices = 0
    for s_index, (name, spec) in enumerate(ROOMS.items(), start=1):
        site = sites.get(name)
        if site is None:
            continue
        room = db.session.scalar(select(Room).where(Room.site_id == site.id, Room.name == spec["name"]))
        if room is None:
            continue
        devices += _idle_devices(site, s_index, start)
        if db.session.scalar(
            select(Booking.id).where(Booking.site_id == site.id, Booking.contact_key.like(f"{CONTACT_PREFIX}%")).limit(1)
        ):
            continue
        # The room is as old as its history (no booking could exist before the room did).
        first_moment = datetime.combine(start, time(0), tzinfo=PARIS).astimezone(UTC)
        if room.created_at > first_moment:
            room.created_at = first_moment
        residents += len(_new_residents(site, s_index, start, today, admin, rng))
        db.session.flush()
        workshops += _past_workshops(site, room, s_index, start, today, admin, rng)
        bookings += _past_seats(site, room, s_index, start, today, admin, rng)
        link_bookings(site_ids=[site.id])  # the seats booked with a resident's phone are theirs
    db.session.flush()
    if bookings:  # inserted in bulk, past the ORM: the reports' sums are counted again
        summary.rebuild(db.session.connection())
    return [
        f"Rapports – réservations passées créées : {bookings}",
        f"Rapports – ateliers passés créés : {workshops}",
        f"Rapports – habitants inscrits dans l'année : {residents}",
        f"Rapports – équipements jamais prêtés : {devices}",
    ]


def _idle_devices(site, s_index, start) -> int:
    """Two tablets bought during the year and never lent: what the "rarely lent" table points at."""
    kinds = device_operations.ensure_default_kinds()
    created = 0
    for n in (1, 2):
        serial = f"DEMO-RAP-{s_index}-{n}"
        if db.session.scalar(select(Device.id).where(Device.serial_number == serial)):
            continue
        with clock.frozen(datetime.combine(start + timedelta(days=90 * n), time(9), tzinfo=PARIS)):
            device_operations.create_device(None, site, kinds["tablet"], brand="Samsung", model="Galaxy Tab A9",
                                            serial_number=serial, accessories="Chargeur\nCoque", funding="FEDER 2021-2027")
        created += 1
    return created


def _new_residents(site, s_index, start, today, admin, rng) -> list[Resident]:
    """Residents registered at the desk through the year (the "new residents" figure)."""
    people = []
    for n in range(10):
        day = start + timedelta(days=int(HISTORY_DAYS * (n + 0.5) / 10))
        if day >= today:
            break
        with clock.frozen(datetime.combine(day, time(10, 30), tzinfo=PARIS)):
            people.append(create_resident(
                admin, site, first_name=NEW_FIRST[(n + s_index) % len(NEW_FIRST)], last_name=NEW_LAST[(n * 3 + s_index) % len(NEW_LAST)],
                phone=f"06 55 {s_index:02d} {n:02d} {rng.randrange(10, 99)}", membership_number=f"DEMO-RAP-{s_index}-{n + 1:03d}",
            ))
    return people


def _history(rows):
    if rows:
        db.session.execute(insert(BookingEvent.__table__), rows)


def _booking_rows(rows):
    """Insert bookings in bulk (Core insert: the ORM's bulk path is ten times slower here); their ids in order."""
    table = Booking.__table__
    ids = []
    for start in range(0, len(rows), 1000):
        ids += db.session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows[start:start + 1000]).all()
    return ids


def _new_booking(site, room, starts_at, ends_at, first_name, contact_key, state, attendance, created_at, references, workshop_id=None):
    reference = ledger.new_reference()
    while reference in references:
        reference = ledger.new_reference()
    references.add(reference)
    return dict(
        reference=reference, token_hash=ledger.hash_token(secrets.token_urlsafe(24)), site_id=site.id, room_id=room.id,
        workshop_id=workshop_id, starts_at=starts_at, ends_at=ends_at, state=state, first_name=first_name,
        phone=contact_key, email="", contact_key=contact_key, attendance=attendance, created_by_id=None,
        created_at=created_at, cancelled_at=None, promoted_at=None,
    )


def _past_workshops(site, room, s_index, start, today, staff, rng) -> int:
    """A workshop every Thursday morning, full more often in winter, with attendance and waiting lists."""
    thursday = start + timedelta(days=(3 - start.weekday()) % 7)
    references = set(db.session.scalars(select(Booking.reference)))
    count = 0
    while thursday < today - timedelta(days=14):
        title, description, level = WORKSHOPS[count % len(WORKSHOPS)]
        starts_at = slotlib.local_to_utc(thursday, time(10))
        ends_at = slotlib.local_to_utc(thursday, time(12))
        places = min(room.workstations, 6)
        workshop = Workshop(site_id=site.id, room_id=room.id, title=title, description=description, level=level,
                            facilitator="Léa, conseillère numérique", starts_at=starts_at, ends_at=ends_at, places=places,
                            created_by_id=getattr(staff, "id", None), created_at=starts_at - timedelta(days=21))
        db.session.add(workshop)
        db.session.flush()
        winter = thursday.month in (1, 2, 3, 10, 11, 12)
        wanted = rng.randrange(3, places + (4 if winter else 1))
        rows, marks = [], []
        for n in range(wanted):
            person = 200 + (n * 7 + count) % 60
            contact = f"{CONTACT_PREFIX}{s_index:02d}{person:04d}"
            confirmed = n < places
            if confirmed:
                attendance = rng.choices([Attendance.present, Attendance.absent, Attendance.excused, None], [80, 8, 7, 5])[0]
            else:
                attendance = None
            rows.append(_new_booking(site, room, starts_at, ends_at, PEOPLE[person % len(PEOPLE)], contact,
                                     BookingState.confirmed if confirmed else BookingState.waiting, attendance,
                                     starts_at - timedelta(days=rng.randrange(2, 20)), references, workshop_id=workshop.id))
            marks.append(attendance)
        ids = _booking_rows(rows)
        events = []
        for booking_id, row, mark in zip(ids, rows, marks, strict=True):
            waiting = row["state"] is BookingState.waiting
            events.append(dict(booking_id=booking_id, site_id=site.id, at=row["created_at"], actor_id=None,
                               action=BookingAction.joined_waiting_list if waiting else BookingAction.booked,
                               from_state=None, to_state=row["state"], attendance=None, note=""))
            if mark is not None:
                events.append(dict(booking_id=booking_id, site_id=site.id, at=ends_at, actor_id=getattr(staff, "id", None),
                                   action=BookingAction.attendance, from_state=None, to_state=None, attendance=mark, note=""))
        _history(events)
        count += 1
        thursday += timedelta(days=7)
    return count


def _past_seats(site, room, s_index, start, today, staff, rng) -> int:
    """Open-access seats over the year: busier in winter and on Wednesdays, quiet in August; most arrivals noted."""
    period = slotlib.load_period(select(Room).where(Room.id == room.id), start, today - timedelta(days=1))
    known = db.session.execute(
        select(Resident.phone, Resident.created_at).join(resident_sites, resident_sites.c.resident_id == Resident.id)
        .where(resident_sites.c.site_id == site.id, Resident.phone != "").order_by(Resident.id)
    ).all()
    regulars = [f"{CONTACT_PREFIX}{s_index:02d}{n:04d}" for n in range(120)]
    references = set(db.session.scalars(select(Booking.reference)))
    rows, marks = [], []
    for slot in period.slots(period.rooms[0]):
        day = slot.local_start.date()
        season = {7: 0.35, 8: 0.2, 12: 0.7}.get(day.month, 1.0)
        busy = 0.3 + 0.4 * season + (0.15 if day.weekday() == 2 else 0)
        count = min(slot.free, max(0, round(rng.gauss(busy * slot.capacity, 1.2))))
        people = rng.sample(regulars, count)
        # Some seats are booked by residents known at the desk (their phone): one person, two activities.
        for i in range(len(people)):
            if known and rng.random() < 0.25:
                candidate, registered = known[rng.randrange(len(known))]
                if candidate not in people and registered < slot.starts_at:
                    people[i] = candidate
        for contact in people:
            attendance = rng.choices([Attendance.present, Attendance.absent, None], [78, 10, 12])[0]
            rows.append(_new_booking(site, room, slot.starts_at, slot.ends_at, PEOPLE[int(contact[-2:]) % len(PEOPLE)], contact,
                                     BookingState.confirmed, attendance, slot.starts_at - timedelta(days=rng.randrange(0, 10)), references))
            marks.append(attendance)
    ids = _booking_rows(rows) if rows else []
    events = []
    for booking_id, row, mark in zip(ids, rows, marks, strict=True):
        events.append(dict(booking_id=booking_id, site_id=site.id, at=row["created_at"], actor_id=None, action=BookingAction.booked,
                           from_state=None, to_state=BookingState.confirmed, attendance=None, note=""))
        if mark is not None:
            events.append(dict(booking_id=booking_id, site_id=site.id, at=row["starts_at"] + timedelta(minutes=10),
                               actor_id=getattr(staff, "id", None), action=BookingAction.attendance, from_state=None, to_state=None,
                               attendance=mark, note=""))
    for chunk in range(0, len(events), 5000):
        _history(events[chunk:chunk + 5000])
    return len(rows)


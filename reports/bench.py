"""Benchmark activity for the reports (`flask --app wsgi bench-activity`): years of loans and bookings.

Run after `bench-data` (sites and devices). Adds, on the benchmark sites, up to the requested totals:
residents, loans (one after another on each device, over about three years, a few still open),
repair intervals and retirements in the device history, one computer room per site with weekly
hours and public holidays, weekly workshops and their registrations, open-access seat bookings.
Everything is inserted in bulk (insert() executemany, in chunks). A second run adds nothing.

It writes what the reports read. It leaves out the lend/return history rows of each loan (two per
loan, never read by a report) and the booking history rows: the benchmark measures report pages.
Never run it on a real installation.
"""
import hashlib
import random
import time as timer
from datetime import UTC, date, datetime, time, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select, update

from core.clock import PARIS, local_now, now
from core.extensions import db
from core.residents import Resident, index_names, resident_sites
from loans.bench import ensure_sites
from loans.models import Device, DeviceAction, DeviceEvent, DeviceStatus, Loan, LoanOutcome
from reservations.ledger import REFERENCE_ALPHABET
from reservations.models import Attendance, Booking, BookingState, Closure, OpeningHours, Room, Workshop
from reservations.rooms import french_public_holidays

from . import summary

CHUNK = 5000
YEARS_BACK = 3
FIRST = ["Marie", "Karim", "Sandrine", "Jean", "Fatima", "Kevin", "Nathalie", "Mohamed", "Sylvie", "Dylan", "Léa", "Inès"]
LAST = ["Lefebvre", "Benali", "Dubois", "Wattez", "Haddad", "Dupont", "Lemaire", "Kaczmarek", "Leroy", "Martin"]


@click.command("bench-activity")
@click.option("--sites", default=200, show_default=True, help="Benchmark sites (created by bench-data if missing).")
@click.option("--loans", "loan_total", default=1_000_000, show_default=True, help="Loans in all.")
@click.option("--bookings", "booking_total", default=500_000, show_default=True, help="Bookings in all (seats and workshop places).")
@click.option("--residents", "resident_total", default=100_000, show_default=True, help="Residents in all.")
@click.option("--seed", default=1, show_default=True)
@with_appcontext
def bench_activity(sites, loan_total, booking_total, resident_total, seed):
    """Fill the benchmark sites with residents, loans, rooms, workshops and bookings (bulk inserts)."""
    rng = random.Random(seed)
    site_ids = ensure_sites(sites)
    started = timer.perf_counter()
    people = add_residents(site_ids, resident_total, rng)
    click.echo(f"Habitants : {sum(len(v) for v in people.values())} ({timer.perf_counter() - started:.0f} s)")
    loans = add_loans(site_ids, people, loan_total, rng)
    db.session.commit()
    click.echo(f"Prêts ajoutés : {loans} ({timer.perf_counter() - started:.0f} s)")
    rooms = ensure_rooms(site_ids, rng)
    bookings, workshops = add_bookings(rooms, booking_total, rng)
    if loans or bookings:  # inserted in bulk, past the ORM: the reports' sums are counted again
        summary.rebuild(db.session.connection())
    db.session.commit()
    click.echo(f"Salles : {len(rooms)} ; ateliers ajoutés : {workshops} ; réservations ajoutées : {bookings} "
               f"({timer.perf_counter() - started:.0f} s)")


def _chunks(rows, size=CHUNK):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


# --- residents -----------------------------------------------------------------------------------


def add_residents(site_ids, total, rng) -> dict:
    """{site_id: [resident ids]}, topping each site up to total / sites."""
    per_site = max(1, total // len(site_ids))
    have = dict(db.session.execute(
        select(resident_sites.c.site_id, func.count()).where(resident_sites.c.site_id.in_(site_ids)).group_by(resident_sites.c.site_id)
    ).all())
    stamp = now()
    for site_id in site_ids:
        missing = per_site - have.get(site_id, 0)
        if missing <= 0:
            continue
        rows = []
        for n in range(missing):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            created = stamp - timedelta(days=rng.randrange(0, 365 * (YEARS_BACK + 1)))
            rows.append(dict(first_name=first, last_name=last, first_name_key=first.lower(), last_name_key=last.lower(),
                             phone=f"+337{site_id % 100:02d}{(have.get(site_id, 0) + n) % 1000000:06d}", email="",
                             membership_number=f"BENCH-{site_id}-{have.get(site_id, 0) + n}", notes="",
                             created_at=created, created_by_id=None, charter_accepted_at=None))
        for chunk in _chunks(rows):
            ids = db.session.scalars(insert(Resident).returning(Resident.id, sort_by_parameter_order=True), chunk).all()
            db.session.execute(insert(resident_sites), [dict(resident_id=i, site_id=site_id) for i in ids])
            index_names(ids)  # their search keys (core/residents.py), as create_resident writes them
    people = {}
    for site_id, resident_id in db.session.execute(
        select(resident_sites.c.site_id, resident_sites.c.resident_id).where(resident_sites.c.site_id.in_(site_ids))
    ):
        people.setdefault(site_id, []).append(resident_id)
    return people


# --- loans and device history ---------------------------------------------------------------------


def add_loans(site_ids, people, total, rng) -> int:
    have = db.session.scalar(select(func.count(Loan.id)).where(Loan.site_id.in_(site_ids))) or 0
    if have >= total:
        return 0
    devices = db.session.execute(
        select(Device.id, Device.home_site_id, Device.status).where(Device.home_site_id.in_(site_ids)).order_by(Device.id)
    ).all()
    if not devices:
        raise click.ClickException("Aucun équipement de banc d'essai : lancez d'abord `flask bench-data`.")
    per_device = max(1, (total - have) // len(devices))
    extra = (total - have) - per_device * len(devices)
    today = local_now().date()
    loans, events, now_on_loan = [], [], []
    added = 0
    for index, (device_id, site_id, status) in enumerate(devices):
        count = per_device + (1 if index < extra else 0)
        residents = people.get(site_id) or [None]
        # Draw every loan first (length, lateness, gap, repair), then lay them out so the last one
        # ends by yesterday: the device's history fills the years before today, exactly `count` loans.
        plan = []
        for _n in range(count):
            length = rng.choice([3, 7, 7, 14, 14, 14, 21, 30])
            late = rng.random() < 0.15
            out = length + (rng.randrange(1, 12) if late else -rng.randrange(0, 3))
            outcome = rng.random()
            repair = rng.randrange(5, 30) if outcome < 0.035 else 0
            plan.append((length, max(0, out), outcome, repair, rng.randrange(1, 10)))
        day = today - timedelta(days=sum(out + repair + gap for _l, out, _o, repair, gap in plan) + 2)
        for n, (length, out, outcome, repair, gap) in enumerate(plan):
            due = day + timedelta(days=length)
            back = day + timedelta(days=out)
            started_at = _at(day, rng.randrange(9, 17))
            still_open = n == count - 1 and status is DeviceStatus.available and outcome > 0.92
            lost = not still_open and outcome < 0.002
            damaged = not still_open and not lost and outcome < 0.012
            closed_at = None if still_open else max(_at(back, rng.randrange(9, 18)), started_at + timedelta(hours=3))
            loans.append(dict(
                device_id=device_id, resident_id=rng.choice(residents), site_id=site_id, lent_by_id=None, started_at=started_at,
                due_on=due, accessories_out="Chargeur", condition_out="", charter_method="ticked", override_reason="", form_key=None,
                closed_at=closed_at, outcome=None if still_open else (LoanOutcome.lost if lost else LoanOutcome.returned),
                closed_site_id=None if still_open else site_id, closed_by_id=None, accessories_missing="", condition_in="",
                damaged=damaged, data_wiped=None,
                started_on=started_at.astimezone(PARIS).date(), closed_on=closed_at.astimezone(PARIS).date() if closed_at else None,
            ))
            if still_open:
                now_on_loan.append(device_id)
                break
            next_day = closed_at.astimezone(PARIS).date() + timedelta(days=gap)
            if repair:
                # Out of service for a while: repaired (or lost, then found) before the next loan.
                into = DeviceStatus.lost if lost else DeviceStatus.in_repair
                events.append(_event(device_id, site_id, closed_at, DeviceAction.loan_lost if lost else DeviceAction.send_to_repair,
                                     DeviceStatus.on_loan if lost else DeviceStatus.available, into))
                back_at = closed_at + timedelta(days=repair)
                events.append(_event(device_id, site_id, back_at, DeviceAction.found if lost else DeviceAction.back_from_repair,
                                     into, DeviceStatus.available))
                next_day = back_at.astimezone(PARIS).date() + timedelta(days=gap)
            day = next_day
        if status in (DeviceStatus.in_repair, DeviceStatus.retired):
            action = DeviceAction.send_to_repair if status is DeviceStatus.in_repair else DeviceAction.retire
            events.append(_event(device_id, site_id, _at(today - timedelta(days=1), 16), action, DeviceStatus.available, status))
        if len(loans) >= CHUNK:
            db.session.execute(insert(Loan), loans)
            added += len(loans)
            loans = []
        if len(events) >= CHUNK:
            db.session.execute(insert(DeviceEvent), events)
            events = []
    if loans:
        db.session.execute(insert(Loan), loans)
        added += len(loans)
    if events:
        db.session.execute(insert(DeviceEvent), events)
    for chunk in _chunks(now_on_loan, 500):
        db.session.execute(update(Device).where(Device.id.in_(chunk)).values(status=DeviceStatus.on_loan))
    return added


def _event(device_id, site_id, at, action, from_status, to_status):
    return dict(device_id=device_id, at=at, actor_id=None, site_id=site_id, action=action, from_status=from_status,
                to_status=to_status, loan_id=None, to_site_id=None, note="")


# --- rooms, workshops, bookings ----------------------------------------------------------------------

HOURS = [
    {1: [(14, 17)], 2: [(9, 12), (14, 17)], 3: [(14, 17)], 4: [(9, 12)]},
    {0: [(14, 17)], 2: [(14, 17)], 4: [(14, 17)]},
    {1: [(9, 12), (14, 18)], 3: [(14, 18)], 5: [(9, 12)]},
]
# What the desk noted for a workshop place: mostly present.
ATTENDANCE_DRAW = [Attendance.present, Attendance.present, Attendance.present, Attendance.absent, None]


def ensure_rooms(site_ids, rng) -> list:
    """One room per benchmark site, created three years ago, with hours and public holidays."""
    existing = {site_id: room_id for site_id, room_id in db.session.execute(
        select(Room.site_id, func.min(Room.id)).where(Room.site_id.in_(site_ids)).group_by(Room.site_id))}
    today = local_now().date()
    created = _at(today - timedelta(days=365 * YEARS_BACK + 7), 8)
    for index, site_id in enumerate(site_ids):
        if site_id in existing:
            continue
        hours = HOURS[index % len(HOURS)]
        room_id = db.session.scalar(insert(Room).returning(Room.id), [dict(
            site_id=site_id, name="Salle informatique", workstations=rng.choice([6, 8, 10, 12]), notes="", slot_minutes=60,
            days_ahead=14, minutes_before=30, feed_token=hashlib.sha256(f"bench-room-{site_id}".encode()).hexdigest(),
            active=True, created_at=created)])
        db.session.execute(insert(OpeningHours), [
            dict(room_id=room_id, weekday=wd, starts=time(a), ends=time(b)) for wd, ranges in hours.items() for a, b in ranges
        ])
        db.session.execute(insert(Closure), [
            dict(site_id=site_id, room_id=None, first_day=day, last_day=day, reason=name, created_at=created)
            for year in range(today.year - YEARS_BACK, today.year + 1) for day, name in french_public_holidays(year)
        ])
        existing[site_id] = room_id
    rooms = db.session.execute(
        select(Room.id, Room.site_id, Room.workstations).where(Room.id.in_(list(existing.values()))).order_by(Room.id)
    ).all()
    hours = {}
    for room_id, weekday, starts, ends in db.session.execute(
        select(OpeningHours.room_id, OpeningHours.weekday, OpeningHours.starts, OpeningHours.ends)
        .where(OpeningHours.room_id.in_([r.id for r in rooms]))
    ):
        hours.setdefault(room_id, {}).setdefault(weekday, []).append((starts, ends))
    return [(room_id, site_id, workstations, hours.get(room_id, {})) for room_id, site_id, workstations in rooms]


def _reference(index: int) -> str:
    base = len(REFERENCE_ALPHABET)
    chars = []
    for _n in range(6):
        index, digit = divmod(index, base)
        chars.append(REFERENCE_ALPHABET[digit])
    return "".join(chars)


def add_bookings(rooms, total, rng) -> tuple[int, int]:
    """Workshops (their places taken, some waiting lists) and open-access seats, `total` bookings in all."""
    site_ids = [site_id for _r, site_id, _w, _h in rooms]
    have = db.session.scalar(select(func.count(Booking.id)).where(Booking.site_id.in_(site_ids))) or 0
    if have >= total or not rooms:
        return 0, 0
    taken_refs = set(db.session.scalars(select(Booking.reference)))
    counter = [db.session.scalar(select(func.count(Booking.id))) * 7 + 1_000_003]
    today = local_now().date()
    first_day = today - timedelta(days=365 * YEARS_BACK)

    def reference():
        while True:
            counter[0] += 7919  # spread the codes over the alphabet
            ref = _reference(counter[0])
            if ref not in taken_refs:
                taken_refs.add(ref)
                return ref, hashlib.sha256(f"bench-booking-{counter[0]}".encode()).hexdigest()

    budget = total - have
    per_site = budget // len(rooms)
    workshops_added = bookings_added = 0
    rows = []
    for index, (room_id, site_id, workstations, hours) in enumerate(rooms):
        # Workshops 10:00-12:00 every ten days (about 20,000 for 200 sites over three years), fewer
        # when few bookings are asked; their places take at most about a quarter of the bookings.
        workshop_rows = []
        day = first_day
        while day < today - timedelta(days=1) and len(workshop_rows) < per_site // 20:
            workshop_rows.append(dict(site_id=site_id, room_id=room_id, title="Atelier numérique", description="", level="everyone",
                                      facilitator="", starts_at=_at(day, 10), ends_at=_at(day, 12), places=min(6, workstations),
                                      series_id=None, cancelled_at=None, created_by_id=None, created_at=_at(day, 10) - timedelta(days=20)))
            day += timedelta(days=10)
        ids = db.session.scalars(insert(Workshop).returning(Workshop.id, sort_by_parameter_order=True), workshop_rows).all()
        workshops_added += len(ids)
        site_budget = per_site + (1 if index < budget - per_site * len(rooms) else 0)
        for workshop_id, w in zip(ids, workshop_rows, strict=True):
            for n in range(min(site_budget, rng.randrange(2, w["places"] + 3))):
                confirmed = n < w["places"]
                ref, token = reference()
                contact = f"+336{site_id % 100:02d}{rng.randrange(0, 3000):06d}"
                rows.append(dict(reference=ref, token_hash=token, site_id=site_id, room_id=room_id, workshop_id=workshop_id,
                                 starts_at=w["starts_at"], ends_at=w["ends_at"],
                                 state=BookingState.confirmed if confirmed else BookingState.waiting, first_name="Habitant",
                                 phone=contact, email="", contact_key=f"{contact}-{workshop_id}-{n}",
                                 attendance=rng.choice(ATTENDANCE_DRAW) if confirmed else None,
                                 created_by_id=None, created_at=w["starts_at"] - timedelta(days=5), cancelled_at=None, promoted_at=None))
                site_budget -= 1
        # Open-access seats: random slots of the room's weekly hours over three years.
        slots = [(wd, h) for wd, ranges in hours.items() for starts, ends in ranges for h in range(starts.hour, ends.hour)]
        # One confirmed seat per person per slot (a unique index): a top-up run, seeded like the first
        # one, draws again the seats that run inserted.
        seen = set(db.session.execute(
            select(Booking.starts_at, Booking.contact_key).where(Booking.room_id == room_id, Booking.workshop_id.is_(None))
        ).all()) if have else set()
        while site_budget > 0 and slots:
            day = first_day + timedelta(days=rng.randrange(0, (today - first_day).days))
            weekday_slots = [h for wd, h in slots if wd == day.weekday()]
            if not weekday_slots:
                continue
            hour = rng.choice(weekday_slots)
            contact = f"+336{site_id % 100:02d}{rng.randrange(0, 3000):06d}"
            starts_at = _at(day, hour)
            key = (starts_at, contact)
            if key in seen:
                continue
            seen.add(key)
            ref, token = reference()
            rows.append(dict(reference=ref, token_hash=token, site_id=site_id, room_id=room_id, workshop_id=None, starts_at=starts_at,
                             ends_at=starts_at + timedelta(hours=1),
                             state=rng.choice([BookingState.confirmed] * 9 + [BookingState.cancelled]),
                             first_name="Habitant", phone=contact, email="", contact_key=contact,
                             attendance=rng.choice([Attendance.present, Attendance.present, Attendance.absent, None]),
                             created_by_id=None, created_at=starts_at - timedelta(days=3), cancelled_at=None, promoted_at=None))
            site_budget -= 1
        if len(rows) >= CHUNK:
            for chunk in _chunks(rows):
                db.session.execute(insert(Booking), chunk)
            bookings_added += len(rows)
            rows = []
    for chunk in _chunks(rows):
        db.session.execute(insert(Booking), chunk)
    bookings_added += len(rows)
    return bookings_added, workshops_added

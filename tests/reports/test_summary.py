"""The network view and the funder report read lighter statements (figures.gather_summary) than the
site dashboard (figures.gather): their figures must be the very same numbers.

Reference: gather() — the dashboard's live computation, per device and per site — and, for the
borrowers of the whole network, a count made here in Python from the loans. Compared on the
hand-built network of dataset.py after a device transfer (a device brings its past to its new
site), for months, quarters, a year and odd custom windows, for all the sites and for one.
"""
import os
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import clock
from core.clock import PARIS
from core.errors import DomainError
from core.extensions import db
from core.models import Role
from core.privacy import erasure
from core.residents import Resident, create_resident
from loans import lending
from loans import operations as inventory
from loans.models import Device, DeviceStatus, Loan
from reports import figures, summary
from reports.periods import Window
from reservations import bookings, workshops
from reservations.identity import parse_contact
from reservations.models import Attendance, Booking, Level, Room, Workshop
from tests.reports import dataset
from tests.reservations.factories import make_room

WINDOW_SETS = [
    [Window(date(2026, 3, 1), date(2026, 4, 1)), Window(date(2026, 2, 1), date(2026, 3, 1))],
    [Window(date(2026, 1, 1), date(2026, 4, 1)), Window(date(2025, 10, 1), date(2026, 1, 1))],
    [Window(date(2026, 1, 1), date(2026, 4, 10)), Window(date(2025, 1, 1), date(2025, 4, 10))],
    [Window(date(2026, 3, 12), date(2026, 3, 30)), Window(date(2026, 2, 22), date(2026, 3, 12))],
    [Window(date(2026, 3, 29), date(2026, 3, 30)), Window(date(2026, 4, 1), date(2026, 4, 1))],
    [Window(date(2026, 1, 1), date(2026, 4, 1)), Window(date(2026, 4, 1), date(2026, 4, 10)),
     Window(date(2026, 2, 1), date(2026, 3, 1)), Window(date(2025, 7, 1), date(2025, 10, 1))],
]


def _compare(site_ids, all_site_ids, windows):
    live, fast = figures.gather(site_ids, windows), figures.gather_summary(site_ids, windows)
    for site_id in all_site_ids:
        for i in range(len(windows)):
            want, got = live.loans_of(site_id)[i], fast.loans_of(site_id)[i]
            assert {k: got[k] for k in ("started", "days", "borrowers")} == {k: want[k] for k in ("started", "days", "borrowers")}
            assert fast.usage_of(site_id)[i] == live.usage_of(site_id)[i]
            want, got = live.bookings_of(site_id)[i], fast.bookings_of(site_id)[i]
            assert {k: got[k] for k in figures.SUMMARY_BOOKINGS} == {k: want[k] for k in figures.SUMMARY_BOOKINGS}
            assert fast.workshops_of(site_id)[i] == live.workshops_of(site_id)[i]
            assert fast.people_of(site_id)[i]["reached"] == live.people_of(site_id)[i]["reached"]
            assert fast.offered_of(site_id, i) == live.offered_of(site_id, i)
    loans = db.session.scalars(select(Loan)).all()
    for i, w in enumerate(windows):
        borrowers = {loan.resident_id for loan in loans
                     if w.first <= loan.started_on < w.end and (site_ids is None or loan.site_id in site_ids)}
        assert fast.people[None][i]["borrowers"] == len(borrowers)
        assert fast.people[None][i]["reached"] == live.people[None][i]["reached"]


@pytest.mark.parametrize("windows", WINDOW_SETS)
def test_the_network_figures_are_the_dashboard_figures(march, windows):
    with clock.frozen(dataset.at("2026-04-03", "09:00")):  # L1 is back (2 April): it can move to B, its past with it
        inventory.apply("transfer", march.admin, march.L1.id, site_id=march.a.id, to_site=march.b)
        db.session.commit()
    sites = [march.a.id, march.b.id]
    _compare(None, sites, windows)
    _compare([march.a.id], sites, windows)
    _compare([march.b.id], sites, windows)


def test_the_figures_are_not_all_zero(march):
    """The comparison above compares something: March at A has loans, use, bookings and people."""
    fast = figures.gather_summary(None, WINDOW_SETS[0])
    march_a = fast.loans_of(march.a.id)[0]
    assert (march_a["started"], march_a["days"], march_a["borrowers"]) == (4, 52, 3)  # dataset.py: 31 + 2 + 9 + 3 + 7 days; R1, R2, R3
    assert fast.usage_of(march.a.id)[0] == {"available": 126, "loan_days": 52}
    assert fast.people[None][0]["reached"] == 8


# --- random histories, changed late: report_days stays exact ---------------------------------------
# Each example builds two new centres and runs a random list of real operations (lend, take back at
# either centre, lost, repair, transfer, seats booked and cancelled, arrivals, workshops registered,
# attended and cancelled, new residents whose earlier bookings become theirs, erasures), each under a
# clock of its own that jumps back and forth: a loan taken back weeks after loans that began later,
# an arrival ticked the next day, a repair recorded before loans already written, a device
# transferred with its past. Then every figure of the network view and the funder report
# (gather_summary, from report_days) must equal the dashboard's live computation (gather), and
# report_days must equal what rebuild() counts from nothing.

START = date(2026, 1, 5)  # a Monday
OPERATIONS = ("lend", "lend", "lend", "back", "back", "lost", "repair", "transfer", "seat", "seat", "cancel", "arrival",
              "workshop", "register", "register", "attendance", "cancel_workshop", "resident", "erase")
PHONES = [f"06 20 00 00 {n:02d}" for n in range(10)]


def _report_days_rows():
    return {
        (row.site_id, row.day): tuple(getattr(row, name) for name in summary.MEASURES)
        for row in db.session.execute(select(summary.report_days))
        if any(getattr(row, name) for name in summary.MEASURES)
    }


class History:
    done, refused = Counter(), Counter()  # over every example: what happened, what was refused

    def __init__(self, make_site, make_user, admin, serial):
        self.admin, self.serial = admin, serial
        self.sites = [make_site(), make_site()]
        kinds = inventory.ensure_default_kinds()
        with clock.frozen(dataset.at("2026-01-01", "09:00")):
            self.devices = [inventory.create_device(None, site, kinds[kind], serial_number=f"{serial}-{n}").id
                            for n, (site, kind) in enumerate((s, k) for s in self.sites for k in ("laptop", "tablet", "dongle"))]
            self.rooms = [make_room(site, workstations=2, hours={wd: [(time(9), time(12)), (time(14), time(17))] for wd in range(7)},
                                    days_ahead=90).id for site in self.sites]
            self.residents = [create_resident(admin, site, first_name="Prénom", last_name=f"Nom {serial} {n}", phone=PHONES[n]).id
                              for n, site in enumerate(self.sites * 2)]
            db.session.commit()
        self.workshops, self.contacts_used = [], 4

    def when(self, day: int, hour: int = 10) -> datetime:
        return datetime.combine(START + timedelta(days=day), time(hour), tzinfo=PARIS)

    def pick(self, rows, n):
        return rows[n % len(rows)] if rows else None

    def run(self, operation, day, n):
        """One operation at its own time; a refusal (DomainError) changes nothing and is part of the game."""
        action = getattr(self, operation)(day, n)
        if action is None:
            return
        when, do = action
        with clock.frozen(when):
            try:
                with db.session.begin_nested():
                    do()
                    db.session.flush()
                self.done[operation] += 1
            except DomainError as refusal:
                self.refused[str(refusal)] += 1

    def _loans(self, open_only=True):
        query = select(Loan).where(Loan.device_id.in_(self.devices)).order_by(Loan.id)
        return db.session.scalars(query.where(Loan.closed_at.is_(None)) if open_only else query).all()

    def _bookings(self, seats: bool):
        query = select(Booking).where(Booking.room_id.in_(self.rooms)).order_by(Booking.id)
        return db.session.scalars(query.where(Booking.workshop_id.is_(None) if seats else Booking.workshop_id.is_not(None))).all()

    # each returns (when, action) or None

    def lend(self, day, n):
        device, resident = self.pick(self.devices, n), db.session.get(Resident, self.pick(self.residents, n // 7))
        due = START + timedelta(days=day + 7)
        return self.when(day), lambda: lending.lend(self.admin, device, resident, due_on=due, accessories=[], charter_method="ticked")

    def back(self, day, n):
        loan = self.pick(self._loans(), n)
        if loan is None:
            return None
        site = self.sites[n % 2].id
        return loan.started_at + timedelta(days=n % 20, hours=1), lambda: lending.take_back(
            self.admin, loan.device_id, site_id=site, accessories_returned=[], damaged=n % 5 == 0, data_wiped=True)

    def lost(self, day, n):
        loan = self.pick(self._loans(), n)
        return None if loan is None else (loan.started_at + timedelta(days=n % 9, hours=2),
                                          lambda: lending.declare_lost(self.admin, loan.device_id))

    def repair(self, day, n):
        device = db.session.get(Device, self.pick(self.devices, n))
        verb = "back_from_repair" if device.status is DeviceStatus.in_repair else "send_to_repair"
        return self.when(day, 16), lambda: inventory.apply(verb, self.admin, device.id, site_id=device.home_site_id)

    def transfer(self, day, n):
        device = db.session.get(Device, self.pick(self.devices, n))
        other = next(s for s in self.sites if s.id != device.home_site_id)
        return self.when(day, 17), lambda: inventory.apply("transfer", self.admin, device.id, site_id=device.home_site_id, to_site=other)

    def _contact(self, n):
        return parse_contact(PHONES[n % len(PHONES)])

    def seat(self, day, n):
        starts = self.when(day, (14, 15, 16)[n % 3])
        return starts - timedelta(days=1 + n % 3), lambda: bookings.book_seat(
            self.pick(self.rooms, n), starts, "Prénom", self._contact(n), actor=self.admin)

    def cancel(self, day, n):
        booking = self.pick(self._bookings(seats=n % 2 == 0), n)
        return None if booking is None else (booking.starts_at - timedelta(hours=1 + n % 30),
                                             lambda: bookings.cancel(booking.id, self.admin))

    def arrival(self, day, n):
        booking = self.pick(self._bookings(seats=True), n)
        mark = (Attendance.present, Attendance.absent)[n % 2]
        return None if booking is None else (booking.starts_at + timedelta(hours=n % 30),  # the next day too
                                             lambda: bookings.mark_arrival(booking.id, mark, self.admin))

    def workshop(self, day, n):
        room = db.session.get(Room, self.pick(self.rooms, n))
        data = workshops.WorkshopData("Atelier", "", Level.everyone, "Léa", 1 + n % 2)
        return self.when(day - 3), lambda: self.workshops.extend(
            w.id for w in workshops.create_workshops(self.admin, room, data, START + timedelta(days=day), time(9), time(11)))

    def _workshop(self, n):
        return db.session.get(Workshop, self.pick(self.workshops, n)) if self.workshops else None

    def register(self, day, n):
        workshop = self._workshop(n)
        return None if workshop is None else (workshop.starts_at - timedelta(days=1 + n % 4),
                                              lambda: workshops.register(workshop.id, "Prénom", self._contact(n), actor=self.admin))

    def attendance(self, day, n):
        booking = self.pick(self._bookings(seats=False), n)
        mark = (Attendance.present, Attendance.absent, Attendance.excused)[n % 3]
        return None if booking is None else (booking.starts_at + timedelta(hours=n % 40),
                                             lambda: workshops.mark_attendance(booking.id, mark, self.admin))

    def cancel_workshop(self, day, n):
        workshop = self._workshop(n)
        return None if workshop is None else (workshop.starts_at - timedelta(days=1),
                                              lambda: workshops.cancel_workshop(self.admin, workshop.id))

    def resident(self, day, n):
        """Registered at the desk with the phone of earlier bookings: they become the resident's."""
        site, phone_number = self.pick(self.sites, n), PHONES[4 + n % 6]

        def register_person():
            self.residents.append(create_resident(self.admin, site, first_name="Nouvelle", last_name=f"Personne {self.serial} {n}",
                                                  phone=phone_number).id)
        return self.when(day, 11), register_person

    def erase(self, day, n):
        resident = self.pick(self.residents, n)
        return self.when(day, 18), lambda: erasure.erase_resident(self.admin, resident, reason="Demande de la personne")


STEPS = st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 70), st.integers(0, 10_000)), min_size=12, max_size=30)


def test_report_days_stay_exact_through_random_late_histories(db, make_site, make_user):
    admin = make_user(Role.admin, [])
    serials = iter(range(1, 10_000))

    @settings(max_examples=int(os.environ.get("SUMMARY_EXAMPLES", "20")), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=STEPS, first=st.integers(0, 60), length=st.integers(1, 40))
    def check(steps, first, length):
        history = History(make_site, make_user, admin, f"P{next(serials)}")
        for operation, day, n in steps:
            history.run(operation, day, n)
        db.session.commit()
        odd = Window(START + timedelta(days=first), START + timedelta(days=first + length))
        windows = [Window(date(2026, 1, 1), date(2026, 2, 1)), Window(date(2026, 2, 1), date(2026, 3, 1)),
                   Window(date(2025, 12, 1), date(2026, 4, 1)), odd]
        site_ids = [s.id for s in history.sites]
        _compare(None, site_ids, windows)
        _compare(site_ids[:1], site_ids, windows)
        kept = _report_days_rows()
        with db.session.begin_nested() as savepoint:
            summary.rebuild(db.session.connection())
            assert _report_days_rows() == kept
            savepoint.rollback()

    check()
    # The examples did happen: every operation went through at least once (not a game of refusals).
    assert set(OPERATIONS) <= set(History.done), (History.done, History.refused.most_common(8))

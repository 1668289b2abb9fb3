"""A small network built BY HAND through the real operations, under a frozen clock, whose report
figures for March 2026 (compared with February 2026) are worked out in the comments below.

Site A is the one reported on; site B has activity of its own that must never show in A's figures.
Clock of the report: Friday 10 April 2026 at noon, Paris time (March is complete).

Devices of A, all created Monday 5 January 2026 except D1:
  L1 laptop   lent to R1 on Fri 20 Feb, back Thu 2 Apr            March: 31 days on loan (spans both ends)
  L2 laptop   in repair Tue 10 → Fri 20 Mar (10 days out of service);
              lent to R2 Sat 28 Mar 10:00, back Mon 30 Mar 11:00 — across the spring change (Sun 29 Mar,
              a 23-hour day): 2 calendar days, not 47/24; due Sun 29 → returned late
  L3 laptop   lent to R3 Tue 3 Mar, declared lost Thu 12 Mar        9 days; lost from the 12th (20 days)
  T1 tablet   lent to R2 Mon 2 Mar, back damaged Thu 5 Mar (→ in repair) 3 days;
              back from repair Mon 9 Mar (4 days out), retired Mon 16 Mar (16 days out): 11 days lendable
  D1 dongle   created Wed 11 Mar, never lent                        21 days lendable, 0 on loan
  D2 dongle   lent to R1 Wed 25 Mar at 00:30 Paris (23:30 UTC the day before), still out, due 1 Apr
                                                                    7 days (25 → 31); overdue now
Use rate, March: loan days 31+2+9+3+0+7 = 52 over lendable days 31+21+11+11+21+31 = 126 → 41.3 %
  laptops 42/63 = 66.7 %; tablet 3/11 = 27.3 %; dongles 7/52 = 13.5 %.
February (1-28): only L1, from the 20th: 9 days; 5 devices × 28 days = 140 lendable → 6.4 %.

Room of A: 4 workstations, hours Tuesday 14-17 and Saturday 9-12 (60-minute slots), created 5 Jan.
  March: Tuesdays 3, 10, 24, 31 (the 17th closed for the whole site), Saturdays 7, 14, 28 (the 21st
  closed for the room). Workshop Tue 24 Mar 14-16, 3 places: slots 14 and 15 keep 1 seat.
  Seat-hours offered: 4 × 3 × 4 − 2 × 3 + 3 × 3 × 4 = 78; open-access hours: 12 + 9 = 21.
  February: 4 Tuesdays + 4 Saturdays: 96 seat-hours, 24 hours.
  Seats booked in March: Tue 3 14:00 R1's phone (came), Tue 3 15:00 P (came), Tue 10 14:00 P (did not
  come), Sat 28 10:00 anna@… (came), Tue 31 16:00 Q (not noted); a seat cancelled on Tue 10.
  → 5 booked, 3 used: occupancy 5/78 = 6.4 %, use 3/78 = 3.8 %, arrivals noted 4/5 = 80 %.
Workshops of A in March: the 24th (3 places): R3's phone present, 0633… absent, P excused, two people
  on the waiting list never placed (one of them gave up); a workshop on the 12th cancelled.
People reached in March: R1, R2, R3 (loans), P, anna, Q (bookings; R1 and R3 also booked) = 6.
New residents: R3, registered on 3 March.
"""
from datetime import date, datetime, time
from types import SimpleNamespace

from core import clock
from core.clock import PARIS
from core.extensions import db
from core.models import Role
from core.residents import create_resident
from loans import lending
from loans import operations as inventory
from reservations import bookings, workshops
from reservations.identity import Contact, parse_contact
from reservations.models import Attendance, Closure, Level
from tests.reservations.factories import make_room

REPORT_DAY = datetime(2026, 4, 10, 12, 0, tzinfo=PARIS)


def at(year_month_day: str, hh_mm: str = "10:00") -> datetime:
    day = date.fromisoformat(year_month_day)
    hour, minute = (int(x) for x in hh_mm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def phone(number: str) -> Contact:
    return parse_contact(number)


def build(make_site, make_user) -> SimpleNamespace:
    """Run every operation in time order; returns the sites, people and devices."""
    w = SimpleNamespace()
    w.a = make_site("Centre A")
    w.b = make_site("Centre B")
    w.admin = make_user(Role.admin, [])
    w.manager_a = make_user(Role.manager, [w.a])
    w.reception_a = make_user(Role.reception, [w.a])
    w.manager_b = make_user(Role.manager, [w.b])
    w.agent_b = make_user(Role.reception, [w.b])
    kinds = inventory.ensure_default_kinds()

    def run(when, action):
        with clock.frozen(when):
            result = action()
            db.session.flush()
        db.session.commit()
        return result

    def create(site, kind, serial):
        return run(at("2026-01-05", "09:00"), lambda: inventory.create_device(None, site, kinds[kind], serial_number=serial))

    w.L1, w.L2, w.L3 = (create(w.a, "laptop", f"A-L{n}") for n in (1, 2, 3))
    w.T1, w.D2 = create(w.a, "tablet", "A-T1"), create(w.a, "dongle", "A-D2")
    w.LB = create(w.b, "laptop", "B-L1")
    w.room = run(at("2026-01-05", "09:00"), lambda: make_room(
        w.a, name="Salle A", workstations=4, hours={1: [(time(14), time(17))], 5: [(time(9), time(12))]}))
    w.room_b = run(at("2026-01-05", "09:00"), lambda: make_room(
        w.b, name="Salle B", workstations=6, hours={1: [(time(14), time(17))]}))

    def resident(site, first, last, number):
        return create_resident(w.admin, site, first_name=first, last_name=last, phone=number)

    w.R1 = run(at("2026-01-10"), lambda: resident(w.a, "Rania", "Un", "06 10 00 00 01"))
    w.R2 = run(at("2026-01-10"), lambda: resident(w.a, "Rémi", "Deux", "06 10 00 00 02"))
    w.R4 = run(at("2026-01-10"), lambda: resident(w.b, "Rose", "Quatre", "06 10 00 00 04"))

    def lend(agent, device, person, due):
        return lending.lend(agent, device.id, person, due_on=date.fromisoformat(due), accessories=[], charter_method="ticked")

    def back(agent, device, site, damaged=False):
        return lending.take_back(agent, device.id, site_id=site.id, accessories_returned=[], damaged=damaged, data_wiped=not damaged)

    def apply(verb, device):
        return inventory.apply(verb, w.admin, device.id, site_id=device.home_site_id)

    A = w.reception_a
    run(at("2026-02-20"), lambda: lend(A, w.L1, w.R1, "2026-03-20"))
    run(at("2026-03-02"), lambda: lend(A, w.T1, w.R2, "2026-03-09"))
    w.R3 = run(at("2026-03-03", "09:00"), lambda: resident(w.a, "Rachid", "Trois", "06 10 00 00 03"))
    run(at("2026-03-03"), lambda: lend(A, w.L3, w.R3, "2026-03-17"))
    run(at("2026-03-05", "11:00"), lambda: back(A, w.T1, w.a, damaged=True))
    run(at("2026-03-09"), lambda: apply("back_from_repair", w.T1))
    run(at("2026-03-10", "09:00"), lambda: apply("send_to_repair", w.L2))
    w.D1 = run(at("2026-03-11", "09:00"), lambda: inventory.create_device(None, w.a, kinds["dongle"], serial_number="A-D1"))
    run(at("2026-03-12"), lambda: lending.declare_lost(A, w.L3.id))
    run(at("2026-03-16", "12:00"), lambda: apply("retire", w.T1))
    run(at("2026-03-18"), lambda: lend(w.agent_b, w.LB, w.R4, "2026-03-25"))
    run(at("2026-03-20", "15:00"), lambda: apply("back_from_repair", w.L2))
    run(at("2026-03-22"), lambda: back(w.agent_b, w.LB, w.b))
    run(at("2026-03-25", "00:30"), lambda: lend(A, w.D2, w.R1, "2026-04-01"))
    run(at("2026-03-28"), lambda: lend(A, w.L2, w.R2, "2026-03-29"))
    run(at("2026-03-30", "11:00"), lambda: back(A, w.L2, w.a))
    run(at("2026-04-02", "16:00"), lambda: back(A, w.L1, w.a))

    # --- rooms ---------------------------------------------------------------------------------
    db.session.add_all([
        Closure(site_id=w.a.id, room_id=None, first_day=date(2026, 3, 17), last_day=date(2026, 3, 17), reason="Férié local"),
        Closure(site_id=w.a.id, room_id=w.room.id, first_day=date(2026, 3, 21), last_day=date(2026, 3, 21), reason="Travaux"),
    ])
    db.session.commit()
    P, Q = phone("0611111111"), phone("0622222222")
    seat = bookings.book_seat

    def book(day, hh, contact, room=None):
        return seat((room or w.room).id, at(day, hh).astimezone(PARIS), "Personne", contact, actor=A)[0]

    w.seat_r1 = run(at("2026-03-02"), lambda: book("2026-03-03", "14:00", phone("0610000001")))
    w.seat_p1 = run(at("2026-03-02"), lambda: book("2026-03-03", "15:00", P))
    w.seat_p2 = run(at("2026-03-09"), lambda: book("2026-03-10", "14:00", P))
    cancelled = run(at("2026-03-09"), lambda: book("2026-03-10", "15:00", phone("0666666666")))
    run(at("2026-03-09", "18:00"), lambda: bookings.cancel(cancelled.id, A))
    w.seat_anna = run(at("2026-03-27"), lambda: book("2026-03-28", "10:00", Contact(phone="", email="anna@example.org")))
    w.seat_q = run(at("2026-03-30"), lambda: book("2026-03-31", "16:00", Q))
    w.seat_b = run(at("2026-03-02"), lambda: seat(w.room_b.id, at("2026-03-03", "14:00"), "Bea", phone("0699999999"),
                                                  actor=w.agent_b)[0])
    arrive = bookings.mark_arrival
    run(at("2026-03-03", "14:05"), lambda: arrive(w.seat_r1.id, Attendance.present, A))
    run(at("2026-03-03", "15:05"), lambda: arrive(w.seat_p1.id, Attendance.present, A))
    run(at("2026-03-10", "14:30"), lambda: arrive(w.seat_p2.id, Attendance.absent, A))
    run(at("2026-03-28", "10:05"), lambda: arrive(w.seat_anna.id, Attendance.present, A))
    run(at("2026-03-03", "14:05"), lambda: arrive(w.seat_b.id, Attendance.present, w.agent_b))

    data = workshops.WorkshopData("Créer son adresse e-mail", "On crée une adresse.", Level.everyone, "Léa", 3)
    w.workshop = run(at("2026-03-15"), lambda: workshops.create_workshops(
        w.manager_a, w.room, data, date(2026, 3, 24), time(14), time(16)))[0]
    cancelled_workshop = run(at("2026-03-05"), lambda: workshops.create_workshops(
        w.manager_a, w.room, data, date(2026, 3, 12), time(9), time(11)))[0]
    run(at("2026-03-06"), lambda: workshops.cancel_workshop(w.manager_a, cancelled_workshop.id))
    register = workshops.register
    places = [
        run(at("2026-03-20"), lambda c=c: register(w.workshop.id, "Inscrit", c, actor=A)[0])
        for c in (phone("0610000003"), phone("0633333333"), P, phone("0644444444"), phone("0655555555"))
    ]
    run(at("2026-03-21"), lambda: bookings.cancel(places[4].id, None))  # gave up while waiting
    for booking, mark in zip(places[:3], (Attendance.present, Attendance.absent, Attendance.excused), strict=True):
        run(at("2026-03-24", "15:00"), lambda b=booking, m=mark: workshops.mark_attendance(b.id, m, A))
    w.places = places
    return w

"""Every figure of the site dashboard on the hand-built network of dataset.py, asserted exactly.

The expected numbers are worked out in tests/reports/dataset.py's docstring. Run on SQLite and on
PostgreSQL (TEST_DATABASE_URL): the same figures on both.
"""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core import clock
from loans.models import DeviceStatus, Loan
from reports import figures, queries
from reports.periods import Period

TODAY = date(2026, 4, 10)
MARCH = Period.month(2026, 3)


def lines(table):
    return {line.measure.key: (line.current, line.previous) for line in table.lines}


@pytest.fixture
def dashboard(march):
    return figures.site_dashboard(march.a, MARCH, TODAY, lambda tag: f"/equipements/{tag}")


def test_the_comparison_period_of_march_is_february(dashboard):
    current, previous = dashboard.windows
    assert (current.first, current.end) == (date(2026, 3, 1), date(2026, 4, 1))
    assert (previous.first, previous.end) == (date(2026, 2, 1), date(2026, 3, 1))


def test_loans(dashboard):
    assert lines(dashboard.loans) == {
        "started": (4, 1),  # X3 (2 Mar), L3 (3 Mar), D2 (25 Mar), L2 (28 Mar) | L1 (20 Feb)
        "borrowers": (3, 1),  # R1, R2, R3 | R1
        "days": (52, 9),  # 31 (L1, across both ends) + 2 (L2, across the spring change) + 9 + 3 + 7 | 9
        "average_days": (Decimal("2.5"), None),  # loans returned in March: L2 2 days, T1 3 days
        "returned": (2, 0),
        "late_share": (Decimal("50.0"), None),  # L2 due the 29th, back the 30th
        "lost": (1, 0),  # L3
        "damaged": (1, 0),  # T1
        "use_rate": (Decimal("41.3"), Decimal("6.4")),  # 52 / 126 | 9 / 140
    }


def test_use_rate_per_kind_counts_only_lendable_days(dashboard):
    assert dashboard.kinds.rows == [
        # kind, devices lendable in March, lendable days, days on loan, rate, rate in February
        ["Ordinateur portable", 3, 31 + 21 + 11, 31 + 2 + 9, Decimal("66.7"), Decimal("10.7")],  # Feb: 9 / (3 × 28)
        ["Tablette", 1, 11, 3, Decimal("27.3"), Decimal("0.0")],  # repair 4 days, retired on the 16th
        ["Clé 4G", 2, 21 + 31, 7, Decimal("13.5"), Decimal("0.0")],  # D1 created on the 11th
    ]


def test_devices_now_and_overdue(dashboard):
    assert dict(dashboard.statuses.rows) == {
        DeviceStatus.available.label: 3, DeviceStatus.on_loan.label: 1, DeviceStatus.in_repair.label: 0,
        DeviceStatus.lost.label: 1, DeviceStatus.retired.label: 1,
    }
    assert dashboard.statuses.footer[1] == 6
    assert dashboard.overdue == 1  # D2, due 1 April


def test_rarely_lent_devices_exclude_retired_and_lost_ones(dashboard, march):
    assert dashboard.rarely_total == 2
    assert [(row[0][0], row[3], row[4], row[5], row[6], row[7]) for row in dashboard.rarely.rows] == [
        (march.D1.tag, 0, 0, 21, Decimal("0.0"), None),  # never lent
        (march.L2.tag, 1, 2, 21, Decimal("9.5"), date(2026, 3, 28)),  # 2 days out of 21: under 10 %
    ]
    assert dashboard.rarely.rows[0][0] == (march.D1.tag, f"/equipements/{march.D1.tag}")


def test_rooms(dashboard):
    assert lines(dashboard.rooms) == {
        "offered": (Decimal("78.0"), Decimal("96.0")),
        "booked": (Decimal("5.0"), Decimal("0.0")),
        "used": (Decimal("3.0"), Decimal("0.0")),
        "occupancy": (Decimal("6.4"), Decimal("0.0")),
        "use": (Decimal("3.8"), Decimal("0.0")),
        "seat_bookings": (5, 0),  # the cancelled seat does not count, nor site B's
        "arrivals_share": (Decimal("80.0"), None),
        "open_hours": (Decimal("21.0"), Decimal("24.0")),
    }


def test_workshops(dashboard):
    assert lines(dashboard.workshops) == {
        "held": (1, 0),  # the cancelled one of the 12th is not held
        "places": (3, 0),
        "registrations": (3, 0),
        "fill_rate": (Decimal("100.0"), None),
        "present": (1, 0),
        "attendance_rate": (Decimal("33.3"), None),
        "absent": (1, 0),
        "excused": (1, 0),
        "unmarked": (0, 0),
        "waiting": (2, 0),  # still waiting, and the one who gave up
    }


def test_people(dashboard):
    assert lines(dashboard.people) == {
        "reached": (6, 1),  # R1, R2, R3, P, anna, Q — R1 and R3 booked with their phone: once each
        "borrowers": (3, 1),
        "bookers": (5, 0),  # R1, P, anna, Q, R3 (P absent once, excused once: still reached)
        "new": (1, 0),  # R3
    }


def test_weekly_series(dashboard):
    assert dashboard.bucket_kind == "week"
    assert dashboard.loans_series.rows == [
        [date(2026, 3, 1), 0], [date(2026, 3, 2), 2], [date(2026, 3, 9), 0],
        [date(2026, 3, 16), 0], [date(2026, 3, 23), 2], [date(2026, 3, 30), 0],
    ]
    occupancy = {row[0]: (row[1], row[2], row[3], row[4]) for row in dashboard.occupancy_series.rows}
    assert occupancy[date(2026, 3, 2)] == (Decimal("24.0"), Decimal("2.0"), Decimal("2.0"), Decimal("8.3"))
    assert occupancy[date(2026, 3, 16)] == (Decimal("0.0"), Decimal("0.0"), Decimal("0.0"), None)  # both days closed
    assert occupancy[date(2026, 3, 23)] == (Decimal("18.0"), Decimal("1.0"), Decimal("1.0"), Decimal("5.6"))  # workshop


def test_site_b_sees_its_own_figures_only(march):
    board = figures.site_dashboard(march.b, MARCH, TODAY, str)
    values = lines(board.loans)
    assert values["started"] == (1, 0) and values["days"] == (4, 0)  # LB, 18 → 22 March
    assert lines(board.rooms)["seat_bookings"] == (1, 0)
    assert lines(board.people)["reached"] == (2, 0)  # R4 and Bea
    assert board.rarely.rows == [] and board.rarely_total == 0


def test_local_dates_are_kept_on_every_loan(march, db):
    """started_on / closed_on are the Paris dates: D2 left at 00:30 on the 25th (23:30 UTC on the 24th)."""
    d2 = db.session.scalar(db.select(Loan).where(Loan.device_id == march.D2.id))
    assert d2.started_at == datetime(2026, 3, 24, 23, 30, tzinfo=UTC)
    assert (d2.started_on, d2.closed_on) == (date(2026, 3, 25), None)
    l2 = db.session.scalar(db.select(Loan).where(Loan.device_id == march.L2.id))
    assert (l2.started_on, l2.closed_on) == (date(2026, 3, 28), date(2026, 3, 30))


def test_device_figures_of_the_device_page(march):
    row = queries.device_figures(march.L1.id, TODAY)
    assert (row.loans, row.days) == (1, 41)  # 20 February → 2 April
    assert row.last_lent == datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
    open_loan = queries.device_figures(march.D2.id, TODAY)
    assert (open_loan.loans, open_loan.days) == (1, 16)  # 25 March → today (10 April), still out
    never = queries.device_figures(march.D1.id, TODAY)
    assert (never.loans, never.days, never.last_lent) == (0, 0, None)


def test_a_period_in_progress_stops_at_yesterday(march):
    """April, seen on the 10th: 1-9 April, compared with 1-9 March."""
    board = figures.site_dashboard(march.a, Period.month(2026, 4), TODAY, str)
    assert [(w.first, w.end) for w in board.windows] == [(date(2026, 4, 1), date(2026, 4, 10)), (date(2026, 3, 1), date(2026, 3, 10))]
    values = lines(board.loans)
    # April 1-9: L1 out until the 2nd (1 day), D2 out all 9 days. March 1-9: L1 9, T1 3, L3 7 (3rd → 9th).
    assert values["days"] == (1 + 9, 9 + 3 + 7)
    assert values["started"] == (0, 2)


def test_the_autumn_change_is_one_day_too(db, make_site, make_user):
    """A loan from Saturday 24 to Monday 26 October 2026 (Sunday has 25 hours) is 2 days on loan."""
    from core.models import Role
    from core.residents import create_resident
    from loans import lending
    from loans import operations as inventory
    from tests.reports.dataset import at

    site = make_site("Centre Automne")
    agent = make_user(Role.reception, [site])
    with clock.frozen(at("2026-10-01")):
        device = inventory.create_device(None, site, inventory.ensure_default_kinds()["laptop"])
        person = create_resident(agent, site, first_name="Ana", last_name="Automne")
    with clock.frozen(at("2026-10-24", "23:50")):
        lending.lend(agent, device.id, person, due_on=date(2026, 10, 30), accessories=[], charter_method="ticked")
    with clock.frozen(at("2026-10-26", "00:10")):
        lending.take_back(agent, device.id, site_id=site.id, accessories_returned=[], data_wiped=True)
    db.session.commit()
    october = Period.month(2026, 10)
    with clock.frozen(at("2026-11-05")):
        board = figures.site_dashboard(site, october, date(2026, 11, 5), str)
    # 25 hours 20 minutes apart (the 25th lasts 25 hours), and two calendar days: the 24th and the 25th.
    assert lines(board.loans)["days"] == (2, 0)
    assert lines(board.loans)["average_days"] == (Decimal("2.0"), None)

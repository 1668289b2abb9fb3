"""The network view and the funder report read lighter statements (figures.gather_summary) than the
site dashboard (figures.gather): their figures must be the very same numbers.

Reference: gather() — the dashboard's live computation, per device and per site — and, for the
borrowers of the whole network, a count made here in Python from the loans. Compared on the
hand-built network of dataset.py after a device transfer (a device brings its past to its new
site), for months, quarters, a year and odd custom windows, for all the sites and for one.
"""
from datetime import date

import pytest
from sqlalchemy import select

from core import clock
from core.extensions import db
from loans import operations as inventory
from loans.models import Loan
from reports import figures
from reports.periods import Window
from tests.reports import dataset

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

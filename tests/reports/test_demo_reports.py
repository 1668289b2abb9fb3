"""The demo gives every chart of every partner site something real to show, and loads twice without change."""
from datetime import timedelta

from sqlalchemy import func, select

from core import clock
from core.demo import load_demo
from core.models import Site
from core.residents import Resident
from loans.models import Device
from reports import figures
from reports.periods import Period
from reservations.models import Booking, BookingEvent, Workshop


def counts(db):
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Booking, BookingEvent, Workshop, Resident, Device))


def test_the_demo_fills_every_chart_and_is_idempotent(db):
    load_demo()
    db.session.commit()
    today = clock.local_now().date()
    yesterday = today - timedelta(days=1)
    year = Period.custom(today - timedelta(days=365), yesterday)
    for site in db.session.scalars(select(Site).order_by(Site.name)):
        board = figures.site_dashboard(site, year, today, str)
        assert sum(count for _week, count in board.loans_series.rows) > 50, site.name
        weeks_with_bookings = [row for row in board.occupancy_series.rows if row[2]]
        assert len(weeks_with_bookings) > 30, site.name
        assert all(rate is not None and rate > 0 for _kind, rate, _before in board.kind_rates), site.name
        workshops = {line.measure.key: line.current for line in board.workshops.lines}
        assert workshops["held"] > 40 and workshops["present"] > 0 and workshops["waiting"] > 0, site.name
        people = {line.measure.key: line.current for line in board.people.lines}
        assert people["new"] > 0 and people["reached"] > people["borrowers"], site.name
        assert board.rarely_total >= 2, site.name  # the two tablets nobody borrows
        rooms = {line.measure.key: line.current for line in board.rooms.lines}
        assert 0 < rooms["used"] < rooms["booked"] < rooms["offered"], site.name

    before = counts(db)
    load_demo()
    db.session.commit()
    assert counts(db) == before

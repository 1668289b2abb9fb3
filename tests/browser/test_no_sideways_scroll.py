"""No staff page scrolls sideways on a 360 px phone — every one of them, full of the demo's data.

The pages are read from `app.url_map` (every GET route that is not public), so a page added later is
covered too; its URL arguments designate demo objects that have data in them (the room with
bookings, the workshop with registrants, a device in each state…). A route whose argument has no
entry in RESOLVERS fails the test: add one.
"""
import re

import pytest
from sqlalchemy import func, select

from core.authz import ACCESS_ATTR
from core.demo import ACCOUNTS
from core.messaging.models import Message, MessageStatus
from core.models import Role, Site, User
from core.residents import Resident
from loans.models import Device, Loan
from reservations.models import Booking, BookingState, Closure, Room, Workshop
from tests.conftest import live_server

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}
# Not pages: files to download.
NOT_PAGES = (".csv", ".ics", ".json")
# The widest elements, to say what overflows.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter(e => { for (let a = e.parentElement; a; a = a.parentElement) {
                   if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return false; } return true; })
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
                     + ' right=' + Math.round(e.getBoundingClientRect().right))"""


def _one(session, query):
    value = session.scalar(query.limit(1))
    assert value is not None, f"the demo has no object for {query}"
    return value


def resolvers(session, site):
    """URL argument → the values to try: existing objects of `site` with the most data in them."""
    room = _one(session, select(Room).where(Room.site_id == site.id))
    busiest_workshop = _one(session, select(Workshop.id).join(Booking, Booking.workshop_id == Workshop.id)
                            .where(Workshop.site_id == site.id).group_by(Workshop.id).order_by(func.count().desc(), Workshop.id))
    busiest_resident = _one(session, select(Resident.id).join(Loan, Loan.resident_id == Resident.id)
                            .group_by(Resident.id).order_by(func.count().desc(), Resident.id))
    # A device in each state: each state has its own pages (lend, take back, found again…).
    tags = [tag for (tag,) in session.execute(
        select(func.min(Device.tag)).where(Device.home_site_id == site.id).group_by(Device.status))]
    return {
        "site_id": [site.id],
        "user_id": [_one(session, select(User.id).where(User.role == Role.reception).order_by(User.id))],
        "tag": tags,
        "resident_id": [busiest_resident],
        "loan_id": [_one(session, select(Loan.id).where(Loan.site_id == site.id, Loan.closed_at.is_(None)).order_by(Loan.id)),
                    _one(session, select(Loan.id).where(Loan.site_id == site.id, Loan.closed_at.is_not(None)).order_by(Loan.id))],
        "workshop_id": [busiest_workshop],
        "room_id": [room.id],
        "closure_id": [_one(session, select(Closure.id).where(Closure.site_id == site.id).order_by(Closure.id))],
        # The undelivered message (its reason shown) and the longest text.
        "message_id": [_one(session, select(Message.id).where(Message.site_id == site.id)
                            .order_by((Message.status == MessageStatus.undelivered).desc(), Message.id)),
                       _one(session, select(Message.id).where(Message.site_id == site.id)
                            .order_by(func.length(Message.body).desc(), Message.id))],
    }


def queries(session, site):
    """Query strings that show a day with data on pages whose URL does not name the day."""
    def first_seat_day(*where):
        starts_at = _one(session, select(Booking.starts_at).where(
            Booking.site_id == site.id, Booking.workshop_id.is_(None), Booking.state == BookingState.confirmed, *where
        ).order_by(Booking.starts_at.desc()))
        return starts_at.date().isoformat()

    upcoming = first_seat_day()  # the latest day with seats booked (the coming days)
    return {
        "reservations.room_day": {"date": upcoming},
        "reservations.room_week": {"date": upcoming},
        "reservations.arrivals": {"jour": upcoming},
    }


def staff_pages(app, session):
    site = session.scalar(select(Site).where(Site.name == "ACSRV"))
    values, query = resolvers(session, site), queries(session, site)
    urls, missing = [], set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods or rule.rule.endswith(NOT_PAGES):
            continue
        if getattr(app.view_functions[rule.endpoint], ACCESS_ATTR, ("?",))[0] == "public":
            continue
        if rule.arguments - values.keys():
            missing |= rule.arguments - values.keys()
            continue
        combos = [{}]
        for name in sorted(rule.arguments):
            combos = [dict(c, **{name: v}) for c in combos for v in values[name]]
        with app.test_request_context():
            from flask import url_for

            urls += [url_for(rule.endpoint, **combo, **query.get(rule.endpoint, {})) for combo in combos]
    assert not missing, f"add these URL arguments to RESOLVERS: {sorted(missing)}"
    return sorted(set(urls))


def test_no_staff_page_scrolls_sideways_at_360_px(app, db, runner, page, monkeypatch):
    # The demo without the reports' year of history (a minute and a half on SQLite): the coming
    # days' bookings, the workshops with registrants and a year of loans fill every page.
    loaders = app.extensions["demo_loaders"]
    monkeypatch.setitem(app.extensions, "demo_loaders", [loader for loader in loaders if loader.__module__ != "reports.demo"])
    assert len(app.extensions["demo_loaders"]) == len(loaders) - 1
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    urls = staff_pages(app, db.session)
    admin = next(a for a in ACCOUNTS if a["role"] is Role.admin)
    db.session.rollback()  # the server needs the SQLite write lock

    page.set_viewport_size(PHONE)
    wide = []
    with live_server(app) as base:
        page.goto(base + "/connexion")
        page.get_by_label("Adresse e-mail").fill(admin["email"])
        page.get_by_label("Mot de passe").fill(admin["password"])
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(re.compile(r"/espace$"))
        for url in urls:
            response = page.goto(base + url)
            assert response.status < 500, f"{url}: {response.status}"
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > page.evaluate("window.innerWidth"):
                wide.append(f"{url} ({response.status}): {width} px — {page.evaluate(OVERFLOWING)}")
    assert len(urls) > 40
    assert not wide, "pages wider than a 360 px phone:\n" + "\n".join(wide)

"""The desk hours of a site: entered in the admin's site form, said in plain words, and the days the
desk is open (its weekdays minus the site-wide closures) that due dates fall on."""
from datetime import date, time

import pytest
from sqlalchemy import select

from core import hours
from core.models import DeskHours, Role, Site
from reservations.models import Closure
from tests.core.helpers import field_error, location_path, page_text, snapshot
from tests.core.test_admin import SITE_FORM
from tests.reservations.factories import make_room

MONDAY = date(2026, 12, 14)


def desk(site, spec):
    site.desk_hours = [DeskHours(weekday=wd, starts=a, ends=b) for wd, ranges in spec.items() for a, b in ranges]


@pytest.fixture
def admin_client(app, make_user, login):
    client = app.test_client()
    login(make_user(Role.admin), target=client)
    return client


def test_the_desk_week_in_plain_words(db, make_site):
    site = make_site()
    desk(site, {**{wd: [(time(9), time(12)), (time(13, 30), time(18))] for wd in range(5)}, 5: [(time(9), time(12))]})
    db.session.commit()
    assert hours.desk_week(site) == [
        ("Du lundi au vendredi", "de 9 h à 12 h et de 13 h 30 à 18 h"),
        ("Samedi", "de 9 h à 12 h"),
    ]
    desk(site, {1: [(time(9), time(17))], 2: [(time(9), time(17))], 4: [(time(14), time(17))]})
    assert hours.desk_week(site) == [("Mardi et mercredi", "de 9 h à 17 h"), ("Vendredi", "de 14 h à 17 h")]


def test_next_open_day_skips_closed_weekdays_and_site_closures(db, make_site):
    site = make_site()
    desk(site, {wd: [(time(9), time(17))] for wd in range(1, 6)})  # Tuesday to Saturday
    db.session.add(Closure(site_id=site.id, room_id=None, first_day=date(2026, 12, 22), last_day=date(2026, 12, 26),
                           reason="Vacances de Noël"))
    db.session.commit()
    assert hours.next_open_day(site, MONDAY) == date(2026, 12, 15)  # Monday: the desk is closed
    assert hours.next_open_day(site, date(2026, 12, 16)) == date(2026, 12, 16)
    assert hours.next_open_day(site, date(2026, 12, 21)) == date(2026, 12, 29)  # Monday, closure, Sunday, Monday
    assert hours.desk_closed_reason(site, date(2026, 12, 23)) == "le centre est fermé (Vacances de Noël)"
    assert hours.desk_closed_reason(site, MONDAY) == "l'accueil est fermé le lundi"
    # A closure of one room (works in the computer room) leaves the desk open.
    room = make_room(site)
    db.session.add(Closure(site_id=site.id, room_id=room.id, first_day=date(2026, 12, 30), last_day=date(2026, 12, 30), reason="Travaux"))
    db.session.commit()
    assert hours.next_open_day(site, date(2026, 12, 30)) == date(2026, 12, 30)


def test_a_site_without_desk_hours_is_open_every_day_but_its_closures(db, make_site):
    site = make_site()
    db.session.add(Closure(site_id=site.id, room_id=None, first_day=MONDAY, last_day=MONDAY, reason="Inventaire"))
    db.session.commit()
    assert hours.next_open_day(site, date(2026, 12, 13)) == date(2026, 12, 13)  # a Sunday
    assert hours.next_open_day(site, MONDAY) == date(2026, 12, 15)


def test_the_admin_enters_the_desk_hours_in_the_site_form(db, admin_client, make_site):
    site = make_site()
    form = admin_client.get(f"/admin/structures/{site.id}/modifier")
    assert "Horaires de l'accueil, jour par jour" in page_text(form)
    data = dict(SITE_FORM, name=site.name, desk_0="9h-12h, 13h30-18h", desk_2="9:00-12:00", desk_6="")
    response = admin_client.post(f"/admin/structures/{site.id}/modifier", data=data)
    assert response.status_code == 302 and location_path(response) == "/admin/structures"
    db.session.expire_all()
    rows = db.session.scalars(select(DeskHours).where(DeskHours.site_id == site.id).order_by(DeskHours.weekday, DeskHours.starts)).all()
    assert [(r.weekday, r.starts, r.ends) for r in rows] == [(0, time(9), time(12)), (0, time(13, 30), time(18)), (2, time(9), time(12))]
    # The free text stays, for display; the form shows the hours back.
    assert db.session.get(Site, site.id).opening_hours == SITE_FORM["opening_hours"]
    again = page_text(admin_client.get(f"/admin/structures/{site.id}/modifier"))
    assert 'value="09:00-12:00, 13:30-18:00"' in again


@pytest.mark.parametrize(
    "value, message",
    [
        ("le matin", "Écrivez les horaires ainsi : 9:00-12:00, 14:00-17:30."),
        ("25h-26h", "L'heure « 25h-26h » n'existe pas."),
        ("14h-9h", "Dans « 14h-9h », la fin doit être après le début."),
        ("9h-12h, 11h-13h", "Deux plages horaires se chevauchent."),
    ],
)
def test_bad_desk_hours_are_refused_next_to_their_day(db, admin_client, make_site, value, message):
    site = make_site()
    before = snapshot(db)
    response = admin_client.post(f"/admin/structures/{site.id}/modifier", data=dict(SITE_FORM, name=site.name, desk_3=value))
    assert response.status_code == 400
    assert field_error(response, "desk_3") == message
    assert snapshot(db) == before

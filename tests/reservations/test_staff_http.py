"""Staff pages over HTTP: rooms, closures, calendars, desk bookings, workshops, registrants,
attendance; per-site authorisation; French messages; constant query counts."""
from datetime import date, time, timedelta

from sqlalchemy import func, select

from core.extensions import db as _db
from reservations.models import Attendance, Booking, BookingAction, BookingEvent, Closure, OpeningHours, Room, Workshop
from tests.core.helpers import field_error, location_path, page_text, snapshot
from tests.reservations.factories import at_local, book, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)


ROOM_FORM = {
    "name": "Salle du fond", "workstations": "6", "notes": "Imprimante", "slot_minutes": "60", "days_ahead": "14",
    "minutes_before": "30", "hours_0": "", "hours_1": "9:00-12:00, 14h-17h", "hours_2": "", "hours_3": "", "hours_4": "",
    "hours_5": "", "hours_6": "", "active": "y",
}


def test_a_manager_creates_a_room_with_its_hours(db, frozen, sites, client_for):
    client = client_for(sites["manager_a"])
    response = client.post("/salles/nouvelle", data={**ROOM_FORM, "site_id": sites["a"].id})
    room = _db.session.scalar(select(Room).where(Room.name == "Salle du fond"))
    assert location_path(response) == f"/salles/{room.id}/jour"
    hours = _db.session.scalars(select(OpeningHours).where(OpeningHours.room_id == room.id).order_by(OpeningHours.starts)).all()
    assert [(h.weekday, h.starts, h.ends) for h in hours] == [(1, time(9), time(12)), (1, time(14), time(17))]
    assert room.site_id == sites["a"].id and len(room.feed_token) >= 32


def test_room_form_errors_are_next_to_the_field(db, frozen, sites, client_for):
    client = client_for(sites["manager_a"])
    before = snapshot(db)
    response = client.post("/salles/nouvelle", data={**ROOM_FORM, "site_id": sites["a"].id, "hours_1": "9h-8h", "workstations": "0"})
    assert response.status_code == 400
    assert field_error(response, "hours_1") == "Dans « 9h-8h », la fin doit être après le début."
    assert field_error(response, "workstations") == "Entre 1 et 200 postes."
    # A manager of A cannot create a room at site B by changing the posted site.
    response = client.post("/salles/nouvelle", data={**ROOM_FORM, "site_id": sites["b"].id})
    assert response.status_code == 400 and field_error(response, "site_id")
    assert snapshot(db) == before


def test_reception_sees_rooms_but_does_not_manage_them(db, frozen, sites, client_for):
    room = make_room(sites["a"], name="Salle Alpha")
    make_room(sites["b"], name="Salle Bêta")
    client = client_for(sites["reception_a"])
    page = page_text(client.get("/salles"))
    assert "Salle Alpha" in page and "Salle Bêta" not in page and "Nouvelle salle" not in page
    assert client.get(f"/salles/{room.id}/modifier").status_code == 403
    assert client.get("/ateliers/nouveau").status_code == 403
    assert client.get(f"/structures/{sites['a'].id}/fermetures").status_code == 403


def test_closures_and_public_holidays(db, frozen, sites, client_for):
    client = client_for(sites["manager_a"])
    response = client.post(f"/structures/{sites['a'].id}/fermetures",
                           data={"room_id": "0", "first_day": "2026-04-10", "last_day": "2026-04-12", "reason": "Travaux"})
    assert response.status_code == 302
    bad = client.post(f"/structures/{sites['a'].id}/fermetures",
                      data={"room_id": "0", "first_day": "2026-04-10", "last_day": "2026-04-01", "reason": "X"})
    assert bad.status_code == 400 and field_error(bad, "last_day") == "Le dernier jour doit être après le premier jour."
    client.post(f"/structures/{sites['a'].id}/jours-feries", data={"year": "2026"})
    client.post(f"/structures/{sites['a'].id}/jours-feries", data={"year": "2026"})  # twice: nothing more
    closures = _db.session.scalars(select(Closure).where(Closure.site_id == sites["a"].id)).all()
    assert len(closures) == 1 + 11
    travaux = next(c for c in closures if c.reason == "Travaux")
    assert "Travaux" in page_text(client.get(f"/structures/{sites['a'].id}/fermetures"))
    travaux_id = travaux.id
    client.post(f"/fermetures/{travaux_id}/supprimer")
    _db.session.expire_all()
    assert _db.session.scalar(select(Closure).where(Closure.id == travaux_id)) is None


def test_day_view_and_a_desk_booking(db, frozen, sites, client_for):
    room = make_room(sites["a"], workstations=2)
    book(room, at_local(TUESDAY, 14), n=1, first_name="Fatima")
    client = client_for(sites["reception_a"])
    page = page_text(client.get(f"/salles/{room.id}/jour?date=2026-03-24"))
    assert "Fatima" in page and "06 00 00 00 01" in page and "1 / 2" in page

    bad = client.post(f"/salles/{room.id}/reserver?date=2026-03-24",
                      data={"slot": at_local(TUESDAY, 14).isoformat(), "first_name": "", "contact": "x"})
    assert bad.status_code == 400 and field_error(bad, "first_name") == "Écrivez votre prénom."
    response = client.post(f"/salles/{room.id}/reserver?date=2026-03-24",
                           data={"slot": at_local(TUESDAY, 14).isoformat(), "first_name": "Bernard", "contact": "07 11 22 33 44"})
    assert location_path(response) == f"/salles/{room.id}/jour"
    booking = _db.session.scalar(select(Booking).where(Booking.first_name == "Bernard"))
    assert booking.created_by_id == sites["reception_a"].id
    event = _db.session.scalar(select(BookingEvent).where(BookingEvent.booking_id == booking.id))
    assert (event.action, event.actor_id, event.site_id) == (BookingAction.booked, sites["reception_a"].id, sites["a"].id)
    full = client.post(f"/salles/{room.id}/reserver?date=2026-03-24",
                       data={"slot": at_local(TUESDAY, 14).isoformat(), "first_name": "Rachid", "contact": "07 11 22 33 45"})
    assert full.status_code == 409 and "complet" in page_text(full)


def test_staff_cancel_a_seat(db, frozen, sites, client_for):
    room = make_room(sites["a"])
    booking, _token = book(room, at_local(TUESDAY, 14))
    client_for(sites["reception_a"]).post(f"/reservations/{booking.id}/annuler")
    _db.session.expire_all()
    assert _db.session.get(Booking, booking.id).is_cancelled
    # Staff of another site: refused, nothing changed.
    other, _token = book(room, at_local(TUESDAY, 15))
    assert client_for(sites["manager_b"]).post(f"/reservations/{other.id}/annuler").status_code == 403
    _db.session.expire_all()
    assert _db.session.get(Booking, other.id).is_confirmed


def test_calendar_pages_run_a_fixed_number_of_queries(db, frozen, sites, client_for, count_queries):
    room = make_room(sites["a"], workstations=20)
    client = client_for(sites["manager_a"])

    def queries():
        room_id, site_id = room.id, sites["a"].id
        workshops = _db.session.scalars(select(Workshop.id)).all()
        db.session.commit()
        with count_queries() as n:
            for url in (f"/salles/{room_id}/jour?date=2026-03-24", f"/salles/{room_id}/semaine?date=2026-03-24",
                        f"/structures/{site_id}/ateliers?date=2026-03-24", "/salles"):
                assert client.get(url).status_code == 200
            for workshop_id in workshops[:1]:
                assert client.get(f"/ateliers/{workshop_id}").status_code == 200
        return n()

    # The small case already has one of everything (so that no eager load is skipped for lack of rows).
    register(make_workshop(room, day=TUESDAY, places=2), n=99, actor=sites["reception_a"])
    book(room, at_local(TUESDAY, 16), n=98)
    small = queries()
    for n in range(5):
        book(room, at_local(TUESDAY, 14 + n % 3), n=n)
        book(room, at_local(TUESDAY + timedelta(days=1), 15), n=50 + n)
        make_workshop(make_room(sites["a"]), day=TUESDAY + timedelta(days=n % 3), places=2)
    for n in range(4):
        register(_db.session.scalars(select(Workshop).order_by(Workshop.id)).first(), n=100 + n)
    assert queries() == small


def test_a_manager_creates_a_weekly_workshop(db, frozen, sites, client_for):
    room = make_room(sites["a"], workstations=6)
    client = client_for(sites["manager_a"])
    form = {"title": "Démarches en ligne", "description": "On apprend.", "level": "beginner", "facilitator": "Léa",
            "room_id": room.id, "day": "2026-03-24", "starts": "10:00", "ends": "12:00", "places": "5", "repeat_weeks": "2"}
    response = client.post("/ateliers/nouveau", data=form)
    workshops = _db.session.scalars(select(Workshop).order_by(Workshop.starts_at)).all()
    assert len(workshops) == 3 and location_path(response) == f"/ateliers/{workshops[0].id}"
    assert [w.starts_at.astimezone(at_local(TUESDAY, 10).tzinfo) for w in workshops][0] == at_local(TUESDAY, 10)
    before = snapshot(db)
    clash = client.post("/ateliers/nouveau", data={**form, "day": "2026-03-31", "repeat_weeks": "0", "starts": "11:00", "ends": "13:00"})
    assert clash.status_code == 400 and "déjà l'atelier « Démarches en ligne »" in page_text(clash)
    too_many = client.post("/ateliers/nouveau", data={**form, "day": "2026-05-05", "places": "7"})
    assert too_many.status_code == 400 and "pas plus de 6 places" in page_text(too_many)
    backwards = client.post("/ateliers/nouveau", data={**form, "starts": "12:00", "ends": "10:00"})
    assert backwards.status_code == 400 and field_error(backwards, "ends") == "L'heure de fin doit être après l'heure de début."
    assert snapshot(db) == before


def test_registrants_walk_in_promotion_shown_and_attendance(db, frozen, sites, client_for):
    workshop = make_workshop(make_room(sites["a"]), day=TUESDAY, places=1, title="Tablette")
    placed, _t = register(workshop, n=1, first_name="Monique")
    client = client_for(sites["reception_a"])
    response = client.post(f"/ateliers/{workshop.id}/inscrire", data={"first_name": "Dylan", "contact": "dylan@exemple.fr"})
    assert location_path(response) == f"/ateliers/{workshop.id}"
    page = page_text(client.get(f"/ateliers/{workshop.id}"))
    assert "Monique" in page and "Dylan" in page and "Inscription sur la liste d'attente" in page

    client.post(f"/reservations/{placed.id}/annuler")
    page = page_text(client.get(f"/ateliers/{workshop.id}"))
    assert "Place obtenue depuis la liste d'attente" in page and "depuis la liste d'attente" in page
    dylan = _db.session.scalar(select(Booking).where(Booking.first_name == "Dylan"))
    assert dylan.is_confirmed

    early = client.post(f"/reservations/{dylan.id}/presence", data={"attendance": "present"})
    assert location_path(early) == f"/ateliers/{workshop.id}"
    _db.session.expire_all()
    assert _db.session.get(Booking, dylan.id).attendance is None
    frozen.set(workshop.starts_at + timedelta(minutes=15))
    client.post(f"/reservations/{dylan.id}/presence", data={"attendance": "absent"})
    _db.session.expire_all()
    assert _db.session.get(Booking, dylan.id).attendance is Attendance.absent
    assert "Présence : Absent" in page_text(client.get(f"/ateliers/{workshop.id}"))
    # Another site's agent cannot mark it.
    assert client_for(sites["manager_b"]).post(f"/reservations/{dylan.id}/presence", data={"attendance": "present"}).status_code == 403


def test_more_places_from_the_edit_form_promote(db, frozen, sites, client_for):
    workshop = make_workshop(make_room(sites["a"], workstations=6), places=1)
    register(workshop, n=1)
    waiting, _t = register(workshop, n=2)
    client = client_for(sites["manager_a"])
    response = client.post(f"/ateliers/{workshop.id}/modifier",
                           data={"title": "Nouveau titre", "description": "", "level": "everyone", "facilitator": "", "places": "2"})
    assert location_path(response) == f"/ateliers/{workshop.id}"
    _db.session.expire_all()
    assert _db.session.get(Booking, waiting.id).is_confirmed
    assert _db.session.get(Workshop, workshop.id).title == "Nouveau titre"


def test_cancel_a_workshop(db, frozen, sites, client_for):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    register(workshop, n=1)
    client_for(sites["manager_a"]).post(f"/ateliers/{workshop.id}/annuler")
    _db.session.expire_all()
    assert _db.session.get(Workshop, workshop.id).is_cancelled
    assert _db.session.scalar(select(func.count()).where(Booking.state == "cancelled")) == 1

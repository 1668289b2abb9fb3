"""The arrival desk over HTTP, with CSRF protection on (as in production)."""
import pytest
from sqlalchemy import select

from reservations.models import Attendance, Booking, BookingAction, BookingEvent
from tests.conftest import PASSWORD
from tests.core.helpers import csrf_token, page_text, snapshot


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def logged_in(app, user):
    client = app.test_client()
    form = client.get("/connexion")
    response = client.post("/connexion", data={"csrf_token": csrf_token(form), "email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def desk(app, march):
    return logged_in(app, march.reception_a)


def attendance_of(db, booking):
    return db.session.scalar(select(Booking.attendance).where(Booking.id == booking.id))


def test_the_days_seats_with_their_arrival(desk, march):
    text = page_text(desk.get(f"/structures/{march.a.id}/arrivees?jour=2026-03-03"))
    assert "mardi 3 mars 2026" in text.lower()
    assert text.count("Venu·e</strong>") == 2  # both seats of the 3rd were noted
    assert march.seat_b.reference not in text  # site B's seat that day


def test_noting_an_arrival(desk, march, db):
    page = desk.get(f"/structures/{march.a.id}/arrivees?jour=2026-03-31")
    assert march.seat_q.reference in page_text(page) and attendance_of(db, march.seat_q) is None
    response = desk.post(f"/arrivees/{march.seat_q.id}", data={"attendance": "present", "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/structures/{march.a.id}/arrivees?jour=2026-03-31#reservation-{march.seat_q.id}")
    assert attendance_of(db, march.seat_q) is Attendance.present
    event = db.session.scalars(select(BookingEvent).where(BookingEvent.booking_id == march.seat_q.id)
                               .order_by(BookingEvent.id.desc())).first()
    assert (event.action, event.attendance, event.actor_id) == (BookingAction.attendance, Attendance.present, march.reception_a.id)
    assert "Venu·e</strong>" in page_text(desk.get(f"/structures/{march.a.id}/arrivees?jour=2026-03-31"))


def test_without_the_csrf_token_nothing_changes(desk, march, db):
    before = snapshot(db)
    response = desk.post(f"/arrivees/{march.seat_q.id}", data={"attendance": "present"})
    assert response.status_code == 400
    assert snapshot(db) == before


def test_a_wrong_answer_or_a_workshop_place_gets_a_french_message(desk, march, db):
    page = desk.get(f"/structures/{march.a.id}/arrivees?jour=2026-03-31")
    token = csrf_token(page)
    before = snapshot(db)
    response = desk.post(f"/arrivees/{march.seat_q.id}", data={"attendance": "peut-être", "csrf_token": token})
    assert response.status_code == 400 and "Choisissez « Venu·e » ou « Pas venu·e »." in page_text(response)
    response = desk.post(f"/arrivees/{march.places[1].id}", data={"attendance": "present", "csrf_token": token})
    assert response.status_code == 400
    assert "On note l'arrivée seulement pour une réservation de poste confirmée." in page_text(response)
    assert snapshot(db) == before


def test_staff_of_another_site_cannot_note_arrivals(app, march, db):
    other = logged_in(app, march.agent_b)
    page = other.get(f"/structures/{march.b.id}/arrivees?jour=2026-03-03")
    before = snapshot(db)
    response = other.post(f"/arrivees/{march.seat_q.id}", data={"attendance": "present", "csrf_token": csrf_token(page)})
    assert response.status_code == 403
    assert other.get(f"/structures/{march.a.id}/arrivees").status_code == 403
    assert snapshot(db) == before


def test_an_unreadable_day_and_the_desks_own_entry(desk, march):
    response = desk.get(f"/structures/{march.a.id}/arrivees?jour=31-02")
    assert response.status_code == 400 and "Date illisible" in page_text(response)
    response = desk.get("/arrivees")  # one site: today's list straight away
    assert response.status_code == 200 and "vendredi 10 avril 2026" in page_text(response).lower()

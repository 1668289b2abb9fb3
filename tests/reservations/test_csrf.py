"""The reservations forms with CSRF protection on, as in production."""
from datetime import date

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from reservations.models import Booking
from tests.core.helpers import csrf_token, location_path, page_text, snapshot
from tests.reservations.factories import at_local, book, make_room

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])

SEAT_URL = "/reserver/salle/{room}/2026-03-24/1400"


def test_public_booking_needs_the_token_of_the_form(db, frozen, sites, client):
    room = make_room(sites["a"])
    before = snapshot(db)
    refused = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Zoé", "contact": "zoe@exemple.fr"})
    assert refused.status_code == 400
    assert snapshot(db) == before

    form = client.get(SEAT_URL.format(room=room.id))
    response = client.post(SEAT_URL.format(room=room.id),
                           data={"csrf_token": csrf_token(form), "first_name": "Zoé", "contact": "zoe@exemple.fr"})
    assert response.status_code == 302
    assert _db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_cancelling_with_the_private_link_needs_the_token(db, frozen, sites, client):
    room = make_room(sites["a"])
    booking, token = book(room, at_local(date(2026, 3, 24), 14))
    assert client.post(f"/ma-reservation/{token}/annuler").status_code == 400
    _db.session.expire_all()
    assert _db.session.get(Booking, booking.id).is_confirmed

    confirm = client.get(f"/ma-reservation/{token}/annuler")
    response = client.post(f"/ma-reservation/{token}/annuler", data={"csrf_token": csrf_token(confirm)})
    assert location_path(response) == f"/ma-reservation/{token}"
    assert "Réservation annulée" in page_text(client.get(f"/ma-reservation/{token}"))


def test_staff_desk_booking_needs_the_token(db, frozen, sites, client, login):
    room = make_room(sites["a"])
    page = client.get("/connexion")
    client.post("/connexion", data={"csrf_token": csrf_token(page), "email": sites["reception_a"].email,
                                    "password": "mot-de-passe-solide"})
    day = client.get(f"/salles/{room.id}/jour?date=2026-03-24")
    data = {"slot": at_local(date(2026, 3, 24), 14).isoformat(), "first_name": "Bernard", "contact": "0711223344"}
    assert client.post(f"/salles/{room.id}/reserver?date=2026-03-24", data=data).status_code == 400
    response = client.post(f"/salles/{room.id}/reserver?date=2026-03-24", data={**data, "csrf_token": csrf_token(day)})
    assert response.status_code == 302
    assert _db.session.scalar(select(func.count()).select_from(Booking)) == 1

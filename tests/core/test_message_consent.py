"""Consent to reminders: the box on the forms, SMS "STOP" through the provider's webhook, and the
e-mail's link — each recorded (contact, channel, wanted, how, site, when) and followed."""
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from core import clock
from core.extensions import db as _db
from core.messaging import consent
from core.messaging.models import Channel, ConsentEvent, Message, MessageKind, MessageStatus
from reservations import bookings
from reservations.identity import Contact
from tests.core.helpers import page_text
from tests.reservations.factories import at_local, make_room

MONDAY_9 = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
SEAT_URL = "/reserver/salle/{room}/2026-03-24/1400"
SECRET = "secret-du-webhook-0123456789"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SMS_WEBHOOK_SECRET": SECRET}


@pytest.fixture(autouse=True)
def monday(monkeypatch):
    monkeypatch.setattr(clock, "frozen_at", MONDAY_9)


def consents():
    _db.session.expire_all()
    return [(e.contact, e.channel, e.wanted, e.how) for e in _db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))]


def kinds():
    _db.session.expire_all()
    return sorted((m.kind.value, m.status.value) for m in _db.session.scalars(select(Message)))


# --- the box on the forms -------------------------------------------------------------------------


def test_the_booking_form_shows_the_box_ticked(db, two_sites, client):
    room = make_room(two_sites["a"])
    page = client.get(SEAT_URL.format(room=room.id)).get_data(as_text=True)
    assert 'name="reminders"' in page and "checked" in page.split('name="reminders"')[0].rsplit("<input", 1)[1] + \
        page.split('name="reminders"')[1].split(">")[0]
    assert "Recevoir un rappel par SMS / par e-mail" in page


def test_ticked_box_records_yes_and_writes_the_reminder(db, two_sites, client):
    room = make_room(two_sites["a"])
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "06 12 34 56 78", "reminders": "y"})
    assert response.status_code == 302
    assert consents() == [("+33612345678", Channel.sms, True, "booking form")]
    assert kinds() == [("booking_confirmed", "pending"), ("booking_reminder", "pending")]


def test_unticked_box_records_no_and_the_confirmation_still_goes(db, two_sites, client):
    room = make_room(two_sites["a"])
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "kevin@exemple.fr"})
    assert response.status_code == 302
    assert consents() == [("kevin@exemple.fr", Channel.email, False, "booking form")]
    assert kinds() == [("booking_confirmed", "pending")]


def test_a_refused_booking_records_no_choice(db, two_sites, client):
    room = make_room(two_sites["a"])
    response = client.post(f"/reserver/salle/{room.id}/2026-03-22/1400",
                           data={"first_name": "Kévin", "contact": "kevin@exemple.fr", "reminders": "y"})
    assert response.status_code == 400 and consents() == []


def test_the_same_choice_again_is_not_written_twice(db):
    assert consent.record_choice("+33612345678", Channel.sms, True, "desk") is not None
    assert consent.record_choice("+33612345678", Channel.sms, True, "booking form") is None
    assert consent.record_choice("+33612345678", Channel.sms, False, "desk") is not None
    assert [row[2] for row in consents()] == [True, False]


def test_the_desk_booking_form_records_how(db, two_sites, client_for):
    room = make_room(two_sites["a"])
    client = client_for(two_sites["reception_a"])
    starts_at = at_local(date(2026, 3, 24), 14)
    response = client.post(f"/salles/{room.id}/reserver?date=2026-03-24",
                           data={"slot": starts_at.isoformat(), "first_name": "Ali", "contact": "0761234567"})
    assert response.status_code == 302, page_text(response)
    assert "/salles/" in response.headers["Location"], response.headers["Location"]
    assert consents() == [("+33761234567", Channel.sms, False, "desk")]


# --- SMS STOP --------------------------------------------------------------------------------------


def booked_by_phone(two_sites, n="0612345678"):
    room = make_room(two_sites["a"])
    bookings.book_seat(room.id, at_local(date(2026, 3, 24), 14), "Fatima", Contact(phone=n, email=""))
    _db.session.commit()


def brevo_reply(text, to="33612345678"):
    return {"id": 1234, "to": to, "sms_count": 1, "credits_used": 1, "messageId": 1511882900176220,
            "msg_status": "replied", "date": "2026-03-23 10:00:00", "reply": text, "type": "sms"}


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop "])
def test_a_stop_reply_turns_reminders_off_for_that_number(db, two_sites, client, text):
    booked_by_phone(two_sites)
    response = client.post("/messages/sms/reponses", json=brevo_reply(text), headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200 and response.get_json() == {"recorded": True}
    assert consents() == [("+33612345678", Channel.sms, False, "SMS STOP")]
    assert kinds() == [("booking_confirmed", "pending"), ("booking_reminder", "cancelled")]


def test_another_reply_changes_nothing(db, two_sites, client):
    booked_by_phone(two_sites)
    response = client.post("/messages/sms/reponses", json=brevo_reply("Merci, je viendrai"), headers={"X-Webhook-Secret": SECRET})
    assert response.status_code == 200 and consents() == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer faux"}, {"X-Webhook-Secret": ""}])
def test_the_webhook_wants_its_secret(db, client, headers):
    response = client.post("/messages/sms/reponses", json=brevo_reply("STOP"), headers=headers)
    assert response.status_code == 401 and consents() == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"to": 42, "reply": "STOP"}', b'{"to": "abc", "reply": "STOP"}'])
def test_a_strange_webhook_body_is_no_error(db, client, body):
    response = client.post("/messages/sms/reponses", data=body, content_type="application/json",
                           headers={"X-Webhook-Secret": SECRET})
    assert response.status_code in (200, 400) and consents() == []


# --- the e-mail's link -------------------------------------------------------------------------------


def test_the_email_link_asks_then_turns_reminders_off(db, two_sites, client):
    room = make_room(two_sites["a"])
    bookings.book_seat(room.id, at_local(date(2026, 3, 24), 14), "Kévin", Contact(phone="", email="kevin@exemple.fr"))
    _db.session.commit()
    confirmation = _db.session.scalars(select(Message).where(Message.kind == MessageKind.booking_confirmed)).one()
    link = "/messages/arret/" + confirmation.body.split("/messages/arret/", 1)[1].split()[0]
    assert "kevin" not in link

    page = client.get(link)
    assert page.status_code == 200 and "Je ne veux plus de rappels" in page_text(page)
    assert consents() == []  # a GET (a mail scanner following links) changes nothing

    done = client.post(link)
    assert done.status_code == 200 and "Vous ne recevrez plus de rappels par e-mail." in page_text(done)
    assert consents() == [("kevin@exemple.fr", Channel.email, False, "e-mail link")]
    reminder = _db.session.scalars(select(Message).where(Message.kind == MessageKind.booking_reminder)).one()
    assert reminder.status is MessageStatus.cancelled
    assert "C'est noté" in page_text(client.get(link))


def test_a_forged_link_is_refused(db, client):
    response = client.get("/messages/arret/" + consent.unsubscribe_token("x")[:-2] + "zz")
    assert response.status_code == 404 and "Ce lien ne marche pas" in page_text(response)
    assert client.post("/messages/arret/nimportequoi").status_code == 404

"""The texts of the messages: SMS in GSM-7 within their documented number of parts, filled with
long realistic values; e-mails with a subject, French text and a valid .ics (METHOD, SEQUENCE, UID)."""
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from icalendar import Calendar

from core.messaging import gsm, texts
from core.messaging.models import Channel, MessageKind

LONG_BASE = "https://reservations.centres-sociaux-valenciennes.fr"
TOKEN = "Qx7_kP2mZr9LwT4vB8nHc3JdYf6GsA1e"  # secrets.token_urlsafe(24): 32 characters
LINK = f"{LONG_BASE}/ma-reservation/{TOKEN}"
REBOOK = f"{LONG_BASE}/ateliers/centre/12"


def long_site():
    return SimpleNamespace(name="Centre social et culturel des Trois Quartiers", phone="03 27 45 67 89", email="",
                           address="12 rue de la République", postcode="59300", town="Valenciennes")


def long_booking(workshop=True):
    return SimpleNamespace(
        site=long_site(), reference="ACDE47", first_name="Marie-Françoise", email="", phone="0612345678",
        starts_at=datetime(2026, 9, 16, 12, 30, tzinfo=UTC), ends_at=datetime(2026, 9, 16, 14, 0, tzinfo=UTC),
        workshop=SimpleNamespace(title="Faire ses démarches en ligne : CAF, impôts, Ameli") if workshop else None,
        promoted_at=None,
    )


def long_loan():
    device = SimpleNamespace(kind=SimpleNamespace(name="Ordinateur portable"), tag="K7M3PX")
    return SimpleNamespace(device=device, due_on=date(2026, 9, 16), resident=SimpleNamespace(first_name="Marie"))


def filled_sms():
    booking, seat = long_booking(), long_booking(workshop=False)
    return {
        MessageKind.booking_confirmed: texts.booking_confirmed(booking, Channel.sms, LINK).body,
        MessageKind.booking_reminder: texts.booking_reminder(booking, Channel.sms, LINK).body,
        MessageKind.waiting_list_place: texts.waiting_list_place(booking, Channel.sms, LINK).body,
        MessageKind.booking_cancelled: texts.booking_cancelled(
            seat, Channel.sms, "travaux dans la salle informatique", f"{LONG_BASE}/reserver/12").body,
        MessageKind.loan_due: texts.loan_due(long_loan(), long_site(), Channel.sms).body,
        MessageKind.loan_overdue: texts.loan_overdue(long_loan(), long_site(), Channel.sms).body,
        MessageKind.retention_warning: texts.retention_warning(long_site(), "Marie", date(2026, 9, 16), Channel.sms).body,
    }


# --- GSM-7 --------------------------------------------------------------------------------------


def test_the_gsm7_alphabet_of_french():
    assert gsm.is_gsm7("é à è ù ì ò É Ç ä ö ñ ü @ £ $ € [ ]")
    for letter in ("ê", "ô", "ç", "î", "â", "û", "ë", "ï", "œ", "’", "«", "À", "È"):
        assert not gsm.is_gsm7(f"Fête {letter}"), letter


def test_segments_of_gsm7_and_ucs2():
    assert gsm.segments("a" * 160) == 1
    assert gsm.segments("a" * 161) == 2
    assert gsm.segments("a" * 306) == 2 and gsm.segments("a" * 307) == 3
    assert gsm.segments("€" * 80) == 1 and gsm.segments("€" * 81) == 2  # the extension table counts twice
    assert gsm.segments("ê" + "a" * 69) == 1
    assert gsm.segments("ê" + "a" * 70) == 2  # one "ê": the whole SMS in UCS-2, 67 a part
    assert gsm.segments("ê" * 134) == 2 and gsm.segments("ê" * 135) == 3


def test_gsm_safe_keeps_the_letters_gsm7_has():
    assert gsm.gsm_safe("Fête de l’été à Noël – « Côté cœur » ça…") == 'Fete de l\'été à Noel - " Coté coeur " ca...'
    assert gsm.is_gsm7(gsm.gsm_safe("Ateliers numériques : maîtriser sa boîte mél 🙂"))


# --- each SMS, filled with long values --------------------------------------------------------------


def test_every_sms_is_gsm7_and_fits_its_documented_parts(app, capsys):
    filled = filled_sms()
    assert set(filled) == set(texts.SMS_SEGMENTS)
    for kind, body in filled.items():
        allowed, reason = texts.SMS_SEGMENTS[kind]
        assert gsm.is_gsm7(body), (kind, [c for c in body if c not in gsm.GSM7])
        assert gsm.segments(body) <= allowed, (kind, gsm.gsm_length(body), body)
        if allowed > 1:
            assert reason and (LONG_BASE in body)  # two parts because of a link of 70-100 characters
        assert "Centre social et culturel des Trois Quartiers" in body
        assert "03 27 45 67 89" in body
        with capsys.disabled():
            print(f"\n--- {kind.value}: {gsm.gsm_length(body)} GSM-7 characters, {gsm.segments(body)} part(s)\n{body}")


def test_a_long_title_is_shortened_not_the_link(app):
    booking = long_booking()
    booking.workshop.title = "Atelier numérique " * 7  # 126 characters, more than a title may hold
    body = texts.booking_confirmed(booking, Channel.sms, LINK).body
    assert gsm.segments(body) == 2 and LINK in body and "Réf. ACDE47" in body and "..." in body


def test_sms_texts_say_what_a_resident_needs(app):
    filled = filled_sms()
    assert "Réf. ACDE47" in filled[MessageKind.booking_confirmed] and LINK in filled[MessageKind.booking_confirmed]
    assert "Mercredi 16 septembre de 14 h 30 à 16 h." in filled[MessageKind.booking_confirmed]
    assert "Faire ses démarches en ligne : CAF, impots" in filled[MessageKind.booking_confirmed]  # ô → o
    assert "Vous ne pouvez pas venir ? Annulez ici pour laisser la place" in filled[MessageKind.booking_reminder]
    assert ": une place pour vous !" in filled[MessageKind.waiting_list_place]
    assert "Le centre est fermé : travaux dans la salle informatique." in filled[MessageKind.booking_cancelled]
    assert "Ordinateur portable (K7M3PX) : à rendre mercredi 16 septembre." in filled[MessageKind.loan_due]
    assert "(K7M3PX) : à rendre le 16 septembre." in filled[MessageKind.loan_overdue]


def test_august_is_written_without_its_circumflex(app):
    booking = long_booking(workshop=False)
    booking.starts_at, booking.ends_at = datetime(2026, 8, 4, 12, tzinfo=UTC), datetime(2026, 8, 4, 13, tzinfo=UTC)
    body = texts.booking_confirmed(booking, Channel.sms, LINK).body
    assert "Mardi 4 aout" in body and gsm.is_gsm7(body)


# --- e-mails and their .ics -----------------------------------------------------------------------


@pytest.fixture
def booking(db, two_sites, monkeypatch):
    from core import clock
    from reservations import bookings
    from reservations.identity import Contact
    from tests.reservations.factories import at_local, make_room

    monkeypatch.setattr(clock, "frozen_at", datetime(2026, 3, 23, 8, tzinfo=UTC))
    room = make_room(two_sites["a"])
    booking, _token = bookings.book_seat(room.id, at_local(date(2026, 3, 24), 14), "Fatima",
                                         Contact(phone="", email="fatima@exemple.fr"))
    db.session.commit()
    return booking


def _event(ics: str):
    cal = Calendar.from_ical(ics)
    return cal, cal.walk("VEVENT")[0]


def test_the_confirmation_email_carries_a_request_ics(app, booking):
    text = texts.booking_confirmed(booking, Channel.email, "http://localhost/ma-reservation/x", "http://localhost/stop")
    assert text.subject == "Votre place est réservée – Centre A"
    assert "Bonjour Fatima," in text.body and "Numéro de réservation : " + booking.reference in text.body
    assert "Mardi 24 mars de 14 h à 15 h." in text.body and "http://localhost/stop" in text.body
    cal, event = _event(text.calendar)
    assert str(cal["method"]) == "REQUEST"
    assert event["sequence"] == 0 and str(event["status"]) == "CONFIRMED"
    assert str(event["uid"]) == f"booking-{booking.reference}@localhost"
    assert str(event["attendee"]) == "mailto:fatima@exemple.fr"


def test_the_cancellation_cancels_the_same_event_with_a_higher_sequence(app, booking):
    confirmed = _event(texts.booking_confirmed(booking, Channel.email, "l").calendar)[1]
    place = _event(texts.waiting_list_place(booking, Channel.email, "l").calendar)[1]
    text = texts.booking_cancelled(booking, Channel.email, "Inventaire", "http://localhost/reserver/1")
    cal, cancelled = _event(text.calendar)
    assert str(cal["method"]) == "CANCEL" and str(cancelled["status"]) == "CANCELLED"
    assert cancelled["uid"] == confirmed["uid"] == place["uid"]
    assert confirmed["sequence"] < place["sequence"] < cancelled["sequence"]
    assert "Le centre est fermé : Inventaire." in text.body and "http://localhost/reserver/1" in text.body

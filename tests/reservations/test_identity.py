"""One identity (issue 12): the same person typed four ways is one person everywhere — one resident at
the desk, found by search, one booking per slot, bookings linked to their resident, counted once in the
reports, one recipient in messages. Bad phone numbers get a French message and change nothing."""
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import contacts
from core.contacts import ContactError
from core.extensions import db as _db
from core.messaging.models import Message
from core.residents import LikelyDuplicates, Resident, check_not_duplicate, create_resident, edit_resident, search
from reports import queries
from reports.periods import Window
from reservations import bookings, workshops
from reservations.identity import IdentityError, link_bookings, parse_contact
from reservations.ledger import ReservationError, hash_token, unused_reference
from reservations.models import Booking
from tests.core.helpers import field_error, page_text, snapshot
from tests.reservations.factories import at_local, make_room, make_workshop

TUESDAY = date(2026, 3, 24)
FOUR_WAYS = ["06 12 34 56 78", "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78"]
E164 = "+33612345678"


# --- the normaliser -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", FOUR_WAYS + ["06.12.34.56.78", "06-12-34-56-78", "+330612345678"])
def test_four_ways_of_typing_one_number_give_one_e164(typed):
    assert contacts.normalise_phone(typed) == E164
    assert contacts.format_phone(contacts.normalise_phone(typed)) == "06 12 34 56 78"


def test_display_is_french_for_french_numbers_and_international_for_others():
    assert contacts.format_phone("+447700900123") == "+44 7700 900123"
    assert contacts.format_phone("+3221234567") == "+32 2 123 45 67"
    assert contacts.format_phone("12") == "12"  # not a number: as it was
    assert contacts.phone_href(E164) == "tel:0612345678"


@pytest.mark.parametrize("typed, message", [
    ("06 12 34", "10 chiffres et commence par 0"),
    ("06 12 34 56 78 90", "10 chiffres et commence par 0"),
    ("00 00 00 00 00", "Vérifiez le nombre de chiffres"),
    ("12345", "10 chiffres et commence par 0"),
    ("06 12 34 56 7a", "Écrivez seulement des chiffres"),
    ("0612345678 poste 3", "Écrivez seulement des chiffres"),
    ("+44 12", "Vérifiez le nombre de chiffres"),
])
def test_bad_numbers_are_refused_with_a_french_message_for_their_field(typed, message):
    with pytest.raises(ContactError, match=message) as refused:
        contacts.normalise_phone(typed, field="contact")
    assert refused.value.field == "contact" and refused.value.status == 400


@pytest.mark.parametrize("typed, prefix", [("06 12", "+33612"), ("0612", "+33612"), ("+33 6 12", "+33612"),
                                           ("+33 (0)6 12", "+33612"), ("0033 6 12", "+33612"), ("+44 77", "+4477"),
                                           ("dupont", None), ("06", None)])
def test_search_prefix_of_a_number_typed_any_way(typed, prefix):
    assert contacts.phone_prefix(typed) == prefix


def test_old_stored_forms_read_as_e164():
    assert contacts.phone_or_none("0612345678") == E164
    assert contacts.phone_or_none("330612345678") == E164  # the residents' old digits of "+33 (0)6…"
    assert contacts.phone_or_none("+447700900123") == "+447700900123"
    assert [contacts.phone_or_none(v) for v in ("12", "", "anonyme-0612345678", "a@b.fr")] == [None] * 4


# --- one person everywhere -------------------------------------------------------------------------


def test_one_person_typed_four_ways_is_one_person_everywhere(db, frozen, sites):
    a, agent = sites["a"], sites["reception_a"]
    marie = create_resident(agent, a, first_name="Marie", last_name="Dupont", phone=FOUR_WAYS[0])
    db.session.commit()
    assert marie.phone == E164 and marie.phone_display == "06 12 34 56 78"

    # The desk's duplicate check: the same name with the number typed another way.
    for typed in FOUR_WAYS[1:]:
        with pytest.raises(LikelyDuplicates) as duplicates:
            check_not_duplicate(agent, "marie", "DUPONT", typed, confirmed=False)
        assert [r.id for r in duplicates.value.duplicates] == [marie.id]

    # Search: the beginning of the number typed any way.
    for typed in ("06 12", "0612", "+33 6 12", "+33 (0)6 12", "0033 6 12", "06 12 34 56 78"):
        assert [r.id for r in search(agent, typed)[0]] == [marie.id], typed

    # One seat per slot; the per-person limit counts every way of typing.
    room = make_room(a)
    first, _token = bookings.book_seat(room.id, at_local(TUESDAY, 14), "Marie", parse_contact(FOUR_WAYS[1]))
    db.session.commit()
    with pytest.raises(ReservationError, match="déjà une place sur ce créneau"):
        bookings.book_seat(room.id, at_local(TUESDAY, 14), "Marie", parse_contact(FOUR_WAYS[2]), actor=agent)
    db.session.rollback()
    second, _token = bookings.book_seat(room.id, at_local(TUESDAY, 15), "Marie", parse_contact(FOUR_WAYS[3]), actor=agent)
    db.session.commit()
    with pytest.raises(ReservationError, match="C'est le maximum"):
        bookings.book_seat(room.id, at_local(TUESDAY, 16), "Marie", parse_contact(FOUR_WAYS[0]))
    db.session.rollback()
    workshop = make_workshop(room, day=date(2026, 3, 25))
    place, _token = workshops.register(workshop.id, "Marie", parse_contact(FOUR_WAYS[2]))
    db.session.commit()
    with pytest.raises(ReservationError, match="déjà une place à cet atelier"):
        workshops.register(workshop.id, "Marie", parse_contact(FOUR_WAYS[3]), actor=agent)
    db.session.rollback()

    # Every booking is hers, and she is one person in the reports and one recipient in messages.
    assert {b.resident_id for b in (first, second, place)} == {marie.id}
    assert {b.contact_key for b in (first, second, place)} == {E164}
    people = queries.people_reached([a.id], [Window(date(2026, 3, 1), date(2026, 4, 1))])
    assert people[a.id][0]["reached"] == people[None][0]["reached"] == 1
    assert people[a.id][0]["bookers"] == 1
    recipients = set(db.session.scalars(select(Message.recipient)))
    assert recipients == {E164}


def test_someone_the_desk_does_not_know_counts_once_too(db, frozen, sites):
    room = make_room(sites["a"])
    for hour, typed in zip((14, 15), FOUR_WAYS[2:], strict=True):
        booking, _token = bookings.book_seat(room.id, at_local(TUESDAY, hour), "Ali", parse_contact(typed))
        assert booking.resident_id is None
    db.session.commit()
    people = queries.people_reached([sites["a"].id], [Window(date(2026, 3, 1), date(2026, 4, 1))])
    assert people[sites["a"].id][0]["reached"] == 1


# --- the link ---------------------------------------------------------------------------------------


def resident(site, phone="", email="", first="Marie", actor=None):
    person = create_resident(actor, site, first_name=first, last_name="Dupont", phone=phone, email=email)
    _db.session.commit()
    return person


def test_a_booking_is_linked_to_the_resident_of_its_own_site_with_that_contact(db, frozen, sites):
    a, b = sites["a"], sites["b"]
    gone = resident(a, phone="06 12 34 56 78", first="Anonyme")
    gone.anonymised_at = frozen()
    first = resident(a, phone="0612345678")
    resident(a, phone="+33612345678", first="Homonyme")  # a later resident with the same number: not chosen
    nadia = resident(a, email="Nadia@Example.org ")
    at_b = resident(b, phone="07 11 22 33 44")
    room_a, room_b = make_room(a), make_room(b)

    seat, _ = bookings.book_seat(room_a.id, at_local(TUESDAY, 14), "Marie", parse_contact("+33 (0)6 12 34 56 78"))
    mail, _ = bookings.book_seat(room_a.id, at_local(TUESDAY, 15), "Nadia", parse_contact("NADIA@example.org"))
    other_site, _ = bookings.book_seat(room_b.id, at_local(TUESDAY, 14), "Marie", parse_contact("06 12 34 56 78"))
    not_of_a, _ = bookings.book_seat(room_a.id, at_local(TUESDAY, 16), "Karim", parse_contact("07 11 22 33 44"))
    db.session.commit()

    assert seat.resident_id == first.id and mail.resident_id == nadia.id
    assert other_site.resident_id is None and not_of_a.resident_id is None
    assert at_b.id != not_of_a.resident_id


def old_booking(room, hour, contact_key, phone=None):
    booking = Booking(reference=unused_reference(), token_hash=hash_token(f"t-{room.id}-{hour}-{contact_key}"), site_id=room.site_id,
                      room_id=room.id, starts_at=at_local(date(2026, 3, 10), hour), ends_at=at_local(date(2026, 3, 10), hour + 1),
                      first_name="Marie", phone=contact_key if phone is None else phone, email="", contact_key=contact_key)
    _db.session.add(booking)
    _db.session.flush()
    return booking


def test_a_resident_registered_later_picks_up_their_earlier_bookings_in_one_statement(db, frozen, sites, count_queries):
    a, b = sites["a"], sites["b"]
    room_a, room_b = make_room(a), make_room(b)
    mine = [old_booking(room_a, 14, E164), old_booking(room_a, 15, E164)]
    at_b = old_booking(room_b, 14, E164)
    erased = old_booking(room_a, 16, "anonyme-" + E164, phone="")
    someone_else = old_booking(room_a, 9, "+33699999999")
    db.session.commit()

    with count_queries() as few:
        marie = create_resident(sites["reception_a"], a, first_name="Marie", last_name="Dupont", phone="+33 (0)6 12 34 56 78")
    db.session.commit()
    assert [db.session.get(Booking, x.id).resident_id for x in mine] == [marie.id, marie.id]
    assert [db.session.get(Booking, x.id).resident_id for x in (at_b, erased, someone_else)] == [None, None, None]

    for hour in range(10, 14):
        old_booking(room_a, hour, "+33655555555")
    db.session.commit()
    with count_queries() as many:
        karim = create_resident(sites["reception_a"], a, first_name="Karim", last_name="B", phone="06 55 55 55 55")
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(Booking.resident_id == karim.id)) == 4
    assert few() == many()


def test_editing_a_phone_or_email_at_the_desk_links_the_earlier_bookings(db, frozen, sites):
    a = sites["a"]
    room = make_room(a)
    marie = resident(a)
    by_mail = old_booking(room, 14, "marie@example.org", phone="")
    by_phone = old_booking(room, 15, E164)
    db.session.commit()
    edit_resident(sites["reception_a"], marie.id, first_name="Marie", last_name="Dupont", phone="0033 6 12 34 56 78",
                  email=" Marie@Example.org")
    db.session.commit()
    assert (db.session.get(Booking, by_mail.id).resident_id, db.session.get(Booking, by_phone.id).resident_id) == (marie.id, marie.id)
    assert link_bookings(site_ids=[a.id]) == 0  # nothing left to link: idempotent


# --- bad numbers change nothing -----------------------------------------------------------------------


@pytest.mark.parametrize("typed, message", [
    ("06 12 34", "Un numéro de téléphone a 10 chiffres et commence par 0, par exemple 06 12 34 56 78."),
    ("+44 12", "Ce numéro de téléphone n'est pas valable. Vérifiez le nombre de chiffres."),
])
def test_a_bad_number_on_the_public_form_is_refused_next_to_the_field(db, frozen, sites, client, typed, message):
    room = make_room(sites["a"])
    before = snapshot(db)
    response = client.post(f"/reserver/salle/{room.id}/2026-03-24/1400", data={"first_name": "Zoé", "contact": typed})
    assert response.status_code == 400
    assert field_error(response, "contact") == message
    assert snapshot(db) == before


def test_a_bad_number_at_the_desk_is_refused_next_to_the_field(db, frozen, sites, client_for):
    marie = resident(sites["a"], phone="06 12 34 56 78")
    client = client_for(sites["reception_a"])
    before = snapshot(db)
    response = client.post(f"/habitants/{marie.id}/modifier", data={"first_name": "Marie", "last_name": "Dupont", "phone": "06 12 34"})
    assert response.status_code == 400
    assert "10 chiffres et commence par 0" in field_error(response, "phone")
    assert snapshot(db) == before
    with pytest.raises(IdentityError, match="10 chiffres"):
        create_resident(sites["reception_a"], sites["a"], first_name="Karim", last_name="B", phone="07 11")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 1
    assert "Marie Dupont" in page_text(client.get(f"/habitants/{marie.id}"))


def test_staff_desk_booking_is_linked_too(db, frozen, sites, client_for):
    a = sites["a"]
    marie = resident(a, phone="06 12 34 56 78")
    room = make_room(a)
    client = client_for(sites["reception_a"])
    starts_at = at_local(TUESDAY, 14)
    response = client.post(f"/salles/{room.id}/reserver?date=2026-03-24",
                           data={"slot": starts_at.isoformat(), "first_name": "Marie", "contact": "0033 6 12 34 56 78"})
    assert response.status_code == 302
    booking = db.session.scalar(select(Booking))
    assert (booking.contact_key, booking.resident_id) == (E164, marie.id)
    assert isinstance(booking.starts_at, datetime) and booking.starts_at - starts_at == timedelta(0)

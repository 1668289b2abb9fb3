"""The resident's pages over HTTP: centre → day → time → identity → private link; workshops and
the waiting list; cancelling; .ics; bad input; bad tokens; rate limit; query counts."""
import logging
import re
from datetime import date, time

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from reservations import rooms
from reservations.models import Booking, BookingState, Closure
from tests.core.helpers import field_error, location_path, page_text, snapshot
from tests.reservations.factories import at_local, book, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)
SEAT_URL = "/reserver/salle/{room}/2026-03-24/1400"


def bookings_count():
    return _db.session.scalar(select(func.count()).select_from(Booking))


def test_from_the_centre_to_the_private_link(db, frozen, sites, client, caplog):
    room = make_room(sites["a"], hours={1: [(time(14), time(16))], 3: [(time(14), time(16))]}, workstations=2)
    make_room(sites["b"], hours={})  # a room with no hours: site B offers no day
    db.session.add(Closure(site_id=sites["a"].id, first_day=date(2026, 3, 26), last_day=date(2026, 3, 26), reason="Réunion"))
    db.session.commit()
    book(room, at_local(TUESDAY, 15), n=1)
    book(room, at_local(TUESDAY, 15), n=2)

    centres = page_text(client.get("/reserver"))
    assert "Centre A" in centres and "Centre B" in centres

    days = client.get(f"/reserver/{sites['a'].id}")
    assert days.status_code == 200
    offered = re.findall(r'href="/reserver/\d+/(\d{4}-\d\d-\d\d)"', days.get_data(as_text=True))
    # Tuesdays and Thursdays within 14 days, minus the closed Thursday 26 March.
    assert offered == ["2026-03-24", "2026-03-31", "2026-04-02"]
    # What a resident can use, never a sum of seats over slots: Tuesday 24, 14 h free (2), 15 h full.
    assert "Mardi 24 mars<span class=\"sub\">2 postes, des places de 14 h à 15 h</span>" in page_text(days)
    assert "Mardi 31 mars<span class=\"sub\">2 postes, des places de 14 h à 16 h</span>" in page_text(days)
    assert "places libres" not in page_text(days)

    times = client.get(f"/reserver/{sites['a'].id}/2026-03-24")
    text = page_text(times)
    assert "De 14 h à 15 h" in text and "De 15 h à 16 h" not in text

    form = client.get(SEAT_URL.format(room=room.id))
    assert form.status_code == 200 and "Mardi 24 mars" in page_text(form) and "De 14 h à 15 h" in page_text(form)

    with caplog.at_level(logging.DEBUG):
        response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Zoé", "contact": "06 12 34 56 78"})
    assert response.status_code == 302
    link = location_path(response)
    assert re.fullmatch(r"/ma-reservation/[A-Za-z0-9_-]{32}", link)
    # No personal data in the URL, nor in the logs.
    assert "Zoé" not in response.headers["Location"] and "612345678" not in response.headers["Location"]
    assert "Zoé" not in caplog.text and "06 12 34 56 78" not in caplog.text and "612345678" not in caplog.text

    booking = _db.session.scalar(select(Booking).where(Booking.first_name == "Zoé"))
    assert booking.phone == "+33612345678" and booking.starts_at == at_local(TUESDAY, 14)
    page = page_text(client.get(link))
    assert "Votre place est réservée" in page and booking.reference in page and "C'est réservé" in page
    assert "http://localhost" + link in page  # the private link, to keep

    ics = client.get(link + "/agenda.ics")
    assert ics.mimetype == "text/calendar"
    body = ics.get_data(as_text=True)
    assert "DTSTART:20260324T130000Z" in body and booking.reference in body and "612345678" not in body


def test_bad_input_is_shown_next_to_the_field_and_changes_nothing(db, frozen, sites, client):
    room = make_room(sites["a"])
    before = snapshot(db)
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "  ", "contact": "06 12"})
    assert response.status_code == 400
    assert field_error(response, "first_name") == "Écrivez votre prénom."
    assert "10 chiffres" in field_error(response, "contact")
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "kevin@"})
    assert response.status_code == 400 and "adresse e-mail n'est pas valable" in field_error(response, "contact")
    assert snapshot(db) == before


def test_a_full_slot_answers_complet(db, frozen, sites, client):
    room = make_room(sites["a"], workstations=1)
    book(room, at_local(TUESDAY, 14), n=1)
    before = snapshot(db)
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "kevin@exemple.fr"})
    assert response.status_code == 409
    assert "Ce créneau est complet" in page_text(response)
    assert snapshot(db) == before


@pytest.mark.parametrize("url", ["/reserver/salle/{room}/2026-03-24/1430", "/reserver/salle/{room}/2026-02-30/1400",
                                 "/reserver/salle/{room}/2026-03-24/99xx", "/reserver/salle/999/2026-03-24/1400"])
def test_slots_that_do_not_exist_are_404(db, frozen, sites, client, url):
    room = make_room(sites["a"])
    assert client.get(url.format(room=room.id)).status_code == 404


def test_past_and_closed_days_are_refused_with_a_message(db, frozen, sites, client):
    room = make_room(sites["a"])
    db.session.add(Closure(site_id=sites["a"].id, first_day=TUESDAY, last_day=TUESDAY, reason="Jour férié"))
    db.session.commit()
    response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": "kevin@exemple.fr"})
    assert response.status_code == 400 and "fermé ce jour-là (Jour férié)" in page_text(response)
    response = client.post(f"/reserver/salle/{room.id}/2026-03-22/1400", data={"first_name": "Kévin", "contact": "kevin@exemple.fr"})
    assert response.status_code == 400 and "déjà passé" in page_text(response)
    assert bookings_count() == 0


def test_cancel_with_the_private_link_asks_first(db, frozen, sites, client):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    placed, token = register(workshop, n=1)
    waiting, waiting_token = register(workshop, n=2)
    assert "numéro 1 sur la liste d'attente" in page_text(client.get(f"/ma-reservation/{waiting_token}"))

    confirm = client.get(f"/ma-reservation/{token}/annuler")
    assert confirm.status_code == 200 and "Annuler ma réservation ?" in page_text(confirm)
    _db.session.expire_all()
    assert _db.session.get(Booking, placed.id).is_confirmed  # a GET changes nothing

    response = client.post(f"/ma-reservation/{token}/annuler")
    assert location_path(response) == f"/ma-reservation/{token}"
    assert "Réservation annulée" in page_text(client.get(f"/ma-reservation/{token}"))
    _db.session.expire_all()
    assert _db.session.get(Booking, placed.id).is_cancelled
    assert _db.session.get(Booking, waiting.id).is_confirmed  # promoted
    assert "Votre place est réservée" in page_text(client.get(f"/ma-reservation/{waiting_token}"))
    # The "place obtained" message, written (held) when the person joined the list, is released with
    # the same private link (core/messaging/writing.py).
    from core.messaging.models import Message, MessageKind, MessageStatus

    sms = _db.session.scalars(select(Message).where(Message.kind == MessageKind.waiting_list_place)).one()
    assert sms.status is MessageStatus.pending and f"/ma-reservation/{waiting_token}" in sms.body

    again = client.post(f"/ma-reservation/{token}/annuler")
    assert again.status_code == 400 and "déjà annulée" in page_text(again)


@pytest.mark.parametrize("suffix", ["", "/annuler", "/agenda.ics"])
def test_a_guessed_or_altered_token_gets_a_clear_message(db, frozen, sites, client, suffix):
    room = make_room(sites["a"])
    booking, token = book(room, at_local(TUESDAY, 14))
    altered = token[:-2] + ("xy" if token[-2:] != "xy" else "zz")
    for bad in (altered, "abc", "x" * 200):
        response = client.get(f"/ma-reservation/{bad}{suffix}")
        assert response.status_code == 404
        assert "Ce lien ne correspond à aucune réservation" in page_text(response)
    response = client.post(f"/ma-reservation/{altered}/annuler")
    assert response.status_code == 404
    _db.session.expire_all()
    assert _db.session.get(Booking, booking.id).is_confirmed


def test_workshops_list_and_waiting_list(db, frozen, sites, client):
    room = make_room(sites["a"], workstations=6)
    full = make_workshop(room, places=1, title="Tablette")
    open_ = make_workshop(room, day=date(2026, 3, 25), places=3, title="Courriel")
    register(full, n=1)
    register(open_, n=1)
    page = page_text(client.get(f"/ateliers/centre/{sites['a'].id}"))
    assert "Tablette" in page and "Courriel" in page and "2 places libres" in page and "Complet." in page

    join = client.get(f"/ateliers/{full.id}/inscription")
    assert "L'atelier est complet" in page_text(join) and "Je m'inscris sur la liste d'attente" in page_text(join)
    response = client.post(f"/ateliers/{full.id}/inscription", data={"first_name": "Yasmina", "contact": "yasmina@exemple.fr"})
    page = page_text(client.get(location_path(response)))
    assert "Vous êtes numéro 1 sur la liste d'attente" in page
    booking = _db.session.scalar(select(Booking).where(Booking.first_name == "Yasmina"))
    assert booking.state is BookingState.waiting


@pytest.mark.parametrize("app_config", [{"BOOKING_LIMIT_PER_ADDRESS": "3 per hour"}])
def test_the_public_booking_form_is_rate_limited(db, frozen, sites, client):
    room = make_room(sites["a"], workstations=10)
    statuses = []
    for n in range(4):
        response = client.post(SEAT_URL.format(room=room.id), data={"first_name": "Kévin", "contact": f"07000000{n:02d}"})
        statuses.append(response.status_code)
    assert statuses == [302, 302, 302, 429]
    assert "Trop de tentatives" in page_text(response)
    assert bookings_count() == 3
    # Viewing pages is not limited.
    assert client.get(f"/reserver/{sites['a'].id}").status_code == 200


def test_day_pages_run_a_fixed_number_of_queries(db, frozen, sites, client, count_queries):
    def queries():
        site_id = sites["a"].id
        db.session.commit()
        with count_queries() as n:
            assert client.get(f"/reserver/{site_id}").status_code == 200
            assert client.get(f"/reserver/{site_id}/2026-03-24").status_code == 200
            assert client.get(f"/ateliers/centre/{site_id}").status_code == 200
        return n()

    room = make_room(sites["a"])
    small = queries()
    for n in range(3):
        other = make_room(sites["a"])
        book(other, at_local(TUESDAY, 14), n=10 + n)
        book(room, at_local(date(2026, 3, 25), 15), n=20 + n)
        make_workshop(other, places=2)
        make_workshop(room, day=date(2026, 3, 26 + n), places=2)
    assert queries() == small


def test_room_feed_has_counts_and_titles_but_no_personal_data(db, frozen, sites, client, make_user):
    room = make_room(sites["a"])
    book(room, at_local(TUESDAY, 14), n=1, first_name="Fatima")
    workshop = make_workshop(room, day=TUESDAY, starts=time(10), ends=time(12), title="Courriel")
    register(workshop, n=2, first_name="Nadia")
    response = client.get(f"/salles/agenda/{room.feed_token}.ics")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert "1 poste réservé sur 4" in body.replace("\r\n ", "") and "Atelier : Courriel" in body
    assert "Fatima" not in body and "Nadia" not in body and "0600000001" not in body
    changed = "y" if room.feed_token.endswith("x") else "x"  # one character off (a token may end in x)
    assert client.get(f"/salles/agenda/{room.feed_token[:-1]}{changed}.ics").status_code == 404
    old = room.feed_token
    rooms.regenerate_feed_token(sites["manager_a"], room)
    db.session.commit()
    assert client.get(f"/salles/agenda/{old}.ics").status_code == 404


def test_guessed_links_from_a_shared_address_never_block_a_residents_own_link(db, frozen, sites, client):
    """The computer room shares the centre's address: ~60 guessed links must not lock residents out of theirs."""
    room = make_room(sites["a"])
    booking, token = book(room, at_local(TUESDAY, 14))
    neighbour, neighbour_token = book(room, at_local(TUESDAY, 14), n=2)
    guesser = client  # the same address as every resident below
    statuses = [guesser.get(f"/ma-reservation/{'x' * 30}{n:02d}").status_code for n in range(65)]
    assert statuses[:60] == [404] * 60 and statuses[60:] == [429] * 5  # the guesser is refused past the limit
    assert "Trop de tentatives" in page_text(guesser.get("/ma-reservation/devine-encore"))

    # Every resident behind the same address still opens their own link, as often as they like.
    for _visit in range(3):
        for own in (token, neighbour_token):
            assert client.get(f"/ma-reservation/{own}").status_code == 200
    assert client.get(f"/ma-reservation/{token}/agenda.ics").status_code == 200
    response = client.post(f"/ma-reservation/{neighbour_token}/annuler")
    assert response.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Booking, neighbour.id).state is BookingState.cancelled
    assert _db.session.get(Booking, booking.id).is_confirmed

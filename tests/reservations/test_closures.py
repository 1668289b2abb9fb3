"""One calendar: workshops skip closed days, a closure cancels what it covers after a confirmation
(checked again on confirm), nobody is promoted onto a closed day, the desk's list of people to call,
and public day pages that say why a day has no place."""
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from reservations import bookings, ledger, rooms, workshops
from reservations.models import Booking, BookingAction, BookingEvent, BookingState, Closure, Level, Workshop
from tests.core.helpers import location_path, page_text, snapshot
from tests.reservations.factories import at_local, book, contact, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)  # the clock stands at Monday 23 March 2026, 09:00 in Paris


def data(places=3):
    return workshops.WorkshopData("Créer son adresse e-mail", "On crée une adresse.", Level.everyone, "Léa", places)


def close(site, first_day, last_day=None, reason="Vacances de Noël", room=None):
    _db.session.add(Closure(site_id=site.id, room_id=room.id if room else None, first_day=first_day,
                            last_day=last_day or first_day, reason=reason))
    _db.session.commit()


def state(booking):
    _db.session.expire_all()
    return _db.session.get(Booking, booking.id).state


# --- workshops and closed days ---------------------------------------------------------------------


def test_a_weekly_workshop_skips_the_closed_weeks_and_lists_them(db, frozen, sites):
    room = make_room(sites["a"])
    close(sites["a"], TUESDAY + timedelta(weeks=1), TUESDAY + timedelta(weeks=2, days=3))

    created = workshops.create_workshops(sites["manager_a"], room, data(), TUESDAY, time(10), time(12), repeat_weeks=3)
    _db.session.commit()

    days = [w.starts_at for w in _db.session.scalars(select(Workshop).order_by(Workshop.starts_at))]
    assert days == [at_local(TUESDAY, 10), at_local(TUESDAY + timedelta(weeks=3), 10)]
    assert created.skipped == [(TUESDAY + timedelta(weeks=1), "Vacances de Noël"), (TUESDAY + timedelta(weeks=2), "Vacances de Noël")]
    assert len({w.series_id for w in created}) == 1


def test_a_workshop_on_a_closed_day_is_refused_and_nothing_is_created(db, frozen, sites):
    room = make_room(sites["a"])
    other_room = make_room(sites["a"])
    close(sites["a"], TUESDAY, reason="Travaux", room=room)
    with pytest.raises(ledger.ReservationError, match="le centre est fermé \\(Travaux\\)"):
        workshops.create_workshops(sites["manager_a"], room, data(), TUESDAY, time(10), time(12))
    _db.session.rollback()
    assert _db.session.scalar(select(func.count()).select_from(Workshop)) == 0
    # A closure of one room leaves the other rooms open.
    assert len(workshops.create_workshops(sites["manager_a"], other_room, data(), TUESDAY, time(10), time(12))) == 1


def test_no_registration_for_a_workshop_on_a_closed_day(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), day=TUESDAY)
    close(sites["a"], TUESDAY)
    with pytest.raises(ledger.ReservationError, match="fermé ce jour-là \\(Vacances de Noël\\)"):
        workshops.register(workshop.id, "Nadia", contact(1))
    _db.session.rollback()
    assert _db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_nobody_is_promoted_onto_a_closed_day(db, frozen, sites):
    workshop = make_workshop(make_room(sites["a"]), day=TUESDAY, places=1)
    first, _t = register(workshop, n=1)
    waiting, _t = register(workshop, n=2)
    close(sites["a"], TUESDAY)  # entered without cancelling (an old database, the demo)
    assert bookings.cancel(first.id) == []
    _db.session.commit()
    assert state(waiting) is BookingState.waiting


# --- a closure over bookings ---------------------------------------------------------------------------


@pytest.fixture
def booked(db, frozen, sites):
    """Tuesday: a workshop with one place taken and one person waiting, two seats in the room,
    one seat in another room; Wednesday: one seat (outside the closure)."""
    room = make_room(sites["a"], workstations=4)
    other = make_room(sites["a"], workstations=4)
    workshop = make_workshop(room, day=TUESDAY, places=1)
    return dict(
        room=room, other=other, workshop=workshop,
        registered=register(workshop, n=1)[0], waiting=register(workshop, n=2)[0],
        seat=book(room, at_local(TUESDAY, 14), n=3)[0], seat2=book(room, at_local(TUESDAY, 15), n=4)[0],
        other_seat=book(other, at_local(TUESDAY, 14), n=5)[0],
        wednesday=book(room, at_local(TUESDAY + timedelta(days=1), 14), n=6)[0],
    )


def test_a_closure_over_bookings_needs_a_confirmation_and_changes_nothing_without_it(db, sites, booked):
    before = snapshot(db)
    with pytest.raises(rooms.ClosureNeedsConfirmation, match="Vérifiez la liste"):
        rooms.add_closure(sites["manager_a"], sites["a"].id, None, TUESDAY, TUESDAY, "Vacances de Noël")
    _db.session.rollback()
    assert snapshot(db) == before

    impact = rooms.closure_impact(sites["a"].id, None, TUESDAY, TUESDAY)
    assert [w.id for w in impact.workshops] == [booked["workshop"].id]
    assert {b.id for b in impact.registrations} == {booked["registered"].id, booked["waiting"].id}
    assert {b.id for b in impact.seats} == {booked["seat"].id, booked["seat2"].id, booked["other_seat"].id}


def test_confirmed_closure_cancels_with_the_reason_and_announces_it(db, sites, booked, events):
    preview = rooms.closure_impact(sites["a"].id, None, TUESDAY, TUESDAY)

    closure, cancelled = rooms.add_closure(sites["manager_a"], sites["a"].id, None, TUESDAY, TUESDAY, "Vacances de Noël",
                                                confirmed=preview.fingerprint)
    _db.session.commit()

    affected = ["registered", "waiting", "seat", "seat2", "other_seat"]
    assert {b.id for b in cancelled} == {booked[name].id for name in affected}
    for name in affected:
        booking = _db.session.get(Booking, booked[name].id)
        assert booking.is_cancelled and booking.closure_id == closure.id
        last = _db.session.scalars(
            select(BookingEvent).where(BookingEvent.booking_id == booking.id).order_by(BookingEvent.id.desc())).first()
        assert last.action is BookingAction.cancelled and last.note == "Fermeture : Vacances de Noël"
        assert last.actor_id == sites["manager_a"].id
    assert _db.session.get(Workshop, booked["workshop"].id).is_cancelled
    assert state(booked["wednesday"]) is BookingState.confirmed
    # Nobody came off the waiting list onto the closed day, and the event names every cancelled booking once.
    assert _db.session.scalar(select(func.count()).select_from(BookingEvent).where(BookingEvent.action == BookingAction.promoted)) == 0
    assert [payload for name, payload in events if name == "closure_added"] == [dict(
        closure_id=closure.id, site_id=sites["a"].id, room_id=None, first_day=TUESDAY, last_day=TUESDAY,
        cancelled=[b.id for b in cancelled])]
    assert sorted((payload["booking_id"], payload["by"]) for name, payload in events if name == "booking_cancelled") == sorted(
        (b.id, "closure") for b in cancelled)
    assert [name for name, _payload in events if name not in ("closure_added", "booking_cancelled")] == []


def test_a_closure_of_one_room_cancels_only_that_room(db, sites, booked):
    preview = rooms.closure_impact(sites["a"].id, booked["other"].id, TUESDAY, TUESDAY)
    assert [b.id for b in preview.bookings] == [booked["other_seat"].id] and not preview.workshops
    rooms.add_closure(sites["manager_a"], sites["a"].id, booked["other"].id, TUESDAY, TUESDAY, "Travaux", confirmed=preview.fingerprint)
    _db.session.commit()
    assert state(booked["other_seat"]) is BookingState.cancelled
    assert state(booked["seat"]) is BookingState.confirmed and state(booked["registered"]) is BookingState.confirmed


def test_a_booking_made_after_the_preview_asks_for_a_new_confirmation(db, sites, booked):
    preview = rooms.closure_impact(sites["a"].id, None, TUESDAY, TUESDAY)
    late, _t = book(booked["room"], at_local(TUESDAY, 16), n=7)  # someone books while the manager reads the list
    before = snapshot(db)
    with pytest.raises(rooms.ClosureNeedsConfirmation, match="ont changé"):
        rooms.add_closure(sites["manager_a"], sites["a"].id, None, TUESDAY, TUESDAY, "Vacances de Noël", confirmed=preview.fingerprint)
    _db.session.rollback()
    assert snapshot(db) == before and state(late) is BookingState.confirmed

    # A cancellation since the preview changes the list too.
    bookings.cancel(booked["seat2"].id)
    _db.session.commit()
    with pytest.raises(rooms.ClosureNeedsConfirmation):
        rooms.add_closure(sites["manager_a"], sites["a"].id, None, TUESDAY, TUESDAY, "Vacances de Noël", confirmed=preview.fingerprint)
    _db.session.rollback()


def test_public_holidays_cancel_what_was_booked_on_them(db, frozen, sites):
    room = make_room(sites["a"])
    easter_monday = date(2026, 4, 6)
    seat, _t = book(room, at_local(easter_monday, 14), n=1)
    rooms.add_public_holidays(sites["manager_a"], sites["a"].id, 2026)
    _db.session.commit()
    booking = _db.session.get(Booking, seat.id)
    assert booking.is_cancelled and booking.closure_id is not None
    assert _db.session.get(Closure, booking.closure_id).reason == "Lundi de Pâques"


# --- over HTTP: preview, confirmation, the list of people to call ------------------------------------


def closure_form(room_id=0, **changes):
    form = {"room_id": str(room_id), "first_day": TUESDAY.isoformat(), "last_day": "", "reason": "Vacances de Noël"}
    form.update(changes)
    return form


def test_the_closure_page_shows_who_is_affected_then_cancels_on_confirmation(db, sites, booked, client_for):
    client = client_for(sites["manager_a"])
    url = f"/structures/{sites['a'].id}/fermetures"
    before = snapshot(db)

    preview = client.post(url, data=closure_form())
    assert preview.status_code == 200
    text = page_text(preview)
    assert "Confirmer la fermeture" in text and "Créer son adresse e-mail" in text
    assert "Nadia" in text and "Fatima" in text and "06 00 00 00 03" in text
    assert "1 atelier annulé" in text and "2 inscriptions à un atelier" in text and "3 postes réservés en accès libre" in text
    assert snapshot(db) == before

    fingerprint = rooms.closure_impact(sites["a"].id, None, TUESDAY, TUESDAY).fingerprint
    assert f'name="confirmed" value="{fingerprint}"' in text
    done = client.post(url, data=closure_form(last_day=TUESDAY.isoformat(), confirmed=fingerprint))
    assert done.status_code == 302
    closure = _db.session.scalar(select(Closure))
    assert location_path(done) == f"/fermetures/{closure.id}/a-prevenir"
    assert _db.session.scalar(select(func.count()).select_from(Booking).where(Booking.closure_id == closure.id)) == 5

    # The desk (reception of the site) calls from the list; another site's staff may not see it.
    calls = client_for(sites["reception_a"]).get(location_path(done))
    assert calls.status_code == 200
    text = page_text(calls)
    assert "Personnes à prévenir" in text and 'href="tel:0600000003"' in text and "atelier « Créer son adresse e-mail »" in text
    assert client_for(sites["manager_b"]).get(location_path(done)).status_code == 403
    assert "5 personnes à prévenir" in page_text(client.get(url))


def test_a_stale_confirmation_shows_the_new_list_and_changes_nothing(db, sites, booked, client_for):
    client = client_for(sites["manager_a"])
    url = f"/structures/{sites['a'].id}/fermetures"
    fingerprint = rooms.closure_impact(sites["a"].id, None, TUESDAY, TUESDAY).fingerprint
    book(booked["room"], at_local(TUESDAY, 16), n=7, first_name="Kévin")
    before = snapshot(db)
    again = client.post(url, data=closure_form(confirmed=fingerprint))
    assert again.status_code == 409
    text = page_text(again)
    assert "Les réservations ont changé depuis l'affichage de la liste" in text and "Kévin" in text
    assert snapshot(db) == before


def test_a_closure_over_nothing_is_added_at_once(db, frozen, sites, client_for):
    client = client_for(sites["manager_a"])
    response = client.post(f"/structures/{sites['a'].id}/fermetures", data=closure_form())
    assert response.status_code == 302 and location_path(response) == f"/structures/{sites['a'].id}/fermetures"
    assert _db.session.scalar(select(func.count()).select_from(Closure)) == 1


def test_the_workshop_form_says_which_weeks_were_skipped(db, frozen, sites, client_for):
    room = make_room(sites["a"])
    close(sites["a"], TUESDAY + timedelta(weeks=1))
    client = client_for(sites["manager_a"])
    response = client.post("/ateliers/nouveau", data={
        "room_id": room.id, "day": TUESDAY.isoformat(), "starts": "10:00", "ends": "12:00", "repeat_weeks": "2",
        "title": "Créer son adresse e-mail", "description": "", "level": "everyone", "facilitator": "", "places": "3",
    }, follow_redirects=True)
    text = page_text(response)
    assert "2 ateliers créés" in text
    assert "Pas d'atelier les jours de fermeture : mardi 31 mars (Vacances de Noël)." in text


# --- public day pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2026, 3, 20), "Ce jour est passé."),
        (date(2026, 4, 21), "On ne peut pas encore réserver ce jour-là.<br>Les réservations ouvrent le mardi 7 avril."),
        (date(2026, 3, 25), "Pas d'accès libre aux ordinateurs ce jour-là."),  # a Wednesday: no hours
        (date(2026, 3, 26), "Le centre est fermé ce jour-là.<br>Réunion"),
        (TUESDAY, "Il n'y a plus de place libre ce jour-là."),
    ],
)
def test_a_day_without_free_time_says_why(db, frozen, sites, client, day, expected):
    room = make_room(sites["a"], workstations=1, hours={1: [(time(14), time(15))], 3: [(time(14), time(15))]})
    close(sites["a"], date(2026, 3, 26), reason="Réunion")
    book(room, at_local(TUESDAY, 14), n=1)
    response = client.get(f"/reserver/{sites['a'].id}/{day.isoformat()}")
    assert response.status_code == 200
    text = " ".join(page_text(response).split()).replace("<br> ", "<br>")
    assert expected in text


def test_today_after_the_last_online_slot_sends_to_the_desk(db, frozen, sites, client):
    make_room(sites["a"], hours={0: [(time(9), time(10))]}, minutes_before=30)  # Monday 9 h – 10 h; it is 9 h
    text = page_text(client.get(f"/reserver/{sites['a'].id}/2026-03-23"))
    assert "On ne peut plus réserver en ligne pour aujourd'hui." in text and "Vous pouvez venir directement à l'accueil." in text


def test_a_closure_on_the_day_clocks_go_forward_covers_that_local_day_only(db, frozen, sites):
    room = make_room(sites["a"])
    saturday, sunday, monday = date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)  # summer time from Sunday 2 h
    seats = {day: book(room, at_local(day, 14), n=n)[0] for n, day in enumerate((saturday, sunday, monday), start=1)}
    impact = rooms.closure_impact(sites["a"].id, None, sunday, sunday)
    assert [b.id for b in impact.seats] == [seats[sunday].id]
    rooms.add_closure(sites["manager_a"], sites["a"].id, None, sunday, sunday, "Élections", confirmed=impact.fingerprint)
    _db.session.commit()
    assert [state(seats[d]) for d in (saturday, sunday, monday)] == [BookingState.confirmed, BookingState.cancelled, BookingState.confirmed]

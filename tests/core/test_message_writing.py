"""Which messages are written, when: in the transaction of their cause, once, with a link that opens."""
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from core import clock
from core.clock import PARIS
from core.extensions import db as _db
from core.messaging import writing
from core.messaging.consent import record_choice
from core.messaging.models import Channel, Message, MessageKind, MessageSettings, MessageStatus
from reservations import bookings, rooms, workshops
from reservations.identity import Contact
from tests.reservations.factories import at_local, make_room, make_workshop

MONDAY_9 = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # Monday 23 March 2026, 9:00 in Paris
TUESDAY = date(2026, 3, 24)


@pytest.fixture
def now(monkeypatch):
    monkeypatch.setattr(clock, "frozen_at", MONDAY_9)
    return lambda at: monkeypatch.setattr(clock, "frozen_at", at)


def messages(**where):
    _db.session.expire_all()
    query = select(Message).order_by(Message.id)
    for name, value in where.items():
        query = query.where(getattr(Message, name) == value)
    return _db.session.scalars(query).all()


def phone(n):
    return Contact(phone=f"06{n:08d}", email="")


def link_in(body):
    return "/" + body.split("http://localhost/", 1)[1].split()[0]


def test_a_seat_booked_online_writes_its_confirmation_and_reminder(db, two_sites, now, client):
    room = make_room(two_sites["a"])
    booking, _token = bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", phone(12345678))
    db.session.commit()
    confirmed, reminder = messages()
    assert (confirmed.kind, confirmed.channel, confirmed.recipient) == (MessageKind.booking_confirmed, Channel.sms, "+33612345678")
    assert confirmed.key == f"booking_confirmed:booking:{booking.id}:sms" and confirmed.status is MessageStatus.pending
    assert confirmed.not_before == MONDAY_9 and confirmed.booking_id == booking.id and confirmed.site_id == two_sites["a"].id
    assert booking.reference in confirmed.body and "Centre A" in confirmed.body
    assert "Votre place est réservée" in client.get(link_in(confirmed.body)).get_data(as_text=True)
    assert reminder.kind is MessageKind.booking_reminder
    assert reminder.not_before == datetime(2026, 3, 23, 17, tzinfo=PARIS)  # the day before at 17:00
    assert link_in(reminder.body) == link_in(confirmed.body)


def test_an_email_booking_gets_an_email_with_its_ics(db, two_sites, now):
    room = make_room(two_sites["a"])
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Kévin", Contact(phone="", email="kevin@exemple.fr"))
    db.session.commit()
    confirmed = messages(kind=MessageKind.booking_confirmed)[0]
    assert confirmed.channel is Channel.email and confirmed.recipient == "kevin@exemple.fr"
    assert confirmed.subject.startswith("Votre place est réservée") and "METHOD:REQUEST" in confirmed.calendar
    assert "/messages/arret/" in confirmed.body


def test_a_rolled_back_booking_writes_nothing(db, two_sites, now):
    room = make_room(two_sites["a"])
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", phone(1))
    db.session.rollback()
    assert messages() == []


def test_an_unreadable_phone_gets_no_sms_and_no_crash(db, two_sites, now):
    room = make_room(two_sites["a"])
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", Contact(phone="0000000000", email=""))
    db.session.commit()
    assert messages() == []


def test_settings_and_consent_are_respected(db, two_sites, now):
    room = make_room(two_sites["a"])
    db.session.add(MessageSettings(site_id=two_sites["a"].id, confirmations=False))
    record_choice("+33600000002", Channel.sms, False, "desk")
    db.session.commit()
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Une", phone(1))
    bookings.book_seat(room.id, at_local(TUESDAY, 15), "Deux", phone(2))
    db.session.commit()
    assert [(m.kind, m.recipient) for m in messages()] == [(MessageKind.booking_reminder, "+33600000001")]


def test_no_reminder_when_its_moment_is_past(db, two_sites, now):
    now(datetime(2026, 3, 23, 19, 30, tzinfo=UTC))  # Monday 20:30: the reminder of Tuesday was at 17:00
    room = make_room(two_sites["a"])
    bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", phone(1))
    db.session.commit()
    assert [m.kind for m in messages()] == [MessageKind.booking_confirmed]
    assert messages()[0].not_before == datetime(2026, 3, 24, 8, tzinfo=PARIS)  # no SMS at night: 8:00


# --- cancellations ---------------------------------------------------------------------------------


def test_a_persons_own_cancellation_cancels_the_reminder_and_says_nothing(db, two_sites, now):
    room = make_room(two_sites["a"])
    booking, _token = bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", phone(1))
    db.session.commit()
    bookings.cancel(booking.id)
    db.session.commit()
    assert {(m.kind, m.status) for m in messages()} == {
        (MessageKind.booking_confirmed, MessageStatus.cancelled), (MessageKind.booking_reminder, MessageStatus.cancelled)}


def test_a_closure_tells_each_booking_with_its_reason(db, two_sites, now):
    room = make_room(two_sites["a"])
    booking, _token = bookings.book_seat(room.id, at_local(TUESDAY, 14), "Fatima", phone(1))
    db.session.commit()
    preview = rooms.closure_impact(two_sites["a"].id, None, TUESDAY, TUESDAY)
    rooms.add_closure(two_sites["manager_a"], two_sites["a"].id, None, TUESDAY, TUESDAY, "Panne de chauffage",
                      confirmed=preview.fingerprint)
    db.session.commit()
    cancelled = messages(kind=MessageKind.booking_cancelled)
    assert len(cancelled) == 1 and cancelled[0].key == f"booking_cancelled:booking:{booking.id}:sms"
    assert "Le centre est fermé : Panne de chauffage." in cancelled[0].body
    assert "http://localhost/reserver/" in cancelled[0].body
    assert messages(kind=MessageKind.booking_reminder)[0].status is MessageStatus.cancelled


def test_a_cancelled_workshop_tells_each_person(db, two_sites, now):
    workshop = make_workshop(make_room(two_sites["a"]), day=TUESDAY, places=1)
    workshops.register(workshop.id, "Une", phone(1))
    workshops.register(workshop.id, "Deux", Contact(phone="", email="deux@exemple.fr"))  # waiting
    db.session.commit()
    workshops.cancel_workshop(two_sites["manager_a"], workshop.id)
    db.session.commit()
    told = messages(kind=MessageKind.booking_cancelled)
    assert sorted(m.recipient for m in told) == ["+33600000001", "deux@exemple.fr"]
    assert all("L'atelier est annulé." in m.body for m in told)
    assert "METHOD:CANCEL" in next(m.calendar for m in told if m.channel is Channel.email)


# --- the waiting list --------------------------------------------------------------------------------


def test_a_place_from_the_waiting_list_is_held_then_sent_with_the_same_link(db, two_sites, now, client):
    workshop = make_workshop(make_room(two_sites["a"]), day=TUESDAY, places=1)
    placed, _t = workshops.register(workshop.id, "Une", phone(1))
    waiting, token = workshops.register(workshop.id, "Deux", phone(2))
    db.session.commit()
    # Written when the person joins the list (the link exists only then), held: nothing is sent.
    held = messages(booking_id=waiting.id)
    assert [(m.kind, m.status) for m in held] == [(MessageKind.waiting_list_place, MessageStatus.held),
                                                  (MessageKind.booking_reminder, MessageStatus.held)]
    bookings.cancel(placed.id)
    db.session.commit()
    place = messages(kind=MessageKind.waiting_list_place)[0]
    assert place.status is MessageStatus.pending
    assert place.recipient == "+33600000002" and place.not_before == MONDAY_9
    assert link_in(place.body) == f"/ma-reservation/{token}"  # the link the person already has
    assert "Votre place est réservée" in client.get(link_in(place.body)).get_data(as_text=True)
    reminder = messages(kind=MessageKind.booking_reminder, booking_id=waiting.id)[0]
    assert reminder.status is MessageStatus.pending and reminder.body.endswith("Tél. " + "03 27 00 00 01")


def test_leaving_the_waiting_list_cancels_what_was_held(db, two_sites, now):
    workshop = make_workshop(make_room(two_sites["a"]), day=TUESDAY, places=1)
    workshops.register(workshop.id, "Une", phone(1))
    waiting, _token = workshops.register(workshop.id, "Deux", phone(2))
    db.session.commit()
    bookings.cancel(waiting.id)
    db.session.commit()
    assert {m.status for m in messages(booking_id=waiting.id)} == {MessageStatus.cancelled}


def test_a_place_for_today_is_sent_at_night_too(db, two_sites, now):
    now(datetime(2026, 3, 23, 19, 30, tzinfo=UTC))  # Monday 20:30
    tonight = make_workshop(make_room(two_sites["a"]), day=date(2026, 3, 23), starts=time(21), ends=time(22), places=1)
    tomorrow = make_workshop(make_room(two_sites["a"]), day=TUESDAY, places=1)
    for workshop in (tonight, tomorrow):
        placed, _t = workshops.register(workshop.id, "Une", phone(1), actor=two_sites["reception_a"])
        workshops.register(workshop.id, "Deux", phone(2), actor=two_sites["reception_a"])
        db.session.commit()
        bookings.cancel(placed.id, actor=two_sites["reception_a"])
        db.session.commit()
    today, later = messages(kind=MessageKind.waiting_list_place)
    assert today.not_before == datetime(2026, 3, 23, 19, 30, tzinfo=UTC)  # urgent: now
    assert later.not_before == datetime(2026, 3, 24, 8, tzinfo=PARIS)  # held until 8:00


# --- loans ------------------------------------------------------------------------------------------


@pytest.fixture
def lend(db, two_sites, now):
    from core.residents import create_resident
    from loans import lending, operations

    counter = iter(range(1, 1000))

    def make(due_on, phone="0612345678", email=""):
        n = next(counter)
        now(datetime(2026, 3, 16, 9, tzinfo=UTC))  # lent a week before
        device = operations.create_device(None, two_sites["a"], operations.ensure_default_kinds()["laptop"])
        resident = create_resident(None, two_sites["a"], first_name=f"Personne{n}", last_name="Test", phone=phone, email=email)
        loan = lending.lend(two_sites["reception_a"], device.id, resident, due_on=due_on, accessories=[], charter_method="ticked")
        db.session.commit()
        now(MONDAY_9)
        return loan

    return make


def test_loans_due_tomorrow_are_planned_once(db, lend, now):
    loan = lend(TUESDAY)
    lend(TUESDAY, phone="", email="sans-telephone@exemple.fr")
    lend(TUESDAY, phone="", email="")  # no contact: nothing
    lend(date(2026, 3, 25))  # not tomorrow
    assert writing.plan_loans_due(MONDAY_9) == 2
    db.session.commit()
    assert writing.plan_loans_due(MONDAY_9) == 0  # idempotent
    db.session.commit()
    sms, email = messages(kind=MessageKind.loan_due)
    assert sms.key == f"loan_due:loan:{loan.id}:2026-03-24:sms" and sms.loan_id == loan.id
    assert sms.not_before == datetime(2026, 3, 23, 17, tzinfo=PARIS)
    assert "à rendre mardi 24 mars" in sms.body and email.channel is Channel.email


def test_overdue_loans_on_the_sites_days(db, lend, now, two_sites):
    one_day = lend(date(2026, 3, 22))
    lend(date(2026, 3, 19))  # 4 days late: not a reminder day, and past the catch-up of the first one
    seven = lend(date(2026, 3, 16))
    assert writing.plan_overdue(MONDAY_9) == 2
    db.session.commit()
    assert {m.loan_id for m in messages(kind=MessageKind.loan_overdue)} == {one_day.id, seven.id}


def test_a_missed_sweep_still_sends_the_overdue_reminder_once(db, lend, now, two_sites):
    """The worker was stopped on the day after the due date: two days later the reminder still goes."""
    three_days = lend(date(2026, 3, 20))
    assert writing.plan_overdue(MONDAY_9) == 1
    db.session.commit()
    assert writing.plan_overdue(MONDAY_9 + timedelta(hours=1)) == 0
    [late] = messages(kind=MessageKind.loan_overdue)
    assert late.loan_id == three_days.id and late.key.endswith("+1:sms")


def test_returning_a_loan_cancels_its_reminders(db, lend, now, two_sites):
    from loans import lending

    loan = lend(TUESDAY)
    writing.plan_loans_due(MONDAY_9)
    db.session.commit()
    lending.take_back(two_sites["reception_a"], loan.device_id, site_id=two_sites["a"].id, accessories_returned=[], data_wiped=True)
    db.session.commit()
    assert messages(kind=MessageKind.loan_due)[0].status is MessageStatus.cancelled


def test_planners_use_a_constant_number_of_statements(db, lend, now, count_queries):
    lend(TUESDAY)
    with count_queries() as few:
        writing.plan_loans_due(MONDAY_9)
    db.session.rollback()
    for _n in range(6):
        lend(TUESDAY, phone="")
        lend(TUESDAY)
    with count_queries() as many:
        assert writing.plan_loans_due(MONDAY_9) == 7  # the six without phone nor e-mail get nothing
    assert many() == few()


def test_the_morning_digest_lists_overdue_loans_and_undelivered_messages(db, lend, now, two_sites):
    a = two_sites["a"]
    late = lend(date(2026, 3, 20))
    lend(date(2026, 3, 30))  # not late
    db.session.add(MessageSettings(site_id=a.id, digest_to="accueil@centre-a.example\nResponsable@Centre-A.example"))
    db.session.add(Message(key="test:refused", kind=MessageKind.booking_confirmed, channel=Channel.sms, site_id=a.id,
                           status=MessageStatus.undelivered, recipient="+33600000009", body="…",
                           last_error="Numéro injoignable.", created_at=MONDAY_9 - timedelta(hours=3)))
    db.session.commit()
    assert writing.plan_staff_digest(datetime(2026, 3, 23, 7, 30, tzinfo=PARIS)) == 0  # before 8:00: not yet
    assert writing.plan_staff_digest(MONDAY_9) == 2
    db.session.commit()
    assert writing.plan_staff_digest(MONDAY_9 + timedelta(hours=2)) == 0  # one a day
    digests = messages(kind=MessageKind.staff_digest)
    assert {m.recipient for m in digests} == {"accueil@centre-a.example", "responsable@centre-a.example"}
    body = digests[0].body
    assert f"({late.device.tag})" in body and "Personne1 Test" in body and "Numéro injoignable." in body
    assert digests[0].channel is Channel.email and digests[0].subject.startswith("Résumé du")

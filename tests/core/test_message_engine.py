"""The engine of messages against real peers and the real Huey consumer (issue 11, parts 2 and 3):
sent once and marked sent, retried with backoff then undelivered, kept when nothing is configured,
nothing queued for a rolled-back change. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL)."""
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

import core.clock
from core import create_app
from core.messaging.channels import message_id_header
from core.messaging.models import Channel, Message, MessageKind, MessageSettings, MessageStatus
from core.messaging.queue import get_huey, task
from tests.conftest import base_config
from tests.messaging_peers import run_worker, sms_provider, smtp_server, wait_for  # noqa: F401

# A Tuesday at 10:00 in Paris: SMS allowed.
T0 = datetime(2026, 3, 24, 9, 0, tzinfo=UTC)

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Centres//FR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
    "UID:booking-1@centres.example.org\r\nSEQUENCE:0\r\nDTSTAMP:20260324T090000Z\r\n"
    "DTSTART:20260325T130000Z\r\nDTEND:20260325T150000Z\r\nSUMMARY:Atelier numérique\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@pytest.fixture
def app_config(tmp_path, smtp_server, sms_provider):  # noqa: F811
    return {**smtp_server.config, **sms_provider.config, "QUEUE_URL": f"sqlite:///{tmp_path}/queue.sqlite3"}


@pytest.fixture
def clock():
    core.clock.frozen_at = T0
    yield core.clock
    core.clock.frozen_at = None


@pytest.fixture
def site(make_site):
    return make_site("Centre Alpha")


def new_message(site, n, channel="email", **fields):
    email = channel == "email"
    values = {
        "key": f"test:{channel}:{n}",
        "kind": MessageKind.booking_confirmed,
        "channel": Channel(channel),
        "site_id": getattr(site, "id", site),
        "recipient": f"personne{n}@example.org" if email else f"+3361234{n:04d}",
        "subject": "Votre réservation est confirmée" if email else "",
        "body": f"Bonjour,\nVotre place est réservée (numéro {n}).\nCentre Alpha, 03 27 00 00 01",
    }
    values.update(fields)
    return Message(**values)


def add(db, *messages):
    db.session.add_all(messages)
    db.session.commit()
    return [m.id for m in messages]


def row(db, message_id):
    """A fresh read that ends its transaction at once (on SQLite a transaction holds the write lock)."""
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    db.session.expunge(message)  # its values stay readable without a new transaction
    db.session.commit()
    return message


def status_is(db, message_id, *statuses):
    return lambda: row(db, message_id).status in statuses


def test_an_email_is_sent_once_with_its_calendar_and_marked_sent(app, db, site, smtp_server, clock):  # noqa: F811
    [mid] = add(db, new_message(site, 1, calendar=ICS))
    with run_worker(app):  # the commit queued `deliver`: the worker finds it waiting
        wait_for(status_is(db, mid, MessageStatus.sent), what="the e-mail to be sent")
    message = row(db, mid)
    assert message.attempts == 1 and message.sent_at == T0 and message.last_error == ""
    [mail] = smtp_server.received
    assert mail["To"] == "personne1@example.org"
    assert mail["Subject"] == "Votre réservation est confirmée"
    assert "Centre social" in mail["From"]
    expected_id = message_id_header("test:email:1", "ne-pas-repondre@centres.example.org")
    assert mail["Message-ID"] == expected_id and message.provider_ref == expected_id.strip("<>")
    text = mail.get_body(("plain",)).get_content()
    assert "Votre place est réservée (numéro 1)." in text
    [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    event = next(iter(Calendar.from_ical(part.get_content()).walk("VEVENT")))
    assert str(event["SUMMARY"]) == "Atelier numérique"


def test_an_sms_is_sent_once_through_brevo_and_marked_sent(app, db, site, sms_provider, clock):  # noqa: F811
    db.session.add(MessageSettings(site_id=site.id, sender_name="CentreAlpha"))
    ids = add(db, new_message(site, 1, "sms"), new_message(site, 2, "sms", body="Réservation confirmée. À demain !"))
    with run_worker(app):
        for mid in ids:
            wait_for(status_is(db, mid, MessageStatus.sent), what="the SMS to be sent")
    first, second = sorted(sms_provider.received, key=lambda b: b["recipient"])
    assert first == {
        "sender": "CentreAlpha", "recipient": "33612340001", "content": row(db, ids[0]).body,
        "type": "transactional", "unicodeEnabled": False,
    }
    assert second["unicodeEnabled"] is True  # "À" is not GSM-7: the provider must send it as UCS-2
    refs = {row(db, mid).provider_ref for mid in ids}
    assert len(refs) == 2 and all(ref.isdigit() for ref in refs)


def test_nothing_configured_keeps_every_message_for_the_admins(app, db, site, database_url, tmp_path, smtp_server, sms_provider, clock):  # noqa: F811
    bare = create_app(base_config(database_url, QUEUE_URL=f"sqlite:///{tmp_path}/bare.sqlite3"))
    site_id = site.id
    db.session.commit()  # the test's own session lets go of the database before the other app writes
    with bare.app_context():
        ids = add(db, new_message(site_id, 1), new_message(site_id, 2, "sms"))
        with run_worker(bare):
            for mid in ids:
                wait_for(status_is(db, mid, MessageStatus.kept), what="the message to be kept")
        kept = [row(db, mid) for mid in ids]
        db.session.remove()
        db.engine.dispose()
    assert all(m.provider_ref == "" and m.sent_at is None and m.last_error == "" for m in kept)
    assert smtp_server.received == [] and sms_provider.received == []


def test_a_busy_mail_server_is_retried_with_backoff_then_the_message_is_undelivered(app, db, site, smtp_server, clock):  # noqa: F811
    smtp_server.fail_with(451)
    [mid] = add(db, new_message(site, 1))
    sweep = task("sweep", app)
    delays = []
    with run_worker(app):
        wait_for(lambda: row(db, mid).attempts == 1 and row(db, mid).status == MessageStatus.pending)
        for attempt in range(2, 7):
            message = row(db, mid)
            assert "451" in message.last_error and message.claimed_by == ""
            delays.append(message.not_before - clock.frozen_at)
            clock.frozen_at = message.not_before - timedelta(seconds=1)
            sweep()  # not yet due: nothing happens
            clock.frozen_at = message.not_before
            sweep()
            wait_for(lambda n=attempt: row(db, mid).attempts == n and row(db, mid).status != MessageStatus.sending)
    assert delays == [timedelta(minutes=m) for m in (1, 5, 15, 60, 120)]
    message = row(db, mid)
    assert message.status == MessageStatus.undelivered and message.attempts == 6
    assert "451" in message.last_error and smtp_server.received == []


def test_a_mail_server_that_answers_421_then_recovers_delivers_once(app, db, site, smtp_server, clock):  # noqa: F811
    smtp_server.fail_with(421)
    [mid] = add(db, new_message(site, 1))
    with run_worker(app):
        wait_for(lambda: row(db, mid).last_error != "", what="the first attempt")
        assert row(db, mid).status == MessageStatus.pending
        smtp_server.fail_with(None)
        clock.frozen_at = T0 + timedelta(minutes=1)
        task("sweep", app)()
        wait_for(status_is(db, mid, MessageStatus.sent))
    assert len(smtp_server.received) == 1 and row(db, mid).attempts == 2


def test_a_refused_address_is_undelivered_at_once(app, db, site, smtp_server, clock):  # noqa: F811
    smtp_server.fail_with(550)
    [mid] = add(db, new_message(site, 1))
    with run_worker(app):
        wait_for(status_is(db, mid, MessageStatus.undelivered))
    message = row(db, mid)
    assert message.attempts == 1 and "Adresse refusée" in message.last_error and "550" in message.last_error


@pytest.mark.parametrize("answer, words", [
    (400, "SMS refusé par Brevo (400) : invalid_parameter Invalid phone number"),
    (401, "Brevo refuse la clé d'API : vérifiez SMS_API_KEY."),
    (402, "Crédit SMS épuisé chez Brevo"),
])
def test_brevo_refusals_are_undelivered_at_once_with_a_reason_for_the_staff(app, db, site, sms_provider, clock, answer, words):  # noqa: F811
    sms_provider.answer(answer)
    [mid] = add(db, new_message(site, 1, "sms"))
    with run_worker(app):
        wait_for(status_is(db, mid, MessageStatus.undelivered))
    message = row(db, mid)
    assert message.attempts == 1 and words in message.last_error and sms_provider.received == []


def test_brevo_busy_or_silent_is_retried_then_sent_once(app, db, site, sms_provider, clock):  # noqa: F811
    sms_provider.answer(500, "timeout", 429)
    [mid] = add(db, new_message(site, 1, "sms"))
    errors = []
    with run_worker(app):
        for attempt in (1, 2, 3):
            wait_for(lambda n=attempt: row(db, mid).attempts == n and row(db, mid).status == MessageStatus.pending,
                     what=f"attempt {attempt}")
            message = row(db, mid)
            errors.append(message.last_error)
            clock.frozen_at = message.not_before
            task("sweep", app)()
        wait_for(status_is(db, mid, MessageStatus.sent))
    assert errors == [
        "Service SMS (Brevo) occupé (500).",
        "Le service SMS (Brevo) n'a pas répondu à temps.",
        "Service SMS (Brevo) occupé (429).",
    ]
    assert len(sms_provider.received) == 1 and row(db, mid).attempts == 4


def test_an_sms_retry_never_falls_at_night(app, db, site, sms_provider, clock):  # noqa: F811
    clock.frozen_at = datetime(2026, 3, 24, 18, 59, 30, tzinfo=UTC)  # 19:59:30 in Paris, a Tuesday
    sms_provider.answer(500)
    [mid] = add(db, new_message(site, 1, "sms"))
    with run_worker(app):
        wait_for(lambda: row(db, mid).attempts == 1 and row(db, mid).status == MessageStatus.pending)
    assert row(db, mid).not_before == datetime(2026, 3, 25, 7, 0, tzinfo=UTC)  # Wednesday 8:00 in Paris


def test_only_committed_and_due_messages_wake_the_worker(app, db, site, clock):
    huey = get_huey(app)
    huey.flush()
    db.session.add(new_message(site, 1))
    db.session.rollback()
    with db.session.begin_nested():
        db.session.add(new_message(site, 2))
    savepoint = db.session.begin_nested()
    db.session.add(new_message(site, 3))
    db.session.flush()
    savepoint.rollback()
    db.session.add(new_message(site, 4, not_before=T0 + timedelta(hours=1)))  # the sweep's, later
    db.session.commit()
    queued = [t.args for t in huey.pending()]
    [kept] = db.session.execute(select(Message.id).where(Message.key == "test:email:2")).scalars().all()
    assert queued == [(kept,)]


def test_a_queue_out_of_reach_never_breaks_the_change(app, db, site, clock, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("queue down")

    monkeypatch.setitem(app.extensions, "huey_tasks", {"deliver": broken, "sweep": broken})
    monkeypatch.setitem(app.extensions, "huey", object())
    [mid] = add(db, new_message(site, 1))
    assert row(db, mid).status == MessageStatus.pending  # kept; the sweep sends it


def test_the_worker_command_is_there(runner):
    result = runner.invoke(args=["worker", "--help"])
    assert result.exit_code == 0 and "--workers" in result.output


def test_a_cancelled_event_goes_with_method_cancel(app, db, site, smtp_server, clock):  # noqa: F811
    cancel = ICS.replace("METHOD:REQUEST", "METHOD:CANCEL").replace("SEQUENCE:0", "SEQUENCE:1")
    [mid] = add(db, new_message(site, 1, calendar=cancel, kind=MessageKind.booking_cancelled))
    with run_worker(app):
        wait_for(status_is(db, mid, MessageStatus.sent))
    [part] = [p for p in smtp_server.received[0].walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL" and "SEQUENCE:1" in part.get_content()


def test_the_sweep_runs_every_planner_then_sends_what_they_wrote(app, db, site, smtp_server, clock, monkeypatch):  # noqa: F811
    from core.messaging import sending

    monkeypatch.setattr(sending, "_PLANNERS", [])
    site_id = site.id
    seen = []

    @sending.register_planner
    def broken(at):
        raise RuntimeError("a planner's bug")

    @sending.register_planner
    def reminders(at):
        seen.append(at)
        db.session.add(new_message(site_id, 7, kind=MessageKind.booking_reminder))

    db.session.commit()
    with run_worker(app):
        task("sweep", app)()
        wait_for(lambda: len(smtp_server.received) == 1, what="the planned reminder")
    assert seen == [T0] and sending.planners() == [broken, reminders]
    assert db.session.execute(select(Message.status)).scalars().all() == [MessageStatus.sent]


def test_no_transaction_is_open_while_a_channel_sends(app, db, site, clock, monkeypatch):
    """On SQLite an open transaction holds the write lock: the provider's call must happen outside any."""
    from core.messaging import sending

    db.session.add(MessageSettings(site_id=site.id, sender_name="CentreA"))
    [message_id] = add(db, new_message(site, 1, channel="sms"))
    seen = []

    class Watching:
        name = "watching"

        def send(self, message):
            seen.append((db.session().in_transaction(), message.sender_name))
            return "ref-1"

    monkeypatch.setattr(sending, "channel_for", lambda message: Watching())
    assert sending.claim_batch("test", 10) == [message_id]
    assert sending.send_claimed(message_id, "test") is MessageStatus.sent
    assert seen == [(False, "CentreA")]

"""Retention (core/privacy/retention.py): who is due, the nightly run in batches, idempotence, the
preview, the warning before anonymisation, the admins' page and the command. Time is frozen."""
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.messaging.models import Channel, ConsentEvent, Message, MessageKind, MessageSettings, MessageStatus
from core.models import Role, StaffSession
from core.privacy import retention
from core.privacy.models import AccessAction, AccessRecord, ErasureCause, ErasureRecord, PrivacySettings, RetentionRun
from core.privacy.retention import run_retention, shift_months
from core.residents import Resident
from loans import operations
from loans.models import Loan
from reservations.ledger import new_reference
from reservations.models import Booking, Room
from tests.core.helpers import field_error, page_text, snapshot, visible_text
from tests.messaging_peers import run_worker, wait_for

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now():
    with clock.frozen(NOW):
        yield NOW


def months_ago(months, days=0):
    return shift_months(NOW, -months) - timedelta(days=days)


@pytest.fixture
def world(db, two_sites, frozen_now):
    a = two_sites["a"]
    kinds = operations.ensure_default_kinds()
    room = Room(site_id=a.id, name="Salle", workstations=8, feed_token=secrets.token_hex(8))
    db.session.add(room)
    db.session.commit()
    devices = iter(operations.create_device(two_sites["admin"], a, kinds["laptop"]) for _n in range(20))
    returned = next(devices)  # closed loans may share a device; each open one needs its own
    db.session.commit()

    class World:
        site, site_b, admin, manager = a, two_sites["b"], two_sites["admin"], two_sites["manager_a"]

        @staticmethod
        def resident(name, created=None, phone="", email="", sites=None):
            resident = Resident(phone=phone, email=email, created_at=created or months_ago(40), notes=f"Notes de {name}")
            resident.set_names(name, "Testeur")
            resident.sites = sites or [a]
            db.session.add(resident)
            db.session.commit()
            return resident

        @staticmethod
        def loan(resident, started, closed=None):
            device = returned if closed else next(devices)
            loan = Loan(device_id=device.id, resident_id=resident.id, site_id=a.id, started_at=started, due_on=started.date(),
                        closed_at=closed, condition_out="rayure", override_reason=f"accord de {resident.first_name}")
            db.session.add(loan)
            db.session.commit()
            return loan

        @staticmethod
        def booking(starts_at, contact_key, resident=None, first_name="Fatima"):
            booking = Booking(reference=new_reference(), token_hash=secrets.token_hex(32), site_id=a.id, room_id=room.id,
                              starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), first_name=first_name, phone=contact_key,
                              contact_key=contact_key, resident_id=resident.id if resident else None,
                              created_at=starts_at - timedelta(days=2))
            db.session.add(booking)
            db.session.commit()
            return booking

    return World


def anonymised(db, resident) -> bool:
    db.session.expire_all()
    return db.session.get(Resident, resident.id).anonymised_at is not None


# --- residents ------------------------------------------------------------------------------------


def test_a_resident_last_seen_25_months_ago_is_anonymised_23_months_ago_is_not(db, world):
    gone = world.resident("Ancien", phone="0611111111")
    world.loan(gone, months_ago(26), months_ago(25))
    recent = world.resident("Recent")
    world.loan(recent, months_ago(30), months_ago(23))

    report = run_retention()

    assert anonymised(db, gone) and not anonymised(db, recent)
    row = db.session.get(Resident, gone.id)
    assert (row.first_name, row.last_name, row.phone, row.notes) == ("", "", "", "")
    assert db.session.scalar(select(Loan.override_reason).where(Loan.resident_id == gone.id)) == ""
    assert db.session.get(Resident, recent.id).first_name == "Recent"
    assert report.counts["residents"] == 1
    record = db.session.scalar(select(ErasureRecord).where(ErasureRecord.resident_id == gone.id))
    assert record.cause is ErasureCause.retention


def test_the_last_contact_is_the_latest_of_record_loans_and_bookings(db, world):
    created_yesterday = world.resident("Nouvelle", created=NOW - timedelta(days=1))
    booked = world.resident("Reserve")
    world.loan(booked, months_ago(30), months_ago(29))
    world.booking(months_ago(23), "0622222222", resident=booked)
    lent_long_ago_back_recently = world.resident("Retour")
    world.loan(lent_long_ago_back_recently, months_ago(40), months_ago(2))
    booked_long_ago = world.resident("Vieux")
    world.booking(months_ago(25), "0633333333", resident=booked_long_ago)
    never_came = world.resident("Jamais", created=months_ago(24, days=1))

    run_retention()

    assert not anonymised(db, created_yesterday)
    assert not anonymised(db, booked)
    assert not anonymised(db, lent_long_ago_back_recently)
    assert anonymised(db, booked_long_ago)
    assert anonymised(db, never_came)


def test_a_resident_with_an_open_loan_is_never_anonymised(db, world):
    holding = world.resident("Garde")
    world.loan(holding, months_ago(60))  # never brought back

    assert retention.preview().counts["residents"] == 0
    run_retention()

    assert not anonymised(db, holding)


# --- booking contacts, messages, logs ---------------------------------------------------------------


def test_booking_contacts_without_a_record_go_12_months_after_their_last_slot(db, world):
    old = [world.booking(months_ago(20), "0644444444"), world.booking(months_ago(13), "0644444444")]
    kept = [world.booking(months_ago(20), "0655555555"), world.booking(months_ago(11), "0655555555")]

    report = run_retention()

    db.session.expire_all()
    gone = [db.session.get(Booking, b.id) for b in old]
    assert all(b.first_name == "" and b.phone == "" and b.contact_key.startswith("anonyme-") for b in gone)
    assert len({b.contact_key for b in gone}) == 1  # one pseudonym per person: reports count them once
    assert all(db.session.get(Booking, b.id).contact_key == "0655555555" for b in kept)
    assert report.counts["booking_contacts"] == 1


def message(db, site, created, status=MessageStatus.sent, key=None):
    db.session.add(Message(key=key or secrets.token_hex(8), kind=MessageKind.loan_due, channel=Channel.sms, status=status,
                           site_id=site.id, recipient="+33611111111", subject="", body="Bonjour Marie", created_at=created))
    db.session.commit()


def test_old_message_bodies_are_emptied_and_old_logs_deleted(db, world):
    message(db, world.site, months_ago(7), key="old-sent")
    message(db, world.site, months_ago(7), status=MessageStatus.pending, key="old-pending")
    message(db, world.site, months_ago(5), key="recent")
    for at in (months_ago(13), months_ago(11)):
        db.session.add(AccessRecord(at=at, user_id=world.admin.id, action=AccessAction.resident_page))
        db.session.add(StaffSession(key_hash=secrets.token_hex(32), user_id=world.admin.id, created_at=at, last_seen_at=at))
    db.session.commit()

    report = run_retention()

    bodies = dict(db.session.execute(select(Message.key, Message.body)).all())
    assert bodies == {"old-sent": "", "old-pending": "Bonjour Marie", "recent": "Bonjour Marie"}
    old = db.session.scalar(select(Message).where(Message.key == "old-sent"))
    assert (old.recipient, old.kind, old.status) == ("", MessageKind.loan_due, MessageStatus.sent)
    assert db.session.scalars(select(AccessRecord.at)).all() == [months_ago(11)]
    assert db.session.scalars(select(StaffSession.last_seen_at)).all() == [months_ago(11)]
    assert {k: report.counts[k] for k in ("message_bodies", "access_records", "staff_sessions")} == {
        "message_bodies": 1, "access_records": 1, "staff_sessions": 1}


# --- the run: preview, batches, idempotence, record -------------------------------------------------


def busy_world(db, world):
    for n in range(7):
        person = world.resident(f"Parti{n}", phone=f"06000000{n:02d}")
        world.loan(person, months_ago(40), months_ago(25 + n))
    for n in range(3):
        person = world.resident(f"Reste{n}")
        world.loan(person, months_ago(30), months_ago(20))
    for n in range(5):
        world.booking(months_ago(14), f"07000000{n:02d}")
    message(db, world.site, months_ago(8))
    db.session.add(AccessRecord(at=months_ago(13), user_id=world.admin.id, action=AccessAction.login))
    db.session.commit()


def test_the_preview_says_what_the_run_then_does_in_batches_and_a_second_run_changes_nothing(db, world):
    busy_world(db, world)
    seen = retention.preview()
    assert seen.counts == {"residents": 7, "booking_contacts": 5, "message_bodies": 1, "access_records": 1, "staff_sessions": 0}
    assert seen.per_site == [(world.site.name, 7)]
    assert [r.name for r in seen.residents] == [f"Parti{n} Testeur" for n in range(7)]
    assert seen.residents[0].last_contact == months_ago(25)

    report = run_retention(batch_size=2)

    assert {kind: report.counts[kind] for kind in retention.KINDS} == seen.counts
    assert report.batches == 4 + 3 + 1 + 1  # residents by two, contacts by two, one message, one access row
    run = db.session.scalar(select(RetentionRun))
    assert run.counts == report.counts and run.finished_at is not None and not run.manual
    assert "Parti" not in str(run.counts)

    before = snapshot(db)
    again = run_retention(batch_size=2)
    after = snapshot(db)
    assert {kind: again.counts[kind] for kind in retention.KINDS} == dict.fromkeys(retention.KINDS, 0)
    assert again.batches == 0
    for table in before:
        if table != "retention_runs":
            assert before[table] == after[table], table
    assert db.session.scalar(select(func.count()).select_from(RetentionRun)) == 2


def test_a_person_who_comes_back_between_the_scan_and_the_batch_is_kept(db, world, monkeypatch):
    person = world.resident("Revenue")
    world.loan(person, months_ago(30), months_ago(25))
    real_apply = retention._apply

    def apply_after_a_visit(kind, batch, cut, settings):
        if kind == "residents":
            world.loan(person, NOW - timedelta(minutes=5))  # lent at the desk in the meantime
        return real_apply(kind, batch, cut, settings)

    monkeypatch.setattr(retention, "_apply", apply_after_a_visit)
    report = run_retention()

    assert not anonymised(db, person) and report.counts["residents"] == 0


def test_the_settings_in_force_are_used(db, world):
    person = world.resident("Six")
    world.loan(person, months_ago(8), months_ago(7))
    db.session.add(PrivacySettings(id=1, resident_months=6, booking_contact_months=12, message_body_months=6, log_months=12,
                                   warning_days=30))
    db.session.commit()

    run_retention()

    assert anonymised(db, person)


# --- the warning before anonymisation -----------------------------------------------------------------


def warn_at(db, site, on=True):
    db.session.add(MessageSettings(site_id=site.id, retention_warning=on))
    db.session.commit()


def test_a_site_that_warns_writes_one_message_before_the_record_goes(db, world):
    warn_at(db, world.site)
    soon = world.resident("Bientot", phone="06 12 34 56 78")
    world.loan(soon, months_ago(24, days=-10), months_ago(24, days=-10))  # due in 10 days
    later = world.resident("Plustard", phone="0612345679")
    world.loan(later, months_ago(22), months_ago(22))  # due in two months: not yet
    stopped = world.resident("Stop", phone="0612345670")
    world.loan(stopped, months_ago(24, days=-5), months_ago(24, days=-5))
    db.session.add(ConsentEvent(contact="+33612345670", channel=Channel.sms, wanted=False, how="SMS STOP", at=NOW))
    no_channel = world.resident("Sanscontact")
    world.loan(no_channel, months_ago(24, days=-5), months_ago(24, days=-5))
    db.session.commit()

    assert retention.preview().warnings == 2  # with a phone or an e-mail; refusals are looked at when writing
    first = run_retention()
    second = run_retention()

    messages = db.session.scalars(select(Message).where(Message.kind == MessageKind.retention_warning)).all()
    assert [(m.resident_id, m.recipient, m.channel) for m in messages] == [(soon.id, "+33612345678", Channel.sms)]
    assert (first.counts["warnings"], second.counts["warnings"]) == (1, 0)
    on = shift_months(months_ago(24, days=-10), 24).astimezone(clock.PARIS).date()
    assert on == (NOW + timedelta(days=10)).date()
    assert "votre fiche sera effacée le" in messages[0].body and str(on.day) in messages[0].body
    assert not anonymised(db, soon)


def test_a_site_that_does_not_warn_writes_nothing(db, world):
    warn_at(db, world.site, on=False)
    soon = world.resident("Bientot", email="bientot@example.org")
    world.loan(soon, months_ago(24, days=-10), months_ago(24, days=-10))

    run_retention()

    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_the_warning_e_mail(db, world):
    warn_at(db, world.site)
    soon = world.resident("Bientot", email="bientot@example.org")
    world.loan(soon, months_ago(24, days=-10), months_ago(24, days=-10))

    run_retention()

    mail = db.session.scalar(select(Message).where(Message.kind == MessageKind.retention_warning))
    assert mail.channel is Channel.email and mail.recipient == "bientot@example.org"
    assert world.site.name in mail.subject and "Bonjour Bientot," in mail.body and "Passez nous voir au centre" in mail.body


# --- the admins' page, the command, the schedule -------------------------------------------------------


URL = "/admin/donnees-personnelles"


@pytest.mark.parametrize("role", [Role.manager, Role.reception])
def test_only_admins_see_the_page(world, client_for, make_user, role):
    client = client_for(make_user(role, [world.site]))
    assert client.get(URL).status_code == 403
    assert client.post(URL + "/executer").status_code == 403
    assert client.post(URL, data={"resident_months": "1"}).status_code == 403


def test_the_page_shows_the_preview_and_the_runs_in_a_constant_number_of_queries(db, world, client_for, count_queries):
    client = client_for(world.admin)
    person = world.resident("Parti")
    world.loan(person, months_ago(30), months_ago(25))
    with count_queries() as few:
        page = client.get(URL)
    assert page.status_code == 200
    text = page_text(page)
    assert "Ce que la prochaine exécution anonymisera" in text and "Parti Testeur" in text
    busy_world(db, world)
    run_retention()
    busy_world(db, world)
    with count_queries() as many:
        page = client.get(URL)
    assert page.status_code == 200 and "Lots : " in page_text(page)
    assert many() == few()


def test_settings_are_checked_next_to_their_fields(db, world, client_for):
    client = client_for(world.admin)
    values = {"resident_months": "24", "booking_contact_months": "12", "message_body_months": "6", "log_months": "12",
              "warning_days": "30"}
    refused = client.post(URL, data={**values, "resident_months": "0", "log_months": "36", "warning_days": "beaucoup"})
    assert refused.status_code == 400
    assert field_error(refused, "resident_months") == "Choisissez un nombre entre 1 et 120 (mois)."
    assert field_error(refused, "log_months") == "Choisissez un nombre entre 1 et 24 (mois)."
    assert field_error(refused, "warning_days") == "Indiquez un nombre entier."
    assert db.session.get(PrivacySettings, 1) is None

    saved = client.post(URL, data={**values, "resident_months": "36"})
    assert saved.status_code == 302
    settings = db.session.get(PrivacySettings, 1)
    assert (settings.resident_months, settings.updated_by_id) == (36, world.admin.id)


def test_run_now_from_the_page_goes_through_the_queue(app, db, world, client_for):
    client = client_for(world.admin)
    person = world.resident("Parti")
    world.loan(person, months_ago(30), months_ago(25))

    with run_worker(app):
        answer = client.post(URL + "/executer", follow_redirects=True)
        assert answer.status_code == 200 and "Exécution lancée" in page_text(answer)
        wait_for(lambda: run_finished(db), what="the run on the queue")

    assert anonymised(db, person)
    assert db.session.scalar(select(RetentionRun.manual)) is True
    assert "Fiches d'habitants anonymisées : 0" in visible_text(client.get(URL))


def test_the_command_and_its_dry_run(db, world, runner):
    person = world.resident("Parti")
    world.loan(person, months_ago(30), months_ago(25))

    dry = runner.invoke(args=["retention", "--dry-run"])
    assert dry.exit_code == 0 and "residents: 1" in dry.output
    assert not anonymised(db, person)
    done = runner.invoke(args=["retention"])
    assert done.exit_code == 0 and "residents: 1" in done.output
    assert anonymised(db, person)


def test_the_nightly_task_runs_at_half_past_three_in_paris(app, db, world):
    from core.messaging.queue import task

    person = world.resident("Parti")
    world.loan(person, months_ago(30), months_ago(25))
    nightly = task("retention", app)
    with clock.frozen(datetime(2026, 12, 2, 11, 30, tzinfo=UTC)):
        assert nightly.call_local() is None
    assert not anonymised(db, person)
    db.session.commit()  # the task has its own session (SQLite: the test's would hold the write lock)
    with clock.frozen(datetime(2026, 12, 2, 2, 30, tzinfo=UTC)):  # 3:30 in Paris in winter
        assert nightly.call_local()["residents"] == 1
    assert anonymised(db, person)


def test_a_run_first_erases_again_whoever_a_restored_backup_brought_back(db, world):
    back = world.resident("Restauree", phone="0612121212")  # erased on request, then a backup from before was restored
    world.loan(back, NOW - timedelta(days=20), NOW - timedelta(days=10))
    db.session.add(ErasureRecord(at=NOW - timedelta(days=1), cause=ErasureCause.request, resident_id=back.id))
    db.session.commit()

    report = run_retention()

    assert anonymised(db, back) and report.counts["replayed"] == 1 and report.counts["residents"] == 0


def run_finished(db):
    """Whether the queued run has ended; the read ends at once (SQLite: a reader would hold off its writes)."""
    finished = db.session.scalar(select(RetentionRun.finished_at))
    db.session.rollback()
    return finished

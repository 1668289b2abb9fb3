"""Staff pages of the messages: the "Messages" page, a message, "Renvoyer", a site's settings, the
messages on a loan and a resident page, and the demo's messages."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.messaging.models import Channel, Message, MessageKind, MessageSettings, MessageStatus
from core.messaging.staff import mask_recipient
from core.models import Role
from tests.core.helpers import field_error, page_text, snapshot, visible_text

_n = iter(range(1, 100_000))


@pytest.fixture
def make_message(db):
    def make(site, status=MessageStatus.sent, channel=Channel.sms, kind=MessageKind.booking_confirmed, created=None, **fields):
        n = next(_n)
        created = created or datetime(2026, 11, 20, 10, 0, tzinfo=UTC) + timedelta(minutes=n)
        message = Message(
            key=f"test:{n}", kind=kind, channel=channel, status=status, site_id=site.id,
            recipient=fields.pop("recipient", "+33612345678" if channel is Channel.sms else "marie.dupont@example.fr"),
            body=fields.pop("body", f"Bonjour, votre réservation n° {n} est confirmée."), created_at=created,
            not_before=created, sent_at=created if status is MessageStatus.sent else None, **fields,
        )
        db.session.add(message)
        db.session.commit()
        return message

    return make


def message_count(db):
    return db.session.scalar(select(func.count(Message.id)))


# --- what a list shows of the recipient ----------------------------------------------------------


def test_recipients_are_partly_masked():
    assert mask_recipient("+33612345678") == "+33 6 •• •• •• 78"
    assert mask_recipient("marie@example.fr") == "m•••@example.fr"
    assert "12345" not in mask_recipient("+32412345678")


# --- who sees what -------------------------------------------------------------------------------


def test_managers_see_their_sites_messages_admins_all_reception_not_the_page(two_sites, make_message, client_for):
    a, b = two_sites["a"], two_sites["b"]
    mine = make_message(a, body="Texte du centre A")
    theirs = make_message(b, body="Texte du centre B")

    manager_a = client_for(two_sites["manager_a"])
    text = page_text(manager_a.get("/messages"))
    assert "Texte du centre A" in text and "Texte du centre B" not in text
    assert "+33612345678" not in text and "+33 6 •• •• •• 78" in text
    assert manager_a.get(f"/messages/{mine.id}").status_code == 200
    assert manager_a.get(f"/messages/{theirs.id}").status_code == 403
    assert manager_a.get(f"/structures/{b.id}/messages").status_code == 403
    assert manager_a.get("/messages/999999").status_code == 404

    admin = page_text(client_for(two_sites["admin"]).get("/messages"))
    assert "Texte du centre A" in admin and "Texte du centre B" in admin

    reception = client_for(two_sites["reception_a"])
    assert reception.get("/messages").status_code == 403
    assert reception.get(f"/messages/{mine.id}").status_code == 403
    assert reception.get(f"/structures/{a.id}/messages").status_code == 403


def test_the_nav_shows_messages_to_managers_only(two_sites, client_for):
    assert ">Messages<" in page_text(client_for(two_sites["manager_a"]).get("/espace"))
    assert ">Messages<" not in page_text(client_for(two_sites["reception_a"]).get("/espace"))


def test_staff_of_another_site_cannot_resend(db, two_sites, make_message, client_for):
    theirs = make_message(two_sites["b"])
    clients = [client_for(two_sites[who]) for who in ("reception_a", "manager_a")]
    before = snapshot(db)
    for client in clients:
        assert client.post(f"/messages/{theirs.id}/renvoyer").status_code == 403
    assert snapshot(db) == before


# --- the list: filters, order, statements --------------------------------------------------------


def test_undelivered_first_then_the_newest(two_sites, make_message, client_for):
    a = two_sites["a"]
    make_message(a, body="Ancien envoyé", created=datetime(2026, 11, 1, 9, tzinfo=UTC))
    make_message(a, status=MessageStatus.undelivered, body="Ancien non distribué", last_error="Numéro inconnu de l'opérateur",
                 created=datetime(2026, 10, 1, 9, tzinfo=UTC))
    make_message(a, body="Récent envoyé", created=datetime(2026, 11, 25, 9, tzinfo=UTC))
    text = visible_text(client_for(two_sites["manager_a"]).get("/messages"))
    assert text.index("Ancien non distribué") < text.index("Récent envoyé") < text.index("Ancien envoyé")
    assert "Attention : non distribué" in text and "Numéro inconnu de l'opérateur" in text


def test_filters(two_sites, make_message, client_for):
    a = two_sites["a"]
    make_message(a, body="Un SMS envoyé", created=datetime(2026, 11, 2, 9, tzinfo=UTC))
    make_message(a, channel=Channel.email, status=MessageStatus.kept, kind=MessageKind.loan_due, body="Un e-mail conservé",
                 created=datetime(2026, 11, 10, 9, tzinfo=UTC))
    make_message(two_sites["b"], body="Un SMS de B")
    admin = client_for(two_sites["admin"])

    def shown(query):
        response = admin.get("/messages?" + query)
        assert response.status_code == 200
        text = page_text(response)
        return {t for t in ("Un SMS envoyé", "Un e-mail conservé", "Un SMS de B") if t in text}

    assert shown("") == {"Un SMS envoyé", "Un e-mail conservé", "Un SMS de B"}
    assert shown(f"site={a.id}") == {"Un SMS envoyé", "Un e-mail conservé"}
    assert shown("channel=email") == {"Un e-mail conservé"}
    assert shown("status=kept") == {"Un e-mail conservé"}
    assert shown("kind=loan_due") == {"Un e-mail conservé"}
    assert shown("du=2026-11-05&au=2026-11-10") == {"Un e-mail conservé"}
    assert shown("au=2026-11-03") == {"Un SMS envoyé"}


def test_a_filter_that_cannot_be_read_is_answered_in_french_next_to_it(two_sites, client_for):
    manager = client_for(two_sites["manager_a"])
    response = manager.get("/messages?du=2026-11-10&au=2026-11-01")
    assert response.status_code == 400
    assert field_error(response, "au") == "Ce jour est avant le premier jour."
    response = manager.get("/messages?status=perdu")
    assert response.status_code == 400 and field_error(response, "status")
    assert manager.get(f"/messages?site={two_sites['b'].id}").status_code == 400  # not one of hers


def test_the_list_runs_the_same_number_of_statements_whatever_the_number_of_messages(two_sites, make_message, client_for,
                                                                                    count_queries):
    a, b = two_sites["a"], two_sites["b"]
    manager = client_for(two_sites["manager_a"])
    make_message(a)
    make_message(a, status=MessageStatus.undelivered)
    manager.get("/messages")
    with count_queries() as few:
        assert manager.get("/messages").status_code == 200
    for n in range(40):
        make_message(a if n % 2 else b, status=MessageStatus.undelivered if n % 5 == 0 else MessageStatus.sent)
    with count_queries() as many:
        assert manager.get("/messages").status_code == 200
    assert many() == few()


# --- resend --------------------------------------------------------------------------------------


def test_resend_writes_one_pending_copy_and_refuses_past_three(db, two_sites, make_message, client_for):
    original = make_message(two_sites["a"], status=MessageStatus.undelivered, subject="", calendar=None)
    reception = client_for(two_sites["reception_a"])
    for n in range(1, 4):
        response = reception.post(f"/messages/{original.id}/renvoyer", data={"next": "/habitants/1"})
        assert response.status_code == 302 and response.headers["Location"] == "/habitants/1"
        copy = db.session.scalar(select(Message).where(Message.key == f"{original.key}:renvoi:{n}"))
        assert copy.status is MessageStatus.pending and copy.recipient == original.recipient and copy.body == original.body
        assert copy.site_id == original.site_id and copy.attempts == 0
    assert message_count(db) == 4

    response = reception.post(f"/messages/{original.id}/renvoyer", follow_redirects=True)
    assert "Ce message a déjà été renvoyé 3 fois. Appelez plutôt la personne." in page_text(response)
    copy = db.session.scalar(select(Message).where(Message.key == f"{original.key}:renvoi:3"))
    copy.status = MessageStatus.sent
    db.session.commit()
    reception.post(f"/messages/{copy.id}/renvoyer")  # a copy counts with its original
    assert message_count(db) == 4


def test_a_message_not_sent_yet_is_not_resent(db, two_sites, make_message, client_for):
    pending = make_message(two_sites["a"], status=MessageStatus.pending)
    response = client_for(two_sites["manager_a"]).post(f"/messages/{pending.id}/renvoyer", follow_redirects=True)
    assert "Ce message n'est pas encore parti" in page_text(response)
    assert message_count(db) == 1


def test_resend_never_leaves_the_site(two_sites, make_message, client_for):
    message = make_message(two_sites["a"])
    response = client_for(two_sites["manager_a"]).post(f"/messages/{message.id}/renvoyer", data={"next": "//evil.example/x"})
    assert response.headers["Location"] == f"/messages/{message.id}"


class TestRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"MESSAGE_RESEND_LIMIT": "2 per minute"}

    def test_resending_is_rate_limited_per_person(self, db, two_sites, make_message, client_for):
        messages = [make_message(two_sites["a"]) for _ in range(3)]
        manager = client_for(two_sites["manager_a"])
        assert [manager.post(f"/messages/{m.id}/renvoyer").status_code for m in messages] == [302, 302, 429]
        assert message_count(db) == 5
        # Another person of the same centre still may.
        assert client_for(two_sites["reception_a"]).post(f"/messages/{messages[2].id}/renvoyer").status_code == 302


def test_resend_needs_the_csrf_token(app, two_sites, make_message, client_for, db):
    message = make_message(two_sites["a"])
    manager = client_for(two_sites["manager_a"])
    app.config["WTF_CSRF_ENABLED"] = True
    assert manager.post(f"/messages/{message.id}/renvoyer").status_code in (400, 403)
    assert message_count(db) == 1


# --- settings ------------------------------------------------------------------------------------


GOOD = {"reminder_time": "18:30", "overdue_days": "2, 10", "sender_name": "ACSRV", "confirmations": "y", "reminders": "y",
        "loan_reminders": "y", "digest_to": "Karim@Example.fr\n\nequipe@example.fr\n"}


def test_settings_without_a_row_show_the_defaults_and_are_saved(db, two_sites, client_for):
    site = two_sites["a"]
    manager = client_for(two_sites["manager_a"])
    page = page_text(manager.get(f"/structures/{site.id}/messages"))
    assert 'value="17:00"' in page and 'value="1, 7"' in page

    response = manager.post(f"/structures/{site.id}/messages", data=GOOD)
    assert response.status_code == 302
    saved = db.session.get(MessageSettings, site.id)
    assert saved.reminder_time.strftime("%H:%M") == "18:30" and saved.overdue_days == "2,10" and saved.sender_name == "ACSRV"
    assert saved.confirmations and saved.reminders and saved.loan_reminders
    assert not saved.waiting_list and not saved.cancellations
    assert saved.digest_to == "karim@example.fr\nequipe@example.fr"
    assert not saved.retention_warning  # off unless the site turns it on


def test_a_site_turns_on_the_warning_before_anonymisation(db, two_sites, client_for):
    site = two_sites["a"]
    manager = client_for(two_sites["manager_a"])
    assert "Prévenir une personne avant d'effacer sa fiche" in page_text(manager.get(f"/structures/{site.id}/messages"))

    response = manager.post(f"/structures/{site.id}/messages", data={**GOOD, "retention_warning": "y"})

    assert response.status_code == 302 and db.session.get(MessageSettings, site.id).retention_warning


@pytest.mark.parametrize("field, value, message", [
    ("overdue_days", "0, 7", "Chaque nombre de jours va de 1 à 60."),
    ("overdue_days", "1, 61", "Chaque nombre de jours va de 1 à 60."),
    ("overdue_days", "1, 2, 3, 4, 5, 6", "5 rappels au plus."),
    ("overdue_days", "un, sept", "Écrivez des nombres de jours séparés par des virgules, par exemple : 1, 7."),
    ("sender_name", "AB", "De 3 à 11 lettres ou chiffres, sans espace ni accent (par exemple : ACSRV)."),
    ("sender_name", "Centre Élan", "De 3 à 11 lettres ou chiffres, sans espace ni accent (par exemple : ACSRV)."),
    ("sender_name", "ABCDEFGHIJKL", "De 3 à 11 lettres ou chiffres, sans espace ni accent (par exemple : ACSRV)."),
    ("digest_to", "karim@example.fr\npas-une-adresse", "Adresse e-mail invalide : pas-une-adresse"),
    ("reminder_time", "", "Indiquez l'heure des rappels, par exemple 17:00."),
])
def test_settings_refuse_bad_values_in_french_next_to_the_field(db, two_sites, client_for, field, value, message):
    manager = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = manager.post(f"/structures/{two_sites['a'].id}/messages", data={**GOOD, field: value})
    assert response.status_code == 400
    assert field_error(response, field) == message
    assert snapshot(db) == before


# --- on a loan and a resident -------------------------------------------------------------------


@pytest.fixture
def loan(db, two_sites, make_user):
    from core.clock import today
    from core.residents import create_resident
    from loans import lending, operations

    site = two_sites["a"]
    device = operations.create_device(None, site, operations.ensure_default_kinds()["laptop"])
    resident = create_resident(None, site, first_name="Emprunteuse", last_name="Messages", phone="0612345678")
    loan = lending.lend(two_sites["reception_a"], device.id, resident, due_on=today() + timedelta(days=7), accessories=[],
                        charter_method="ticked")
    db.session.commit()
    return loan


def test_a_loan_and_its_resident_show_their_messages_with_undelivered_in_words(two_sites, make_message, client_for, loan,
                                                                                count_queries):
    make_message(two_sites["a"], kind=MessageKind.loan_due, loan_id=loan.id, resident_id=loan.resident_id,
                 status=MessageStatus.undelivered, last_error="Le téléphone ne répond pas", body="Demain, rapportez le matériel.")
    reception = client_for(two_sites["reception_a"])
    for url in (f"/prets/{loan.id}/recu", f"/habitants/{loan.resident_id}"):
        text = visible_text(reception.get(url))
        assert "Messages envoyés" in text and "Attention : non distribué" in text
        assert "Le téléphone ne répond pas" in text and "Demain, rapportez le matériel." in text and "Renvoyer" in text
    with count_queries() as few:
        reception.get(f"/habitants/{loan.resident_id}")
    for _ in range(10):
        make_message(two_sites["a"], kind=MessageKind.loan_overdue, loan_id=loan.id, resident_id=loan.resident_id)
    with count_queries() as many:
        reception.get(f"/habitants/{loan.resident_id}")
    assert many() == few()


# --- the demo ------------------------------------------------------------------------------------


def test_the_demo_has_messages_and_a_second_run_adds_none(app, db, runner, monkeypatch, client_for):
    loaders = app.extensions["demo_loaders"]
    monkeypatch.setitem(app.extensions, "demo_loaders", [loader for loader in loaders if loader.__module__ != "reports.demo"])
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    statuses = dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    assert statuses.get(MessageStatus.sent) and statuses.get(MessageStatus.pending) and statuses.get(MessageStatus.kept)
    undelivered = db.session.scalars(select(Message).where(Message.status == MessageStatus.undelivered)).all()
    assert undelivered and all(m.last_error for m in undelivered)
    assert db.session.scalar(select(func.count()).where(Message.booking_id.is_not(None)))
    assert db.session.scalar(select(func.count()).where(Message.loan_id.is_not(None)))

    before = snapshot(db)
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "Messages de démonstration écrits : 0" in second.output
    assert snapshot(db) == before

    from core.models import User
    admin = db.session.scalar(select(User).where(User.role == Role.admin))
    db.session.rollback()
    client = app.test_client()
    client.post("/connexion", data={"email": admin.email, "password": "demo-admin-2026"})
    text = visible_text(client.get("/messages"))
    assert "Attention : non distribué" in text and "Numéro injoignable" in text

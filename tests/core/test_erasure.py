"""Erasure of a person's data (core/privacy/erasure.py): names, contacts and free text go everywhere;
the rows that count stay, so every report figure is the same before and after."""
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import DomainError
from core.messaging.models import Channel, ConsentEvent, Message, MessageKind, MessageStatus
from core.privacy import erasure
from core.privacy.models import AccessAction, AccessRecord, ErasureCause, ErasureRecord
from core.residents import Resident
from loans import lending
from loans.models import DeviceEvent, Loan
from reservations.models import Booking, BookingEvent
from tests.core.helpers import field_error, location_path, page_text, snapshot
from tests.reports.conftest import march  # noqa: F401  (the hand-built network of tests/reports/dataset.py)

PERIODS = ("?periode=2026-03", "?periode=2026-02", "?periode=2026")
SITE_TABLES = ("prets", "types", "etats", "peu-pretes", "salles", "ateliers", "personnes", "series-prets", "series-occupation")


@pytest.fixture
def admin_client(app, login, march):
    client = app.test_client()
    assert login(march.admin, target=client).status_code == 302
    return client


def ledger(app) -> str:
    return Path(app.config["ERASURE_LEDGER"]).read_text(encoding="utf-8")


def every_report(client, march) -> dict:
    """Every CSV of every report page (both sites' dashboards, the network, the funder report) and the
    network page as read, for three periods."""
    files = {}
    for period in PERIODS:
        for site in (march.a, march.b):
            page = client.get(f"/rapports/structures/{site.id}{period}")
            assert page.status_code == 200
            for table in _table_keys(page):
                response = client.get(f"/rapports/structures/{site.id}/{table}.csv{period}")
                assert response.status_code == 200, (site.name, table, period)
                files[(site.id, table, period)] = response.get_data()
        files[("network", period)] = client.get(f"/rapports/reseau.csv{period}").get_data()
    files["funder"] = client.get("/rapports/financeur.csv?annee=2026").get_data()
    assert len(files) > 10
    return files


def _table_keys(page) -> list[str]:
    import re

    return sorted(set(re.findall(r"/([a-z-]+)\.csv\?", page.get_data(as_text=True))))


def test_every_report_figure_is_the_same_after_erasing_people(march, admin_client, db):
    before = every_report(admin_client, march)
    assert any(b"Personnes" in data or b"personnes" in data for data in before.values())
    # R3 (lost a laptop, booked a workshop place with their phone), R2 (two loans, returned) and two
    # people who only booked online (P: three bookings; anna: an e-mail).
    erasure.erase_resident(march.admin, march.R3.id, reason="Demande écrite du 2 décembre")
    erasure.erase_resident(march.manager_a, march.R2.id, reason="Demande à l'accueil")
    assert erasure.anonymise_contacts(["+33611111111", "anna@example.org"], cause=ErasureCause.request) == 2
    db.session.commit()

    assert every_report(admin_client, march) == before
    erased = db.session.get(Resident, march.R3.id)
    assert erased.anonymised_at is not None and erased.full_name == "Personne effacée"
    assert (erased.phone, erased.email, erased.first_name, erased.last_name) == ("", "", "", "")
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.email == "anna@example.org")) == 0


def test_erasure_removes_every_trace_of_the_person(march, db, events):
    r3 = march.R3
    phone = db.session.get(Resident, r3.id).phone
    # Free text that names the person: a consent event on their number, a message to them.
    db.session.add(ConsentEvent(contact=phone, channel=Channel.sms, wanted=True, how="desk", site_id=march.a.id))
    db.session.add(Message(key="test-r3", kind=MessageKind.loan_due, channel=Channel.sms, status=MessageStatus.pending,
                           site_id=march.a.id, resident_id=r3.id, recipient=phone, body="Bonjour Rachid Trois"))
    db.session.commit()
    loan_ids = list(db.session.scalars(select(Loan.id).where(Loan.resident_id == r3.id)))
    db.session.execute(DeviceEvent.__table__.update().where(DeviceEvent.loan_id.in_(loan_ids)).values(note="accord de Rachid"))
    db.session.commit()

    erasure.erase_resident(march.admin, r3.id, reason="Demande")
    db.session.commit()

    assert db.session.scalar(select(func.count()).select_from(Loan).where(Loan.resident_id == r3.id)) == len(loan_ids) == 1
    assert set(db.session.scalars(select(DeviceEvent.note).where(DeviceEvent.loan_id.in_(loan_ids)))) == {""}
    message = db.session.scalar(select(Message).where(Message.key == "test-r3"))
    assert (message.recipient, message.body, message.status) == ("", "", MessageStatus.cancelled)
    assert db.session.scalar(select(func.count()).select_from(ConsentEvent).where(ConsentEvent.contact == phone)) == 0
    # Every booking made with their number (the workshop place), and its history's notes.
    theirs = list(db.session.scalars(select(Booking).where(Booking.id == march.places[0].id)))
    assert theirs and all(b.phone == "" and b.first_name == "" and b.contact_key.startswith("anonyme-") for b in theirs)
    assert set(db.session.scalars(select(BookingEvent.note).where(BookingEvent.booking_id == march.places[0].id))) <= {""}
    # Nothing anywhere still holds their number or their name.
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            text = " ".join(str(value) for value in row)
            assert phone not in text and "Rachid" not in text, table.name
    record = db.session.scalar(select(ErasureRecord))
    assert (record.resident_id, record.contact_hash, record.cause, record.reason) == (r3.id, None, ErasureCause.request, "Demande")
    assert db.session.scalar(select(AccessRecord.action).where(AccessRecord.resident_id == r3.id)) == AccessAction.resident_erased
    assert ("resident_erased", {"resident_id": r3.id, "contact_hash": None, "cause": "request"}) in events


def test_erasure_is_refused_while_a_device_is_on_loan(march, db):
    # R1 still has the dongle D2.
    with pytest.raises(DomainError) as refused:
        erasure.erase_resident(march.admin, march.R1.id, reason="Demande")
    assert "encore un équipement en prêt" in refused.value.message
    assert db.session.get(Resident, march.R1.id).anonymised_at is None
    lending.take_back(march.reception_a, march.D2.id, site_id=march.a.id, accessories_returned=[], damaged=False, data_wiped=True)
    erasure.erase_resident(march.admin, march.R1.id, reason="Demande")
    assert db.session.get(Resident, march.R1.id).anonymised_at is not None


@pytest.mark.parametrize("who, reason, expected", [
    ("reception_a", "Demande", "Seuls les responsables"),
    ("manager_b", "Demande", "pas inscrite dans vos structures"),
    ("admin", "   ", "Indiquez la raison"),
    ("admin", "x" * 201, "trop longue"),
])
def test_erasure_refusals_change_nothing(march, db, who, reason, expected):
    before = snapshot(db)
    with pytest.raises(DomainError) as refused:
        erasure.erase_resident(getattr(march, who), march.R2.id, reason=reason)
    assert expected in refused.value.message
    db.session.rollback()
    assert snapshot(db) == before


def test_a_person_who_only_booked_online_erases_their_bookings(march, db):
    seat = db.session.get(Booking, march.seat_q.id)
    assert erasure.erase_own_bookings(seat) == 1
    db.session.commit()
    seat = db.session.get(Booking, march.seat_q.id)
    assert seat.contact_key.startswith("anonyme-") and seat.phone == "" and seat.first_name == ""
    with pytest.raises(DomainError, match="déjà effacées"):
        erasure.erase_own_bookings(seat)
    # A booking linked to a resident record: the desk erases it.
    seat_r1 = db.session.get(Booking, march.seat_r1.id)
    seat_r1.resident_id = march.R1.id
    with pytest.raises(DomainError, match="inscrit à l'accueil"):
        erasure.erase_own_bookings(seat_r1)


def test_erasures_come_back_after_a_restore_from_the_ledger(march, db, app):
    r2_phone = db.session.get(Resident, march.R2.id).phone
    erasure.erase_resident(march.admin, march.R2.id, reason="Demande")
    q_key = db.session.get(Booking, march.seat_q.id).contact_key
    erasure.anonymise_contacts([q_key], cause=ErasureCause.request)
    db.session.commit()
    lines = [json.loads(line) for line in ledger(app).splitlines()]
    assert [(e["resident_id"], bool(e["contact_hash"])) for e in lines] == [(march.R2.id, False), (None, True)]
    assert r2_phone not in ledger(app)

    # A backup from before the erasures comes back: the person, their contact, no erasure records.
    db.session.execute(Resident.__table__.update().where(Resident.id == march.R2.id)
                       .values(first_name="Rémi", last_name="Deux", phone=r2_phone, anonymised_at=None))
    db.session.execute(Booking.__table__.update().where(Booking.id == march.seat_q.id).values(contact_key=q_key))
    db.session.execute(ErasureRecord.__table__.delete())
    db.session.commit()

    assert erasure.replay_erasures() == {"residents": 1, "contacts": 1, "records": 2}
    db.session.commit()
    assert db.session.get(Resident, march.R2.id).anonymised_at is not None
    assert db.session.get(Booking, march.seat_q.id).contact_key.startswith("anonyme-")
    assert db.session.scalar(select(func.count()).select_from(ErasureRecord)) == 2
    assert erasure.replay_erasures() == {"residents": 0, "contacts": 0, "records": 0}
    assert len(ledger(app).splitlines()) == 2


def test_the_ledger_holds_only_pseudonymous_keys(march, db, app):
    erasure.anonymise_contacts(["anna@example.org"], cause=ErasureCause.retention)
    db.session.commit()
    text = ledger(app)
    assert "anna" not in text and erasure.contact_hash("anna@example.org") in text
    assert json.loads(text)["cause"] == "retention"


# --- over HTTP ------------------------------------------------------------------------------------


def test_a_manager_erases_a_resident_after_confirming(march, client_for, db):
    manager = client_for(march.manager_a)
    url = f"/habitants/{march.R2.id}/effacer"
    page = manager.get(f"/habitants/{march.R2.id}")
    assert url in page.get_data(as_text=True)
    assert "Effacer les données de Rémi Deux" in page_text(manager.get(url))

    before = snapshot(db)
    refused = manager.post(url, data={"reason": "Demande à l'accueil"})
    assert refused.status_code == 400
    assert field_error(refused, "confirmed") == "Cochez la case pour confirmer l'effacement."
    refused = manager.post(url, data={"reason": "", "confirmed": "y"})
    assert field_error(refused, "reason") == "Indiquez la raison de l'effacement."
    assert snapshot(db) == before

    done = manager.post(url, data={"reason": "Demande à l'accueil", "confirmed": "y"})
    assert done.status_code == 302 and location_path(done) == f"/habitants/{march.R2.id}"
    page = page_text(manager.get(f"/habitants/{march.R2.id}"))
    assert "Personne effacée" in page and "Rémi" not in page_text(manager.get("/habitants"))
    assert "Personne effacée" in page and "Rémi" not in page and "Les données de cette personne sont effacées" in page
    assert db.session.get(Resident, march.R2.id).anonymised_at is not None


def test_erasing_someone_with_a_device_on_loan_is_refused_next_to_the_reason(march, client_for, db):
    manager = client_for(march.manager_a)
    url = f"/habitants/{march.R1.id}/effacer"
    assert "encore 1 équipement en prêt" in page_text(manager.get(url))
    refused = manager.post(url, data={"reason": "Demande", "confirmed": "y"})
    assert refused.status_code == 409
    assert field_error(refused, "reason") == ("Cette personne a encore un équipement en prêt : reprenez-le avant "
                                              "d'effacer ses données.")
    assert db.session.get(Resident, march.R1.id).anonymised_at is None


def test_reception_and_other_sites_cannot_erase(march, client_for, db):
    url = f"/habitants/{march.R2.id}/effacer"
    reception = client_for(march.reception_a)
    assert reception.get(url).status_code == 403
    assert reception.post(url, data={"reason": "x", "confirmed": "y"}).status_code == 403
    assert url not in reception.get(f"/habitants/{march.R2.id}").get_data(as_text=True)
    other = client_for(march.manager_b)
    assert other.post(url, data={"reason": "x", "confirmed": "y"}).status_code in (403, 404)
    assert db.session.get(Resident, march.R2.id).anonymised_at is None


def test_a_person_erases_their_data_from_their_booking_link(march, app, db):
    from reservations.ledger import hash_token

    db.session.get(Booking, march.seat_q.id).token_hash = hash_token("lien-de-q")
    db.session.commit()
    client = app.test_client()
    page = client.get("/ma-reservation/lien-de-q")
    assert "/ma-reservation/lien-de-q/effacer" in page.get_data(as_text=True)
    assert "Nous effaçons votre prénom" in page_text(client.get("/ma-reservation/lien-de-q/effacer"))
    done = client.post("/ma-reservation/lien-de-q/effacer")
    assert done.status_code == 302
    assert "Vos données sont effacées" in page_text(client.get("/ma-reservation/lien-de-q"))
    seat = db.session.get(Booking, march.seat_q.id)
    assert seat.contact_key.startswith("anonyme-") and seat.first_name == "" and seat.phone == ""
    assert client.post("/ma-reservation/lien-de-q/effacer").status_code == 409

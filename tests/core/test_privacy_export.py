"""A resident's data, exported (RGPD rights of access and portability), and the access trail.

- the printable page and the JSON file hold every part: identity, loans with their history, bookings
  linked to the person with theirs, messages, consent choices, the trail of the record;
- staff of another site are refused and leave no trace; reception of the person's site may export;
- a fixed number of statements whatever the history (1 loan and booking, then 30 of each);
- the trail: a row for the resident's page, the export page, the JSON file and each login; its
  admin-only page, filtered by resident number and staff member;
- the person with a booking link sees what is held about that booking.
"""
import html
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

import core.clock
from core.messaging import consent
from core.messaging.models import Channel, Message, MessageKind, MessageStatus
from core.privacy.models import AccessAction, AccessRecord
from core.residents import create_resident
from loans import lending, operations
from reservations.models import Attendance, Booking, BookingAction, BookingEvent
from tests.core.helpers import page_text
from tests.reservations.factories import at_local, book, make_room, tomorrow

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def laptop(db):
    kinds = operations.ensure_default_kinds()
    db.session.commit()

    def make(site):
        device = operations.create_device(None, site, kinds["laptop"], brand="Lenovo", model="ThinkPad E14",
                                          accessories="Chargeur\nHousse")
        db.session.commit()
        return device

    return make


def past_loan(db, device, resident, agent, site, day: date, *, missing=()):
    """A loan lent at 10:00 on `day` and taken back at 16:00 (history rows: lend, take_back)."""
    with core.clock.frozen(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)):
        loan = lending.lend(agent, device.id, resident, due_on=day + timedelta(days=7), accessories=["Chargeur", "Housse"],
                            charter_method="ticked", condition="Rayure sur le capot")
    with core.clock.frozen(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)):
        lending.take_back(agent, device.id, site_id=site.id,
                          accessories_returned=[a for a in ("Chargeur", "Housse") if a not in missing],
                          data_wiped=True, condition="Écran fêlé")
    db.session.commit()
    return loan


def linked_booking(db, room, starts_at, n, resident):
    """A seat booked online with its own contact, linked to the resident (as the identity work does)."""
    booking, _token = book(room, starts_at, n=n, first_name="Marie")
    booking.resident_id = resident.id
    db.session.commit()
    return booking


@pytest.fixture
def marie(db, two_sites, laptop):
    """A resident of site A with one loan of each kind of data, a linked booking, messages, a consent choice."""
    a = two_sites["a"]
    agent = two_sites["reception_a"]
    resident = create_resident(agent, a, first_name="Marie", last_name="Dupont-Essai", phone="06 12 34 56 78",
                               email="marie.dupont@exemple.fr", membership_number="ADH-77", notes="Préfère le matin")
    loan = past_loan(db, laptop(a), resident, agent, a, date(2026, 10, 5), missing=("Housse",))
    loan.override_reason = "Accord de la responsable"
    room = make_room(a)
    booking = linked_booking(db, room, at_local(tomorrow(), 14), 1, resident)
    db.session.add(Message(key=f"essai:loan:{loan.id}", kind=MessageKind.loan_overdue, channel=Channel.sms,
                           status=MessageStatus.sent, site_id=a.id, loan_id=loan.id, resident_id=resident.id,
                           recipient="+33612345678", body="Bonjour Marie, le prêt est en retard.", sent_at=FROZEN))
    consent.record_choice("+33612345678", Channel.sms, False, "desk", a.id)
    db.session.commit()
    return {"resident": resident, "loan": loan, "booking": booking, "room": room}


def trail(db, **where):
    return db.session.scalars(select(AccessRecord).filter_by(**where).order_by(AccessRecord.id)).all()


# --- what the export holds ----------------------------------------------------------------------


def test_the_printable_page_shows_every_part(db, two_sites, client_for, marie):
    resident, loan, booking = marie["resident"], marie["loan"], marie["booking"]
    response = client_for(two_sites["reception_a"]).get(f"/habitants/{resident.id}/donnees")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = page_text(response)
    for expected in (
        "Données de Marie Dupont-Essai", "06 12 34 56 78", "marie.dupont@exemple.fr", "ADH-77", "Préfère le matin",
        "acceptée le", "Centre A", "Agent",
        # the loan, its accessories, notes and history
        loan.device.tag, "Ordinateur portable", "Lenovo", "Chargeur, Housse", "Accessoires manquants", "Rayure sur le capot",
        "Écran fêlé", "Accord de la responsable", "Prêté", "Rendu", "lundi 12 octobre 2026",
        # the booking and its history
        booking.reference, "Place en salle", "Confirmée", "Réservation",
        # messages: the confirmation of the booking and the loan's reminder
        "Bonjour Marie, le prêt est en retard.", "Prêt en retard", "Réservation confirmée",
        # the consent choice of the phone
        "ne veut pas de rappel",
    ):
        assert expected in text, expected
    assert 'download' in response.get_data(as_text=True)


def test_the_json_file_is_complete_and_names_no_one_in_its_name(db, two_sites, client_for, marie):
    resident, loan, booking = marie["resident"], marie["loan"], marie["booking"]
    response = client_for(two_sites["reception_a"]).get(f"/habitants/{resident.id}/donnees.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="donnees-habitant-{resident.id}.json"'
    assert "Dupont" not in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))

    assert set(data) == {"format", "exported_at", "resident", "loans", "bookings", "messages", "consents", "access_trail"}
    assert datetime.fromisoformat(data["exported_at"]) == FROZEN
    person = data["resident"]
    assert (person["first_name"], person["last_name"], person["phone"], person["email"]) == (
        "Marie", "Dupont-Essai", "06 12 34 56 78", "marie.dupont@exemple.fr")
    assert (person["membership_number"], person["notes"], person["sites"]) == ("ADH-77", "Préfère le matin", ["Centre A"])
    assert person["created_by"] == two_sites["reception_a"].name
    assert datetime.fromisoformat(person["charter_accepted_at"]) == datetime(2026, 10, 5, 9, tzinfo=UTC)  # at the loan
    assert person["anonymised_at"] is None

    [exported_loan] = data["loans"]
    assert exported_loan["device"] == {"tag": loan.device.tag, "kind": "Ordinateur portable", "brand": "Lenovo", "model": "ThinkPad E14"}
    assert exported_loan["site"] == "Centre A" and exported_loan["due_on"] == "2026-10-12"
    assert exported_loan["outcome"] == "Rendu" and exported_loan["accessories_out"] == ["Chargeur", "Housse"]
    assert exported_loan["accessories_missing"] == ["Housse"]
    assert (exported_loan["condition_out"], exported_loan["condition_in"]) == ("Rayure sur le capot", "Écran fêlé")
    assert exported_loan["override_reason"] == "Accord de la responsable"
    assert [e["action"] for e in exported_loan["history"]] == ["Prêté", "Rendu"]
    assert datetime.fromisoformat(exported_loan["history"][0]["at"]) == datetime(2026, 10, 5, 9, tzinfo=UTC)

    [exported_booking] = data["bookings"]
    assert exported_booking["reference"] == booking.reference and exported_booking["first_name"] == "Marie"
    assert exported_booking["phone"] == "06 00 00 00 01" and exported_booking["state"] == "Confirmée"
    assert [e["action"] for e in exported_booking["history"]] == ["Réservation"]

    kinds = sorted(m["kind"] for m in data["messages"])
    assert kinds == ["Prêt en retard", "Rappel la veille", "Réservation confirmée"]
    overdue = next(m for m in data["messages"] if m["kind"] == "Prêt en retard")
    assert overdue["body"] == "Bonjour Marie, le prêt est en retard." and overdue["recipient"] == "06 12 34 56 78"
    assert overdue["status"] == "Envoyé" and overdue["channel"] == "SMS"
    # Consent recorded on the resident's phone (and the booking's phone said yes when booking).
    refused = [c for c in data["consents"] if not c["wanted"]]
    assert [(c["contact"], c["channel"], c["how"]) for c in refused] == [("06 12 34 56 78", "SMS", "desk")]
    assert data["access_trail"] == []  # opened for the first time (this opening is recorded after)


def test_the_trail_of_the_record_is_exported(db, two_sites, client_for, marie):
    resident = marie["resident"]
    client = client_for(two_sites["manager_a"])
    client.get(f"/habitants/{resident.id}")
    data = client.get(f"/habitants/{resident.id}/donnees.json").get_json()
    assert [(row["action"], row["by"]) for row in data["access_trail"]] == [("Fiche consultée", two_sites["manager_a"].name)]


def test_messages_of_another_persons_booking_are_not_exported(db, two_sites, client_for, marie):
    other, _token = book(marie["room"], at_local(tomorrow(), 15), n=2, first_name="Zoé")
    data = client_for(two_sites["admin"]).get(f"/habitants/{marie['resident'].id}/donnees.json").get_json()
    assert other.reference not in json.dumps(data)
    assert all("Zoé" not in m["body"] for m in data["messages"])
    assert len(data["bookings"]) == 1


def test_an_anonymised_record_exports_what_is_left(db, two_sites, client_for):
    a = two_sites["a"]
    resident = create_resident(None, a, first_name="Paul", last_name="Anonyme", phone="0698765432")
    resident.set_names("", "")
    resident.phone = resident.email = resident.notes = ""
    resident.anonymised_at = FROZEN - timedelta(days=2)
    db.session.commit()
    client = client_for(two_sites["manager_a"])

    page = client.get(f"/habitants/{resident.id}/donnees")
    data = client.get(f"/habitants/{resident.id}/donnees.json").get_json()

    assert page.status_code == 200
    assert f"Données de la fiche n° {resident.id}" in page_text(page) and "anonymisée" in page_text(page)
    assert "Anonyme" not in page_text(page) and "98 76" not in page_text(page)
    assert data["resident"]["first_name"] == "" and data["resident"]["phone"] == "" and data["consents"] == []
    assert data["resident"]["anonymised_at"] is not None


# --- who may export, and the trail ------------------------------------------------------------


@pytest.mark.parametrize("url", ["/habitants/{id}", "/habitants/{id}/donnees", "/habitants/{id}/donnees.json"])
def test_staff_of_another_site_are_refused_and_leave_no_trace(db, two_sites, client_for, marie, url):
    resident = marie["resident"]
    client = client_for(two_sites["manager_b"])
    response = client.get(url.format(id=resident.id))
    assert response.status_code in (403, 404)
    assert "Dupont" not in page_text(response)
    assert trail(db, resident_id=resident.id) == []


@pytest.mark.parametrize("url, action", [
    ("/habitants/{id}", AccessAction.resident_page),
    ("/habitants/{id}/donnees", AccessAction.resident_export),
    ("/habitants/{id}/donnees.json", AccessAction.resident_export),
])
@pytest.mark.parametrize("who", ["reception_a", "manager_a", "admin"])
def test_opening_a_record_or_its_export_is_recorded(db, two_sites, client_for, marie, url, action, who):
    resident = marie["resident"]
    client = client_for(two_sites[who])
    assert client.get(url.format(id=resident.id)).status_code == 200
    [row] = trail(db, resident_id=resident.id)
    assert (row.action, row.user_id, row.at) == (action, two_sites[who].id, FROZEN)


def test_each_successful_login_is_recorded_and_a_failed_one_is_not(db, two_sites, login, client):
    agent = two_sites["reception_a"]
    assert login(agent, password="mauvais-mot-de-passe").status_code == 400
    assert trail(db, action=AccessAction.login) == []
    assert login(agent).status_code == 302
    [row] = trail(db, action=AccessAction.login)
    assert (row.user_id, row.resident_id, row.at) == (agent.id, None, FROZEN)


# --- constant statements ----------------------------------------------------------------------


def test_export_statements_do_not_grow_with_loans_bookings_and_messages(db, two_sites, client_for, laptop, count_queries, marie):
    a = two_sites["a"]
    resident = marie["resident"]
    client = client_for(two_sites["reception_a"])
    urls = (f"/habitants/{resident.id}/donnees", f"/habitants/{resident.id}/donnees.json")
    for url in urls:
        client.get(url)  # warm up

    def statements():
        counts = []
        for url in urls:
            with count_queries() as n:
                assert client.get(url).status_code == 200
            counts.append(n())
        return counts

    few = statements()
    device = laptop(a)
    for k in range(29):
        past_loan(db, device, resident, two_sites["reception_a"], a, date(2026, 1, 5) + timedelta(days=3 * k))
    room = make_room(a, workstations=12)
    for k in range(29):
        linked_booking(db, room, at_local(tomorrow() + timedelta(days=k // 3), 14 + k % 3), 100 + k, resident)
    data = client.get(urls[1]).get_json()
    assert len(data["loans"]) == 30 and len(data["bookings"]) == 30
    assert len(data["messages"]) == db.session.scalar(select(func.count()).select_from(Message)) > 30
    assert len(data["access_trail"]) >= 4
    many = statements()
    print(f"\nexport statements (page, JSON) with 1 loan and booking: {few}; with 30 of each: {many}")
    assert many == few


# --- the trail's page (admins) ----------------------------------------------------------------


def test_the_trail_page_is_for_admins_only(db, two_sites, client_for):
    for who in ("reception_a", "manager_a"):
        assert client_for(two_sites[who]).get("/admin/acces").status_code == 403
    response = client_for(two_sites["admin"]).get("/admin/acces")
    assert response.status_code == 200
    assert "Accès aux fiches" in page_text(response)
    assert 'href="/admin/acces"' in response.get_data(as_text=True)  # in the admin menu


def trail_rows(response) -> list[str]:
    """The rows of the trail's table, as read."""
    body = response.get_data(as_text=True)
    tbody = body[body.index("<tbody>"):body.index("</tbody>")]
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip() for row in tbody.split("<tr>")[1:]]


def test_the_trail_page_lists_newest_first_and_filters(db, two_sites, client_for, marie):
    resident = marie["resident"]
    other = create_resident(None, two_sites["a"], first_name="Zoé", last_name="Martin")
    db.session.commit()
    manager, agent = two_sites["manager_a"], two_sites["reception_a"]
    with core.clock.frozen(FROZEN + timedelta(minutes=1)):
        client_for(manager).get(f"/habitants/{resident.id}")
    with core.clock.frozen(FROZEN + timedelta(minutes=2)):
        client_for(agent).get(f"/habitants/{other.id}/donnees")
    admin = client_for(two_sites["admin"])  # logs in at FROZEN

    rows = trail_rows(admin.get("/admin/acces"))
    assert len(rows) == 5
    assert f"Données exportées {agent.name} n° {other.id} — Zoé Martin" in rows[0]
    assert f"Connexion {agent.name}" in rows[1]
    assert f"Fiche consultée {manager.name} n° {resident.id} — Marie Dupont-Essai" in rows[2]
    assert [row.split(" à ")[1][:5] for row in rows] == ["10:32", "10:32", "10:31", "10:31", "10:30"]  # Paris time

    by_resident = admin.get(f"/admin/acces?habitant={resident.id}")
    assert len(trail_rows(by_resident)) == 1 and "1 accès" in page_text(by_resident)
    by_staff = trail_rows(admin.get(f"/admin/acces?personnel={agent.id}"))
    assert len(by_staff) == 2 and "Zoé Martin" in by_staff[0] and by_staff[1].endswith(f"Connexion {agent.name}")

    bad = admin.get("/admin/acces?habitant=Dupont")
    assert bad.status_code == 400


def test_the_trail_page_statements_do_not_grow_with_rows(db, two_sites, client_for, count_queries, marie):
    resident = marie["resident"]
    admin = client_for(two_sites["admin"])
    manager = client_for(two_sites["manager_a"])
    manager.get(f"/habitants/{resident.id}")
    admin.get("/admin/acces")

    def statements():
        with count_queries() as n:
            assert admin.get("/admin/acces").status_code == 200
        return n()

    few = statements()
    for _ in range(70):
        manager.get(f"/habitants/{resident.id}/donnees.json")
    assert db.session.scalar(select(func.count()).select_from(AccessRecord)) > 70
    many = statements()
    assert many == few
    assert "Page 1 sur 2" in page_text(admin.get("/admin/acces"))
    assert "Page 2 sur 2" in page_text(admin.get("/admin/acces?page=2"))


# --- the booking link ------------------------------------------------------------------------


def test_the_booking_page_says_what_is_held_about_the_booking(db, two_sites, client, marie):
    a = two_sites["a"]
    booking, token = book(marie["room"], at_local(tomorrow(), 16), n=7, first_name="Inès")
    db.session.add(BookingEvent(booking_id=booking.id, site_id=a.id, action=BookingAction.attendance,
                                attendance=Attendance.present, actor_id=two_sites["reception_a"].id, note=""))
    db.session.commit()

    text = page_text(client.get(f"/ma-reservation/{token}"))

    assert "Ce que nous gardons sur cette réservation" in text
    assert "Votre prénom : Inès" in text and "06 00 00 00 07" in text
    assert "Réservation." in text and "Par vous." in text and "Par le centre." in text
    assert "Réservation confirmée" in text and "Lire le message" in text
    assert "Marie" not in text and two_sites["reception_a"].name not in text  # nobody else, no staff name
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.id == booking.id)) == 1

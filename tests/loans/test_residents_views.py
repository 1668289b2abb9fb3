"""Residents at the desk: JSON search a page at a time, the list, a resident's page with their loans, edit."""
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select

import core.clock
from core.residents import Resident, create_resident
from loans import lending
from loans.models import Loan
from reservations.ledger import hash_token, unused_reference
from reservations.models import Attendance, Booking
from tests.core.helpers import field_error, page_text, snapshot
from tests.reservations.factories import make_room, make_workshop

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def person(db):
    def make(site, first="Marie", last="Dupont", phone="", membership_number=""):
        resident = create_resident(None, site, first_name=first, last_name=last, phone=phone,
                                   membership_number=membership_number)
        db.session.commit()
        return resident

    return make


# --- JSON search --------------------------------------------------------------------------------


def test_search_returns_only_the_residents_of_ones_sites_a_page_at_a_time(two_sites, client_for, person):
    a, b = two_sites["a"], two_sites["b"]
    for n in range(13):
        person(a, first=f"Élodie{n:02d}", last="Lefebvre", phone=f"06123400{n:02d}")
    person(b, first="Zoé", last="Lefèvre-Marqueur")
    client = client_for(two_sites["reception_a"])

    first = client.get("/habitants/recherche?q=lef")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    data = first.get_json()
    assert len(data["results"]) == 10 and data["has_more"] is True and data["page"] == 1
    assert {r["name"] for r in data["results"]} == {f"Élodie{n:02d} Lefebvre" for n in range(10)}
    assert data["results"][0]["phone"] == "06 12 34 00 00"
    assert "page 1" in data["message"]

    second = client.get("/habitants/recherche?q=lef&page=2").get_json()
    assert [r["name"] for r in second["results"]] == [f"Élodie{n:02d} Lefebvre" for n in range(10, 13)]
    assert second["has_more"] is False
    assert all("Marqueur" not in r["name"] for r in first.get_json()["results"] + second["results"])

    other_side = client_for(two_sites["manager_b"]).get("/habitants/recherche?q=lef").get_json()
    assert [r["name"] for r in other_side["results"]] == ["Zoé Lefèvre-Marqueur"]
    admin = client_for(two_sites["admin"]).get("/habitants/recherche?q=lef&page=2").get_json()
    assert len(admin["results"]) == 4


def test_search_by_phone_membership_and_accents(two_sites, client_for, person):
    a = two_sites["a"]
    person(a, first="Gérard", last="Kaczmarek", phone="07 55 44 33 22", membership_number="ADH-2026-7")
    client = client_for(two_sites["reception_a"])

    for query in ("ger", "GÉR", "kacz", "07 55 44", "+33755", "ADH-2026-7", "kacz ger"):
        names = [r["name"] for r in client.get("/habitants/recherche", query_string={"q": query}).get_json()["results"]]
        assert names == ["Gérard Kaczmarek"], query


def test_search_needs_two_letters(two_sites, client_for, person):
    person(two_sites["a"], first="Marie", last="Dupont")
    data = client_for(two_sites["reception_a"]).get("/habitants/recherche?q=d").get_json()
    assert data["results"] == [] and "au moins 2 lettres" in data["message"]


def test_search_is_for_staff_only(client, two_sites):
    response = client.get("/habitants/recherche?q=dup")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


# --- list ---------------------------------------------------------------------------------------


def test_the_list_shows_ones_sites_paged_and_searchable(two_sites, client_for, person):
    a, b = two_sites["a"], two_sites["b"]
    for n in range(27):
        person(a, first=f"Prénom{n:02d}", last=f"Nom{n:02d}")
    person(b, first="Zoé", last="Marqueur")
    client = client_for(two_sites["reception_a"])

    page1 = page_text(client.get("/habitants"))
    assert page1.count("/habitants/") - page1.count("/habitants/recherche") >= 25
    assert "Marqueur" not in page1 and "Suivants" in page1
    page2 = page_text(client.get("/habitants?page=2"))
    assert "Nom25 Prénom25" in page2 and "Nom26 Prénom26" in page2 and "Suivants" not in page2

    found = page_text(client.get("/habitants?q=nom1"))
    assert "Nom10 Prénom10" in found and "Nom20" not in found
    short = client.get("/habitants?q=n")
    assert short.status_code == 400 and "au moins 2 lettres" in page_text(short)
    assert "Marqueur" not in page_text(client.get("/habitants?q=mar"))


# --- one resident -------------------------------------------------------------------------------


def test_resident_page_lists_loans_with_their_events(db, two_sites, make_device, client_for, person):
    a = two_sites["a"]
    agent = two_sites["reception_a"]
    marie = person(a, phone="0612345678")
    laptop = make_device(a, accessories="Chargeur\nHousse")
    lending.lend(agent, laptop.id, marie, due_on=TODAY + timedelta(days=7), accessories=["Chargeur", "Housse"],
                 charter_method="ticked")
    lending.extend(agent, laptop.id, new_due_on=TODAY + timedelta(days=14), agreed_by="Mme Caron")
    lending.take_back(agent, laptop.id, site_id=a.id, accessories_returned=["Chargeur"], data_wiped=True)
    tablet = make_device(a, kind="tablet")
    lending.lend(agent, tablet.id, marie, due_on=TODAY + timedelta(days=3), accessories=[], charter_method="signed")
    db.session.commit()

    body = page_text(client_for(agent).get(f"/habitants/{marie.id}"))

    assert "Marie Dupont" in body and 'href="tel:+33612345678"' in body
    assert "Prêté" in body and "Prêt prolongé" in body and "Rendu" in body and "Mme Caron" in body
    assert "Accessoires manquants : Housse" in body
    returned = db.session.scalar(select(Loan.id).where(Loan.device_id == laptop.id))
    assert f'href="/prets/{returned}/retour"' in body  # its proof of return, to print again
    assert "en cours" in body and laptop.tag in body and tablet.tag in body
    assert "acceptée le jeudi 26 novembre 2026" in body


def test_resident_page_is_refused_to_another_site(two_sites, client_for, person):
    marie = person(two_sites["a"])
    assert client_for(two_sites["manager_b"]).get(f"/habitants/{marie.id}").status_code == 403
    assert client_for(two_sites["admin"]).get(f"/habitants/{marie.id}").status_code == 200
    assert client_for(two_sites["reception_a"]).get("/habitants/999999").status_code == 404


def past_bookings(db, resident, room, n, workshop=None, attendance=None):
    """`n` bookings of the resident, one a day before the frozen day (inserted directly)."""
    made = []
    for i in range(n):
        starts_at = workshop.starts_at if workshop else FROZEN - timedelta(days=i + 1, hours=2)
        booking = Booking(reference=unused_reference(), token_hash=hash_token(f"{resident.id}-{room.id}-{i}-{workshop}"),
                          site_id=room.site_id, room_id=room.id, workshop_id=workshop.id if workshop else None,
                          starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), first_name=resident.first_name,
                          phone=resident.phone, email="", contact_key=resident.phone or f"x{i}@example.org",
                          resident_id=resident.id, attendance=attendance)
        db.session.add(booking)
        made.append(booking)
    db.session.commit()
    return made


def test_resident_page_lists_bookings_newest_first(db, two_sites, client_for, person):
    a = two_sites["a"]
    marie = person(a, phone="06 12 34 56 78")
    room = make_room(a, name="Salle Cyber")
    workshop = make_workshop(room, day=TODAY + timedelta(days=3), title="Premiers pas")
    past_bookings(db, marie, room, 1, attendance=Attendance.present)
    past_bookings(db, marie, room, 1, workshop=workshop)
    stranger = person(a, first="Karim")
    past_bookings(db, stranger, make_room(a, name="Salle Autre"), 1)

    body = page_text(client_for(two_sites["reception_a"]).get(f"/habitants/{marie.id}"))
    section = body.split("Réservations", 1)[1]
    assert section.index("Premiers pas") < section.index("Salle Cyber")  # newest first
    assert "Confirmée" in section and "Présent" in section and "Centre A" in section and "Salle Autre" not in section


def test_resident_page_query_count_does_not_grow_with_loans_or_bookings(db, two_sites, make_device, client_for, person,
                                                                          count_queries):
    a = two_sites["a"]
    agent = two_sites["reception_a"]
    marie = person(a)
    device = make_device(a)
    room = make_room(a)
    client = client_for(agent)

    def loans(n):
        for _ in range(n):
            lending.lend(agent, device.id, marie, due_on=TODAY, accessories=[], charter_method="ticked")
            lending.extend(agent, device.id, new_due_on=TODAY + timedelta(days=2), agreed_by="X")
            lending.take_back(agent, device.id, site_id=a.id, accessories_returned=[], data_wiped=True)
        db.session.commit()

    loans(1)
    past_bookings(db, marie, room, 1)
    client.get(f"/habitants/{marie.id}")
    with count_queries() as small:
        client.get(f"/habitants/{marie.id}")
    loans(30)
    db.session.execute(delete(Booking))
    past_bookings(db, marie, room, 30, attendance=Attendance.absent)
    past_bookings(db, marie, room, 1, workshop=make_workshop(room, day=TODAY + timedelta(days=2)))
    with count_queries() as large:
        body = page_text(client.get(f"/habitants/{marie.id}"))
    assert "Plus anciens" in body  # 31 loans: a second page
    assert "Les 20 réservations les plus récentes sont affichées." in body and body.count("Absent") == 19
    assert small() == large()


def test_edit_a_resident(db, two_sites, client_for, person):
    marie = person(two_sites["a"])
    client = client_for(two_sites["reception_a"])
    url = f"/habitants/{marie.id}/modifier"
    assert client.get(url).status_code == 200
    before = snapshot(db)

    bad = client.post(url, data={"first_name": "Marie", "last_name": " ", "phone": "06 12", "email": "x"})
    assert bad.status_code == 400
    assert "Indiquez le nom." in field_error(bad, "last_name")
    assert "Adresse e-mail invalide." in field_error(bad, "email")
    assert snapshot(db) == before

    done = client.post(url, data={"first_name": "Marie-Claire", "last_name": "Dupont", "phone": "+33 6 99 88 77 66",
                                  "email": "MC@Example.org", "membership_number": "A-1", "notes": ""})
    assert done.status_code == 302
    db.session.refresh(marie)
    assert marie.first_name == "Marie-Claire" and marie.first_name_key == "marie-claire"
    assert marie.phone == "+33699887766" and marie.email == "mc@example.org" and marie.membership_number == "A-1"

    assert client_for(two_sites["manager_b"]).post(url, data={"first_name": "X", "last_name": "Y"}).status_code == 403
    assert db.session.scalar(select(Resident.first_name).where(Resident.id == marie.id)) == "Marie-Claire"

"""Desk pages over HTTP: lend (resident chooser, new person, duplicates), receipt, take back, extend,
lost, found again, per-site rules — each bad input refused with a French message next to its field and
nothing saved; per-site authorisation; a constant number of queries."""
import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

import core.clock
from core.models import Role
from core.residents import Resident, create_resident
from loans import lending
from loans.models import Device, DeviceAction, DeviceEvent, DeviceStatus, Loan, LoanOutcome
from tests.core.helpers import field_error, hidden_inputs, location_path, page_text, snapshot

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)
S = DeviceStatus


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def make_resident(db):
    def make(site, first="Marie", last="Dupont", phone="06 12 34 56 78", membership_number=""):
        resident = create_resident(None, site, first_name=first, last_name=last, phone=phone,
                                   membership_number=membership_number)
        db.session.commit()
        return resident

    return make


@pytest.fixture
def as_user(app, login):
    """A logged-in test client for a person (each its own cookie jar)."""

    def make(user):
        client = app.test_client()
        assert login(user, target=client).status_code == 302
        return client

    return make


@pytest.fixture
def world(two_sites, make_device, make_resident):
    a = two_sites["a"]
    laptop = make_device(a, accessories="Chargeur\nHousse\nSouris")
    resident = make_resident(a)
    return dict(two_sites, laptop=laptop, resident=resident)


def lend_data(who=None, **changes):
    data = {
        "resident": str(who.id) if who is not None else "",
        "due_on": (TODAY + timedelta(days=14)).isoformat(),
        "accessories": ["Chargeur", "Housse", "Souris"],
        "charter": "ticked",
        "condition": "",
        "form_key": "key-" + str(id(changes)) + str(len(changes)),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def lend_url(device):
    return f"/equipements/{device.tag}/preter"


def loans_count(db):
    return db.session.scalar(select(func.count(Loan.id)))


def lent(db, device, resident, actor, **kw):
    kw.setdefault("due_on", TODAY + timedelta(days=14))
    kw.setdefault("accessories", device.accessory_list)
    kw.setdefault("charter_method", "ticked")
    loan = lending.lend(actor, device.id, resident, **kw)
    db.session.commit()
    return loan


# --- the lend page ------------------------------------------------------------------------------


def test_lend_page_prefills_due_date_accessories_and_a_one_time_key(db, world, as_user, kinds):
    lending.set_policy(world["a"].id, kinds["laptop"].id, 21, 1)
    db.session.commit()
    client = as_user(world["reception_a"])

    response = client.get(lend_url(world["laptop"]))

    assert response.status_code == 200
    body = page_text(response)
    assert 'value="2026-12-17"' in body  # today + 21 days (the site's rule)
    for accessory in ("Chargeur", "Housse", "Souris"):
        assert re.search(rf'<input[^>]*checked[^>]*value="{accessory}"|<input[^>]*value="{accessory}"[^>]*checked', body)
    keys = [value for name, value in hidden_inputs(response) if name == "form_key"]
    assert len(keys) == 1 and re.fullmatch(r"[0-9a-f]{32}", keys[0])
    assert "Nom, téléphone ou n° d'adhérent" in body
    assert "La charte de prêt en bref" in body
    assert 'type="date"' in body


def test_lend_to_a_chosen_resident_lands_on_the_receipt(db, world, as_user):
    client = as_user(world["reception_a"])

    response = client.post(lend_url(world["laptop"]), data=lend_data(world["resident"], accessories=["Chargeur", "Souris"],
                                                                     condition="Rayure sur le capot"))

    assert response.status_code == 302
    loan = db.session.scalar(select(Loan))
    assert location_path(response) == f"/prets/{loan.id}/recu"
    assert loan.resident_id == world["resident"].id and loan.is_open
    assert loan.accessories_out_list == ["Chargeur", "Souris"]
    assert loan.condition_out == "Rayure sur le capot" and loan.charter_method == "ticked"
    assert loan.due_on == TODAY + timedelta(days=14)
    assert db.session.get(Device, world["laptop"].id).status is S.on_loan

    receipt = page_text(client.get(location_path(response)))
    assert "Reçu de prêt" in receipt
    assert "Marie Dupont" in receipt and world["laptop"].tag in receipt
    assert "Chargeur, Souris" in receipt
    assert "jeudi 10 décembre 2026" in receipt  # due date in French
    assert world["a"].address in receipt and world["a"].phone in receipt
    assert "La charte de prêt en bref" in receipt
    assert world["reception_a"].name in receipt
    assert "Imprimer" in receipt


def test_lend_to_a_new_person_creates_them_with_the_loan(db, world, as_user):
    client = as_user(world["reception_a"])

    response = client.post(lend_url(world["laptop"]), data=lend_data(
        None, resident="new", first_name="Karim", last_name="Benali", phone="07 11 22 33 44", email="", membership_number="A-17"))

    assert response.status_code == 302
    karim = db.session.scalar(select(Resident).where(Resident.last_name == "Benali"))
    assert karim.phone == "+33711223344" and karim.membership_number == "A-17"
    assert karim.site_ids == {world["a"].id}
    assert db.session.scalar(select(Loan)).resident_id == karim.id


def test_a_new_person_is_inferred_from_the_names_without_the_radio(db, world, as_user):
    client = as_user(world["reception_a"])

    response = client.post(lend_url(world["laptop"]), data=lend_data(None, first_name="Léa", last_name="Caron"))

    assert response.status_code == 302
    assert db.session.scalar(select(Loan).join(Resident, Resident.id == Loan.resident_id).where(Resident.first_name == "Léa"))


def test_a_likely_duplicate_is_pointed_out_before_creation(db, world, as_user):
    client = as_user(world["reception_a"])
    data = lend_data(None, resident="new", first_name="marie", last_name="DUPONT", phone="+33 6 12 34 56 78")
    before = snapshot(db)

    response = client.post(lend_url(world["laptop"]), data=data)

    assert response.status_code == 409
    assert "Une personne porte déjà ce nom avec ce numéro : la choisir ?" in field_error(response, "resident")
    body = page_text(response)
    assert f'value="{world["resident"].id}"' in body  # offered as a choice
    assert "C'est une autre personne : créer sa fiche" in body
    assert snapshot(db) == before

    # The agent says it is someone else: the person is created, and lent to.
    response = client.post(lend_url(world["laptop"]), data={**data, "confirm_new": "y"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(Resident.id)).where(Resident.last_name_key == "dupont")) == 2


def test_picking_the_existing_person_after_the_duplicate_warning(db, world, as_user):
    client = as_user(world["reception_a"])
    data = lend_data(None, resident="new", first_name="Marie", last_name="Dupont", phone="0612345678")
    assert client.post(lend_url(world["laptop"]), data=data).status_code == 409

    response = client.post(lend_url(world["laptop"]), data={**data, "resident": str(world["resident"].id)})

    assert response.status_code == 302
    assert db.session.scalar(select(func.count(Resident.id))) == 1
    assert db.session.scalar(select(Loan)).resident_id == world["resident"].id


# --- bad input: message next to the field, 400, nothing saved ------------------------------------


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"resident": ""}, "resident", "Choisissez la personne qui emprunte"),
        ({"resident": "abc"}, "resident", "Choisissez la personne dans la liste"),
        ({"due_on": "2026-02-30"}, "due_on", "Cette date n'existe pas"),
        ({"due_on": "30/02/2026"}, "due_on", "Cette date n'existe pas"),
        ({"due_on": ""}, "due_on", "Indiquez la date de retour."),
        ({"due_on": "2026-11-25"}, "due_on", "La date de retour ne peut pas être avant le début du prêt."),
        ({"due_on": "2028-01-01"}, "due_on", "plus d'un an"),
        ({"charter": None}, "charter", "La personne doit accepter la charte de prêt"),
        ({"charter": "email"}, "charter", "La personne doit accepter la charte de prêt"),
        ({"accessories": ["Chargeur", "Clavier"]}, "accessories", "ne fait pas partie de la liste"),
        ({"resident": "new", "first_name": "Léa", "last_name": ""}, "last_name", "Indiquez le nom de la nouvelle personne."),
        ({"resident": "new", "first_name": "Léa", "last_name": "Caron", "phone": "abc"}, "phone", "Numéro de téléphone invalide"),
        ({"resident": "new", "first_name": "Léa", "last_name": "Caron", "email": "pas-un-mail"}, "email", "Adresse e-mail invalide."),
    ],
)
def test_bad_input_is_refused_next_to_its_field(db, world, as_user, changes, field, message):
    client = as_user(world["reception_a"])
    before = snapshot(db)

    response = client.post(lend_url(world["laptop"]), data=lend_data(world["resident"], **changes))

    assert response.status_code == 400
    error = field_error(response, field)
    assert error is not None and message in error, page_text(response)
    assert "Le prêt n'est pas enregistré" in page_text(response)
    assert snapshot(db) == before


def test_a_resident_of_another_site_cannot_be_chosen(db, world, as_user, make_resident):
    stranger = make_resident(world["b"], first="Zoé", last="Marqueur")
    client = as_user(world["reception_a"])
    before = snapshot(db)

    response = client.post(lend_url(world["laptop"]), data=lend_data(stranger))

    assert response.status_code == 400
    assert "pas inscrite dans vos structures" in field_error(response, "resident")
    assert "Marqueur" not in page_text(response)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "status, why",
    [
        (S.in_repair, "en réparation"),
        (S.lost, "déclaré perdu"),
        (S.retired, "réformé"),
    ],
)
def test_a_device_that_is_not_available_cannot_be_lent(db, world, as_user, status, why):
    device = db.session.get(Device, world["laptop"].id)
    device.status = status
    db.session.commit()
    client = as_user(world["reception_a"])
    before = snapshot(db)

    page = client.get(lend_url(device))
    response = client.post(lend_url(device), data=lend_data(world["resident"]))

    for r in (page, response):
        assert r.status_code == 409
        assert why in page_text(r)
    assert "ne peut" in page_text(response)  # says why and what to do
    assert snapshot(db) == before


def test_a_device_on_loan_cannot_be_lent_again(db, world, as_user, make_resident):
    lent(db, world["laptop"], world["resident"], world["reception_a"])
    other = make_resident(world["a"], first="Karim", last="Benali", phone="")
    client = as_user(world["reception_a"])
    before = snapshot(db)

    response = client.post(lend_url(world["laptop"]), data=lend_data(other))

    assert response.status_code == 409
    assert "déjà en prêt. Reprenez-le d'abord" in page_text(response)
    assert snapshot(db) == before


def test_the_same_form_sent_twice_makes_one_loan_and_lands_on_its_receipt(db, world, as_user):
    client = as_user(world["reception_a"])
    data = lend_data(world["resident"], form_key="0123456789abcdef0123456789abcdef")

    first = client.post(lend_url(world["laptop"]), data=data)
    second = client.post(lend_url(world["laptop"]), data=data)

    assert first.status_code == second.status_code == 302
    assert location_path(first) == location_path(second)
    assert loans_count(db) == 1


def test_the_same_new_person_form_sent_twice_makes_one_person(db, world, as_user):
    client = as_user(world["reception_a"])
    data = lend_data(None, resident="new", first_name="Karim", last_name="Benali", phone="0711223344", form_key="k" * 32)

    first = client.post(lend_url(world["laptop"]), data=data)
    second = client.post(lend_url(world["laptop"]), data=data)

    assert location_path(first) == location_path(second)
    assert loans_count(db) == 1
    assert db.session.scalar(select(func.count(Resident.id)).where(Resident.last_name == "Benali")) == 1


def test_limit_per_resident_reception_is_refused_manager_overrides_with_a_reason(db, world, as_user, make_device):
    second = make_device(world["a"], accessories="Chargeur")
    lent(db, world["laptop"], world["resident"], world["reception_a"])
    data = lend_data(world["resident"], accessories=["Chargeur"])
    reception, manager = as_user(world["reception_a"]), as_user(world["manager_a"])
    before = snapshot(db)

    refused = reception.post(lend_url(second), data=data)
    assert refused.status_code == 409
    assert "Seul un responsable peut dépasser cette limite." in page_text(refused)
    assert 'name="override_reason"' not in page_text(refused)
    assert snapshot(db) == before

    asked = manager.post(lend_url(second), data=data)
    assert asked.status_code == 409
    assert "indiquez une raison" in field_error(asked, "override_reason")
    assert snapshot(db) == before

    done = manager.post(lend_url(second), data={**data, "override_reason": "Deux enfants en cours à distance"})
    assert done.status_code == 302
    loan = db.session.scalar(select(Loan).where(Loan.device_id == second.id))
    assert loan.override_reason == "Deux enfants en cours à distance"


def test_staff_of_another_site_cannot_lend_the_device(db, world, as_user):
    client = as_user(world["manager_b"])
    before = snapshot(db)

    assert client.get(lend_url(world["laptop"])).status_code == 403
    assert client.post(lend_url(world["laptop"]), data=lend_data(world["resident"])).status_code == 403
    assert snapshot(db) == before


def test_unknown_device_is_404(world, as_user):
    assert as_user(world["reception_a"]).get("/equipements/ZZZZZZ/preter").status_code == 404


# --- the resident chooser without JavaScript ------------------------------------------------------


def test_search_without_javascript_keeps_the_form_and_saves_nothing(db, world, as_user, make_resident):
    for n in range(12):
        make_resident(world["a"], first=f"Prénom{n:02d}", last="Dumont", phone=f"06000000{n:02d}")
    make_resident(world["b"], first="Zoé", last="Dumontier")  # another site: never shown
    client = as_user(world["reception_a"])
    before = snapshot(db)
    data = lend_data(None, q="dum", find="1", due_on="2026-12-01", condition="Coin abîmé", accessories=["Chargeur"])

    response = client.post(lend_url(world["laptop"]), data=data)

    assert response.status_code == 200
    body = page_text(response)
    assert body.count('name="resident"') == 11  # 10 people + "Nouvelle personne"
    assert "Zoé" not in body
    assert 'value="2026-12-01"' in body and "Coin abîmé" in body
    assert 'name="find_page" value="2"' in body
    assert snapshot(db) == before

    page2 = page_text(client.post(lend_url(world["laptop"]), data={**data, "find_page": "2"}))
    assert page2.count('name="resident"') == 3  # 2 more + "Nouvelle personne"
    assert 'name="find_page"' not in page2


def test_lend_page_accepts_a_search_in_the_address(world, as_user):
    body = page_text(as_user(world["reception_a"]).get(lend_url(world["laptop"]) + "?q=dup"))
    assert f'id="resident-{world["resident"].id}"' in body
    assert "1 personne trouvée." in body


# --- receipt ------------------------------------------------------------------------------------


def test_receipt_is_for_the_lending_and_home_sites_only(db, world, as_user):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"])
    url = f"/prets/{loan.id}/recu"

    assert as_user(world["manager_b"]).get(url).status_code == 403
    assert as_user(world["admin"]).get(url).status_code == 200
    assert as_user(world["reception_a"]).get("/prets/999999/recu").status_code == 404


# --- take back ----------------------------------------------------------------------------------


def take_back_url(device):
    return f"/equipements/{device.tag}/reprendre"


def test_take_back_records_missing_accessories_and_shows_them(db, world, as_user):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])

    form = page_text(client.get(take_back_url(world["laptop"])))
    assert "Marie Dupont" in form
    assert "Les données personnelles de la personne ont été effacées" in form
    response = client.post(take_back_url(world["laptop"]), data={
        "site": world["a"].id, "accessories": ["Chargeur", "Souris"], "condition": "Bon état", "data_wiped": "y"})

    assert response.status_code == 302
    db.session.refresh(loan)
    assert loan.outcome is LoanOutcome.returned and loan.accessories_missing_list == ["Housse"]
    assert db.session.get(Device, world["laptop"].id).status is S.available
    shown = page_text(client.get(location_path(response)))
    assert "Accessoires manquants, notés dans l'historique : Housse." in shown


def test_take_back_requires_the_data_wipe_confirmation(db, world, as_user):
    lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])
    before = snapshot(db)

    response = client.post(take_back_url(world["laptop"]), data={"site": world["a"].id, "accessories": ["Chargeur"]})

    assert response.status_code == 400
    assert "données personnelles" in field_error(response, "data_wiped")
    assert snapshot(db) == before


def test_a_dongle_needs_no_data_wipe_and_a_damaged_device_goes_to_repair(db, world, as_user, make_device):
    dongle = make_device(world["a"], kind="dongle", accessories="Carte SIM")
    lent(db, dongle, world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])

    form = page_text(client.get(take_back_url(dongle)))
    assert "données personnelles" not in form
    response = client.post(take_back_url(dongle), data={"site": world["a"].id, "accessories": ["Carte SIM"], "damaged": "y"})

    assert response.status_code == 302
    assert db.session.get(Device, dongle.id).status is S.in_repair


def test_take_back_of_a_device_not_on_loan(db, world, as_user):
    client = as_user(world["reception_a"])
    before = snapshot(db)

    page = client.get(take_back_url(world["laptop"]))
    response = client.post(take_back_url(world["laptop"]), data={"site": world["a"].id, "data_wiped": "y"})

    assert page.status_code == 302
    assert response.status_code == 409
    assert "Cet équipement n'est pas en prêt : il n'y a rien à reprendre." in page_text(response)
    assert snapshot(db) == before


def test_staff_of_another_site_take_it_back_without_seeing_the_borrower(db, world, as_user):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["manager_b"])

    form = client.get(take_back_url(world["laptop"]))
    assert form.status_code == 200
    assert "Marie Dupont" not in page_text(form) and "06 12 34 56 78" not in page_text(form)
    assert f"Prêté par {world['a'].name}" in page_text(form)

    response = client.post(take_back_url(world["laptop"]), data={
        "site": world["b"].id, "accessories": ["Chargeur", "Housse", "Souris"], "data_wiped": "y"})

    assert response.status_code == 302
    device = db.session.get(Device, world["laptop"].id)
    db.session.refresh(loan)
    assert device.current_site_id == world["b"].id and device.home_site_id == world["a"].id
    assert loan.closed_site_id == world["b"].id
    assert "Marie Dupont" not in page_text(client.get(location_path(response)))


def test_take_back_only_at_one_of_ones_own_sites(db, world, as_user):
    lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["manager_b"])
    before = snapshot(db)

    response = client.post(take_back_url(world["laptop"]), data={"site": world["a"].id, "data_wiped": "y"})

    assert response.status_code == 400
    assert "Choisissez une de vos structures." in field_error(response, "site")
    assert snapshot(db) == before


def test_take_back_offers_a_choice_of_site_to_staff_of_several(db, world, as_user, make_user):
    both = make_user(Role.reception, [world["a"], world["b"]])
    lent(db, world["laptop"], world["resident"], world["reception_a"])

    body = page_text(as_user(both).get(take_back_url(world["laptop"])))

    assert '<select' in body and world["a"].name in body and world["b"].name in body


# --- extend, lost, found again ------------------------------------------------------------------


def test_extend_a_loan(db, world, as_user):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])
    url = f"/equipements/{world['laptop'].tag}/prolonger"
    before = snapshot(db)

    assert client.get(url).status_code == 200
    bad = client.post(url, data={"new_due_on": "2026-12-01", "agreed_by": "Mme Caron"})
    assert bad.status_code == 400 and "après la date de retour prévue" in field_error(bad, "new_due_on")
    impossible = client.post(url, data={"new_due_on": "2026-12-32", "agreed_by": "Mme Caron"})
    assert impossible.status_code == 400 and "n'existe pas" in field_error(impossible, "new_due_on")
    nobody = client.post(url, data={"new_due_on": "2026-12-20", "agreed_by": "  "})
    assert nobody.status_code == 400 and "Indiquez qui a accepté" in field_error(nobody, "agreed_by")
    assert snapshot(db) == before

    done = client.post(url, data={"new_due_on": "2026-12-20", "agreed_by": "Mme Caron"})
    assert done.status_code == 302
    db.session.refresh(loan)
    assert loan.due_on == date(2026, 12, 20)
    event = db.session.scalar(select(DeviceEvent).where(DeviceEvent.action == DeviceAction.extend))
    assert "Mme Caron" in event.note and event.loan_id == loan.id


def test_extend_and_declare_lost_are_refused_to_another_site(db, world, as_user):
    lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["manager_b"])
    before = snapshot(db)
    for action in ("prolonger", "perdu"):
        url = f"/equipements/{world['laptop'].tag}/{action}"
        assert client.get(url).status_code == 403
        assert client.post(url, data={"new_due_on": "2026-12-20", "agreed_by": "X", "confirm": "y"}).status_code == 403
    assert snapshot(db) == before


def test_declare_lost_needs_a_confirmation_then_found_again_elsewhere(db, world, as_user):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])
    url = f"/equipements/{world['laptop'].tag}/perdu"
    before = snapshot(db)

    unconfirmed = client.post(url, data={"note": "Volé dans le bus"})
    assert unconfirmed.status_code == 400 and "Cochez la case" in field_error(unconfirmed, "confirm")
    assert snapshot(db) == before

    assert client.post(url, data={"confirm": "y", "note": "Volé dans le bus"}).status_code == 302
    db.session.refresh(loan)
    assert loan.outcome is LoanOutcome.lost and db.session.get(Device, world["laptop"].id).status is S.lost

    found = as_user(world["manager_b"])
    found_url = f"/equipements/{world['laptop'].tag}/retrouve"
    assert found.get(found_url).status_code == 200
    assert found.post(found_url, data={"site": world["b"].id, "note": "Rapporté par un voisin"}).status_code == 302
    device = db.session.get(Device, world["laptop"].id)
    assert device.status is S.available and device.current_site_id == world["b"].id


def test_found_again_of_a_device_that_is_not_lost(db, world, as_user):
    client = as_user(world["reception_a"])
    url = f"/equipements/{world['laptop'].tag}/retrouve"
    before = snapshot(db)

    assert client.get(url).status_code == 302
    response = client.post(url, data={"site": world["a"].id})

    assert response.status_code == 409 and "n'est pas déclaré perdu" in page_text(response)
    assert snapshot(db) == before


def test_extend_a_device_not_on_loan_sends_back_to_its_page(world, as_user):
    response = as_user(world["reception_a"]).get(f"/equipements/{world['laptop'].tag}/prolonger")
    assert response.status_code == 302


# --- per-site loan rules ------------------------------------------------------------------------


def test_managers_set_the_loan_rules_of_their_site(db, world, as_user, kinds):
    url = f"/structures/{world['a'].id}/regles-de-pret"
    laptop, dongle = kinds["laptop"], kinds["dongle"]
    manager = as_user(world["manager_a"])
    page = page_text(manager.get(url))
    assert f'name="days_{laptop.id}"' in page and 'value="14"' in page and 'value="30"' in page

    data = {}
    for kind in kinds.values():
        data[f"days_{kind.id}"] = "7"
        data[f"max_{kind.id}"] = "1"
    data[f"days_{dongle.id}"] = "0"
    data[f"max_{dongle.id}"] = "2"
    assert manager.post(url, data=data).status_code == 302
    assert lending.policy_for(world["a"].id, dongle) == (0, 2)
    assert lending.policy_for(world["a"].id, laptop) == (7, 1)

    before = snapshot(db)
    bad = manager.post(url, data={**data, f"days_{laptop.id}": "400", f"max_{dongle.id}": "douze"})
    assert bad.status_code == 400
    assert "Entre 0" in field_error(bad, f"days_{laptop.id}")
    assert "nombre entier" in field_error(bad, f"max_{dongle.id}")
    assert snapshot(db) == before

    assert as_user(world["reception_a"]).get(url).status_code == 403
    assert as_user(world["manager_b"]).get(url).status_code == 403
    assert as_user(world["manager_b"]).post(url, data=data).status_code == 403


# --- the device page shows the next action ------------------------------------------------------


def device_page(client, device):
    return page_text(client.get(f"/equipements/{device.tag}"))


def test_device_page_offers_the_one_sensible_action(db, world, as_user):
    reception = as_user(world["reception_a"])
    other = as_user(world["manager_b"])
    laptop = world["laptop"]

    available = device_page(reception, laptop)
    assert f'href="/equipements/{laptop.tag}/preter"' in available
    assert "Prêter" in available and f"/equipements/{laptop.tag}/reprendre" not in available
    assert f"/equipements/{laptop.tag}/preter" not in device_page(other, laptop)

    loan = lent(db, laptop, world["resident"], world["reception_a"])
    on_loan = device_page(reception, laptop)
    assert f"/equipements/{laptop.tag}/reprendre" in on_loan and f"/equipements/{laptop.tag}/preter" not in on_loan
    assert "Marie Dupont" in on_loan and "06 12 34 56 78" in on_loan
    assert f"/equipements/{laptop.tag}/prolonger" in on_loan and f"/equipements/{laptop.tag}/perdu" in on_loan
    assert f"/prets/{loan.id}/recu" in on_loan

    elsewhere = device_page(other, laptop)
    assert f"/equipements/{laptop.tag}/reprendre" in elsewhere
    assert "Marie Dupont" not in elsewhere and "06 12 34 56 78" not in elsewhere
    assert "/prolonger" not in elsewhere and "/perdu" not in elsewhere


def test_device_page_shows_overdue_and_found_again(db, world, as_user, monkeypatch):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"], due_on=TODAY + timedelta(days=1))
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN + timedelta(days=4))
    reception = as_user(world["reception_a"])
    assert "en retard de 3 jours" in device_page(reception, world["laptop"])

    lending.declare_lost(world["reception_a"], world["laptop"].id)
    db.session.commit()
    assert loan.id
    assert f"/equipements/{world['laptop'].tag}/retrouve" in device_page(reception, world["laptop"])


# --- constant number of queries -----------------------------------------------------------------


def test_lend_page_query_count_does_not_grow_with_history(db, world, as_user, make_resident, count_queries):
    client = as_user(world["reception_a"])
    client.get(lend_url(world["laptop"]) + "?q=dup")  # warm up (first request loads the app's caches)

    with count_queries() as small:
        client.get(lend_url(world["laptop"]) + "?q=dup")
    for n in range(30):
        r = make_resident(world["a"], first=f"P{n}", last="Dupuis")
        lent(db, world["laptop"], r, world["reception_a"])
        lending.take_back(world["reception_a"], world["laptop"].id, site_id=world["a"].id,
                          accessories_returned=world["laptop"].accessory_list, data_wiped=True)
        db.session.commit()
    with count_queries() as large:
        client.get(lend_url(world["laptop"]) + "?q=dup")

    assert small() == large()


# --- concurrency over HTTP ----------------------------------------------------------------------


def test_twenty_desks_post_the_lend_form_for_the_same_device_at_once(app, db, world, make_resident, login):
    threads = 20
    people = [make_resident(world["a"], first=f"Personne{i}", last="Concurrente", phone="") for i in range(threads)]
    clients = []
    for _ in range(threads):
        client = app.test_client()
        assert login(world["reception_a"], target=client).status_code == 302
        clients.append(client)
    url = lend_url(world["laptop"])
    forms = [lend_data(person, form_key=f"form-{i:02d}") for i, person in enumerate(people)]
    db.session.commit()  # the threads touch no ORM object of the test's session
    barrier = threading.Barrier(threads)
    answers = [None] * threads

    def desk(i):
        barrier.wait()
        response = clients[i].post(url, data=forms[i])
        answers[i] = (response.status_code, page_text(response))

    workers = [threading.Thread(target=desk, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    statuses = sorted(status for status, _body in answers)
    assert statuses == [302] + [409] * (threads - 1), statuses
    for status, body in answers:
        if status == 409:
            assert "Cet équipement est déjà en prêt" in body
    assert db.session.scalar(select(func.count(Loan.id)).where(Loan.device_id == world["laptop"].id)) == 1
    assert db.session.get(Device, world["laptop"].id).status is S.on_loan


def test_a_dozen_copies_of_one_lend_form_sent_at_once_all_land_on_its_receipt(app, db, world, login):
    """A double (or triple…) click: every copy of the form shows the one loan it made, none an error."""
    copies = 12
    clients = []
    for _ in range(copies):
        client = app.test_client()
        assert login(world["reception_a"], target=client).status_code == 302
        clients.append(client)
    url = lend_url(world["laptop"])
    form = lend_data(world["resident"], form_key="the-one-form")
    db.session.commit()
    barrier = threading.Barrier(copies)
    answers = [None] * copies

    def click(i):
        barrier.wait()
        response = clients[i].post(url, data=form)
        answers[i] = (response.status_code, response.headers.get("Location", ""))

    workers = [threading.Thread(target=click, args=(i,)) for i in range(copies)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    loan = db.session.scalar(select(Loan).where(Loan.device_id == world["laptop"].id))
    assert loans_count(db) == 1 and loan.form_key == "the-one-form"
    assert answers == [(302, f"/prets/{loan.id}/recu")] * copies
    receipt = page_text(clients[0].get(f"/prets/{loan.id}/recu"))
    assert "Reçu de prêt" in receipt and "Marie Dupont" in receipt


# --- accessories missing after a loan -------------------------------------------------------------


def take_back_data(site, accessories, **changes):
    data = {"site": str(site.id), "accessories": accessories, "condition": "", "data_wiped": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def checked_accessories(response) -> list[str]:
    """The accessories ticked in the lend form, in page order."""
    inputs = re.findall(r'<input[^>]*name="accessories"[^>]*>', page_text(response))
    return [re.search(r'value="([^"]*)"', tag).group(1) for tag in inputs if re.search(r"\bchecked\b", tag)]


def test_a_mouse_missing_at_return_is_not_offered_again_until_recorded_replaced(db, world, as_user):
    from loans.models import MissingAccessory

    laptop, a = world["laptop"], world["a"]
    loan = lent(db, laptop, world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])
    back = client.post(f"/equipements/{laptop.tag}/reprendre", data=take_back_data(a, ["Chargeur", "Housse"]))
    assert back.status_code == 302

    missing = db.session.scalars(select(MissingAccessory)).all()
    assert [(m.device_id, m.name, m.loan_id, m.since) for m in missing] == [(laptop.id, "Souris", loan.id, FROZEN)]
    db.session.expire_all()
    assert db.session.get(Device, laptop.id).present_accessories == ["Chargeur", "Housse"]

    # The next lend form offers (and ticks) only what the device has, and says what is missing.
    page = client.get(lend_url(laptop))
    body = page_text(page)
    assert checked_accessories(page) == ["Chargeur", "Housse"]
    assert 'value="Souris"' not in body
    assert re.search(r"Manque depuis un prêt précédent, donc pas remis :\s+Souris \(depuis le jeudi 26 novembre 2026\)\.", body)
    refused = client.post(lend_url(laptop), data=lend_data(world["resident"], accessories=["Chargeur", "Souris"]))
    assert refused.status_code == 400
    assert field_error(refused, "accessories") == "Cet élément ne fait pas partie de la liste."
    assert loans_count(db) == 1

    # The device page says since when, with the action to record it replaced.
    device_page_body = page_text(client.get(f"/equipements/{laptop.tag}"))
    assert "Souris : manque depuis le jeudi 26 novembre 2026" in device_page_body
    assert "Noter le remplacement : Souris" in device_page_body
    url = f"/equipements/{laptop.tag}/accessoires/remplace"
    other_site = as_user(world["manager_b"])
    before = snapshot(db)
    assert other_site.post(url, data={"accessory": "Souris"}).status_code == 403
    unknown = client.post(url, data={"accessory": "Clavier"})
    assert unknown.status_code == 409
    assert "Cet accessoire n'est pas noté manquant : rien à remplacer." in page_text(unknown)
    assert snapshot(db) == before

    done = client.post(url, data={"accessory": "Souris"})
    assert done.status_code == 302 and location_path(done) == f"/equipements/{laptop.tag}"
    assert "Souris est de nouveau avec l'équipement" in page_text(client.get(location_path(done)))
    assert db.session.scalars(select(MissingAccessory)).all() == []
    event = db.session.scalars(select(DeviceEvent).where(DeviceEvent.device_id == laptop.id)
                               .order_by(DeviceEvent.id.desc())).first()
    assert event.action is DeviceAction.accessory_replaced and event.actor_id == world["reception_a"].id
    assert event.note == "Souris (manquait depuis le 26/11/2026)"
    assert checked_accessories(client.get(lend_url(laptop))) == ["Chargeur", "Housse", "Souris"]


def test_lending_refuses_an_accessory_missing_since_an_earlier_loan(db, world):
    laptop = world["laptop"]
    lent(db, laptop, world["resident"], world["reception_a"])
    lending.take_back(world["reception_a"], laptop.id, site_id=world["a"].id, accessories_returned=["Chargeur"],
                      data_wiped=True)
    db.session.commit()
    with pytest.raises(lending.LoanError, match="Cet accessoire manque depuis un prêt précédent") as refused:
        lending.lend(world["reception_a"], laptop.id, world["resident"], due_on=TODAY + timedelta(days=3),
                     accessories=["Chargeur", "Souris"], charter_method="ticked")
    assert refused.value.field == "accessories"
    db.session.rollback()


# --- the proof of return --------------------------------------------------------------------------


def test_taking_back_lands_on_a_printable_return_receipt(db, world, as_user):
    laptop, a = world["laptop"], world["a"]
    loan = lent(db, laptop, world["resident"], world["reception_a"])
    client = as_user(world["reception_a"])

    back = client.post(f"/equipements/{laptop.tag}/reprendre",
                       data=take_back_data(a, ["Chargeur", "Housse"], condition="Écran rayé"))

    assert back.status_code == 302 and location_path(back) == f"/prets/{loan.id}/retour"
    body = page_text(client.get(location_path(back)))
    assert "Reçu de retour" in body and "L'équipement a bien été rendu." in body
    assert "Marie Dupont" in body and laptop.tag in body
    assert re.search(r"Accessoires rendus</dt>\s*<dd>Chargeur, Housse</dd>", body)
    assert re.search(r"Accessoires manquants</dt>\s*<dd><strong>Souris</strong></dd>", body)
    assert "Écran rayé" in body and "Effacées de l'appareil." in body
    assert 'id="print-button"' in body

    receipt = page_text(client.get(f"/prets/{loan.id}/recu"))
    assert "À rapporter au plus tard" not in receipt
    assert f"Rendu le jeudi 26 novembre 2026 à {a.name}" in receipt
    assert f"/prets/{loan.id}/retour" in receipt


def test_a_return_at_another_site_gives_its_receipt_without_the_borrower(db, world, as_user):
    laptop, b = world["laptop"], world["b"]
    loan = lent(db, laptop, world["resident"], world["reception_a"])
    client_b = as_user(world["manager_b"])

    back = client_b.post(f"/equipements/{laptop.tag}/reprendre", data=take_back_data(b, ["Chargeur", "Housse", "Souris"]))

    assert location_path(back) == f"/prets/{loan.id}/retour"
    body = page_text(client_b.get(location_path(back)))
    assert "Reçu de retour" in body and b.name in body and "aucun" in body
    assert "Marie Dupont" not in body
    assert client_b.get(f"/prets/{loan.id}/recu").status_code == 403
    # The lending site sees it with the name; a site that neither lent nor took it back does not see it.
    assert "Marie Dupont" in page_text(as_user(world["reception_a"]).get(f"/prets/{loan.id}/retour"))


def test_return_receipt_of_an_open_loan_is_its_loan_receipt(db, world, as_user):
    loan = lent(db, world["laptop"], world["resident"], world["reception_a"])
    response = as_user(world["reception_a"]).get(f"/prets/{loan.id}/retour")
    assert response.status_code == 302 and location_path(response) == f"/prets/{loan.id}/recu"
    assert as_user(world["manager_b"]).get(f"/prets/{loan.id}/retour").status_code == 403


# --- the search results tell each person's loans and the limit ------------------------------------


def test_search_results_show_each_persons_loans_late_ones_and_the_kinds_limit(db, world, as_user, make_device,
                                                                               make_resident, monkeypatch):
    a = world["a"]
    old_tablet, tablet, dongle = make_device(a, kind="tablet"), make_device(a, kind="tablet"), make_device(a, kind="dongle")
    marie = world["resident"]
    paul = make_resident(a, first="Paul", last="Dupuis", phone="")
    lent(db, old_tablet, marie, world["reception_a"], due_on=TODAY + timedelta(days=2))
    lent(db, dongle, marie, world["reception_a"], due_on=TODAY + timedelta(days=10))
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN + timedelta(days=5))  # the tablet is now 3 days late

    reception, manager = as_user(world["reception_a"]), as_user(world["manager_a"])
    body = page_text(reception.get(lend_url(tablet) + "?q=dup"))
    marie_row = body[body.index(f'for="resident-{marie.id}"'):body.index(f'for="resident-{paul.id}"')]
    assert f"En retard : Tablette {old_tablet.tag}, à rendre depuis le 28 novembre 2026" in marie_row
    assert 'class="loan-line loan-late"' in marie_row
    assert f"En prêt : Clé 4G {dongle.tag}, retour le 6 décembre 2026" in marie_row
    assert "Limite atteinte pour « Tablette » ici : 1 en prêt, limite 1. Seul un responsable peut la dépasser." in marie_row
    paul_row = body[body.index(f'for="resident-{paul.id}"'):]
    assert "Aucun prêt en cours." in paul_row.split("</label>")[0] and "Limite" not in paul_row.split("</label>")[0]

    # The search as you type says the same, and the manager is told they may go over the limit.
    found = manager.get(f"/habitants/recherche?q=dup&equipement={tablet.tag}").get_json()["results"]
    assert [p["name"] for p in found] == ["Marie Dupont", "Paul Dupuis"]
    assert [line["state"] for line in found[0]["loans"]] == ["late", "on-loan", "limit"]
    assert found[0]["loans"][2]["text"].endswith("Vous pouvez la dépasser en donnant une raison.")
    assert found[1]["loans"] == [{"text": "Aucun prêt en cours.", "state": "none"}]
    # A dongle's limit is not reached by tablets… and without a device, or one of another site, no limit is told.
    assert all(line["state"] != "limit" for line in
               reception.get(f"/habitants/recherche?q=dup&equipement={dongle.tag}").get_json()["results"][1]["loans"])
    elsewhere = make_device(world["b"], kind="tablet")
    for url in ("/habitants/recherche?q=dup", f"/habitants/recherche?q=dup&equipement={elsewhere.tag}",
                "/habitants/recherche?q=dup&equipement=%00%27"):
        states = [line["state"] for line in reception.get(url).get_json()["results"][0]["loans"]]
        assert states == ["late", "on-loan"], url


def test_search_results_leave_out_loans_of_sites_the_agent_does_not_work_at(db, world, as_user, make_device):
    b = world["b"]
    marie = world["resident"]
    marie.sites.append(b)
    db.session.commit()
    lent(db, make_device(b, kind="tablet"), marie, world["manager_b"])
    body = page_text(as_user(world["reception_a"]).get(lend_url(world["laptop"]) + "?q=dup"))
    assert "Aucun prêt en cours." in body and "Tablette" not in body.split('id="resident-results"')[1].split("</ul>")[0]
    body_b = as_user(world["manager_b"]).get("/habitants/recherche?q=dup").get_json()
    assert body_b["results"][0]["loans"][0]["text"].startswith("En prêt : Tablette")


@pytest.mark.parametrize("ticked", [True, False])
def test_a_new_persons_choice_of_reminders_is_kept_with_the_loan(db, world, as_user, ticked):
    """The lend form's box "Recevoir un rappel par SMS / par e-mail" (core/messaging/consent.py): when and
    how the person chose, recorded in the loan's transaction."""
    from core.messaging.models import Channel, ConsentEvent

    data = lend_data(None, resident="new", first_name="Karim", last_name="Benali", phone="06 11 22 33 44", email="")
    if ticked:
        data["reminders"] = "y"
    response = as_user(world["reception_a"]).post(lend_url(world["laptop"]), data=data)
    assert response.status_code == 302
    [choice] = db.session.scalars(select(ConsentEvent)).all()
    assert (choice.contact, choice.channel, choice.wanted, choice.how, choice.site_id) == (
        "+33611223344", Channel.sms, ticked, "desk", world["a"].id)


def test_a_refused_loan_keeps_no_choice_of_reminders(db, world, as_user):
    from core.messaging.models import ConsentEvent

    data = lend_data(None, resident="new", first_name="Karim", last_name="Benali", phone="06 11 22 33 44", charter=None)
    assert as_user(world["reception_a"]).post(lend_url(world["laptop"]), data=data).status_code == 400
    assert db.session.scalars(select(ConsentEvent)).all() == []

"""Lending at the desk in real Chromium: scan, lend to a resident found by typing three letters, receipt
(print view), take back — on a desktop screen and on a phone — with axe-core on every page.

The time of the lending steps (scan → receipt) is printed and written to test-artifacts/; it is a
measurement, not an assertion.
"""
import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.models import Role
from core.residents import create_resident
from loans import labels
from loans.models import Device, DeviceStatus, Loan
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server
from tests.loans.conftest import kinds, make_device  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def desk_world(db, make_site, make_user, make_device):
    site = make_site("Centre social de Mazingarbe", address="Chemin de La Bassée", postcode="62670",
                     town="Mazingarbe", phone="03 21 37 28 00")
    agent = make_user(Role.reception, sites=[site], name="Julien Accueil")
    device = make_device(site, brand="Lenovo", model="ThinkPad E14", accessories="Chargeur\nHousse\nSouris")
    people = {}
    for first, last, phone in [("Sandrine", "Wattez", "06 21 43 65 87"), ("Sandra", "Wagner", ""),
                               ("Karim", "Benali", "07 11 22 33 44")]:
        people[last] = create_resident(None, site, first_name=first, last_name=last, phone=phone)
    for n in range(14):  # enough "Du…" to need a second page of results
        create_resident(None, site, first_name=f"Prénom{n:02d}", last_name="Dubois")
    db.session.commit()
    world = {"email": agent.email, "tag": device.tag, "device_id": device.id, "site": site.name,
             "resident_id": people["Wattez"].id, "url": labels.label_url(device.tag)}
    db.session.rollback()  # SQLite: the live server needs the write lock
    return world


def log_in(page, base, email):
    page.goto(base + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace$"))


def shoot(page, name, width):
    ARTIFACTS.mkdir(exist_ok=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: wider than the window"
    page.screenshot(path=str(ARTIFACTS / f"lending-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width, height", [(1280, 900), (360, 740)], ids=["desktop", "phone"])
def test_lend_and_take_back_at_the_desk(app, db, desk_world, page, check_accessibility, width, height):
    w = desk_world
    page.set_viewport_size({"width": width, "height": height})
    with live_server(app) as base:
        log_in(page, base, w["email"])
        page.get_by_role("link", name="Aller au guichet").click()
        expect(page).to_have_url(re.compile(r"/guichet$"))
        expect(page.get_by_role("textbox", name="Scanner un équipement")).to_be_focused()
        check_accessibility(page, "guichet")
        shoot(page, "desk", width)

        # --- lending: timed from the scan to the receipt ---
        started = time.perf_counter()
        page.keyboard.type(w["url"])  # the USB scanner types the label URL, then Enter
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(rf"/equipements/{w['tag']}$"))
        page.get_by_role("link", name="Prêter", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/equipements/{w['tag']}/preter$"))
        search = page.get_by_label("Nom, téléphone ou n° d'adhérent")
        expect(search).to_be_focused()
        page.keyboard.type("wat", delay=60)
        choice = page.get_by_label(re.compile("Sandrine Wattez"))
        expect(choice).to_be_visible()
        expect(page.locator("#resident-results")).to_contain_text("Aucun prêt en cours.")  # told before lending
        expect(page.locator("#resident-count")).to_have_text("1 personne trouvée.")
        choice.check()
        page.get_by_label("La personne a lu et accepte la charte de prêt (coché par l'agent)").check()
        lend_form_ready = time.perf_counter()
        check_accessibility(page, "formulaire de prêt")
        shoot(page, "lend-form", width)
        paused = time.perf_counter() - lend_form_ready  # the scan and screenshot are not the agent's time
        page.get_by_role("button", name="Prêter et afficher le reçu").click()
        expect(page.get_by_role("heading", name="Reçu de prêt")).to_be_visible()
        seconds = time.perf_counter() - started - paused
        ARTIFACTS.mkdir(exist_ok=True)
        with open(ARTIFACTS / "lending-timing.txt", "a", encoding="utf-8") as out:
            out.write(f"{width}px: scan → receipt {seconds:.2f} s (browser automation, typing at 60 ms a key)\n")
        print(f"\nlending at {width}px: scan → receipt in {seconds:.2f} s")

        expect(page.get_by_text("Sandrine Wattez", exact=True)).to_be_visible()
        expect(page.get_by_text("Chargeur, Housse, Souris")).to_be_visible()
        expect(page.get_by_role("button", name="Imprimer")).to_be_visible()  # shown by static JS
        check_accessibility(page, "reçu de prêt")
        shoot(page, "receipt", width)
        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
        expect(page.locator(".site-header")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / f"lending-receipt-print-{width}.png"), full_page=True)
        page.emulate_media(media="screen")

        loan = db.session.scalar(select(Loan).where(Loan.device_id == w["device_id"]))
        assert loan.resident_id == w["resident_id"] and loan.accessories_out_list == ["Chargeur", "Housse", "Souris"]
        db.session.rollback()

        # --- take back ---
        page.get_by_role("link", name="Fiche de l'équipement").click()
        expect(page.get_by_text("Sandrine Wattez", exact=True)).to_be_visible()
        check_accessibility(page, "fiche de l'équipement en prêt")
        shoot(page, "device-on-loan", width)
        page.get_by_role("link", name="Reprendre", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/equipements/{w['tag']}/reprendre$"))
        check_accessibility(page, "reprise")
        # Without the data-wipe confirmation: refused, next to the box.
        page.get_by_role("button", name="Enregistrer le retour").click()
        expect(page.locator("#data_wiped-error")).to_contain_text("données personnelles")
        check_accessibility(page, "reprise refusée")
        shoot(page, "take-back-error", width)
        page.get_by_label("Housse").uncheck()
        page.get_by_label("Les données personnelles de la personne ont été effacées").check()
        page.get_by_role("button", name="Enregistrer le retour").click()

        # --- the proof of return, to print or show ---
        expect(page).to_have_url(re.compile(r"/prets/\d+/retour$"))
        expect(page.get_by_role("heading", name="Reçu de retour")).to_be_visible()
        expect(page.get_by_text("Accessoires manquants, notés dans l'historique : Housse.")).to_be_visible()
        facts = page.locator(".receipt .facts")
        expect(facts).to_contain_text(re.compile(r"Accessoires rendus\s+Chargeur, Souris\s"))
        expect(facts).to_contain_text(re.compile(r"Accessoires manquants\s+Housse\s"))
        expect(facts).to_contain_text("Effacées de l'appareil.")
        check_accessibility(page, "reçu de retour")
        shoot(page, "return-receipt", width)
        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / f"lending-return-receipt-print-{width}.png"), full_page=True)
        page.emulate_media(media="screen")
        assert db.session.get(Device, w["device_id"]).status is DeviceStatus.available
        db.session.rollback()

        # --- the missing accessory sticks to the device until it is replaced ---
        page.get_by_role("link", name="Fiche de l'équipement").click()
        expect(page).to_have_url(re.compile(rf"/equipements/{w['tag']}$"))
        missing = page.locator(".missing-accessories")
        expect(missing).to_contain_text(re.compile(r"Housse : manque depuis le \S+ \d+ \S+ \d{4}"))
        check_accessibility(page, "fiche avec un accessoire manquant")
        shoot(page, "device-missing-accessory", width)
        page.get_by_role("link", name="Prêter", exact=True).click()
        expect(page.get_by_label("Chargeur")).to_be_checked()
        expect(page.get_by_label("Housse")).to_have_count(0)
        expect(page.locator("#missing-accessories")).to_contain_text("Housse")
        check_accessibility(page, "formulaire de prêt sans l'accessoire manquant")
        page.go_back()
        page.get_by_role("button", name="Noter le remplacement : Housse").click()
        expect(page.get_by_text("C'est noté : Housse est de nouveau avec l'équipement")).to_be_visible()
        expect(page.locator(".missing-accessories")).to_have_count(0)
        page.get_by_role("link", name="Prêter", exact=True).click()
        expect(page.get_by_label("Housse")).to_be_checked()
        page.go_back()

        # --- the resident's page ---
        page.goto(base + f"/habitants/{w['resident_id']}")
        expect(page.get_by_role("heading", name="Sandrine Wattez")).to_be_visible()
        expect(page.get_by_text("Accessoires manquants : Housse", exact=True)).to_be_visible()
        check_accessibility(page, "fiche habitant")
        shoot(page, "resident", width)


def test_search_as_you_type_pages_and_a_new_person_is_checked_for_duplicates(app, db, desk_world, page, check_accessibility):
    w = desk_world
    with live_server(app) as base:
        log_in(page, base, w["email"])
        page.goto(base + f"/equipements/{w['tag']}/preter")
        page.get_by_label("Nom, téléphone ou n° d'adhérent").type("dub", delay=30)
        expect(page.locator("#resident-count")).to_have_text("10 personnes trouvées (page 1).")
        expect(page.locator("#resident-results li")).to_have_count(10)
        page.get_by_role("button", name="Afficher les personnes suivantes").click()
        expect(page.locator("#resident-results li")).to_have_count(14)
        expect(page.get_by_role("button", name="Afficher les personnes suivantes")).to_have_count(0)

        # A new person with the name and phone of someone already registered: pointed out first.
        page.get_by_label("Prénom", exact=True).fill("Karim")
        expect(page.locator("#resident-new")).to_be_checked()  # typing a name chose "Nouvelle personne"
        page.get_by_label("Nom", exact=True).fill("BENALI")
        page.get_by_label("Téléphone (facultatif)").fill("07 11 22 33 44")
        page.get_by_label("La personne a signé la charte de prêt (papier ou tablette)").check()
        page.get_by_role("button", name="Prêter et afficher le reçu").click()
        expect(page.locator("#resident-error")).to_have_text("Une personne porte déjà ce nom avec ce numéro : la choisir ?")
        check_accessibility(page, "doublon signalé")
        shoot(page, "duplicate", 1280)
        page.get_by_label(re.compile("^Karim Benali")).check()
        page.get_by_role("button", name="Prêter et afficher le reçu").click()
        expect(page.get_by_role("heading", name="Reçu de prêt")).to_be_visible()
        expect(page.get_by_text("Karim Benali", exact=True)).to_be_visible()
        expect(page.get_by_text("Charte de prêt signée")).to_be_visible()


def test_the_residents_page_shows_their_bookings_on_a_phone(app, db, desk_world, page, check_accessibility):
    """A seat booked online with the number typed another way is on the person's page (issue 12)."""
    from datetime import timedelta

    from core import clock
    from core.residents import Resident
    from reservations import bookings
    from reservations.identity import parse_contact
    from reservations.slots import local_to_utc
    from tests.reservations.factories import make_room

    sandrine = db.session.get(Resident, desk_world["resident_id"])
    room = make_room(sandrine.sites[0], name="Espace numérique", hours={d: [(time_of(9), time_of(17))] for d in range(7)})
    starts_at = local_to_utc(clock.local_now().date() + timedelta(days=1), time_of(10))
    booking, _token = bookings.book_seat(room.id, starts_at, "Sandrine", parse_contact("+33 (0)6 21 43 65 87"))
    db.session.commit()
    assert booking.resident_id == sandrine.id
    db.session.rollback()
    page.set_viewport_size({"width": 360, "height": 740})
    with live_server(app) as base:
        log_in(page, base, desk_world["email"])
        page.goto(f"{base}/habitants/{desk_world['resident_id']}")
        expect(page.get_by_role("heading", name="Réservations")).to_be_visible()
        expect(page.get_by_text("poste en accès libre, Espace numérique")).to_be_visible()
        check_accessibility(page, "fiche habitant avec réservations")
        shoot(page, "resident-bookings", 360)


def time_of(hour):
    from datetime import time

    return time(hour)

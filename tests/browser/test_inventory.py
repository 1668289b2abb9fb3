"""A manager works on the inventory in real Chromium: filters the list, opens a device, sends it to repair,
adds a dongle, imports a CSV — with axe-core on each page and screenshots at phone and desktop widths."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from core.models import Role
from loans import operations
from loans.models import Device, DeviceStatus
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server

pytestmark = pytest.mark.browser

WIDTHS = ((360, 800), (1280, 900))


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def shoot(page, name):
    """Screenshots at phone and desktop widths; nothing may be wider than a phone's window."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name}: {overflow}px wide in a {width}px window"
        page.screenshot(path=str(ARTIFACTS / f"inventory-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_manager_filters_opens_a_device_sends_it_to_repair_adds_and_imports(app, db, make_site, make_user, page, check_accessibility):
    kinds = operations.ensure_default_kinds()
    acsrv = make_site("ACSRV", phone="03 27 28 91 98")
    mqcv = make_site("Maison de Quartier Centre-Ville", phone="03 27 22 43 90")
    other = make_site("Centre social de Mazingarbe", phone="03 21 37 28 00")
    manager = make_user(Role.manager, sites=[acsrv, mqcv], name="Karim Responsable")
    target = operations.create_device(manager, acsrv, kinds["laptop"], brand="Lenovo", model="ThinkPad E14",
                                      serial_number="PF-3X9Q", accessories="Chargeur\nHousse", funding="FEDER 2021-2027")
    for i in range(6):
        operations.create_device(manager, acsrv if i % 2 else mqcv, kinds["tablet" if i % 3 else "dongle"],
                                 brand="Samsung" if i % 3 else "Huawei", model=f"Modèle {i}")
    away = operations.create_device(manager, mqcv, kinds["laptop"], brand="Dell", model="Latitude 3420")
    away.current_site_id = acsrv.id
    operations.create_device(None, other, kinds["laptop"], brand="Lenovo", model="ThinkPad E14", serial_number="MZG-1")
    tag, email, other_name = target.tag, manager.email, other.name
    db.session.commit()

    with live_server(app) as base:
        page.goto(base + "/connexion")
        page.get_by_label("Adresse e-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page).to_have_url(re.compile(r"/espace$"))

        # The list, from the menu.
        page.get_by_role("link", name="Inventaire", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Inventaire des équipements")
        expect(page.locator("#result-count")).to_contain_text("8 équipements")
        expect(page.get_by_text(other_name)).to_have_count(0)
        expect(page.get_by_text("À rapporter : se trouve à ACSRV")).to_be_visible()
        check_accessibility(page, "inventaire")
        shoot(page, "list")

        # Tick every device of the page (enhancement) and send the ticked ones to the label sheet.
        page.get_by_label("Tout cocher sur cette page").check()
        expect(page.locator('table.inventory input[name="tag"]:checked')).to_have_count(8)
        page.get_by_label("Tout cocher sur cette page").uncheck()
        page.get_by_label(f"Imprimer l'étiquette de {tag}").check()
        page.get_by_role("button", name="Imprimer les étiquettes des équipements cochés").click()
        expect(page).to_have_url(re.compile(rf"/etiquettes\?format=[\w-]+&tag={tag}$"))
        page.go_back()

        # Filter: text and status, kept in the URL.
        page.get_by_label("Rechercher").fill("thinkpad")
        page.get_by_label("État").select_option(label="Disponible")
        page.get_by_role("button", name="Filtrer").click()
        expect(page).to_have_url(re.compile(r"q=thinkpad.*status=available|status=available.*q=thinkpad"))
        expect(page.locator("#result-count")).to_contain_text("1 équipement")
        expect(page.get_by_label("Rechercher")).to_have_value("thinkpad")
        check_accessibility(page, "inventaire filtré")

        # Open the device.
        page.get_by_role("link", name=tag).click()
        expect(page).to_have_url(re.compile(rf"/equipements/{tag}$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Ordinateur portable Lenovo ThinkPad E14")
        expect(page.get_by_role("heading", name="Historique")).to_be_visible()
        expect(page.get_by_role("cell", name="Ajouté à l'inventaire")).to_be_visible()
        check_accessibility(page, "fiche équipement")
        shoot(page, "device")

        # Send it to repair, with a note: inventory actions are folded away until asked for.
        page.get_by_text("Actions d'inventaire").click()
        repair = page.locator("form", has=page.get_by_role("button", name="Envoyer en réparation"))
        repair.get_by_label("Note (facultative)").fill("Écran qui clignote")
        repair.get_by_role("button", name="Envoyer en réparation").click()
        expect(page.get_by_role("status")).to_contain_text(f"Équipement {tag} envoyé en réparation.")
        expect(page.locator(".device-state .status")).to_have_text("En réparation")
        expect(page.get_by_role("cell", name="Écran qui clignote")).to_be_visible()
        # The one sensible next action now comes first, as the primary button.
        expect(page.locator(".device-actions button.primary")).to_have_text("Retour de réparation")
        check_accessibility(page, "fiche après réparation")
        shoot(page, "device-in-repair")

        # Add a dongle: the SIM fields appear for dongles only (progressive enhancement).
        page.goto(base + "/equipements/nouveau")
        sim = page.locator("#sim-fields")
        page.get_by_label("Type d'équipement").select_option(label="Ordinateur portable")
        expect(sim).to_be_hidden()
        page.get_by_label("Type d'équipement").select_option(label="Clé 4G")
        expect(sim).to_be_visible()
        check_accessibility(page, "nouvel équipement")
        shoot(page, "new")
        page.get_by_label("Structure", exact=True).select_option(label="Maison de Quartier Centre-Ville")
        page.get_by_label("Marque").fill("Huawei")
        page.get_by_label("Modèle").fill("E3372")
        page.get_by_label("IMEI").fill("352099001761481")
        page.get_by_label("Date d'achat").fill("31/02/2024")
        page.get_by_role("button", name="Ajouter à l'inventaire").click()
        expect(page.locator("#purchase_date-error")).to_have_text("Cette date n'existe pas : « 31/02/2024 ».")
        expect(page.get_by_label("Date d'achat")).to_have_attribute("aria-invalid", "true")
        expect(sim).to_be_visible()
        check_accessibility(page, "nouvel équipement refusé")
        page.get_by_label("Date d'achat").fill("29/02/2024")
        page.get_by_label("Prix d'achat (en euros)").fill("39,90")
        page.get_by_role("button", name="Ajouter à l'inventaire").click()
        expect(page.get_by_role("status")).to_contain_text("ajouté à l'inventaire")
        expect(page.get_by_text("352099001761481")).to_be_visible()

        # Import a CSV: preview first, then all rows at once.
        page.goto(base + "/equipements/import")
        check_accessibility(page, "import")
        csv_text = ("Type;Marque;Modèle;Numéro de série;Structure;Date d'achat;Prix d'achat\r\n"
                    "Tablette;Samsung;Galaxy Tab A8;R9-001;ACSRV;12/01/2024;229,00\r\n"
                    "Ordinateur portable;HP;ProBook 450;CND-002;Maison de Quartier Centre-Ville;03/03/2023;1 049,00\r\n")
        page.get_by_label("Fichier CSV de l'inventaire").set_input_files(
            files=[{"name": "inventaire.csv", "mimeType": "text/csv", "buffer": csv_text.encode("cp1252")}])
        page.get_by_role("button", name="Voir l'aperçu").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Aperçu de l'import")
        expect(page.get_by_role("cell", name="Galaxy Tab A8")).to_be_visible()
        check_accessibility(page, "aperçu de l'import")
        shoot(page, "import-preview")
        page.get_by_role("button", name="Importer les 2 équipements").click()
        expect(page.get_by_role("status")).to_contain_text("2 équipements importés depuis inventaire.csv.")

        # A file with mistakes: the errors in French, row by row, and no import button.
        page.goto(base + "/equipements/import")
        bad = csv_text.replace("ACSRV", "Centre Inconnu").replace("R9-001", "PF-3X9Q")
        page.get_by_label("Fichier CSV de l'inventaire").set_input_files(
            files=[{"name": "erreurs.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
        page.get_by_role("button", name="Voir l'aperçu").click()
        expect(page.get_by_text("Structure inconnue : « Centre Inconnu ».")).to_be_visible()
        expect(page.get_by_text("Le numéro de série « PF-3X9Q » est déjà dans l'inventaire.")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Importer"))).to_have_count(0)
        check_accessibility(page, "aperçu avec erreurs")
        shoot(page, "import-errors")

    db.session.expire_all()
    assert db.session.scalar(select(Device.status).where(Device.tag == tag)) is DeviceStatus.in_repair
    assert db.session.scalar(select(func.count(Device.id))) == 12  # 9 + 1 added + 2 imported

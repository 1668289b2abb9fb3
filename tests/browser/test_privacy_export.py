"""A manager exports a resident's data in real Chromium: the resident's page, the printable export
(print view), the JSON file downloaded; the admin reads the access trail; a resident reads what is
held about their booking on a 360 px phone. axe-core on every page."""
import json
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.models import Role
from core.residents import create_resident
from loans import lending
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server
from tests.loans.conftest import kinds, make_device  # noqa: F401  (fixtures)
from tests.reservations.factories import at_local, book, make_room, tomorrow

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def world(db, make_site, make_user, make_device):
    site = make_site("Centre social de Mazingarbe", phone="03 21 37 28 00")
    manager = make_user(Role.manager, sites=[site], name="Nadia Responsable")
    admin = make_user(Role.admin, name="Coordination")
    resident = create_resident(manager, site, first_name="Sandrine", last_name="Wattez", phone="06 21 43 65 87",
                               email="sandrine.wattez@exemple.fr", notes="Vient le mardi")
    device = make_device(site, accessories="Chargeur\nHousse")
    lending.lend(manager, device.id, resident, due_on=tomorrow() + timedelta(days=7), accessories=["Chargeur"],
                 charter_method="ticked", condition="Comme neuf")
    booking, token = book(make_room(site), at_local(tomorrow(), 15), n=5, first_name="Sandrine")
    booking.resident_id = resident.id
    db.session.commit()
    data = {"manager": manager.email, "admin": admin.email, "resident_id": resident.id, "tag": device.tag,
            "reference": booking.reference, "token": token}
    db.session.rollback()  # SQLite: the live server needs the write lock
    return data


def log_in(page, base, email):
    page.goto(base + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace$"))


def test_a_manager_exports_a_resident_then_the_admin_reads_the_trail(app, page, world, check_accessibility, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(app) as base:
        log_in(page, base, world["manager"])
        page.get_by_role("link", name="Habitants").first.click()
        page.get_by_role("link", name=re.compile("Wattez")).first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sandrine Wattez")
        check_accessibility(page, "resident page")

        page.get_by_role("link", name="Exporter ses données").click()
        expect(page).to_have_url(re.compile(rf"/habitants/{world['resident_id']}/donnees$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Données de Sandrine Wattez")
        for part in ("Identité", "Prêts", "Réservations", "Messages envoyés", "Choix pour les rappels", "Qui a consulté cette fiche"):
            expect(page.get_by_role("heading", name=re.compile(part))).to_be_visible()
        expect(page.get_by_text(world["tag"]).first).to_be_visible()
        expect(page.get_by_text(world["reference"], exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Imprimer")).to_be_visible()  # shown by print.js
        check_accessibility(page, "export page")

        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
        expect(page.locator(".site-header")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / "privacy-export-print.png"), full_page=True)
        page.emulate_media(media="screen")

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Télécharger le fichier (JSON)").click()
        download = download_info.value
        assert download.suggested_filename == f"donnees-habitant-{world['resident_id']}.json"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        data = json.loads(saved.read_text(encoding="utf-8"))
        assert data["resident"]["last_name"] == "Wattez" and data["resident"]["notes"] == "Vient le mardi"
        assert [loan["device"]["tag"] for loan in data["loans"]] == [world["tag"]]
        assert [b["reference"] for b in data["bookings"]] == [world["reference"]]
        assert {row["action"] for row in data["access_trail"]} == {"Fiche consultée", "Données exportées"}

        page.set_viewport_size({"width": 360, "height": 800})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "privacy-export-360.png"), full_page=True)

        page.context.clear_cookies()
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, base, world["admin"])
        page.get_by_role("link", name="Accès aux fiches").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Accès aux fiches des habitants")
        rows = page.locator("table.access-trail tbody tr")
        expect(rows.first).to_contain_text("Connexion")  # the admin's own login, the newest
        expect(page.get_by_text(f"n° {world['resident_id']} — Sandrine Wattez").first).to_be_visible()
        check_accessibility(page, "access trail")
        page.get_by_label("Numéro de la fiche habitant").fill(str(world["resident_id"]))
        page.get_by_role("button", name="Filtrer").click()
        expect(rows).to_have_count(4)  # the resident's page, the export page (twice: the reload) and the JSON file
        check_accessibility(page, "access trail, filtered")


def test_a_resident_reads_what_is_held_about_their_booking_on_a_phone(app, page, world, check_accessibility):
    page.set_viewport_size({"width": 360, "height": 800})
    with live_server(app) as base:
        page.goto(f"{base}/ma-reservation/{world['token']}")
        expect(page.get_by_role("heading", name="Ce que nous gardons sur cette réservation")).to_be_visible()
        expect(page.get_by_text("Votre prénom : Sandrine").last).to_be_visible()
        expect(page.get_by_text("06 00 00 00 05")).to_be_visible()
        page.get_by_text("Lire le message").first.click()
        expect(page.locator(".held .message-text").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        check_accessibility(page, "booking page, what is held")
        page.screenshot(path=str(ARTIFACTS / "privacy-booking-held-360.png"), full_page=True)

"""A resident on a 360 px phone opens "Pourquoi on vous demande votre numéro ?" on the booking form and
follows it to the centre's "Vos données" page (with and without JavaScript): no sideways scrolling,
axe-core clean. The desk's lend form has the same notice, to read out. The desk's poster prints on one
A4 page. Screenshots kept in test-artifacts/."""
import re

import pytest
from playwright.sync_api import expect

from core.models import Role, Site
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_reservations import fits, phone  # noqa: F401  (phone is a fixture)
from tests.conftest import PASSWORD, live_server
from tests.reservations.conftest import frozen  # noqa: F401  (fixture)
from tests.reservations.factories import make_room

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True, "DPO_NAME": "Service DPO de la Fédération des centres sociaux du Nord-Pas-de-Calais",
            "DPO_EMAIL": "protection-des-donnees@federation-centres-sociaux.example.org",
            "DPO_ADDRESS": "199-201 rue Colbert, 59800 Lille", "DPO_PHONE": "03 20 79 98 70"}


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"vos-donnees-{name}.png"), full_page=True)


def centre(db, make_site):
    site = make_site("Maison de Quartier Centre-Ville", address="10 rue des Ursulines", postcode="59300", town="Valenciennes",
                     phone="03 27 22 43 90", email="accueil@mqcv.example.org")
    room = make_room(site, name="Salle informatique", workstations=8)
    db.session.commit()
    return site.id, room.id


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "sans-js"])
def test_a_resident_reads_vos_donnees_from_the_booking_form_on_a_phone(app, db, frozen, make_site, phone, check_accessibility,  # noqa: F811
                                                                       javascript):
    site_id, room_id = centre(db, make_site)
    page = phone(javascript=javascript)
    label = "js" if javascript else "sans-js"
    with live_server(app) as base:
        page.goto(f"{base}/reserver/salle/{room_id}/2026-03-24/1400")
        link = page.get_by_role("link", name="Vos données : tout savoir")
        expect(link).to_be_hidden()  # folded: the form stays short
        page.get_by_text("Pourquoi on vous demande votre numéro ?").click()
        expect(page.get_by_text("Votre numéro sert seulement à vous prévenir.")).to_be_visible()
        if javascript:
            check_accessibility(page, "formulaire, notice ouverte")
        fits(page)
        shot(page, f"{label}-1-formulaire")
        link.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Vos données personnelles\s*Maison de Quartier"))
        assert page.url == f"{base}/vos-donnees/{site_id}"
        expect(page.get_by_text("Votre fiche d'emprunteur : 2 ans après votre dernière venue au centre.")).to_be_visible()
        expect(page.get_by_text("protection-des-donnees@federation-centres-sociaux.example.org")).to_be_visible()
        expect(page.get_by_role("link", name="03 27 22 43 90").first).to_be_visible()
        if javascript:
            check_accessibility(page, "vos données")
        fits(page)
        shot(page, f"{label}-2-page")
        # The footer leads back to the same page from any of the residents' pages.
        page.goto(f"{base}/reserver/{site_id}")
        page.get_by_role("link", name="Vos données personnelles").click()
        assert page.url == f"{base}/vos-donnees/{site_id}"
        page.goto(f"{base}/vos-donnees/999999")
        expect(page.get_by_role("heading", level=1)).to_have_text("Centre introuvable")
        fits(page)
    assert not page.errors


def test_the_poster_prints_on_one_a4_page(app, db, frozen, make_site, page, check_accessibility):  # noqa: F811
    site_id, _room_id = centre(db, make_site)
    with live_server(app) as base:
        page.goto(f"{base}/vos-donnees/{site_id}/affiche")
        expect(page.get_by_role("button", name="Imprimer")).to_be_visible()  # shown by print.js
        expect(page.get_by_role("img", name="Code QR de la page Vos données")).to_be_visible()
        check_accessibility(page, "affiche")
        shot(page, "affiche-ecran")
        page.set_viewport_size({"width": 360, "height": 740})
        fits(page)
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 703, "height": 1010})  # A4 inside 12 mm margins, at 96 dpi
        expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
        # Readable at arm's length: body text of 15 pt (20 px) at least, headings larger.
        sizes = page.evaluate("""() => ({
            text: parseFloat(getComputedStyle(document.querySelector('.poster li')).fontSize),
            heading: parseFloat(getComputedStyle(document.querySelector('.poster h2')).fontSize),
            title: parseFloat(getComputedStyle(document.querySelector('.poster h1')).fontSize)})""")
        assert sizes["text"] >= 20 and sizes["heading"] > sizes["text"] and sizes["title"] > sizes["heading"], sizes
        shot(page, "affiche-impression")
        pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "vos-donnees-affiche.pdf").write_bytes(pdf)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert pages == 1, f"the poster prints on {pages} pages"


def test_the_desk_reads_why_the_number_is_asked_on_the_lend_form(app, db, make_site, make_user, page, check_accessibility):
    from loans import operations

    site_id, _room_id = centre(db, make_site)
    site = db.session.get(Site, site_id)
    agent = make_user(Role.reception, sites=[site], name="Julien Accueil")
    tag = operations.create_device(None, site, operations.ensure_default_kinds()["laptop"]).tag
    email = agent.email
    db.session.commit()
    with live_server(app) as base:
        page.goto(base + "/connexion")
        page.get_by_label("Adresse e-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.goto(f"{base}/equipements/{tag}/preter")
        page.get_by_label("Nouvelle personne, pas encore inscrite").check()
        page.get_by_text("Pourquoi on vous demande votre numéro ?").click()
        link = page.get_by_role("link", name=re.compile(r"^Vos données : tout savoir"))
        expect(link).to_be_visible()
        expect(link).to_have_attribute("target", "_blank")
        check_accessibility(page, "prêt, notice ouverte")
        shot(page, "guichet-preter")
        with page.context.expect_page() as opened:
            link.click()
        notice = opened.value
        notice.wait_for_load_state()
        assert notice.url == f"{base}/vos-donnees/{site_id}"
        notice.close()

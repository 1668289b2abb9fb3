"""A reception agent logs in, sees their site, logs out — in real Chromium, with axe-core on each page."""
import re

import pytest
from playwright.sync_api import expect

from core.models import Role
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def test_reception_agent_logs_in_sees_their_site_and_logs_out(app, db, make_site, make_user, page, check_accessibility):
    mine = make_site("Centre social de Mazingarbe", address="Chemin de La Bassée", postcode="62670", town="Mazingarbe",
                     phone="03 21 37 28 00")
    other = make_site("ACSRV", address="34 avenue de Condé", phone="03 27 28 91 98")
    agent = make_user(Role.reception, sites=[mine], name="Julien Accueil")
    email, mine_name, other_name = agent.email, mine.name, other.name
    # End the test's transaction: on SQLite it would hold the write lock the server needs.
    db.session.rollback()

    with live_server(app) as base:
        page.goto(base + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Le numérique près de chez vous")
        check_accessibility(page, "accueil public")
        # Keyboard first: the first Tab reaches the skip link.
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text("Aller au contenu")

        page.get_by_role("link", name="Espace du personnel").click()
        expect(page).to_have_url(re.compile(r"/connexion$"))
        check_accessibility(page, "connexion")

        # A typo first, typed at the keyboard only: the e-mail field has the focus.
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        page.keyboard.type("faute-de-frappe")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_have_text("Adresse e-mail ou mot de passe incorrect.")
        check_accessibility(page, "connexion refusée")

        page.get_by_label("Adresse e-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()

        expect(page).to_have_url(re.compile(r"/espace$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Julien Accueil")
        expect(page.get_by_role("heading", name=mine_name)).to_be_visible()
        expect(page.get_by_text(other_name)).to_have_count(0)
        check_accessibility(page, "espace du personnel")
        ARTIFACTS.mkdir(exist_ok=True)
        for width, height in ((360, 800), (1280, 900)):
            page.set_viewport_size({"width": width, "height": height})
            # Nothing wider than the window: no sideways scrolling on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(ARTIFACTS / f"staff-home-{width}x{height}.png"), full_page=True)

        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("status")).to_contain_text("Déconnexion réussie.")
        check_accessibility(page, "après déconnexion")
        page.goto(base + "/espace")
        expect(page).to_have_url(re.compile(r"/connexion\?next="))


def test_the_accessibility_scan_really_runs_under_our_csp(app, page, check_accessibility):
    """A guard on the guard: axe-core must report a field stripped of its label."""
    with live_server(app) as base:
        page.goto(base + "/connexion")
        page.evaluate("document.querySelector('label[for=email]').remove()")
        with pytest.raises(AssertionError, match="label"):
            check_accessibility(page, "connexion sans étiquette")

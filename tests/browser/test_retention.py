"""An admin on a 360 px phone reads what the next retention run will anonymise, corrects a period
(a French message next to the field), runs it now and sees the run's counts — axe-core on each page."""
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from core import clock
from core.models import Role
from core.privacy.retention import shift_months
from core.residents import Resident
from loans import operations
from loans.models import Loan
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server
from tests.core.test_retention import run_finished
from tests.messaging_peers import run_worker, wait_for

pytestmark = pytest.mark.browser

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def test_an_admin_previews_corrects_and_runs_the_retention(app, db, make_site, make_user, page, check_accessibility, monkeypatch):
    monkeypatch.setattr(clock, "frozen_at", NOW)  # the server's threads read the same clock
    site = make_site("Centre social de Mazingarbe")
    admin = make_user(Role.admin, [], name="Chloé Coordination")
    device = operations.create_device(admin, site, operations.ensure_default_kinds()["laptop"])
    for n, months in enumerate((26, 25, 23)):
        person = Resident(created_at=NOW - timedelta(days=1500), phone=f"06120000{n:02d}")
        person.set_names(f"Personne{n}", "Essai")
        person.sites = [site]
        db.session.add(person)
        db.session.flush()
        gone = shift_months(NOW, -months)
        db.session.add(Loan(device_id=device.id, resident_id=person.id, site_id=site.id, started_at=gone - timedelta(days=7),
                            due_on=gone.date(), closed_at=gone, form_key=secrets.token_hex(8)))
    db.session.commit()
    email = admin.email
    db.session.rollback()

    page.set_viewport_size({"width": 360, "height": 800})
    with live_server(app) as base, run_worker(app):
        page.goto(base + "/connexion")
        page.get_by_label("Adresse e-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(re.compile(r"/espace$"))
        page.get_by_role("link", name="Données personnelles").click()
        expect(page.get_by_role("heading", level=2, name="Ce que la prochaine exécution anonymisera")).to_be_visible()
        expect(page.get_by_text("Fiches d'habitants anonymisées : 2")).to_be_visible()
        expect(page.get_by_role("link", name="Personne0 Essai")).to_be_visible()
        expect(page.get_by_role("link", name="Personne2 Essai")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        check_accessibility(page, "données personnelles")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "retention-360.png"), full_page=True)

        field = page.get_by_label("Fiches des habitants : effacées combien de mois après le dernier contact")
        field.fill("200")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.locator("#resident_months-error")).to_have_text("Choisissez un nombre entre 1 et 120 (mois).")
        check_accessibility(page, "durée refusée")
        field.fill("22")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_text("Durées de conservation enregistrées.")).to_be_visible()
        expect(page.get_by_text("Fiches d'habitants anonymisées : 3")).to_be_visible()

        page.get_by_role("button", name="Lancer maintenant").click()
        expect(page.get_by_text("Exécution lancée")).to_be_visible()
        wait_for(lambda: run_finished(db), what="the run on the queue")
        db.session.rollback()
        page.reload()
        expect(page.get_by_text("Fiches d'habitants anonymisées : 0")).to_be_visible()
        expect(page.get_by_role("cell", name="à la main")).to_be_visible()
        check_accessibility(page, "après l'exécution")



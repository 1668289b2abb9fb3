"""Erasing a resident's data in real Chromium: a manager confirms with a reason, the record becomes
"Personne effacée", and the reports read exactly the same before and after; axe-core on each page."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_reports import log_in
from tests.conftest import PASSWORD, live_server
from tests.reports.conftest import march  # noqa: F401  (the hand-built network of tests/reports/dataset.py)

pytestmark = pytest.mark.browser


def read_reports(page, base, site_id) -> list[str]:
    texts = []
    for url in (f"/rapports/structures/{site_id}?periode=2026-03", f"/rapports/structures/{site_id}?periode=2026",
                "/rapports/financeur?annee=2026"):
        page.goto(base + url)
        texts.append(page.locator("main").inner_text())
    return texts


def test_a_manager_erases_a_resident_and_the_reports_do_not_change(app, db, march, page, check_accessibility):
    email, site_id, resident_id = march.manager_a.email, march.a.id, march.R3.id
    db.session.rollback()  # SQLite: leave the write lock to the server

    with live_server(app) as base:
        log_in(page, base, email, PASSWORD)
        before = read_reports(page, base, site_id)

        page.goto(base + f"/habitants/{resident_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Rachid Trois")
        page.get_by_role("link", name="Effacer les données de cette personne").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Effacer les données de Rachid Trois")
        check_accessibility(page, "effacement : confirmation")

        # Without the confirmation: nothing is erased, the message is next to the box.
        page.get_by_label("Raison de l'effacement").fill("Demande de la personne à l'accueil")
        page.get_by_role("button", name="Effacer les données").click()
        expect(page.locator("#confirmed-error")).to_have_text("Cochez la case pour confirmer l'effacement.")
        check_accessibility(page, "effacement : case non cochée")

        page.get_by_label(re.compile("^Je confirme")).check()
        page.get_by_role("button", name="Effacer les données").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Personne effacée")
        expect(page.locator(".flash-success")).to_contain_text("Les données de cette personne sont effacées")
        expect(page.locator("main")).not_to_contain_text("Rachid")
        check_accessibility(page, "fiche effacée")

        assert read_reports(page, base, site_id) == before

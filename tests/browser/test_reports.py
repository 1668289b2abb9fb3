"""Reports in real Chromium: a manager opens the dashboard, changes the period, downloads a CSV and
checks its figures, opens the funder report; axe-core on each page; the charts are screenshotted
into test-artifacts/ (reports-*.png) to be looked at."""
import csv
import io
import re

import pytest
from playwright.sync_api import expect

from core.demo import ACCOUNTS, load_demo
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server
from tests.reports.conftest import march  # noqa: F401  (the hand-built network of tests/reports/dataset.py)

pytestmark = pytest.mark.browser


def log_in(page, base, email, password):
    page.goto(base + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace$"))


def test_a_manager_reads_downloads_and_prints_reports(app, db, march, page, check_accessibility):
    email = march.manager_a.email
    db.session.rollback()  # SQLite: leave the write lock to the server
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server(app) as base:
        log_in(page, base, email, PASSWORD)
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Rapports").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Rapports d'activité")
        check_accessibility(page, "rapports")
        page.get_by_role("link", name="Centre A").click()
        # The clock is on 10 April 2026: by default, April so far (1-9 April), compared with 1-9 March.
        expect(page.locator(".period-summary")).to_contain_text("avril 2026")
        expect(page.locator(".period-summary")).to_contain_text("du 1er mars 2026 au 9 mars 2026")
        check_accessibility(page, "tableau de bord, avril")

        # Another period from the list.
        page.get_by_label("Période", exact=True).select_option(label="Mars 2026")
        page.get_by_role("button", name="Afficher", exact=True).click()
        expect(page).to_have_url(re.compile(r"periode=2026-03"))
        loans = page.locator("#tableau-prets")
        expect(loans.get_by_role("row", name=re.compile("^Jours de prêt"))).to_contain_text("52")
        expect(page.get_by_role("img", name="Prêts commencés par semaine")).to_be_visible()
        check_accessibility(page, "tableau de bord, mars")

        # A date that does not exist: the message is next to the field, nothing else is shown.
        page.get_by_label("Du", exact=True).fill("31/02/2026")
        page.get_by_label("Au (inclus)").fill("15/03/2026")
        page.get_by_role("button", name="Afficher ces dates").click()
        expect(page.locator("#du-error")).to_have_text("Cette date n'existe pas : « 31/02/2026 ».")
        expect(page.get_by_label("Du", exact=True)).to_have_attribute("aria-invalid", "true")
        check_accessibility(page, "période refusée")
        page.get_by_label("Période", exact=True).select_option(label="Mars 2026")
        page.get_by_role("button", name="Afficher", exact=True).click()
        expect(page).to_have_url(re.compile(r"periode=2026-03"))

        # The CSV, as Excel in French would open it.
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Télécharger « Prêts » (CSV pour Excel)").click()
        download = download_info.value
        assert re.fullmatch(r"prets-centre-a-2026-03\.csv", download.suggested_filename)
        with open(download.path(), "rb") as file:
            content = file.read()
        assert content.startswith(b"\xef\xbb\xbf")
        rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=";")}
        assert rows["Prêts commencés"] == ["4", "1", "300,0", ""]
        assert rows["Jours de prêt"] == ["52", "9", "477,8", ""]
        assert rows["Taux d'usage des équipements de la structure (%)"] == ["41,3", "6,4", "", "34,9"]
        assert rows["Durée moyenne d'un prêt rendu (jours)"] == ["2,5", "", "", ""]

        for name in ("graphique-prets", "graphique-usage", "graphique-occupation"):
            page.locator(f"svg[aria-labelledby^='{name}-']").locator("xpath=ancestor::div[@class='chart-block']").screenshot(
                path=str(ARTIFACTS / f"reports-march-{name}.png"))

        # Printed: no menu nor forms, the tables unrolled.
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        expect(page.locator(".period-forms")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / "reports-march-print.png"), full_page=True)
        page.emulate_media(media="screen")

        # The funder report, this year, for the manager's own site.
        page.get_by_role("link", name="Rapports").first.click()
        page.get_by_role("link", name="Rapport pour le financeur (FEDER)").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Rapport d'activité 2026")
        table = page.locator("#tableau-financeur")
        first_quarter = table.get_by_role("row", name=re.compile("^Centre A 1er trimestre 2026"))
        expect(first_quarter).to_contain_text("61")  # days on loan in Q1
        expect(table).not_to_contain_text("Centre B")
        check_accessibility(page, "rapport financeur")
        page.emulate_media(media="print")
        page.screenshot(path=str(ARTIFACTS / "reports-funder-print.png"), full_page=True)
        page.emulate_media(media="null")
        # Printed by Chromium: A4 landscape, every column on the page.
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        (ARTIFACTS / "reports-funder.pdf").write_bytes(pdf)
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(pdf)
        width, height = document[0].get_size()
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (297, 210)
        text = document[0].get_textpage().get_text_range()
        for words in ("Centre A", "Taux de", "Participants", "33,3"):
            assert words in text, words
        document.close()


def test_the_demo_year_charts_on_screen_and_on_a_phone(app, db, page, check_accessibility):
    """A year of demo activity: every chart shows something (screenshots), the network view for the coordination."""
    load_demo()
    db.session.commit()
    manager = next(a for a in ACCOUNTS if a["email"] == "responsable@demo.test")
    admin = next(a for a in ACCOUNTS if a["role"].value == "admin")
    ARTIFACTS.mkdir(exist_ok=True)

    with live_server(app) as base:
        log_in(page, base, manager["email"], manager["password"])
        page.goto(base + "/rapports")
        page.get_by_role("link", name="ACSRV").click()
        # The last twelve months as chosen dates.
        first, last = page.evaluate("""() => {
            const y = new Date(Date.now() - 86400000), f = new Date(y.getTime() - 364 * 86400000);
            const d = (x) => String(x.getDate()).padStart(2, '0') + '/' + String(x.getMonth() + 1).padStart(2, '0') + '/' + x.getFullYear();
            return [d(f), d(y)];
        }""")
        page.get_by_label("Du", exact=True).fill(first)
        page.get_by_label("Au (inclus)").fill(last)
        page.get_by_role("button", name="Afficher ces dates").click()
        expect(page.locator(".period-summary")).to_contain_text("Période")
        for name in ("graphique-prets", "graphique-usage", "graphique-occupation"):
            chart = page.locator(f"svg[aria-labelledby^='{name}-']")
            assert chart.locator("rect.bar").count() > 2, name
            chart.locator("xpath=ancestor::div[@class='chart-block']").screenshot(path=str(ARTIFACTS / f"reports-demo-{name}.png"))
        check_accessibility(page, "tableau de bord, douze mois")
        page.set_viewport_size({"width": 360, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.locator("svg[aria-labelledby^='graphique-occupation-']").screenshot(path=str(ARTIFACTS / "reports-demo-phone-occupation.png"))
        page.set_viewport_size({"width": 1280, "height": 900})

        page.get_by_role("button", name="Se déconnecter").click()
        log_in(page, base, admin["email"], admin["password"])
        page.goto(base + "/rapports/reseau")
        expect(page.locator("#tableau-reseau tfoot")).to_contain_text("Total du réseau")
        check_accessibility(page, "réseau")
        page.screenshot(path=str(ARTIFACTS / "reports-demo-network.png"), full_page=True)

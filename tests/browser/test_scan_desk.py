"""Scanning in real Chromium: the desk box fed like a USB scanner, the camera, the finder's page."""
import re

import pytest
from flask import url_for
from playwright.sync_api import expect

from loans import labels, tags
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS
from tests.conftest import CHROMIUM, PASSWORD, live_server
from tests.loans.conftest import kinds, make_device  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def log_in(page, base, email):
    page.goto(base + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace$"))


def swap_neighbours(tag):
    i = next(i for i in range(len(tag) - 1) if tag[i] != tag[i + 1])
    return tag[:i] + tag[i + 1] + tag[i] + tag[i + 2:]


def where_staff_land(app, tag):
    with app.test_request_context():
        return url_for("loans.device", tag=tag)


def test_reception_agent_scans_a_label_into_the_desk_box(app, db, two_sites, make_device, page, check_accessibility):
    tag = make_device(two_sites["a"]).tag
    email = two_sites["reception_a"].email
    url = labels.label_url(tag)
    landing = where_staff_land(app, tag)
    db.session.rollback()  # SQLite: the server needs the write lock

    with live_server(app) as base:
        log_in(page, base, email)
        page.get_by_role("link", name="Scanner").click()
        expect(page).to_have_url(re.compile(r"/guichet/scanner$"))
        # Focused on load: the scanner can type straight away.
        expect(page.get_by_label("Code de l'équipement ou adresse de l'étiquette")).to_be_focused()
        check_accessibility(page, "scanner au guichet")

        # A label with two neighbouring characters swapped (a hand-typed URL): caught, said in French.
        page.keyboard.type(url[: -len(tag)] + swap_neighbours(tag))
        page.keyboard.press("Enter")
        expect(page.locator("#code-error")).to_have_text("Ce code contient une erreur de frappe : vérifiez les caractères.")
        box = page.get_by_label("Code de l'équipement ou adresse de l'étiquette")
        expect(box).to_be_focused()
        # What was typed is selected, so the next scan replaces it instead of being appended.
        selection = "() => { const i = document.activeElement; return [i.selectionStart, i.selectionEnd, i.value.length]; }"
        assert page.evaluate(selection) == [0, len(url), len(url)]
        check_accessibility(page, "scanner au guichet, code erroné")

        # The USB scanner types the whole label URL, then Enter.
        page.keyboard.type(url)
        page.keyboard.press("Enter")
        expect(page).to_have_url(base + landing)
        expect(page.get_by_text(tag[:3]).first).to_be_visible()

        page.goto(base + "/guichet/scanner")
        page.set_viewport_size({"width": 360, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "scan-desk-360.png"), full_page=True)


def test_unknown_code_is_said_clearly(app, db, two_sites, make_device, page):
    make_device(two_sites["a"])
    email = two_sites["reception_a"].email
    data = "23456"
    unknown = data + tags.check_character(data)
    db.session.rollback()
    with live_server(app) as base:
        log_in(page, base, email)
        page.goto(base + "/guichet/scanner")
        page.keyboard.type(unknown.lower())
        page.keyboard.press("Enter")
        expect(page.locator("#code-error")).to_have_text("Aucun équipement ne porte ce code.")


def test_finder_page(app, db, make_site, make_device, page, check_accessibility):
    site = make_site("Centre social de Mazingarbe", address="Chemin de La Bassée", postcode="62670",
                     town="Mazingarbe", phone="03 21 37 28 00")
    tag = make_device(site, notes="Note interne du centre").tag
    db.session.rollback()
    with live_server(app) as base:
        response = page.goto(f"{base}/D/{tag}")
        assert response.status == 200 and response.headers["x-robots-tag"] == "noindex, nofollow"
        expect(page.get_by_text("Cet équipement appartient à Centre social de Mazingarbe.")).to_be_visible()
        expect(page.get_by_role("link", name="03 21 37 28 00")).to_have_attribute("href", "tel:0321372800")
        expect(page.get_by_text("Note interne du centre")).to_have_count(0)
        assert page.locator("script").count() == 0
        check_accessibility(page, "page publique d'un équipement trouvé")
        page.set_viewport_size({"width": 360, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "finder-page-360.png"), full_page=True)

        page.goto(f"{base}/d/{swap_neighbours(tag).lower()}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Ce code contient une erreur de frappe")
        check_accessibility(page, "page publique, code erroné")


# --- the camera ---------------------------------------------------------------------------------


def y4m_with_qr(path, text, width=640, height=480, scale=8):
    """A one-frame Y4M video (what Chromium's fake camera plays in a loop) showing the QR of `text`."""
    matrix = labels.qr_matrix(text)
    quiet = 4
    side = (len(matrix) + 2 * quiet) * scale
    left, top = (width - side) // 2, (height - side) // 2
    luma = bytearray([200]) * (width * height)  # a light grey desk
    for y in range(side):
        my = y // scale - quiet
        row = bytearray([255]) * side
        if 0 <= my < len(matrix):
            for mx, dark in enumerate(matrix[my]):
                if dark:
                    start = (mx + quiet) * scale
                    row[start:start + scale] = bytes(scale)
        offset = (top + y) * width + left
        luma[offset:offset + side] = row
    chroma = bytes([128]) * (width // 2 * height // 2)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        f.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def test_camera_scan_opens_the_device(app, db, two_sites, make_device, browser, tmp_path):
    """Chromium's fake camera plays a video of the label: the page decodes it (BarcodeDetector where
    the browser has one, jsQR otherwise), fills the box, submits, and lands on the device page."""
    tag = make_device(two_sites["a"]).tag
    email = two_sites["reception_a"].email
    video = tmp_path / "label.y4m"
    y4m_with_qr(video, labels.label_url(tag))
    landing = where_staff_land(app, tag)
    db.session.rollback()

    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-video-capture={video}"],
    )
    try:
        context = camera_browser.new_context(locale="fr-FR")
        context.grant_permissions(["camera"])
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors, requested = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("request", lambda r: requested.append(r.url))
        with live_server(app) as base:
            log_in(page, base, email)
            page.goto(base + "/guichet/scanner")
            native = page.evaluate("'BarcodeDetector' in window")
            page.get_by_role("button", name="Scanner avec la caméra").click()
            expect(page).to_have_url(base + landing)
        decoder = "BarcodeDetector" if native else "jsQR"
        assert native or any(u.endswith("/static/vendor/jsqr/jsQR.js") for u in requested)
        print(f"\ncamera scan decoded by {decoder}")
        assert not errors, errors
    finally:
        camera_browser.close()


def test_no_camera_button_without_a_camera_api(app, db, two_sites, page):
    email = two_sites["reception_a"].email
    db.session.rollback()
    with live_server(app) as base:
        page.add_init_script("Object.defineProperty(navigator, 'mediaDevices', { value: undefined });")
        log_in(page, base, email)
        page.goto(base + "/guichet/scanner")
        expect(page.get_by_role("button", name="Ouvrir la fiche")).to_be_visible()
        expect(page.get_by_role("button", name="Scanner avec la caméra")).to_be_hidden()

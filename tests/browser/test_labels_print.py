"""Label sheets printed to PDF by Chromium, then read back: page size, label positions, QR codes.

What this proves: Chromium prints the sheet page on A4 pages at exact size; every label lands in
its cell of the real product's layout (Avery Zweckform 3474 / Avery L7651); and every QR code, as
Chromium drew the inline SVG into the PDF, decodes with zxing-cpp to exactly its device's URL.
"""
import re

import pytest
import zxingcpp
from playwright.sync_api import expect

from loans import labels
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server
from tests.loans.conftest import kinds, make_device  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

MM_PER_PT = 25.4 / 72
MM_PER_CSS_PX = 25.4 / 96
DPI = 300


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True, "PUBLIC_BASE_URL": "https://prets.centres-connectes.example"}


def log_in(page, base, email):
    page.goto(base + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace$"))


def rasterise(pdf_bytes):
    """Each PDF page as (width_mm, height_mm, grayscale pixels as a 2-D memoryview) at DPI."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf_bytes)
    pages = []
    for page in document:
        width_pt, height_pt = page.get_size()
        bitmap = page.render(scale=DPI / 72, grayscale=True)
        assert bitmap.n_channels == 1
        pixels = memoryview(bytes(bitmap.buffer)).cast("B", (bitmap.height, bitmap.stride))
        pages.append((width_pt * MM_PER_PT, height_pt * MM_PER_PT, pixels))
    return pages


def decoded_in_mm(pixels):
    """{text: (left, top, right, bottom) in mm} of every QR code found on a rendered page."""
    found = {}
    for code in zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False):
        corners = [code.position.top_left, code.position.top_right, code.position.bottom_right, code.position.bottom_left]
        xs = [c.x * 25.4 / DPI for c in corners]
        ys = [c.y * 25.4 / DPI for c in corners]
        assert code.text not in found, f"{code.text} printed twice"
        found[code.text] = (min(xs), min(ys), max(xs), max(ys))
    return found


def check_printed_sheet(page, fmt, tags, start, name):
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"labels-{name}.pdf").write_bytes(pdf)
    pages = rasterise(pdf)

    positions = start + len(tags)
    assert len(pages) == -(-positions // fmt.per_sheet), "one PDF page per sheet, no blank page"
    expected = {labels.label_url(tag): start + i for i, tag in enumerate(tags)}
    seen = {}
    for number, (width, height, pixels) in enumerate(pages):
        # A4. Chromium rounds the page to whole CSS pixels (793 × 1123 px): 209.9 × 297.0 mm.
        assert (width, height) == pytest.approx((210, 297), abs=0.3), "A4 at exact size"
        for text, (left, top, right, bottom) in decoded_in_mm(pixels).items():
            index = expected[text]  # a KeyError would be a code that is not one of ours
            assert index // fmt.per_sheet == number, f"{text} on the wrong sheet"
            x, y = fmt.position(index)
            # The code sits wholly inside its label, 1 mm clear of every edge.
            assert x + 1 <= left and right <= x + fmt.label_width - 1, (text, x, left, right)
            assert y + 1 <= top and bottom <= y + fmt.label_height - 1, (text, y, top, bottom)
            seen[text] = right - left
    assert set(seen) == set(expected), f"not decoded: {set(expected) - set(seen)}"
    return seen


def label_boxes_mm(page):
    """Position and size of every label cell in mm, as laid out for print."""
    page.emulate_media(media="print")
    boxes = page.eval_on_selector_all(
        ".sheet .label",
        """els => els.map(el => {
            const sheet = el.closest('.sheet').getBoundingClientRect();
            const r = el.getBoundingClientRect();
            return [r.left - sheet.left, r.top - sheet.top, r.width, r.height];
        })""",
    )
    page.emulate_media(media="null")  # back to no emulation: page.pdf() prints with print media
    return [tuple(round(v * MM_PER_CSS_PX, 2) for v in box) for box in boxes]


@pytest.mark.parametrize("format_code, count, start", [("a4-3x8", 26, 1), ("dongle", 7, 3)])
def test_printed_sheet_is_exact(app, db, two_sites, make_device, page, check_accessibility, format_code, count, start):
    fmt = labels.FORMATS[format_code]
    a = two_sites["a"]
    kind = "dongle" if format_code == "dongle" else "laptop"
    # The sheet's order within one site and one kind is the tag's.
    tags = sorted(make_device(a, kind=kind).tag for _ in range(count))
    email = two_sites["manager_a"].email
    # End the test's transaction: on SQLite it would hold the write lock the server needs.
    db.session.rollback()

    with live_server(app) as base:
        log_in(page, base, email)
        query = "&".join(f"tag={tag}" for tag in tags) + f"&format={format_code}&start={start}"
        page.goto(f"{base}/etiquettes?{query}")

        expect(page.get_by_role("heading", level=1)).to_have_text("Étiquettes à imprimer")
        expect(page.get_by_role("button", name="Imprimer")).to_be_visible()  # shown by labels-print.js
        expect(page.locator(".label-tag").first).to_have_text(f"{tags[0][:3]} {tags[0][3:]}")
        check_accessibility(page, f"planche d'étiquettes {format_code}")

        # The CSS layout agrees with the product's geometry in loans/labels.py.
        boxes = label_boxes_mm(page)
        assert len(boxes) == start + count
        for index, (x, y, width, height) in enumerate(boxes):
            ex, ey = fmt.position(index)
            assert (x, y) == pytest.approx((ex, ey), abs=0.05), index
            assert (width, height) == pytest.approx((fmt.label_width, fmt.label_height), abs=0.05), index

        widths = check_printed_sheet(page, fmt, tags, start, format_code)
        print(f"\n{format_code}: QR symbol {min(widths.values()):.1f}-{max(widths.values()):.1f} mm wide in the PDF")


def test_print_button_opens_the_print_dialog(app, db, two_sites, make_device, page):
    tag = make_device(two_sites["a"]).tag
    email = two_sites["manager_a"].email
    db.session.rollback()
    with live_server(app) as base:
        log_in(page, base, email)
        page.goto(f"{base}/etiquettes?tag={tag}")
        # Replace window.print before clicking: a headless print dialog would block the test.
        page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
        page.get_by_role("button", name="Imprimer").click()
        assert page.evaluate("window.__printed") == 1
        expect(page.get_by_text("Ctrl+P")).to_be_visible()

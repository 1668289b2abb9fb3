"""QR labels: the URL they encode, the QR code itself (decoded by a real decoder), the print sheets."""
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import qrcode.util
import zxingcpp
from sqlalchemy import select

from loans import labels, tags
from loans.models import Device, DeviceStatus


def login_as(app, login, user):
    client = app.test_client()
    assert login(user, target=client).status_code == 302
    return client


# --- the URL and the QR code -------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": "https://prets.centres-connectes.example/"}])
def test_label_url_is_upper_case_and_alphanumeric(app):
    tag = tags.generate()
    url = labels.label_url(tag)

    assert url == "HTTPS://PRETS.CENTRES-CONNECTES.EXAMPLE/D/" + tag
    code = labels.qr_for(url)
    # Every segment in alphanumeric mode: the smallest QR code for this URL.
    assert [segment.mode for segment in code.data_list] == [qrcode.util.MODE_ALPHA_NUM]
    assert code.version == 3 and code.error_correction == qrcode.constants.ERROR_CORRECT_M


def test_demo_url_fits_version_2(app):
    app.config["PUBLIC_BASE_URL"] = "http://127.0.0.1:5000"
    url = labels.label_url("ABC23X".replace("X", tags.check_character("ABC23")))
    assert url.startswith("HTTP://127.0.0.1:5000/D/ABC23")
    code = labels.qr_for(url)
    assert code.version == 2 and len(code.get_matrix()) == 25
    assert [segment.mode for segment in code.data_list] == [qrcode.util.MODE_ALPHA_NUM]


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": "https://example.org/prets"}])
def test_a_path_prefix_keeps_its_case(app):
    # Scheme and host are case-insensitive; a path prefix may not be (it is the proxy's business).
    assert labels.label_url("abc23x") == "HTTPS://EXAMPLE.ORG/prets/D/ABC23X"


def raster(matrix, quiet=4, scale=6):
    """A grayscale bitmap (bytes, width) of a module matrix: black modules, white quiet zone."""
    size = (len(matrix) + 2 * quiet) * scale
    rows = []
    for y in range(size):
        my = y // scale - quiet
        line = bytearray(b"\xff" * size)
        if 0 <= my < len(matrix):
            for mx, dark in enumerate(matrix[my]):
                if dark:
                    start = (mx + quiet) * scale
                    line[start:start + scale] = b"\x00" * scale
        rows.append(bytes(line))
    return b"".join(rows), size


def decode(pixels: bytes, width: int, height: int) -> list[str]:
    image = memoryview(pixels).cast("B", (height, width))
    return [result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def path_to_matrix(svg: str) -> list[list[bool]]:
    """Read back the modules drawn by an SVG of labels.qr_svg: its viewBox and `Mx yhWv1h-Wz` runs."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    grid = [[False] * size for _ in range(size)]
    d = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", d)
    assert "".join(f"M{x} {y}h{w}v1h-{w2}z" for x, y, w, w2 in runs) == d, "unexpected path commands"
    for x, y, w, w2 in runs:
        assert w == w2
        for i in range(int(w)):
            grid[int(y)][int(x) + i] = True
    q = labels.QUIET_ZONE
    assert not any(any(row) for row in grid[:q] + grid[size - q:]), "dark modules in the quiet zone"
    return [row[q:size - q] for row in grid[q:size - q]]


def test_qr_code_decodes_to_the_exact_url_with_zxing(app):
    """What this proves: the module matrix that qrcode computes for a label decodes, with the real
    zxing-cpp decoder, to exactly the label URL; and the SVG we serve draws exactly that matrix
    (read back from its path, quiet zone empty). The SVG is rasterised here by our own reading of its
    path, not by a browser: tests/browser/test_labels_print.py decodes Chromium's rendering of it."""
    app.config["PUBLIC_BASE_URL"] = "https://prets.example.org"
    for _ in range(5):
        tag = tags.generate()
        url = labels.label_url(tag)
        matrix = labels.qr_matrix(url)
        pixels, width = raster(matrix)

        assert decode(pixels, width, width) == [url]
        assert path_to_matrix(labels.qr_svg(url)) == matrix


def test_decoder_is_not_fooled(app):
    # A guard on the test above: a damaged code (the finder patterns erased) must not decode.
    matrix = labels.qr_matrix("HTTPS://EXAMPLE.ORG/D/ABC23X")
    broken = [[False if (x < 8 and y < 8) or (x > len(row) - 9 and y < 8) else dark for x, dark in enumerate(row)]
              for y, row in enumerate(matrix)]
    pixels, width = raster(broken)
    assert decode(pixels, width, width) == []


def test_svg_is_vector_and_accessible(app):
    svg = labels.qr_svg("HTTPS://EXAMPLE.ORG/D/ABC23X", label="Code QR de l'équipement ABC23X")
    assert svg.startswith('<svg class="qr" xmlns="http://www.w3.org/2000/svg"')
    assert 'role="img" aria-label="Code QR de l&#39;équipement ABC23X"' in svg
    assert "<image" not in svg and "style=" not in svg and "<script" not in svg
    assert labels.grouped("ABC23X") == "ABC 23X"


def test_formats_fill_an_a4_sheet():
    a4 = labels.FORMATS["a4-3x8"]
    assert (a4.per_sheet, a4.label_width, a4.label_height) == (24, 70, 37)
    right, bottom = a4.position(23)
    assert (right + a4.label_width, bottom + a4.label_height) == (210, 296.5)
    dongle = labels.FORMATS["dongle"]
    assert dongle.per_sheet == 65
    right, bottom = dongle.position(64)
    assert round(right + dongle.label_width + dongle.margin_left, 3) == 210
    assert round(bottom + dongle.label_height + dongle.margin_top, 3) == 297


def test_paginate_skips_used_positions():
    fmt = labels.FORMATS["a4-3x8"]
    sheets = labels.paginate(list(range(30)), fmt, start=5)
    assert [len(s.cells) for s in sheets] == [24, 11]
    assert sheets[0].cells[:5] == [None] * 5 and sheets[0].cells[5] == 0
    assert sheets[1].cells[-1] == 29


# --- the sheet page ----------------------------------------------------------------------------


def labels_in(html: str) -> list[str]:
    """The tags printed on the labels of a sheet page, in order."""
    return [t.replace(" ", "") for t in re.findall(r'<p class="label-tag">([^<]+)</p>', html)]


def test_sheet_of_ticked_devices_shows_only_what_the_agent_may_see(app, db, two_sites, make_device, login):
    a, b = two_sites["a"], two_sites["b"]
    mine = make_device(a)
    lent_here = make_device(b)
    lent_here.current_site_id = a.id  # a device of B that is at A just now: A may see it
    theirs = make_device(b, notes="Note interne B")
    db.session.commit()
    client = login_as(app, login, two_sites["reception_a"])

    response = client.get("/etiquettes", query_string=[("tag", mine.tag.lower()), ("tag", theirs.tag),
                                                        ("tag", lent_here.tag), ("tag", "ZZZZZZ")])

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert sorted(labels_in(html)) == sorted([mine.tag, lent_here.tag])
    assert theirs.tag not in html  # not even echoed back in the form
    assert "2 codes ignorés" in html
    assert html.count('<svg class="qr"') == 2
    assert "Centre A" in html and "Centre B" in html  # the label carries the device's home site
    assert "Note interne B" not in html


def test_agent_of_site_a_gets_nothing_of_site_b(app, two_sites, make_device, login):
    theirs = make_device(two_sites["b"])
    client = login_as(app, login, two_sites["reception_a"])

    response = client.get(f"/etiquettes?tag={theirs.tag}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert labels_in(html) == [] and "<svg" not in html and "Centre B" not in html
    assert "1 code ignoré" in html
    # Nor by the filters: site B is not a choice for them.
    response = client.get(f"/etiquettes?site={two_sites['b'].id}")
    assert response.status_code == 400
    assert "Choisissez une valeur de la liste." in response.get_data(as_text=True)
    assert "Centre B" not in response.get_data(as_text=True)


def test_admin_prints_any_site(app, two_sites, make_device, login):
    theirs = make_device(two_sites["b"])
    client = login_as(app, login, two_sites["admin"])
    assert labels_in(client.get(f"/etiquettes?tag={theirs.tag}").get_data(as_text=True)) == [theirs.tag]


def test_sheet_by_filters(app, two_sites, make_device, login, db, kinds):
    a = two_sites["a"]
    laptop = make_device(a, serial_number="SN-LAP-1")
    dongle = make_device(a, kind="dongle", model="Huawei E3372")
    broken = make_device(a)
    broken.status = DeviceStatus.in_repair
    make_device(two_sites["b"])
    db.session.commit()
    client = login_as(app, login, two_sites["manager_a"])

    def tags_for(**params):
        response = client.get("/etiquettes", query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return sorted(labels_in(response.get_data(as_text=True)))

    assert tags_for(format="a4-3x8") == sorted([laptop.tag, dongle.tag, broken.tag])
    assert tags_for(site=a.id) == sorted([laptop.tag, dongle.tag, broken.tag])
    assert tags_for(kind=kinds["dongle"].id) == [dongle.tag]
    assert tags_for(status="in_repair") == [broken.tag]
    assert tags_for(q="sn-lap") == [laptop.tag]
    assert tags_for(q="e3372") == [dongle.tag]
    assert tags_for(q=laptop.tag[:4].lower()) == [laptop.tag]


def test_bare_page_offers_the_choice(app, two_sites, make_device, login):
    make_device(two_sites["a"])
    client = login_as(app, login, two_sites["reception_a"])
    response = client.get("/etiquettes")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choisissez les équipements" in html and "<svg" not in html
    assert "Centre A" in html and "Centre B" not in html  # the site choices


@pytest.mark.parametrize(
    "params, field_message",
    [
        ({"format": "a5"}, "Choisissez un format de la liste."),
        ({"format": "a4-3x8", "start": "24"}, "Indiquez un nombre entre 0 et 23."),
        ({"format": "a4-3x8", "start": "-1"}, "Indiquez un nombre entre 0 et 23."),
        ({"format": "a4-3x8", "start": "deux"}, "Indiquez un nombre entre 0 et 23."),
        ({"format": "dongle", "start": "65"}, "Indiquez un nombre entre 0 et 64."),
        ({"status": "broken"}, "Choisissez une valeur de la liste."),
        ({"kind": "999"}, "Choisissez une valeur de la liste."),
        ({"site": "abc"}, "Choisissez une valeur de la liste."),
        ({"q": "x" * 101}, "100 caractères au plus."),
    ],
)
def test_bad_settings_get_a_french_message(app, two_sites, make_device, login, params, field_message):
    device = make_device(two_sites["a"])
    client = login_as(app, login, two_sites["reception_a"])
    for extra in ({}, {"tag": device.tag}):
        if "tag" in extra and set(params) & {"status", "kind", "site", "q"}:
            continue  # with ticked devices the filters are not used
        response = client.get("/etiquettes", query_string={**params, **extra})
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert field_message in html
        assert "<svg" not in html


def test_start_leaves_positions_empty_and_sheets_paginate(app, two_sites, make_device, login):
    a = two_sites["a"]
    devices = [make_device(a) for _ in range(30)]
    client = login_as(app, login, two_sites["reception_a"])

    response = client.get("/etiquettes", query_string=[("tag", d.tag) for d in devices] + [("start", "20")])

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('class="sheet sheet--a4-3x8"') == 3  # 20 empty + 30 labels = 50 positions
    assert html.count("label--empty") == 20
    assert len(labels_in(html)) == 30
    assert "30 étiquettes" in html and "sur 3 planches" in html

    dongles = client.get("/etiquettes", query_string=[("tag", d.tag) for d in devices] + [("format", "dongle")])
    assert dongles.get_data(as_text=True).count('class="sheet sheet--dongle"') == 1


def test_served_svg_decodes_to_the_label_url(app, two_sites, make_device, login):
    app.config["PUBLIC_BASE_URL"] = "https://prets.example.org"
    device = make_device(two_sites["a"])
    client = login_as(app, login, two_sites["reception_a"])
    html = client.get(f"/etiquettes?tag={device.tag}").get_data(as_text=True)

    svg = re.search(r"<svg.*?</svg>", html).group(0)
    pixels, width = raster(path_to_matrix(svg))
    assert decode(pixels, width, width) == ["HTTPS://PRETS.EXAMPLE.ORG/D/" + device.tag]


def test_too_many_labels_is_refused_in_french(app, two_sites, make_device, login, monkeypatch):
    monkeypatch.setattr(labels, "MAX_LABELS", 3)
    devices = [make_device(two_sites["a"]) for _ in range(4)]
    client = login_as(app, login, two_sites["reception_a"])

    for response in (
        client.get("/etiquettes?format=a4-3x8"),
        client.get("/etiquettes", query_string=[("tag", d.tag) for d in devices]),
    ):
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "Trop d'étiquettes à la fois : 3 au plus" in html
        assert "<svg" not in html


def test_many_ticked_devices_can_be_posted(app, two_sites, make_device, login):
    devices = [make_device(two_sites["a"]) for _ in range(3)]
    client = login_as(app, login, two_sites["reception_a"])
    response = client.post("/etiquettes", data={"tag": [d.tag for d in devices], "format": "dongle"})
    assert response.status_code == 200
    assert sorted(labels_in(response.get_data(as_text=True))) == sorted(d.tag for d in devices)


def test_sheet_query_count_is_constant(app, db, two_sites, make_device, login, count_queries):
    a = two_sites["a"]
    client = login_as(app, login, two_sites["manager_a"])
    counts = {}
    for n in (3, 50):
        while len(db.session.scalars(select(Device)).all()) < n:
            make_device(a)
        ticked = [("tag", tag) for tag in db.session.scalars(select(Device.tag))]
        db.session.commit()
        for mode, query in (("filters", {"format": "a4-3x8"}), ("tags", ticked)):
            with count_queries() as queries:
                response = client.get("/etiquettes", query_string=query)
            assert response.status_code == 200 and len(labels_in(response.get_data(as_text=True))) == n
            counts[mode, n] = queries()
    assert counts["filters", 3] == counts["filters", 50]
    assert counts["tags", 3] == counts["tags", 50]
    # Filters: the user with their sites (core/sessions.py), the site and kind choices, the devices.
    # Tags: the user with their sites, the devices.
    assert counts["filters", 50] == 4 and counts["tags", 50] == 2, counts


def test_240_labels(app, two_sites, make_device, login, db, kinds):
    from sqlalchemy import insert

    a = two_sites["a"]
    rows, seen = [], set()
    while len(rows) < 240:
        tag = tags.generate()
        if tag not in seen:
            seen.add(tag)
            rows.append(dict(tag=tag, kind_id=kinds["laptop"].id, home_site_id=a.id, current_site_id=a.id,
                             status=DeviceStatus.available))
    db.session.execute(insert(Device), rows)
    db.session.commit()
    labels.qr_drawing.cache_clear()
    client = login_as(app, login, two_sites["manager_a"])

    started = time.perf_counter()
    response = client.get("/etiquettes?format=a4-3x8")
    elapsed = time.perf_counter() - started

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert len(labels_in(html)) == 240 and html.count('class="sheet sheet--a4-3x8"') == 10
    print(f"\n240-label sheet: {elapsed * 1000:.0f} ms server time (cold QR cache), {len(html) // 1024} KiB of HTML")


# --- reprint of one label ------------------------------------------------------------------


def test_reprint_one_label(app, two_sites, make_device, login):
    laptop = make_device(two_sites["a"])
    dongle = make_device(two_sites["a"], kind="dongle")
    theirs = make_device(two_sites["b"])
    client = login_as(app, login, two_sites["reception_a"])

    response = client.get(f"/equipements/{laptop.tag.lower()}/etiquette")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/etiquettes"
    assert parse_qs(location.query) == {"tag": [laptop.tag], "format": ["a4-3x8"]}
    assert parse_qs(urlsplit(client.get(f"/equipements/{dongle.tag}/etiquette").headers["Location"]).query)["format"] == ["dongle"]

    assert client.get(f"/equipements/{theirs.tag}/etiquette").status_code == 404
    assert client.get("/equipements/ZZZZZZ/etiquette").status_code == 404


def test_anonymous_cannot_print(app, two_sites, make_device):
    device = make_device(two_sites["a"])
    client = app.test_client()
    for url in (f"/etiquettes?tag={device.tag}", f"/equipements/{device.tag}/etiquette"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_the_inventory_lists_print_link_prints_what_the_list_shows(app, db, two_sites, make_device, login):
    a = two_sites["a"]
    in_repair = [make_device(a, model=f"Latitude {n}") for n in range(3)]
    for device in in_repair:
        device.status = DeviceStatus.in_repair
    make_device(a)  # available: not in the filtered list
    db.session.commit()
    client = login_as(app, login, two_sites["manager_a"])

    listing = client.get("/equipements", query_string={"status": "in_repair", "q": "latitude"}).get_data(as_text=True)
    links = set(re.findall(r'href="(/etiquettes\?[^"]+)"', listing))
    assert len(links) == 1, links
    response = client.get(links.pop().replace("&amp;", "&"))

    assert response.status_code == 200
    assert sorted(labels_in(response.get_data(as_text=True))) == sorted(d.tag for d in in_repair)

"""Scanning: the label URL /d/<TAG> (finder's page, staff redirect) and the desk scan box."""
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from flask import url_for
from sqlalchemy import insert

import core.clock
from core.residents import create_resident
from loans import lending, tags
from loans.models import Device, DeviceStatus

ROBOTS = "noindex, nofollow"


def login_as(app, login, user):
    client = app.test_client()
    assert login(user, target=client).status_code == 302
    return client


def mistype(tag: str) -> str:
    """The tag with its first character replaced: the check character catches it."""
    wrong = next(ch for ch in tags.ALPHABET if ch != tag[0])
    return wrong + tag[1:]


@pytest.fixture
def device_page(app):
    """The device page's address, where staff land after a scan."""

    def location(tag):
        with app.test_request_context():
            return url_for("loans.device", tag=tag)

    return location


@pytest.fixture
def frozen_today(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    return date(2026, 11, 26)


# --- the public page ----------------------------------------------------------------------------


def test_finder_sees_whose_device_it_is_and_nothing_else(app, db, two_sites, make_device, frozen_today):
    a = two_sites["a"]
    device = make_device(
        a, serial_number="SN-SECRET-42", notes="Note interne : écran rayé", condition_notes="Clavier usé",
        purchase_price=Decimal("499.90"), funding="Fonds Zêta 2019",
    )
    resident = create_resident(two_sites["reception_a"], a, first_name="Zoé", last_name="Emprunteuse", phone="06 98 76 54 32")
    lending.lend(two_sites["reception_a"], device.id, resident, due_on=frozen_today + timedelta(days=14),
                 accessories=[], charter_method="ticked")
    db.session.commit()
    assert device.status is DeviceStatus.on_loan

    response = app.test_client().get(f"/D/{device.tag}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["X-Robots-Tag"] == ROBOTS
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert "Cet équipement appartient à Centre A." in html
    assert a.phone in html and a.address in html and f"{a.postcode} {a.town}" in html
    for secret in ("SN-SECRET-42", "écran rayé", "Clavier usé", "499", "Fonds Zêta", "Zoé", "Emprunteuse", "06 98 76 54 32", "En prêt"):
        assert secret not in html, secret
    assert "<script" not in html  # a light page: no JavaScript needed


@pytest.mark.parametrize("shape", ["upper", "lower", "lower-path", "spaces", "dash", "trailing-slash"])
def test_label_url_in_any_case_with_stray_spaces(app, two_sites, make_device, shape):
    tag = make_device(two_sites["a"]).tag
    url = {
        "upper": f"/D/{tag}",
        "lower": f"/d/{tag.lower()}",
        "lower-path": f"/D/{tag.lower()}",
        "spaces": "/d/" + quote(f" {tag[:3].lower()} {tag[3:]} "),
        "dash": f"/d/{tag[:3]}-{tag[3:]}",
        "trailing-slash": f"/d/{tag}/",
    }[shape]
    response = app.test_client().get(url)
    assert response.status_code == 200
    assert "Cet équipement appartient à Centre A." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path, title",
    [
        ("mistyped", "Ce code contient une erreur de frappe"),
        ("unknown", "Ce code ne correspond à aucun équipement"),
        ("/d/HELLO", "Ce code ne correspond à aucun équipement"),
        ("/d/" + quote("<script>alert(1)</script>"), "Ce code ne correspond à aucun équipement"),
        ("/D/%00%01", "Ce code ne correspond à aucun équipement"),
        ("/d/" + "A" * 5000, "Ce code ne correspond à aucun équipement"),
        ("/d/ABC/DEF", "Ce code ne correspond à aucun équipement"),
    ],
)
def test_unknown_or_mistyped_code(app, two_sites, make_device, path, title):
    tag = make_device(two_sites["a"]).tag
    if path == "mistyped":
        path = "/D/" + mistype(tag)
    elif path == "unknown":
        data = next(d for d in ("22222", "33333", "44444") if d + tags.check_character(d) != tag)
        path = "/D/" + data + tags.check_character(data)

    response = app.test_client().get(path)

    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f"<h1>{title}</h1>" in html
    assert response.headers["X-Robots-Tag"] == ROBOTS
    assert "Centre A" not in html and "<script>alert" not in html


def test_staff_are_sent_to_the_device_page(app, two_sites, make_device, login, device_page):
    mine = make_device(two_sites["a"])
    theirs = make_device(two_sites["b"])
    client = login_as(app, login, two_sites["reception_a"])

    for device in (mine, theirs):  # another site's staff get the device page's limited view
        response = client.get(f"/D/{device.tag.lower()}")
        assert response.status_code == 302
        assert response.headers["Location"] == device_page(device.tag)


def test_anonymous_staff_hint_logs_in_then_comes_back(app, two_sites, make_device, login, device_page):
    device = make_device(two_sites["a"])
    client = app.test_client()
    html = client.get(f"/D/{device.tag}").get_data(as_text=True)
    assert f'href="/connexion?next=/D/{device.tag}"' in html

    response = client.post(f"/connexion?next=/D/{device.tag}", data={"email": two_sites["reception_a"].email,
                                                                      "password": "mot-de-passe-solide"})
    assert response.headers["Location"] == f"/D/{device.tag}"
    assert client.get(f"/D/{device.tag}").headers["Location"] == device_page(device.tag)


@pytest.mark.parametrize("app_config", [{"PUBLIC_TAG_LIMIT": "3 per minute"}])
def test_public_route_is_rate_limited_for_anonymous_visitors(app, two_sites, make_device, login):
    tag = make_device(two_sites["a"]).tag
    anonymous = app.test_client()
    responses = [anonymous.get(f"/D/{tag}") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1].headers["X-Robots-Tag"] == ROBOTS
    assert "Trop de tentatives" in responses[-1].get_data(as_text=True)
    staff = login_as(app, login, two_sites["reception_a"])
    assert all(staff.get(f"/D/{tag}").status_code in (200, 302) for _ in range(5))


# --- the desk scan box ------------------------------------------------------------------------


def test_scan_page(app, two_sites, login):
    client = login_as(app, login, two_sites["reception_a"])
    response = client.get("/guichet/scanner")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<label for="code">Code de l\'équipement ou adresse de l\'étiquette</label>' in html
    assert "autofocus" in html and 'autocomplete="off"' in html
    assert '<form method="get" action="/guichet/scanner"' in html
    # The menu entry, for every staff role.
    assert '<a href="/guichet/scanner" aria-current="page">Scanner</a>' in html


def test_scan_page_is_for_staff_only(app):
    response = app.test_client().get("/guichet/scanner?code=ABC23X")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


@pytest.mark.parametrize(
    "typed",
    [
        "{url}",  # a keyboard-wedge scanner types the whole label URL
        "{url_lower}",
        "{tag}",
        "{tag_lower}",
        "  {tag_spaced}  ",
        "https://another.host.example/d/{tag}",  # an older base URL still resolves the tag
        "{tag_dash}",
    ],
)
def test_scan_resolves_the_device(app, two_sites, make_device, login, device_page, typed):
    device = make_device(two_sites["a"])
    tag = device.tag
    url = "HTTP://LOCALHOST/D/" + tag
    code = typed.format(url=url, url_lower=url.lower(), tag=tag, tag_lower=tag.lower(),
                        tag_spaced=f"{tag[:3].lower()} {tag[3:]}", tag_dash=f"{tag[:3]}-{tag[3:]}")
    client = login_as(app, login, two_sites["reception_a"])

    response = client.get("/guichet/scanner", query_string={"code": code})

    assert response.status_code == 302
    assert response.headers["Location"] == device_page(tag)


@pytest.mark.parametrize(
    "typed, status, message",
    [
        ("mistyped", 400, "Ce code contient une erreur de frappe : vérifiez les caractères."),
        ("mistyped-url", 400, "Ce code contient une erreur de frappe : vérifiez les caractères."),
        ("unknown", 404, "Aucun équipement ne porte ce code."),
        ("hello", 400, "Ce n&#39;est pas un code d&#39;équipement."),
        ("https://www.example.org/", 400, "Ce n&#39;est pas un code d&#39;équipement."),
        ("", 400, "Scannez l&#39;étiquette ou tapez le code de l&#39;équipement."),
        ("   ", 400, "Scannez l&#39;étiquette ou tapez le code de l&#39;équipement."),
        # Control characters are dropped from every request (core/input.py): nothing visible was typed.
        ("\x00\x01", 400, "Scannez l&#39;étiquette ou tapez le code de l&#39;équipement."),
        ("hel\x00lo", 400, "Ce n&#39;est pas un code d&#39;équipement."),
        ("é" * 10_000, 400, "Ce n&#39;est pas un code d&#39;équipement."),
        ("%' OR 1=1 --", 400, "Ce n&#39;est pas un code d&#39;équipement."),
        ("/d/", 400, "Ce n&#39;est pas un code d&#39;équipement."),
    ],
)
def test_scan_refusals_say_why_next_to_the_field(app, two_sites, make_device, login, typed, status, message):
    tag = make_device(two_sites["a"]).tag
    if typed == "mistyped":
        typed = mistype(tag)
    elif typed == "mistyped-url":
        i = next(i for i in range(len(tag) - 1) if tag[i] != tag[i + 1])
        typed = "HTTP://LOCALHOST/D/" + tag[:i] + tag[i + 1] + tag[i] + tag[i + 2:]  # two neighbours swapped
    elif typed == "unknown":
        data = next(d for d in ("22222", "33333", "44444") if d + tags.check_character(d) != tag)
        typed = data + tags.check_character(data)
    client = login_as(app, login, two_sites["reception_a"])

    response = client.get("/guichet/scanner", query_string={"code": typed})

    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert f'<p class="error" id="code-error">{message} </p>' in html
    assert 'aria-describedby="code-hint code-error"' in html and 'aria-invalid="true"' in html


def test_scan_of_a_device_of_another_site_opens_its_page(app, two_sites, make_device, login, device_page):
    # Returns are taken anywhere in the network: the scan opens the page, which limits what it shows.
    theirs = make_device(two_sites["b"])
    client = login_as(app, login, two_sites["reception_a"])
    response = client.get("/guichet/scanner", query_string={"code": theirs.tag})
    assert response.headers["Location"] == device_page(theirs.tag)


def test_scan_with_20000_devices_runs_two_queries(app, db, two_sites, login, count_queries, kinds, device_page):
    """Query count is asserted; the time is printed for the note, not asserted."""
    a = two_sites["a"]
    rows, seen = [], set()
    while len(rows) < 20_000:
        tag = tags.generate()
        if tag not in seen:
            seen.add(tag)
            rows.append(dict(tag=tag, kind_id=kinds["laptop"].id, home_site_id=a.id, current_site_id=a.id,
                             status=DeviceStatus.available))
    started = time.perf_counter()
    db.session.execute(insert(Device), rows)
    db.session.commit()
    built = time.perf_counter() - started
    client = login_as(app, login, two_sites["reception_a"])
    probes = [rows[i]["tag"] for i in range(0, 20_000, 400)]

    timings = []
    for tag in probes:
        with count_queries() as queries:
            started = time.perf_counter()
            response = client.get("/guichet/scanner", query_string={"code": "HTTP://LOCALHOST/D/" + tag})
            timings.append(time.perf_counter() - started)
        assert response.status_code == 302 and response.headers["Location"] == device_page(tag)
        assert queries() == 2  # the logged-in user, the device
    timings.sort()
    print(f"\n20,000 devices inserted in {built:.2f} s; desk scan over {len(timings)} scans: "
          f"median {timings[len(timings) // 2] * 1000:.1f} ms, max {timings[-1] * 1000:.1f} ms (test client, whole request)")


def test_staff_of_every_role_see_the_menu_entry(app, two_sites, login):
    for person in ("reception_a", "manager_a", "admin"):
        client = login_as(app, login, two_sites[person])
        assert '<a href="/guichet/scanner">Scanner</a>' in client.get("/espace").get_data(as_text=True)

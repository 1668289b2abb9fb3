"""Inventory pages over HTTP: the list (filters, sort, pages, per-site visibility), the device page
(full or limited), the named actions, create and edit with French messages, device kinds."""
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import core.clock
from loans import operations
from loans.models import Device, DeviceAction, DeviceEvent, DeviceKind, DeviceStatus
from tests.core.helpers import field_error, location_path, page_text, snapshot


def listed_tags(response) -> list[str]:
    return re.findall(r'<a class="tag" href="/equipements/([A-Z0-9]+)"', response.get_data(as_text=True))


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


# --- the list --------------------------------------------------------------------------------


def test_list_shows_only_the_devices_of_the_persons_sites(db, two_sites, make_device, client_for):
    mine = make_device(two_sites["a"], model="Modèle-A")
    theirs = make_device(two_sites["b"], model="Modèle-B")
    for who in ("reception_a", "manager_a"):
        response = client_for(two_sites[who]).get("/equipements")
        assert response.status_code == 200
        assert listed_tags(response) == [mine.tag]
        text = page_text(response)
        assert "Modèle-B" not in text and theirs.tag not in text and "Centre B" not in text
    admin = client_for(two_sites["admin"]).get("/equipements")
    assert sorted(listed_tags(admin)) == sorted([mine.tag, theirs.tag])


def test_a_device_of_b_lying_at_a_is_seen_at_a_with_its_bring_back_mark(db, two_sites, make_device, client_for):
    device = make_device(two_sites["b"])
    device.current_site_id = two_sites["a"].id
    db.session.commit()
    response = client_for(two_sites["reception_a"]).get("/equipements")
    assert listed_tags(response) == [device.tag]
    assert "À rapporter : se trouve à Centre A" in page_text(response)


def test_site_filter_offers_only_the_persons_sites(db, two_sites, client_for):
    text = page_text(client_for(two_sites["manager_a"]).get("/equipements"))
    assert f'<option value="{two_sites["a"].id}"' in text
    assert "Centre B" not in text


def test_filters_by_site_kind_status_and_text(db, two_sites, make_device, client_for):
    a, b = two_sites["a"], two_sites["b"]
    laptop = make_device(a, brand="Lenovo", model="ThinkPad E14", serial_number="PF-123-XYZ")
    tablet = make_device(a, kind="tablet", brand="Samsung", model="Galaxy Tab A8")
    broken = make_device(a, brand="Dell", model="Latitude 3420")
    operations.apply("send_to_repair", two_sites["admin"], broken.id, site_id=a.id)
    other = make_device(b, brand="Lenovo", model="ThinkPad E14")
    db.session.commit()
    admin = client_for(two_sites["admin"])
    kinds = {k.code: k.id for k in db.session.scalars(select(DeviceKind))}

    assert set(listed_tags(admin.get(f"/equipements?site={b.id}"))) == {other.tag}
    assert set(listed_tags(admin.get(f"/equipements?kind={kinds['tablet']}"))) == {tablet.tag}
    assert set(listed_tags(admin.get("/equipements?status=in_repair"))) == {broken.tag}
    assert set(listed_tags(admin.get("/equipements?q=thinkpad"))) == {laptop.tag, other.tag}
    assert set(listed_tags(admin.get("/equipements?q=samsung"))) == {tablet.tag}
    assert set(listed_tags(admin.get("/equipements?q=pf-123"))) == {laptop.tag}
    # Tag search ignores case and spaces.
    typed = " ".join(tablet.tag.lower()[i:i + 3] for i in (0, 3))
    assert set(listed_tags(admin.get("/equipements", query_string={"q": typed}))) == {tablet.tag}
    combined = admin.get(f"/equipements?site={a.id}&q=lenovo&status=available")
    assert set(listed_tags(combined)) == {laptop.tag}


def test_search_treats_percent_and_underscore_as_text(db, two_sites, make_device, client_for):
    make_device(two_sites["a"], model="ThinkPad")
    response = client_for(two_sites["manager_a"]).get("/equipements?q=%25")
    assert listed_tags(response) == []


def test_filters_are_kept_in_the_query_string_of_links(db, two_sites, make_device, client_for):
    for _ in range(3):
        make_device(two_sites["a"], brand="Lenovo")
    site = two_sites["a"].id
    response = client_for(two_sites["manager_a"]).get(f"/equipements?site={site}&status=available&q=lenovo&sort=-model")
    body = response.get_data(as_text=True)
    export = re.search(r'href="(/equipements/export\.csv[^"]*)"', body).group(1)
    assert f"site={site}" in export and "status=available" in export and "q=lenovo" in export
    sort_link = re.search(r'href="(/equipements\?[^"]*sort=tag[^"]*)"', body.replace("&amp;", "&")).group(1)
    assert f"site={site}" in sort_link and "q=lenovo" in sort_link
    assert 'name="q" value="lenovo"' in body


def test_sorting_by_each_column_both_ways(db, two_sites, make_device, client_for):
    a, b = two_sites["a"], two_sites["b"]
    d1 = make_device(a, kind="dongle", brand="Huawei", model="E3372")
    d2 = make_device(b, kind="laptop", brand="Acer", model="Aspire")
    d3 = make_device(a, kind="tablet", brand="Samsung", model="Tab")
    operations.apply("declare_lost", two_sites["admin"], d3.id, site_id=a.id)
    db.session.commit()
    admin = client_for(two_sites["admin"])
    assert listed_tags(admin.get("/equipements?sort=tag")) == sorted([d1.tag, d2.tag, d3.tag])
    assert listed_tags(admin.get("/equipements?sort=-tag")) == sorted([d1.tag, d2.tag, d3.tag], reverse=True)
    assert listed_tags(admin.get("/equipements?sort=kind")) == [d2.tag, d3.tag, d1.tag]  # laptop, tablet, dongle
    assert listed_tags(admin.get("/equipements?sort=model")) == [d2.tag, d1.tag, d3.tag]  # Acer, Huawei, Samsung
    assert listed_tags(admin.get("/equipements?sort=-model")) == [d3.tag, d1.tag, d2.tag]
    assert listed_tags(admin.get("/equipements?sort=status"))[0] in (d1.tag, d2.tag)  # available < lost
    assert listed_tags(admin.get("/equipements?sort=status"))[-1] == d3.tag
    site_order = listed_tags(admin.get("/equipements?sort=site"))
    assert site_order[-1] == d2.tag  # Centre A, Centre A, Centre B
    assert listed_tags(admin.get("/equipements?sort=-site"))[0] == d2.tag
    header = page_text(admin.get("/equipements?sort=-model"))
    assert 'aria-sort="descending"' in header


def test_pagination_fifty_per_page_with_current_page_marked(db, two_sites, make_device, client_for):
    a = two_sites["a"]
    devices = [make_device(a) for _ in range(53)]
    client = client_for(two_sites["manager_a"])
    first = client.get("/equipements")
    assert len(listed_tags(first)) == 50
    second = client.get("/equipements?page=2")
    assert listed_tags(second) == sorted(d.tag for d in devices)[50:]
    body = second.get_data(as_text=True)
    assert re.search(r'<a href="/equipements\?page=2" aria-current="page">', body)
    assert "53 équipements — 51 à 53 affichés" in page_text(second)


@pytest.mark.parametrize("query", [
    "page=-1", "page=abc", "page=0", "page=99999999999999999999", "page=9999", "sort=evil", "sort=-", "sort=--tag",
    "site=abc", "site=-3", "kind=%00", "status=broken", "q=" + "x" * 500, "sort=__class__", "page=1.5",
])
def test_bad_query_parameters_are_ignored_never_an_error(db, two_sites, make_device, client_for, query):
    device = make_device(two_sites["a"])
    response = client_for(two_sites["manager_a"]).get("/equipements?" + query)
    assert response.status_code == 200
    if not query.startswith(("q=", "status=", "kind=")):
        assert listed_tags(response) == [device.tag]


def test_a_page_past_the_end_shows_the_last_page(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    response = client_for(two_sites["manager_a"]).get("/equipements?page=40")
    assert listed_tags(response) == [device.tag]


def test_the_list_offers_to_print_the_ticked_or_listed_devices_labels(app, db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    body = client_for(two_sites["manager_a"]).get(f"/equipements?site={two_sites['a'].id}").get_data(as_text=True)
    assert 'id="labels-form" method="get" action="/etiquettes"' in body
    assert f'name="tag" value="{device.tag}"' in body and 'form="labels-form"' in body
    whole = re.search(r'href="(/etiquettes\?[^"]*)"', body).group(1).replace("&amp;", "&")
    assert f"site={two_sites['a'].id}" in whole


def test_menu_has_the_inventory_for_every_staff_member(db, two_sites, client_for):
    for who in ("reception_a", "manager_a", "admin"):
        text = page_text(client_for(two_sites[who]).get("/espace"))
        assert '<a href="/equipements">Inventaire</a>' in text
    assert "Types d'équipement" not in page_text(client_for(two_sites["manager_a"]).get("/espace"))
    assert "Types d'équipement" in page_text(client_for(two_sites["admin"]).get("/espace"))


def test_anonymous_is_sent_to_login(client, two_sites, make_device):
    device = make_device(two_sites["a"])
    for url in ("/equipements", f"/equipements/{device.tag}", "/equipements/export.csv", "/equipements/nouveau",
                "/equipements/import", f"/equipements/{device.tag}/modifier"):
        response = client.get(url)
        assert response.status_code == 302 and location_path(response) == "/connexion", url


# --- the device page -------------------------------------------------------------------------


def test_device_page_full_for_staff_of_its_site(db, two_sites, make_device, client_for, monkeypatch):
    a = two_sites["a"]
    monkeypatch.setattr(core.clock, "frozen_at", datetime(2026, 7, 14, 8, 5, tzinfo=UTC))
    device = make_device(a, actor=two_sites["manager_a"], brand="Lenovo", model="ThinkPad E14", serial_number="SN-42",
                         accessories="Chargeur\nHousse", funding="FEDER 2021-2027", purchase_date=date(2024, 3, 5),
                         purchase_price=Decimal("1234.50"), notes="Clavier AZERTY", condition_notes="Rayure sur le capot")
    operations.apply("send_to_repair", two_sites["manager_a"], device.id, site_id=a.id, note="Écran cassé")
    db.session.commit()
    response = client_for(two_sites["reception_a"]).get(f"/equipements/{device.tag}")
    assert response.status_code == 200
    text = page_text(response)
    for shown in ("ThinkPad E14", "SN-42", "Chargeur", "Housse", "FEDER 2021-2027", "mardi 5 mars 2024",
                  "1\u202f234,50 €", "Clavier AZERTY", "Rayure sur le capot", "En réparation", "Écran cassé",
                  "Envoyé en réparation", "Disponible → En réparation", "Ajouté à l'inventaire", two_sites["manager_a"].name,
                  "mardi 14 juillet 2026 à 10:05"):  # 08:05 UTC is 10:05 in Paris in summer
        assert shown in text, shown
    # Reception may see but not act or edit.
    assert "/actions/" not in text and "Modifier la fiche" not in text


def test_device_history_texts_are_escaped(db, two_sites, make_device, client_for):
    a = two_sites["a"]
    two_sites["manager_a"].name = "Agent <b>&</b>"
    device = make_device(a, actor=two_sites["manager_a"])
    operations.apply("send_to_repair", two_sites["manager_a"], device.id, site_id=a.id, note='<script>alert("x")</script> & co')
    db.session.commit()
    html = client_for(two_sites["manager_a"]).get(f"/equipements/{device.tag}").get_data(as_text=True)
    history = html[html.index('id="history-title"'):]
    assert "<script>alert" not in history and "<b>&" not in history
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in history
    assert history.count("Agent &lt;b&gt;&amp;&lt;/b&gt;") == 2  # added, then sent to repair
    assert '<td data-label="État">Disponible → En réparation</td>' in history


def test_device_page_limited_for_staff_of_another_site(db, two_sites, make_device, client_for):
    device = make_device(two_sites["b"], model="ThinkPad E14", serial_number="SN-SECRET", notes="Note interne",
                         purchase_price=Decimal("499.00"))
    operations.apply("send_to_repair", two_sites["manager_b"], device.id, site_id=two_sites["b"].id, note="Charnière")
    db.session.commit()
    for who in ("reception_a", "manager_a"):
        response = client_for(two_sites[who]).get(f"/equipements/{device.tag}")
        assert response.status_code == 200
        text = page_text(response)
        assert device.tag in text and "Ordinateur portable" in text and "En réparation" in text
        assert "Centre B" in text and two_sites["b"].phone in text
        for hidden in ("Note interne", "499", "Charnière", "Historique", "SN-SECRET", "/actions/", "Modifier la fiche",
                       two_sites["manager_b"].name):
            assert hidden not in text, hidden


def test_device_page_tag_is_case_insensitive_and_redirects_to_upper_case(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    response = client.get(f"/equipements/{device.tag.lower()}")
    assert response.status_code == 302 and location_path(response) == f"/equipements/{device.tag}"
    assert client.get("/equipements/ZZZZZZ").status_code == 404


def test_device_page_shows_the_bring_back_mark(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    device.current_site_id = two_sites["b"].id
    db.session.commit()
    text = page_text(client_for(two_sites["manager_a"]).get(f"/equipements/{device.tag}"))
    assert "À rapporter à Centre A" in text and "se trouve actuellement à Centre B" in text


def test_device_page_offers_the_managers_actions_next_one_first(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    operations.apply("send_to_repair", two_sites["manager_a"], device.id, site_id=two_sites["a"].id)
    db.session.commit()
    body = client_for(two_sites["manager_a"]).get(f"/equipements/{device.tag}").get_data(as_text=True)
    actions = re.findall(rf'action="/equipements/{device.tag}/actions/(\w+)"', body)
    assert actions[0] == "back_from_repair"
    assert set(actions) == {"back_from_repair", "declare_lost", "retire"}
    first_button = re.search(r'<button type="submit" class="([^"]+)">', body.split("/actions/back_from_repair")[1]).group(1)
    assert "primary" in first_button


# --- actions over HTTP -----------------------------------------------------------------------


def test_manager_sends_to_repair_with_a_note(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    response = client.post(f"/equipements/{device.tag}/actions/send_to_repair", data={"note": "  Écran cassé "})
    assert response.status_code == 302 and location_path(response) == f"/equipements/{device.tag}"
    db.session.expire_all()
    assert db.session.get(Device, device.id).status is DeviceStatus.in_repair
    event = db.session.scalars(select(DeviceEvent).order_by(DeviceEvent.id.desc())).first()
    assert (event.action, event.note, event.actor_id, event.site_id) == (
        DeviceAction.send_to_repair, "Écran cassé", two_sites["manager_a"].id, two_sites["a"].id)
    assert f"Équipement {device.tag} envoyé en réparation." in page_text(client.get(location_path(response)))


def test_refused_transition_shows_the_french_message_and_changes_nothing(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post(f"/equipements/{device.tag}/actions/back_from_repair", data={})
    assert response.status_code == 409
    assert "Cet équipement est disponible. L'action « Retour de réparation » n'est pas possible." in page_text(response)
    assert snapshot(db) == before


def test_reception_cannot_act(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["reception_a"])
    before = snapshot(db)
    response = client.post(f"/equipements/{device.tag}/actions/send_to_repair", data={})
    assert response.status_code == 409
    assert "Seuls les responsables de la structure" in page_text(response)
    assert snapshot(db) == before


def test_staff_of_another_site_are_refused_actions(db, two_sites, make_device, client_for):
    device = make_device(two_sites["b"])
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post(f"/equipements/{device.tag}/actions/retire", data={})
    assert response.status_code == 403
    assert snapshot(db) == before


def test_unknown_verb_is_a_404(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    assert client.post(f"/equipements/{device.tag}/actions/explode", data={}).status_code == 404
    assert client.post(f"/equipements/{device.tag}/actions/__init__", data={}).status_code == 404
    assert client.get(f"/equipements/{device.tag}/actions/retire").status_code == 405


def test_transfer_moves_the_device_to_the_chosen_site(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    page = client.get(f"/equipements/{device.tag}").get_data(as_text=True)
    assert f'<option value="{two_sites["b"].id}">Centre B</option>' in page
    response = client.post(f"/equipements/{device.tag}/actions/transfer", data={"to_site": two_sites["b"].id})
    assert response.status_code == 302
    db.session.expire_all()
    moved = db.session.get(Device, device.id)
    assert moved.home_site_id == moved.current_site_id == two_sites["b"].id


@pytest.mark.parametrize("to_site, message", [
    ("", "Choisissez une autre structure"), ("abc", "Choisissez une structure dans la liste."),
    ("99999", "Choisissez une structure dans la liste."),
])
def test_transfer_without_a_valid_destination_is_refused(db, two_sites, make_device, client_for, to_site, message):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post(f"/equipements/{device.tag}/actions/transfer", data={"to_site": to_site})
    assert response.status_code in (400, 409)
    assert message in page_text(response)
    assert snapshot(db) == before


def test_a_too_long_note_is_refused_next_to_it(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post(f"/equipements/{device.tag}/actions/send_to_repair", data={"note": "x" * 501})
    assert response.status_code == 400
    assert field_error(response, "note-send_to_repair") == "500 caractères au plus."
    assert snapshot(db) == before


# --- create and edit -------------------------------------------------------------------------

GOOD = {
    "brand": "Lenovo", "model": "ThinkPad E14", "serial_number": "PF-3X9Q", "accessories": "Chargeur\n\n  Housse \n",
    "condition_notes": "Très bon état", "funding": "FEDER 2021-2027", "purchase_date": "05/03/2024",
    "purchase_price": "1 234,56", "notes": "Clavier AZERTY",
}


def form_data(kinds, site, **changes):
    data = {**GOOD, "kind": kinds["laptop"].id, "home_site": site.id}
    data.update(changes)
    return data


def test_manager_creates_a_device(db, two_sites, kinds, client_for, monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    response = client_for(two_sites["manager_a"]).post("/equipements/nouveau", data=form_data(kinds, two_sites["a"]))
    assert response.status_code == 302
    device = db.session.scalar(select(Device))
    assert location_path(response) == f"/equipements/{device.tag}"
    assert (device.brand, device.model, device.serial_number, device.accessories) == (
        "Lenovo", "ThinkPad E14", "PF-3X9Q", "Chargeur\nHousse")
    assert (device.purchase_date, device.purchase_price) == (date(2024, 3, 5), Decimal("1234.56"))
    assert device.home_site_id == device.current_site_id == two_sites["a"].id
    assert device.status is DeviceStatus.available
    assert db.session.scalar(select(DeviceEvent.action)) is DeviceAction.created


def test_dongle_with_its_sim(db, two_sites, kinds, client_for):
    data = form_data(kinds, two_sites["a"], kind=kinds["dongle"].id, imei="35 209900 176148 1", phone_number="06 12 34 56 78",
                     operator="Orange", data_plan="100 Go", serial_number="")
    response = client_for(two_sites["manager_a"]).post("/equipements/nouveau", data=data)
    assert response.status_code == 302
    device = db.session.scalar(select(Device))
    assert (device.imei, device.phone_number, device.operator, device.serial_number) == (
        "352099001761481", "06 12 34 56 78", "Orange", None)


def test_create_form_shows_sim_fields_marked_for_the_script(db, two_sites, kinds, client_for):
    body = client_for(two_sites["manager_a"]).get("/equipements/nouveau").get_data(as_text=True)
    assert f'id="sim-fields" data-sim-kinds="{kinds["dongle"].id}"' in body
    assert 'name="imei"' in body  # present without JavaScript
    assert "Centre B" not in body


@pytest.mark.parametrize("changes, field, message", [
    ({"kind": ""}, "kind", "Choisissez le type d'équipement."),
    ({"kind": "999"}, "kind", "Choisissez un type d'équipement dans la liste."),
    ({"kind": "abc"}, "kind", "Choisissez un type d'équipement dans la liste."),
    ({"home_site": ""}, "home_site", "Choisissez la structure de l'équipement."),
    ({"home_site": "SITE_B"}, "home_site", "Choisissez une de vos structures."),
    ({"purchase_date": "31/02/2024"}, "purchase_date", "Cette date n'existe pas : « 31/02/2024 »."),
    ({"purchase_date": "12/13/2024"}, "purchase_date", "Cette date n'existe pas : « 12/13/2024 »."),
    ({"purchase_date": "demain"}, "purchase_date", "Date illisible : « demain »."),
    ({"purchase_date": "27/11/2026"}, "purchase_date", "La date d'achat ne peut pas être dans le futur."),
    ({"purchase_date": "01/01/1900"}, "purchase_date", "Choisissez une date entre le 01/01/2000 et le"),  # too old
    ({"purchase_price": "-5"}, "purchase_price", "Le prix ne peut pas être négatif."),
    ({"purchase_price": "douze"}, "purchase_price", "Montant illisible : « douze »."),
    ({"purchase_price": "12,345"}, "purchase_price", "Le prix a au plus deux chiffres après la virgule."),
    ({"purchase_price": "1e9"}, "purchase_price", "Montant illisible"),
    ({"purchase_price": "999999999"}, "purchase_price", "Ce prix est trop élevé."),
    # more digits than the decimal context
    ({"purchase_price": "123456789012345678901234567890,99"}, "purchase_price", "Ce prix est trop élevé."),
    ({"imei": "1234"}, "imei", "L'IMEI compte 15 chiffres"),
    ({"phone_number": "appelez-moi"}, "phone_number", "Numéro de téléphone invalide"),
    ({"brand": "x" * 81}, "brand", "80 caractères au plus."),
    ({"model": "x" * 121}, "model", "120 caractères au plus."),
    ({"serial_number": "x" * 121}, "serial_number", "120 caractères au plus."),
    ({"notes": "x" * 4001}, "notes", "4 000 caractères au plus."),
])
def test_bad_input_on_create_is_refused_next_to_the_field(db, two_sites, kinds, client_for, monkeypatch, changes, field, message):
    monkeypatch.setattr(core.clock, "frozen_at", datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    changes = {k: (two_sites["b"].id if v == "SITE_B" else v) for k, v in changes.items()}
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post("/equipements/nouveau", data=form_data(kinds, two_sites["a"], **changes))
    assert response.status_code == 400
    assert message in (field_error(response, field) or "")
    assert "La fiche n'est pas enregistrée" in page_text(response)
    assert snapshot(db) == before


def test_duplicate_serial_on_create_is_refused(db, two_sites, kinds, make_device, client_for):
    make_device(two_sites["b"], serial_number="PF-3X9Q")
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post("/equipements/nouveau", data=form_data(kinds, two_sites["a"]))
    assert response.status_code == 400
    assert field_error(response, "serial_number") == "Ce numéro de série est déjà dans l'inventaire."
    assert snapshot(db) == before


def test_reception_cannot_create_or_edit(db, two_sites, kinds, make_device, client_for):
    device = make_device(two_sites["a"])
    client = client_for(two_sites["reception_a"])
    before = snapshot(db)
    assert client.get("/equipements/nouveau").status_code == 403
    assert client.post("/equipements/nouveau", data=form_data(kinds, two_sites["a"])).status_code == 403
    assert client.post(f"/equipements/{device.tag}/modifier", data=form_data(kinds, two_sites["a"])).status_code == 403
    assert snapshot(db) == before


def test_manager_edits_a_device_tag_and_site_unchanged(db, two_sites, kinds, make_device, client_for):
    device = make_device(two_sites["a"], serial_number="OLD")
    tag = device.tag
    data = form_data(kinds, two_sites["a"], model="ThinkPad T14", serial_number="NEW", home_site=two_sites["b"].id, tag="AAAAAA")
    response = client_for(two_sites["manager_a"]).post(f"/equipements/{tag}/modifier", data=data)
    assert response.status_code == 302 and location_path(response) == f"/equipements/{tag}"
    db.session.expire_all()
    device = db.session.get(Device, device.id)
    assert (device.tag, device.model, device.serial_number, device.home_site_id) == (tag, "ThinkPad T14", "NEW", two_sites["a"].id)
    event = db.session.scalars(select(DeviceEvent).order_by(DeviceEvent.id.desc())).first()
    assert event.action is DeviceAction.edited and "modèle" in event.note and "numéro de série" in event.note


def test_edit_form_is_filled_with_the_device(db, two_sites, make_device, client_for):
    device = make_device(two_sites["a"], purchase_date=date(2023, 9, 25), purchase_price=Decimal("1349.9"), accessories="Chargeur\nHousse")
    body = client_for(two_sites["manager_a"]).get(f"/equipements/{device.tag}/modifier").get_data(as_text=True)
    assert 'value="25/09/2023"' in body and 'value="1 349,90"' in body and "Chargeur\nHousse" in body
    assert 'name="home_site"' not in body and 'name="tag"' not in body


def test_edit_with_bad_input_saves_nothing(db, two_sites, kinds, make_device, client_for):
    device = make_device(two_sites["a"])
    make_device(two_sites["a"], serial_number="TAKEN")
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    response = client.post(f"/equipements/{device.tag}/modifier", data=form_data(kinds, two_sites["a"], serial_number="TAKEN"))
    assert response.status_code == 400
    assert field_error(response, "serial_number") == "Ce numéro de série est déjà dans l'inventaire."
    response = client.post(f"/equipements/{device.tag}/modifier", data=form_data(kinds, two_sites["a"], purchase_date="30/02/2023"))
    assert response.status_code == 400 and "n'existe pas" in field_error(response, "purchase_date")
    assert snapshot(db) == before


def test_manager_of_another_site_cannot_edit(db, two_sites, kinds, make_device, client_for):
    device = make_device(two_sites["b"])
    client = client_for(two_sites["manager_a"])
    before = snapshot(db)
    assert client.get(f"/equipements/{device.tag}/modifier").status_code == 403
    assert client.post(f"/equipements/{device.tag}/modifier", data=form_data(kinds, two_sites["a"])).status_code == 403
    assert snapshot(db) == before


# --- device kinds ----------------------------------------------------------------------------


def test_admin_adds_a_device_kind(db, two_sites, kinds, client_for):
    client = client_for(two_sites["admin"])
    response = client.post("/admin/types-equipement", data={"name": "Liseuse", "code": "Liseuse", "has_sim": "y"})
    assert response.status_code == 302
    kind = db.session.scalar(select(DeviceKind).where(DeviceKind.code == "liseuse"))
    assert (kind.name, kind.has_sim, kind.holds_personal_data) == ("Liseuse", True, False)
    assert "Liseuse" in page_text(client.get("/admin/types-equipement"))


@pytest.mark.parametrize("data, field, message", [
    ({"name": "", "code": "x1"}, "name", "Indiquez le nom du type."),
    ({"name": "Casque", "code": ""}, "code", "Indiquez un code."),
    ({"name": "Casque", "code": "é é"}, "code", "Le code a de 2 à 40 caractères"),
    ({"name": "tablette", "code": "tab2"}, "name", "Un type porte déjà ce nom."),
    ({"name": "Autre", "code": "laptop"}, "code", "Ce code est déjà pris par le type « Ordinateur portable »."),
])
def test_bad_device_kind_is_refused(db, two_sites, kinds, client_for, data, field, message):
    client = client_for(two_sites["admin"])
    before = snapshot(db)
    response = client.post("/admin/types-equipement", data=data)
    assert response.status_code == 400
    assert message in field_error(response, field)
    assert snapshot(db) == before


def test_device_kinds_page_is_for_admins_only(db, two_sites, kinds, client_for):
    assert client_for(two_sites["manager_a"]).get("/admin/types-equipement").status_code == 403
    before = count(db, DeviceKind)
    assert client_for(two_sites["manager_a"]).post("/admin/types-equipement", data={"name": "X", "code": "xx"}).status_code == 403
    assert count(db, DeviceKind) == before

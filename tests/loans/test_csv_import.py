"""CSV import of an inventory: encodings, separators, French headers, row errors, all or nothing."""
import io
import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

import core.clock
from core.models import Role
from loans import csv_io, tags
from loans.models import Device, DeviceAction, DeviceEvent, DeviceImportDraft, DeviceStatus
from tests.core.helpers import field_error, hidden_inputs, location_path, page_text, snapshot

HEADER = ["Type", "Marque", "Modèle", "Numéro de série", "IMEI", "Numéro de téléphone", "Opérateur", "Forfait",
          "Accessoires", "Structure", "État", "Financement", "Date d'achat", "Prix d'achat", "Notes"]


def laptop(serial, site="Centre A", **changes):
    row = {"Type": "Ordinateur portable", "Marque": "Lenovo", "Modèle": "ThinkPad E14", "Numéro de série": serial,
           "Accessoires": "Chargeur, Housse", "Structure": site, "Financement": "FEDER 2021-2027",
           "Date d'achat": "25/09/2023", "Prix d'achat": "1 234,56", "Notes": "Salle 2"}
    row.update(changes)
    return row


def dongle(serial, site="Centre A", **changes):
    row = {"Type": "Clé 4G", "Marque": "Huawei", "Modèle": "E3372", "Numéro de série": serial, "IMEI": "352099001761481",
           "Numéro de téléphone": "06 12 34 56 78", "Opérateur": "Orange", "Forfait": "100 Go", "Accessoires": "SIM | Rallonge USB",
           "Structure": site, "État": "En réparation"}
    row.update(changes)
    return row


def make_csv(rows, sep=";", encoding="utf-8-sig", header=HEADER) -> bytes:
    out = io.StringIO()
    import csv

    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode(encoding)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def manager(app, two_sites, kinds, login):
    client = app.test_client()
    assert login(two_sites["manager_a"], target=client).status_code == 302
    return client


def upload(client, content: bytes, filename="inventaire.csv"):
    # Encoded in memory: the test client would spool a big body to a temporary file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), filename=filename, content_type="text/csv")})
    return client.post("/equipements/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def confirm(client, preview_response):
    token = dict(hidden_inputs(preview_response))["token"]
    return client.post("/equipements/import/confirmer", data={"token": token})


def devices(db):
    return db.session.scalars(select(Device).order_by(Device.id)).all()


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


# --- what French offices send ------------------------------------------------------------------


def test_utf8_with_bom_and_semicolons_preview_then_import(db, two_sites, manager):
    content = make_csv([laptop("SN-1"), dongle("SN-2")])
    preview = upload(manager, content)
    assert preview.status_code == 200
    text = page_text(preview)
    assert "2 équipements prêts à être importés." in text and "Séparateur « ; », encodage UTF-8." in text
    assert "Importer les 2 équipements" in text
    assert count(db, Device) == 0  # nothing before the confirmation

    response = confirm(manager, preview)
    assert response.status_code == 302 and location_path(response) == "/equipements"
    first, second = devices(db)
    assert (first.kind.code, first.brand, first.model, first.serial_number) == ("laptop", "Lenovo", "ThinkPad E14", "SN-1")
    assert (first.accessories, first.purchase_date, first.purchase_price) == ("Chargeur\nHousse", date(2023, 9, 25), Decimal("1234.56"))
    assert (first.funding, first.notes, first.status) == ("FEDER 2021-2027", "Salle 2", DeviceStatus.available)
    assert first.home_site_id == first.current_site_id == two_sites["a"].id
    assert (second.kind.code, second.imei, second.phone_number, second.operator, second.data_plan) == (
        "dongle", "352099001761481", "06 12 34 56 78", "Orange", "100 Go")
    assert (second.accessories, second.status) == ("SIM\nRallonge USB", DeviceStatus.in_repair)
    assert all(tags.is_valid(d.tag) for d in (first, second))
    events = db.session.scalars(select(DeviceEvent).order_by(DeviceEvent.id)).all()
    imported = (DeviceAction.imported, two_sites["manager_a"].id, two_sites["a"].id)
    assert [(e.action, e.actor_id, e.site_id) for e in events] == [imported] * 2
    assert events[0].note == "Fichier inventaire.csv, ligne 2"
    assert count(db, DeviceImportDraft) == 0
    assert "2 équipements importés depuis inventaire.csv." in page_text(manager.get("/equipements"))


def test_windows_1252_with_commas(db, two_sites, manager):
    content = make_csv([dongle("SN-É1", Notes="Livrée à l'accueil"), laptop("SN-2", **{"Prix d'achat": "349,90 €"})],
                       sep=",", encoding="cp1252")
    assert content.decode("cp1252") and b"\xc9" in content  # É in Windows-1252
    preview = upload(manager, content)
    assert preview.status_code == 200
    assert "Séparateur « , », encodage WINDOWS-1252." in page_text(preview)
    assert confirm(manager, preview).status_code == 302
    first, second = devices(db)
    assert (first.kind.name, first.serial_number, first.notes) == ("Clé 4G", "SN-É1", "Livrée à l'accueil")
    assert second.purchase_price == Decimal("349.90")


def test_utf8_without_bom_and_commas(db, manager):
    preview = upload(manager, make_csv([laptop("SN-1")], sep=",", encoding="utf-8"))
    assert preview.status_code == 200
    assert confirm(manager, preview).status_code == 302
    assert [d.serial_number for d in devices(db)] == ["SN-1"]


def test_headers_ignore_case_accents_and_order_unknown_columns_are_listed(db, manager):
    header = ["STRUCTURE", "n° de serie", "modele", "TYPE", "Couleur"]
    rows = [{"STRUCTURE": "centre a", "n° de serie": "SN-9", "modele": "iPad", "TYPE": "tablette", "Couleur": "gris"}]
    preview = upload(manager, make_csv(rows, header=header))
    assert preview.status_code == 200
    assert "Colonnes ignorées : Couleur." in page_text(preview)
    confirm(manager, preview)
    device = devices(db)[0]
    assert (device.kind.code, device.serial_number, device.model) == ("tablet", "SN-9", "iPad")


def test_quoted_cells_with_separators_and_line_breaks(db, manager):
    content = ('Type;Structure;Notes;Accessoires\r\n'
               '"Ordinateur portable";"Centre A";"Première ligne\nseconde; avec point-virgule";"Chargeur 65 W, USB-C"\r\n').encode()
    preview = upload(manager, content)
    confirm(manager, preview)
    device = devices(db)[0]
    assert device.notes == "Première ligne\nseconde; avec point-virgule"
    assert device.accessories == "Chargeur 65 W\nUSB-C"


# --- file-level errors -------------------------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (make_csv([laptop("SN-1")], header=[c for c in HEADER if c != "Type"]), "Colonne obligatoire absente : « Type »."),
    (make_csv([laptop("SN-1")], header=[c for c in HEADER if c != "Structure"]), "Colonne obligatoire absente : « Structure »."),
    (b"", "Le fichier est vide."),
    (b"\r\n\r\n", "Le fichier est vide."),
    (make_csv([]), "Le fichier ne contient aucune ligne d'équipement"),
    (b"PK\x03\x04\x00\x00\x08\x00", "Ce fichier n'est pas un fichier CSV"),
    # A NUL after the first 4 KB (PostgreSQL refuses it in a text column): refused as well.
    (make_csv([laptop(f"SN-{n}") for n in range(40)] + [laptop("SN-\x00")]), "Ce fichier n'est pas un fichier CSV"),
    ("Type;Structure;Type\nClé 4G;Centre A;Clé 4G\n".encode(), "La colonne « Type » apparaît deux fois."),
])
def test_file_errors(db, manager, content, message):
    before = snapshot(db)
    response = upload(manager, content)
    assert response.status_code == 400
    text = page_text(response)
    assert message in text and "Rien n'a été importé." in text
    assert "/equipements/import/confirmer" not in text
    assert snapshot(db) == before


def test_no_file_is_a_message_next_to_the_field(db, manager):
    response = manager.post("/equipements/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert field_error(response, "file") == "Choisissez le fichier CSV à importer."


# --- row errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("row, message", [
    (laptop("SN-1", Type="Imprimante"), "Type inconnu : « Imprimante ». Types connus : Ordinateur portable, Tablette, Clé 4G."),
    (laptop("SN-1", Type=""), "Type manquant."),
    (laptop("SN-1", site="Centre Inconnu"), "Structure inconnue : « Centre Inconnu »."),
    (laptop("SN-1", site=""), "Structure manquante."),
    (laptop("SN-1", site="Centre B"), "Vous ne gérez pas la structure « Centre B »."),
    (laptop("SN-1", **{"Date d'achat": "31/02/2023"}), "Date d'achat : Cette date n'existe pas : « 31/02/2023 »."),
    (laptop("SN-1", **{"Date d'achat": "2023/09/25"}), "Date d'achat : Date illisible : « 2023/09/25 »."),
    (laptop("SN-1", **{"Date d'achat": "01/12/2026"}), "Date d'achat : La date d'achat ne peut pas être dans le futur."),
    (laptop("SN-1", **{"Prix d'achat": "mille"}), "Prix d'achat : Montant illisible : « mille »."),
    (laptop("SN-1", **{"Prix d'achat": "-10,00"}), "Prix d'achat : Le prix ne peut pas être négatif."),
    (laptop("SN-1", État="Cassé"), "État inconnu : « Cassé »"),
    (laptop("SN-1", État="En prêt"), "Un équipement ne s'importe pas « en prêt »"),
    (dongle("SN-1", IMEI="12"), "IMEI « 12 » : L'IMEI compte 15 chiffres"),
    (dongle("SN-1", **{"Numéro de téléphone": "appeler Paul"}), "Numéro de téléphone invalide : « appeler Paul »."),
    (laptop("SN-1", Marque="x" * 81), "Marque : 80 caractères au plus."),
    (laptop("x" * 121), "Numéro de série : 120 caractères au plus."),
])
def test_row_errors_are_shown_in_french_and_nothing_is_imported(db, manager, row, message):
    before = snapshot(db)
    response = upload(manager, make_csv([laptop("OK-1"), row]))
    assert response.status_code == 400
    text = page_text(response)
    assert message in text
    assert "1 ligne sur 2 comporte une erreur." in text
    assert "Importer les" not in text and "/equipements/import/confirmer" not in text
    assert snapshot(db) == before


def test_reception_agents_cannot_import(app, db, two_sites, kinds, login):
    client = app.test_client()
    login(two_sites["reception_a"], target=client)
    before = snapshot(db)
    assert client.get("/equipements/import").status_code == 403
    assert upload(client, make_csv([laptop("SN-1")])).status_code == 403
    assert snapshot(db) == before


def test_admin_imports_into_any_site(app, db, two_sites, kinds, login):
    client = app.test_client()
    login(two_sites["admin"], target=client)
    preview = upload(client, make_csv([laptop("SN-1", site="Centre B"), laptop("SN-2")]))
    assert confirm(client, preview).status_code == 302
    assert sorted(d.home_site.name for d in devices(db)) == ["Centre A", "Centre B"]


def test_current_site_must_be_one_of_the_importers_sites(app, db, two_sites, kinds, make_site, make_user, login, manager):
    header = [*HEADER, "Structure actuelle"]
    before = snapshot(db)
    response = upload(manager, make_csv([laptop("SN-1", **{"Structure actuelle": "Centre B"}), laptop("SN-2")], header=header))
    assert response.status_code == 400
    text = page_text(response)
    assert "Vous ne gérez pas la structure actuelle « Centre B »." in text
    assert "1 ligne sur 2 comporte une erreur." in text
    assert snapshot(db) == before

    # A manager of two sites may keep a device of one at the other.
    c = make_site("Centre C")
    both = app.test_client()
    login(make_user(Role.manager, [two_sites["a"], c]), target=both)
    preview = upload(both, make_csv([laptop("SN-1", **{"Structure actuelle": "Centre C"})], header=header))
    assert confirm(both, preview).status_code == 302
    (device,) = devices(db)
    assert (device.home_site_id, device.current_site_id) == (two_sites["a"].id, c.id)


# --- duplicates --------------------------------------------------------------------------------


def test_duplicate_serial_within_the_file(db, manager):
    response = upload(manager, make_csv([laptop("SN-1"), laptop("SN-2"), laptop("SN-1")]))
    assert response.status_code == 400
    text = page_text(response)
    assert text.count("Numéro de série « SN-1 » en double dans le fichier (lignes 2, 4).") == 2
    assert "2 lignes sur 3 comportent des erreurs." in text
    assert count(db, Device) == 0


def test_duplicate_serial_already_in_the_database_whatever_its_site(db, two_sites, make_device, manager):
    make_device(two_sites["b"], serial_number="SN-1")
    before = snapshot(db)
    response = upload(manager, make_csv([laptop("SN-1"), laptop("SN-2")]))
    assert response.status_code == 400
    assert "Le numéro de série « SN-1 » est déjà dans l'inventaire." in page_text(response)
    assert snapshot(db) == before


def test_serial_added_between_preview_and_confirmation_imports_nothing(db, two_sites, make_device, manager):
    preview = upload(manager, make_csv([laptop("SN-1"), laptop("SN-2")]))
    assert preview.status_code == 200
    make_device(two_sites["b"], serial_number="SN-2")
    before = snapshot(db)
    response = confirm(manager, preview)
    assert response.status_code == 409
    assert "Le numéro de série « SN-2 » est déjà dans l'inventaire." in page_text(response)
    assert snapshot(db) == before


def test_codes_from_a_previous_export_are_kept_and_checked(db, two_sites, make_device, manager):
    existing = make_device(two_sites["a"])
    kept, bad_check = tags.generate(), tags.generate()
    typo = bad_check[:-1] + next(c for c in tags.ALPHABET if c != bad_check[-1])
    header = ["Code", *HEADER]
    response = upload(manager, make_csv([laptop("SN-1", Code=kept.lower()), laptop("SN-2", Code=existing.tag),
                                         laptop("SN-3", Code=typo), laptop("SN-4", Code="ABC"),
                                         laptop("SN-5", Code=kept)], header=header))
    text = page_text(response)
    assert f"Le code « {existing.tag} » est déjà celui d'un équipement de l'inventaire." in text
    assert f"Le code « {typo} » contient une erreur de frappe." in text
    assert "Code invalide : « ABC »" in text
    assert f"Code « {kept} » en double dans le fichier (lignes 2, 6)." in text

    preview = upload(manager, make_csv([laptop("SN-1", Code=kept.lower()), laptop("SN-2")], header=header))
    assert confirm(manager, preview).status_code == 302
    assert kept in {d.tag for d in devices(db)}


# --- the draft between preview and confirmation ------------------------------------------------


# The session must outlive the draft (2 hours) for the draft's own expiry to be what refuses.
@pytest.mark.parametrize("app_config", [{"STAFF_IDLE_TIMEOUT_MINUTES": 0}])
def test_confirmation_needs_the_uploaders_own_fresh_draft(app, db, two_sites, kinds, make_user, login, manager, monkeypatch):
    preview = upload(manager, make_csv([laptop("SN-1")]))
    token = dict(hidden_inputs(preview))["token"]
    colleague = app.test_client()
    login(make_user(Role.manager, [two_sites["a"]]), target=colleague)
    response = colleague.post("/equipements/import/confirmer", data={"token": token})
    assert response.status_code == 400 and "Cet aperçu a expiré ou n'existe pas" in page_text(response)
    assert manager.post("/equipements/import/confirmer", data={"token": "forged"}).status_code == 400
    assert count(db, Device) == 0
    monkeypatch.setattr(core.clock, "frozen_at", datetime(2026, 11, 26, 11, 1, tzinfo=UTC))
    response = manager.post("/equipements/import/confirmer", data={"token": token})
    assert response.status_code == 400 and "Cet aperçu a expiré" in page_text(response)
    assert count(db, Device) == 0


def test_a_confirmed_draft_cannot_import_twice(db, manager):
    preview = upload(manager, make_csv([laptop("SN-1")]))
    assert confirm(manager, preview).status_code == 302
    assert confirm(manager, preview).status_code == 400
    assert count(db, Device) == 1


def test_a_new_upload_replaces_the_previous_draft(db, manager):
    upload(manager, make_csv([laptop("SN-1")]))
    upload(manager, make_csv([laptop("SN-2")]))
    assert count(db, DeviceImportDraft) == 1


# --- size: 5,000 rows, all or nothing ----------------------------------------------------------


def big_file(n, bad_line=None):
    rows = [laptop(f"SN-{i:05d}", **({"Date d'achat": "32/01/2023"} if i + 2 == bad_line else {})) for i in range(n)]
    return make_csv(rows)


def test_an_error_in_row_4999_of_5000_imports_nothing(db, manager):
    before = snapshot(db)
    response = upload(manager, big_file(5000, bad_line=5000))  # file line 5000 = data row 4,999
    assert response.status_code == 400
    text = page_text(response)
    assert "1 ligne sur 5000 comporte une erreur." in text and "Cette date n'existe pas : « 32/01/2023 »." in text
    assert re.search(r"<td data-label=\"Ligne\">5000</td>", response.get_data(as_text=True))
    assert snapshot(db) == before


def test_a_failure_while_inserting_rolls_back_every_row(db, two_sites, manager, monkeypatch):
    """All or nothing even when the database refuses a row in the middle of the insert."""
    from core.models import Site
    from loans import operations

    preview = upload(manager, big_file(300))
    site_b_id = two_sites["b"].id
    real = operations.create_devices_in_bulk

    def concurrent_creation(actor, rows, **kwargs):
        # Someone adds a device with the serial of row 150 while the import runs (inside the request's
        # transaction, so that SQLite's write lock does not block it): the unique index refuses row 150.
        site = db.session.get(Site, site_b_id)
        operations.create_device(None, site, operations.ensure_default_kinds()["laptop"], serial_number=rows[150]["serial_number"])
        return real(actor, rows, **kwargs)

    monkeypatch.setattr(operations, "create_devices_in_bulk", concurrent_creation)
    response = confirm(manager, preview)
    assert response.status_code == 409
    assert "« SN-00150 » vient d'être ajouté à l'inventaire par quelqu'un d'autre : rien n'a été importé." in page_text(response)
    assert count(db, Device) == 0 and count(db, DeviceEvent) == 0


def test_five_thousand_rows_are_imported(db, manager, capsys):
    content = big_file(5000)
    started = time.perf_counter()
    preview = upload(manager, content)
    previewed = time.perf_counter()
    assert preview.status_code == 200
    response = confirm(manager, preview)
    finished = time.perf_counter()
    assert response.status_code == 302
    assert count(db, Device) == 5000 and count(db, DeviceEvent) == 5000
    assert len(set(db.session.scalars(select(Device.tag)))) == 5000
    with capsys.disabled():
        print(f"\n[5,000-row CSV import on {db.engine.dialect.name}] preview {previewed - started:.2f} s, "
              f"confirm {finished - previewed:.2f} s, file {len(content) // 1024} KiB")


def test_parse_is_independent_of_the_database():
    preview = csv_io.parse(make_csv([laptop("SN-1")], sep=","))
    assert preview.delimiter == "," and [r.cell("serial_number") for r in preview.rows] == ["SN-1"]


def test_a_file_over_8_mb_is_refused_with_the_413_page(db, manager):
    content = make_csv([laptop("SN-1")]) + b"x" * (8 * 1024 * 1024)
    response = upload(manager, content)
    assert response.status_code == 413
    assert "Le fichier envoyé est trop gros (8 Mo au plus)." in page_text(response)
    assert count(db, DeviceImportDraft) == 0

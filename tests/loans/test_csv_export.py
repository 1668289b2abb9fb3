"""CSV export of the filtered inventory: what Excel opens (BOM, `;`, French dates and decimals), per site,
and a round trip through the import that keeps every field and every label code."""
import csv
import io
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from loans import operations
from loans.models import Device, DeviceEvent, DeviceStatus
from tests.core.helpers import hidden_inputs


def read_export(response) -> list[dict]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM: Excel would show mojibake"
    return list(csv.DictReader(io.StringIO(body[3:].decode("utf-8"), newline=""), delimiter=";"))


def test_export_is_what_french_excel_opens(db, two_sites, make_device, client_for):
    make_device(two_sites["a"], brand="Lenovo", model="ThinkPad E14", serial_number="SN-1", purchase_date=date(2023, 9, 5),
                purchase_price=Decimal("1234.5"), accessories="Chargeur\nHousse", funding="FEDER 2021-2027")
    response = client_for(two_sites["manager_a"]).get("/equipements/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="inventaire-')
    body = response.get_data()
    first_line = body[3:].split(b"\r\n")[0].decode()
    assert first_line.startswith("Code;Type;Marque;Modèle;Numéro de série;")
    assert b"\r\n" in body
    (row,) = read_export(response)
    assert (row["Type"], row["Structure"], row["État"]) == ("Ordinateur portable", "Centre A", "Disponible")
    assert (row["Date d'achat"], row["Prix d'achat"], row["Accessoires"]) == ("05/09/2023", "1234,50", "Chargeur | Housse")


def test_export_keeps_the_filters_and_the_sites(db, two_sites, make_device, client_for):
    a1 = make_device(two_sites["a"], brand="Lenovo")
    a2 = make_device(two_sites["a"], brand="Dell")
    b1 = make_device(two_sites["b"], brand="Lenovo")
    operations.apply("send_to_repair", two_sites["admin"], a2.id, site_id=two_sites["a"].id)
    db.session.commit()
    reception = client_for(two_sites["reception_a"])
    assert {r["Code"] for r in read_export(reception.get("/equipements/export.csv"))} == {a1.tag, a2.tag}
    assert {r["Code"] for r in read_export(reception.get("/equipements/export.csv?status=in_repair"))} == {a2.tag}
    assert {r["Code"] for r in read_export(reception.get(f"/equipements/export.csv?site={two_sites['b'].id}"))} == set()
    assert b1.tag.encode() not in reception.get("/equipements/export.csv").get_data()
    admin = client_for(two_sites["admin"])
    assert {r["Code"] for r in read_export(admin.get("/equipements/export.csv?q=lenovo"))} == {a1.tag, b1.tag}


def test_cells_excel_would_run_as_formulas_are_protected(db, two_sites, make_device, client_for):
    make_device(two_sites["a"], notes="=HYPERLINK(\"http://evil\")", model="+33 modèle", serial_number="-1")
    (row,) = read_export(client_for(two_sites["manager_a"]).get("/equipements/export.csv"))
    assert row["Notes"] == "'=HYPERLINK(\"http://evil\")" and row["Modèle"] == "'+33 modèle" and row["Numéro de série"] == "'-1"


def test_round_trip_export_then_import_keeps_every_field_and_code(db, two_sites, kinds, make_device, client_for):
    a, b = two_sites["a"], two_sites["b"]
    originals = [
        make_device(a, brand="Lenovo", model="ThinkPad E14", serial_number="SN-1", purchase_date=date(2023, 9, 5),
                    purchase_price=Decimal("1234.56"), accessories="Chargeur 65 W, USB-C\nHousse", funding="FEDER 2021-2027",
                    notes="Ligne 1\nLigne 2; avec séparateur", condition_notes="=rayure"),
        make_device(a, kind="dongle", brand="Huawei", model="E3372", imei="352099001761481", phone_number="+33 6 12 34 56 78",
                    operator="Orange", data_plan="100 Go", accessories="SIM"),
        make_device(b, kind="tablet", brand="Samsung", model="Galaxy Tab A8", purchase_price=Decimal("0")),
    ]
    operations.apply("send_to_repair", two_sites["admin"], originals[0].id, site_id=a.id)
    originals[1].current_site_id = b.id  # lying at B, to be brought back to A
    operations.apply("declare_lost", two_sites["admin"], originals[2].id, site_id=b.id)
    db.session.commit()
    columns = ("tag", "kind_id", "brand", "model", "serial_number", "imei", "phone_number", "operator", "data_plan",
               "accessories", "home_site_id", "current_site_id", "status", "condition_notes", "funding", "purchase_date",
               "purchase_price", "notes")
    before = sorted(tuple(getattr(d, c) for c in columns) for d in db.session.scalars(select(Device)))
    admin = client_for(two_sites["admin"])
    exported = admin.get("/equipements/export.csv").get_data()

    # A fresh installation (or a wiped inventory) gets the same devices back, with the codes of their labels.
    db.session.execute(delete(DeviceEvent))
    db.session.execute(delete(Device))
    db.session.commit()
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(exported), filename="export.csv")})
    preview = admin.post("/equipements/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert preview.status_code == 200, preview.get_data(as_text=True)
    token = dict(hidden_inputs(preview))["token"]
    assert admin.post("/equipements/import/confirmer", data={"token": token}).status_code == 302

    db.session.expire_all()
    after = sorted(tuple(getattr(d, c) for c in columns) for d in db.session.scalars(select(Device)))
    assert after == before
    statuses = {d.status for d in db.session.scalars(select(Device))}
    assert statuses == {DeviceStatus.in_repair, DeviceStatus.available, DeviceStatus.lost}

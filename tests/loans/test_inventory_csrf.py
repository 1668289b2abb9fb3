"""Inventory forms with CSRF protection on, as in production: a post without the page's token changes nothing."""
import io

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from loans.models import Device, DeviceStatus
from tests.core.helpers import csrf_token, hidden_inputs, page_text, snapshot


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def manager(app, two_sites, kinds):
    client = app.test_client()
    token = csrf_token(client.get("/connexion"))
    from tests.conftest import PASSWORD

    response = client.post("/connexion", data={"email": two_sites["manager_a"].email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def test_action_needs_the_token_of_the_page(db, two_sites, make_device, manager):
    device = make_device(two_sites["a"])
    before = snapshot(db)
    refused = manager.post(f"/equipements/{device.tag}/actions/send_to_repair", data={"note": "sans jeton"})
    assert refused.status_code == 400 and "Votre formulaire a expiré" in page_text(refused)
    assert snapshot(db) == before

    page = manager.get(f"/equipements/{device.tag}")
    response = manager.post(f"/equipements/{device.tag}/actions/send_to_repair", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Device, device.id).status is DeviceStatus.in_repair


def test_create_and_import_need_the_token(db, two_sites, kinds, manager):
    before = snapshot(db)
    data = {"kind": kinds["laptop"].id, "home_site": two_sites["a"].id, "model": "X"}
    refused = manager.post("/equipements/nouveau", data=data)
    assert refused.status_code == 400 and "Votre formulaire a expiré" in page_text(refused)
    assert snapshot(db) == before
    form = manager.get("/equipements/nouveau")
    assert manager.post("/equipements/nouveau", data={**data, "csrf_token": csrf_token(form)}).status_code == 302

    content = b"Type;Structure\r\nTablette;Centre A\r\n"
    token = csrf_token(manager.get("/equipements/import"))
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), filename="a.csv"), "csrf_token": token})
    preview = manager.post("/equipements/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert preview.status_code == 200
    draft = dict(hidden_inputs(preview))["token"]
    assert manager.post("/equipements/import/confirmer", data={"token": draft}).status_code == 400
    assert db.session.scalar(select(func.count(Device.id))) == 1
    response = manager.post("/equipements/import/confirmer", data={"token": draft, "csrf_token": csrf_token(preview)})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(Device.id))) == 2

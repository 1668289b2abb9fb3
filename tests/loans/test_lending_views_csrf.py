"""The desk's forms with CSRF switched on: refused without the token (nothing saved), accepted with it.

The token does not make a form one-time: the lend form's own key does (a resubmission with the same
token and key lands on the loan already made).
"""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import core.clock
from core.residents import create_resident
from loans.models import Device, DeviceStatus, Loan
from tests.conftest import PASSWORD
from tests.core.helpers import csrf_token, hidden_inputs, location_path, page_text, snapshot

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def agent_client(app, two_sites):
    client = app.test_client()
    form = client.get("/connexion")
    response = client.post("/connexion", data={"csrf_token": csrf_token(form), "email": two_sites["reception_a"].email,
                                               "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_lend_and_take_back_need_the_token(db, two_sites, make_device, agent_client):
    device = make_device(two_sites["a"], accessories="Chargeur")
    marie = create_resident(None, two_sites["a"], first_name="Marie", last_name="Dupont")
    db.session.commit()
    url = f"/equipements/{device.tag}/preter"
    page = agent_client.get(url)
    key = dict(hidden_inputs(page))["form_key"]
    data = {"resident": str(marie.id), "due_on": "2026-12-10", "accessories": ["Chargeur"], "charter": "signed",
            "form_key": key}
    before = snapshot(db)

    refused = agent_client.post(url, data=data)
    assert refused.status_code == 400 and "Votre formulaire a expiré" in page_text(refused)
    assert snapshot(db) == before

    token = csrf_token(page)
    first = agent_client.post(url, data={**data, "csrf_token": token})
    again = agent_client.post(url, data={**data, "csrf_token": token})  # back button, then resubmit
    assert first.status_code == again.status_code == 302
    assert location_path(first) == location_path(again)
    assert db.session.scalar(select(func.count(Loan.id))) == 1

    back_url = f"/equipements/{device.tag}/reprendre"
    before = snapshot(db)
    refused = agent_client.post(back_url, data={"site": two_sites["a"].id, "accessories": ["Chargeur"], "data_wiped": "y"})
    assert refused.status_code == 400 and snapshot(db) == before
    form = agent_client.get(back_url)
    done = agent_client.post(back_url, data={"csrf_token": csrf_token(form), "site": two_sites["a"].id,
                                             "accessories": ["Chargeur"], "data_wiped": "y"})
    assert done.status_code == 302
    assert db.session.get(Device, device.id).status is DeviceStatus.available


def test_search_without_javascript_posts_with_the_token(db, two_sites, make_device, agent_client):
    device = make_device(two_sites["a"])
    create_resident(None, two_sites["a"], first_name="Marie", last_name="Dupont")
    db.session.commit()
    url = f"/equipements/{device.tag}/preter"
    page = agent_client.get(url)

    response = agent_client.post(url, data={"csrf_token": csrf_token(page), "q": "dup", "find": "1",
                                            "due_on": (FROZEN.date() + timedelta(days=3)).isoformat()})

    assert response.status_code == 200
    assert "Marie Dupont" in page_text(response) and 'value="2026-11-29"' in page_text(response)


def test_recording_a_missing_accessory_replaced_needs_the_token(db, two_sites, make_device, agent_client):
    from loans import lending
    from loans.models import MissingAccessory

    device = make_device(two_sites["a"], accessories="Chargeur\nSouris")
    marie = create_resident(None, two_sites["a"], first_name="Marie", last_name="Dupont")
    lending.lend(two_sites["reception_a"], device.id, marie, due_on=FROZEN.date() + timedelta(days=3),
                 accessories=["Chargeur", "Souris"], charter_method="ticked")
    lending.take_back(two_sites["reception_a"], device.id, site_id=two_sites["a"].id, accessories_returned=["Chargeur"],
                      data_wiped=True)
    db.session.commit()
    url = f"/equipements/{device.tag}/accessoires/remplace"
    before = snapshot(db)

    refused = agent_client.post(url, data={"accessory": "Souris"})
    assert refused.status_code == 400 and "Votre formulaire a expiré" in page_text(refused)
    assert snapshot(db) == before
    page = agent_client.get(f"/equipements/{device.tag}")
    tokens = [value for name, value in hidden_inputs(page) if name == "csrf_token"]
    done = agent_client.post(url, data={"csrf_token": tokens[0], "accessory": "Souris"})
    assert done.status_code == 302
    assert db.session.scalar(select(func.count(MissingAccessory.id))) == 0

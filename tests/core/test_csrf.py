"""CSRF protection with the token switched on, and the friendly page that keeps what was typed."""
import time

import pytest
from sqlalchemy import select

from core.models import Role, Site, User
from tests.conftest import PASSWORD
from tests.core.helpers import csrf_token, form_action, hidden_inputs, location_path, page_text, snapshot

EXPIRED = "Votre formulaire a expiré"


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def login_with_token(client, user, password=PASSWORD):
    form = client.get("/connexion")
    response = client.post("/connexion", data={"csrf_token": csrf_token(form), "email": user.email, "password": password})
    assert response.status_code == 302
    return response


@pytest.fixture
def admin_client(app, make_user):
    client = app.test_client()
    login_with_token(client, make_user(Role.admin))
    return client


SITE = {"name": "Centre social Agora", "postcode": "59300", "town": "Valenciennes", "phone": "03 27 00 11 22"}


def test_post_without_token_shows_the_expired_page_and_keeps_what_was_typed(db, admin_client):
    before = snapshot(db)

    response = admin_client.post("/admin/structures/nouvelle", data=SITE)

    assert response.status_code == 400
    text = page_text(response)
    assert EXPIRED in text
    assert "Ce que vous aviez saisi est conservé : vérifiez puis envoyez-le à nouveau." in text
    assert "Les mots de passe sont à retaper." not in text
    assert snapshot(db) == before
    kept = dict(hidden_inputs(response))
    assert {k: kept[k] for k in SITE} == SITE
    assert kept["csrf_token"]
    assert form_action(response) == "/admin/structures/nouvelle"

    # The person presses "Envoyer à nouveau": the form goes through this time.
    again = admin_client.post(form_action(response), data=kept)
    assert again.status_code == 302 and location_path(again) == "/admin/structures"
    site = db.session.scalar(select(Site).where(Site.name == "Centre social Agora"))
    assert site is not None and site.phone == "03 27 00 11 22"


def test_expired_page_drops_passwords(db, app, make_user):
    user = make_user()
    client = app.test_client()
    login_with_token(client, user)
    old_hash = user.password_hash
    typed = {"current_password": PASSWORD, "new_password": "nouveau-secret-2026", "confirm": "nouveau-secret-2026"}

    response = client.post("/mot-de-passe", data=typed)

    assert response.status_code == 400
    assert EXPIRED in page_text(response)
    assert "Les mots de passe sont à retaper." in page_text(response)
    body = response.get_data(as_text=True)
    assert PASSWORD not in body and "nouveau-secret-2026" not in body
    assert [name for name, _value in hidden_inputs(response) if name != "csrf_token"] == []
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == old_hash


def test_expired_login_keeps_the_email_and_where_to_go(client, make_user):
    user = make_user()

    response = client.post("/connexion?next=/mot-de-passe", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 400
    kept = hidden_inputs(response)
    assert ("email", user.email) in kept
    assert "password" not in dict(kept) and PASSWORD not in response.get_data(as_text=True)
    assert form_action(response) == "/connexion?next=/mot-de-passe"
    # Resubmitted with the password typed again, the login goes through to the page asked for.
    again = client.post(form_action(response), data=dict(kept, password=PASSWORD))
    assert again.status_code == 302 and again.headers["Location"] == "/mot-de-passe"


def test_kept_values_are_escaped(admin_client):
    payload = '"><script>alert(1)</script>'
    response = admin_client.post("/admin/structures/nouvelle", data=dict(SITE, name=payload))
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert ("name", payload) in hidden_inputs(response)


@pytest.mark.parametrize("token", ["", "pas-un-jeton", "IjEyMyI.ZZZZ.abc"])
def test_forged_tokens_are_refused(db, admin_client, token):
    before = snapshot(db)
    response = admin_client.post("/admin/structures/nouvelle", data=dict(SITE, csrf_token=token))
    assert response.status_code == 400 and EXPIRED in page_text(response)
    assert snapshot(db) == before


def test_a_token_from_another_session_is_refused(db, app, admin_client):
    stranger = app.test_client()
    foreign_token = csrf_token(stranger.get("/connexion"))
    before = snapshot(db)
    response = admin_client.post("/admin/structures/nouvelle", data=dict(SITE, csrf_token=foreign_token))
    assert response.status_code == 400 and EXPIRED in page_text(response)
    assert snapshot(db) == before


def test_logout_needs_the_token(app, make_user):
    client = app.test_client()
    login_with_token(client, make_user())
    # A forged cross-site POST cannot log the person out.
    assert client.post("/deconnexion").status_code == 400
    home = client.get("/espace")
    assert home.status_code == 200
    response = client.post("/deconnexion", data={"csrf_token": csrf_token(home)})
    assert response.status_code == 302
    assert location_path(client.get("/espace")) == "/connexion"


def test_token_lives_as_long_as_the_session(app, admin_client, db, monkeypatch):
    """A slow person who leaves a form open for a day does not lose it."""
    token = csrf_token(admin_client.get("/admin/structures/nouvelle"))
    import itsdangerous.timed

    class Tomorrow:
        @staticmethod
        def time():
            return time.time() + 26 * 3600

    monkeypatch.setattr(itsdangerous.timed, "time", Tomorrow)
    response = admin_client.post("/admin/structures/nouvelle", data=dict(SITE, csrf_token=token))
    assert response.status_code == 302
    assert db.session.scalar(select(Site).where(Site.name == SITE["name"])) is not None

"""Staff authentication: login, logout, sessions ended everywhere, password changes, rate limits, logs."""
import logging
import re

import pytest

from core.extensions import db as _db
from core.models import Role, User
from tests.conftest import PASSWORD
from tests.core.helpers import csrf_token, field_error, location_path, page_text

BAD_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."
NEW_PASSWORD = "un-nouveau-mot-de-passe"


def is_logged_in(client) -> bool:
    response = client.get("/espace")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and location_path(response) == "/connexion"
    return False


def fresh_user(user_id) -> User:
    _db.session.expire_all()
    return _db.session.get(User, user_id)


# --- login and logout -----------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_login_and_logout_through_the_forms(client, make_site, make_user):
    site = make_site("Centre social de Mazingarbe")
    user = make_user(Role.reception, sites=[site], name="Julien Accueil")

    form = client.get("/connexion")
    assert form.status_code == 200
    response = client.post(
        "/connexion", data={"csrf_token": csrf_token(form), "email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302 and location_path(response) == "/espace"
    home = client.get("/espace")
    assert "Bonjour Julien Accueil" in page_text(home)
    assert "Centre social de Mazingarbe" in page_text(home)
    assert fresh_user(user.id).last_login_at is not None

    # Logging out is a POST with the token of the page (never a GET link).
    assert client.get("/deconnexion").status_code == 405
    response = client.post("/deconnexion", data={"csrf_token": csrf_token(home)}, follow_redirects=True)
    assert "Déconnexion réussie." in page_text(response)
    assert not is_logged_in(client)


def test_login_is_case_insensitive_on_the_email(client, make_user, login):
    make_user(email="sophie.accueil@example.org")
    response = client.post("/connexion", data={"email": "  Sophie.Accueil@EXAMPLE.org ", "password": PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(client)


@pytest.mark.parametrize("case", ["wrong password", "unknown e-mail", "deactivated"])
def test_failed_login_says_the_same_thing_whatever_the_cause(client, make_user, case):
    user = make_user(active=case != "deactivated")
    email = "personne@example.org" if case == "unknown e-mail" else user.email
    password = "pas-le-bon-mot-de-passe" if case == "wrong password" else PASSWORD

    response = client.post("/connexion", data={"email": email, "password": password})

    assert response.status_code == 400
    assert page_text(response).count(BAD_CREDENTIALS) == 1
    # Nothing hints at whether the address exists or the account is deactivated.
    for hint in ("inconnu", "désactivé", "n'existe pas"):
        assert hint not in page_text(response).lower()
    assert not is_logged_in(client)
    assert fresh_user(user.id).last_login_at is None


def test_empty_login_form_shows_messages_next_to_the_fields(client):
    response = client.post("/connexion", data={"email": "", "password": ""})
    assert response.status_code == 400
    assert field_error(response, "email") == "Indiquez votre adresse e-mail."
    assert field_error(response, "password") == "Indiquez votre mot de passe."


def test_logged_in_person_visiting_the_login_page_goes_to_their_space(client, make_user, login):
    login(make_user())
    response = client.get("/connexion")
    assert response.status_code == 302 and location_path(response) == "/espace"


# --- sessions ended everywhere --------------------------------------------------------------


def test_deactivating_a_user_ends_their_open_session(app, make_site, make_user, login):
    site = make_site()
    admin = make_user(Role.admin)
    agent = make_user(Role.reception, sites=[site])
    admin_client, agent_client = app.test_client(), app.test_client()
    login(admin, target=admin_client)
    login(agent, target=agent_client)
    assert is_logged_in(agent_client)

    response = admin_client.post(f"/admin/personnel/{agent.id}/desactiver", follow_redirects=True)
    assert "désactivé : ses sessions sont fermées." in page_text(response)

    assert fresh_user(agent.id).active is False
    assert not is_logged_in(agent_client)
    assert is_logged_in(admin_client)
    # And the password still works for nothing.
    assert login(agent, target=agent_client).status_code == 400


def test_changing_password_ends_other_sessions_but_keeps_this_one(app, make_user, login):
    user = make_user()
    here, elsewhere = app.test_client(), app.test_client()
    login(user, target=here)
    login(user, target=elsewhere)
    old_hash = fresh_user(user.id).password_hash

    response = here.post(
        "/mot-de-passe",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        follow_redirects=True,
    )
    assert "Votre mot de passe est changé. Vos autres sessions sont fermées." in page_text(response)

    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)
    user = fresh_user(user.id)
    assert user.password_hash != old_hash and user.check_password(NEW_PASSWORD)
    assert login(user, password=PASSWORD, target=app.test_client()).status_code == 400
    assert login(user, password=NEW_PASSWORD, target=app.test_client()).status_code == 302


@pytest.mark.parametrize(
    "current, new, confirm, field, message",
    [
        ("pas-le-bon-mot-de-passe", NEW_PASSWORD, NEW_PASSWORD, "current_password", "Le mot de passe actuel est incorrect."),
        (PASSWORD, "court", "court", "new_password", "Le mot de passe doit faire au moins 10 caractères."),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "confirm", "Les deux mots de passe sont différents."),
        ("", NEW_PASSWORD, NEW_PASSWORD, "current_password", "Indiquez votre mot de passe actuel."),
    ],
)
def test_password_change_refused_changes_nothing(app, client, make_user, login, current, new, confirm, field, message):
    user = make_user()
    login(user)
    other = app.test_client()
    login(user, target=other)
    before = fresh_user(user.id)
    old_hash, old_version = before.password_hash, before.session_version

    response = client.post("/mot-de-passe", data={"current_password": current, "new_password": new, "confirm": confirm})

    assert response.status_code == 400
    assert field_error(response, field) == message
    after = fresh_user(user.id)
    assert (after.password_hash, after.session_version) == (old_hash, old_version)
    assert is_logged_in(other)


def test_admin_resets_a_password_shown_once_and_sessions_end(app, make_site, make_user, login):
    site = make_site()
    admin = make_user(Role.admin)
    agent = make_user(Role.reception, sites=[site], name="Sophie Accueil")
    admin_client, agent_client = app.test_client(), app.test_client()
    login(admin, target=admin_client)
    login(agent, target=agent_client)

    response = admin_client.post(f"/admin/personnel/{agent.id}/mot-de-passe")

    assert response.status_code == 200
    assert "Nouveau mot de passe provisoire de Sophie Accueil" in page_text(response)
    temporary = re.search(r'<p class="secret"><code>([^<]+)</code></p>', response.get_data(as_text=True)).group(1)
    assert len(temporary) >= 10
    assert temporary not in response.headers.get("Set-Cookie", "")
    assert not is_logged_in(agent_client)
    assert login(agent, target=agent_client).status_code == 400
    assert login(agent, password=temporary, target=app.test_client()).status_code == 302
    # Shown once: nowhere to be read again.
    for page in ("/admin/personnel", f"/admin/personnel/{agent.id}/modifier"):
        assert temporary not in admin_client.get(page).get_data(as_text=True)
    # A GET cannot reset a password.
    assert admin_client.get(f"/admin/personnel/{agent.id}/mot-de-passe").status_code == 405


# --- where the login sends you --------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["//evil.com", "https://evil.com", "/\\evil.com", "\\\\evil.com", "http:evil.com", "/\t/evil.com", "evil.com"]
)
def test_next_never_leaves_the_site(client, make_user, target):
    user = make_user()
    response = client.post("/connexion", query_string={"next": target}, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/espace"


def test_next_local_path_is_honoured(client, make_user):
    user = make_user()
    response = client.post(
        "/connexion", query_string={"next": "/mot-de-passe?depuis=menu"}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/mot-de-passe?depuis=menu"


def test_a_protected_page_sends_to_login_and_back(client, make_user):
    user = make_user()
    response = client.get("/mot-de-passe")
    assert response.status_code == 302 and location_path(response) == "/connexion"
    login_url = response.headers["Location"]
    response = client.post(login_url, data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/mot-de-passe"


# --- remember me ----------------------------------------------------------------------------


def test_remember_me_is_off_by_default(client, make_user):
    user = make_user()
    form = client.get("/connexion").get_data(as_text=True)
    checkbox = re.search(r'<input\b[^>]*id="remember"[^>]*>', form).group(0)
    assert "checked" not in checkbox

    response = client.post("/connexion", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("session=") for c in cookies)
    assert not any(c.startswith("remember_token=") for c in cookies)
    # The session cookie ends with the browser: no expiry date.
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "Expires" not in session_cookie


def test_remember_me_when_ticked_sets_a_protected_cookie(client, make_user):
    user = make_user()
    response = client.post("/connexion", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    remember = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert len(remember) == 1
    assert "HttpOnly" in remember[0] and "SameSite=Lax" in remember[0]


# --- rate limits ----------------------------------------------------------------------------


def test_per_account_limit_locks_only_that_account(app, make_user):
    target, colleague = make_user(), make_user()
    desk = app.test_client()  # everybody at the desk shares one address
    for _attempt in range(5):
        assert desk.post("/connexion", data={"email": target.email, "password": "faute-de-frappe"}).status_code == 400

    locked = desk.post("/connexion", data={"email": target.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Trop de tentatives" in page_text(locked)
    assert "Attendez quelques minutes avant de réessayer." in page_text(locked)
    assert not is_logged_in(desk)
    # The same e-mail written differently is the same account.
    assert desk.post("/connexion", data={"email": target.email.upper(), "password": PASSWORD}).status_code == 429

    response = app.test_client().post("/connexion", data={"email": colleague.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("app_config", [{"LOGIN_LIMIT_PER_ADDRESS": "3 per 15 minutes"}])
def test_per_address_limit(app, make_user):
    user = make_user()
    for n in range(3):
        response = app.test_client().post("/connexion", data={"email": f"inconnu{n}@example.org", "password": "x" * 12})
        assert response.status_code == 400

    # Past the limit, failures from the address are refused…
    blocked = app.test_client().post("/connexion", data={"email": user.email, "password": "faute-de-frappe"})
    assert blocked.status_code == 429
    assert "Trop de tentatives" in page_text(blocked)
    elsewhere = app.test_client().post(
        "/connexion", data={"email": user.email, "password": "faute-de-frappe"}, environ_base={"REMOTE_ADDR": "192.0.2.10"}
    )
    assert elsewhere.status_code == 400

    # …but the right password still gets in: the whole centre shares the address (tests/core/test_sessions.py).
    assert app.test_client().post("/connexion", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_successful_logins_do_not_count(app, make_user):
    user = make_user()
    for _attempt in range(4):
        assert app.test_client().post("/connexion", data={"email": user.email, "password": "faute"}).status_code == 400
    for _attempt in range(8):
        response = app.test_client().post("/connexion", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
    # The fifth failure is still allowed: only failures counted.
    assert app.test_client().post("/connexion", data={"email": user.email, "password": "faute"}).status_code == 400
    assert app.test_client().post("/connexion", data={"email": user.email, "password": PASSWORD}).status_code == 429


# --- logs -----------------------------------------------------------------------------------


def test_auth_logs_carry_no_email_and_no_password(app, client, make_site, make_user, login, caplog):
    caplog.set_level(logging.DEBUG)
    site = make_site()
    admin = make_user(Role.admin, email="claire.admin@example.org")
    agent = make_user(Role.reception, sites=[site], email="sophie.agent@example.org")
    secrets = [admin.email, agent.email, "inconnue@example.org", PASSWORD, "mauvais-mot-de-passe", NEW_PASSWORD]

    client.post("/connexion", data={"email": "inconnue@example.org", "password": "mauvais-mot-de-passe"})
    for _attempt in range(6):
        client.post("/connexion", data={"email": agent.email, "password": "mauvais-mot-de-passe"})
    login(agent, target=app.test_client())
    admin_client = app.test_client()
    login(admin, target=admin_client)
    admin_client.post(f"/admin/personnel/{agent.id}/desactiver")
    admin_client.post("/mot-de-passe", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    agent_client = app.test_client()
    agent_client.get("/admin/personnel")

    messages = [record.getMessage() for record in caplog.records]
    assert any("login failed" in m for m in messages)
    assert any(f"login ok user_id={admin.id}" in m for m in messages)
    assert any(f"account deactivated user_id={agent.id}" in m for m in messages)
    assert any(f"password changed user_id={admin.id}" in m for m in messages)
    for message in messages:
        for secret in secrets:
            assert secret.lower() not in message.lower(), f"log record leaks {secret!r}: {message}"

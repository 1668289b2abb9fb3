"""Staff sessions kept in the database: logging out ends them, everywhere if asked; idle sessions end;
a temporary password must be changed; a shared address cannot lock out people who know their password."""
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

import core.clock
from core.extensions import db as _db
from core.models import Role, Site, StaffSession, User
from tests.conftest import PASSWORD
from tests.core.helpers import csrf_token, form_action, hidden_inputs, location_path, page_text, snapshot
from tests.core.test_auth import fresh_user, is_logged_in

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NEW_PASSWORD = "mon-propre-mot-de-passe"


def sessions_of(user) -> int:
    return _db.session.scalar(select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user.id))


def data(db) -> dict:
    """Every table but the sessions themselves (an ended session's row is deleted)."""
    return {table: rows for table, rows in snapshot(db).items() if table != "staff_sessions"}


def copy_cookies(source, names=("session", "remember_token")):
    """A second browser holding a copy of `source`'s cookies, as taken from a shared PC."""
    copy = source.application.test_client()
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            copy.set_cookie(name, cookie.value)
    return copy


@pytest.fixture
def clock_at(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", T0)

    def move(minutes):
        monkeypatch.setattr(core.clock, "frozen_at", T0 + timedelta(minutes=minutes))

    return move


# --- logging out ends the session server-side ---------------------------------------------------


def test_a_session_cookie_copied_before_logout_is_refused_after(client_for, make_user):
    user = make_user()
    desk = client_for(user)
    copy = copy_cookies(desk, names=("session",))
    assert is_logged_in(copy)  # the copy works while the session lives: the refusal below is the logout's

    response = desk.post("/deconnexion", follow_redirects=True)
    assert "Déconnexion réussie." in page_text(response)

    assert not is_logged_in(copy)
    assert not is_logged_in(desk)
    assert sessions_of(user) == 0


def test_a_remember_cookie_is_refused_after_logout(app, make_user):
    user = make_user()
    laptop = app.test_client()
    response = laptop.post("/connexion", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    remembered = copy_cookies(laptop, names=("remember_token",))
    assert is_logged_in(remembered)  # the remember cookie alone opens a session

    laptop.post("/deconnexion")

    assert not is_logged_in(remembered)
    # Its session cookie too (it was made from the remember cookie): the same row is gone.
    assert sessions_of(user) == 0


def test_the_cookie_carries_no_user_id_and_the_database_no_key(client_for, make_user):
    user = make_user()
    desk = client_for(user)
    row = _db.session.scalar(select(StaffSession).where(StaffSession.user_id == user.id))
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(desk.application)
    key = serializer.loads(desk.get_cookie("session").value)["_user_id"]
    assert len(key) >= 40 and not key.startswith(f"{user.id}:")
    assert row.key_hash != key and key not in row.key_hash


def test_log_out_everywhere_ends_the_other_sessions(app, client_for, make_user):
    user, colleague = make_user(), make_user()
    desk, home, phone = client_for(user), client_for(user), client_for(user)
    other = client_for(colleague)

    page = home.get("/mot-de-passe")
    assert "Me déconnecter partout" in page_text(page)
    response = home.post("/deconnexion/partout", follow_redirects=True)
    assert "Toutes vos sessions sont fermées, sur cet appareil et sur les autres." in page_text(response)

    assert [is_logged_in(c) for c in (desk, home, phone)] == [False, False, False]
    assert sessions_of(user) == 0
    assert is_logged_in(other) and sessions_of(colleague) == 1


def test_an_admin_logs_a_staff_member_out_everywhere(app, client_for, make_site, make_user):
    site = make_site()
    admin, agent = make_user(Role.admin), make_user(Role.reception, sites=[site], name="Sophie Accueil")
    admin_client, desk, home = client_for(admin), client_for(agent), client_for(agent)

    page = admin_client.get(f"/admin/personnel/{agent.id}/modifier")
    assert "Déconnecter partout" in page_text(page)
    response = admin_client.post(f"/admin/personnel/{agent.id}/deconnecter", follow_redirects=True)
    assert "Toutes les sessions de Sophie Accueil sont fermées : il faudra se reconnecter." in page_text(response)

    assert not is_logged_in(desk) and not is_logged_in(home)
    assert is_logged_in(admin_client)
    # A GET changes nothing, and only admins may do it.
    assert admin_client.get(f"/admin/personnel/{agent.id}/deconnecter").status_code == 405
    again = client_for(agent)
    assert again.post(f"/admin/personnel/{admin.id}/deconnecter").status_code == 403
    assert is_logged_in(admin_client)


def test_a_password_reset_or_a_deactivation_ends_remembered_sessions_too(app, make_site, make_user, client_for):
    site = make_site()
    admin, agent = make_user(Role.admin), make_user(Role.reception, sites=[site])
    laptop = app.test_client()
    laptop.post("/connexion", data={"email": agent.email, "password": PASSWORD, "remember": "y"})
    remembered = copy_cookies(laptop, names=("remember_token",))
    assert is_logged_in(remembered)

    client_for(admin).post(f"/admin/personnel/{agent.id}/mot-de-passe")

    assert not is_logged_in(remembered) and not is_logged_in(laptop)
    assert sessions_of(agent) == 0


# --- the idle timeout ---------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"STAFF_IDLE_TIMEOUT_MINUTES": 30}])
def test_an_idle_session_ends_after_the_configured_time(client_for, make_user, clock_at):
    user = make_user()
    desk = client_for(user)

    clock_at(29)
    assert is_logged_in(desk)  # activity at 29 minutes…
    clock_at(58)
    assert is_logged_in(desk)  # …so 58 minutes after the login is only 29 minutes of idleness
    clock_at(89)
    response = desk.get("/espace")
    assert response.status_code == 302 and location_path(response) == "/connexion"
    assert "next=" in response.headers["Location"]
    login_page = desk.get(response.headers["Location"])
    assert "Votre session est fermée après 30 minutes sans activité. Reconnectez-vous." in page_text(login_page)
    assert sessions_of(user) == 0
    # Going back does not bring it back.
    clock_at(60)
    assert not is_logged_in(desk)


@pytest.mark.parametrize("app_config", [{"STAFF_IDLE_TIMEOUT_MINUTES": 30}])
def test_a_remembered_session_has_no_idle_timeout_but_ends_after_its_duration(app, make_user, clock_at):
    user = make_user()
    laptop = app.test_client()
    laptop.post("/connexion", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    clock_at(60 * 24 * 3)
    assert is_logged_in(laptop)
    clock_at(60 * 24 * 15)
    assert not is_logged_in(laptop)


@pytest.mark.parametrize("app_config", [{"STAFF_IDLE_TIMEOUT_MINUTES": 0}])
def test_the_idle_timeout_can_be_turned_off(client_for, make_user, clock_at):
    desk = client_for(make_user())
    clock_at(60 * 10)
    assert is_logged_in(desk)


@pytest.mark.parametrize("app_config", [{"STAFF_IDLE_TIMEOUT_MINUTES": 30}])
def test_last_seen_is_written_at_most_once_a_minute(app, client_for, make_user, clock_at):
    desk = client_for(make_user())
    writes = []

    def spy(conn, cursor, statement, *args):
        if "staff_sessions" in statement and statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", spy)
    try:
        for second in (0, 20, 59):
            core.clock.frozen_at = T0 + timedelta(seconds=second)
            assert desk.get("/espace").status_code == 200
        assert writes == []
        core.clock.frozen_at = T0 + timedelta(seconds=61)
        assert desk.get("/espace").status_code == 200
        assert len(writes) == 1
        core.clock.frozen_at = T0 + timedelta(seconds=90)
        assert desk.get("/espace").status_code == 200
        assert len(writes) == 1
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", spy)
    row = _db.session.scalar(select(StaffSession))
    assert row.last_seen_at == T0 + timedelta(seconds=61)


SITE = {"name": "Centre social Agora", "postcode": "59300", "town": "Valenciennes", "phone": "03 27 00 11 22"}


@pytest.mark.parametrize("app_config", [{"STAFF_IDLE_TIMEOUT_MINUTES": 30, "WTF_CSRF_ENABLED": True}])
def test_a_form_sent_after_the_timeout_is_kept_through_a_new_login(app, db, make_user, clock_at):
    admin = make_user(Role.admin)
    desk = app.test_client()
    form = desk.get("/connexion")
    desk.post("/connexion", data={"csrf_token": csrf_token(form), "email": admin.email, "password": PASSWORD})
    page = desk.get("/admin/structures/nouvelle")
    token = csrf_token(page)

    clock_at(45)  # the form was left open on the desk
    before = data(db)
    response = desk.post("/admin/structures/nouvelle", data={"csrf_token": token, **SITE})

    assert response.status_code == 401
    text = page_text(response)
    assert "Votre session est fermée" in text
    assert "Personne n'a utilisé cet ordinateur pendant 30 minutes : pour votre sécurité, la session s'est fermée." in text
    assert "Ce que vous aviez saisi est conservé : reconnectez-vous, vérifiez puis envoyez-le à nouveau." in text
    assert "Centre social Agora" in text
    assert data(db) == before
    kept = dict(hidden_inputs(response))
    assert {k: kept[f"garde:{k}"] for k in SITE} == SITE
    assert form_action(response).startswith("/connexion?next=")

    # A wrong password: the login page says so and still keeps the form.
    wrong = desk.post(form_action(response), data={**kept, "email": admin.email, "password": "pas-le-bon"})
    assert wrong.status_code == 400 and "Adresse e-mail ou mot de passe incorrect." in page_text(wrong)
    assert {k: dict(hidden_inputs(wrong))[f"garde:{k}"] for k in SITE} == SITE

    resumed = desk.post(form_action(response), data={**dict(hidden_inputs(wrong)), "email": admin.email, "password": PASSWORD})
    assert resumed.status_code == 200 and "Connexion réussie" in page_text(resumed)
    assert "Ce que vous aviez saisi est conservé : vérifiez puis envoyez-le à nouveau." in page_text(resumed)
    assert form_action(resumed) == "/admin/structures/nouvelle"
    again = desk.post(form_action(resumed), data=dict(hidden_inputs(resumed)))
    assert again.status_code == 302 and location_path(again) == "/admin/structures"
    assert db.session.scalar(select(Site).where(Site.name == "Centre social Agora")).phone == "03 27 00 11 22"


# --- a temporary password -----------------------------------------------------------------------


def _temporary_password(admin_client, user) -> str:
    import re

    response = admin_client.post(f"/admin/personnel/{user.id}/mot-de-passe")
    return re.search(r'<p class="secret"><code>([^<]+)</code></p>', response.get_data(as_text=True)).group(1)


def test_a_temporary_password_must_be_changed_at_the_next_login(app, db, client_for, make_site, make_user, login):
    site = make_site()
    admin, agent = make_user(Role.admin), make_user(Role.manager, sites=[site])
    temporary = _temporary_password(client_for(admin), agent)
    assert fresh_user(agent.id).must_change_password is True

    desk = app.test_client()
    assert login(agent, password=temporary, target=desk).status_code == 302
    first = desk.get("/espace", follow_redirects=True)
    assert "Choisissez votre propre mot de passe pour continuer : le mot de passe provisoire ne sert qu'une fois." in page_text(first)
    assert "Votre mot de passe est provisoire. Choisissez le vôtre pour continuer." in page_text(first)
    for page in ("/espace", f"/structures/{site.id}", "/equipements", "/admin/personnel"):
        response = desk.get(page)
        assert response.status_code == 302 and location_path(response) == "/mot-de-passe", page
    before = snapshot(db)
    response = desk.post(f"/structures/{site.id}", data={})  # not even a POST gets through
    assert response.status_code in (302, 405)
    assert snapshot(db) == before

    response = desk.post("/mot-de-passe", data={"current_password": temporary, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                         follow_redirects=True)
    assert "Votre mot de passe est changé." in page_text(response)
    assert fresh_user(agent.id).must_change_password is False
    assert desk.get("/espace").status_code == 200
    assert login(agent, password=NEW_PASSWORD, target=app.test_client()).status_code == 302


def test_an_account_created_by_an_admin_starts_with_a_temporary_password(app, client_for, make_site, make_user, login):
    site = make_site()
    admin = client_for(make_user(Role.admin))
    response = admin.post("/admin/personnel/nouveau", data={
        "name": "Nouvel Agent", "email": "nouvel.agent@example.org", "role": "reception", "sites": [site.id],
        "password": "provisoire-2026"})
    assert response.status_code == 302
    user = _db.session.scalar(select(User).where(User.email == "nouvel.agent@example.org"))
    assert user.must_change_password is True
    desk = app.test_client()
    assert login(user, password="provisoire-2026", target=desk).status_code == 302
    assert location_path(desk.get("/espace")) == "/mot-de-passe"


# --- one shared address cannot lock everybody out (ASVS 6.1.1) -----------------------------------


def test_failures_from_a_shared_address_do_not_lock_out_the_right_password(app, make_user):
    """The computer room and the desk share the centre's address: ~60 failed logins must not block the desk."""
    agent, colleague = make_user(), make_user()
    attacker = app.test_client()
    for n in range(65):
        response = attacker.post("/connexion", data={"email": f"essai{n}@example.org", "password": "devine-1234"})
    assert response.status_code == 429  # the attacker is refused past the limit…
    assert "Trop de tentatives" in page_text(response)
    assert attacker.post("/connexion", data={"email": colleague.email, "password": "devine-5678"}).status_code == 429

    # …while the people who know their password still get in from the same address.
    for person in (agent, colleague):
        desk = app.test_client()
        assert desk.post("/connexion", data={"email": person.email, "password": PASSWORD}).status_code == 302
        assert is_logged_in(desk)


@pytest.fixture
def redis_storage():
    import secrets

    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        from tests.conftest import require

        require(False, "Redis does not answer at 127.0.0.1:6379")
    prefix = "test-" + secrets.token_hex(6)
    yield {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix, "LOGIN_LIMIT_PER_ADDRESS": "6 per 15 minutes"}
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)


def test_the_address_limit_is_shared_by_processes_through_redis(database_url, redis_storage, make_user):
    """Two app processes (two apps) with one Redis: failures counted by one are refused by the other."""
    from core import create_app
    from tests.conftest import IsolatedClient, base_config

    email = make_user().email
    _db.session.commit()  # SQLite: the other apps write
    first, second = (create_app(base_config(database_url, **redis_storage)) for _process in range(2))
    for app in (first, second):
        app.test_client_class = IsolatedClient
    try:
        for n in range(3):
            for app in (first, second):
                response = app.test_client().post("/connexion", data={"email": f"x{n}@example.org", "password": "faux-faux"})
                assert response.status_code == 400
        assert first.test_client().post("/connexion", data={"email": "y@example.org", "password": "faux-faux"}).status_code == 429
        assert second.test_client().post("/connexion", data={"email": email, "password": PASSWORD}).status_code == 302
    finally:
        for app in (first, second):  # their connections, closed now rather than by the garbage collector
            with app.app_context():
                _db.engine.dispose()
    import redis

    assert list(redis.Redis.from_url(redis_storage["RATELIMIT_STORAGE_URI"]).scan_iter(f"*{redis_storage['RATELIMIT_KEY_PREFIX']}*"))


def test_each_site_of_a_person_comes_with_the_session(app, db, make_site, make_user, client_for, count_queries):
    """The session's one statement brings every site of the person (a row per site), not only the first:
    the desk of someone working at three centres lists the three, and nothing else is read for them."""
    sites = [make_site(name) for name in ("Centre C", "Centre A", "Centre B")]
    make_site("Centre D")  # not theirs
    agent = make_user(Role.reception, sites)
    client = client_for(agent)
    with count_queries() as n:
        page = client.get("/guichet")
    assert page.status_code == 200
    text = page_text(page)
    assert text.index("Centre A") < text.index("Centre B") < text.index("Centre C")  # in name order
    assert "Centre D" not in text
    one_site = client_for(make_user(Role.reception, sites[:1]))
    with count_queries() as n_one:
        assert one_site.get("/guichet").status_code == 200
    assert n() == n_one()  # three sites cost no more statements than one

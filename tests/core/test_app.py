"""Factory, configuration, security headers and error pages."""
import pytest

from core import create_app
from core.authz import check_access_policies
from core.config import DEFAULT_SECRET_KEY
from core.models import Role
from tests.conftest import PASSWORD
from tests.core.helpers import page_text


def test_refuses_default_secret_key_outside_debug_and_testing(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set: export SECRET_KEY="):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": DEFAULT_SECRET_KEY})


def test_starts_with_a_real_secret_key(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "x" * 40})
    assert not app.testing and not app.debug
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_configuration_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pret.example.org/")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/env.db"
    assert app.config["PUBLIC_BASE_URL"] == "https://pret.example.org"
    # Served over HTTPS: cookies are Secure, and the public host is trusted.
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert "pret.example.org" in app.config["TRUSTED_HOSTS"]


def test_default_database_is_sqlite_in_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/centres.sqlite3")


def test_a_route_without_policy_is_refused_at_start(app):
    check_access_policies(app)  # the real app passes
    app.add_url_rule("/forgotten-route", "forgotten", lambda: "oops")
    with pytest.raises(RuntimeError, match="forgotten"):
        check_access_policies(app)


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    # Static files may be cached.
    with client.get("/static/css/app.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_session_cookie_flags(client, make_user, login):
    user = make_user()
    response = login(user)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("path, status, text", [("/nulle-part", 404, "Page introuvable")])
def test_french_error_pages(client, path, status, text):
    response = client.get(path)
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_500_page_leaks_no_traceback(app, database_url):
    from core.authz import public
    from tests.conftest import base_config

    broken = create_app(base_config(database_url, PROPAGATE_EXCEPTIONS=False))

    @public
    def boom():
        raise ValueError("secret internal detail")

    broken.add_url_rule("/boom", "boom", boom)
    response = broken.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Erreur du service" in body
    assert "secret internal detail" not in body and "Traceback" not in body


def test_500_after_a_failed_write_is_the_french_page_with_its_menu(app, db, database_url, make_site, make_user):
    """The failed write leaves the session's transaction dead (PostgreSQL refuses every later statement,
    SQLAlchemy refuses the session on both databases): the error page rolls back before its menu reads
    the user, instead of failing itself into a bare English "Internal Server Error"."""
    from core.authz import staff_required
    from core.models import Site
    from tests.conftest import base_config

    taken = make_site("Centre déjà pris").name
    user = make_user()
    name, email = user.name, user.email
    db.session.commit()  # SQLite: the test's own transaction must not hold the write lock
    broken = create_app(base_config(database_url, PROPAGATE_EXCEPTIONS=False))

    @staff_required()
    def failed_write():
        db.session.add(Site(name=taken))
        db.session.flush()  # IntegrityError: the name is unique

    broken.add_url_rule("/ecriture-ratee", "failed_write", failed_write, methods=["POST"])
    client = broken.test_client()
    assert client.post("/connexion", data={"email": email, "password": PASSWORD}).status_code == 302

    response = client.post("/ecriture-ratee")
    with broken.app_context():
        db.engine.dispose()  # this second app's connections, closed before the test database is dropped

    body = page_text(response)
    assert response.status_code == 500
    assert "Erreur du service" in body and "Le service a rencontré un problème" in body
    assert name in body  # the menu, read from the database after the rollback
    assert "Internal Server Error" not in body


def test_413_for_oversized_request(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/connexion", data={"email": "a@b.c", "password": "x" * 5000})
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)


def test_untrusted_host_is_refused(client):
    response = client.get("/", headers={"Host": "evil.example.com"})
    assert response.status_code == 400


def test_public_home_lists_sites(client, make_site):
    make_site("Centre social de Mazingarbe", phone="03 21 37 28 00")
    body = client.get("/").get_data(as_text=True)
    assert "Centre social de Mazingarbe" in body and "03 21 37 28 00" in body


def test_deployment_settings_from_environment(monkeypatch, tmp_path):
    """The variables the README documents for a deployment behind a proxy, with Redis."""
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("TRUSTED_HOSTS", "pret.example.org, www.pret.example.org")
    monkeypatch.setenv("PROXY_FIX_HOPS", "1")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    app = create_app()
    assert app.config["TRUSTED_HOSTS"] == ["pret.example.org", "www.pret.example.org"]
    assert app.config["PROXY_FIX_HOPS"] == 1
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"


def test_instance_config_file_is_read(monkeypatch, tmp_path):
    from flask import Flask

    from core.config import load_config

    (tmp_path / "config.py").write_text('SECRET_KEY = "from-instance-file"\nPUBLIC_BASE_URL = "https://pret.example.org/"\n')
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    app = Flask("probe", instance_path=str(tmp_path), instance_relative_config=True)
    load_config(app)
    assert app.config["SECRET_KEY"] == "from-instance-file"
    assert app.config["PUBLIC_BASE_URL"] == "https://pret.example.org"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_error_pages_are_french_and_carry_the_security_headers(client, make_site, make_user, login):
    login(make_user(Role.reception, sites=[make_site()]))
    forbidden = client.get("/admin/personnel")
    not_allowed = client.get("/deconnexion")
    for response, status, title in ((forbidden, 403, "Accès refusé"), (not_allowed, 405, "Action non permise")):
        assert response.status_code == status
        assert f"<h1>{title}</h1>" in response.get_data(as_text=True)
        assert "object-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"


def test_staff_pages_are_not_cached(client, make_site, make_user, login):
    login(make_user(Role.reception, sites=[make_site()]))
    response = client.get("/espace")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_public_address_follows_the_port_served_on(monkeypatch, tmp_path):
    """`PORT=5101 bin/demo`: without PUBLIC_BASE_URL, labels and private links say :5101, not :5000."""
    from loans.labels import label_url

    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "5101")
    app = create_app()
    assert app.config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5101"
    with app.test_request_context():
        assert label_url("abc234") == "HTTP://127.0.0.1:5101/D/ABC234"  # upper case: a denser QR code

    monkeypatch.delenv("PORT")
    assert create_app().config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    monkeypatch.setenv("PORT", "5101")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pret.example.org")
    assert create_app().config["PUBLIC_BASE_URL"] == "https://pret.example.org"


@pytest.mark.parametrize("typed, shown, href", [
    ("0321000000", "03 21 00 00 00", "tel:0321000000"),
    ("03.21.37.28.00", "03 21 37 28 00", "tel:0321372800"),
    ("+33 3 27 28 91 98", "03 27 28 91 98", "tel:0327289198"),
    ("+32 2 123 45 67", "+32 2 123 45 67", "tel:+3221234567"),  # a Belgian number stays international
    ("poste 12", "poste 12", "tel:12"),  # not a number: shown as typed
    ("", "", "tel:"),
])
def test_site_phones_are_shown_the_french_way(typed, shown, href):
    from core.templating import phone_display, phone_href

    assert (phone_display(typed), phone_href(typed)) == (shown, href)

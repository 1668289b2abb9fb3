"""Test fixtures: a fresh app and empty database per test, on SQLite or PostgreSQL.

The database is chosen with TEST_DATABASE_URL (a postgresql+psycopg:// URL); without it the
suite runs on a SQLite file. On PostgreSQL each run creates its own database and drops it after.
With CI_REQUIRE_ALL=1 a skipped test fails the run (CI must run the browser and PostgreSQL tests).
"""
import contextvars
import os
import secrets
import shutil
import threading
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import current_app, has_app_context
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from jinja2 import BytecodeCache
from sqlalchemy.engine import make_url
from werkzeug.routing import Rule

from core import create_app
from core.extensions import db as _db
from core.models import Role, Site, User

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REQUIRE_ALL = os.environ.get("CI_REQUIRE_ALL") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "mot-de-passe-solide"


# --- one app per test, built quickly -----------------------------------------------------------
# Each test gets a new app (create_app), as production builds one per process. Three things cost most of
# that and are the same for every app of the run, so they are made once and reused (a test's behaviour
# is unchanged; only repeated work is skipped):
# - Werkzeug compiles a URL builder per rule (about 2 ms each, 100 rules): the compiled function depends
#   only on the rule's parsed parts and defaults, and is bound to each new Rule afterwards;
# - SQLAlchemy caches compiled SQL per engine: an engine per database URL and options is kept for the
#   run (SQLite listeners set once, core/db.py), so statements are compiled once, not once per test;
# - Jinja compiles each template per app: the bytecode is kept in memory for the run.


def _memoise_url_builders():
    compile_builder = Rule._compile_builder
    builders = {}

    def cached(self, append_unknown=True):
        key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = cached


def _share_engines():
    import core.db

    make_engine = SQLAlchemy._make_engine
    engines = {}

    def shared(self, bind_key, options, app):
        key = repr(sorted(options.items(), key=lambda item: item[0]))
        if key not in engines:
            engines[key] = make_engine(self, bind_key, options, app)
        return engines[key]

    configure_engine = core.db.configure_engine
    configured = set()

    def configure_once(engine):
        if id(engine) not in configured:
            configured.add(id(engine))
            configure_engine(engine)

    SQLAlchemy._make_engine = shared
    core.db.configure_engine = configure_once


class MemoryBytecodeCache(BytecodeCache):
    def __init__(self):
        self.codes = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.codes:
            bucket.bytecode_from_string(self.codes[bucket.key])

    def dump_bytecode(self, bucket):
        self.codes[bucket.key] = bucket.bytecode_to_string()


_memoise_url_builders()
_share_engines()
TEMPLATE_BYTECODE = MemoryBytecodeCache()


# --- databases ---------------------------------------------------------------------------------


@contextmanager
def scratch_database(tmp_dir, name="app"):
    """A brand-new empty database URL for the backend under test, dropped afterwards."""
    if PG_URL:
        base = make_url(PG_URL)
        db_name = f"ccb_{name}_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
            # A throw-away database: a commit need not wait for its WAL to reach the disk (locks,
            # isolation and constraints are unchanged; only a crash of the server could lose it).
            conn.exec_driver_sql(f'ALTER DATABASE "{db_name}" SET synchronous_commit = off')
        try:
            yield base.set(database=db_name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            admin.dispose()
    else:
        yield "sqlite:///" + os.path.join(tmp_dir, f"{name}.sqlite3")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with scratch_database(str(tmp_path_factory.mktemp("db"))) as url:
        app = create_app(base_config(url))
        with app.app_context():
            _db.create_all()
            _db.engine.dispose()
        yield url


def base_config(url, **extra):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-" + secrets.token_hex(8),
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "PUBLIC_BASE_URL": "http://localhost",
        "TRUSTED_HOSTS": ["localhost", "127.0.0.1"],
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(extra)
    return config


def empty_all_tables():
    """Between tests: every row deleted, children first. On PostgreSQL the used sequences start again
    at 1 (as TRUNCATE … RESTART IDENTITY would, but TRUNCATE syncs each table's new file to disk: a
    tenth of a second per test on a busy machine, the largest part of the PostgreSQL run)."""
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in tables))
            used = conn.exec_driver_sql(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences WHERE last_value IS NOT NULL"
            ).scalars().all()
            if used:
                conn.exec_driver_sql("SELECT " + ", ".join(f"setval('{name}', 1, false)" for name in used))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def app_config():
    """Override in a test module to change the app's configuration."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The `app` fixture keeps an app context pushed for the test's own db.session; Flask would reuse
    it for each request, so every client would share one `g` (where Flask-Login keeps the current
    user: a second client would look logged in as the first) and one database session. Running the
    request in an empty contextvars context gives it a fresh app context, `g` and session.
    The test's own transaction is committed first: on SQLite it may hold the write lock.
    """

    def open(self, *args, **kwargs):
        if self.preserve_context:  # `with client:` keeps the request context for inspection
            return super().open(*args, **kwargs)
        if has_app_context() and current_app._get_current_object() is self.application:
            _db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(database_url, app_config, tmp_path):
    # Erasures append to a ledger file (core/privacy/erasure.py): each test has its own.
    app = create_app(base_config(database_url, **{"ERASURE_LEDGER": str(tmp_path / "erasures.jsonl"), **app_config}))
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    with app.app_context():
        yield app
        _db.session.remove()
        empty_all_tables()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories ---------------------------------------------------------------------------------


@pytest.fixture
def make_site(db):
    counter = iter(range(1, 10_000))

    def make(name=None, **fields):
        n = next(counter)
        site = Site(
            name=name or f"Centre test {n}",
            address=fields.pop("address", f"{n} rue des Essais"),
            postcode=fields.pop("postcode", "59300"),
            town=fields.pop("town", "Valenciennes"),
            phone=fields.pop("phone", f"03 27 00 00 {n:02d}"),
            email=fields.pop("email", f"centre{n}@example.org"),
            opening_hours=fields.pop("opening_hours", "Du lundi au vendredi"),
            **fields,
        )
        db.session.add(site)
        db.session.commit()
        return site

    return make


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(role=Role.reception, sites=(), email=None, name=None, password=PASSWORD, active=True):
        n = next(counter)
        user = User(
            email=email or f"agent{n}-{role.value}@example.org",
            name=name or f"Agent {n}",
            role=role,
            active=active,
            session_version=1,
        )
        user.set_password(password)
        user.sites = list(sites)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def two_sites(make_site, make_user):
    """Site A and site B, with a manager and a reception agent at A, and an admin."""
    a = make_site("Centre A")
    b = make_site("Centre B")
    return {
        "a": a,
        "b": b,
        "manager_a": make_user(Role.manager, [a]),
        "reception_a": make_user(Role.reception, [a]),
        "manager_b": make_user(Role.manager, [b]),
        "admin": make_user(Role.admin, []),
    }


@pytest.fixture
def client_for(app, login):
    """A test client logged in as `user`."""

    def make(user):
        client = app.test_client()
        assert login(user, target=client).status_code == 302
        return client

    return make


@pytest.fixture
def login(client):
    def do_login(user, password=PASSWORD, follow=False, target=client):
        return target.post(
            "/connexion", data={"email": user.email, "password": password}, follow_redirects=follow
        )

    return do_login


@pytest.fixture
def events():
    """Every domain event delivered during the test, as (name, payload) in order (core/events.py).

    Delivery happens after the commit: a test asserts on this list after `db.session.commit()` (or after
    a request, whose view commits) and that it stays empty when the transaction is rolled back."""
    from core.events import CATALOGUE

    heard = []
    receivers = []
    for name, signal in CATALOGUE.items():
        def receiver(sender, _name=name, **payload):
            heard.append((_name, payload))
        signal.connect(receiver)
        receivers.append((signal, receiver))
    yield heard
    for signal, receiver in receivers:
        signal.disconnect(receiver)


@pytest.fixture
def count_queries(app):
    """Counts SQL statements run inside the `with` block: `with count_queries() as n: ...; n()`."""

    @contextmanager
    def counting():
        statements = []

        def before(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")):
                statements.append(statement)

        sa.event.listen(_db.engine, "before_cursor_execute", before)
        try:
            yield lambda: len(statements)
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", before)

    return counting


# --- skips that CI must not tolerate -----------------------------------------------------------


def require(condition: bool, reason: str):
    """Skip when a resource is missing; with CI_REQUIRE_ALL=1 the missing resource is a failure."""
    if not condition:
        if REQUIRE_ALL:
            pytest.fail(f"required by CI but unavailable: {reason}")
        pytest.skip(reason)


@pytest.fixture
def postgres_url():
    require(bool(PG_URL), "TEST_DATABASE_URL is not set: PostgreSQL tests need it")
    return PG_URL


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if REQUIRE_ALL and skipped:
        terminalreporter.write_line(f"CI_REQUIRE_ALL=1 but {len(skipped)} test(s) were skipped", red=True)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_ALL and reporter and reporter.stats.get("skipped"):
        session.exitstatus = 1


# --- a live server for browsers and concurrency ------------------------------------------------


@contextmanager
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def chromium_available():
    return bool(shutil.which(CHROMIUM) or os.path.exists(CHROMIUM))

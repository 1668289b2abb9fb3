"""Migrations build the schema from empty, agree with the models (no drift) and go back down.

Runs on the backend under test: SQLite, or PostgreSQL when TEST_DATABASE_URL is set.
"""
import logging

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from core import create_app
from core.extensions import db
from tests.conftest import base_config, scratch_database


@pytest.fixture(autouse=True)
def keep_logging_as_it_was():
    """migrations/env.py calls logging.config.fileConfig, which replaces the root handlers and
    levels (and would disable existing loggers without disable_existing_loggers=False): undo it."""
    manager = logging.Logger.manager
    loggers = {name: (lg.disabled, lg.level) for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root_handlers, root_level = logging.root.handlers[:], logging.root.level
    yield
    for name, lg in list(manager.loggerDict.items()):
        if isinstance(lg, logging.Logger):
            # Loggers created during the test (by create_app) were enabled before fileConfig ran.
            lg.disabled, lg.level = loggers.get(name, (False, lg.level))
    logging.root.handlers[:] = root_handlers
    logging.root.setLevel(root_level)


@pytest.fixture
def empty_app(tmp_path):
    with scratch_database(str(tmp_path), name="migrations") as url:
        app = create_app(base_config(url))
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def table_names():
    return set(sa.inspect(db.engine).get_table_names())


def head_revision(app):
    config = app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config).get_current_head()


def test_upgrade_builds_the_schema_from_empty(empty_app):
    assert table_names() == set()

    flask_migrate.upgrade()

    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head_revision(empty_app)


def test_models_and_migrations_agree(empty_app):
    flask_migrate.upgrade()

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        differences = compare_metadata(context, db.metadata)

    assert differences == [], (
        "the models and the migrations disagree; write a migration "
        "(flask --app wsgi db migrate -m '...') and review it:\n" + "\n".join(map(str, differences))
    )


def test_downgrade_to_base_and_up_again(empty_app):
    flask_migrate.upgrade()

    flask_migrate.downgrade(revision="base")

    assert table_names() <= {"alembic_version"}
    if db.engine.dialect.name == "postgresql":
        # Nothing left behind either: no orphan sequence or type.
        with db.engine.connect() as conn:
            sequences = "SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
            enum_types = ("SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                          "WHERE n.nspname = 'public' AND t.typtype = 'e'")
            assert conn.execute(sa.text(sequences)).scalar() == 0
            assert conn.execute(sa.text(enum_types)).scalar() == 0

    flask_migrate.upgrade()
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}


def test_cli_db_upgrade(empty_app):
    """The command of the README, through the Flask CLI."""
    result = empty_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert set(db.metadata.tables) <= table_names()


def test_one_head_only(empty_app):
    """Two engineers adding migrations in parallel must merge them: one head, one history."""
    config = empty_app.extensions["migrate"].migrate.get_config(empty_app.extensions["migrate"].directory)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; run flask --app wsgi db merge heads"


def test_one_identity_migration_renormalises_and_links_old_rows(empty_app):
    """03ddc3cac8df on rows of the old forms: phones in E.164, unreadable values kept, bookings linked
    to the resident of their site (never an anonymised one, never an `anonyme-` key)."""
    from datetime import UTC, datetime, timedelta

    flask_migrate.upgrade(revision="28b71dc35cb3")
    t = db.metadata.tables
    starts = datetime(2026, 3, 3, 13, tzinfo=UTC)
    with db.engine.begin() as conn:
        a, b = (conn.execute(t["sites"].insert().values(name=n)).inserted_primary_key[0] for n in ("A", "B"))
        room, room_b = (
            conn.execute(t["rooms"].insert().values(site_id=s, name="Salle", workstations=4, feed_token=f * 32)).inserted_primary_key[0]
            for s, f in ((a, "f"), (b, "g"))
        )

        def resident(site, phone, email="", anonymised=False):
            rid = conn.execute(t["residents"].insert().values(
                first_name="X", last_name="Y", first_name_key="x", last_name_key="y", phone=phone, email=email,
                anonymised_at=starts if anonymised else None)).inserted_primary_key[0]
            conn.execute(t["resident_sites"].insert().values(resident_id=rid, site_id=site))
            return rid

        gone = resident(a, "0611111111", anonymised=True)
        marie = resident(a, "0612345678")
        plus = resident(a, "330698765432")  # the residents' old digits of "+33 (0)6 98 76 54 32"
        mail = resident(a, "", "nadia@example.org")
        odd = resident(a, "12")  # not a number: left as it was
        elsewhere = resident(b, "0655555555")

        def booking(n, contact, site=a, phone=None):
            return conn.execute(t["bookings"].insert().values(
                reference=f"REF{n:03d}", token_hash=f"{n:064d}", site_id=site, room_id=room if site == a else room_b,
                starts_at=starts + timedelta(hours=n), ends_at=starts + timedelta(hours=n + 1), first_name="P",
                phone=contact if phone is None else phone, email="", contact_key=contact)).inserted_primary_key[0]

        ids = {
            "marie": booking(1, "0612345678"), "plus": booking(2, "0698765432"), "gone": booking(3, "0611111111"),
            "mail": booking(4, "nadia@example.org", phone=""), "uk": booking(5, "+447700900123"),
            "other_site": booking(6, "0655555555"), "erased": booking(7, "anonyme-0612345678", phone=""),
            "elsewhere": booking(8, "0655555555", site=b),
        }
        conn.execute(t["messages"].insert().values(key="k1", kind="booking_reminder", channel="sms", site_id=a,
                                                   recipient="0612345678", body="x"))
        conn.execute(t["consent_events"].insert().values(contact="0612345678", channel="sms", wanted=False, how="desk",
                                                         at=starts))

    flask_migrate.upgrade()

    with db.engine.connect() as conn:
        phones = dict(conn.execute(sa.select(t["residents"].c.id, t["residents"].c.phone)).all())
        rows = {r.id: r for r in conn.execute(sa.select(t["bookings"]))}
        recipient = conn.execute(sa.select(t["messages"].c.recipient)).scalar()
        contact = conn.execute(sa.select(t["consent_events"].c.contact)).scalar()
    assert phones == {gone: "+33611111111", marie: "+33612345678", plus: "+33698765432", mail: "", odd: "12",
                      elsewhere: "+33655555555"}
    assert (rows[ids["marie"]].phone, rows[ids["marie"]].contact_key) == ("+33612345678", "+33612345678")
    assert rows[ids["uk"]].contact_key == "+447700900123" and rows[ids["erased"]].contact_key == "anonyme-0612345678"
    linked = {name: rows[i].resident_id for name, i in ids.items()}
    assert linked == {"marie": marie, "plus": plus, "gone": None, "mail": mail, "uk": None, "other_site": None,
                      "erased": None, "elsewhere": elsewhere}
    assert recipient == contact == "+33612345678"

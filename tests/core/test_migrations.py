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

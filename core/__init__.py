"""The kernel shared by both domains: app factory, config, database, accounts, sites, auth, errors, clock."""
import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    from .config import check_secret_key, load_config

    load_config(app, test_config)
    check_secret_key(app)
    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.getLogger("core").setLevel(logging.INFO)

    from . import input as input_rules

    input_rules.register(app)  # before the routes: bounded ids, clean query strings and forms
    _init_extensions(app)
    _register_blueprints(app)

    from . import cli, security, templating
    from .authz import check_access_policies

    security.register(app)
    templating.register(app)
    cli.register(app)
    check_access_policies(app)
    return app


def _init_extensions(app):
    from .db import configure_engine
    from .extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app)
    login_manager.init_app(app)
    with app.app_context():
        configure_engine(db.engine)

    from . import auth, sessions

    auth.init_login(login_manager)
    app.after_request(sessions.write_after_request)


def _register_blueprints(app):
    from loans.views import bp as loans_bp
    from reports.views import bp as reports_bp
    from reservations.views import bp as reservations_bp

    from .messaging.staff_views import bp as messages_bp
    from .views import admin_bp, auth_bp, main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    from .privacy.retention_views import bp as retention_bp

    app.register_blueprint(retention_bp, url_prefix="/admin")  # "Données personnelles": retention periods and runs
    app.register_blueprint(loans_bp)
    app.register_blueprint(reservations_bp)
    app.register_blueprint(messages_bp)  # after loans and reservations: its demo loader writes their messages
    app.register_blueprint(reports_bp)  # last: its demo loader builds on the loans and reservations demos

    from reports import summary  # noqa: F401  (report_days, kept in step with every flush of loans and bookings)

    from .messaging import models as messaging_models  # noqa: F401  (the outbox refers to bookings and loans)
    from .messaging import queue as message_queue  # noqa: F401  (wakes the worker after each commit writing a message)
    from .messaging import writing  # noqa: F401  (its in-transaction receivers write the messages)
    from .messaging.views import bp as resident_messages_bp
    from .privacy import erasure  # noqa: F401  (writes the erasure ledger after each erasure's commit)

    app.register_blueprint(resident_messages_bp)  # public: STOP replies and the e-mail's stop link

    from .privacy.notice import bp as privacy_notice_bp

    app.register_blueprint(privacy_notice_bp)  # public: each centre's "Vos données" page and its poster

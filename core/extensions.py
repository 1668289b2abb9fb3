"""Extensions, created unbound and bound in create_app()."""
import gettext
from functools import cached_property

from flask import request
from flask.globals import _cv_app
from flask_babel import Babel, Domain
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Stable constraint names so that Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


class _FrenchPlurals(gettext.NullTranslations):
    """The French rule where no catalogue has the message (the UI is written in French): 0 and 1 take
    the singular ("0 place libre"), where gettext's fallback would say "0 places libres"."""

    def ngettext(self, singular, plural, n):
        return singular if n < 2 else plural


def babel_context():
    """Flask-Babel's per-request namespace (locale, time zone, domain), or None outside an app context.

    What flask_babel._get_current_context() returns, read straight from the app context: Flask-Babel
    looks it up through three context proxies on every gettext and date, which a page pays hundreds of times.
    """
    app_ctx = _cv_app.get(None)
    if app_ctx is None:
        return None
    return app_ctx.g.__dict__.get("_flask_babel")


class _FrenchDomain(Domain):
    def get_translations(self):
        # Looked up once per request (and again only when the locale changes, e.g. force_locale):
        # Flask-Babel's own look-up resolves the context, the locale and its name on every call.
        ns = babel_context()
        if ns is not None:
            memo = ns.__dict__.get("french_translations")
            if memo is not None and memo[0] is self and memo[1] is ns.__dict__.get("babel_locale"):
                return memo[2]
        translations = super().get_translations()
        if getattr(translations, "_fallback", None) is None:
            translations.add_fallback(_FrenchPlurals())
        ns = babel_context()
        if ns is not None and ns.__dict__.get("babel_locale") is not None:
            ns.french_translations = (self, ns.babel_locale, translations)
        return translations


def current_translations():
    """The translations of the current request: what flask_babel.get_translations() returns, without
    resolving the context, the domain and the locale again on every string (templates call it per string)."""
    ns = babel_context()
    if ns is not None:
        memo = ns.__dict__.get("french_translations")
        if memo is not None and memo[0] is ns.__dict__.get("babel_domain") and memo[1] is ns.__dict__.get("babel_locale"):
            return memo[2]
    from flask_babel import get_translations

    return get_translations()


class _FrenchBabel(Babel):
    @cached_property
    def domain_instance(self):
        return _FrenchDomain(domain=self.domain)


babel = _FrenchBabel()


def remote_address():
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=remote_address, default_limits=[])

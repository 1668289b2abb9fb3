"""Extensions, created unbound and bound in create_app()."""
import gettext
from functools import cached_property

from flask import request
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


class _FrenchDomain(Domain):
    def get_translations(self):
        translations = super().get_translations()
        if getattr(translations, "_fallback", None) is None:
            translations.add_fallback(_FrenchPlurals())
        return translations


class _FrenchBabel(Babel):
    @cached_property
    def domain_instance(self):
        return _FrenchDomain(domain=self.domain)


babel = _FrenchBabel()


def remote_address():
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=remote_address, default_limits=[])

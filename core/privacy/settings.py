"""The retention settings in force: the row of privacy_settings, or the CNIL-based defaults before an
admin saved any."""
from core.extensions import db

from .models import PrivacySettings

SETTINGS_ID = 1


def current_settings() -> PrivacySettings:
    """The saved settings, or an unsaved row holding the defaults (never added to the session)."""
    saved = db.session.get(PrivacySettings, SETTINGS_ID)
    if saved is not None:
        return saved
    return default_settings()


def default_settings() -> PrivacySettings:
    defaults = {column.name: column.default.arg for column in PrivacySettings.__table__.columns if column.default is not None}
    return PrivacySettings(id=SETTINGS_ID, **defaults)


def settings_read_on(connection) -> PrivacySettings:
    """The settings read on a connection of its own (the retention preview's read-only one), so that
    the session opens no transaction (on SQLite outside a request, one that takes the write lock)."""
    from sqlalchemy import select

    row = connection.execute(select(PrivacySettings.__table__).where(PrivacySettings.id == SETTINGS_ID)).first()
    return PrivacySettings(**row._mapping) if row is not None else default_settings()


# What an admin may choose (the CHECK constraints of privacy_settings), and what each value means.
RANGES = {
    "resident_months": (1, 120),
    "booking_contact_months": (1, 120),
    "message_body_months": (1, 120),
    "log_months": (1, 24),
    "warning_days": (0, 180),
}


def save_settings(actor, **values) -> PrivacySettings:
    """The admin's page: every period within its range, else a French message next to its field."""
    from flask_babel import gettext as _

    from core.clock import now
    from core.errors import DomainError

    if actor is None or not actor.is_admin:
        raise DomainError(_("Seule la coordination peut changer les durées de conservation."), status=403)
    unknown = set(values) - set(RANGES)
    if unknown:
        raise TypeError(f"unknown privacy settings: {sorted(unknown)}")
    for name, (low, high) in RANGES.items():
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            unit = _("jours") if name == "warning_days" else _("mois")
            raise DomainError(_("Choisissez un nombre entre %(low)s et %(high)s (%(unit)s).", low=low, high=high, unit=unit),
                              field=name)
    settings = db.session.get(PrivacySettings, SETTINGS_ID)
    if settings is None:
        settings = current_settings()
        db.session.add(settings)
    for name in RANGES:
        setattr(settings, name, values[name])
    settings.updated_at, settings.updated_by_id = now(), actor.id
    db.session.flush()
    return settings

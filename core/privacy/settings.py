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
    defaults = {column.name: column.default.arg for column in PrivacySettings.__table__.columns if column.default is not None}
    return PrivacySettings(id=SETTINGS_ID, **defaults)

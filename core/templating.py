"""Template helpers: French dates for Europe/Paris, navigation by role."""
import re
from datetime import UTC, datetime

from flask_babel import format_date, format_datetime, format_time
from flask_login import current_user

from .clock import PARIS
from .contacts import format_phone as phone_display  # the `phone` filter; core/contacts.py
from .contacts import phone_href
from .models import Role

# A day number written before the month's name ("d MMMM", "d MMM"), not inside "dd" nor a quoted literal.
_DAY_BEFORE_MONTH = re.compile(r"(?<![d'])d(?= MMM)")


def french_date(value, pattern: str = "EEEE d MMMM y") -> str:
    """A date (or an instant, shown in Paris) as French writes it: "1er novembre", not CLDR's "1 novembre".

    Every date shown with its month's name goes through here.
    """
    if value is None:
        return ""
    day = value
    if isinstance(value, datetime):
        day = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(PARIS)
    if day.day == 1:
        pattern = _DAY_BEFORE_MONTH.sub("d'er'", pattern)
    return format_datetime(value, pattern) if isinstance(value, datetime) else format_date(value, pattern)


def register(app):
    app.jinja_env.filters["phone"] = phone_display
    app.jinja_env.filters["tel"] = phone_href
    app.jinja_env.filters["date_fr"] = lambda value: french_date(value, "EEEE d MMMM y")
    app.jinja_env.filters["datetime_fr"] = lambda value: french_date(value, "EEEE d MMMM y 'à' HH:mm")
    app.jinja_env.filters["time_fr"] = lambda value: format_time(value, "HH:mm") if value else ""
    app.jinja_env.filters["short_date"] = lambda value: format_date(value, "dd/MM/y") if value else ""
    from .hours import desk_week

    app.jinja_env.globals["desk_week"] = desk_week

    from flask_babel import lazy_gettext as _l

    add_nav(app, "main.staff_home", _l("Mon espace"), order=10)
    add_nav(app, "admin.sites", _l("Structures"), roles=ADMINS, order=80)
    add_nav(app, "admin.staff", _l("Personnel"), roles=ADMINS, order=85)
    add_nav(app, "auth.change_password", _l("Mot de passe"), order=95)

    @app.context_processor
    def navigation():
        return {"nav_items": nav_items(app)}


def nav_items(app):
    """Menu entries for the current person; other blueprints add theirs to app.extensions['nav']."""
    if not current_user.is_authenticated:
        return []
    items = []
    for entry in app.extensions.get("nav", []):
        roles = entry.get("roles")
        if roles is None or current_user.is_admin or current_user.role in roles:
            items.append(entry)
    return items


def add_nav(app, endpoint, label, roles=None, order=50):
    app.extensions.setdefault("nav", []).append({"endpoint": endpoint, "label": label, "roles": roles, "order": order})
    app.extensions["nav"].sort(key=lambda e: e["order"])


ALL_STAFF = None
MANAGERS = (Role.manager,)
ADMINS = (Role.admin,)

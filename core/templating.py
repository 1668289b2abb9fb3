"""Template helpers: French dates for Europe/Paris, navigation by role."""
from flask_babel import format_date, format_datetime, format_time
from flask_login import current_user

from .models import Role


def register(app):
    app.jinja_env.filters["date_fr"] = lambda value: format_date(value, "EEEE d MMMM y") if value else ""
    app.jinja_env.filters["datetime_fr"] = (
        lambda value: format_datetime(value, "EEEE d MMMM y 'à' HH:mm") if value else ""
    )
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

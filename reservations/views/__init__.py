"""Blueprint of the reservations domain. Each module adds its routes to `bp`."""
from datetime import date, datetime

from flask import Blueprint, abort, flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import clock
from core.clock import PARIS
from core.input import parse_iso_day
from core.templating import french_date

from .. import models  # noqa: F401  (tables known to the app and to Alembic)

bp = Blueprint("reservations", __name__)


def say_time(value) -> str:
    """Times as people say them: 14 h, 14 h 30."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS)
    return f"{value.hour} h" if value.minute == 0 else f"{value.hour} h {value.minute:02d}"


def say_day(value) -> str:
    """mardi 1er décembre (the year only when it is not this year's)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    pattern = "EEEE d MMMM" if value.year == clock.today().year else "EEEE d MMMM y"
    return french_date(value, pattern)


def parse_day(raw: str | None, default: date | None = None) -> date:
    if not raw:
        if default is None:
            abort(404)
        return default
    day = parse_iso_day(raw)  # None also for a day outside the application's range (year 1, 9999)
    if day is None:
        abort(404)
    return day


def flash_promoted(promoted) -> None:
    """Tell the staff who came off a waiting list onto a confirmed place."""
    for booking in promoted:
        flash(_("%(name)s (%(ref)s) passe de la liste d'attente à une place confirmée.",
                name=booking.first_name, ref=booking.reference), "info")


@bp.record_once
def _setup(state):
    from core.demo import register_demo_loader
    from core.templating import ALL_STAFF, add_nav

    app = state.app
    app.jinja_env.filters["say_time"] = say_time
    app.jinja_env.filters["say_day"] = say_day
    app.jinja_env.filters["paris_date"] = lambda value: value.astimezone(PARIS).date() if value else None
    add_nav(app, "reservations.rooms", _l("Salles et ateliers"), order=40)
    add_nav(app, "reservations.arrivals_home", _l("Arrivées en salle"), roles=ALL_STAFF, order=45)

    from ..demo import load_demo

    register_demo_loader(app, load_demo)


# Route modules, imported for their side effect of registering on `bp`.
from . import arrivals, public, rooms, workshops  # noqa: E402,F401  (the route modules register on bp, defined above)

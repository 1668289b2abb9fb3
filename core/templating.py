"""Template helpers: French dates for Europe/Paris, navigation by role, translations looked up once per request."""
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from flask import url_for
from flask_babel import format_date, format_datetime, format_time, get_locale, get_timezone
from flask_login import current_user

from .clock import PARIS
from .contacts import format_phone as phone_display  # the `phone` filter; core/contacts.py
from .contacts import phone_href
from .extensions import babel_context, current_translations
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
    return format_with(value, pattern)


def datetime_fr(value) -> str:
    """The `datetime_fr` filter: "lundi 3 mars 2026 à 14:05"."""
    return french_date(value, "EEEE d MMMM y 'à' HH:mm")


def datetimes_fr():
    """datetime_fr for the many instants of one list (a device's history): each local day's words are
    written once, the time of day from each instant. A function per list: nothing outlives it."""
    days = {}
    ns = babel_context()
    zone = _zoneinfo((ns is not None and ns.__dict__.get("babel_tzinfo")) or get_timezone())

    def write(value) -> str:
        local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
        day = local.date()
        words = days.get(day)
        if words is None:
            words = days[day] = french_date(day, "EEEE d MMMM y")
        return f"{words} à {local.hour:02d}:{local.minute:02d}"

    return write


def format_with(value, pattern: str) -> str:
    """flask_babel's format_datetime (a datetime: shown in the request's time zone) or format_date (a date),
    with a Babel pattern. The request's locale and time zone are read once, and the usual patterns
    (days, months, years, hours, minutes) are written straight from the locale's names: the same text
    as Babel's, without resolving the locale, the zone and the pattern again for each date of a page."""
    ns = babel_context()
    if ns is None:
        return format_datetime(value, pattern) if isinstance(value, datetime) else format_date(value, pattern)
    locale = ns.__dict__.get("babel_locale") or get_locale()
    if isinstance(value, datetime):
        zone = _zoneinfo(ns.__dict__.get("babel_tzinfo") or get_timezone())
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    writer = _writer(pattern, locale)
    if writer is None:  # a pattern the fast writer does not know: Babel itself
        return babel_dates.format_datetime(value, pattern, locale=locale) if isinstance(value, datetime) \
            else babel_dates.format_date(value, pattern, locale=locale)
    return "".join(part if part.__class__ is str else part(value) for part in writer)


_ZONES: dict = {}


def _zoneinfo(zone):
    """Flask-Babel's pytz zone as the standard library's ZoneInfo (as core.clock uses): the same local
    times, converted ten times faster."""
    name = getattr(zone, "zone", None)
    if name is None:
        return zone
    try:
        return _ZONES[name]
    except KeyError:
        return _ZONES.setdefault(name, ZoneInfo(name))


_WRITERS: dict = {}
_WIDTHS = {3: "abbreviated", 4: "wide", 5: "narrow"}


def _writer(pattern: str, locale):
    """The pattern as a list of literal strings and functions of the value (None: not handled here)."""
    key = (pattern, locale.language, locale.territory, locale.script, locale.variant)
    try:
        return _WRITERS[key]
    except KeyError:
        pass
    parts = []
    for kind, token in babel_dates.tokenize_pattern(pattern):
        if kind == "chars":
            parts.append(token)
            continue
        char, num = token
        part = _field(char, num, locale)
        if part is None:
            parts = None
            break
        parts.append(part)
    _WRITERS[key] = parts
    return parts


def _number(attribute, num):
    return lambda value: f"{getattr(value, attribute):0{num}d}"


def _field(char, num, locale):
    # As babel.dates.DateTimeFormat writes these fields.
    if char == "d":
        return _number("day", num)
    if char == "H":
        return _number("hour", num)
    if char == "m":
        return _number("minute", num)
    if char == "y":
        return (lambda value: f"{value.year:02d}"[-2:]) if num == 2 else _number("year", num)
    if char in ("M", "L"):
        if num <= 2:
            return _number("month", num)
        names = babel_dates.get_month_names(_WIDTHS[num], "format" if char == "M" else "stand-alone", locale)
        return lambda value: names[value.month]
    if char == "E":
        width = _WIDTHS.get(max(num, 3)) if num != 6 else "short"
        names = babel_dates.get_day_names(width, "format", locale)
        return lambda value: names[value.weekday()]
    return None


_PLAIN = re.compile(r"[A-Za-z0-9]+")
_SAMPLE = 1234567


def url_maker(endpoint: str, key: str):
    """url_for(endpoint, key=value) for the many values of one parameter in a list: the address is built
    once with a sample value, then each plain value (letters and digits: ids, device codes) is put in
    its place; any other value goes through url_for."""
    built = url_for(endpoint, **{key: _SAMPLE})
    before, sample, after = built.partition(str(_SAMPLE))
    if not sample or str(_SAMPLE) in after:
        return lambda value: url_for(endpoint, **{key: value})

    def make(value):
        text = str(value)
        if _PLAIN.fullmatch(text):
            return before + text + after
        return url_for(endpoint, **{key: value})

    return make


def _time_fr(value) -> str:
    if not value:
        return ""
    return format_with(value, "HH:mm") if isinstance(value, datetime) else format_time(value, "HH:mm")


def register(app):
    app.jinja_env.filters["phone"] = phone_display
    app.jinja_env.filters["tel"] = phone_href
    app.jinja_env.filters["date_fr"] = lambda value: french_date(value, "EEEE d MMMM y")
    app.jinja_env.filters["datetime_fr"] = datetime_fr
    app.jinja_env.filters["time_fr"] = _time_fr
    app.jinja_env.filters["short_date"] = lambda value: format_with(value, "dd/MM/y") if value else ""
    # Flask-Babel's gettext in templates resolves the context, domain and locale for every string.
    app.jinja_env.install_gettext_callables(
        gettext=lambda string: current_translations().ugettext(string),
        ngettext=lambda singular, plural, n: current_translations().ungettext(singular, plural, n),
        newstyle=True,
    )
    from .hours import desk_week

    app.jinja_env.globals["desk_week"] = desk_week
    app.jinja_env.globals["url_maker"] = url_maker

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

"""What the application accepts from outside, enforced in one place (issue 9: no request can produce a 500).

- URLs: the `int` converter is replaced by one bounded to the database's integer range, so
  `/habitants/99999999999999999999999` is a 404 instead of an overflow in the driver; the text
  converter refuses control characters (a NUL in `/equipements/<tag>` is a 404; `<path:…>` is left to
  its view: /d/<code> answers its own "unknown code" page).
- Query strings and form bodies: every value is read through CleanMultiDict, which drops NUL and the
  other control characters (PostgreSQL refuses NUL; the others are never typed on purpose) and whose
  `get(..., type=int)` refuses what is not a plain bounded number (`²`, other scripts' digits, 10^30).
- Dates: one range the application accepts (FIRST_DAY … LAST_DAY); the shared date parsing and the
  forms' date fields refuse anything else, so no month or UTC arithmetic can leave the calendar.
"""
import re
from datetime import date

from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter, UnicodeConverter

# Primary and foreign keys are INTEGER columns: 32-bit signed on PostgreSQL.
MAX_ID = 2**31 - 1
MAX_INT = 2**31 - 1  # any number a form stores lands in an INTEGER column too

# The dates the service deals with: loans, bookings, workshops and reports all fall between these.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)

# Control characters except tab, line feed and carriage return (kept: text areas have lines).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PLAIN_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")  # ASCII digits only: int() also reads '١٢٣'


def clean_text(value):
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def parse_int(text, minimum=-MAX_INT, maximum=MAX_INT) -> int:
    """A plain decimal integer within bounds, or ValueError (never an OverflowError later)."""
    text = (text or "").strip() if isinstance(text, str) else str(text)
    if not PLAIN_INTEGER.fullmatch(text):
        raise ValueError("not a plain integer")
    number = int(text)
    if not minimum <= number <= maximum:
        raise ValueError("integer out of range")
    return number


def page_number(raw) -> int:
    """The page a list's query string asks for: 1 when missing or not a plain number, at most 100,000."""
    try:
        return min(parse_int(raw or "1", 1), 100_000)
    except ValueError:
        return 1


def parse_id(text) -> int | None:
    """A database id read from text (a scanned code, a hidden field): None when it cannot be one."""
    try:
        return parse_int(text, 1, MAX_ID)
    except (TypeError, ValueError):
        return None


def day_in_range(day) -> bool:
    return day is not None and FIRST_DAY <= day <= LAST_DAY


def parse_iso_day(raw) -> date | None:
    """'2026-12-03' → date; None when unreadable, impossible (Feb 30) or outside the accepted range."""
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day_in_range(day) else None


_DATE_FR = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})")
_DATE_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_french_date(raw, *, earliest: date = FIRST_DAY, latest: date = LAST_DAY) -> date | None:
    """What a person types as a date: '25/12/2023' (also 25-12-2023, 25.12.2023, 5/3/2024) or
    '2023-12-25' from a date picker → date. None for an empty text; ValueError with the French
    sentence to show for an unreadable or impossible date, or one outside [earliest, latest]
    (by default the application's range)."""
    from flask_babel import gettext as _

    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not text:
        return None
    if match := _DATE_FR.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    elif match := _DATE_ISO.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValueError(_("Date illisible : « %(value)s ». Écrivez-la sous la forme jj/mm/aaaa, par exemple 25/09/2023.",
                           value=text[:40]))
    try:
        value = date(year, month, day)
    except ValueError:
        raise ValueError(_("Cette date n'existe pas : « %(value)s ».", value=text[:40])) from None
    if not max(earliest, FIRST_DAY) <= value <= min(latest, LAST_DAY):
        raise ValueError(_("Choisissez une date entre le %(first)s et le %(last)s.",
                           first=max(earliest, FIRST_DAY).strftime("%d/%m/%Y"),
                           last=min(latest, LAST_DAY).strftime("%d/%m/%Y")))
    return value


class CleanMultiDict(ImmutableMultiDict):
    """Query-string and form values without control characters; `get(type=int)` bounded."""

    def __init__(self, mapping=None):
        if isinstance(mapping, MultiDict):
            mapping = list(mapping.items(multi=True))
        elif isinstance(mapping, dict):
            mapping = [(k, v) for k, values in mapping.items() for v in (values if isinstance(values, (list, tuple)) else [values])]
        if mapping is not None:
            mapping = [(clean_text(key), clean_text(value)) for key, value in mapping]
        super().__init__(mapping)

    def get(self, key, default=None, type=None):
        if type is int:
            type = parse_int
        return super().get(key, default=default, type=type)


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a positive id that fits the database's integer columns, else 404."""

    def __init__(self, url_map, fixed_digits=0, min=1, max=MAX_ID, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class TextConverter(UnicodeConverter):
    """`<tag>`, `<token>`…: any text but a slash or a control character (a NUL in a URL is a 404)."""

    def __init__(self, url_map, minlength=1, maxlength=None, length=None):
        super().__init__(url_map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\x00-\x1f\x7f]", 1)


def register(app):
    """Called by create_app before the blueprints add their routes."""
    from flask import Request as FlaskRequest

    app.request_class = type("Request", (FlaskRequest,), {"parameter_storage_class": CleanMultiDict})
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter

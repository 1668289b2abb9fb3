"""Report periods: a month, a quarter, a year or chosen dates, and the period they are compared with.

Definitions (shown to people in the page footnote, tested in tests/reports/test_periods.py):

- A period is a range of Europe/Paris calendar days. Its figures stop at the end of yesterday
  ("chiffres arrêtés à hier soir"): the counted window is [first day, min(last day, yesterday)].
  Today is never counted, so a figure never changes while someone reads it, and a day is always
  a whole day.
- The comparison period is the previous one of the same length: a whole month, quarter or year is
  compared with the whole previous month, quarter or year (March with February); one in progress
  with as many days from the start of the previous one (March 1-15 with February 1-15, clipped to
  February's end); chosen dates with the same number of days ending the day before the first date.
- A window is half-open, [first, end): `end` is the day after the last counted day. Instants are
  local midnights converted to UTC, so a window over a daylight-saving change lasts 23 or 25 hours
  more or less than whole days of 24 hours — and still counts whole calendar days.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import format_date, ngettext
from flask_babel import gettext as _

from core.clock import local_midnight_utc, today
from core.errors import DomainError
from core.input import FIRST_DAY, LAST_DAY, parse_french_date
from core.templating import french_date

EARLIEST = FIRST_DAY  # the application's date range (core/input.py): no month arithmetic leaves the calendar
# Days of figures the current month needs before the reports open on it.
DEFAULT_MONTH_MIN_DAYS = 7
MAX_CUSTOM_DAYS = 366 * 10

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-T([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(DomainError):
    """A period cannot be read; `field` is the form field the French message belongs to."""

    def __init__(self, message, field="periode"):
        super().__init__(message, field)


@dataclass(frozen=True)
class Window:
    """Counted days [first, end) of a period."""

    first: date
    end: date

    @property
    def days(self) -> int:
        return max(0, (self.end - self.first).days)

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def empty(self) -> bool:
        return self.days == 0

    @property
    def start_utc(self) -> datetime:
        return local_midnight_utc(self.first)

    @property
    def end_utc(self) -> datetime:
        return local_midnight_utc(self.end)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str  # "month", "quarter", "year" or "custom"
    first: date
    last: date  # as chosen; the counted window stops at yesterday

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        first = date(year, month, 1)
        return cls("month", first, _add_months(first, 1) - timedelta(days=1))

    @classmethod
    def quarter(cls, year: int, number: int) -> "Period":
        first = date(year, 3 * (number - 1) + 1, 1)
        return cls("quarter", first, _add_months(first, 3) - timedelta(days=1))

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls("year", date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def custom(cls, first: date, last: date) -> "Period":
        return cls("custom", first, last)

    @classmethod
    def default(cls, on: date | None = None) -> "Period":
        """The current month once it has a week of figures; before that, the last complete month
        (on the 2nd, one day of figures against a whole month would mislead)."""
        day = on or today()
        if day.day - 1 >= DEFAULT_MONTH_MIN_DAYS:
            return cls.month(day.year, day.month)
        previous = _add_months(day.replace(day=1), -1)
        return cls.month(previous.year, previous.month)

    # --- what is counted -----------------------------------------------------------------------

    def window(self, on: date | None = None) -> Window:
        end = min(self.last + timedelta(days=1), on or today())
        return Window(self.first, max(self.first, end))

    def previous(self, on: date | None = None) -> "Period":
        """The comparison period (see the module docstring)."""
        days = self.window(on).days
        if self.kind == "custom":
            return Period("custom", self.first - timedelta(days=days), self.first - timedelta(days=1))
        step = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        first = _add_months(self.first, -step)
        natural_last = _add_months(first, step) - timedelta(days=1)
        if self.is_complete(on):
            return Period(self.kind, first, natural_last)
        return Period(self.kind, first, min(natural_last, first + timedelta(days=days - 1)))

    def is_complete(self, on: date | None = None) -> bool:
        return self.window(on).last >= self.last

    # --- words and URLs ------------------------------------------------------------------------

    @property
    def key(self) -> str:
        """How the period appears in a URL (?periode=…); custom dates use ?du=…&au=…."""
        if self.kind == "month":
            return f"{self.first.year}-{self.first.month:02d}"
        if self.kind == "quarter":
            return f"{self.first.year}-T{(self.first.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.first.year)
        return ""

    def params(self) -> dict:
        if self.kind == "custom":
            return {"du": self.first.strftime("%d/%m/%Y"), "au": self.last.strftime("%d/%m/%Y")}
        return {"periode": self.key}

    @property
    def label(self) -> str:
        if self.kind == "month":
            return format_date(self.first, "MMMM y")
        if self.kind == "quarter":
            number = (self.first.month - 1) // 3 + 1
            return _("%(n)s trimestre %(year)s", n=_("1er") if number == 1 else _("%(n)se", n=number), year=self.first.year)
        if self.kind == "year":
            return _("année %(year)s", year=self.first.year)
        return _("du %(first)s au %(last)s", first=french_date(self.first, "d MMMM y"), last=french_date(self.last, "d MMMM y"))


def window_label(window: Window) -> str:
    if window.empty:
        return _("aucun jour")
    if window.first == window.last:
        # Read after "chiffres" and "comparés à ceux": "du 1er novembre 2026".
        return _("du %(day)s", day=french_date(window.first, "d MMMM y"))
    return _("du %(first)s au %(last)s", first=french_date(window.first, "d MMMM y"), last=french_date(window.last, "d MMMM y"))


def parse_key(raw: str) -> Period:
    """'2026-03' (month), '2026-T1' (quarter), '2026' (year)."""
    text = (raw or "").strip()
    if (match := re.match(r"^(\d{4})", text)) and not EARLIEST.year <= int(match[1]) <= LAST_DAY.year:
        raise PeriodError(_("Choisissez une période après le 1er janvier 2000."))
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            return _checked(Period.month(year, month))
    elif match := _QUARTER.match(text):
        return _checked(Period.quarter(int(match[1]), int(match[2])))
    elif match := _YEAR.match(text):
        return _checked(Period.year(int(match[1])))
    raise PeriodError(_("Période inconnue : « %(value)s ». Choisissez-en une dans la liste.", value=text[:40]))


def _checked(period: Period, field="periode") -> Period:
    if period.first < EARLIEST:
        raise PeriodError(_("Choisissez une période après le 1er janvier 2000."), field)
    if period.window().empty:
        raise PeriodError(
            _("Les chiffres s'arrêtent à hier soir : cette période n'a pas encore de jour complet. Choisissez une période passée."),
            field,
        )
    return period


def parse_day(raw: str, field: str) -> date:
    """One of the chosen dates (core.input.parse_french_date), required; PeriodError names its field."""
    try:
        day = parse_french_date(raw)
    except ValueError as exc:
        raise PeriodError(str(exc), field) from None
    if day is None:
        raise PeriodError(_("Indiquez une date, par exemple 01/03/2026."), field)
    return day


def parse_custom(raw_first: str, raw_last: str) -> Period:
    """Chosen dates, both included. Every problem names its field ('du' or 'au')."""
    errors = []
    first = last = None
    try:
        first = parse_day(raw_first, "du")
    except PeriodError as exc:
        errors.append(exc)
    try:
        last = parse_day(raw_last, "au")
    except PeriodError as exc:
        errors.append(exc)
    if errors:
        raise PeriodErrors(errors)
    if last < first:
        raise PeriodError(_("La date de fin doit être le même jour que la date de début ou après."), "au")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise PeriodError(_("Choisissez une période de dix ans au plus."), "au")
    return _checked(Period.custom(first, last), "du")


class PeriodErrors(PeriodError):
    """Several fields are wrong at once."""

    def __init__(self, errors):
        super().__init__(str(errors[0]), errors[0].field)
        self.errors = errors


def from_args(args) -> Period:
    """The period asked for in the query string; none asked: the default. Raises PeriodError."""
    if "du" in args or "au" in args:
        return parse_custom(args.get("du", ""), args.get("au", ""))
    if args.get("periode"):
        return parse_key(args["periode"])
    return Period.default()


def default_note(on: date | None = None) -> str | None:
    """Why the reports open on the last complete month rather than the current one, if they do."""
    day = on or today()
    current = Period.month(day.year, day.month)
    if Period.default(day) == current:
        return None
    days = day.day - 1
    return ngettext(
        "Le mois en cours n'a encore que %(num)s jour de chiffres : le rapport s'ouvre sur le dernier mois complet, %(month)s. "
        "Pour voir %(current)s, choisissez-le dans la liste.",
        "Le mois en cours n'a encore que %(num)s jours de chiffres : le rapport s'ouvre sur le dernier mois complet, %(month)s. "
        "Pour voir %(current)s, choisissez-le dans la liste.",
        days, month=Period.default(day).label, current=current.label,
    ) if days else _(
        "Le mois en cours n'a pas encore de chiffres : le rapport s'ouvre sur le dernier mois complet, %(month)s.",
        month=Period.default(day).label,
    )


def choices(on: date | None = None) -> list[tuple[str, list[Period]]]:
    """What the period list offers: the last 24 months, 8 quarters and 5 years that have begun."""
    yesterday = (on or today()) - timedelta(days=1)
    months = [Period.month(d.year, d.month) for d in (_add_months(yesterday.replace(day=1), -n) for n in range(24))]
    quarter_first = date(yesterday.year, 3 * ((yesterday.month - 1) // 3) + 1, 1)
    quarters = [Period.quarter(d.year, (d.month - 1) // 3 + 1) for d in (_add_months(quarter_first, -3 * n) for n in range(8))]
    years = [Period.year(yesterday.year - n) for n in range(5)]
    return [(_("Mois"), months), (_("Trimestres"), quarters), (_("Années"), years)]


def quarters_of(year: int) -> list[Period]:
    return [Period.quarter(year, n) for n in range(1, 5)]

"""Opening hours: the text people type ("9:00-12:00, 14h-17h30"), and when a site's desk is open.

A day is a desk day of a site when the site's reception has hours that weekday (DeskHours) and
no site-wide closure covers it. A site that has entered no desk hours at all is taken as open
every day but its closures: better a proposed date than none.
Site-wide closures are entered with the rooms (reservations' Closure without a room): one calendar.
"""
import re
from datetime import date, time, timedelta

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .extensions import db

WEEKDAYS = [_l("Lundi"), _l("Mardi"), _l("Mercredi"), _l("Jeudi"), _l("Vendredi"), _l("Samedi"), _l("Dimanche")]
# How far to look for the next open day: beyond that, something is wrong with the hours entered.
SEARCH_DAYS = 60

RANGE = re.compile(r"^(\d{1,2})\s*(?:[h:]\s*(\d{2})?)?\s*(?:-|–|à|a)\s*(\d{1,2})\s*(?:[h:]\s*(\d{2})?)?$")


def parse_hours(text: str) -> list[tuple[time, time]]:
    """ "9:00-12:00, 14h-17h30" → [(09:00, 12:00), (14:00, 17:30)]. Raises ValueError in French."""
    ranges = []
    for part in re.split(r"[,;/]|\s+et\s+", (text or "").strip()):
        part = part.strip().lower()
        if not part:
            continue
        match = RANGE.match(part)
        if not match:
            raise ValueError(_l("Écrivez les horaires ainsi : 9:00-12:00, 14:00-17:30."))
        h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(_l("L'heure « %(part)s » n'existe pas.", part=part))
        start, end = time(h1, m1), time(23, 59) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(_l("Dans « %(part)s », la fin doit être après le début.", part=part))
        ranges.append((start, end))
    ranges.sort()
    for (_s1, e1), (s2, _e2) in zip(ranges, ranges[1:], strict=False):
        if s2 < e1:
            raise ValueError(_l("Deux plages horaires se chevauchent."))
    return ranges


def format_hours(ranges) -> str:
    """What the form shows back: 09:00-12:00, 14:00-17:30."""
    return ", ".join(f"{s.strftime('%H:%M')}-{e.strftime('%H:%M')}" for s, e in ranges)


def say_clock(value: time) -> str:
    return f"{value.hour} h" if value.minute == 0 else f"{value.hour} h {value.minute:02d}"


def say_ranges(ranges) -> str:
    """de 9 h à 12 h et de 13 h 30 à 18 h"""
    parts = [_("de %(start)s à %(end)s", start=say_clock(s), end=say_clock(e)) for s, e in ranges]
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " " + _("et") + " " + parts[-1]


def desk_week(site) -> list[tuple[str, str]]:
    """The desk's week in plain words, consecutive days with the same hours grouped:
    [("Du lundi au vendredi", "de 9 h à 12 h et de 13 h 30 à 18 h"), ("Samedi", "de 9 h à 12 h")]."""
    by_day = [tuple((h.starts, h.ends) for h in site.desk_hours if h.weekday == wd) for wd in range(7)]
    groups = []
    for weekday, ranges in enumerate(by_day):
        if not ranges:
            continue
        if groups and groups[-1][1] == weekday - 1 and groups[-1][2] == ranges:
            groups[-1][1] = weekday
        else:
            groups.append([weekday, weekday, ranges])
    lines = []
    for first, last, ranges in groups:
        if first == last:
            days = str(WEEKDAYS[first])
        elif last == first + 1:
            days = _("%(a)s et %(b)s", a=WEEKDAYS[first], b=str(WEEKDAYS[last]).lower())
        else:
            days = _("Du %(a)s au %(b)s", a=str(WEEKDAYS[first]).lower(), b=str(WEEKDAYS[last]).lower())
        lines.append((days, say_ranges(ranges)))
    return lines


def _site_closures(site_id: int, first_day: date, last_day: date):
    from reservations.models import Closure  # the site-wide closures are entered with the rooms

    return db.session.scalars(
        select(Closure).where(
            Closure.site_id == site_id,
            Closure.room_id.is_(None),
            Closure.first_day <= last_day,
            Closure.last_day >= first_day,
        )
    ).all()


def _closed_reason(site, day: date, closures) -> str | None:
    for closure in closures:
        if closure.first_day <= day <= closure.last_day:
            return _("le centre est fermé (%(reason)s)", reason=closure.reason)
    if site.desk_hours and not any(h.weekday == day.weekday() for h in site.desk_hours):
        return _("l'accueil est fermé le %(weekday)s", weekday=str(WEEKDAYS[day.weekday()]).lower())
    return None


def desk_closed_reason(site, day: date) -> str | None:
    """Why the desk of `site` is closed on `day` (a phrase to put in a sentence), or None when open."""
    return _closed_reason(site, day, _site_closures(site.id, day, day))


def next_open_day(site, day: date) -> date:
    """`day` itself when the desk is open, else the first open day after it (two queries)."""
    closures = _site_closures(site.id, day, day + timedelta(days=SEARCH_DAYS))
    for offset in range(SEARCH_DAYS + 1):
        candidate = day + timedelta(days=offset)
        if _closed_reason(site, candidate, closures) is None:
            return candidate
    return day


def closed_day_warning(site, day: date) -> str | None:
    """The warning shown when a due date falls on a day the desk is closed."""
    reason = desk_closed_reason(site, day)
    if reason is None:
        return None
    return _("Attention : le %(date)s, %(reason)s. La personne ne pourra pas rapporter l'équipement ce jour-là ; "
             "prochain jour d'ouverture : %(next)s.",
             date=format_date(day, "EEEE d MMMM"), reason=reason, next=format_date(next_open_day(site, day), "EEEE d MMMM"))

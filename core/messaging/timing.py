"""When a message may go: never an SMS at night (20:00–8:00), on a Sunday or on a French public
holiday — it waits for the next allowed moment — except a waiting-list place for a booking the same
day, which cannot wait. E-mails go at any time (they do not ring)."""
from datetime import UTC, date, datetime, time, timedelta

import holidays

from ..clock import PARIS

SMS_FROM = time(8, 0)
SMS_UNTIL = time(20, 0)


def is_public_holiday(day: date) -> bool:
    return day in holidays.country_holidays("FR", years=day.year)


def _allowed_day(day: date) -> bool:
    return day.weekday() != 6 and not is_public_holiday(day)


def sms_allowed_at(at: datetime) -> bool:
    local = at.astimezone(PARIS)
    return _allowed_day(local.date()) and SMS_FROM <= local.time() < SMS_UNTIL


def next_allowed(at: datetime, channel: str, *, urgent: bool = False) -> datetime:
    """The first moment at or after `at` (aware) when a message of this channel may be sent, in UTC.
    `urgent`: a waiting-list place for today, sent at once whatever the hour."""
    if channel != "sms" or urgent or sms_allowed_at(at):
        return at.astimezone(UTC)
    local = at.astimezone(PARIS)
    day = local.date() if local.time() < SMS_FROM else local.date() + timedelta(days=1)
    while not _allowed_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, SMS_FROM, tzinfo=PARIS).astimezone(UTC)

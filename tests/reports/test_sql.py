"""core/sql.py: the expressions written once and compiled for SQLite and PostgreSQL give the same answers."""
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Date, literal, select

from core.db import UTCDateTime
from core.sql import days_between, greatest, least, local_date, minutes_between

UTC = UTC


def one(db, expression):
    return db.session.scalar(select(expression))


@pytest.mark.parametrize("instant, day", [
    (datetime(2026, 3, 24, 23, 30, tzinfo=UTC), date(2026, 3, 25)),  # CET: 00:30 in Paris
    (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), date(2026, 3, 29)),  # 01:59 CET, just before the change
    (datetime(2026, 3, 29, 22, 30, tzinfo=UTC), date(2026, 3, 30)),  # CEST: 00:30
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), date(2026, 10, 25)),  # 02:30 CEST (first time)
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), date(2026, 10, 25)),  # 02:30 CET (second time)
    (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), date(2026, 10, 25)),  # 23:59 CET
    (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1)),
    (datetime(2026, 7, 14, 21, 59, tzinfo=UTC), date(2026, 7, 14)),  # 23:59 CEST: the last minute read without parsing
    (datetime(2026, 7, 14, 22, 0, tzinfo=UTC), date(2026, 7, 15)),  # 00:00 CEST
    (datetime(2026, 1, 14, 22, 59, tzinfo=UTC), date(2026, 1, 14)),  # 23:59 CET
])
def test_local_date_of_an_instant(db, instant, day):
    assert one(db, local_date(literal(instant, UTCDateTime))) == day


def test_days_minutes_least_greatest(db):
    d = lambda value: literal(value, Date)  # noqa: E731  (a one-line literal helper)
    assert one(db, days_between(d(date(2026, 3, 30)), d(date(2026, 3, 28)))) == 2  # across the 23-hour day
    assert one(db, days_between(d(date(2026, 10, 26)), d(date(2026, 10, 24)))) == 2  # across the 25-hour day
    assert one(db, days_between(d(date(2026, 1, 1)), d(date(2026, 3, 1)))) == -59
    assert one(db, days_between(d(date(2024, 3, 1)), d(date(2024, 2, 1)))) == 29
    t = lambda *a: literal(datetime(*a, tzinfo=UTC), UTCDateTime)  # noqa: E731  (a one-line literal helper)
    assert one(db, minutes_between(t(2026, 10, 25, 2, 0), t(2026, 10, 24, 23, 0))) == 180
    assert one(db, minutes_between(t(2026, 3, 1, 10, 0), t(2026, 3, 1, 9, 15))) == 45
    assert one(db, least(d(date(2026, 3, 5)), d(date(2026, 3, 4)))) == date(2026, 3, 4)
    assert one(db, greatest(d(date(2026, 3, 5)), d(date(2026, 3, 4)))) == date(2026, 3, 5)


def test_paris_date_reads_the_date_without_parsing_only_when_it_is_the_same():
    """SQLite's paris_date() takes the UTC date as it is before 22:00 UTC: every minute of two years agrees."""
    from datetime import timedelta

    from core.clock import PARIS
    from core.sql import paris_date

    at = datetime(2025, 1, 1, tzinfo=UTC)
    while at < datetime(2027, 1, 1, tzinfo=UTC):
        assert paris_date(at.strftime("%Y-%m-%d %H:%M:%S.%f")) == at.astimezone(PARIS).date().isoformat()
        at += timedelta(minutes=7)

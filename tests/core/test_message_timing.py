"""Quiet hours of SMS (core/messaging/timing.py): never at night, on Sundays or public holidays."""
from datetime import datetime

import pytest

from core.clock import PARIS
from core.messaging.timing import next_allowed


def paris(text):
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-12-02 14:00", "2026-12-02 14:00"),  # a Wednesday afternoon: at once
    ("2026-12-02 07:59", "2026-12-02 08:00"),  # before 8:00: at 8:00
    ("2026-12-02 20:00", "2026-12-03 08:00"),  # 20:00 and later: next morning
    ("2026-12-05 21:30", "2026-12-07 08:00"),  # Saturday night: not Sunday, Monday morning
    ("2026-12-06 10:00", "2026-12-07 08:00"),  # Sunday: Monday
    ("2026-12-24 22:00", "2026-12-26 08:00"),  # Christmas Day is a public holiday
    ("2027-04-30 20:15", "2027-05-03 08:00"),  # Friday night, 1 May (Saturday), 2 May (Sunday)
    ("2026-03-28 21:00", "2026-03-30 08:00"),  # over the spring daylight-saving change: 8:00 local time
])
def test_sms_wait_for_the_next_allowed_moment(at, expected):
    assert next_allowed(paris(at), "sms") == paris(expected)


def test_emails_and_same_day_places_go_at_once():
    night = paris("2026-12-06 23:00")
    assert next_allowed(night, "email") == night
    assert next_allowed(night, "sms", urgent=True) == night

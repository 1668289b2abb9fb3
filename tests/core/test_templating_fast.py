"""The request-path shortcuts of core/templating.py and core/enums.py write exactly what Flask-Babel,
Babel and url_for write: dates, enum labels, the links of a list."""
import random
from datetime import UTC, date, datetime, timedelta

from flask import url_for
from flask_babel import force_locale, format_date, format_datetime

from core.templating import datetime_fr, datetimes_fr, format_with, french_date, url_maker
from loans.models import DeviceStatus

PATTERNS = ["EEEE d MMMM y", "EEEE d'er' MMMM y", "EEEE d MMMM y 'à' HH:mm", "dd/MM/y", "d MMMM y", "d MMM y",
            "d MMMM", "EEEE d MMMM", "MMMM y", "MMM", "HH:mm", "yy", "E d", "LLLL", "QQQ y"]


def test_dates_are_written_as_babel_writes_them(app):
    rnd = random.Random(13)
    instants = [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # summer time
                datetime(2026, 10, 25, 0, 59, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # winter time
                datetime(2025, 12, 31, 23, 30, tzinfo=UTC)]  # already the 1st of January in Paris
    instants += [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rnd.randrange(10 * 365 * 86400)) for _ in range(300)]
    with app.test_request_context("/"):
        for at in instants:
            for pattern in PATTERNS:
                assert format_with(at, pattern) == format_datetime(at, pattern), (at, pattern)
                assert format_with(at.replace(tzinfo=None), pattern) == format_datetime(at.replace(tzinfo=None), pattern)
                if "H" not in pattern:
                    assert format_with(at.date(), pattern) == format_date(at.date(), pattern), (at, pattern)
        assert french_date(date(2026, 11, 1)) == "dimanche 1er novembre 2026"
        assert french_date(datetime(2026, 3, 1, 8, 5, tzinfo=UTC), "EEEE d MMMM y 'à' HH:mm") == "dimanche 1er mars 2026 à 09:05"


def test_a_list_of_instants_is_written_as_datetime_fr_writes_each(app):
    rnd = random.Random(7)
    instants = [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
                datetime(2026, 10, 25, 0, 59, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
                datetime(2025, 12, 31, 23, 30, tzinfo=UTC), datetime(2026, 2, 28, 23, 5, tzinfo=UTC)]
    # Many instants a day, as in a device's history: the day's words come from the first of them.
    instants += [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rnd.randrange(60 * 24 * 40)) for _ in range(500)]
    with app.test_request_context("/"):
        write = datetimes_fr()
        for at in instants + [at.replace(tzinfo=None) for at in instants]:
            assert write(at) == datetime_fr(at) == format_datetime(at, "EEEE d MMMM y 'à' HH:mm").replace(" 1 ", " 1er "), at


def test_enum_labels_are_the_translated_words(app):
    assert DeviceStatus.available.label == "Disponible"  # outside a request too
    with app.test_request_context("/"):
        for member in DeviceStatus:
            assert member.label == str(member._label)
        with force_locale("fr"):
            assert DeviceStatus.on_loan.label == str(DeviceStatus.on_loan._label)


def test_links_of_a_list_are_those_of_url_for(app):
    with app.test_request_context("/"):
        resident_url, device_link = url_maker("loans.resident_detail", "resident_id"), url_maker("loans.device", "tag")
        for resident_id in (1, 42, 1234567, 2_000_000_000):
            assert resident_url(resident_id) == url_for("loans.resident_detail", resident_id=resident_id)
        for tag in ("ABC123", "K7Q2ZX", "a b/c", "é"):
            assert device_link(tag) == url_for("loans.device", tag=tag)

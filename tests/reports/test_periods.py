"""Report periods: what the query string means, the comparison period, the French messages."""
from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from core import clock
from reports import periods
from reports.periods import Period, PeriodError, PeriodErrors
from tests.reports.dataset import at

TODAY = date(2026, 4, 10)


@pytest.fixture(autouse=True)
def on_the_10th_of_april(app):
    with clock.frozen(at("2026-04-10", "12:00")), app.test_request_context():
        yield


def test_calendar_periods_from_the_query_string():
    assert periods.from_args(MultiDict({"periode": "2026-03"})) == Period("month", date(2026, 3, 1), date(2026, 3, 31))
    assert periods.from_args(MultiDict({"periode": "2026-T1"})) == Period("quarter", date(2026, 1, 1), date(2026, 3, 31))
    assert periods.from_args(MultiDict({"periode": "2025"})) == Period("year", date(2025, 1, 1), date(2025, 12, 31))
    assert periods.from_args(MultiDict({"du": "03/02/2026", "au": "2026-02-20"})) == Period("custom", date(2026, 2, 3), date(2026, 2, 20))
    # Nothing asked: the current month once it has a week of figures (9 days on 10 April), before
    # that the last complete month.
    assert periods.from_args(MultiDict()) == Period.month(2026, 4)
    assert Period.default(date(2026, 5, 1)) == Period.month(2026, 4)
    assert Period.default(date(2026, 5, 2)) == Period.month(2026, 4)
    assert Period.default(date(2026, 5, 7)) == Period.month(2026, 4)
    assert Period.default(date(2026, 5, 8)) == Period.month(2026, 5)
    assert Period.default(date(2026, 1, 3)) == Period.month(2025, 12)


@pytest.mark.parametrize("period, current, previous", [
    # A finished month, quarter or year: the whole previous one (28 days of February, 92 of Q4).
    (Period.month(2026, 3), ((2026, 3, 1), (2026, 4, 1)), ((2026, 2, 1), (2026, 3, 1))),
    # The month in progress stops at yesterday; compared with as many days of March.
    (Period.month(2026, 4), ((2026, 4, 1), (2026, 4, 10)), ((2026, 3, 1), (2026, 3, 10))),
    # A year in progress: as many days of the previous year; a whole year after a leap year.
    (Period.quarter(2026, 1), ((2026, 1, 1), (2026, 4, 1)), ((2025, 10, 1), (2026, 1, 1))),
    (Period.year(2026), ((2026, 1, 1), (2026, 4, 10)), ((2025, 1, 1), (2025, 4, 10))),
    (Period.year(2025), ((2025, 1, 1), (2026, 1, 1)), ((2024, 1, 1), (2025, 1, 1))),
    # Chosen dates: the same number of days just before; the end is clipped to yesterday.
    (Period.custom(date(2026, 3, 10), date(2026, 3, 19)), ((2026, 3, 10), (2026, 3, 20)), ((2026, 2, 28), (2026, 3, 10))),
    (Period.custom(date(2026, 4, 5), date(2026, 6, 30)), ((2026, 4, 5), (2026, 4, 10)), ((2026, 3, 31), (2026, 4, 5))),
])
def test_counted_days_and_the_comparison(period, current, previous):
    window = period.window(TODAY)
    before = period.previous(TODAY).window(TODAY)
    assert (window.first, window.end) == (date(*current[0]), date(*current[1]))
    assert (before.first, before.end) == (date(*previous[0]), date(*previous[1]))


def test_windows_are_local_midnights_in_utc():
    window = Period.month(2026, 3).window(TODAY)
    assert window.start_utc.isoformat() == "2026-02-28T23:00:00+00:00"  # CET
    assert window.end_utc.isoformat() == "2026-03-31T22:00:00+00:00"  # CEST since the 29th


@pytest.mark.parametrize("args, field, message", [
    ({"periode": "2026-13"}, "periode", "Période inconnue : « 2026-13 »"),
    ({"periode": "n'importe quoi"}, "periode", "Choisissez-en une dans la liste"),
    ({"periode": "2026-05"}, "periode", "Les chiffres s'arrêtent à hier soir"),
    ({"periode": "1999"}, "periode", "après le 1er janvier 2000"),
    ({"du": "31/02/2026", "au": "01/03/2026"}, "du", "Cette date n'existe pas : « 31/02/2026 »"),
    ({"du": "01/03/2026", "au": "mars"}, "au", "Date illisible : « mars »"),
    ({"du": "", "au": "01/03/2026"}, "du", "Indiquez une date"),
    ({"du": "10/03/2026", "au": "01/03/2026"}, "au", "La date de fin doit être"),
    ({"du": "10/04/2026", "au": "20/04/2026"}, "du", "Les chiffres s'arrêtent à hier soir"),
    ({"du": "01/01/2000", "au": "01/01/2026"}, "au", "dix ans au plus"),
])
def test_unreadable_periods_name_their_field_in_french(args, field, message):
    with pytest.raises(PeriodError) as caught:
        periods.from_args(MultiDict(args))
    errors = caught.value.errors if isinstance(caught.value, PeriodErrors) else [caught.value]
    assert any(e.field == field and message in str(e) for e in errors), [(e.field, str(e)) for e in errors]


def test_both_dates_wrong_give_two_messages():
    with pytest.raises(PeriodErrors) as caught:
        periods.from_args(MultiDict({"du": "32/01/2026", "au": "hier"}))
    assert {e.field for e in caught.value.errors} == {"du", "au"}


def test_labels_and_choices():
    assert Period.month(2026, 3).label == "mars 2026"
    assert Period.quarter(2026, 1).label == "1er trimestre 2026"
    assert Period.quarter(2025, 4).label == "4e trimestre 2025"
    assert Period.year(2025).label == "année 2025"
    assert Period.custom(date(2026, 3, 1), date(2026, 3, 15)).label == "du 1er mars 2026 au 15 mars 2026"
    groups = dict(periods.choices(TODAY))
    assert groups["Mois"][0] == Period.month(2026, 4) and len(groups["Mois"]) == 24
    assert groups["Trimestres"][0] == Period.quarter(2026, 2) and groups["Trimestres"][-1] == Period.quarter(2024, 3)
    assert [p.key for p in groups["Années"]] == ["2026", "2025", "2024", "2023", "2022"]

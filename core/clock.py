"""The one place that reads the clock, so tests can freeze time.

Code imports `now` freely (`from core.clock import now`); tests freeze it with
`monkeypatch.setattr(core.clock, "frozen_at", aware_datetime)` or the `frozen` context manager.
"""
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

frozen_at: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware, in UTC."""
    if frozen_at is not None:
        return frozen_at.astimezone(UTC)
    return datetime.now(UTC)


def local_now() -> datetime:
    """Current time in Europe/Paris."""
    return now().astimezone(PARIS)


def today() -> date:
    """Today's date in Europe/Paris: the day on the desk's calendar, whatever the server's zone."""
    return local_now().date()


def local_midnight_utc(day: date) -> datetime:
    """The instant a Paris day begins, in UTC (23:00 or 22:00 the day before)."""
    return datetime.combine(day, time(0), tzinfo=PARIS).astimezone(UTC)


@contextmanager
def frozen(at: datetime):
    global frozen_at
    previous, frozen_at = frozen_at, at
    try:
        yield at
    finally:
        frozen_at = previous

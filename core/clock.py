"""The one place that reads the clock, so tests can freeze time."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def now() -> datetime:
    """Current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def local_now() -> datetime:
    return now().astimezone(PARIS)

from datetime import UTC, datetime

import pytest

from core import clock

# Monday 23 March 2026, 09:00 in Paris (CET, UTC+1). Clocks go forward on Sunday 29 March.
MONDAY = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, at):
        self.at = at

    def set(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture
def frozen(monkeypatch):
    """Time stands still at MONDAY unless the test moves it with frozen.set(...)."""
    fake = FrozenClock(MONDAY)
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def sites(two_sites):
    """Sites A and B; a manager and a reception agent at A; a manager at B; an admin."""
    return two_sites


@pytest.fixture
def march(db, make_site, make_user):
    """The hand-built network of tests/reports/dataset.py (arrival desk tests); the clock then stays on 10 April 2026."""
    from tests.reports import dataset

    world = dataset.build(make_site, make_user)
    with clock.frozen(dataset.REPORT_DAY):
        yield world

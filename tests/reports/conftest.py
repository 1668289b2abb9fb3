import pytest

from core import clock
from tests.reports import dataset


@pytest.fixture
def march(db, make_site, make_user):
    """The hand-built network of tests/reports/dataset.py; the clock then stays on 10 April 2026."""
    world = dataset.build(make_site, make_user)
    with clock.frozen(dataset.REPORT_DAY):
        yield world

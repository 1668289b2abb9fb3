"""Domain events are delivered after the commit, once, and never for a rolled-back change (core/events.py)."""
import pytest

from core import events as ev
from core.extensions import db
from core.models import Site


def _announce_site(name="Centre Nelson Mandela"):
    site = Site(name=name)
    db.session.add(site)
    db.session.flush()
    ev.announce(ev.site_created, site_id=site.id)
    return site


def test_delivered_once_after_commit_not_before(app, events):
    with app.app_context():
        site = _announce_site()
        assert events == []  # announced, not yet kept
        db.session.commit()
        assert events == [("site_created", {"site_id": site.id})]
        db.session.commit()  # a second commit does not deliver it again
        assert len(events) == 1


def test_rolled_back_transaction_announces_nothing(app, events):
    with app.app_context():
        _announce_site()
        db.session.rollback()
        db.session.commit()
        assert events == []
        assert db.session.query(Site).count() == 0


def test_closed_session_announces_nothing(app, events):
    with app.app_context():
        _announce_site()
        db.session.close()
        db.session.commit()
        assert events == []


def test_rolled_back_savepoint_drops_only_its_own_events(app, events):
    with app.app_context():
        kept = _announce_site("Centre Kept")
        savepoint = db.session.begin_nested()
        _announce_site("Centre Dropped")
        savepoint.rollback()
        with db.session.begin_nested():
            inner = _announce_site("Centre Released")
        db.session.commit()
        assert events == [("site_created", {"site_id": kept.id}), ("site_created", {"site_id": inner.id})]


def test_a_failing_receiver_does_not_stop_the_others(app, events, caplog):
    def broken(sender, **payload):
        raise RuntimeError("receiver bug")

    ev.site_created.connect(broken)
    try:
        with app.app_context():
            site_id = _announce_site().id
            db.session.commit()
    finally:
        ev.site_created.disconnect(broken)
    assert ("site_created", {"site_id": site_id}) in events
    assert "receiver bug" in caplog.text


@pytest.mark.parametrize("name", sorted(ev.CATALOGUE))
def test_catalogue_names_match_their_variables(name):
    assert getattr(ev, name) is ev.CATALOGUE[name]


def test_within_receivers_write_in_the_same_transaction(app, events):
    """An in-transaction receiver's rows are kept with the change and rolled back with it."""
    @ev.within(ev.site_created)
    def add_twin(site_id):
        db.session.add(Site(name=f"Annexe {site_id}"))

    try:
        with app.app_context():
            kept = _announce_site("Centre Kept").id
            savepoint = db.session.begin_nested()
            _announce_site("Centre Dropped")
            savepoint.rollback()
            db.session.commit()
            names = sorted(db.session.scalars(db.select(Site.name)))
            assert names == sorted(["Centre Kept", f"Annexe {kept}"])
            db.session.rollback()
            _announce_site("Centre Rolled Back")
            db.session.rollback()
            assert db.session.query(Site).count() == 2
    finally:
        ev._WITHIN[ev.site_created.name].remove(add_twin)

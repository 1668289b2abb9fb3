"""Inventory operations: creation, named actions as a matrix, history rows."""
import pytest

from core.models import Role
from loans import operations
from loans.models import Device, DeviceAction, DeviceEvent, DeviceStatus

S = DeviceStatus
EXPECTED = {
    # verb: {from status: to status}; any other status is refused.
    "send_to_repair": {S.available: S.in_repair},
    "back_from_repair": {S.in_repair: S.available},
    "declare_lost": {S.available: S.lost, S.in_repair: S.lost},
    "retire": {S.available: S.retired, S.in_repair: S.retired, S.lost: S.retired},
    "transfer": {S.available: S.available},
}


def test_create_device_records_history(db, two_sites, make_device):
    device = make_device(two_sites["a"], actor=two_sites["manager_a"], serial_number="SN-1")
    assert device.status is S.available
    assert device.home_site_id == device.current_site_id == two_sites["a"].id
    event = db.session.query(DeviceEvent).filter_by(device_id=device.id).one()
    assert event.action is DeviceAction.created and event.actor_id == two_sites["manager_a"].id


def test_a_tag_collision_draws_a_new_tag(db, two_sites, make_device, monkeypatch):
    from loans import tags

    first = make_device(two_sites["a"])
    fresh = tags.generate()
    while fresh == first.tag:
        fresh = tags.generate()
    drawn = iter([first.tag, first.tag, fresh])
    monkeypatch.setattr(tags, "generate", lambda: next(drawn))
    second = make_device(two_sites["a"])
    assert second.tag == fresh
    assert db.session.query(Device).count() == 2


def test_duplicate_serial_is_refused(db, two_sites, make_device):
    make_device(two_sites["a"], serial_number="SN-1")
    with pytest.raises(operations.DeviceError, match="numéro de série est déjà"):
        make_device(two_sites["b"], serial_number="SN-1")
    db.session.rollback()
    assert db.session.query(Device).count() == 1


@pytest.mark.parametrize("verb", sorted(EXPECTED))
@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("who", ["manager_a", "admin", "reception_a", "manager_b"])
def test_transition_matrix(db, two_sites, make_device, verb, status, who):
    device = make_device(two_sites["a"])
    device.status = status
    db.session.commit()
    actor = two_sites[who]
    allowed = status in EXPECTED[verb] and who in ("manager_a", "admin")
    assert operations.can(verb, actor, device) is allowed
    before = db.session.query(DeviceEvent).count()
    kwargs = {"to_site": two_sites["b"]} if verb == "transfer" else {}
    if allowed:
        operations.apply(verb, actor, device.id, site_id=two_sites["a"].id, **kwargs)
        db.session.commit()
        assert device.status is EXPECTED[verb][status]
        event = db.session.query(DeviceEvent).order_by(DeviceEvent.id.desc()).first()
        assert (event.action.value, event.from_status, event.to_status, event.actor_id) == (
            verb, status, device.status, actor.id)
        if verb == "transfer":
            assert device.home_site_id == device.current_site_id == two_sites["b"].id
    else:
        with pytest.raises(operations.DeviceError):
            operations.apply(verb, actor, device.id, site_id=two_sites["a"].id, **kwargs)
        db.session.rollback()
        assert db.session.get(Device, device.id).status is status
        assert db.session.query(DeviceEvent).count() == before


def test_transfer_to_same_site_is_refused(db, two_sites, make_device):
    device = make_device(two_sites["a"])
    with pytest.raises(operations.DeviceError, match="autre structure"):
        operations.apply("transfer", two_sites["admin"], device.id, site_id=two_sites["a"].id, to_site=two_sites["a"])


def test_reception_cannot_edit(db, two_sites, make_device):
    device = make_device(two_sites["a"])
    with pytest.raises(operations.DeviceError):
        operations.update_device(two_sites["reception_a"], device, two_sites["a"].id, model="X")
    assert two_sites["reception_a"].role is Role.reception

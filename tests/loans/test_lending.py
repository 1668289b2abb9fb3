"""Lending rules: lend, take back, extend, lost, found — as a matrix, with history, and under concurrency."""
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

import core.clock
from core.models import Role, User
from core.residents import Resident, create_resident
from loans import lending
from loans.models import Device, DeviceAction, DeviceEvent, DeviceStatus, Loan, LoanOutcome

S = DeviceStatus
FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def make_resident(db):
    def make(site, first="Marie", last="Dupont", phone="06 12 34 56 78", actor=None):
        resident = create_resident(actor, site, first_name=first, last_name=last, phone=phone)
        db.session.commit()
        return resident

    return make


def lend(actor, device, resident, **kw):
    kw.setdefault("due_on", TODAY + timedelta(days=14))
    kw.setdefault("accessories", device.accessory_list)
    kw.setdefault("charter_method", "ticked")
    return lending.lend(actor, device.id, resident, **kw)


def test_lend_then_take_back_at_another_site(db, two_sites, make_device, make_resident):
    a, b = two_sites["a"], two_sites["b"]
    device = make_device(a, accessories="Chargeur\nHousse")
    resident = make_resident(a)
    loan = lend(two_sites["reception_a"], device, resident, accessories=["Chargeur", "Housse"])
    db.session.commit()
    assert device.status is S.on_loan and loan.is_open and loan.site_id == a.id
    assert resident.charter_accepted_at == FROZEN

    lending.take_back(two_sites["manager_b"], device.id, site_id=b.id, accessories_returned=["Chargeur"],
                      data_wiped=True)
    db.session.commit()
    db.session.refresh(device)
    assert device.status is S.available
    assert device.current_site_id == b.id and device.home_site_id == a.id  # "to bring back" home
    assert loan.outcome is LoanOutcome.returned and loan.closed_site_id == b.id
    assert loan.accessories_missing_list == ["Housse"]
    actions = db.session.scalars(select(DeviceEvent.action).where(DeviceEvent.loan_id == loan.id)
                                 .order_by(DeviceEvent.id)).all()
    assert actions == [DeviceAction.lend, DeviceAction.take_back]


def test_damaged_return_sends_to_repair(db, two_sites, make_device, make_resident):
    device = make_device(two_sites["a"])
    lend(two_sites["reception_a"], device, make_resident(two_sites["a"]))
    lending.take_back(two_sites["reception_a"], device.id, site_id=two_sites["a"].id, accessories_returned=[],
                      damaged=True, condition="Écran fissuré")
    db.session.commit()
    assert device.status is S.in_repair and device.condition_notes == "Écran fissuré"


def test_laptop_return_requires_data_wipe_but_dongle_does_not(db, two_sites, make_device, make_resident):
    laptop = make_device(two_sites["a"])
    dongle = make_device(two_sites["a"], kind="dongle")
    resident = make_resident(two_sites["a"])
    lend(two_sites["reception_a"], laptop, resident)
    lend(two_sites["reception_a"], dongle, resident)
    db.session.commit()
    with pytest.raises(lending.LoanError, match="données personnelles") as exc:
        lending.take_back(two_sites["reception_a"], laptop.id, site_id=two_sites["a"].id, accessories_returned=[])
    assert exc.value.field == "data_wiped"
    db.session.rollback()
    assert db.session.get(Device, laptop.id).status is S.on_loan
    lending.take_back(two_sites["reception_a"], dongle.id, site_id=two_sites["a"].id, accessories_returned=[])
    db.session.commit()
    assert dongle.status is S.available


@pytest.mark.parametrize("status", [S.on_loan, S.in_repair, S.lost, S.retired])
def test_only_available_devices_can_be_lent(db, two_sites, make_device, make_resident, status):
    device = make_device(two_sites["a"])
    device.status = status
    db.session.commit()
    with pytest.raises(lending.LoanError) as exc:
        lend(two_sites["reception_a"], device, make_resident(two_sites["a"]))
    assert str(exc.value) == str(lending.NOT_LENDABLE[status])
    db.session.rollback()
    assert db.session.scalar(select(func.count(Loan.id))) == 0


@pytest.mark.parametrize("status", [S.available, S.in_repair, S.lost, S.retired])
def test_only_lent_devices_can_be_taken_back(db, two_sites, make_device, status):
    device = make_device(two_sites["a"])
    device.status = status
    db.session.commit()
    with pytest.raises(lending.LoanError, match="n'est pas en prêt"):
        lending.take_back(two_sites["reception_a"], device.id, site_id=two_sites["a"].id, accessories_returned=[])


def test_staff_of_another_site_cannot_lend_it(db, two_sites, make_device, make_resident):
    device = make_device(two_sites["a"])
    with pytest.raises(lending.LoanError, match="autre structure"):
        lend(two_sites["manager_b"], device, make_resident(two_sites["b"]))


@pytest.mark.parametrize(
    "due_on, message",
    [(TODAY - timedelta(days=1), "avant le début"), (TODAY + timedelta(days=400), "plus d'un an"), (None, "Indiquez")],
)
def test_impossible_due_dates_are_refused(db, two_sites, make_device, make_resident, due_on, message):
    device = make_device(two_sites["a"])
    with pytest.raises(lending.LoanError, match=message) as exc:
        lend(two_sites["reception_a"], device, make_resident(two_sites["a"]), due_on=due_on)
    assert exc.value.field == "due_on"


def test_same_day_loan_is_allowed(db, two_sites, make_device, make_resident, kinds):
    lending.set_policy(two_sites["a"].id, kinds["laptop"].id, default_days=0, max_per_resident=1)
    device = make_device(two_sites["a"])
    assert lending.default_due_date(two_sites["a"].id, device.kind) == TODAY
    lend(two_sites["reception_a"], device, make_resident(two_sites["a"]), due_on=TODAY)


def test_charter_must_be_acknowledged(db, two_sites, make_device, make_resident):
    device = make_device(two_sites["a"])
    with pytest.raises(lending.LoanError, match="charte"):
        lend(two_sites["reception_a"], device, make_resident(two_sites["a"]), charter_method=None)


def test_per_site_limit_and_manager_override(db, two_sites, make_device, make_resident):
    a = two_sites["a"]
    resident = make_resident(a)
    lend(two_sites["reception_a"], make_device(a), resident)
    db.session.commit()
    second = make_device(a)
    with pytest.raises(lending.LoanError, match="Seul un responsable"):
        lend(two_sites["reception_a"], second, resident)
    db.session.rollback()
    with pytest.raises(lending.LoanError, match="indiquez une raison"):
        lend(two_sites["manager_a"], second, resident)
    db.session.rollback()
    loan = lend(two_sites["manager_a"], second, resident, override_reason="Deux enfants scolarisés")
    db.session.commit()
    assert loan.override_reason == "Deux enfants scolarisés"
    # A different kind is not limited by laptops.
    lend(two_sites["reception_a"], make_device(a, kind="dongle"), resident)


def test_repeated_form_submission_returns_the_same_loan(db, two_sites, make_device, make_resident):
    device = make_device(two_sites["a"])
    resident = make_resident(two_sites["a"])
    first = lend(two_sites["reception_a"], device, resident, form_key="k-123")
    db.session.commit()
    again = lend(two_sites["reception_a"], device, resident, form_key="k-123")
    assert again.id == first.id
    assert db.session.scalar(select(func.count(Loan.id))) == 1


def test_extend_lost_and_found(db, two_sites, make_device, make_resident):
    a = two_sites["a"]
    device = make_device(a)
    loan = lend(two_sites["reception_a"], device, make_resident(a))
    db.session.commit()
    with pytest.raises(lending.LoanError, match="après la date de retour"):
        lending.extend(two_sites["reception_a"], device.id, new_due_on=loan.due_on, agreed_by="Mme Martin")
    with pytest.raises(lending.LoanError, match="qui a accepté"):
        lending.extend(two_sites["reception_a"], device.id, new_due_on=loan.due_on + timedelta(days=7), agreed_by=" ")
    with pytest.raises(lending.LoanError, match="structure qui a prêté"):
        lending.extend(two_sites["manager_b"], device.id, new_due_on=loan.due_on + timedelta(days=7), agreed_by="X")
    lending.extend(two_sites["reception_a"], device.id, new_due_on=loan.due_on + timedelta(days=7), agreed_by="Mme Martin")
    db.session.commit()
    assert loan.due_on == TODAY + timedelta(days=21)

    lending.declare_lost(two_sites["reception_a"], device.id, note="Perdu dans le bus")
    db.session.commit()
    assert device.status is S.lost and loan.outcome is LoanOutcome.lost and not loan.is_open

    lending.found_again(two_sites["manager_b"], device.id, site_id=two_sites["b"].id)
    db.session.commit()
    assert device.status is S.available and device.current_site_id == two_sites["b"].id
    actions = db.session.scalars(select(DeviceEvent.action).where(DeviceEvent.device_id == device.id)
                                 .order_by(DeviceEvent.id)).all()
    assert actions[1:] == [DeviceAction.lend, DeviceAction.extend, DeviceAction.loan_lost, DeviceAction.found]


def test_database_refuses_a_second_open_loan(db, two_sites, make_device, make_resident):
    """The partial unique index holds even if the Python checks were bypassed."""
    from sqlalchemy.exc import IntegrityError

    device = make_device(two_sites["a"])
    resident = make_resident(two_sites["a"])
    for _ in range(2):
        db.session.add(Loan(device_id=device.id, resident_id=resident.id, site_id=two_sites["a"].id,
                            started_at=FROZEN, due_on=TODAY))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # Closed loans don't count: history can hold many.
    for _ in range(2):
        db.session.add(Loan(device_id=device.id, resident_id=resident.id, site_id=two_sites["a"].id,
                            started_at=FROZEN, due_on=TODAY, closed_at=FROZEN))
    db.session.commit()


# --- concurrency -----------------------------------------------------------------------------

THREADS = 20


def run_together(app, work):
    """Run work(i) in THREADS threads released together; each has its own app context and session."""
    from core.extensions import db as _db

    _db.session.commit()  # on SQLite the test's own session may hold the write lock
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS

    def runner(i):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
                _db.session.commit()
            except lending.LoanError as exc:
                _db.session.rollback()
                results[i] = ("refused", str(exc))
            except Exception as exc:
                _db.session.rollback()
                results[i] = ("crash", repr(exc))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_desks_lend_the_same_device_at_once(app, db, two_sites, make_device, make_resident):
    from core.extensions import db as _db

    device = make_device(two_sites["a"])
    resident_ids = [make_resident(two_sites["a"], first=f"Personne{i}").id for i in range(THREADS)]
    actor_id, device_id = two_sites["reception_a"].id, device.id
    db.session.commit()

    def work(i):
        actor = _db.session.get(User, actor_id)
        resident = _db.session.get(Resident, resident_ids[i])
        loan = lending.lend(actor, device_id, resident, due_on=TODAY + timedelta(days=3), accessories=[],
                            charter_method="ticked")
        return ("ok", loan.id)

    results = run_together(app, work)
    db.session.expire_all()
    assert [r for r in results if r[0] == "crash"] == []
    assert sum(r[0] == "ok" for r in results) == 1
    assert {r[1] for r in results if r[0] == "refused"} == {str(lending.NOT_LENDABLE[S.on_loan])}
    assert db.session.scalar(select(func.count(Loan.id)).where(Loan.device_id == device_id)) == 1
    assert db.session.get(Device, device_id).status is S.on_loan
    assert db.session.scalar(select(func.count(DeviceEvent.id)).where(DeviceEvent.action == DeviceAction.lend)) == 1


def test_twenty_desks_take_back_the_same_device_at_once(app, db, two_sites, make_device, make_resident):
    from core.extensions import db as _db

    device = make_device(two_sites["a"], kind="dongle")
    lend(two_sites["reception_a"], device, make_resident(two_sites["a"]))
    db.session.commit()
    actor_id, device_id, site_id = two_sites["reception_a"].id, device.id, two_sites["a"].id

    def work(i):
        actor = _db.session.get(User, actor_id)
        loan = lending.take_back(actor, device_id, site_id=site_id, accessories_returned=[])
        return ("ok", loan.id)

    results = run_together(app, work)
    db.session.expire_all()
    assert [r for r in results if r[0] == "crash"] == []
    assert sum(r[0] == "ok" for r in results) == 1
    assert all("n'est pas en prêt" in r[1] for r in results if r[0] == "refused")
    assert db.session.scalar(select(func.count(DeviceEvent.id)).where(DeviceEvent.action == DeviceAction.take_back)) == 1
    assert db.session.get(Device, device_id).status is S.available


def test_double_submission_of_one_form_at_once_makes_one_loan(app, db, two_sites, make_device, make_resident):
    """A double click: the same form key twice at the same instant → one loan, both land on it."""
    from core.extensions import db as _db

    device = make_device(two_sites["a"])
    resident_id = make_resident(two_sites["a"]).id
    actor_id, device_id = two_sites["reception_a"].id, device.id
    db.session.commit()

    def work(i):
        actor = _db.session.get(User, actor_id)
        resident = _db.session.get(Resident, resident_id)
        loan = lending.lend(actor, device_id, resident, due_on=TODAY + timedelta(days=3), accessories=[],
                            charter_method="ticked", form_key="same-form")
        return ("ok", loan.id)

    results = run_together(app, work)
    assert [r for r in results if r[0] == "crash"] == []
    assert len({r[1] for r in results if r[0] == "ok"}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Loan.id))) == 1
    assert two_sites["reception_a"].role is Role.reception


def test_twenty_desks_lend_twenty_tablets_to_one_resident_at_once_keep_the_limit(app, db, two_sites, make_device,
                                                                                  make_resident):
    """Each desk holds its own device's lock: only the resident's lock keeps the limit of one tablet."""
    from core.extensions import db as _db

    device_ids = [make_device(two_sites["a"], kind="tablet").id for _ in range(THREADS)]
    resident_id = make_resident(two_sites["a"]).id
    actor_id = two_sites["reception_a"].id
    db.session.commit()

    def work(i):
        actor = _db.session.get(User, actor_id)
        resident = _db.session.get(Resident, resident_id)
        loan = lending.lend(actor, device_ids[i], resident, due_on=TODAY + timedelta(days=3), accessories=[],
                            charter_method="ticked")
        return ("ok", loan.id)

    results = run_together(app, work)
    db.session.expire_all()
    assert [r for r in results if r[0] == "crash"] == []
    assert sum(r[0] == "ok" for r in results) == 1
    refusals = {r[1] for r in results if r[0] == "refused"}
    assert refusals == {"Cette personne a déjà 1 tablette en prêt ici (limite : 1). Seul un responsable peut dépasser cette limite."}
    assert db.session.scalar(select(func.count(Loan.id)).where(Loan.resident_id == resident_id,
                                                               Loan.closed_at.is_(None))) == 1
    assert db.session.scalar(select(func.count(Device.id)).where(Device.status == S.on_loan)) == 1


def test_an_accessory_taken_off_the_devices_list_is_no_longer_missing(db, two_sites, make_device, make_resident):
    from loans import operations
    from loans.models import MissingAccessory

    a = two_sites["a"]
    device = make_device(a, accessories="Chargeur\nSouris")
    lend(two_sites["reception_a"], device, make_resident(a))
    lending.take_back(two_sites["reception_a"], device.id, site_id=a.id, accessories_returned=["Chargeur"], data_wiped=True)
    db.session.commit()
    assert [m.name for m in db.session.scalars(select(MissingAccessory))] == ["Souris"]

    operations.update_device(two_sites["manager_a"], device, a.id, accessories="Chargeur\nHousse")
    db.session.commit()
    assert db.session.scalars(select(MissingAccessory)).all() == []
    assert db.session.get(Device, device.id).present_accessories == ["Chargeur", "Housse"]

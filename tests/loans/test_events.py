"""The desk's domain events (core/events.py): each is heard once, after the commit, with plain values;
a refused or rolled-back attempt is never heard of."""
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

import core.clock
from core import residents
from core.residents import LikelyDuplicates, Resident, create_resident
from loans import lending
from loans.models import Device, DeviceStatus, Loan
from tests.core.helpers import location_path

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)
DUE = TODAY + timedelta(days=14)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def world(db, two_sites, make_device):
    a = two_sites["a"]
    laptop = make_device(a, accessories="Chargeur")
    marie = create_resident(None, a, first_name="Marie", last_name="Dupont", phone="0612345678")
    db.session.commit()
    return dict(two_sites, laptop=laptop, marie=marie)


def lend_form(**changes):
    data = {"due_on": DUE.isoformat(), "accessories": ["Chargeur"], "charter": "ticked", "form_key": "f" * 32}
    data.update(changes)
    return data


def lent(db, world):
    loan = lending.lend(world["reception_a"], world["laptop"].id, world["marie"], due_on=DUE, accessories=[],
                        charter_method="ticked")
    db.session.commit()
    return loan


# --- lend -----------------------------------------------------------------------------------------


def test_lending_at_the_desk_announces_loan_lent_once_after_the_commit(db, world, client_for, events):
    client = client_for(world["reception_a"])

    response = client.post(f"/equipements/{world['laptop'].tag}/preter", data=lend_form(resident=str(world["marie"].id)))

    assert response.status_code == 302
    loan = db.session.scalar(select(Loan))
    assert events == [("loan_lent", dict(loan_id=loan.id, device_id=world["laptop"].id, resident_id=world["marie"].id,
                                         site_id=world["a"].id, due_on=DUE))]
    # The same form sent again lands on the same receipt and announces nothing more.
    again = client.post(f"/equipements/{world['laptop'].tag}/preter", data=lend_form(resident=str(world["marie"].id)))
    assert location_path(again) == location_path(response) and len(events) == 1


def test_a_lend_refused_announces_nothing(db, world, client_for, events):
    device = db.session.get(Device, world["laptop"].id)
    device.status = DeviceStatus.in_repair
    db.session.commit()

    response = client_for(world["reception_a"]).post(f"/equipements/{device.tag}/preter",
                                                     data=lend_form(resident=str(world["marie"].id)))

    assert response.status_code == 409 and events == []


def test_lending_to_a_new_person_announces_the_person_then_the_loan(db, world, client_for, events):
    response = client_for(world["reception_a"]).post(
        f"/equipements/{world['laptop'].tag}/preter", data=lend_form(resident="new", first_name="Karim", last_name="Benali"))

    assert response.status_code == 302
    karim = db.session.scalar(select(Resident).where(Resident.last_name == "Benali"))
    loan = db.session.scalar(select(Loan))
    assert events == [
        ("resident_created", dict(resident_id=karim.id, site_id=world["a"].id)),
        ("loan_lent", dict(loan_id=loan.id, device_id=world["laptop"].id, resident_id=karim.id, site_id=world["a"].id,
                           due_on=DUE)),
    ]


def test_a_likely_duplicate_refuses_with_the_people_it_may_be_and_announces_nothing(db, world, events):
    person = lending.NewPerson(first_name="marie", last_name="DUPONT", phone="06 12 34 56 78")

    with pytest.raises(LikelyDuplicates) as refused:
        lending.lend_at_desk(world["reception_a"], world["laptop"].id, new_person=person, due_on=DUE, accessories=[],
                             charter_method="ticked")
    db.session.rollback()

    assert refused.value.duplicates == [world["marie"]]
    assert refused.value.status == 409 and refused.value.field == "resident"
    assert events == []


def test_a_new_person_refused_with_the_loan_is_neither_kept_nor_announced(db, world, events):
    person = lending.NewPerson(first_name="Léa", last_name="Caron")

    with pytest.raises(lending.LoanError, match="charte"):
        lending.lend_at_desk(world["reception_a"], world["laptop"].id, new_person=person, due_on=DUE, accessories=[],
                             charter_method=None)
    db.session.rollback()

    assert db.session.scalar(select(func.count(Resident.id))) == 1 and events == []


def test_a_copy_of_the_form_that_lent_meanwhile_keeps_no_second_person(db, world, monkeypatch, events):
    """Two copies of a new-person form at the same instant: the second finds the first's loan only under the
    device's lock; the person it registered is dropped with its savepoint, and never announced."""
    first = lending.lend_at_desk(world["reception_a"], world["laptop"].id, new_person=lending.NewPerson("Léa", "Caron"),
                                 due_on=DUE, accessories=[], charter_method="ticked", form_key="same-form")
    db.session.commit()
    assert not first.replayed and [name for name, _payload in events] == ["resident_created", "loan_lent"]
    lookups = iter([None])  # the copy's first look misses: the first copy had not committed yet
    real = lending.find_by_form_key
    monkeypatch.setattr(lending, "find_by_form_key", lambda key: next(lookups, real(key)))

    # (Its duplicate check ran before the first copy committed: it did not see Léa Caron either.)
    copy = lending.lend_at_desk(world["reception_a"], world["laptop"].id,
                                new_person=lending.NewPerson("Léa", "Caron", confirmed=True), due_on=DUE, accessories=[],
                                charter_method="ticked", form_key="same-form")
    db.session.commit()

    assert copy.replayed and copy.loan.id == first.loan.id
    assert db.session.scalar(select(func.count(Resident.id)).where(Resident.last_name == "Caron")) == 1
    assert len(events) == 2


# --- take back, extend, declare lost, found again -------------------------------------------------


def test_taking_back_announces_loan_returned_with_the_site_where_it_came_back(db, world, events):
    loan = lent(db, world)
    events.clear()

    lending.take_back(world["manager_b"], world["laptop"].id, site_id=world["b"].id, accessories_returned=[],
                      data_wiped=True)
    assert events == []  # not before the commit
    db.session.commit()

    assert events == [("loan_returned", dict(loan_id=loan.id, device_id=world["laptop"].id,
                                             resident_id=world["marie"].id, site_id=world["b"].id))]


def test_a_refused_return_announces_nothing(db, world, events):
    lent(db, world)
    events.clear()

    with pytest.raises(lending.LoanError, match="données personnelles"):
        lending.take_back(world["reception_a"], world["laptop"].id, site_id=world["a"].id, accessories_returned=[])
    db.session.rollback()

    assert events == []


def test_a_return_rolled_back_after_the_use_case_announces_nothing(db, world, events):
    lent(db, world)
    events.clear()

    lending.take_back(world["reception_a"], world["laptop"].id, site_id=world["a"].id, accessories_returned=[],
                      data_wiped=True)
    db.session.rollback()

    assert events == []


def test_extending_announces_loan_extended_with_the_new_date(db, world, client_for, events):
    loan = lent(db, world)
    events.clear()
    new_due = DUE + timedelta(days=7)

    response = client_for(world["reception_a"]).post(f"/equipements/{world['laptop'].tag}/prolonger",
                                                     data={"new_due_on": new_due.isoformat(), "agreed_by": "Mme Caron"})

    assert response.status_code == 302
    assert events == [("loan_extended", dict(loan_id=loan.id, device_id=world["laptop"].id,
                                             resident_id=world["marie"].id, due_on=new_due))]


def test_a_refused_extension_announces_nothing(db, world, client_for, events):
    lent(db, world)
    events.clear()

    response = client_for(world["reception_a"]).post(f"/equipements/{world['laptop'].tag}/prolonger",
                                                     data={"new_due_on": (DUE - timedelta(days=1)).isoformat(),
                                                           "agreed_by": "Mme Caron"})

    assert response.status_code == 400 and events == []


def test_declaring_lost_announces_loan_declared_lost(db, world, client_for, events):
    loan = lent(db, world)
    events.clear()

    response = client_for(world["reception_a"]).post(f"/equipements/{world['laptop'].tag}/perdu", data={"confirm": "y"})

    assert response.status_code == 302
    assert events == [("loan_declared_lost", dict(loan_id=loan.id, device_id=world["laptop"].id,
                                                  resident_id=world["marie"].id))]


def test_a_refused_declaration_of_loss_announces_nothing(db, world, events):
    lent(db, world)
    events.clear()

    with pytest.raises(lending.LoanError, match="structure qui a prêté"):
        lending.declare_lost(world["manager_b"], world["laptop"].id)
    db.session.rollback()

    assert events == []


def test_found_again_announces_device_found_again_at_its_new_site(db, world, client_for, events):
    lent(db, world)
    lending.declare_lost(world["reception_a"], world["laptop"].id)
    db.session.commit()
    events.clear()

    response = client_for(world["manager_b"]).post(f"/equipements/{world['laptop'].tag}/retrouve",
                                                   data={"site": str(world["b"].id), "note": ""})

    assert response.status_code == 302
    assert events == [("device_found_again", dict(device_id=world["laptop"].id, site_id=world["b"].id))]


def test_a_refused_found_again_announces_nothing(db, world, events):
    with pytest.raises(lending.LoanError, match="n'est pas déclaré perdu"):
        lending.found_again(world["reception_a"], world["laptop"].id, site_id=world["a"].id)
    db.session.rollback()

    assert events == []


# --- residents ------------------------------------------------------------------------------------


def test_editing_a_resident_announces_resident_edited(db, world, client_for, events):
    response = client_for(world["reception_a"]).post(f"/habitants/{world['marie'].id}/modifier", data={
        "first_name": "Marie", "last_name": "Dupont-Martin", "phone": "06 12 34 56 78"})

    assert response.status_code == 302
    assert events == [("resident_edited", dict(resident_id=world["marie"].id))]


def test_a_refused_edit_announces_nothing(db, world, events):
    with pytest.raises(residents.ResidentError, match="obligatoires") as refused:
        residents.edit_resident(world["reception_a"], world["marie"].id, first_name="Marie", last_name="  ")
    db.session.rollback()

    assert refused.value.field == "last_name" and events == []
    with pytest.raises(residents.ResidentError, match="pas inscrite"):
        residents.edit_resident(world["manager_b"], world["marie"].id, first_name="Marie", last_name="Durand")
    db.session.rollback()
    assert db.session.get(Resident, world["marie"].id).last_name == "Dupont" and events == []

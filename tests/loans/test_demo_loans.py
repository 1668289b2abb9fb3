"""Demo data of the loans domain: a living centre, loaded twice without change."""
from sqlalchemy import func, select

from core.demo import load_demo
from core.residents import Resident
from loans.models import Device, DeviceEvent, DeviceStatus, Loan


def counts(db):
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Device, Resident, Loan, DeviceEvent))


def test_demo_has_devices_residents_open_overdue_and_past_loans(db):
    load_demo()
    db.session.commit()
    statuses = dict(db.session.execute(select(Device.status, func.count()).group_by(Device.status)).all())
    assert statuses[DeviceStatus.available] > 0 and statuses[DeviceStatus.on_loan] > 0
    assert statuses[DeviceStatus.in_repair] > 0 and statuses[DeviceStatus.lost] > 0
    kinds = set(db.session.scalars(select(Device.kind_id).distinct()))
    assert len(kinds) == 3
    open_loans = db.session.scalar(select(func.count()).select_from(Loan).where(Loan.closed_at.is_(None)))
    assert open_loans == statuses[DeviceStatus.on_loan]
    past = db.session.scalar(select(func.count()).select_from(Loan).where(Loan.closed_at.isnot(None)))
    assert past > 100

    before = counts(db)
    load_demo()
    db.session.commit()
    assert counts(db) == before

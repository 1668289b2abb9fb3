"""The benchmark generator (`flask bench-activity`) on a small scale: exact totals, consistent rows, idempotent."""
from sqlalchemy import func, select

from core.clock import PARIS
from core.residents import Resident
from loans.models import Device, DeviceStatus, Loan
from reservations.models import Booking, Room, Workshop


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_bench_activity_adds_exactly_what_is_asked_once(db, runner, app, login):
    assert runner.invoke(args=["bench-data", "--sites", "3", "--devices", "30"]).exit_code == 0
    args = ["bench-activity", "--sites", "3", "--loans", "600", "--bookings", "400", "--residents", "30"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert (count(db, Loan), count(db, Booking), count(db, Resident), count(db, Room)) == (600, 400, 30, 3)
    assert count(db, Workshop) > 0
    # Local dates agree with the instants; closed loans never before they started; open loans are devices on loan.
    for loan in db.session.scalars(select(Loan).limit(200)):
        assert loan.started_on == loan.started_at.astimezone(PARIS).date()
        assert loan.closed_at is None or (loan.closed_on == loan.closed_at.astimezone(PARIS).date() and loan.closed_at > loan.started_at)
    open_loans = count(db, Loan, Loan.closed_at.is_(None))
    assert open_loans == count(db, Device, Device.status == DeviceStatus.on_loan)

    again = runner.invoke(args=args)
    assert again.exit_code == 0, again.output
    assert (count(db, Loan), count(db, Booking), count(db, Resident), count(db, Room)) == (600, 400, 30, 3)


def test_bench_activity_needs_devices_first(runner):
    result = runner.invoke(args=["bench-activity", "--sites", "2", "--loans", "10", "--bookings", "0", "--residents", "4"])
    assert result.exit_code != 0 and "bench-data" in result.output


def test_bench_data_top_up_redraws_a_serial_number_already_taken(db, runner, monkeypatch):
    """A top-up on fewer sites numbers its devices from that subset's count: forced to draw the same
    token, its first serial number is one the first run inserted, and the unique index would refuse it."""
    from loans import bench

    monkeypatch.setattr(bench, "seed_token", lambda rng: "AAAA")
    assert runner.invoke(args=["bench-data", "--sites", "3", "--devices", "30"]).exit_code == 0
    tokens = iter(["AAAA"] + [f"T{n:03d}" for n in range(100)])
    monkeypatch.setattr(bench, "seed_token", lambda rng: next(tokens))

    result = runner.invoke(args=["bench-data", "--sites", "2", "--devices", "40"])

    assert result.exit_code == 0, result.output
    serials = db.session.scalars(select(Device.serial_number)).all()
    assert len(serials) == 50 and len(set(serials)) == 50
    assert "BENCH-T000-20" in serials

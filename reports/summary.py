"""The additive figures of the network view and the funder report, kept per site and day (report_days).

Reading a year of 200 sites from the loans and bookings themselves means a million loans; this table
has a row per site and day with what those rows add up to:

- loans_started: loans started that day, by the site that lent;
- loan_days / owned_loan_days: closed loans on loan that day, by the site that lent / by the site
  that owns the device now (a transferred device brings its past with it: its days move);
- seat_minutes: minutes of confirmed open-access seats whose slot starts that day (local date);
- present / absent / excused: confirmed places of workshops held (not cancelled) starting that day,
  by what the desk noted.

A loan still open is not in the table (its last day is not known): the readers add the open loans,
a few thousand rows read through their partial index. Figures that are not sums (people counted
once) are not here either.

Kept exact in the same transaction as the change, whatever the operation: before each flush the
rows about to change are read (their old contribution), after it the same rows (their new one), and
the difference is added to report_days (INSERT … ON CONFLICT DO UPDATE, in key order so that two
transactions never wait on each other in a cycle). The rows concerned are the loans and bookings
written by the flush, every loan of a device whose home site changes and every booking of a
workshop cancelled or restored. Statements that write these rows without the ORM must not change
what is counted (reservations/bookings.py cancels through the ORM for this reason); bulk loads
call rebuild(). tests/reports/test_summary.py builds random histories through the real
operations, changes them late, and compares every figure with the live computation.
"""
from collections import Counter, defaultdict
from datetime import UTC, date, timedelta

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Table, and_, case, delete, event, func, inspect, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.clock import PARIS
from core.extensions import db
from core.sql import local_date, minutes_between
from loans.models import Device, Loan
from reservations.models import Attendance, Booking, BookingState, Workshop

MEASURES = ("loans_started", "loan_days", "owned_loan_days", "seat_minutes", "present", "absent", "excused")
ATTENDANCE_MEASURES = {Attendance.present: "present", Attendance.absent: "absent", Attendance.excused: "excused"}

report_days = Table(
    "report_days",
    db.metadata,
    Column("site_id", ForeignKey("sites.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    *[Column(name, Integer, nullable=False, default=0, server_default="0") for name in MEASURES],
    Index("ix_report_days_day", "day"),  # the whole network over a period
)

# What a flush must change for the summary to move (the other columns never change a figure).
LOAN_COLUMNS = ("device_id", "site_id", "started_at", "closed_at")
BOOKING_COLUMNS = ("site_id", "workshop_id", "starts_at", "ends_at", "state", "attendance")


# --- what one loan or booking adds ---------------------------------------------------------------


def _days(first: date, end: date):
    day = first
    while day < end:
        yield day
        day += timedelta(days=1)


def loan_contribution(row, into: defaultdict, sign: int = 1) -> None:
    """row: (site_id, home_site_id, started_on, closed_on)."""
    site_id, home_site_id, started_on, closed_on = row
    into[(site_id, started_on)]["loans_started"] += sign
    if closed_on is not None:
        for day in _days(started_on, closed_on):
            into[(site_id, day)]["loan_days"] += sign
            into[(home_site_id, day)]["owned_loan_days"] += sign


def _minutes(starts_at, ends_at) -> int:
    """minutes_between() of core/sql.py: the minutes rounded half up (the slots are whole minutes)."""
    return int((ends_at - starts_at).total_seconds() / 60 + 0.5)


def booking_contribution(row, into: defaultdict, sign: int = 1) -> None:
    """row: (site_id, workshop_id, starts_at, ends_at, state, attendance, workshop cancelled)."""
    site_id, workshop_id, starts_at, ends_at, state, attendance, workshop_cancelled = row
    if state is not BookingState.confirmed:
        return
    day = _aware(starts_at).astimezone(PARIS).date()
    if workshop_id is None:
        into[(site_id, day)]["seat_minutes"] += sign * _minutes(starts_at, ends_at)
    elif not workshop_cancelled and attendance in ATTENDANCE_MEASURES:
        into[(site_id, day)][ATTENDANCE_MEASURES[attendance]] += sign


def _aware(at):
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# --- the rows a flush touches, read before and after it ---------------------------------------------


def _changed(obj, names) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _loan_rows(connection, loan_ids, device_ids) -> dict:
    if not loan_ids and not device_ids:
        return {}
    query = (
        select(Loan.id, Loan.site_id, Device.home_site_id, Loan.started_on, Loan.closed_on)
        .join(Device, Device.id == Loan.device_id)
        .where(or_(Loan.id.in_(sorted(loan_ids)), Loan.device_id.in_(sorted(device_ids))))
    )
    return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def _booking_rows(connection, booking_ids, workshop_ids) -> dict:
    if not booking_ids and not workshop_ids:
        return {}
    query = (
        select(Booking.id, Booking.site_id, Booking.workshop_id, Booking.starts_at, Booking.ends_at, Booking.state,
               Booking.attendance, Workshop.cancelled_at.is_not(None))
        .outerjoin(Workshop, Workshop.id == Booking.workshop_id)
        .where(or_(Booking.id.in_(sorted(booking_ids)), Booking.workshop_id.in_(sorted(workshop_ids))))
    )
    return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def _touched(session) -> dict:
    """The ids whose rows this flush may change, and the new objects (their ids come with the flush)."""
    touched = {"loans": set(), "devices": set(), "bookings": set(), "workshops": set(), "new": []}
    for obj in session.new:
        if isinstance(obj, Loan | Booking):
            touched["new"].append(obj)
    for obj in session.dirty:
        if isinstance(obj, Loan) and _changed(obj, LOAN_COLUMNS):
            touched["loans"].add(obj.id)
        elif isinstance(obj, Booking) and _changed(obj, BOOKING_COLUMNS):
            touched["bookings"].add(obj.id)
        elif isinstance(obj, Device) and _changed(obj, ("home_site_id",)):
            touched["devices"].add(obj.id)
        elif isinstance(obj, Workshop) and _changed(obj, ("cancelled_at",)):
            touched["workshops"].add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Loan):
            touched["loans"].add(obj.id)
        elif isinstance(obj, Booking):
            touched["bookings"].add(obj.id)
    return touched


@event.listens_for(Session, "before_flush")
def _read_before(session, _flush_context, _instances):
    touched = _touched(session)
    if not any(touched.values()):
        return
    connection = session.connection()
    touched["old_loans"] = _loan_rows(connection, touched["loans"], touched["devices"])
    touched["old_bookings"] = _booking_rows(connection, touched["bookings"], touched["workshops"])
    session.info["report_days_pending"] = touched


@event.listens_for(Session, "after_flush")
def _add_after(session, _flush_context):
    touched = session.info.pop("report_days_pending", None)
    if touched is None:
        return
    for obj in touched["new"]:
        (touched["loans"] if isinstance(obj, Loan) else touched["bookings"]).add(obj.id)
    connection = session.connection()
    deltas = defaultdict(Counter)
    for old, new, contribution in (
        (touched["old_loans"], _loan_rows(connection, touched["loans"], touched["devices"]), loan_contribution),
        (touched["old_bookings"], _booking_rows(connection, touched["bookings"], touched["workshops"]), booking_contribution),
    ):
        for row_id in set(old) | set(new):
            if old.get(row_id) != new.get(row_id):
                if row_id in old:
                    contribution(old[row_id], deltas, -1)
                if row_id in new:
                    contribution(new[row_id], deltas, 1)
    add(connection, deltas)


def add(connection, deltas) -> None:
    """Add {(site_id, day): {measure: n}} to report_days, in key order (one statement)."""
    rows = _rows(deltas)
    if not rows:
        return
    insert = (pg_insert if connection.dialect.name == "postgresql" else sqlite_insert)(report_days)
    statement = insert.on_conflict_do_update(
        index_elements=["site_id", "day"],
        set_={name: report_days.c[name] + insert.excluded[name] for name in MEASURES},
    )
    connection.execute(statement, rows)


# --- built again from the loans and bookings (after a bulk load, and by its migration) ----------------


def _rows(deltas) -> list[dict]:
    return [
        {"site_id": site_id, "day": day, **{name: counts.get(name, 0) for name in MEASURES}}
        for (site_id, day), counts in sorted(deltas.items())
        if any(counts.values())
    ]


def rebuild(connection) -> int:
    """report_days from nothing, from the loans and bookings as they are: a few GROUP BY statements and a
    running count per site in Python (closed loans start and end on days; between them they are out).
    Returns the number of rows written."""
    deltas = defaultdict(Counter)
    for site_id, day, n in connection.execute(select(Loan.site_id, Loan.started_on, func.count()).group_by(Loan.site_id, Loan.started_on)):
        deltas[(site_id, day)]["loans_started"] += n
    changes = defaultdict(Counter)  # (measure, site) -> {day: +n at the start, -n at the end}
    closed = Loan.closed_on.is_not(None)
    for measure, site in (("loan_days", Loan.site_id), ("owned_loan_days", Device.home_site_id)):
        for column, sign in ((Loan.started_on, 1), (Loan.closed_on, -1)):
            query = select(site, column, func.count()).join(Device, Device.id == Loan.device_id).where(closed).group_by(site, column)
            for site_id, day, n in connection.execute(query):
                changes[(measure, site_id)][day] += sign * n
    for (measure, site_id), steps in changes.items():
        out, days = 0, sorted(steps)
        for day, following in zip(days, days[1:] + [None], strict=True):
            out += steps[day]
            if out and following is not None:
                for counted in _days(day, following):
                    deltas[(site_id, counted)][measure] += out
    day = local_date(Booking.starts_at)
    confirmed = Booking.state == BookingState.confirmed
    seats = (
        select(Booking.site_id, day, func.sum(minutes_between(Booking.ends_at, Booking.starts_at)))
        .where(confirmed, Booking.workshop_id.is_(None)).group_by(Booking.site_id, day)
    )
    for site_id, on, minutes in connection.execute(seats):
        deltas[(site_id, _date(on))]["seat_minutes"] += int(minutes or 0)
    places = (
        select(Booking.site_id, day, Booking.attendance, func.count())
        .join(Workshop, and_(Workshop.id == Booking.workshop_id, Workshop.cancelled_at.is_(None)))
        .where(confirmed, Booking.attendance.in_(list(ATTENDANCE_MEASURES)))
        .group_by(Booking.site_id, day, Booking.attendance)
    )
    for site_id, on, attendance, n in connection.execute(places):
        deltas[(site_id, _date(on))][ATTENDANCE_MEASURES[attendance]] += n
    connection.execute(delete(report_days))
    rows = _rows(deltas)
    for start in range(0, len(rows), 5000):
        connection.execute(report_days.insert(), rows[start:start + 5000])
    return len(rows)


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# --- read by the network view and the funder report --------------------------------------------------


def _in(window):
    return and_(report_days.c.day >= window.first, report_days.c.day < window.end)


def summed(site_ids, windows) -> dict:
    """{site_id: [{measure: n} per window]} of report_days (one statement): the closed loans' days and
    everything else the table keeps. Loans still open are added by open_loan_days()."""
    first, end = min(w.first for w in windows), max(w.end for w in windows)
    columns = [
        func.sum(case((_in(w), report_days.c[name]), else_=0)).label(f"{name}_{i}")
        for i, w in enumerate(windows) for name in MEASURES
    ]
    query = select(report_days.c.site_id, *columns).where(report_days.c.day >= first, report_days.c.day < end)
    if site_ids is not None:
        query = query.where(report_days.c.site_id.in_(site_ids))
    result = {}
    for row in db.session.execute(query.group_by(report_days.c.site_id)):
        m = row._mapping
        result[m["site_id"]] = [{name: int(m[f"{name}_{i}"] or 0) for name in MEASURES} for i in range(len(windows))]
    return result

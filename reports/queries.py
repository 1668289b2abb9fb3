"""Report figures, computed by the database: GROUP BY and aggregates, never rows loaded into Python.

Every function takes the sites (a list of ids, or None for the whole network) and one or more
windows (reports/periods.py: half-open ranges of local days) and answers in ONE statement,
with one column per measure and window (`loans_0`, `loans_1`…) and one row per site. So a page
runs the same number of statements whatever the number of sites, loans or bookings.

Definitions (the page footnotes say the same in French):

- Days on loan: calendar days in Europe/Paris from the day a device leaves (included) to the day
  it comes back (excluded): a loan from Monday to the next Monday is 7 days; a loan returned the
  day it started is 0 days. A still-open loan counts up to the end of the window (which never
  goes past yesterday). Only the days inside the window count. Local dates are stored on the loan
  (loans.started_on / closed_on), so a 23- or 25-hour day is still one day.
- A device can be lent on a day when, at the end of that day, it exists and is neither in repair,
  lost nor retired. These intervals come from the device history (device_events: each change into
  or out of those statuses, the next one found with LEAD() OVER (PARTITION BY device …)).
  Use rate = days on loan ÷ days it could be lent. A device created or retired mid-period counts
  only its days in the inventory.
- Loan activity (loans started, borrowers, returns, late, lost, damaged) belongs to the site that
  lent; device figures (use rate, statuses, rarely lent) to the site that owns the device now
  (home site; a transferred device brings its past with it — transfers keep no ownership history).
- Bookings: open-access seat-minutes booked = confirmed seat bookings × their length; used = those
  marked present at the desk. A booking belongs to the window in which its slot starts.
"""
from sqlalchemy import Date, Integer, String, and_, case, cast, distinct, exists, func, literal, or_, select, text, union_all
from sqlalchemy.orm import selectinload

from core.extensions import db
from core.residents import Resident, resident_sites
from core.sql import days_between, greatest, least, local_date, minutes_between
from loans.models import SERVICE_EVENTS, Device, DeviceEvent, DeviceStatus, Loan, LoanOutcome
from reservations.models import Attendance, Booking, BookingAction, BookingEvent, Closure, Room, Workshop

OUT_OF_SERVICE = (DeviceStatus.in_repair, DeviceStatus.lost, DeviceStatus.retired)
RARELY_LENT_RATE = 0.10  # below 10 % of the days it could be lent
RARELY_LENT_LIMIT = 50


# --- building blocks ------------------------------------------------------------------------------


def _day(value):
    return literal(value, Date)


def _positive(expr):
    return case((expr > 0, expr), else_=0)


def _days_inside(start, end, window):
    """Days of [start, end) inside the window (0 when they do not meet)."""
    return _positive(days_between(least(end, _day(window.end)), greatest(start, _day(window.first))))


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _sum_if(condition, value):
    return func.sum(case((condition, value), else_=0))


def _span(windows):
    return min(w.first for w in windows), max(w.end for w in windows)


def _utc_span(windows):
    return min(w.start_utc for w in windows), max(w.end_utc for w in windows)


def _by_site(rows, names, windows, key="site_id"):
    """{site_id: [{measure: value} for each window]} from labelled columns `measure_i`.

    Every measure is a whole number (a count, days or minutes); PostgreSQL sums come back as Decimal."""
    result = {}
    for row in rows:
        mapping = row._mapping
        result[mapping[key]] = [
            {name: int(mapping[f"{name}_{i}"] or 0) for name in names} for i in range(len(windows))
        ]
    return result


def _only(query, column, site_ids):
    return query if site_ids is None else query.where(column.in_(site_ids))


# --- loans (by the site that lent) -------------------------------------------------------------------

LOAN_MEASURES = ("started", "borrowers", "days", "returned", "late", "returned_days", "lost", "damaged")


def loan_activity(site_ids, windows, measures=LOAN_MEASURES) -> dict:
    """Loans started, unique borrowers, days on loan, returns (late, lost, damaged) per window and site.

    `measures`: only those (the network view asks for three of them: the statement is lighter)."""
    first, end = _span(windows)
    columns = []
    for i, w in enumerate(windows):
        started = and_(Loan.started_on >= _day(w.first), Loan.started_on < _day(w.end))
        closed = and_(Loan.closed_on >= _day(w.first), Loan.closed_on < _day(w.end))
        returned = and_(closed, Loan.outcome == LoanOutcome.returned)
        expressions = {
            "started": _count_if(started),
            "borrowers": func.count(distinct(case((started, Loan.resident_id)))),
            "days": func.sum(_days_inside(Loan.started_on, func.coalesce(Loan.closed_on, _day(w.end)), w)),
            "returned": _count_if(returned),
            "late": _count_if(and_(returned, Loan.closed_on > Loan.due_on)),
            "returned_days": _sum_if(returned, days_between(Loan.closed_on, Loan.started_on)),
            "lost": _count_if(and_(closed, Loan.outcome == LoanOutcome.lost)),
            "damaged": _count_if(and_(returned, Loan.damaged.is_(True))),
        }
        columns += [expressions[name].label(f"{name}_{i}") for name in measures]
    query = select(Loan.site_id, *columns).where(
        Loan.started_on < _day(end), or_(Loan.closed_on.is_(None), Loan.closed_on >= _day(first))
    )
    query = _only(query, Loan.site_id, site_ids).group_by(Loan.site_id)
    return _by_site(db.session.execute(query), measures, windows)


def overdue_now(site_ids, today) -> dict:
    """Open loans past their due date, by lending site: {site_id: n}."""
    query = _only(
        select(Loan.site_id, func.count()).where(Loan.closed_at.is_(None), Loan.due_on < today).group_by(Loan.site_id),
        Loan.site_id, site_ids,
    )
    return dict(db.session.execute(query).all())


def loans_per_bucket(site_id, window, bucket) -> dict:
    """Loans started per week (or month) of the window: {bucket: n}. bucket(date_column) → SQL."""
    key = bucket(Loan.started_on)
    query = (
        select(key.label("bucket"), func.count())
        .where(Loan.site_id == site_id, Loan.started_on >= _day(window.first), Loan.started_on < _day(window.end))
        .group_by(key)
    )
    return {int(bucket_key): count for bucket_key, count in db.session.execute(query)}


def week_bucket(monday):
    """Weeks counted from a Monday: 0 for the week of `monday`, 1 for the next…"""
    return lambda column: days_between(column, _day(monday)) // 7


def month_bucket(column):
    return func.extract("year", column) * 12 + func.extract("month", column)


# --- devices (by the site that owns them now) ----------------------------------------------------------


def _service_intervals(site_ids):
    """Each change into or out of repair/loss/retirement, with the local day of the next such change."""
    day = local_date(DeviceEvent.at)
    query = select(
        DeviceEvent.device_id,
        DeviceEvent.to_status,
        day.label("from_on"),
        func.lead(day).over(partition_by=DeviceEvent.device_id, order_by=(DeviceEvent.at, DeviceEvent.id)).label("to_on"),
    ).where(text(f"({SERVICE_EVENTS})"))  # the predicate of the partial index ix_device_events_service, as written there
    if site_ids is not None:
        query = query.where(DeviceEvent.device_id.in_(select(Device.id).where(Device.home_site_id.in_(site_ids))))
    return query.subquery("service_changes")


def device_usage(site_ids, windows):
    """A subquery: one row per device of the sites with, per window, the days it could be lent,
    the loans started and the days on loan (whichever site lent it)."""
    first, end = _span(windows)
    changes = _service_intervals(site_ids)
    out_of_service = (
        select(
            changes.c.device_id,
            *[
                func.sum(_days_inside(changes.c.from_on, func.coalesce(changes.c.to_on, _day(w.end)), w)).label(f"oos_{i}")
                for i, w in enumerate(windows)
            ],
        )
        .where(changes.c.to_status.in_(OUT_OF_SERVICE))
        .group_by(changes.c.device_id)
        .subquery("out_of_service")
    )
    lent_query = select(
        Loan.device_id,
        *[
            column
            for i, w in enumerate(windows)
            for column in (
                _count_if(and_(Loan.started_on >= _day(w.first), Loan.started_on < _day(w.end))).label(f"loans_{i}"),
                func.sum(_days_inside(Loan.started_on, func.coalesce(Loan.closed_on, _day(w.end)), w)).label(f"loan_days_{i}"),
            )
        ],
    ).where(Loan.started_on < _day(end), or_(Loan.closed_on.is_(None), Loan.closed_on > _day(first)))
    if site_ids is not None:
        lent_query = lent_query.where(Loan.device_id.in_(select(Device.id).where(Device.home_site_id.in_(site_ids))))
    lent = lent_query.group_by(Loan.device_id).subquery("lent")
    created_on = local_date(Device.created_at)
    columns = [Device.id.label("device_id"), Device.tag, Device.kind_id, Device.home_site_id, Device.status]
    for i, w in enumerate(windows):
        columns += [
            (_days_inside(created_on, _day(w.end), w) - func.coalesce(out_of_service.c[f"oos_{i}"], 0)).label(f"available_{i}"),
            func.coalesce(lent.c[f"loans_{i}"], 0).label(f"loans_{i}"),
            func.coalesce(lent.c[f"loan_days_{i}"], 0).label(f"loan_days_{i}"),
        ]
    query = (
        select(*columns)
        .outerjoin(out_of_service, out_of_service.c.device_id == Device.id)
        .outerjoin(lent, lent.c.device_id == Device.id)
    )
    return _only(query, Device.home_site_id, site_ids).subquery("device_usage")


KIND_MEASURES = ("available", "loan_days", "devices")


def kind_usage(site_ids, windows) -> dict:
    """{site_id: {kind_id: [{available, loan_days, devices} per window]}} — the use rate per kind."""
    usage = device_usage(site_ids, windows)
    columns = []
    for i in range(len(windows)):
        columns += [
            func.sum(usage.c[f"available_{i}"]).label(f"available_{i}"),
            func.sum(usage.c[f"loan_days_{i}"]).label(f"loan_days_{i}"),
            _count_if(usage.c[f"available_{i}"] > 0).label(f"devices_{i}"),
        ]
    query = select(usage.c.home_site_id, usage.c.kind_id, *columns).group_by(usage.c.home_site_id, usage.c.kind_id)
    result = {}
    for row in db.session.execute(query):
        m = row._mapping
        result.setdefault(m["home_site_id"], {})[m["kind_id"]] = [
            {name: int(m[f"{name}_{i}"] or 0) for name in KIND_MEASURES} for i in range(len(windows))
        ]
    return result


def loans_and_use(site_ids, windows, kept: dict, *, use=True):
    """The network view's and the funder report's loan figures: loans started and days on loan by the
    site that lent, and (use=True) the days on loan by the site that owns the device now — the same
    numbers as loan_activity() and device_usage(). `kept`: summary.summed() (report_days: every loan
    started, the days of the closed ones); the loans still open are read here (their partial index).

    Returns ({site_id: [{started, days}]}, {home_site_id: [{loan_days}]})."""
    _first, end = _span(windows)
    lent = {site_id: [{"started": w["loans_started"], "days": w["loan_days"]} for w in per_window]
            for site_id, per_window in kept.items()}
    owned = {site_id: [{"loan_days": w["owned_loan_days"]} for w in per_window] for site_id, per_window in kept.items()}
    columns = [func.sum(_days_inside(Loan.started_on, _day(w.end), w)).label(f"days_{i}") for i, w in enumerate(windows)]
    query = (
        select(Loan.site_id, Device.home_site_id, *columns).join(Device, Device.id == Loan.device_id)
        .where(Loan.closed_at.is_(None), Loan.started_on < _day(end))
        .group_by(Loan.site_id, Device.home_site_id)
    )
    if site_ids is not None:
        query = query.where(or_(Loan.site_id.in_(site_ids), Device.home_site_id.in_(site_ids)))
    for row in db.session.execute(query):
        m = row._mapping
        for i in range(len(windows)):
            days = int(m[f"days_{i}"] or 0)
            if site_ids is None or m["site_id"] in site_ids:
                lent.setdefault(m["site_id"], [{"started": 0, "days": 0} for _ in windows])[i]["days"] += days
            if use and (site_ids is None or m["home_site_id"] in site_ids):
                owned.setdefault(m["home_site_id"], [{"loan_days": 0} for _ in windows])[i]["loan_days"] += days
    return lent, (owned if use else {})


def available_days(site_ids, windows) -> dict:
    """Days the devices of each site (home site) could be lent, per window: {site_id: [n per window]} —
    the sum over the site's devices of device_usage()'s `available`, without a row per device."""
    changes = _service_intervals(site_ids)
    created_on = local_date(Device.created_at)
    created = select(
        Device.home_site_id.label("site_id"), literal(1).label("sign"),
        *[func.sum(_days_inside(created_on, _day(w.end), w)).label(f"n_{i}") for i, w in enumerate(windows)],
    ).group_by(Device.home_site_id)
    out = (
        select(
            Device.home_site_id.label("site_id"), literal(-1).label("sign"),
            *[func.sum(_days_inside(changes.c.from_on, func.coalesce(changes.c.to_on, _day(w.end)), w)).label(f"n_{i}")
              for i, w in enumerate(windows)],
        )
        .join(changes, changes.c.device_id == Device.id)
        .where(changes.c.to_status.in_(OUT_OF_SERVICE))
        .group_by(Device.home_site_id)
    )
    created, out = _only(created, Device.home_site_id, site_ids), _only(out, Device.home_site_id, site_ids)
    result = {}
    for row in db.session.execute(union_all(created, out)):
        m = row._mapping
        values = result.setdefault(m["site_id"], [0] * len(windows))
        for i in range(len(windows)):
            values[i] += m["sign"] * int(m[f"n_{i}"] or 0)
    return result


def rarely_lent(site_id, window, limit=RARELY_LENT_LIMIT):
    """Devices of the site that could be lent during the window but were on loan less than 10 % of
    those days (or never), least used first — candidates to move to a site that needs them.
    Returns (rows, how many in all)."""
    usage = device_usage([site_id], [window])
    last_lent = select(func.max(Loan.started_at)).where(Loan.device_id == usage.c.device_id).scalar_subquery()
    query = (
        select(
            usage.c.device_id, usage.c.tag, usage.c.kind_id, usage.c.status, usage.c.available_0.label("available"),
            usage.c.loans_0.label("loans"), usage.c.loan_days_0.label("loan_days"), last_lent.label("last_lent"),
            func.count().over().label("total"),
        )
        .where(
            usage.c.status.not_in([DeviceStatus.retired, DeviceStatus.lost]),
            usage.c.available_0 > 0,
            usage.c.loan_days_0 < usage.c.available_0 * RARELY_LENT_RATE,
        )
        .order_by(usage.c.loan_days_0, usage.c.loans_0, usage.c.tag)
        .limit(limit)
    )
    rows = db.session.execute(query).all()
    return rows, (rows[0].total if rows else 0)


def devices_by_status(site_ids) -> dict:
    """Devices owned now, by status: {site_id: {DeviceStatus: n}}."""
    query = _only(
        select(Device.home_site_id, Device.status, func.count()).group_by(Device.home_site_id, Device.status),
        Device.home_site_id, site_ids,
    )
    result = {}
    for site_id, status, count in db.session.execute(query):
        result.setdefault(site_id, {})[status] = count
    return result


def device_figures(device_id, today):
    """One device, its whole life: loans, days on loan (an open loan up to today), last lent."""
    return db.session.execute(
        select(
            func.count(Loan.id).label("loans"),
            func.coalesce(func.sum(days_between(func.coalesce(Loan.closed_on, _day(today)), Loan.started_on)), 0).label("days"),
            func.max(Loan.started_at).label("last_lent"),
        ).where(Loan.device_id == device_id)
    ).one()


# --- rooms ------------------------------------------------------------------------------------------


def rooms_of(site_ids):
    query = select(Room).options(selectinload(Room.hours)).order_by(Room.site_id, Room.name)
    return db.session.scalars(_only(query, Room.site_id, site_ids)).all()


def closures_of(site_ids, windows):
    first, end = _span(windows)
    query = select(Closure).where(Closure.first_day < _day(end), Closure.last_day >= _day(first))
    return db.session.scalars(_only(query, Closure.site_id, site_ids)).all()


def workshop_times(site_ids, windows):
    """(room_id, starts_at, ends_at, places) of the workshops held: what capacity.offered needs."""
    start, end = _utc_span(windows)
    query = select(Workshop.room_id, Workshop.starts_at, Workshop.ends_at, Workshop.places).where(
        ~Workshop.is_cancelled, Workshop.starts_at < end, Workshop.ends_at > start
    )
    return db.session.execute(_only(query, Workshop.site_id, site_ids)).all()


WORKSHOP_MEASURES = ("held", "places")


def workshop_activity(site_ids, windows) -> dict:
    """Workshops held (not cancelled) that started in each window, and their places."""
    start, end = _utc_span(windows)
    columns = []
    for i, w in enumerate(windows):
        inside = and_(Workshop.starts_at >= w.start_utc, Workshop.starts_at < w.end_utc)
        columns += [_count_if(inside).label(f"held_{i}"), _sum_if(inside, Workshop.places).label(f"places_{i}")]
    query = (
        select(Workshop.site_id, *columns)
        .where(~Workshop.is_cancelled, Workshop.starts_at >= start, Workshop.starts_at < end)
        .group_by(Workshop.site_id)
    )
    return _by_site(db.session.execute(_only(query, Workshop.site_id, site_ids)), WORKSHOP_MEASURES, windows)


BOOKING_MEASURES = (
    "seat_bookings", "booked_minutes", "used_minutes", "arrivals_noted",
    "registrations", "present", "absent", "excused", "unmarked", "waiting",
)


def booking_activity(site_ids, windows, measures=BOOKING_MEASURES) -> dict:
    """Open-access seats booked and used; workshop registrations, attendance, unmet waiting list."""
    start, end = _utc_span(windows)
    seat = and_(Booking.is_seat, Booking.is_confirmed)
    held = and_(Booking.is_workshop, ~Workshop.is_cancelled)
    place = and_(held, Booking.is_confirmed)
    minutes = minutes_between(Booking.ends_at, Booking.starts_at)
    # Joined the waiting list and never promoted: still waiting when the workshop began, or gave up.
    joined_waiting = exists().where(
        BookingEvent.booking_id == Booking.id, BookingEvent.action == BookingAction.joined_waiting_list
    )
    never_placed = and_(held, ~Booking.is_confirmed, Booking.promoted_at.is_(None), joined_waiting)
    columns = []
    for i, w in enumerate(windows):
        inside = and_(Booking.starts_at >= w.start_utc, Booking.starts_at < w.end_utc)
        expressions = {
            "seat_bookings": _count_if(and_(seat, inside)),
            "booked_minutes": _sum_if(and_(seat, inside), minutes),
            "used_minutes": _sum_if(and_(seat, inside, Booking.attendance == Attendance.present), minutes),
            "arrivals_noted": _count_if(and_(seat, inside, Booking.attendance.is_not(None))),
            "registrations": _count_if(and_(place, inside)),
            "present": _count_if(and_(place, inside, Booking.attendance == Attendance.present)),
            "absent": _count_if(and_(place, inside, Booking.attendance == Attendance.absent)),
            "excused": _count_if(and_(place, inside, Booking.attendance == Attendance.excused)),
            "unmarked": _count_if(and_(place, inside, Booking.attendance.is_(None))),
            "waiting": _count_if(and_(inside, never_placed)),
        }
        columns += [expressions[name].label(f"{name}_{i}") for name in measures]
    query = (
        select(Booking.site_id, *columns)
        .outerjoin(Workshop, Workshop.id == Booking.workshop_id)
        .where(Booking.starts_at >= start, Booking.starts_at < end)
        .group_by(Booking.site_id)
    )
    return _by_site(db.session.execute(_only(query, Booking.site_id, site_ids)), measures, windows)


def bookings_per_bucket(site_id, window, bucket) -> dict:
    """Open-access seat-minutes booked and used per week (or month): {bucket: (booked, used)}."""
    key = bucket(local_date(Booking.starts_at))
    minutes = minutes_between(Booking.ends_at, Booking.starts_at)
    query = (
        select(key.label("bucket"), func.sum(minutes), _sum_if(Booking.attendance == Attendance.present, minutes))
        .where(
            Booking.site_id == site_id,
            Booking.is_seat,
            Booking.is_confirmed,
            Booking.starts_at >= window.start_utc,
            Booking.starts_at < window.end_utc,
        )
        .group_by(key)
    )
    return {int(bucket_key): (int(booked or 0), int(used or 0)) for bucket_key, booked, used in db.session.execute(query)}


# --- people ----------------------------------------------------------------------------------------

PEOPLE_MEASURES = ("reached", "borrowers", "bookers")


def _booking_resident():
    """The resident who made a booking: its link, set when the booking was made or when the desk
    registered the person (reservations/identity.py); NULL for someone the desk does not know."""
    return Booking.resident_id


def people_reached(site_ids, windows, measures=PEOPLE_MEASURES) -> dict:
    """Unique people reached per window: borrowers (a loan started) and people with a confirmed
    booking (seat or workshop place) not marked absent. One person counts once, through both.

    {site_id: [...], None: [...]}: per site, and for all the sites together (a person met at two
    sites counts once) — one statement: the people are listed once (a MATERIALIZED common table
    expression) and counted twice."""
    first, end = _span(windows)
    start, end_utc = _utc_span(windows)
    # A person is a resident (an id) or, for a booking nobody at the desk knows, its contact: the two
    # sets never overlap, so people = distinct residents + distinct unknown contacts (integers count fast).
    loans = select(
        Loan.site_id.label("site_id"),
        Loan.resident_id.label("resident"),
        cast(None, String).label("contact"),
        literal(1).label("borrower"),
        *[
            case((and_(Loan.started_on >= _day(w.first), Loan.started_on < _day(w.end)), 1), else_=0).label(f"in_{i}")
            for i, w in enumerate(windows)
        ],
    ).where(Loan.started_on >= _day(first), Loan.started_on < _day(end))
    known = _booking_resident()
    bookings = select(
        Booking.site_id.label("site_id"),
        known.label("resident"),
        Booking.contact_key.label("contact"),
        literal(0).label("borrower"),
        *[
            case((and_(Booking.starts_at >= w.start_utc, Booking.starts_at < w.end_utc), 1), else_=0).label(f"in_{i}")
            for i, w in enumerate(windows)
        ],
    ).where(
        Booking.is_confirmed,
        or_(Booking.attendance.is_(None), Booking.attendance != Attendance.absent),
        Booking.starts_at >= start,
        Booking.starts_at < end_utc,
    )
    loans, bookings = _only(loans, Loan.site_id, site_ids), _only(bookings, Booking.site_id, site_ids)
    people = union_all(loans, bookings).cte("people").prefix_with("MATERIALIZED")
    columns = []
    for i in range(len(windows)):
        inside = people.c[f"in_{i}"] == 1
        unknown = and_(inside, people.c.resident.is_(None))
        expressions = {
            "reached": func.count(distinct(case((inside, people.c.resident))))
            + func.count(distinct(case((unknown, people.c.contact)))),
            "borrowers": func.count(distinct(case((and_(inside, people.c.borrower == 1), people.c.resident)))),
            "bookers": func.count(distinct(case((and_(inside, people.c.borrower == 0), people.c.resident))))
            + func.count(distinct(case((unknown, people.c.contact)))),
        }
        columns += [expressions[name].label(f"{name}_{i}") for name in measures]
    per_site = select(people.c.site_id.label("site_id"), *columns).group_by(people.c.site_id)
    together = select(cast(None, Integer).label("site_id"), *columns)
    return _by_site(db.session.execute(union_all(per_site, together)), measures, windows)


def new_residents(site_ids, windows) -> dict:
    """Residents registered at the desk during each window, by the sites they belong to."""
    start, end = _utc_span(windows)
    columns = [
        _count_if(and_(Resident.created_at >= w.start_utc, Resident.created_at < w.end_utc)).label(f"new_{i}")
        for i, w in enumerate(windows)
    ]
    query = (
        select(resident_sites.c.site_id, *columns)
        .join(Resident, Resident.id == resident_sites.c.resident_id)
        .where(Resident.created_at >= start, Resident.created_at < end)
        .group_by(resident_sites.c.site_id)
    )
    return _by_site(db.session.execute(_only(query, resident_sites.c.site_id, site_ids)), ("new",), windows)

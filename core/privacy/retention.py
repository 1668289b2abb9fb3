"""Retention: what is due to be forgotten, and the nightly run that forgets it.

Four kinds of rows, each with its own period (PrivacySettings, the admin's page):
- residents whose last contact is older than `resident_months`: anonymised everywhere
  (erasure.anonymise_residents). The last contact is the latest of the record's creation, their loans
  (lent, given back) and their bookings' slots (a booking made, a seat used: the arrival desk ticks
  the booking of the slot). Never a resident with a device still on loan;
- the contacts of bookings made without a resident record whose latest slot is older than
  `booking_contact_months`: replaced by pseudonyms (erasure.anonymise_contacts);
- message bodies (and recipients, subjects, calendars) written longer ago than `message_body_months`,
  once the message is no longer waiting to go: emptied; the row stays for the figures (kind, channel,
  status, dates);
- the access trail (AccessRecord) and staff logins (StaffSession) older than `log_months`: deleted.

Who is due is a set-based query per kind (the same for the preview and the run). The run first reads
the ids of what is due on a read-only connection (on SQLite no write lock: the desks keep working),
then applies them in batches of `batch_size`, each in its own short transaction that checks again,
with the write lock, that each row is still due (a person who came back in between is kept). A second
run finds nothing to do. Each run is recorded (RetentionRun) with counts only.

Sites that turn on MessageSettings.retention_warning warn their residents `warning_days` before
their record is anonymised (one message each, unique key, through the outbox), when they have a
channel and have not refused reminders.
"""
import calendar
import logging
import time as timer
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import OperationalError

from core.clock import PARIS, now
from core.extensions import db
from core.models import Site, StaffSession
from core.residents import Resident, resident_sites

from .erasure import PSEUDONYM_PREFIX, anonymise_contacts, anonymise_residents, replay_erasures
from .models import AccessRecord, ErasureCause, RetentionRun
from .settings import current_settings, settings_read_on

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # about 0.1 to 0.5 s of write lock a batch at 500,000 bookings on SQLite (bench/retention.py)
# SQLite gives its lock to no one in particular: a desk waiting for it (busy handler, sleeping) would
# often miss the instant between two batches. A short pause between batches lets it in.
SQLITE_PAUSE = 0.02
PREVIEW_LIMIT = 50  # residents listed on the admin page (the counts cover all of them)
RUNS_SHOWN = 10
# The order of the run: rows emptied by an earlier kind are not counted again by a later one.
KINDS = ("message_bodies", "access_records", "staff_sessions", "booking_contacts", "residents")


# --- dates ---------------------------------------------------------------------------------------


def shift_months(at: datetime, months: int) -> datetime:
    """The same Paris wall-clock moment `months` later (negative: earlier); the 31st becomes the last
    day of a shorter month."""
    local = at.astimezone(PARIS)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these instants are due."""

    residents: datetime
    booking_contacts: datetime
    message_bodies: datetime
    logs: datetime

    @classmethod
    def at(cls, moment: datetime, settings) -> "Cutoffs":
        return cls(shift_months(moment, -settings.resident_months), shift_months(moment, -settings.booking_contact_months),
                   shift_months(moment, -settings.message_body_months), shift_months(moment, -settings.log_months))


# --- who is due (one condition per kind, used by the preview, the scan and each batch) ------------


def residents_due(cutoff: datetime):
    """Residents not anonymised, whose record and every loan and booking are older than `cutoff`,
    without a loan still open. NOT EXISTS on the (resident_id, …) indexes of loans and bookings."""
    from loans.models import Loan
    from reservations.models import Booking

    recent_loan = exists().where(Loan.resident_id == Resident.id, or_(Loan.closed_at.is_(None), Loan.closed_at >= cutoff))
    recent_booking = exists().where(Booking.resident_id == Resident.id, Booking.starts_at >= cutoff)
    return and_(Resident.anonymised_at.is_(None), Resident.created_at < cutoff, ~recent_loan, ~recent_booking)


def _contacts_due_query(cutoff: datetime, keys=None):
    """Contacts of bookings without a resident record whose latest such booking's slot is before `cutoff`."""
    from reservations.models import Booking

    query = (select(Booking.contact_key)
             # coalesce(): the index of contact_key, not that of resident_id (NULL for all of them), see erasure.py
             .where(func.coalesce(Booking.resident_id, 0) == 0, Booking.contact_key != "",
                    ~Booking.contact_key.startswith(PSEUDONYM_PREFIX))
             .group_by(Booking.contact_key).having(func.max(Booking.starts_at) < cutoff))
    if keys is not None:
        query = query.where(Booking.contact_key.in_(list(keys)))
    return query


def _messages_due(cutoff: datetime):
    from core.messaging.models import Message, MessageStatus

    waiting = (MessageStatus.pending, MessageStatus.held, MessageStatus.sending)
    return and_(Message.created_at < cutoff, Message.status.not_in(waiting),
                or_(Message.body != "", Message.recipient != "", Message.subject != "", Message.calendar.is_not(None)))


def _access_due(cutoff: datetime):
    return AccessRecord.at < cutoff


def _sessions_due(cutoff: datetime):
    # A login not used for that long is over (the remember-me cookie lasts far less).
    return StaffSession.last_seen_at < cutoff


def _scan_queries(cut: Cutoffs) -> dict:
    """kind → the query of the ids (or contact keys) due, oldest first."""
    from core.messaging.models import Message

    return {
        "message_bodies": select(Message.id).where(_messages_due(cut.message_bodies)).order_by(Message.id),
        "access_records": select(AccessRecord.id).where(_access_due(cut.logs)).order_by(AccessRecord.id),
        "staff_sessions": select(StaffSession.id).where(_sessions_due(cut.logs)).order_by(StaffSession.id),
        "booking_contacts": _contacts_due_query(cut.booking_contacts).order_by(None),
        "residents": select(Resident.id).where(residents_due(cut.residents)).order_by(Resident.id),
    }


class _ReadOnly:
    """A connection of its own that reads without the write lock (core/db.py), for the scan and the preview."""

    def __enter__(self):
        self.connection = db.engine.connect().execution_options(read_only=True)
        return self.connection

    def __exit__(self, *exc):
        self.connection.rollback()
        self.connection.close()


# --- applying one batch (its own transaction, committed by the caller) ----------------------------


def _apply(kind: str, batch: list, cut: Cutoffs, settings) -> int:
    from core.messaging.models import Message

    if kind == "message_bodies":
        return db.session.execute(
            update(Message).where(Message.id.in_(batch), _messages_due(cut.message_bodies))
            .values(recipient="", subject="", body="", calendar=None).execution_options(synchronize_session=False)
        ).rowcount
    if kind == "access_records":
        return db.session.execute(
            delete(AccessRecord).where(AccessRecord.id.in_(batch), _access_due(cut.logs)).execution_options(synchronize_session=False)
        ).rowcount
    if kind == "staff_sessions":
        return db.session.execute(
            delete(StaffSession).where(StaffSession.id.in_(batch), _sessions_due(cut.logs)).execution_options(synchronize_session=False)
        ).rowcount
    reason = "Durée de conservation"
    if kind == "booking_contacts":
        still = db.session.scalars(_contacts_due_query(cut.booking_contacts, batch)).all()
        return anonymise_contacts(still, cause=ErasureCause.retention, reason=reason) if still else 0
    still = db.session.scalars(select(Resident.id).where(Resident.id.in_(batch), residents_due(cut.residents))).all()
    return anonymise_residents(still, cause=ErasureCause.retention, reason=reason) if still else 0


# --- the run -------------------------------------------------------------------------------------


def _replay() -> dict:
    """replay_erasures() reads every erasure record and the ledger (seconds once there are many) and,
    on most nights, writes nothing: on SQLite its transaction starts deferred, so that reading does not
    hold the write lock. If it must write and a desk wrote in between (SQLite refuses to upgrade the
    snapshot), it runs again in an ordinary transaction."""
    db.session.connection(execution_options={"read_only": True})
    try:
        replayed = replay_erasures()
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        replayed = replay_erasures()
        db.session.commit()
    return replayed



@dataclass
class RunReport:
    """What a run did: counts (as recorded), and how it went (for the benchmark and the log)."""

    run_id: int
    counts: dict
    batches: int = 0
    longest_batch: float = 0.0  # seconds, the longest write transaction of a batch
    seconds: float = 0.0
    batch_times: list = field(default_factory=list, repr=False)


def run_retention(*, manual: bool = False, batch_size: int = BATCH_SIZE) -> RunReport:
    """Apply the retention periods in force: replay erasures, warn, then forget what is due, batch by
    batch (each batch commits). Idempotent. Records one RetentionRun with counts only."""
    started = timer.perf_counter()
    db.session.commit()  # nothing of the caller's is left in the transactions below
    at = now()
    replayed = _replay()
    settings = current_settings()
    cut = Cutoffs.at(at, settings)
    run = RetentionRun(started_at=at, manual=manual, counts={})
    db.session.add(run)
    db.session.commit()
    run_id = run.id

    report = RunReport(run_id=run_id, counts={})
    report.counts["warnings"] = plan_warnings(at, settings, cut)
    db.session.commit()
    with _ReadOnly() as reading:
        due = {kind: reading.execute(query).scalars().all() for kind, query in _scan_queries(cut).items()}
    pause = SQLITE_PAUSE if db.engine.dialect.name == "sqlite" else 0
    for kind in KINDS:
        done = 0
        rows = due[kind]
        for start in range(0, len(rows), batch_size):
            began = timer.perf_counter()
            done += _apply(kind, rows[start:start + batch_size], cut, settings)
            db.session.commit()
            spent = timer.perf_counter() - began
            report.batches += 1
            report.batch_times.append(spent)
            report.longest_batch = max(report.longest_batch, spent)
            if pause:
                timer.sleep(pause)
        report.counts[kind] = done
    report.counts["replayed"] = replayed.get("residents", 0) + replayed.get("contacts", 0)
    report.counts["batches"] = report.batches
    run = db.session.get(RetentionRun, run_id)
    run.counts = dict(report.counts)
    run.finished_at = now()
    db.session.commit()
    report.seconds = timer.perf_counter() - started
    log.info("retention run %s: %s in %.1f s, longest batch %.3f s", run_id,
             ", ".join(f"{k}={v}" for k, v in report.counts.items()), report.seconds, report.longest_batch)
    return report


# --- the preview -----------------------------------------------------------------------------------


@dataclass
class DueResident:
    id: int
    name: str
    sites: list
    last_contact: datetime
    anonymised_on: date


@dataclass
class Preview:
    counts: dict  # kind → rows the next run would change
    per_site: list  # [(Site, residents due)]
    residents: list  # the first PREVIEW_LIMIT residents due (DueResident)
    cutoffs: Cutoffs
    warnings: int = 0


def _last_contact_columns():
    """Correlated maxima of a resident's loans and bookings (for a bounded list of residents)."""
    from loans.models import Loan
    from reservations.models import Booking

    loan_last = (select(func.max(func.coalesce(Loan.closed_at, Loan.started_at))).where(Loan.resident_id == Resident.id)
                 .correlate(Resident).scalar_subquery())
    booking_last = select(func.max(Booking.starts_at)).where(Booking.resident_id == Resident.id).correlate(Resident).scalar_subquery()
    return loan_last, booking_last


def _as_utc(value):
    if value is None:
        return None
    if isinstance(value, str):  # SQLite gives a max() of a subquery back as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def last_contact(created_at, loan_last, booking_last) -> datetime:
    return max(v for v in (_as_utc(created_at), _as_utc(loan_last), _as_utc(booking_last)) if v is not None)


def preview(limit: int = PREVIEW_LIMIT) -> Preview:
    """What the next run would do if it ran now: counts per kind, residents per site, the first residents
    due with their last contact. A constant number of statements, on a read-only connection."""
    at = now()
    with _ReadOnly() as reading:
        settings = settings_read_on(reading)
        cut = Cutoffs.at(at, settings)
        queries = _scan_queries(cut)
        counts = {kind: reading.execute(select(func.count()).select_from(queries[kind].order_by(None).subquery())).scalar_one()
                  for kind in KINDS}
        due = residents_due(cut.residents)
        per_site = reading.execute(
            select(Site.id, Site.name, func.count())
            .join(resident_sites, resident_sites.c.site_id == Site.id).join(Resident, Resident.id == resident_sites.c.resident_id)
            .where(due).group_by(Site.id, Site.name).order_by(Site.name)
        ).all()
        loan_last, booking_last = _last_contact_columns()
        rows = reading.execute(
            select(Resident.id, Resident.first_name, Resident.last_name, Resident.created_at, loan_last, booking_last)
            .where(due).order_by(Resident.id).limit(limit)
        ).all()
        names = {}
        if rows:
            for resident_id, site_name in reading.execute(
                select(resident_sites.c.resident_id, Site.name).join(Site, Site.id == resident_sites.c.site_id)
                .where(resident_sites.c.resident_id.in_([r.id for r in rows])).order_by(Site.name)
            ):
                names.setdefault(resident_id, []).append(site_name)
        warnings = count_warnings(at, settings, cut, reading)
    residents = []
    for row in rows:
        last = last_contact(row.created_at, row[4], row[5])
        residents.append(DueResident(row.id, f"{row.first_name} {row.last_name}".strip(), names.get(row.id, []), last,
                                     shift_months(last, settings.resident_months).astimezone(PARIS).date()))
    return Preview(counts=counts, per_site=[(r.name, r[2]) for r in per_site], residents=residents, cutoffs=cut,
                   warnings=warnings)


def last_runs(limit: int = RUNS_SHOWN) -> list[RetentionRun]:
    return db.session.scalars(select(RetentionRun).order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc()).limit(limit)).all()


# --- warning people before their record is anonymised ------------------------------------------------


def _warning_sites(connection=None) -> list[int]:
    from core.messaging.models import MessageSettings

    query = select(MessageSettings.site_id).where(MessageSettings.retention_warning.is_(True))
    return list((connection or db.session).execute(query).scalars())


def _warning_candidates(at: datetime, settings, cut: Cutoffs, site_ids, connection=None):
    """Residents of the sites that warn, with a phone or an e-mail, due within warning_days but not now."""
    horizon = shift_months(at + timedelta(days=settings.warning_days), -settings.resident_months)
    loan_last, booking_last = _last_contact_columns()
    site_of = (select(func.min(resident_sites.c.site_id))
               .where(resident_sites.c.resident_id == Resident.id, resident_sites.c.site_id.in_(site_ids))
               .correlate(Resident).scalar_subquery())
    rows = (connection or db.session).execute(
        select(Resident.id, Resident.first_name, Resident.phone, Resident.email, Resident.created_at, loan_last, booking_last,
               site_of.label("site_id"))
        .where(residents_due(horizon), or_(Resident.phone != "", Resident.email != ""),
               exists().where(resident_sites.c.resident_id == Resident.id, resident_sites.c.site_id.in_(site_ids)))
        .order_by(Resident.id)
    ).all()
    found = []
    for row in rows:
        last = last_contact(row.created_at, row[5], row[6])
        if last >= cut.residents:  # not due tonight: the warning comes before
            found.append((row, last))
    return found


def count_warnings(at, settings, cut, connection=None) -> int:
    """How many residents the next run would warn (an upper bound: known keys and refusals aside)."""
    if not settings.warning_days:
        return 0
    site_ids = _warning_sites(connection)
    return len(_warning_candidates(at, settings, cut, site_ids, connection)) if site_ids else 0


def plan_warnings(at: datetime, settings, cut: Cutoffs) -> int:
    """One message to each resident of a warning site who will be anonymised within warning_days,
    by their channel unless they refused reminders; its key names the resident and their last contact,
    so it is written once (a person who comes back and goes quiet again is warned again). Flushes."""
    from core.messaging import texts
    from core.messaging.consent import contact_of, refusing
    from core.messaging.models import Channel, Message, MessageKind
    from core.messaging.timing import next_allowed
    from core.messaging.writing import _row, message_key, write

    if not settings.warning_days:
        return 0
    site_ids = _warning_sites()
    if not site_ids:
        return 0
    candidates = _warning_candidates(at, settings, cut, site_ids)
    if not candidates:
        return 0
    kind = MessageKind.retention_warning
    planned = []
    for row, last in candidates:
        found = contact_of(row.phone, row.email)
        if found is not None:
            planned.append((row, last, *found))
    refused = {channel: refusing([r for _row_, _l, ch, r in planned if ch is channel], channel) for channel in Channel}
    keys = {row.id: message_key(kind, f"resident:{row.id}:{last.date().isoformat()}", channel) for row, last, channel, _r in planned}
    known = set(db.session.scalars(select(Message.key).where(Message.key.in_(list(keys.values()))))) if keys else set()
    sites = {site.id: site for site in db.session.scalars(select(Site).where(Site.id.in_({row.site_id for row, *_ in planned})))}
    rows = []
    for row, last, channel, recipient in planned:
        if recipient in refused[channel] or keys[row.id] in known:
            continue
        on = shift_months(last, settings.resident_months).astimezone(PARIS).date()
        site = sites[row.site_id]
        rows.append(_row(kind, f"resident:{row.id}:{last.date().isoformat()}", channel, recipient, site.id,
                         lambda stop, site=site, row=row, on=on, channel=channel: texts.retention_warning(
                             site, row.first_name, on, channel, stop),
                         next_allowed(at, channel.value), resident_id=row.id))
    written = 0
    for start in range(0, len(rows), 1000):
        written += write(rows[start:start + 1000])
    return written

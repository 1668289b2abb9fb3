"""Which messages are written, when: in the transaction of their cause, never twice.

In-transaction receivers (core/events.py `within`): they run inside the use case's transaction, so
a message is kept exactly when its cause is (a rolled-back booking writes nothing):
- booking_confirmed   → "booking confirmed" to the contact the person gave (phone → SMS, e-mail →
                        e-mail), and the reminder of the day before, written now (so its link is known)
                        with not_before = the day before at the site's reminder time (quiet hours of SMS);
- waiting_list_joined → "place obtained" and its reminder, written now with the private link (only
                        the token's hash is kept, the link exists only at this moment) and `held`;
- waiting_list_promoted → the held messages are released: "place obtained" at once (urgent — sent at
                        night too — for a booking the same day), the reminder at its time;
- booking_cancelled   → the pending messages of the booking are cancelled; by the centre (a closure,
                        or the workshop cancelled) → "booking cancelled" with the reason and how to rebook.
                        Not for a person's own cancellation, nor one booking given back at the desk;
- loan_returned, loan_declared_lost, loan_extended → the loan's pending reminders are cancelled.

Planners (the periodic sweep calls them with the current time; `PLANNERS`): loans due tomorrow,
loans overdue (the site's overdue_days after the due date), the staff digest. Each is a constant
number of statements whatever the number of loans, and idempotent: every row has a unique key
(kind, cause, channel) and is inserted with ON CONFLICT DO NOTHING.

A site without a MessageSettings row has the defaults. Consent (consent.py) covers the reminders;
a contact whose latest choice is "no" gets none. A phone number that cannot be read gets no SMS
(an e-mail when the person has one, else nothing).
"""
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from .. import clock
from ..clock import PARIS
from ..events import (
    booking_cancelled,
    booking_confirmed,
    loan_declared_lost,
    loan_extended,
    loan_returned,
    waiting_list_joined,
    waiting_list_promoted,
    within,
)
from ..extensions import db
from . import texts
from .consent import contact_of, refusing, unsubscribe_url, wants_reminders
from .models import Channel, Message, MessageKind, MessageSettings, MessageStatus
from .queue import wake_after_commit
from .sending import register_planner
from .timing import next_allowed

DIGEST_TIME = time(8, 0)


# --- settings ------------------------------------------------------------------------------------


def default_settings(site_id: int) -> MessageSettings:
    """The settings of a site that has no row (a transient object, never added to the session)."""
    return MessageSettings(
        site_id=site_id, reminder_time=time(17, 0), overdue_days="1,7", sender_name="", confirmations=True,
        reminders=True, waiting_list=True, cancellations=True, loan_reminders=True, digest_to="",
        retention_warning=False,
    )


def site_settings(site_id: int) -> MessageSettings:
    return db.session.get(MessageSettings, site_id) or default_settings(site_id)


def settings_of(site_ids) -> dict[int, MessageSettings]:
    """{site_id: settings} for these sites, in one statement."""
    ids = set(site_ids)
    found = {s.site_id: s for s in db.session.scalars(select(MessageSettings).where(MessageSettings.site_id.in_(ids)))} if ids else {}
    return {site_id: found.get(site_id) or default_settings(site_id) for site_id in ids}


def overdue_offsets(settings: MessageSettings) -> list[int]:
    """"1,7" → [1, 7]; anything unreadable is left out."""
    days = set()
    for part in (settings.overdue_days or "").replace(";", ",").split(","):
        part = part.strip()
        if part.isdigit() and 0 < int(part) <= 365:
            days.add(int(part))
    return sorted(days)


# --- writing rows ---------------------------------------------------------------------------------


def message_key(kind: MessageKind, cause: str, channel: Channel) -> str:
    """booking_confirmed:booking:42:sms — one cause has one recipient per channel."""
    return f"{kind.value}:{cause}:{channel.value}"


def write(rows: list[dict]) -> int:
    """Insert the messages; a key already written is left as it is (a retried cause, a second sweep).
    Returns how many were new."""
    if not rows:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    at = clock.now()
    full = [
        {"booking_id": None, "loan_id": None, "resident_id": None, "subject": "", "calendar": None,
         "status": MessageStatus.pending, "created_at": at, **row}
        for row in rows
    ]
    inserted = db.session.execute(
        insert(Message).on_conflict_do_nothing(index_elements=["key"]).returning(Message.id, Message.status, Message.not_before),
        full,
    ).all()
    due = [row.id for row in inserted if row.status is MessageStatus.pending and row.not_before <= at]
    if due:
        wake_after_commit(db.session(), due)  # sent at once by the worker, not at the next sweep
    return len(inserted)


def _row(kind, cause, channel, recipient, site_id, text_of, not_before, **ids) -> dict:
    """One message; `text_of(unsubscribe_link)` writes its text (e-mails carry the link to stop reminders)."""
    key = message_key(kind, cause, channel)
    text = text_of(unsubscribe_url(key) if channel is Channel.email else "")
    return dict(key=key, kind=kind, channel=channel, recipient=recipient, site_id=site_id, subject=text.subject,
                body=text.body, calendar=text.calendar, not_before=not_before, **ids)


def booking_link(token: str) -> str:
    """The private link of a booking (built without a request: the sweep and the CLI have none)."""
    path = current_app.url_map.bind("localhost").build("reservations.public_booking", {"token": token})
    return current_app.config["PUBLIC_BASE_URL"] + path


def rebook_link(booking) -> str:
    endpoint = "reservations.public_workshops" if booking.workshop_id else "reservations.public_days"
    path = current_app.url_map.bind("localhost").build(endpoint, {"site_id": booking.site_id})
    return current_app.config["PUBLIC_BASE_URL"] + path


def _booking(booking_id):
    from reservations.models import Booking

    return db.session.get(Booking, booking_id)


def _cancel_pending(*conditions, reason: str) -> None:
    db.session.execute(
        update(Message)
        .where(Message.status.in_((MessageStatus.pending, MessageStatus.held)), *conditions)
        .values(status=MessageStatus.cancelled, last_error=reason)
        .execution_options(synchronize_session=False)
    )


# --- bookings -------------------------------------------------------------------------------------


def reminder_moment(booking, settings: MessageSettings, channel: Channel, at: datetime) -> datetime | None:
    """The day before at the site's reminder time (held to the next allowed moment for an SMS);
    None when that moment is past (the confirmation has just told it) or not before the booking."""
    day_before = booking.starts_at.astimezone(PARIS).date() - timedelta(days=1)
    moment = next_allowed(datetime.combine(day_before, settings.reminder_time, tzinfo=PARIS), channel.value)
    if moment <= at or moment >= booking.starts_at:
        return None
    return moment


def _write_reminder(booking, settings, channel, recipient, link, at, **status) -> None:
    if not settings.reminders or not wants_reminders(recipient, channel):
        return
    moment = reminder_moment(booking, settings, channel, at)
    if moment is None:
        return
    write([_row(MessageKind.booking_reminder, f"booking:{booking.id}", channel, recipient, booking.site_id,
                lambda stop: texts.booking_reminder(booking, channel, link, stop), moment, booking_id=booking.id,
                **status)])


@within(booking_confirmed)
def write_booking_confirmed(booking_id, site_id, token=None, **_facts):
    booking = _booking(booking_id)
    found = contact_of(booking.phone, booking.email)
    if found is None or not token:
        return
    channel, recipient = found
    settings, at, link = site_settings(site_id), clock.now(), booking_link(token)
    if settings.confirmations:
        write([_row(MessageKind.booking_confirmed, f"booking:{booking.id}", channel, recipient, site_id,
                    lambda stop: texts.booking_confirmed(booking, channel, link, stop), next_allowed(at, channel.value),
                    booking_id=booking.id)])
    _write_reminder(booking, settings, channel, recipient, link, at)


@within(waiting_list_joined)
def write_waiting_list_place(booking_id, site_id, token=None, **_facts):
    """Only the hash of the private token is kept, and the messages of a place need the link: they are
    written now, `held`, and released if a place comes (the person's link stays the same)."""
    booking = _booking(booking_id)
    found = contact_of(booking.phone, booking.email)
    if found is None or not token:
        return
    channel, recipient = found
    settings, at, link = site_settings(site_id), clock.now(), booking_link(token)
    write([_row(MessageKind.waiting_list_place, f"booking:{booking.id}", channel, recipient, site_id,
                lambda stop: texts.waiting_list_place(booking, channel, link, stop), at, booking_id=booking.id,
                status=MessageStatus.held)])
    _write_reminder(booking, settings, channel, recipient, link, at, status=MessageStatus.held)


@within(waiting_list_promoted)
def release_waiting_list_place(booking_id, site_id, **_facts):
    """A place is given: the held "place obtained" goes at once (a same-day booking even at night),
    the held reminder at its time if that is still ahead; what the site turned off is cancelled."""
    booking = _booking(booking_id)
    settings, at = site_settings(site_id), clock.now()
    same_day = booking.starts_at.astimezone(PARIS).date() == at.astimezone(PARIS).date()
    held = db.session.scalars(
        select(Message).where(Message.booking_id == booking_id, Message.status == MessageStatus.held)
    ).all()
    for message in held:
        if message.kind is MessageKind.waiting_list_place and settings.waiting_list:
            message.status, message.not_before = MessageStatus.pending, next_allowed(at, message.channel.value, urgent=same_day)
            if message.not_before <= at:
                wake_after_commit(db.session(), [message.id])  # in the same moment as the promotion
        elif (message.kind is MessageKind.booking_reminder and message.not_before > at
              and wants_reminders(message.recipient, message.channel)):
            message.status = MessageStatus.pending
        else:
            message.status, message.last_error = MessageStatus.cancelled, "Plus d'actualité au moment de la place"
    db.session.flush()


@within(booking_cancelled)
def write_booking_cancelled(booking_id, site_id, by="person", **_facts):
    _cancel_pending(Message.booking_id == booking_id, reason="Réservation annulée")
    booking = _booking(booking_id)
    by_centre = by == "closure" or (by == "staff" and booking.workshop is not None and booking.workshop.is_cancelled)
    if not by_centre:
        return
    found = contact_of(booking.phone, booking.email)
    settings = site_settings(site_id)
    if found is None or not settings.cancellations:
        return
    channel, recipient = found
    reason = ""
    if booking.closure_id is not None:
        from reservations.models import Closure

        closure = db.session.get(Closure, booking.closure_id)
        reason = closure.reason if closure is not None else ""
    rebook = rebook_link(booking)
    write([_row(MessageKind.booking_cancelled, f"booking:{booking.id}", channel, recipient, site_id,
                lambda stop: texts.booking_cancelled(booking, channel, reason, rebook, stop),
                next_allowed(clock.now(), channel.value), booking_id=booking.id)])


# --- loans: the reminders of a loan that ends or changes are not sent ----------------------------

LOAN_REMINDERS = (MessageKind.loan_due, MessageKind.loan_overdue)


@within(loan_returned)
@within(loan_declared_lost)
def cancel_loan_reminders(loan_id, **_facts):
    _cancel_pending(Message.loan_id == loan_id, Message.kind.in_(LOAN_REMINDERS), reason="Prêt terminé")


@within(loan_extended)
def cancel_reminders_of_old_due_date(loan_id, **_facts):
    # The keys carry the due date: the sweep writes the reminders of the new one.
    _cancel_pending(Message.loan_id == loan_id, Message.kind.in_(LOAN_REMINDERS), reason="Prêt prolongé")


# --- planners (the periodic sweep) ----------------------------------------------------------------


def _open_loans(*conditions):
    from core.residents import Resident
    from loans.models import Device, Loan

    return db.session.scalars(
        select(Loan)
        .join(Resident, Resident.id == Loan.resident_id)
        .options(joinedload(Loan.resident), selectinload(Loan.device).selectinload(Device.kind), joinedload(Loan.site))
        .where(Loan.is_open, or_(Resident.phone != "", Resident.email != ""), *conditions)
        .order_by(Loan.id)
    ).unique().all()


def _plan_loan_messages(kind: MessageKind, candidates: list, at: datetime, text_of) -> int:
    """candidates: [(loan, settings, cause)]; writes one message each (minus refusals and known keys)."""
    if not candidates:
        return 0
    contacts = {}
    for loan, _settings, _cause in candidates:
        found = contact_of(loan.resident.phone, loan.resident.email)
        if found is not None:
            contacts[loan.id] = found
    refused = {channel: refusing([c for ch, c in contacts.values() if ch is channel], channel) for channel in Channel}
    known = set(db.session.scalars(
        select(Message.key).where(Message.loan_id.in_(list(contacts)), Message.kind == kind)
    )) if contacts else set()
    rows = []
    for loan, settings, cause in candidates:
        if loan.id not in contacts:
            continue
        channel, recipient = contacts[loan.id]
        if recipient in refused[channel] or message_key(kind, cause, channel) in known:
            continue
        moment = datetime.combine(at.astimezone(PARIS).date(), settings.reminder_time, tzinfo=PARIS)
        rows.append(_row(kind, cause, channel, recipient, loan.site_id,
                         lambda stop, loan=loan, channel=channel, cause=cause: text_of(loan, channel, cause, stop),
                         next_allowed(max(moment, at), channel.value), loan_id=loan.id, resident_id=loan.resident_id))
    return write(rows)


def plan_loans_due(at: datetime) -> int:
    """Loans due tomorrow (Paris): one reminder each, at the site's reminder time. Not for a loan
    lent today (the desk has just said the date). Returns how many messages were written."""
    from loans.models import Loan

    today = at.astimezone(PARIS).date()
    loans = _open_loans(Loan.due_on == today + timedelta(days=1), Loan.started_on < today)
    settings = settings_of(loan.site_id for loan in loans)
    candidates = [(loan, settings[loan.site_id], f"loan:{loan.id}:{loan.due_on.isoformat()}")
                  for loan in loans if settings[loan.site_id].loan_reminders]
    return _plan_loan_messages(MessageKind.loan_due, candidates, at,
                               lambda loan, channel, cause, stop: texts.loan_due(loan, loan.site, channel, stop))


OVERDUE_CATCH_UP_DAYS = 2  # a sweep missed for a day or two (worker stopped) still sends the reminder


def plan_overdue(at: datetime) -> int:
    """Open loans whose due date was one of the site's overdue_days ago (default 1 and 7), or up to
    OVERDUE_CATCH_UP_DAYS more when no sweep ran on that day; one message per step, the latest reached."""
    from loans.models import Loan

    today = at.astimezone(PARIS).date()
    every = settings_of(db.session.scalars(select(MessageSettings.site_id)))
    offsets = {day for s in every.values() for day in overdue_offsets(s)} | set(overdue_offsets(default_settings(0)))
    days = {today - timedelta(days=d + extra) for d in offsets for extra in range(OVERDUE_CATCH_UP_DAYS + 1)}
    loans = _open_loans(Loan.due_on.in_(sorted(days)))
    settings = settings_of(loan.site_id for loan in loans)
    candidates = []
    for loan in loans:
        site_settings_ = settings[loan.site_id]
        late = (today - loan.due_on).days
        reached = [d for d in overdue_offsets(site_settings_) if d <= late <= d + OVERDUE_CATCH_UP_DAYS]
        if site_settings_.loan_reminders and reached:
            candidates.append((loan, site_settings_, f"loan:{loan.id}:{loan.due_on.isoformat()}+{max(reached)}"))
    return _plan_loan_messages(MessageKind.loan_overdue, candidates, at,
                               lambda loan, channel, cause, stop: texts.loan_overdue(loan, loan.site, channel, stop))


def plan_staff_digest(at: datetime) -> int:
    """Each site whose settings name addresses: one e-mail a day to each, at 8:00, with the site's
    overdue loans and the messages not delivered in the last day."""
    from core.models import Site
    from core.residents import Resident
    from loans.models import Device, Loan

    today = at.astimezone(PARIS).date()
    if at < datetime.combine(today, DIGEST_TIME, tzinfo=PARIS):
        return 0  # written at 8:00 with the morning's figures, not at midnight
    wanted = db.session.scalars(select(MessageSettings).where(MessageSettings.digest_to != "")).all()
    recipients = {s.site_id: [a.strip().lower() for a in s.digest_to.replace(",", "\n").splitlines() if "@" in a]
                  for s in wanted}
    recipients = {site_id: addresses for site_id, addresses in recipients.items() if addresses}

    def key(site_id, address):
        return f"{MessageKind.staff_digest.value}:site:{site_id}:{today.isoformat()}:{address}"[:200]

    # Already written today (the sweep runs every minute): nothing to load or render again.
    written = set(db.session.scalars(select(Message.key).where(
        Message.kind == MessageKind.staff_digest,
        Message.key.in_([key(site_id, a) for site_id, addresses in recipients.items() for a in addresses]),
    ))) if recipients else set()
    recipients = {site_id: [a for a in addresses if key(site_id, a) not in written] for site_id, addresses in recipients.items()}
    recipients = {site_id: addresses for site_id, addresses in recipients.items() if addresses}
    if not recipients:
        return 0
    sites = {site.id: site for site in db.session.scalars(select(Site).where(Site.id.in_(list(recipients))))}
    overdue = {}
    for loan in db.session.scalars(
        select(Loan).join(Resident, Resident.id == Loan.resident_id)
        .options(joinedload(Loan.resident), selectinload(Loan.device).selectinload(Device.kind))
        .where(Loan.is_open, Loan.due_on < today, Loan.site_id.in_(list(recipients)))
        .order_by(Loan.due_on, Loan.id)
    ).unique():
        overdue.setdefault(loan.site_id, []).append(loan)
    undelivered = {}
    since = at - timedelta(days=1)
    for message in db.session.scalars(
        select(Message).where(Message.status == MessageStatus.undelivered, Message.site_id.in_(list(recipients)),
                              or_(Message.created_at >= since, Message.claimed_at >= since))
        .order_by(Message.created_at)
    ):
        undelivered.setdefault(message.site_id, []).append(message)
    moment = max(at, datetime.combine(today, DIGEST_TIME, tzinfo=PARIS))
    rows = []
    for site_id, addresses in recipients.items():
        text = texts.staff_digest(sites[site_id], today, overdue.get(site_id, []), undelivered.get(site_id, []))
        for address in addresses:
            rows.append(dict(key=key(site_id, address),
                             kind=MessageKind.staff_digest, channel=Channel.email, recipient=address, site_id=site_id,
                             subject=text.subject, body=text.body, not_before=moment))
    return write(rows)


# The sweep runs each of them every minute with the current time.
PLANNERS = [plan_loans_due, plan_overdue, plan_staff_digest]
for _planner in PLANNERS:
    register_planner(_planner)  # the sweep runs them every minute (core/messaging/sending.py)


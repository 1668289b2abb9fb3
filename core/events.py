"""Domain events: what happened, announced only once the database has kept it.

A use case calls `announce(loan_lent, loan_id=…, …)` inside its transaction; the event waits on the
session and is delivered to its receivers (blinker signals) right after the transaction commits.
A rolled-back transaction drops its events, and so does a rolled-back savepoint for the events
announced inside it: nobody hears of a loan that was never kept.

Payloads are plain values (ids, dates, the site id), never ORM objects: after the commit the objects
are expired and a receiver runs outside any transaction. A receiver that needs more loads it in its
own session (or queues a task with the ids). A failing receiver is logged and does not affect the
others or the answer to the request: the change is already kept.

The history rows (DeviceEvent, BookingEvent) stay written in the transaction itself; events are for
what comes after (messages to residents, retention, audit).

Receivers subscribe with `loan_lent.connect(function)`; the function receives
`(sender, **payload)`, where sender is the application (or None outside one).

A few receivers must write rows in the same transaction as the change (the outbox of messages to
residents: a message is kept exactly when its cause is). They register with `@within(signal)` and
run inside `announce()`, in the use case's transaction and savepoint: what they add is committed or
rolled back with the change itself. They must not commit, and a failure in one fails the use case.
"""
import logging

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_signals = Namespace()

# --- the catalogue: every event the application announces, with its payload --------------------

# Loans (loans/lending.py)
loan_lent = _signals.signal("loan_lent")  # loan_id, device_id, resident_id, site_id, due_on
loan_returned = _signals.signal("loan_returned")  # loan_id, device_id, resident_id, site_id (where returned)
loan_extended = _signals.signal("loan_extended")  # loan_id, device_id, resident_id, due_on
loan_declared_lost = _signals.signal("loan_declared_lost")  # loan_id, device_id, resident_id
device_found_again = _signals.signal("device_found_again")  # device_id, site_id

# Reservations (reservations/bookings.py, workshops.py, rooms.py)
booking_confirmed = _signals.signal("booking_confirmed")  # booking_id, site_id, starts_at, by_staff, token (secret: never log)
waiting_list_joined = _signals.signal("waiting_list_joined")  # booking_id, site_id, starts_at, by_staff, token
booking_cancelled = _signals.signal("booking_cancelled")  # booking_id, site_id, starts_at, by ("person", "staff", "closure")
waiting_list_promoted = _signals.signal("waiting_list_promoted")  # booking_id, site_id, starts_at
closure_added = _signals.signal("closure_added")  # closure_id, site_id, room_id, first_day, last_day, cancelled (booking ids)

# People and accounts (core/residents.py, core/admin.py)
resident_created = _signals.signal("resident_created")  # resident_id, site_id
resident_edited = _signals.signal("resident_edited")  # resident_id
resident_erased = _signals.signal("resident_erased")  # resident_id (None: a person who only booked online), cause
site_created = _signals.signal("site_created")  # site_id
staff_account_created = _signals.signal("staff_account_created")  # user_id
staff_account_changed = _signals.signal("staff_account_changed")  # user_id

CATALOGUE = {name: signal for name, signal in _signals.items()}

# Not a domain event (the `events` test fixture does not record it): messages to residents that the
# transaction wrote and that are due at once; the task queue (core/messaging/queue.py) hears it after
# the commit and wakes the worker.
messages_written = Namespace().signal("messages_written")  # message_ids

_PENDING = "pending_events"
_WITHIN: dict[str, list] = {}


def within(signal):
    """Register a receiver that runs in the announcing transaction: `@within(booking_confirmed)`."""
    def register(receiver):
        _WITHIN.setdefault(signal.name, []).append(receiver)
        return receiver
    return register


def announce(signal, /, **payload) -> None:
    """Run the in-transaction receivers, then queue `signal` with its payload on the current
    transaction; the other receivers hear it after the commit."""
    from .extensions import db

    for receiver in _WITHIN.get(signal.name, ()):
        receiver(**payload)
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:  # nothing begun yet: the next transaction carries it
        session.begin()
        transaction = session.get_transaction()
    session.info.setdefault(_PENDING, []).append((transaction, signal, payload))


def _within(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session, previous_transaction):
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending if not _within(item[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _drop_unkept(session, transaction):
    if transaction.parent is None and transaction.nested is False:
        # The outer transaction ended without a commit (closed, or rolled back): nothing happened.
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_commit")
def _deliver(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    sender = current_app._get_current_object() if has_app_context() else None
    for _transaction, signal, payload in pending:
        for receiver in list(signal.receivers_for(sender)):
            try:
                receiver(sender, **payload)
            except Exception:  # the change is kept; one failing receiver must not hide it from the others
                log.exception("Receiver %r of event %s failed", receiver, signal.name)

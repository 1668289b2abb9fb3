"""Sending the outbox: claim a message, hand it to its channel, record what happened.

At most once. A message is sent only by the worker that moved it from `pending` to `sending` with a
conditional UPDATE (`… WHERE id = :id AND status = 'pending'`: one worker gets rowcount 1, any other
0); a batch of the sweep is selected with FOR UPDATE SKIP LOCKED on PostgreSQL (two sweeps take
different rows) and claimed in the same transaction; SQLite serialises writers (BEGIN IMMEDIATE,
core/db.py). The claim is committed before the channel is called, the outcome after.

A claim still `sending` after MESSAGE_LEASE_MINUTES means its worker died between the two commits: the
sweep returns it to `pending`. This is the only window where a message can go twice: the provider
accepted it, then the worker died before committing `sent`. It cannot be closed from our side (the
provider's acceptance and our commit are not one transaction); it is kept to a crash in that second,
and the e-mail keeps the same Message-ID on every attempt so a mail server can tell.

Failures: `TryLater` → back to `pending`, not before a growing delay (1, 5, 15, 60 minutes, then
every 2 hours; an SMS also waits for the day: timing.next_allowed), `undelivered` after
MESSAGE_MAX_ATTEMPTS; `Undeliverable` → `undelivered` at once. Nothing here runs in a web request.
"""
import logging
import os
import socket
import threading
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..clock import now
from ..extensions import db
from .channels import TryLater, Undeliverable, channel_for
from .models import Message, MessageStatus
from .timing import next_allowed

log = logging.getLogger(__name__)

BACKOFF_MINUTES = (1, 5, 15, 60, 120)
_PLANNERS: list = []


def register_planner(fn):
    """`fn(at)` writes the Message rows due at `at` (reminders, loans due and overdue); the sweep runs
    every planner, each in its own transaction, before sending. Usable as a decorator."""
    if fn not in _PLANNERS:
        _PLANNERS.append(fn)
    return fn


def planners() -> list:
    return list(_PLANNERS)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 100000}"


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1])


# --- claiming -----------------------------------------------------------------------------------


def claim(message_id: int, by: str) -> bool:
    """Take one due pending message for this worker; False when someone else has it (or not due)."""
    at = now()
    result = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.pending, Message.not_before <= at)
        .values(status=MessageStatus.sending, claimed_by=by, claimed_at=at, attempts=Message.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def claim_batch(by: str, size: int) -> list[int]:
    """Take up to `size` due pending messages, oldest first; [] when none is left."""
    at = now()
    query = (
        select(Message.id)
        .where(Message.status == MessageStatus.pending, Message.not_before <= at)
        .order_by(Message.not_before, Message.id)
        .limit(size)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = db.session.execute(query).scalars().all()
    if not ids:
        db.session.commit()
        return []
    db.session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status == MessageStatus.pending)
        .values(status=MessageStatus.sending, claimed_by=by, claimed_at=at, attempts=Message.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    # Read back what is ours: on PostgreSQL the rows are locked, so all of them; kept general anyway.
    mine = db.session.execute(
        select(Message.id).where(Message.id.in_(ids), Message.status == MessageStatus.sending, Message.claimed_by == by)
    ).scalars().all()
    db.session.commit()
    return mine


def release_stale(lease: timedelta) -> int:
    """Claims older than the lease (their worker died mid-send) go back to `pending`."""
    result = db.session.execute(
        update(Message)
        .where(Message.status == MessageStatus.sending, Message.claimed_at < now() - lease)
        .values(status=MessageStatus.pending, claimed_by="", claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount:
        log.warning("message claims that outlived their lease, returned to the queue: %d", result.rowcount)
    return result.rowcount


# --- sending one claimed message ----------------------------------------------------------------


def _finish(message_id: int, by: str, **values) -> None:
    result = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.sending, Message.claimed_by == by)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        log.warning("message %s: claim lost before its outcome was recorded", message_id)


def _detached(message_id: int) -> Message:
    """The message and its SMS sender name, read in a short transaction that ends before the channel
    is called: on SQLite a transaction holds the write lock, never across a network call."""
    from .models import MessageSettings

    message = db.session.get(Message, message_id)
    settings = db.session.get(MessageSettings, message.site_id)
    sender_name = settings.sender_name if settings else ""  # read now: after the commit it would reload
    db.session.expunge(message)
    db.session.commit()
    message.sender_name = sender_name
    return message


def send_claimed(message_id: int, by: str) -> MessageStatus:
    """Send a message this worker has claimed and record the outcome; returns the new status."""
    config = current_app.config
    message = _detached(message_id)
    try:
        channel = channel_for(message)
    except Exception:  # a misconfigured provider: keep the message, say why in the log
        log.exception("message %s: channel set-up failed", message_id)
        channel = None
    if channel is None:
        _finish(message_id, by, status=MessageStatus.kept, last_error="")
        return MessageStatus.kept
    attempts = message.attempts
    try:
        ref = channel.send(message)
    except Undeliverable as exc:
        _finish(message_id, by, status=MessageStatus.undelivered, last_error=str(exc)[:500])
        return MessageStatus.undelivered
    except Exception as exc:  # TryLater, or a bug in a channel: never lost, retried then given up
        reason = str(exc) if isinstance(exc, TryLater) else f"Erreur inattendue ({type(exc).__name__})."
        if not isinstance(exc, TryLater):
            log.exception("message %s: channel %s failed", message_id, channel.name)
        if attempts >= int(config.get("MESSAGE_MAX_ATTEMPTS", 6)):
            _finish(message_id, by, status=MessageStatus.undelivered, last_error=reason[:500])
            return MessageStatus.undelivered
        retry_at = next_allowed(now() + backoff(attempts), message.channel.value)  # SMS: not at night
        _finish(message_id, by, status=MessageStatus.pending, not_before=retry_at, claimed_by="",
                claimed_at=None, last_error=reason[:500])
        return MessageStatus.pending
    _finish(message_id, by, status=MessageStatus.sent, sent_at=now(), provider_ref=ref or "", last_error="")
    return MessageStatus.sent


def deliver(message_id: int) -> MessageStatus | None:
    """The task run right after the commit that wrote the message: send it if it is due and free."""
    by = worker_name()
    if not claim(message_id, by):
        return None
    return send_claimed(message_id, by)


# --- the periodic sweep -------------------------------------------------------------------------


def run_planners(at) -> None:
    for planner in planners():
        try:
            planner(at)
            db.session.commit()
        except Exception:  # one planner's bug must not stop the others nor the sending
            db.session.rollback()
            log.exception("message planner %r failed", planner)


def sweep() -> int:
    """Every minute: stale claims back to the queue, the planners, then every due message, oldest
    first, in batches. Returns how many messages this sweep handled."""
    config = current_app.config
    release_stale(timedelta(minutes=float(config.get("MESSAGE_LEASE_MINUTES", 10))))
    run_planners(now())
    by = worker_name()
    size = int(config.get("MESSAGE_BATCH", 20))
    handled = 0
    while ids := claim_batch(by, size):
        for message_id in ids:
            send_claimed(message_id, by)
            handled += 1
    return handled

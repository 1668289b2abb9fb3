"""The task queue (Huey): where it keeps its tasks, and waking it when a message is written.

Storage: QUEUE_URL, else REDIS_URL, else a SQLite file `instance/queue.sqlite3` (one centre needs no
other server). `redis://…` gives RedisHuey (several consumers on several machines); `sqlite:///path`
a SqliteHuey at that path; `memory://` an in-process queue (a test app without QUEUE_URL gets one, so
the test suite never writes into instance/). QUEUE_NAME names the queue (the Redis key prefix).

Each application has its own Huey instance, built on first use (`get_huey(app)`), with the tasks of
tasks.py bound to that application: a task runs inside its app context.

Waking: every Message row inserted through the ORM — whatever use case, receiver or planner wrote it —
is noted on its session with the transaction that inserted it; right after the commit, a `deliver`
task is queued for each one that is already due. Rows of a rolled-back transaction or savepoint are
forgotten. Queueing never fails the request (the change is kept; if the queue cannot be reached, the
sweep sends the message within a minute).
"""
import logging
import os
import threading

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from ..clock import now
from .models import Message, MessageStatus

log = logging.getLogger(__name__)

_BUILD_LOCK = threading.Lock()
_NEW = "new_message_ids"


def make_huey(app):
    from huey import MemoryHuey, RedisHuey, SqliteHuey

    config = app.config
    name = config.get("QUEUE_NAME") or "centres"
    url = config.get("QUEUE_URL") or config.get("REDIS_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False, utc=True)
    if url.startswith("memory://") or (not url and app.testing):
        return MemoryHuey(name, results=False, utc=True)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
    elif url:
        raise RuntimeError(f"QUEUE_URL={url!r}: use sqlite:///<path>, redis://… or memory://")
    else:
        path = os.path.join(app.instance_path, "queue.sqlite3")
    return SqliteHuey(name, filename=path, results=False, utc=True)


def get_huey(app=None):
    """This application's queue, with its tasks (built once)."""
    app = app or current_app._get_current_object()
    huey = app.extensions.get("huey")
    if huey is None:
        with _BUILD_LOCK:
            huey = app.extensions.get("huey")
            if huey is None:
                from . import tasks

                huey = make_huey(app)
                app.extensions["huey_tasks"] = tasks.bind(huey, app)
                app.extensions["huey"] = huey
    return huey


def task(name, app=None):
    """A task of this application: `task("deliver")(message_id)` queues it."""
    app = app or current_app._get_current_object()
    get_huey(app)
    return app.extensions["huey_tasks"][name]


def enqueue_deliveries(ids, app=None) -> None:
    """Queue a `deliver` task per message id; a queue out of reach is logged, never raised."""
    try:
        deliver = task("deliver", app)
        for message_id in ids:
            deliver(message_id)
    except Exception:
        log.exception("could not queue messages (%d); the sweep will send them", len(ids))


# --- after the commit: wake the worker for each message written ------------------------------------


def wake_after_commit(session, message_ids) -> None:
    """Queue these messages' delivery once the current transaction commits (forgotten if it does
    not): for rows written by a bulk INSERT or released by an UPDATE, which no ORM event sees."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_NEW, []).extend((transaction, message_id) for message_id in message_ids)


@event.listens_for(Message, "after_insert")
def _noted(_mapper, _connection, target):
    session = object_session(target)
    if session is None or target.status not in (None, MessageStatus.pending):
        return
    if target.not_before is not None and target.not_before > now():
        return  # not due yet: the sweep sends it when it is
    wake_after_commit(session, [target.id])


def _inside(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    noted = session.info.get(_NEW)
    if noted:
        session.info[_NEW] = [item for item in noted if not _inside(item[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget_unkept(session, transaction):
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_NEW, None)  # the outer transaction ended without a commit


@event.listens_for(Session, "after_commit")
def _wake(session):
    noted = session.info.pop(_NEW, None)
    if noted and has_app_context():
        enqueue_deliveries([message_id for _transaction, message_id in noted])

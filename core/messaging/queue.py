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
from sqlalchemy.orm import object_session

from ..clock import now
from ..events import announce, messages_written
from .models import Message, MessageStatus

log = logging.getLogger(__name__)

_BUILD_LOCK = threading.Lock()


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
    not, core/events.py): for rows written by a bulk INSERT or released by an UPDATE, which no ORM
    event sees. `session` is the one that writes them (the application's)."""
    announce(messages_written, message_ids=list(message_ids))


@event.listens_for(Message, "after_insert")
def _noted(_mapper, _connection, target):
    session = object_session(target)
    if session is None or target.status not in (None, MessageStatus.pending):
        return
    if target.not_before is not None and target.not_before > now():
        return  # not due yet: the sweep sends it when it is
    wake_after_commit(session, [target.id])


@messages_written.connect
def _wake(_sender, message_ids):
    if has_app_context():
        enqueue_deliveries(message_ids)

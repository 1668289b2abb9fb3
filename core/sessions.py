"""Staff sessions kept in the database, so that logging out really ends them.

Flask's session cookie is signed, not stored: without a server-side record, a copy taken before
logging out (a shared desk PC, a browser left open) would keep working, and so would the 14-day
"remember me" cookie. Each login therefore creates a `staff_sessions` row holding the hash of a random
key; the key is what Flask-Login keeps in both cookies (User.get_id). Logging out deletes the row, and
with it every copy of both cookies; "log out everywhere" deletes all of a person's rows.

Per request: one indexed look-up (the row joined to its user and the user's sites, replacing
Flask-Login's user look-up).
The row is written at most once a minute (last_seen_at, for the idle timeout), after the view.
Nothing is kept in memory: several app processes share the database.
"""
import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app, g
from flask_login import login_user, logout_user
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload

from .clock import now
from .extensions import db
from .models import StaffSession, User

log = logging.getLogger("core.security")

# last_seen_at is refreshed at most this often: most requests only read.
SEEN_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def idle_timeout() -> timedelta | None:
    minutes = current_app.config.get("STAFF_IDLE_TIMEOUT_MINUTES") or 0
    return timedelta(minutes=minutes) if minutes > 0 else None


def remember_lifetime() -> timedelta:
    duration = current_app.config["REMEMBER_COOKIE_DURATION"]
    return duration if isinstance(duration, timedelta) else timedelta(seconds=duration)


def _expired(row: StaffSession, at) -> bool:
    if row.remember:
        return at - row.created_at > remember_lifetime()
    limit = idle_timeout()
    return limit is not None and at - row.last_seen_at > limit


def start(user: User, remember: bool = False) -> None:
    """Log `user` in with a new server-side session (and forget the user's expired ones)."""
    at = now()
    _delete_expired(user.id, at)
    key = secrets.token_urlsafe(32)
    db.session.add(StaffSession(key_hash=_hash(key), user_id=user.id, remember=remember, created_at=at, last_seen_at=at))
    db.session.commit()
    user.session_key, user.session_remember = key, remember
    login_user(user, remember=remember)


def _delete_expired(user_id: int, at) -> None:
    conditions = [(StaffSession.remember.is_(True)) & (StaffSession.created_at < at - remember_lifetime())]
    if idle_timeout() is not None:
        conditions.append((StaffSession.remember.is_(False)) & (StaffSession.last_seen_at < at - idle_timeout()))
    db.session.execute(delete(StaffSession).where(StaffSession.user_id == user_id, or_(*conditions)))


def end(user: User | None) -> None:
    """Log out here: the row goes, so any copy of this browser's cookies is refused from now on."""
    key = getattr(user, "session_key", None)
    if key:
        db.session.execute(delete(StaffSession).where(StaffSession.key_hash == _hash(key)))
        db.session.commit()
    logout_user()


def end_everywhere(user: User) -> None:
    """Every session of `user`, in every browser, this one included when it is theirs."""
    user.end_all_sessions()
    log.info("sessions ended user_id=%s", user.id)


# Built once (every request runs it): the row, its user and the user's sites (a row per site; every
# staff page checks them, User.site_ids), in one statement.
_LOAD = (
    select(StaffSession, User).join(User, User.id == StaffSession.user_id)
    .where(StaffSession.key_hash == bindparam("key_hash")).options(joinedload(User.sites))
)


def load(key) -> User | None:
    """Flask-Login's user loader: the user of a live session, or None."""
    if not isinstance(key, str) or not 20 <= len(key) <= 100:
        return None  # e.g. a cookie from before server-side sessions ("id:version")
    found = db.session.execute(_LOAD, {"key_hash": _hash(key)}).unique().first()
    if found is None:
        return None
    row, user = found
    at = now()
    if not user.active:
        return None
    if _expired(row, at):
        g.staff_session_expired = True
        g.staff_session_drop = row.id
        log.info("session idle timeout user_id=%s", user.id)
        return None
    if at - row.last_seen_at >= SEEN_EVERY:
        g.staff_session_seen = (row.id, at)
    user.session_key, user.session_remember = key, row.remember
    return user


def write_after_request(response):
    """The rare writes, after the view: the last-seen refresh, or deleting an expired session."""
    seen, dropped = g.pop("staff_session_seen", None), g.pop("staff_session_drop", None)
    if seen is None and dropped is None or response.status_code >= 500:
        return response
    # Whatever the view left uncommitted would be rolled back at teardown anyway.
    db.session.rollback()
    if seen is not None:
        row_id, at = seen
        db.session.execute(update(StaffSession).where(StaffSession.id == row_id).values(last_seen_at=at))
    if dropped is not None:
        db.session.execute(delete(StaffSession).where(StaffSession.id == dropped))
    db.session.commit()
    return response


def expired_here() -> bool:
    return bool(g.get("staff_session_expired"))

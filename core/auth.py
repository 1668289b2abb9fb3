"""Staff authentication: session loading, login, password changes, deactivation."""
import functools
import hashlib
import logging

from flask import request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .clock import now
from .extensions import db
from .models import User, find_user_by_email, normalise_email

log = logging.getLogger("core.security")

@functools.cache
def _dummy_hash():
    # Compared against when the e-mail is unknown, so a wrong e-mail costs as much time as a wrong password.
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not-a-real-password")


class AuthError(Exception):
    pass


def init_login(login_manager):
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id):
        # "id:version": a session made before a password change or a deactivation is refused.
        try:
            user_id, version = (int(part) for part in session_id.split(":"))
        except (ValueError, AttributeError):
            return None
        user = db.session.get(User, user_id)
        if user is None or not user.active or user.session_version != version:
            return None
        return user


def authenticate(email: str, password: str) -> User:
    from werkzeug.security import check_password_hash

    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        log.warning("login failed reason=credentials")
        raise AuthError(_l("Adresse e-mail ou mot de passe incorrect."))
    if not user.check_password(password) or not user.active:
        log.warning("login failed user_id=%s reason=%s", user.id, "inactive" if user.active is False else "credentials")
        raise AuthError(_l("Adresse e-mail ou mot de passe incorrect."))
    user.last_login_at = now()
    log.info("login ok user_id=%s", user.id)
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise AuthError(_l("Le mot de passe actuel est incorrect."))
    set_password(user, new)


def set_password(user: User, new: str) -> None:
    user.set_password(new)
    user.end_all_sessions()
    log.info("password changed user_id=%s", user.id)


def set_active(user: User, active: bool) -> None:
    user.active = active
    if not active:
        user.end_all_sessions()
    log.info("account %s user_id=%s", "reactivated" if active else "deactivated", user.id)


def login_account_key() -> str:
    """Rate-limit key for one account; a hash, so no e-mail reaches the limiter's storage."""
    email = normalise_email(request.form.get("email", ""))
    return "login-account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def email_taken(email: str, except_id: int | None = None) -> bool:
    query = select(User.id).where(db.func.lower(User.email) == normalise_email(email))
    if except_id is not None:
        query = query.where(User.id != except_id)
    return db.session.scalar(query) is not None

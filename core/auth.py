"""Staff authentication: session loading, login, passwords (accounts themselves: core/admin.py)."""
import functools
import hashlib
import logging

from flask import request
from flask_babel import lazy_gettext as _l

from .clock import now
from .errors import DomainError
from .models import User, find_user_by_email, normalise_email

log = logging.getLogger("core.security")


def _dummy_hash():
    # Compared against when the e-mail is unknown, so a wrong e-mail costs as much time as a wrong password:
    # hashed with the method real passwords use (User.set_password).
    from flask import current_app

    return _dummy_hash_for(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


@functools.cache
def _dummy_hash_for(method):
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not-a-real-password", method=method)


class AuthError(DomainError):
    status = 400  # a wrong e-mail or password is a wrong value, even when no field is named


def init_login(login_manager):
    from . import sessions

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    # The session's key, looked up in staff_sessions: a logged-out, idle or ended session is refused.
    login_manager.user_loader(sessions.load)
    login_manager.unauthorized_handler(_unauthorized)


def _unauthorized():
    from flask import flash, redirect, render_template
    from flask_login import login_url

    from . import sessions
    from .security import kept_fields

    if not sessions.expired_here():
        flash(str(_l("Connectez-vous pour accéder à cette page.")), "info")
        return redirect(login_url("auth.login", next_url=request.url))
    minutes = int(sessions.idle_timeout().total_seconds() // 60) if sessions.idle_timeout() else 0
    if request.method == "POST":
        # As for an expired form (core/security.py): what was typed is kept, to send again after logging in.
        from .forms import LoginForm

        kept, retype = kept_fields()
        return render_template(
            "auth/session_expired.html", form=LoginForm(formdata=None), kept=kept, retype=retype, minutes=minutes,
            action=login_url("auth.login", next_url=request.full_path.rstrip("?")),
        ), 401
    flash(str(_l("Votre session est fermée après %(n)s minutes sans activité. Reconnectez-vous.", n=minutes)), "info")
    return redirect(login_url("auth.login", next_url=request.url))


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
    from .privacy.models import AccessAction
    from .privacy.trail import record_access

    record_access(user, AccessAction.login)  # the access trail (admins: "Accès aux fiches")
    log.info("login ok user_id=%s", user.id)
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise AuthError(_l("Le mot de passe actuel est incorrect."), "current_password")
    set_password(user, new)


def set_password(user: User, new: str, temporary: bool = False) -> None:
    """`temporary`: chosen by an admin, to be changed at the next login (core.authz.staff_required)."""
    user.set_password(new)
    user.must_change_password = temporary
    user.end_all_sessions()
    log.info("password changed user_id=%s", user.id)


def login_account_key() -> str:
    """Rate-limit key for one account; a hash, so no e-mail reaches the limiter's storage."""
    email = normalise_email(request.form.get("email", ""))
    return "login-account:" + hashlib.sha256(email.encode()).hexdigest()[:32]

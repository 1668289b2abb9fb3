"""HTTP security baseline: headers, error pages, the CSRF-expired page."""
import logging

from flask import render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger("core.security")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

ERROR_TITLES = {
    400: "La demande n'a pas pu être traitée",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Action non permise",
    413: "Fichier trop volumineux",
    429: "Trop de tentatives",
    500: "Erreur du service",
}

# Never echoed back on the CSRF-expired page.
SECRET_FIELDS = ("csrf_token", "password", "current_password", "new_password", "confirm")


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        # Pages may carry personal data (staff pages, residents' bookings): never cache them.
        headers["Cache-Control"] = "no-store"
    return response


def error_page(error):
    code = error.code if isinstance(error, HTTPException) else 500
    if code >= 500:
        log.exception("server error endpoint=%s", request.endpoint)
    title = _(ERROR_TITLES.get(code, ERROR_TITLES[400]))
    plain = title, code, {"Content-Type": "text/plain; charset=utf-8"}
    if request_ctx.url_adapter is None:
        # The request was refused before routing (e.g. an untrusted Host header): no links to build.
        return plain
    # After a failed write the session's transaction is dead (PostgreSQL refuses every further
    # statement): roll back before the page's menu reads the current user from the database.
    try:
        db.session.rollback()
    except Exception:  # the connection itself is gone: the page must still answer
        log.exception("rollback failed before an error page")
    try:
        return render_template("errors/error.html", code=code, title=title), code
    except Exception:
        log.exception("error page failed code=%s", code)
        return plain


def csrf_expired(error: CSRFError):
    log.warning("csrf refused user_id=%s endpoint=%s", getattr(current_user, "id", None), request.endpoint)
    kept, retype = kept_fields()
    return (
        render_template(
            "errors/csrf.html", kept=kept, retype=retype, action=request.full_path.rstrip("?"), token=generate_csrf()
        ),
        400,
    )


def kept_fields(prefix: str = "") -> tuple[list[tuple[str, str]], bool]:
    """The posted fields to send again (never the token nor a password), and whether a password was dropped.
    With a prefix, only the fields named with it, without it."""
    fields = [(key[len(prefix):], value) for key, value in request.form.items(multi=True) if key.startswith(prefix)]
    kept = [(key, value) for key, value in fields if not _is_secret(key)]
    retype = any(_is_secret(key) and key != "csrf_token" for key, _value in fields)
    return kept, retype


# A form kept through a new login travels in the login form under this prefix (auth/session_expired.html).
KEPT_PREFIX = "garde:"


def _is_secret(key):
    return any(secret in key for secret in SECRET_FIELDS)


def register(app):
    app.after_request(set_security_headers)
    app.register_error_handler(CSRFError, csrf_expired)
    for code in ERROR_TITLES:
        app.register_error_handler(code, error_page)

"""Access control: one mechanism for every route.

Every view declares who may call it, with @public or @staff_required(...). create_app()
refuses to start when a route declares nothing, so a new route cannot forget the check.
Objects that belong to a site are loaded through get_site_or_404 / get_in_site_or_404,
which refuse (403) staff who do not belong to that site; admins see everything.
"""
import logging
from functools import wraps

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .extensions import db, login_manager
from .models import Role, Site

log = logging.getLogger("core.security")

ACCESS_ATTR = "access_policy"

# What a person with a temporary password may still do.
PASSWORD_CHANGE_ALLOWS = {"auth.change_password", "auth.logout", "auth.logout_everywhere"}


def public(view):
    """Anyone, logged in or not."""
    setattr(view, ACCESS_ATTR, ("public",))
    return view


def staff_required(*roles: Role):
    """A logged-in, active staff member, optionally with one of the given roles (admins always pass)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ALLOWS:
                # A temporary password chosen by an admin: nothing else until the person chose their own.
                flash(_("Choisissez votre propre mot de passe pour continuer : le mot de passe provisoire ne sert qu'une fois."), "info")
                return redirect(url_for("auth.change_password"))
            if roles and not current_user.is_admin and current_user.role not in roles:
                refuse("role")
            return view(*args, **kwargs)

        setattr(wrapped, ACCESS_ATTR, ("staff", tuple(roles)))
        return wrapped

    return decorator


def admin_required(view):
    return staff_required(Role.admin)(view)


def refuse(reason: str):
    log.warning(
        "access refused user_id=%s endpoint=%s reason=%s",
        getattr(current_user, "id", None),
        request.endpoint,
        reason,
    )
    abort(403)


def check_site(site_id: int) -> None:
    if not current_user.is_authenticated or not current_user.can_access_site(site_id):
        refuse("site")


def get_site_or_404(site_id: int) -> Site:
    site = db.session.get(Site, site_id) or abort(404)
    check_site(site.id)
    return site


def get_in_site_or_404(model, object_id, site_attr: str = "site_id"):
    """Load an object that belongs to a site, refusing staff of other sites."""
    obj = db.session.get(model, object_id) or abort(404)
    check_site(getattr(obj, site_attr))
    return obj


def check_access_policies(app) -> None:
    """Refuse to start when a route forgot to say who may call it."""
    missing = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, ACCESS_ATTR)
    )
    if missing:
        raise RuntimeError(f"routes without an access policy (@public or @staff_required): {missing}")

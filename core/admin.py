"""Administration of the network: its sites and the staff accounts, with their rules.

One function per thing the coordination does. Each takes plain values and the acting person, checks
`can_administer`, flushes (the view's core.answers.attempt commits), raises AdminError — next to the
form field concerned when there is one — and announces what happened (core/events.py):

    create_site, edit_site            a site's details and its desk hours      site_created (creation)
    create_staff_account              name, e-mail, role, sites, a temporary password  staff_account_created
    edit_staff_account                name, e-mail, role, sites                 staff_account_changed
    set_staff_active                  deactivate (never oneself) or reactivate  staff_account_changed
    reset_password                    a new temporary password, returned to be shown once  staff_account_changed
    end_staff_sessions                "log out everywhere" for one account

Logging in and changing one's own password are in core/auth.py.
"""
import logging
import secrets
from dataclasses import dataclass, field
from datetime import time

from flask_babel import gettext as _
from sqlalchemy import func, select

from . import auth, sessions
from .errors import DomainError
from .events import announce, site_created, staff_account_changed, staff_account_created
from .extensions import db
from .models import DeskHours, Role, Site, User, normalise_email

log = logging.getLogger("core.security")


class AdminError(DomainError):
    pass


def can_administer(actor) -> bool:
    """Sites and staff accounts are the coordination's (admins') business only."""
    return bool(getattr(actor, "is_admin", False) and getattr(actor, "active", False))


def _require_admin(actor) -> None:
    if not can_administer(actor):
        raise AdminError(_("Seule la coordination administre les structures et les comptes."), status=403)


# --- sites ---------------------------------------------------------------------------------------


@dataclass
class SiteDetails:
    """What the site form says: text fields, and the desk hours as (weekday, starts, ends)."""

    name: str
    address: str = ""
    postcode: str = ""
    town: str = ""
    phone: str = ""
    email: str = ""
    opening_hours: str = ""
    desk_hours: list[tuple[int, time, time]] = field(default_factory=list)

    TEXT_FIELDS = ("name", "address", "postcode", "town", "phone", "email", "opening_hours")


def create_site(actor, details: SiteDetails) -> Site:
    _require_admin(actor)
    site = Site()
    _fill_site(site, details)
    db.session.add(site)
    db.session.flush()
    announce(site_created, site_id=site.id)
    return site


def edit_site(actor, site_id: int, details: SiteDetails) -> Site:
    _require_admin(actor)
    site = db.session.get(Site, site_id)
    if site is None:
        raise AdminError(_("Structure inconnue."), status=404)
    _fill_site(site, details)
    db.session.flush()
    return site


def _fill_site(site: Site, details: SiteDetails) -> None:
    name = (details.name or "").strip()
    taken = select(Site.id).where(Site.name == name)
    if site.id is not None:
        taken = taken.where(Site.id != site.id)
    if db.session.scalar(taken) is not None:
        raise AdminError(_("Une structure porte déjà ce nom."), "name")
    for name_of_field in SiteDetails.TEXT_FIELDS:
        setattr(site, name_of_field, (getattr(details, name_of_field) or "").strip())
    site.desk_hours = [DeskHours(weekday=weekday, starts=starts, ends=ends) for weekday, starts, ends in details.desk_hours]


# --- staff accounts ------------------------------------------------------------------------------


def create_staff_account(actor, *, name: str, email: str, role, site_ids, password: str) -> User:
    """A new account with a temporary password the person changes at their first login."""
    _require_admin(actor)
    user = User(session_version=1, active=True)
    _fill_account(user, name=name, email=email, role=Role(role), site_ids=site_ids)
    auth.set_password(user, password, temporary=True)
    db.session.add(user)
    db.session.flush()
    announce(staff_account_created, user_id=user.id)
    return user


def edit_staff_account(actor, user_id: int, *, name: str, email: str, role, site_ids) -> User:
    _require_admin(actor)
    user = _account(user_id)
    role = Role(role)
    if user.id == actor.id and role is not Role.admin:
        raise AdminError(_("Vous ne pouvez pas retirer votre propre rôle d'administrateur."), "role")
    _fill_account(user, name=name, email=email, role=role, site_ids=site_ids)
    db.session.flush()
    announce(staff_account_changed, user_id=user.id)
    return user


def _fill_account(user: User, *, name, email, role: Role, site_ids) -> None:
    if email_taken(email, except_id=user.id):
        raise AdminError(_("Un compte existe déjà avec cette adresse."), "email")
    chosen = set(site_ids or ())
    if role is not Role.admin and not chosen:  # an admin sees the whole network; the others work somewhere
        raise AdminError(_("Choisissez au moins une structure."), "sites")
    user.name = (name or "").strip()
    user.email = normalise_email(email)
    user.role = role
    user.sites = list(db.session.scalars(select(Site).where(Site.id.in_(chosen)).order_by(Site.name))) if chosen else []


def email_taken(email: str, except_id: int | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == normalise_email(email))
    if except_id is not None:
        query = query.where(User.id != except_id)
    return db.session.scalar(query) is not None


def set_staff_active(actor, user_id: int, active: bool) -> User:
    """Deactivating ends every session of the account; nobody deactivates their own account."""
    _require_admin(actor)
    user = _account(user_id)
    if user.id == actor.id:
        raise AdminError(_("Vous ne pouvez pas désactiver votre propre compte."))
    user.active = active
    if not active:
        user.end_all_sessions()
    log.info("account %s user_id=%s", "reactivated" if active else "deactivated", user.id)
    db.session.flush()
    announce(staff_account_changed, user_id=user.id)
    return user


def reset_password(actor, user_id: int) -> str:
    """A new temporary password (its sessions end); returned to be shown once, never stored in clear."""
    _require_admin(actor)
    user = _account(user_id)
    temporary = "-".join(secrets.token_urlsafe(4) for _part in range(3))
    auth.set_password(user, temporary, temporary=True)
    db.session.flush()
    announce(staff_account_changed, user_id=user.id)
    return temporary


def end_staff_sessions(actor, user_id: int) -> User:
    """Every session of the account, in every browser (the actor's own included when it is theirs)."""
    _require_admin(actor)
    user = _account(user_id)
    sessions.end_everywhere(user)
    db.session.flush()
    return user


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise AdminError(_("Compte inconnu."), status=404)
    return user

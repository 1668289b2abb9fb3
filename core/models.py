"""Accounts and sites: what both domains share."""
from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Column, Enum, ForeignKey, Integer, String, Table, Text, Time, delete, false, func, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .clock import now
from .db import UTCDateTime
from .enums import LabelledEnum
from .extensions import db


class Role(LabelledEnum):
    admin = "admin", _l("Coordination (administrateur)")
    manager = "manager", _l("Responsable de site")
    reception = "reception", _l("Agent d'accueil")


user_sites = Table(
    "user_sites",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Site(db.Model):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    town: Mapped[str] = mapped_column(String(80), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    # Free text kept for display ("fermé le jeudi après-midi"); the rules read desk_hours.
    opening_hours: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    staff: Mapped[list["User"]] = relationship(secondary=user_sites, back_populates="sites")
    desk_hours: Mapped[list["DeskHours"]] = relationship(
        cascade="all, delete-orphan", order_by="(DeskHours.weekday, DeskHours.starts)"
    )

    def __repr__(self):
        return f"<Site {self.id} {self.name!r}>"


class WeeklyHours:
    """One range of hours on one weekday, in local wall-clock time (Europe/Paris): a site's desk hours,
    a room's open-access hours (reservations.models.OpeningHours)."""

    @declared_attr.directive
    def __table_args__(cls):
        return (
            CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
            CheckConstraint("ends > starts", name="ends_after_starts"),
        )

    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class DeskHours(WeeklyHours, db.Model):
    """One range of the reception desk's hours on one weekday.

    A site without any row has not said when its desk opens: every day counts as open (see core/hours.py).
    """

    __tablename__ = "site_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)


class User(UserMixin, db.Model):
    """A staff account. Residents have no account."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("session_version >= 1", name="session_version_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, name="role", native_enum=False, length=20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped each time every session of the account is ended (password change, deactivation, "log out
    # everywhere"); the sessions themselves are rows of staff_sessions, deleted at the same time.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # A password an admin chose (new account, reset) is temporary: every staff page asks to change it.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sites: Mapped[list[Site]] = relationship(secondary=user_sites, back_populates="staff", order_by=Site.name)

    # Flask-Login keeps get_id() in the session cookie and the remember cookie: the random key of this
    # login's row in staff_sessions (core/sessions.py), never the bare user id, so that logging out
    # (deleting the row) kills every copy of both cookies.
    session_key = None
    session_remember = False

    def get_id(self):
        return self.session_key

    @property
    def is_active(self):
        return self.active

    @property
    def is_admin(self):
        return self.role is Role.admin

    @property
    def is_manager(self):
        return self.role in (Role.admin, Role.manager)

    def set_password(self, password):
        from flask import current_app

        # Tests configure a cheap method; production keeps Werkzeug's default (scrypt).
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def end_all_sessions(self):
        self.session_version = (self.session_version or 1) + 1
        if self.id is not None:
            db.session.execute(delete(StaffSession).where(StaffSession.user_id == self.id))

    @property
    def site_ids(self) -> set[int]:
        return {s.id for s in self.sites}

    def can_access_site(self, site_id) -> bool:
        return self.is_admin or site_id in self.site_ids

    def visible_sites(self) -> list[Site]:
        """The sites this person sees, in name order: their own (loaded with the session, core/sessions.py),
        every site for an admin (one statement)."""
        if self.is_admin:
            return list(db.session.scalars(self.visible_sites_query()))
        return list(self.sites)

    def visible_sites_query(self):
        query = select(Site).order_by(Site.name)
        if not self.is_admin:
            query = query.join(user_sites).where(user_sites.c.user_id == self.id)
        return query

    def __repr__(self):
        return f"<User {self.id} {self.role.value}>"


class StaffSession(db.Model):
    """One login of a staff member in one browser. Logging out deletes the row: a copy of the session or
    remember cookie taken before is worth nothing after. Only a hash of the cookie's key is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "Remember me": the session outlives the browser (REMEMBER_COOKIE_DURATION) and has no idle timeout.
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Refreshed at most once a minute (core/sessions.py), for the idle timeout.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email):
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))

"""What the service keeps about its own handling of personal data: settings, erasures, access, runs."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now
from core.db import UTCDateTime
from core.enums import LabelledEnum
from core.extensions import db
from core.models import User


def _enum(cls, length=20):
    return Enum(cls, name=cls.__name__.lower(), native_enum=False, length=length)


class PrivacySettings(db.Model):
    """One row (id 1): how long personal data is kept. Defaults follow the CNIL's référentiel for
    social and médico-social support (délibération 2023-095): the active base is kept 2 years from the
    last contact with the person; access logs 6 months to 1 year."""

    __tablename__ = "privacy_settings"
    __table_args__ = (
        CheckConstraint("resident_months BETWEEN 1 AND 120", name="resident_months_range"),
        CheckConstraint("booking_contact_months BETWEEN 1 AND 120", name="booking_contact_months_range"),
        CheckConstraint("message_body_months BETWEEN 1 AND 120", name="message_body_months_range"),
        CheckConstraint("log_months BETWEEN 1 AND 24", name="log_months_range"),
        CheckConstraint("warning_days BETWEEN 0 AND 180", name="warning_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A resident's record is anonymised this long after the last contact (loan, booking, visit).
    resident_months: Mapped[int] = mapped_column(Integer, default=24)
    # The contact details of bookings made without a resident record: removed this long after the
    # person's last slot (all of that person's bookings at once, so that no report counts them twice).
    booking_contact_months: Mapped[int] = mapped_column(Integer, default=12)
    # Message bodies and recipients (the outbox): emptied this long after the message was written.
    message_body_months: Mapped[int] = mapped_column(Integer, default=6)
    # Staff logins and the access trail of residents' records.
    log_months: Mapped[int] = mapped_column(Integer, default=12)
    # Sites that warn people before anonymising their record warn them this many days before.
    warning_days: Mapped[int] = mapped_column(Integer, default=30)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ErasureCause(LabelledEnum):
    request = "request", _l("Demande de la personne")
    retention = "retention", _l("Durée de conservation dépassée")


class ErasureRecord(db.Model):
    """One erasure, by pseudonymous keys only: the resident's id (a number that says nothing once the
    record is anonymised) or a keyed hash (HMAC) of the contact of someone who only booked online.
    A database restored from a backup taken before the erasure is erased again from these rows."""

    __tablename__ = "erasure_records"
    __table_args__ = (Index("ix_erasure_records_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    cause: Mapped[ErasureCause] = mapped_column(_enum(ErasureCause))
    resident_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no foreign key: kept if the row goes
    contact_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Staff who erased on request (empty: the person through their booking link, or the nightly job).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The reason staff gave, without names (a category and a short free text checked for length only).
    reason: Mapped[str] = mapped_column(String(200), default="")

    actor: Mapped[User | None] = relationship()


class AccessAction(LabelledEnum):
    login = "login", _l("Connexion")
    resident_page = "resident_page", _l("Fiche consultée")
    resident_export = "resident_export", _l("Données exportées")
    resident_erased = "resident_erased", _l("Données effacées")


class AccessRecord(db.Model):
    """The access trail: who opened which resident's record or export, and staff logins. Kept for the
    log retention period (PrivacySettings.log_months), then deleted by the nightly run."""

    __tablename__ = "access_records"
    __table_args__ = (
        Index("ix_access_records_at", "at"),
        Index("ix_access_records_resident_at", "resident_id", "at"),
        Index("ix_access_records_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[AccessAction] = mapped_column(_enum(AccessAction, length=30))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))

    user: Mapped[User | None] = relationship()
    resident: Mapped["Resident | None"] = relationship()  # noqa: F821  (core.residents; the trail page shows the current name)


class RetentionRun(db.Model):
    """One run of the retention job: when, and how many rows of each kind it changed (counts only)."""

    __tablename__ = "retention_runs"
    __table_args__ = (Index("ix_retention_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"residents": 3, "booking_contacts": 12, "message_bodies": 40, "access_records": 100, …}
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # Run by hand from the admin page or the command line rather than by the nightly schedule.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)

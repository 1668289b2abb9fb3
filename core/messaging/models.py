"""The outbox of messages, the consent of each contact, and each site's message settings."""
from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, Time, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..db import UTCDateTime
from ..enums import LabelledEnum
from ..extensions import db
from ..models import Site


class MessageKind(LabelledEnum):
    booking_confirmed = "booking_confirmed", _l("Réservation confirmée")
    booking_reminder = "booking_reminder", _l("Rappel la veille")
    waiting_list_place = "waiting_list_place", _l("Place obtenue sur la liste d'attente")
    booking_cancelled = "booking_cancelled", _l("Réservation annulée par le centre")
    loan_due = "loan_due", _l("Prêt à rendre demain")
    loan_overdue = "loan_overdue", _l("Prêt en retard")
    staff_digest = "staff_digest", _l("Résumé du jour pour l'équipe")
    retention_warning = "retention_warning", _l("Fiche bientôt effacée (durée de conservation)")


class Channel(LabelledEnum):
    sms = "sms", _l("SMS")
    email = "email", _l("E-mail")


class MessageStatus(LabelledEnum):
    held = "held", _l("Prêt, envoyé si une place se libère")  # written at the waiting-list sign-up
    pending = "pending", _l("À envoyer")
    sending = "sending", _l("En cours d'envoi")
    sent = "sent", _l("Envoyé")
    kept = "kept", _l("Conservé (aucun envoi configuré)")
    undelivered = "undelivered", _l("Non distribué")
    cancelled = "cancelled", _l("Annulé")


def _enum(kind):
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class Message(db.Model):
    """One message to one recipient. Written in the same transaction as its cause; `key` (kind, cause,
    recipient) is unique, so a retried cause or a second sweep never writes it twice; a worker claims
    it (pending → sending) with a conditional UPDATE before sending, so it is sent at most once."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_due", "status", "not_before"),  # the sweep: pending and due, oldest first
        Index("ix_messages_site_created", "site_id", "created_at"),  # the admin page and the digest
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus), default=MessageStatus.pending)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))  # +33612345678 (E.164) or an e-mail address
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    calendar: Mapped[str | None] = mapped_column(Text)  # the .ics attached to an e-mail
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=now)  # quiet hours, reminders, retries
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    provider_ref: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    site: Mapped[Site] = relationship()


class ConsentEvent(db.Model):
    """When and how a contact agreed to, or refused, service messages (reminders). Append-only: the
    latest row of a contact and channel is its current choice; no row means the default (yes)."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_contact", "contact", "channel", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact: Mapped[str] = mapped_column(String(254))  # E.164 phone or lower-case e-mail
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    wanted: Mapped[bool] = mapped_column(Boolean)
    how: Mapped[str] = mapped_column(String(40))  # "booking form", "desk", "SMS STOP", "e-mail link", "staff"
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MessageSettings(db.Model):
    """A site's choices: when reminders go, the overdue schedule, the SMS sender name, which messages
    are on, and who gets the daily digest. No row: the defaults below."""

    __tablename__ = "message_settings"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    reminder_time: Mapped[time] = mapped_column(Time, default=time(17, 0))  # the day before
    overdue_days: Mapped[str] = mapped_column(String(40), default="1,7")  # days after the due date
    sender_name: Mapped[str] = mapped_column(String(11), default="")  # SMS sender (11 letters at most)
    confirmations: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    waiting_list: Mapped[bool] = mapped_column(Boolean, default=True)
    cancellations: Mapped[bool] = mapped_column(Boolean, default=True)
    loan_reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    digest_to: Mapped[str] = mapped_column(Text, default="")  # e-mail addresses, one a line
    # Warn a resident (SMS or e-mail, PrivacySettings.warning_days before) that their record will be
    # anonymised after the retention period, unless they come back. Off unless the site turns it on.
    retention_warning: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

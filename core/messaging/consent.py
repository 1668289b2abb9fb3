"""Consent: who said yes or no to reminders, by which channel, when and how.

What consent covers (the box "Recevoir un rappel par SMS / par e-mail"): the reminders — the day
before a booking, a loan due tomorrow, a loan overdue. The other messages answer what the person
just did or must know not to come to a locked door — booking confirmed, place obtained from the
waiting list, booking cancelled by the centre — and go whatever the choice (service messages,
always sent to the contact the person gave for this booking).

ConsentEvent is append-only: the latest row of a contact and channel is its choice; no row means
yes (the box is ticked by default). A row is written when the choice is given the first time or
changed (booking form, desk, SMS "STOP", the e-mail's link); a "no" also cancels the reminders
still waiting for that contact, in the same transaction.
"""
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update

from .. import clock
from ..contacts import normalise_email, sms_number
from ..extensions import db
from .models import Channel, ConsentEvent, Message, MessageKind, MessageStatus

REMINDER_KINDS = (MessageKind.booking_reminder, MessageKind.loan_due, MessageKind.loan_overdue)


def contact_of(phone: str = "", email: str = "") -> tuple[Channel, str] | None:
    """The channel and recipient for a person's contact: a readable phone → SMS, else an e-mail."""
    number = sms_number(phone)
    if number:
        return Channel.sms, number
    if email and "@" in email:
        return Channel.email, normalise_email(email)
    return None


def _latest(contacts: list[str], channel: Channel) -> dict[str, bool]:
    """{contact: wanted} of the latest choice of each contact that has one (one statement)."""
    if not contacts:
        return {}
    latest = (
        select(ConsentEvent.contact, func.max(ConsentEvent.id).label("id"))
        .where(ConsentEvent.channel == channel, ConsentEvent.contact.in_(set(contacts)))
        .group_by(ConsentEvent.contact)
        .subquery()
    )
    rows = db.session.execute(
        select(ConsentEvent.contact, ConsentEvent.wanted).join(latest, ConsentEvent.id == latest.c.id)
    )
    return dict(rows.all())


def wants_reminders(contact: str, channel: Channel) -> bool:
    return _latest([contact], channel).get(contact, True)


def refusing(contacts: list[str], channel: Channel) -> set[str]:
    """The contacts among these whose latest choice is no."""
    return {contact for contact, wanted in _latest(contacts, channel).items() if not wanted}


def record_choice(contact: str, channel: Channel, wanted: bool, how: str, site_id: int | None = None) -> ConsentEvent | None:
    """Write the choice when it is the first one of this contact or a change; a no cancels the
    reminders still waiting for it. Returns the new row, or None when nothing changed."""
    previous = _latest([contact], channel).get(contact)
    if previous is not None and previous == wanted:
        return None
    event = ConsentEvent(contact=contact, channel=channel, wanted=wanted, how=how, site_id=site_id, at=clock.now())
    db.session.add(event)
    if not wanted:
        db.session.execute(
            update(Message)
            .where(Message.recipient == contact, Message.channel == channel, Message.status == MessageStatus.pending,
                   Message.kind.in_(REMINDER_KINDS))
            .values(status=MessageStatus.cancelled, last_error="Rappels refusés")
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return event


@dataclass(frozen=True)
class FormContact:
    """A phone and an e-mail as a form gives them (the lending form, a resident's record)."""

    phone: str = ""
    email: str = ""


def _contacts(phone: str, email: str) -> list[tuple[Channel, str]]:
    found = []
    if number := sms_number(phone):
        found.append((Channel.sms, number))
    if email and "@" in email:
        found.append((Channel.email, normalise_email(email)))
    return found


def record_from_form(phone: str, email: str, wanted: bool, how: str, site_id: int | None) -> None:
    """The box of a booking, desk or lending form, for each contact the person gave."""
    for channel, contact in _contacts(phone or "", email or ""):
        record_choice(contact, channel, wanted, how, site_id)


def wants_reminders_of(phone: str, email: str) -> bool:
    """What the box shows for a person's record: ticked unless one of their contacts said no."""
    return all(wants_reminders(contact, channel) for channel, contact in _contacts(phone or "", email or ""))


def choosing(use_case, contact, wanted, how: str, site_id: int | None):
    """The use case, preceded by recording the box's choice for `contact` (anything with .phone and
    .email: reservations.identity.Contact, FormContact) in the same transaction — the reminder the
    use case writes then follows the choice, and a refused use case records nothing:
    `attempt(consent.choosing(bookings.book_seat, contact, form.reminders.data, "booking form", site_id), …)`."""
    def run(*args, **kwargs):
        record_from_form(contact.phone, contact.email, bool(wanted), how, site_id)
        return use_case(*args, **kwargs)

    return run


# --- the e-mail's unsubscribe link ---------------------------------------------------------------
# The link carries the signed key of the message it came in (never the address): the key leads to
# the message's recipient. The signature (SECRET_KEY) stops anyone from forging one for another key.


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="messages-unsubscribe")


def unsubscribe_token(message_key: str) -> str:
    return _serializer().dumps(message_key)


def unsubscribe_url(message_key: str) -> str:
    path = current_app.url_map.bind("localhost").build("resident_messages.unsubscribe", {"stop_token": unsubscribe_token(message_key)})
    return current_app.config["PUBLIC_BASE_URL"] + path


def message_of_token(token: str) -> Message | None:
    """The e-mail message an unsubscribe token was made for; None for a forged or unknown token."""
    if not token or len(token) > 400:
        return None
    try:
        key = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(key, str):
        return None
    message = db.session.scalar(select(Message).where(Message.key == key))
    if message is None or message.channel is not Channel.email:
        return None
    return message

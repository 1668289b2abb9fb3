"""Demo messages: the demo's bookings and loans have their messages — sent, kept, waiting for their
time, and one that could not be delivered — so a newcomer sees the "Messages" page, and the messages
on a booking, a loan and a resident, at once.

Runs after the loans and reservations demos (the messages blueprint is registered after theirs).
Rows are written directly (no worker runs in the demo). Idempotent: a site that already has demo
messages (keys "demo:…") is left as it is.

The texts: `demo_text` below writes plausible FALC French. HOOK for the merge: point `demo_text` at the
texts module (core.messaging.texts) so the demo shows exactly what would be sent.
"""
from datetime import datetime, time, timedelta

import phonenumbers
from sqlalchemy import select

from .. import clock
from ..clock import PARIS
from ..extensions import db
from .models import Channel, Message, MessageKind, MessageStatus

PER_SITE_BOOKINGS = 8
PER_SITE_LOANS = 5
UNDELIVERED_ERROR = "Numéro injoignable : le téléphone est éteint ou hors réseau depuis 48 heures (réponse de l'opérateur)."


def e164(phone: str) -> str:
    """+33612345678; the demo's made-up numbers (07 00 …, not allotted) are written the same way."""
    try:
        number = phonenumbers.parse(phone or "", "FR")
    except phonenumbers.NumberParseException:
        return ""
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ""


def _day(at: datetime) -> str:
    from ..templating import french_date

    return french_date(at.astimezone(PARIS), "EEEE d MMMM")


def _hour(at: datetime) -> str:
    local = at.astimezone(PARIS)
    return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"


def demo_text(kind: MessageKind, site, *, booking=None, loan=None) -> tuple[str, str]:
    """(subject, body) of a demo message. HOOK: the lead points this at the texts module at merge."""
    phone = site.phone
    if booking is not None:
        what = booking.workshop.title if booking.workshop_id and booking.workshop is not None else "une place en salle"
        when = f"{_day(booking.starts_at)} à {_hour(booking.starts_at)}"
        if kind is MessageKind.booking_reminder:
            body = (f"Rappel : demain, {what} à {_hour(booking.starts_at)}.\n{site.name}.\n"
                    f"Vous ne pouvez pas venir ? Annulez pour laisser la place.\nTél. {phone}")
            return f"Rappel : {what} demain", body
        body = (f"Bonjour {booking.first_name},\nVotre réservation est confirmée.\n{what}, {when}.\n"
                f"{site.name}.\nNuméro : {booking.reference}.\nTél. {phone}")
        return f"Réservation confirmée : {what}", body
    if kind is MessageKind.loan_overdue:
        body = (f"Bonjour,\nLe prêt de {site.name} est en retard.\nMerci de le rapporter vite.\n"
                f"Un souci ? Appelez le {phone}.")
        return "Prêt en retard", body
    body = (f"Bonjour,\nDemain, pensez à rapporter le matériel prêté.\nÀ {site.name} ou dans un autre centre.\n"
            f"Un souci ? Appelez le {phone}.")
    return "Prêt à rendre demain", body


def _recipient(phone: str, email: str) -> tuple[Channel, str] | None:
    number = e164(phone)
    if number:
        return Channel.sms, number
    if email:
        return Channel.email, email.strip().lower()
    return None


def load_demo(sites) -> list[str]:
    from loans.models import Loan
    from reservations.models import Booking, Workshop

    written = 0
    at = clock.now()
    for site in sites.values():
        if db.session.scalar(select(Message.id).where(Message.site_id == site.id, Message.key.like("demo:%")).limit(1)):
            continue
        busiest = db.session.scalars(
            select(Booking).join(Workshop, Workshop.id == Booking.workshop_id)
            .where(Booking.site_id == site.id, Booking.is_confirmed, Booking.starts_at >= at)
            .order_by(Booking.starts_at, Booking.id).limit(PER_SITE_BOOKINGS // 2)
        ).all()
        seats = db.session.scalars(
            select(Booking).where(Booking.site_id == site.id, Booking.is_seat, Booking.is_confirmed, Booking.starts_at >= at)
            .order_by(Booking.starts_at.desc(), Booking.id).limit(PER_SITE_BOOKINGS // 2)
        ).all()
        loans = db.session.scalars(
            select(Loan).where(Loan.site_id == site.id, Loan.closed_at.is_(None)).order_by(Loan.due_on, Loan.id).limit(PER_SITE_LOANS)
        ).all()
        rows = []
        for n, booking in enumerate([*busiest, *seats]):
            to = _recipient(booking.phone, booking.email)
            if to is None:
                continue
            created = max(booking.created_at, at - timedelta(days=3)) if booking.created_at else at - timedelta(days=1)
            status = MessageStatus.undelivered if n == 1 else (MessageStatus.sent if n % 3 else MessageStatus.kept)
            rows.append(_message(MessageKind.booking_confirmed, status, site, to, created, booking=booking))
            reminder_at = datetime.combine(booking.starts_at.astimezone(PARIS).date() - timedelta(days=1), time(17), tzinfo=PARIS)
            if reminder_at > at:
                rows.append(_message(MessageKind.booking_reminder, MessageStatus.pending, site, to, at, booking=booking,
                                     not_before=reminder_at))
        today = clock.today()
        for n, loan in enumerate(loans):
            to = _recipient(loan.resident.phone, loan.resident.email)
            if to is None:
                continue
            if loan.due_on < today:
                day_after = datetime.combine(loan.due_on + timedelta(days=1), time(10), tzinfo=PARIS)
                status = MessageStatus.undelivered if n == 0 and not rows else MessageStatus.sent
                rows.append(_message(MessageKind.loan_overdue, status, site, to, day_after, loan=loan))
            else:
                eve = datetime.combine(loan.due_on - timedelta(days=1), time(17), tzinfo=PARIS)
                if eve <= at:
                    rows.append(_message(MessageKind.loan_due, MessageStatus.kept, site, to, eve, loan=loan))
                else:
                    rows.append(_message(MessageKind.loan_due, MessageStatus.pending, site, to, at, loan=loan, not_before=eve))
        db.session.add_all(rows)
        written += len(rows)
    db.session.flush()
    return [f"Messages de démonstration écrits : {written}"]


def _message(kind, status, site, to, created, *, booking=None, loan=None, not_before=None) -> Message:
    channel, recipient = to
    subject, body = demo_text(kind, site, booking=booking, loan=loan)
    cause = f"booking:{booking.id}" if booking is not None else f"loan:{loan.id}"
    done = status in (MessageStatus.sent, MessageStatus.kept, MessageStatus.undelivered)
    return Message(
        key=f"demo:{kind.value}:{cause}:{channel.value}", kind=kind, channel=channel, status=status, site_id=site.id,
        booking_id=booking.id if booking is not None else None, loan_id=loan.id if loan is not None else None,
        resident_id=loan.resident_id if loan is not None else None, recipient=recipient,
        subject=subject if channel is Channel.email else "", body=body, calendar=None,
        not_before=not_before or created, created_at=created,
        attempts=(5 if status is MessageStatus.undelivered else 1) if done else 0,
        sent_at=created + timedelta(minutes=1) if status is MessageStatus.sent else None,
        last_error=UNDELIVERED_ERROR if status is MessageStatus.undelivered else "",
        provider_ref=f"demo-{kind.value}-{cause}" if status is MessageStatus.sent else "",
    )

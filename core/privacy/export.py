"""Everything held about one resident, gathered once for the right of access and of portability
(RGPD articles 15 and 20): the printable page and the JSON file both read `resident_export(...)`.

What it gathers: the record (identity, sites, who created it), the loans with their accessories,
condition notes and the device history rows that belong to them, the bookings linked to the person
(Booking.resident_id) with their history, the messages written to them (to the resident, or about one
of their bookings or loans), the consent choices of their phone and e-mail, and the access trail of
their record. A fixed number of statements whatever the history (one per part), no query in a loop.

Every site's rows are included: the person has one record in the network, and staff of any of their
sites answer their request for all of it. An anonymised record exports what is left of it (no name,
no contact: the rows that only said who the person was are empty).

Also: `booking_record(booking)`, what is held about one booking, shown to the person through their
private link (reservations/views/public.py).
"""
import json
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from core.clock import now
from core.contacts import sms_number
from core.extensions import db
from core.messaging.models import Channel, ConsentEvent, Message
from core.models import Site, User
from core.residents import Resident
from core.templating import phone_display
from loans.models import Device, DeviceEvent, Loan
from reservations.models import Booking, BookingEvent

from .models import AccessRecord

FORMAT_VERSION = 1


def _label(member) -> str | None:
    return member.label if member is not None else None


def _name(user: User | None) -> str | None:
    return user.name if user is not None else None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _phone(raw: str) -> str:
    return phone_display(raw) if raw else ""


# --- the parts -------------------------------------------------------------------------------------


def _identity(resident: Resident) -> dict:
    return {
        "id": resident.id,
        "first_name": resident.first_name,
        "last_name": resident.last_name,
        "phone": _phone(resident.phone),
        "email": resident.email,
        "membership_number": resident.membership_number,
        "notes": resident.notes,
        "charter_accepted_at": resident.charter_accepted_at,
        "created_at": resident.created_at,
        "created_by": _name(resident.created_by),
        "sites": [site.name for site in resident.sites],
        "anonymised_at": resident.anonymised_at,
    }


def _device_event(event: DeviceEvent) -> dict:
    return {"at": event.at, "action": _label(event.action), "site": event.site.name if event.site else None,
            "by": _name(event.actor), "note": event.note}


def _loans(resident_id: int) -> list[dict]:
    loans = db.session.scalars(
        select(Loan).where(Loan.resident_id == resident_id)
        .order_by(Loan.started_at.desc(), Loan.id.desc())
        .options(joinedload(Loan.device), joinedload(Loan.site), joinedload(Loan.closed_site),
                 joinedload(Loan.lent_by), joinedload(Loan.closed_by))
    ).unique().all()
    history: dict[int, list[dict]] = {}
    if loans:
        events = db.session.scalars(
            select(DeviceEvent)
            .where(DeviceEvent.loan_id.in_(select(Loan.id).where(Loan.resident_id == resident_id)))
            .order_by(DeviceEvent.at, DeviceEvent.id)
            .options(joinedload(DeviceEvent.actor), joinedload(DeviceEvent.site))
        ).all()
        for event in events:
            history.setdefault(event.loan_id, []).append(_device_event(event))
    return [_loan(loan, history.get(loan.id, [])) for loan in loans]


def _loan(loan: Loan, history: list[dict]) -> dict:
    device: Device = loan.device
    return {
        "id": loan.id,
        "device": {"tag": device.tag, "kind": device.kind.name, "brand": device.brand, "model": device.model},
        "site": loan.site.name,
        "lent_by": _name(loan.lent_by),
        "started_at": loan.started_at,
        "due_on": loan.due_on,
        "closed_at": loan.closed_at,
        "closed_site": loan.closed_site.name if loan.closed_site else None,
        "closed_by": _name(loan.closed_by),
        "outcome": _label(loan.outcome),
        "accessories_out": _lines(loan.accessories_out),
        "accessories_missing": _lines(loan.accessories_missing),
        "condition_out": loan.condition_out,
        "condition_in": loan.condition_in,
        "damaged": loan.damaged,
        "data_wiped": loan.data_wiped,
        "charter_method": loan.charter_method,
        "override_reason": loan.override_reason,
        "history": history,
    }


def _booking_event(event: BookingEvent) -> dict:
    return {"at": event.at, "action": _label(event.action), "from_state": _label(event.from_state),
            "to_state": _label(event.to_state), "attendance": _label(event.attendance), "by": _name(event.actor),
            "note": event.note}


def _booking_events(where) -> dict[int, list[dict]]:
    events = db.session.scalars(
        select(BookingEvent).where(where).order_by(BookingEvent.at, BookingEvent.id).options(joinedload(BookingEvent.actor))
    ).all()
    history: dict[int, list[dict]] = {}
    for event in events:
        history.setdefault(event.booking_id, []).append(_booking_event(event))
    return history


def _booking(booking: Booking, history: list[dict]) -> dict:
    return {
        "id": booking.id,
        "reference": booking.reference,
        "site": booking.site.name,
        "room": booking.room.name,
        "workshop": booking.workshop.title if booking.workshop else None,
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "state": _label(booking.state),
        "first_name": booking.first_name,
        "phone": _phone(booking.phone),
        "email": booking.email,
        "attendance": _label(booking.attendance),
        "created_at": booking.created_at,
        "cancelled_at": booking.cancelled_at,
        "promoted_at": booking.promoted_at,
        "history": history,
    }


def _bookings(resident_id: int) -> list[dict]:
    bookings = db.session.scalars(
        select(Booking).where(Booking.resident_id == resident_id)
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .options(joinedload(Booking.site), joinedload(Booking.room), joinedload(Booking.workshop))
    ).all()
    history = {}
    if bookings:
        history = _booking_events(BookingEvent.booking_id.in_(select(Booking.id).where(Booking.resident_id == resident_id)))
    return [_booking(booking, history.get(booking.id, [])) for booking in bookings]


def _message(message: Message) -> dict:
    return {
        "id": message.id,
        "kind": _label(message.kind),
        "channel": _label(message.channel),
        "recipient": _phone(message.recipient) if message.channel is Channel.sms else message.recipient,
        "subject": message.subject,
        "body": message.body,
        "status": _label(message.status),
        "site": message.site.name,
        "created_at": message.created_at,
        "sent_at": message.sent_at,
    }


def _messages(where) -> list[dict]:
    rows = db.session.scalars(
        select(Message).where(where).order_by(Message.created_at, Message.id).options(joinedload(Message.site))
    ).all()
    return [_message(message) for message in rows]


def _consents(contacts: set[str]) -> list[dict]:
    if not contacts:
        return []
    rows = db.session.execute(
        select(ConsentEvent, Site.name).outerjoin(Site, Site.id == ConsentEvent.site_id)
        .where(ConsentEvent.contact.in_(sorted(contacts)))
        .order_by(ConsentEvent.at, ConsentEvent.id)
    ).all()
    return [{"contact": _phone(event.contact) if event.contact.startswith("+") else event.contact,
             "channel": _label(event.channel), "wanted": event.wanted, "how": event.how, "site": site_name, "at": event.at}
            for event, site_name in rows]


def _contacts(phones, emails) -> set[str]:
    """The keys consent is recorded under (core.messaging.consent): E.164 mobiles and lower-case e-mails."""
    found = {number for phone in phones if (number := sms_number(phone))}
    return found | {email.strip().lower() for email in emails if email and "@" in email}


def _access_trail(resident_id: int) -> list[dict]:
    rows = db.session.scalars(
        select(AccessRecord).where(AccessRecord.resident_id == resident_id)
        .order_by(AccessRecord.at, AccessRecord.id).options(joinedload(AccessRecord.user))
    ).all()
    return [{"at": record.at, "action": _label(record.action), "by": _name(record.user)} for record in rows]


# --- the whole -------------------------------------------------------------------------------------


def resident_export(resident: Resident) -> dict:
    """Everything held about the resident, as a plain dict (dates and instants as Python values; see
    `as_json`). The caller loaded the resident (with their sites) and checked who may see it."""
    loans = _loans(resident.id)
    bookings = _bookings(resident.id)
    messages = _messages(or_(
        Message.resident_id == resident.id,
        Message.booking_id.in_(select(Booking.id).where(Booking.resident_id == resident.id)),
        Message.loan_id.in_(select(Loan.id).where(Loan.resident_id == resident.id)),
    ))
    raw_bookings = [(b["phone"], b["email"]) for b in bookings]
    contacts = _contacts([resident.phone, *(phone for phone, _email in raw_bookings)],
                         [resident.email, *(email for _phone, email in raw_bookings)])
    return {
        "format": FORMAT_VERSION,
        "exported_at": now(),
        "resident": _identity(resident),
        "loans": loans,
        "bookings": bookings,
        "messages": messages,
        "consents": _consents(contacts),
        "access_trail": _access_trail(resident.id),
    }


def booking_record(booking: Booking) -> dict:
    """What is held about one booking, for the person who holds its link: their first name and contact,
    the slot or workshop, its history and the messages written about it (two statements)."""
    return {
        "first_name": booking.first_name,
        "contact": _phone(booking.phone) if booking.phone else booking.email,
        "history": _booking_events(BookingEvent.booking_id == booking.id).get(booking.id, []),
        "messages": _messages(Message.booking_id == booking.id),
    }


# --- the file --------------------------------------------------------------------------------------


def _iso(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def as_json(export: dict) -> str:
    """The export as a JSON document: dates and instants as ISO 8601 strings (instants in UTC)."""
    return json.dumps(export, default=_iso, ensure_ascii=False, indent=2)


def filename(resident_id: int) -> str:
    """The downloaded file's name: the record's number, never the person's name."""
    return f"donnees-habitant-{resident_id}.json"

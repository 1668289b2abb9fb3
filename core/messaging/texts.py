"""What each message says: French, FALC (short sentences, one idea per line), the centre's name and
phone in each, the booking reference and private link where there is one.

SMS are written here, in GSM-7 (gsm.py): the values residents and staff typed (centre name,
workshop title, closure reason, kind of device) go through `gsm_safe`, so an "ê" in a title never
doubles the cost. `SMS_SEGMENTS` says how many parts each SMS may take, and why
(tests/core/test_message_texts.py fills each with long values and checks it).
E-mails are templates/messages/*.txt (subject on the first line), with the booking's `.ics`:
METHOD:REQUEST for a confirmation, a place and a reminder, METHOD:CANCEL with a higher SEQUENCE for
a cancellation, and the same UID as the `.ics` of the booking page, so a phone calendar updates
the one event.
"""
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from icalendar import vCalAddress

from ..clock import PARIS
from ..templating import french_date, phone_display
from .gsm import gsm_length, gsm_safe
from .models import Channel, MessageKind

# How many SMS parts each kind may take, and why. One part is 160 GSM-7 characters; a message in
# several parts is 153 characters a part. The private link alone is about 70 to 90 characters
# (PUBLIC_BASE_URL, "/ma-reservation/", a 32-character secret that cannot be shorter): with the
# centre's name, the day, the reference and the phone, a message with a link takes two parts.
SMS_SEGMENTS = {
    MessageKind.booking_confirmed: (2, "private link (70-90 characters)"),
    MessageKind.booking_reminder: (2, "private link (70-90 characters)"),
    MessageKind.waiting_list_place: (2, "private link (70-90 characters)"),
    MessageKind.booking_cancelled: (2, "link to book another day, and the closure's reason"),
    MessageKind.loan_due: (1, ""),
    MessageKind.loan_overdue: (1, ""),
    MessageKind.retention_warning: (1, ""),
}

# SEQUENCE of a booking's event in the e-mailed .ics: each change is higher than the one before.
SEQUENCE_BOOKED = 0
SEQUENCE_PROMOTED = 1  # the waiting-list entry became a place
SEQUENCE_CANCELLED = 2


@dataclass
class Text:
    subject: str
    body: str
    calendar: str | None = None


def say_time(value: datetime) -> str:
    """14 h, 14 h 30 (as people say it, in Paris)."""
    local = value.astimezone(PARIS)
    return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"


def say_day(value: datetime | date) -> str:
    """mardi 14 janvier."""
    day = value.astimezone(PARIS).date() if isinstance(value, datetime) else value
    return french_date(day, "EEEE d MMMM")


def _phone_line(site) -> str:
    return _("Tél. %(phone)s", phone=phone_display(site.phone)) if site.phone else ""


def _sms(*lines) -> str:
    return gsm_safe("\n".join(line for line in lines if line))


def _fitted(kind: MessageKind, write, value: str) -> str:
    """`write(value)` within the kind's parts: a long free text (workshop title, closure reason) is
    shortened ("...") so that the SMS keeps the link, the reference and the phone."""
    budget = 160 if SMS_SEGMENTS[kind][0] == 1 else 153 * SMS_SEGMENTS[kind][0]
    body = write(value)
    overflow = gsm_length(body) - budget
    if overflow > 0 and value:
        keep = max(12, len(value) - overflow - 3)
        body = write(value[:keep].rstrip() + "...")
    return body


def _booking_facts(booking) -> dict:
    return {
        "site": booking.site,
        "booking": booking,
        "day": say_day(booking.starts_at).capitalize(),
        "start": say_time(booking.starts_at),
        "end": say_time(booking.ends_at),
        "title": booking.workshop.title if booking.workshop is not None else "",
        "phone": phone_display(booking.site.phone) if booking.site.phone else "",
    }


def _what(title: str) -> str:
    return _("Atelier : %(title)s", title=title) if title else _("Un ordinateur en accès libre.")


def _email(template: str, **context) -> tuple[str, str]:
    """templates/messages/<template>.txt: the subject on its first line, then the body."""
    # Straight from the Jinja environment: no request's context processors (the sweep has no request).
    text = current_app.jinja_env.get_template(f"messages/{template}.txt").render(**context).strip()
    subject, _blank, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


# --- bookings ------------------------------------------------------------------------------------


def _place(kind: MessageKind, headline: str, sequence: int, booking, channel: Channel, link: str, unsubscribe: str) -> Text:
    """A place that is the person's: booked, or obtained from the waiting list (SMS: one headline apart)."""
    facts = _booking_facts(booking)
    if channel is Channel.sms:
        return Text("", _fitted(kind, lambda title: _sms(
            headline,
            _what(title),
            _("%(day)s de %(start)s à %(end)s.", **facts),
            _("Réf. %(ref)s", ref=booking.reference),
            _("Annuler : %(link)s", link=link),
            _phone_line(booking.site),
        ), facts["title"]))
    subject, body = _email(kind.value, link=link, unsubscribe=unsubscribe, **facts)
    return Text(subject, body, booking_ics(booking, "REQUEST", sequence))


def booking_confirmed(booking, channel: Channel, link: str, unsubscribe: str = "") -> Text:
    return _place(MessageKind.booking_confirmed, _("%(site)s : place réservée.", site=booking.site.name),
                  SEQUENCE_BOOKED, booking, channel, link, unsubscribe)


def booking_reminder(booking, channel: Channel, link: str, unsubscribe: str = "") -> Text:
    facts = _booking_facts(booking)
    if channel is Channel.sms:
        return Text("", _sms(
            _("%(site)s : rappel.", site=booking.site.name),
            _("Votre place : %(day)s à %(start)s.", day=facts["day"].lower(), start=facts["start"]),
            _("Réf. %(ref)s", ref=booking.reference),
            _("Vous ne pouvez pas venir ? Annulez ici pour laisser la place : %(link)s", link=link),
            _phone_line(booking.site),
        ))
    subject, body = _email("booking_reminder", link=link, unsubscribe=unsubscribe, **facts)
    sequence = SEQUENCE_PROMOTED if booking.promoted_at else SEQUENCE_BOOKED
    return Text(subject, body, booking_ics(booking, "REQUEST", sequence))


def waiting_list_place(booking, channel: Channel, link: str, unsubscribe: str = "") -> Text:
    return _place(MessageKind.waiting_list_place, _("%(site)s : une place pour vous !", site=booking.site.name),
                  SEQUENCE_PROMOTED, booking, channel, link, unsubscribe)


def booking_cancelled(booking, channel: Channel, reason: str, rebook: str, unsubscribe: str = "") -> Text:
    """Cancelled by the centre. `reason`: the closure's reason, or "" for a cancelled workshop."""
    facts = _booking_facts(booking)
    reason = reason.rstrip(". ")

    def why(reason):
        return _("Le centre est fermé : %(reason)s.", reason=reason) if reason else _("L'atelier est annulé.")

    if channel is Channel.sms:
        return Text("", _fitted(MessageKind.booking_cancelled, lambda reason: _sms(
            _("%(site)s : réservation annulée. Désolé !", site=booking.site.name),
            _("Votre place : %(day)s à %(start)s.", day=facts["day"].lower(), start=facts["start"]),
            why(reason),
            _("Pour réserver un autre jour : %(link)s", link=rebook),
            _phone_line(booking.site),
        ), reason))
    subject, body = _email("booking_cancelled", why=why(reason), rebook=rebook, unsubscribe=unsubscribe, **facts)
    return Text(subject, body, booking_ics(booking, "CANCEL", SEQUENCE_CANCELLED))


# --- loans ---------------------------------------------------------------------------------------


def _loan_facts(loan, site) -> dict:
    device = loan.device
    return {
        "site": site,
        "loan": loan,
        "device": f"{device.kind.name} ({device.tag})",
        "due": say_day(loan.due_on),
        "phone": phone_display(site.phone) if site.phone else "",
    }


def loan_due(loan, site, channel: Channel, unsubscribe: str = "") -> Text:
    """The day before the due date. `site`: where it was lent (any site takes it back)."""
    facts = _loan_facts(loan, site)
    if channel is Channel.sms:
        return Text("", _sms(
            _("%(site)s : rappel.", site=site.name),
            _("%(device)s : à rendre %(due)s.", device=facts["device"], due=facts["due"]),
            _("Merci !"),
            _phone_line(site),
        ))
    subject, body = _email("loan_due", unsubscribe=unsubscribe, **facts)
    return Text(subject, body)


def loan_overdue(loan, site, channel: Channel, unsubscribe: str = "") -> Text:
    facts = _loan_facts(loan, site)
    if channel is Channel.sms:
        return Text("", _sms(
            _("%(site)s : retard.", site=site.name),
            _("%(device)s : à rendre le %(due)s.", device=facts["device"], due=french_date(loan.due_on, "d MMMM")),
            _("Merci de le rapporter."),
            _phone_line(site),
        ))
    subject, body = _email("loan_overdue", unsubscribe=unsubscribe, **facts)
    return Text(subject, body)


# --- personal data ---------------------------------------------------------------------------------


def retention_warning(site, first_name: str, on: date, channel: Channel, unsubscribe: str = "") -> Text:
    """Before the retention period ends: the person's record will be emptied on `on` unless they come
    back (core/privacy/retention.py). `site`: the centre that warns."""
    day = say_day(on)
    if channel is Channel.sms:
        return Text("", _fitted(MessageKind.retention_warning, lambda name: _sms(
            _("%(site)s : votre fiche sera effacée le %(day)s.", site=name, day=day),
            _("Pour la garder, passez au centre avant."),
            _phone_line(site),
        ), site.name))
    subject, body = _email("retention_warning", site=site, first_name=first_name, day=day,
                           phone=phone_display(site.phone) if site.phone else "", unsubscribe=unsubscribe)
    return Text(subject, body)


def staff_digest(site, day: date, overdue: list, undelivered: list) -> Text:
    """The daily e-mail of a site's staff: overdue loans and undelivered messages."""
    subject, body = _email("staff_digest", site=site, day=say_day(day), overdue=overdue, undelivered=undelivered)
    return Text(subject, body)


# --- the .ics of an e-mail -----------------------------------------------------------------------


def booking_ics(booking, method: str, sequence: int) -> str:
    """The booking's event (same UID as the booking page's .ics) as an iTIP message: REQUEST adds
    or updates it, CANCEL removes it; SEQUENCE orders the changes."""
    from reservations.calendar import booking_calendar

    cal = booking_calendar(booking)
    cal.add("method", method)
    event = cal.walk("VEVENT")[0]
    event.add("sequence", sequence)
    if method == "CANCEL":
        event["status"] = "CANCELLED"
    organizer = booking.site.email or current_app.config.get("MAIL_DEFAULT_SENDER") or f"noreply@{_host()}"
    address = vCalAddress(f"mailto:{_address(organizer)}")
    address.params["cn"] = booking.site.name
    event.add("organizer", address)
    if booking.email:
        attendee = vCalAddress(f"mailto:{booking.email}")
        attendee.params["cn"] = booking.first_name
        attendee.params["partstat"] = "ACCEPTED"
        attendee.params["role"] = "REQ-PARTICIPANT"
        event.add("attendee", attendee)
    return cal.to_ical().decode()


def _host() -> str:
    return urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"


def _address(sender) -> str:
    """MAIL_DEFAULT_SENDER may be "Name <a@b>" or a (name, address) pair."""
    if isinstance(sender, (tuple, list)):
        return sender[-1]
    if "<" in sender:
        return sender.split("<", 1)[1].rstrip(">").strip()
    return sender

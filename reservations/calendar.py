"""iCalendar files: a resident's own booking, and the read-only feed of a room.

The room feed carries no personal data: only counts of open-access bookings and workshop titles.
"""
from datetime import timedelta

from flask import Response, current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from icalendar import Calendar, Event
from sqlalchemy import select

from core import clock

from . import slots as slotlib
from .models import Booking, Room

FEED_DAYS_BEFORE = 7
FEED_DAYS_AFTER = 60


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Centres sociaux connectés//Réservations//FR")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Paris")
    return cal


def _host() -> str:
    from urllib.parse import urlsplit

    return urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"


def booking_calendar(booking: Booking) -> Calendar:
    site, room = booking.site, booking.room
    cal = _calendar(_("Ma réservation"))
    event = Event()
    event.add("uid", f"booking-{booking.reference}@{_host()}")
    event.add("dtstamp", clock.now())
    event.add("dtstart", booking.starts_at)
    event.add("dtend", booking.ends_at)
    if booking.workshop is not None:
        summary = _("Atelier : %(title)s", title=booking.workshop.title)
    else:
        summary = _("Salle informatique – %(site)s", site=site.name)
    if booking.is_cancelled:
        event.add("status", "CANCELLED")
    elif booking.is_waiting:
        # Not a place yet: tentative, and said in the title (a calendar may not show the status).
        event.add("status", "TENTATIVE")
        summary = _("Liste d'attente – %(summary)s", summary=summary)
    else:
        event.add("status", "CONFIRMED")
    event.add("summary", summary)
    event.add("location", f"{site.name}, {room.name}, {site.address}, {site.postcode} {site.town}")
    event.add("description", _("Numéro de réservation : %(ref)s", ref=booking.reference))
    cal.add_component(event)
    return cal


def room_calendar(room: Room) -> Calendar:
    """Open-access occupancy per slot (counts only) and the workshops of the room."""
    today = clock.today()
    period = slotlib.load_period(
        select(Room).where(Room.id == room.id), today - timedelta(days=FEED_DAYS_BEFORE), today + timedelta(days=FEED_DAYS_AFTER)
    )
    cal = _calendar(f"{room.site.name} – {room.name}")
    host = _host()
    stamp = clock.now()
    for slot in period.slots(period.rooms[0]) if period.rooms else []:
        if not slot.booked:
            continue
        event = Event()
        event.add("uid", f"room-{room.id}-slot-{slot.starts_at:%Y%m%dT%H%M}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", slot.starts_at)
        event.add("dtend", slot.ends_at)
        event.add("summary", ngettext("Accès libre : %(num)s poste réservé sur %(total)s",
                                      "Accès libre : %(num)s postes réservés sur %(total)s", slot.booked, total=room.workstations))
        cal.add_component(event)
    for workshop in period.workshops.get(room.id, []):
        event = Event()
        event.add("uid", f"workshop-{workshop.id}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", workshop.starts_at)
        event.add("dtend", workshop.ends_at)
        event.add("summary", _("Atelier : %(title)s", title=workshop.title))
        cal.add_component(event)
    return cal


def ics_response(cal: Calendar, filename: str) -> Response:
    return Response(
        cal.to_ical(),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

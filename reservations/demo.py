"""Demo data of the reservations domain: a room at each partner site with weekly hours, public
holidays and one closure, workshops over the coming weeks (some full, with a waiting list), seat
bookings, and past workshops with attendance.

Idempotent: a site whose demo room already exists is left as it is.
"""
from datetime import time, timedelta

from sqlalchemy import select

from core import clock
from core.extensions import db
from core.models import Role, User

from . import slots as slotlib
from .bookings import book_seat
from .identity import Contact
from .ledger import ReservationError, hash_token, new_feed_token, record, unused_reference
from .models import Attendance, Booking, BookingAction, BookingState, Closure, Level, OpeningHours, Room, Workshop
from .rooms import french_public_holidays
from .workshops import WorkshopData, create_workshops, register

ROOMS = {
    "ACSRV": dict(
        name="Salle informatique", workstations=8,
        notes="Accessible en fauteuil roulant (rez-de-chaussée).\nImprimante et scanner.\nCasques audio à l'accueil.",
        hours={1: [(14, 17)], 2: [(9, 12), (14, 17)], 3: [(14, 17)], 4: [(9, 12)]},
    ),
    "Centre social de Mazingarbe": dict(
        name="Espace numérique", workstations=6, notes="Imprimante.\nUn poste avec grand écran et clavier à grosses touches.",
        hours={0: [(14, 17)], 2: [(14, 17)], 4: [(14, 17)]},
    ),
    "Maison de Quartier Centre-Ville": dict(
        name="Cyber-espace", workstations=10, notes="Salle à l'étage, ascenseur.\nScanner et casques audio.",
        hours={1: [(9, 12), (14, 18)], 3: [(14, 18)], 5: [(9, 12)]},
    ),
    "Fédération des centres sociaux Nord-Pas-de-Calais": dict(
        name="Salle de formation", workstations=12, notes="Accessible en fauteuil roulant.\nVidéoprojecteur.",
        hours={2: [(9, 12)], 3: [(9, 12)]},
    ),
}

WORKSHOPS = [
    ("Créer son adresse e-mail",
     "On crée ensemble une adresse e-mail. Vous repartez avec votre adresse et votre mot de passe notés sur papier.", Level.beginner),
    ("Faire ses démarches en ligne",
     "On apprend à se connecter au site de la CAF et de l'Assurance maladie. Apportez vos identifiants si vous les avez.", Level.everyone),
    ("Prendre en main sa tablette",
     "Allumer, se connecter au wifi, installer une application. Apportez votre tablette si vous en avez une.", Level.beginner),
    ("Reconnaître les arnaques", "Faux messages, faux sites : on apprend à les repérer pour se protéger.", Level.intermediate),
]

PEOPLE = ["Fatima", "Jean-Pierre", "Nadia", "Kévin", "Monique", "Yasmina", "Bernard", "Sandrine", "Mohamed", "Chantal",
          "Dylan", "Josiane", "Rachid", "Éliane", "Sébastien"]


def _contact(n: int) -> Contact:
    """Made-up contacts: phone numbers of a range no operator gives out (never an SMS to anyone real),
    and every other person an e-mail of a reserved domain, so the demo shows e-mails to be sent."""
    if n % 2:
        return Contact(phone="", email=f"habitant{n}@exemple.test")
    return Contact(phone=f"+33700{n:06d}", email="")  # E.164, as core/contacts.py writes it


def load_demo(sites) -> list[str]:
    staff = db.session.scalar(select(User).where(User.role == Role.admin).order_by(User.id))
    created_rooms = created_workshops = created_bookings = 0
    today = clock.today()
    for site_name, spec in ROOMS.items():
        site = sites.get(site_name)
        if site is None:
            continue
        if db.session.scalar(select(Room.id).where(Room.site_id == site.id, Room.name == spec["name"])):
            continue
        room = Room(site_id=site.id, name=spec["name"], workstations=spec["workstations"], notes=spec["notes"], slot_minutes=60,
                    days_ahead=14, minutes_before=30, feed_token=new_feed_token(), active=True)
        db.session.add(room)
        db.session.flush()
        room.hours = [
            OpeningHours(weekday=wd, starts=time(a), ends=time(b)) for wd, ranges in spec["hours"].items() for a, b in ranges
        ]
        created_rooms += 1
        for year in (today.year, today.year + 1):
            for day, reason in french_public_holidays(year):
                db.session.add(Closure(site_id=site.id, first_day=day, last_day=day, reason=reason, created_at=clock.now()))
        if site_name == "ACSRV":
            first = today + timedelta(days=(7 - today.weekday()) % 7 + 14)
            db.session.add(Closure(site_id=site.id, room_id=room.id, first_day=first, last_day=first + timedelta(days=2),
                                   reason="Formation de l'équipe", created_at=clock.now()))
        db.session.flush()
        created_workshops += _workshops(site, room, staff, today)
        created_bookings += _seat_bookings(room, staff, today)
    db.session.flush()
    return [
        f"Salles créées : {created_rooms}",
        f"Ateliers créés : {created_workshops}",
        f"Réservations créées : {created_bookings}",
    ]


def _morning(day, hour=10):
    return slotlib.local_to_utc(day, time(hour)), slotlib.local_to_utc(day, time(hour + 2))


def _workshops(site, room, staff, today) -> int:
    """Two past workshops with attendance, then one a week for four weeks (the first one full)."""
    count = 0
    people = iter(range(1, 10_000))
    for weeks_ago, (title, description, level) in ((2, WORKSHOPS[0]), (1, WORKSHOPS[1])):
        day = today - timedelta(weeks=weeks_ago, days=today.weekday()) + timedelta(days=1)  # a past Tuesday
        starts_at, ends_at = _morning(day)
        workshop = Workshop(site_id=site.id, room_id=room.id, title=title, description=description, level=level,
                            facilitator="Léa, conseillère numérique", starts_at=starts_at, ends_at=ends_at, places=6,
                            created_by_id=getattr(staff, "id", None), created_at=starts_at - timedelta(days=20))
        db.session.add(workshop)
        db.session.flush()
        marks = [Attendance.present] * 4 + [Attendance.absent, Attendance.excused]
        for mark in marks:
            n = next(people)
            booking = Booking(reference=unused_reference(), token_hash=hash_token(new_feed_token()),
                              site_id=site.id, room_id=room.id, workshop_id=workshop.id, starts_at=starts_at, ends_at=ends_at,
                              state=BookingState.confirmed, first_name=PEOPLE[n % len(PEOPLE)], phone=_contact(n).phone,
                              contact_key=_contact(n).key, attendance=mark, created_at=starts_at - timedelta(days=7))
            db.session.add(booking)
            db.session.flush()
            record(booking, None, BookingAction.booked, to_state=BookingState.confirmed).at = booking.created_at
            record(booking, staff, BookingAction.attendance, attendance=mark).at = ends_at
        count += 1
    next_monday = today + timedelta(days=7 - today.weekday())
    for week in range(4):
        title, description, level = WORKSHOPS[(week + 2) % len(WORKSHOPS)]
        day = next_monday + timedelta(weeks=week, days=1)
        places = 4 if week == 0 else 6
        try:
            created = create_workshops(
                staff, room, WorkshopData(title, description, level, "Léa, conseillère numérique", places),
                day, time(10), time(12),
            )
        except ReservationError:
            continue  # a Tuesday the centre is closed (a public holiday, the team's training)
        workshop = created[0]
        # The first one is full, with two people waiting; the others half full.
        how_many = places + 2 if week == 0 else places // 2
        for _i in range(how_many):
            n = next(people) + 100
            register(workshop.id, PEOPLE[n % len(PEOPLE)], _contact(n), actor=staff)
        count += 1
    return count


def _seat_bookings(room, staff, today) -> int:
    """A few seats booked in the open-access slots of the next days."""
    period = slotlib.load_period(select(Room).where(Room.id == room.id), today + timedelta(days=1), today + timedelta(days=7))
    count = 0
    for i, slot in enumerate(period.slots(period.rooms[0])[:6]):
        for j in range(min(slot.free, 1 + i % 3)):
            n = 500 + i * 10 + j
            book_seat(room.id, slot.starts_at, PEOPLE[n % len(PEOPLE)], _contact(n), actor=staff)
            count += 1
    return count

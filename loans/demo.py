"""Demo data for the loans domain: devices with history, residents, open and past loans.

Idempotent: demo devices are recognised by their serial number (DEMO-…) and demo residents by
their membership number (DEMO-…); a second run adds nothing. Past events are written by the real
operations under a frozen clock, so the history reads exactly as if it had happened.
"""
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from core import clock
from core.clock import PARIS
from core.extensions import db
from core.models import Role, User
from core.residents import Resident, create_resident

from . import lending, operations
from .models import Device

MODELS = {
    "laptop": [("Lenovo", "ThinkPad E14", "Chargeur\nHousse\nSouris"), ("HP", "ProBook 440 G8", "Chargeur\nHousse")],
    "tablet": [("Samsung", "Galaxy Tab A8", "Chargeur\nCâble USB-C\nCoque"), ("Apple", "iPad 9e génération", "Chargeur\nCâble\nCoque")],
    "dongle": [("Huawei", "E3372 4G", "Carte SIM\nRallonge USB"), ("Alcatel", "Link Key IK41", "Carte SIM")],
}
PER_SITE = {"laptop": 6, "tablet": 4, "dongle": 4}
OPERATORS = ["Orange", "SFR", "Bouygues Telecom", "Free"]

FIRST_NAMES = ["Marie", "Karim", "Sandrine", "Jean-Pierre", "Fatima", "Kevin", "Nathalie", "Mohamed", "Sylvie",
               "Dylan", "Brigitte", "Yasmina", "Christophe", "Léa", "Gérard", "Inès", "Thierry", "Amandine"]
LAST_NAMES = ["Lefebvre", "Benali", "Dubois", "Wattez", "Haddad", "Dupont", "Lemaire", "Kaczmarek", "Leroy",
              "Martin", "Delattre", "Boulanger", "Nowak", "Caron", "Dumont", "Mahieu", "Bouchez", "Lemoine"]


def load(sites: dict) -> list[str]:
    rng = random.Random(2026)  # same demo every time
    kinds = operations.ensure_default_kinds()
    ordered = sorted(sites.values(), key=lambda s: s.name)
    devices = _devices(ordered, kinds, rng)
    residents, loans = _residents_and_loans(ordered, rng)
    return [f"Équipements créés : {devices}", f"Habitants créés : {residents}", f"Prêts créés : {loans}"]


def _devices(sites, kinds, rng) -> int:
    existing = set(db.session.scalars(select(Device.serial_number).where(Device.serial_number.like("DEMO-%"))))
    created = 0
    for s_index, site in enumerate(sites, start=1):
        for code, count in PER_SITE.items():
            for n in range(1, count + 1):
                serial = f"DEMO-{s_index}-{code[:3].upper()}-{n:02d}"
                if serial in existing:
                    continue
                brand, model, accessories = MODELS[code][n % 2]
                fields = dict(brand=brand, model=model, serial_number=serial, accessories=accessories,
                              funding="FEDER 2014-2020" if n % 3 else "Conseil départemental",
                              purchase_date=date(2020, 9, 1) + timedelta(days=40 * n),
                              purchase_price=Decimal({"laptop": "549.00", "tablet": "229.90", "dongle": "39.00"}[code]))
                if code == "dongle":
                    fields.update(imei=f"35{s_index:02d}{n:02d}0000{rng.randrange(10**6):06d}"[:15],
                                  phone_number="07 " + " ".join(str(rng.randrange(10, 99)) for _pair in range(4)),
                                  operator=OPERATORS[n % 4], data_plan="50 Go / mois")
                with clock.frozen(datetime(2021, 1, 11, 9, 0, tzinfo=UTC)):
                    operations.create_device(None, site, kinds[code], **fields)
                created += 1
    db.session.flush()
    return created


def _residents_and_loans(sites, rng) -> tuple[int, int]:
    if db.session.scalar(select(Resident.id).where(Resident.membership_number.like("DEMO-%")).limit(1)):
        return 0, 0
    now = clock.now()
    today = clock.local_now().date()
    residents_created = loans_created = 0
    for s_index, site in enumerate(sites, start=1):
        staff = db.session.scalars(select(User).where(User.sites.contains(site)).order_by(User.id)).all()
        agent = next((u for u in staff if u.role is Role.reception), None) or next(iter(staff), None) \
            or db.session.scalar(select(User).where(User.role == Role.admin).limit(1))
        if agent is None:
            continue
        people = []
        for n in range(12):
            first = FIRST_NAMES[(n + s_index * 5) % len(FIRST_NAMES)]
            last = LAST_NAMES[(n * 7 + s_index) % len(LAST_NAMES)]
            # Made-up contacts: a number range no operator gives out (07 00), every other person with an
            # e-mail of a reserved domain instead, so no message of the demo can reach anyone real.
            pairs = [rng.randrange(10, 99) for _pair in range(4)]
            phone = "" if n % 2 else f"07 00 {pairs[0]} {pairs[1]} {pairs[2]}"
            email = f"habitant.{s_index}.{n}@exemple.test" if n % 2 else ""
            with clock.frozen(now - timedelta(days=400 - n)):
                resident = create_resident(agent, site, first_name=first, last_name=last, phone=phone, email=email,
                                           membership_number=f"DEMO-{s_index}-{n + 1:03d}")
            people.append(resident)
            residents_created += 1
        db.session.flush()
        devices = db.session.scalars(
            select(Device).where(Device.home_site_id == site.id, Device.is_available).order_by(Device.id)
        ).all()
        # A year of past loans, one after another on each device.
        for d_index, device in enumerate(devices):
            day = today - timedelta(days=360 - d_index * 3)
            while day < today - timedelta(days=45):
                length = rng.choice([7, 10, 14, 14, 21, 30]) if device.kind.code != "dongle" else rng.choice([14, 30, 30])
                resident = rng.choice(people)
                late = rng.random() < 0.2
                with clock.frozen(_at(day, 10)):
                    lending.lend(agent, device.id, resident, due_on=day + timedelta(days=length),
                                 accessories=device.accessory_list, charter_method="ticked")
                back = day + timedelta(days=length + (rng.randrange(1, 8) if late else -rng.randrange(0, 3)))
                with clock.frozen(_at(back, 15)):
                    lending.take_back(agent, device.id, site_id=site.id, accessories_returned=device.accessory_list,
                                      data_wiped=True, condition="Bon état")
                loans_created += 1
                day = back + timedelta(days=rng.randrange(2, 15))
        # Open loans now: a few on time, two overdue.
        for d_index, device in enumerate(devices[:5]):
            resident = people[d_index]
            started = today - timedelta(days=[3, 10, 20, 40, 1][d_index])
            due = started + timedelta(days=[14, 14, 14, 30, 7][d_index])
            with clock.frozen(_at(started, 11)):
                lending.lend(agent, device.id, resident, due_on=due, accessories=device.accessory_list[:1],
                             charter_method="signed" if d_index % 2 else "ticked")
            loans_created += 1
        # Some inventory history: one device in repair, one lost at the centre.
        admin = db.session.scalar(select(User).where(User.role == Role.admin).order_by(User.id).limit(1))
        if admin is not None and len(devices) > 7:
            with clock.frozen(now - timedelta(days=12)):
                operations.apply("send_to_repair", admin, devices[-1].id, site_id=site.id, note="Clavier défectueux")
            with clock.frozen(now - timedelta(days=30)):
                operations.apply("declare_lost", admin, devices[-2].id, site_id=site.id, note="Introuvable à l'inventaire")
    db.session.flush()
    return residents_created, loans_created


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=PARIS).astimezone(UTC)

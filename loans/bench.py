"""Benchmark data: many sites and devices, inserted in bulk (`flask --app wsgi bench-data`).

Later issues extend it with residents, loans and bookings. Never run it on a real installation.
"""
import random
from datetime import date, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select

from core.clock import now
from core.extensions import db
from core.models import Site

from . import operations
from .models import Device, DeviceAction, DeviceStatus

CHUNK = 5000


@click.command("bench-data")
@click.option("--sites", default=200, show_default=True, help="Number of benchmark sites.")
@click.option("--devices", default=20000, show_default=True, help="Number of devices in all.")
@click.option("--seed", default=1, show_default=True)
@with_appcontext
def bench_data(sites, devices, seed):
    """Fill the database with benchmark sites and devices (bulk inserts)."""
    rng = random.Random(seed)
    site_ids = ensure_sites(sites)
    created = add_devices(site_ids, devices, rng)
    db.session.commit()
    click.echo(f"Structures : {len(site_ids)} ; équipements ajoutés : {created}")


def ensure_sites(count: int) -> list[int]:
    names = [f"Centre banc d'essai {i:03d}" for i in range(1, count + 1)]
    existing = set(db.session.scalars(select(Site.name).where(Site.name.in_(names))))
    missing = [n for n in names if n not in existing]
    if missing:
        db.session.execute(insert(Site), [
            dict(name=n, address=f"{i} rue du Banc", postcode="59300", town="Valenciennes",
                 phone="03 27 00 00 00", email="", opening_hours="", created_at=now())
            for i, n in enumerate(missing, start=1)
        ])
    return list(db.session.scalars(select(Site.id).where(Site.name.in_(names)).order_by(Site.id)))


def add_devices(site_ids: list[int], total: int, rng: random.Random) -> int:
    """Top the benchmark sites up to `total` devices, through the CSV import's bulk creation."""
    kinds = list(operations.ensure_default_kinds().values())
    have = db.session.scalar(select(func.count(Device.id)).where(Device.home_site_id.in_(site_ids))) or 0
    statuses = [DeviceStatus.available] * 14 + [DeviceStatus.in_repair, DeviceStatus.retired]
    # Serial numbers are unique: a top-up after another --sites may draw one a former run used.
    serials = set(db.session.scalars(select(Device.serial_number).where(Device.serial_number.like("BENCH-%"))))
    rows = []
    for n in range(max(0, total - have)):
        site_id = site_ids[n % len(site_ids)]
        serial = f"BENCH-{seed_token(rng)}-{have + n}"
        while serial in serials:
            serial = f"BENCH-{seed_token(rng)}-{have + n}"
        serials.add(serial)
        rows.append(dict(
            kind_id=kinds[n % len(kinds)].id, brand=rng.choice(["Lenovo", "HP", "Dell", "Samsung", "Huawei"]),
            model=f"Modèle {rng.randrange(1, 60)}", serial_number=serial,
            accessories="Chargeur", home_site_id=site_id, current_site_id=site_id, status=rng.choice(statuses),
            funding="FEDER 2014-2020", purchase_date=date(2020, 1, 1) + timedelta(days=rng.randrange(0, 1500)),
        ))
    created = 0
    for start in range(0, len(rows), CHUNK):
        created += operations.create_devices_in_bulk(None, rows[start:start + CHUNK], action=DeviceAction.created)
    return created


def seed_token(rng):
    return "".join(rng.choice("ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(4))

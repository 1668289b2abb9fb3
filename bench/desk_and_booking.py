"""Benchmark of the lending desk (issue 4) and of public booking (issue 5): server time and SQL statements.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/desk_and_booking.py --loans 100000
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/desk_and_booking.py --loans 1000000   # tops up
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python bench/desk_and_booking.py ...

It builds the schema with the migrations, tops the database up with `bench-data` (200 sites, 20,000
devices) and `bench-activity` (200,000 residents, --loans past loans, 500,000 bookings with about
20,000 workshops), then times in-process (the WSGI call through Flask's test client, no network),
median of --runs runs, with the number of SQL statements of the slowest-counting run:
resident search as you type (3 letters of a name, a phone prefix), the device page of the most lent
device, the desk of a reception agent and of an admin, the lend POST (then the take-back POST, so the
device is free again), the public day view of a centre and the seat booking POST (then its
cancellation). `--skip-load` measures what is there. Timings are reported, never asserted.
"""
import argparse
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from benchmark import PASSWORD, db_label, ensure_user
from flask_migrate import upgrade
from sqlalchemy import event, func, select

from core import create_app
from core.extensions import db
from core.models import Role, Site


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--devices", type=int, default=20000)
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--skip-load", action="store_true", help="measure the data already there")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading (planner statistics)")
    parser.add_argument("--only", default="", help="only the measures whose label contains this text")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": "http://localhost",
    })
    logging.getLogger("core.security").setLevel(logging.WARNING)  # no "login ok" line per measure
    with app.app_context():
        upgrade()
        if not args.skip_load:
            load(app, args)
        if args.analyze:
            db.session.commit()
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        world = setup(args)
        db.session.remove()

    print(f"\nDatabase: {db_label(url)}; runs per measure: {args.runs}; {world['counts']}\n")
    print(f"{'measure':64} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    for label, who, action in measures(world):
        if args.only and args.only.lower() not in label.lower():
            continue
        client = app.test_client()
        if who:
            client.post("/connexion", data={"email": who, "password": PASSWORD})
        times, counts = [], []
        for n in range(args.runs + 1):  # the first run warms the caches and is dropped
            elapsed, queries, failure = run_measure(app, client, action, n)
            if failure:
                print(f"{label:64} {failure}")
                break
            if n:
                times.append(elapsed)
                counts.append(queries)
        else:
            times.sort()
            p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
            print(f"{label:64} {statistics.median(times):10.1f} {p90:8.1f} {max(counts):8d}")


def load(app, args):
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["bench-data", "--sites", str(args.sites), "--devices", str(args.devices)])
    print(result.output.strip(), f"({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    result = runner.invoke(args=[
        "bench-activity", "--sites", str(args.sites), "--loans", str(args.loans), "--bookings", str(args.bookings),
        "--residents", str(args.residents)])
    print(result.output.strip(), f"({time.perf_counter() - started:.1f} s)")
    if result.exit_code:
        raise SystemExit(result.output)


def setup(args) -> dict:
    from core.residents import Resident, resident_sites
    from loans.models import Device, DeviceStatus, Loan
    from reservations.models import Booking, Room, Workshop

    site = db.session.scalar(select(Site).where(Site.name.like("Centre banc d'essai%")).order_by(Site.id))
    ensure_user("bench-reception@example.org", Role.reception, site)
    ensure_user("bench-admin@example.org", Role.admin, None)
    db.session.commit()
    # The most lent device of the site (its history is the longest the device page can have).
    much_lent = db.session.execute(
        select(Device.tag, func.count(Loan.id)).join(Loan, Loan.device_id == Device.id)
        .where(Device.home_site_id == site.id).group_by(Device.id, Device.tag).order_by(func.count(Loan.id).desc()).limit(1)
    ).first()
    lendable = db.session.scalar(
        select(Device).where(Device.current_site_id == site.id, Device.status == DeviceStatus.available).order_by(Device.id)
    )
    borrower = db.session.scalar(
        select(Resident.id).join(resident_sites, resident_sites.c.resident_id == Resident.id)
        .where(resident_sites.c.site_id == site.id).order_by(Resident.id)
    )
    room = db.session.scalar(select(Room).where(Room.site_id == site.id).order_by(Room.id))
    day, hhmm = next_free_slot(room)
    counts = ", ".join(f"{name}: {db.session.scalar(select(func.count()).select_from(model)):,}".replace(",", " ")
                       for name, model in [("habitants", Resident), ("prêts", Loan), ("réservations", Booking),
                                           ("ateliers", Workshop)])
    return dict(site=site, tag=much_lent[0], tag_loans=much_lent[1], lendable=lendable.tag, accessories=lendable.accessory_list,
                borrower=borrower, room=room.id, day=day, hhmm=hhmm, phone=f"07{site.id % 100:02d}",
                counts=counts + f"; prêts de l'équipement le plus prêté : {much_lent[1]}")


def next_free_slot(room):
    """The first bookable seat slot from tomorrow on, with at least one free place: (day, 'HHMM')."""
    from core import clock
    from reservations import slots as slotlib
    from reservations.models import Room

    today = clock.local_now().date()
    period = slotlib.load_period(select(Room).where(Room.id == room.id), today + timedelta(days=1), today + timedelta(days=room.days_ahead))
    at = clock.now()
    for r in period.rooms:
        for slot in period.slots(r):
            if slot.free and slotlib.bookable(slot, r, at):
                local = slot.local_start
                return local.date(), local.strftime("%H%M")
    raise SystemExit("Aucun créneau libre dans la salle de banc d'essai.")


def measures(w):
    reception, admin = "bench-reception@example.org", "bench-admin@example.org"
    day = w["day"].isoformat()
    return [
        ("Recherche d'habitant « dup » (accueil, 1 structure)", reception, ("GET", "/habitants/recherche?q=dup")),
        ("Recherche d'habitant « ben » (admin, tout le réseau)", admin, ("GET", "/habitants/recherche?q=ben")),
        (f"Recherche d'habitant « {w['phone']} » (accueil)", reception, ("GET", f"/habitants/recherche?q={w['phone']}")),
        (f"Recherche d'habitant « {w['phone']}00 » (accueil)", reception, ("GET", f"/habitants/recherche?q={w['phone']}00")),
        (f"Fiche de l'équipement le plus prêté ({w['tag_loans']} prêts)", reception, ("GET", f"/equipements/{w['tag']}")),
        ("Guichet, accueil d'une structure", reception, ("GET", "/guichet")),
        ("Guichet, admin (toutes les structures)", admin, ("GET", "/guichet")),
        ("Prêt : POST du formulaire complet (puis reprise)", reception, ("LEND", w)),
        ("Reprise : POST du formulaire (après le prêt)", reception, ("TAKE_BACK", w)),
        ("Réservation : jour d'un centre (liste des jours)", None, ("GET", f"/reserver/{w['site'].id}")),
        (f"Réservation : vue du jour {day} d'un centre", None, ("GET", f"/reserver/{w['site'].id}/{day}")),
        ("Réservation : ateliers à venir d'un centre", None, ("GET", f"/ateliers/centre/{w['site'].id}")),
        (f"Réservation : POST d'une place {day} {w['hhmm']} (puis annulation)", None, ("BOOK", w)),
    ]


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, *args, **kwargs):
        self.n += 1


def timed(app, fn):
    """(ms, statements, response) of fn() inside an app context."""
    with app.app_context():
        counter = Counter()
        event.listen(db.engine, "before_cursor_execute", counter)
        t0 = time.perf_counter()
        try:
            response = fn()
        finally:
            elapsed = (time.perf_counter() - t0) * 1000
            event.remove(db.engine, "before_cursor_execute", counter)
    return elapsed, counter.n, response


def run_measure(app, client, action, n):
    kind, arg = action
    if kind == "GET":
        ms, q, r = timed(app, lambda: client.get(arg))
        return ms, q, None if r.status_code == 200 else f"HTTP {r.status_code}"
    if kind in ("LEND", "TAKE_BACK"):
        w = arg
        from core import clock

        data = {"resident": str(w["borrower"]), "due_on": (clock.local_now().date() + timedelta(days=14)).isoformat(),
                "accessories": w["accessories"], "charter": "ticked", "condition": "", "form_key": uuid.uuid4().hex}
        lend = lambda: client.post(f"/equipements/{w['lendable']}/preter", data=data)  # noqa: E731  (a one-line timing helper)
        back = lambda: client.post(f"/equipements/{w['lendable']}/reprendre", data={  # noqa: E731  (a one-line timing helper)
            "site": str(w["site"].id), "accessories": w["accessories"], "condition": "", "data_wiped": "y"})
        ms1, q1, r1 = timed(app, lend)
        if r1.status_code != 302 or "/recu" not in r1.headers["Location"]:
            return 0, 0, f"prêt : HTTP {r1.status_code}"
        ms2, q2, r2 = timed(app, back)
        if r2.status_code != 302:
            return 0, 0, f"reprise : HTTP {r2.status_code}"
        return (ms1, q1, None) if kind == "LEND" else (ms2, q2, None)
    if kind == "BOOK":
        w = arg
        contact = f"06{n:02d}{uuid.uuid4().int % 1_000_000:06d}"
        url = f"/reserver/salle/{w['room']}/{w['day'].isoformat()}/{w['hhmm']}"
        ms, q, r = timed(app, lambda: client.post(url, data={"first_name": "Banc", "contact": contact}))
        if r.status_code != 302:
            return 0, 0, f"HTTP {r.status_code}"
        token = re.search(r"/ma-reservation/([^/?#]+)", r.headers["Location"]).group(1)
        cancelled = client.post(f"/ma-reservation/{token}/annuler", data={})
        if cancelled.status_code != 302:
            return 0, 0, f"annulation : HTTP {cancelled.status_code}"
        return ms, q, None
    raise ValueError(kind)


if __name__ == "__main__":
    main()

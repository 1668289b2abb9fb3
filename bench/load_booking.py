"""Load test of public booking on the last places: concurrent POSTs over loopback to gunicorn.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/load_booking.py --left 3 --requests 400 --clients 16

Run after bench/desk_and_booking.py (or benchmark.py) filled DATABASE_URL. It picks the first free
seat slot of the first benchmark centre from tomorrow on, fills it through the booking operation
until --left places remain, starts `gunicorn -w 2 --threads 4` on 127.0.0.1 (bench/wsgi_bench.py:
rate limits off, CSRF on), and --clients threads each GET the booking page once (session cookie and
CSRF token) then POST the form with a new contact each time, keep-alive. It reports requests/s,
latency percentiles, answers by status, and checks in the database that the slot holds no more
confirmed bookings than its workstations.
"""
import argparse
import http.client
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from sqlalchemy import func, select

from core import create_app
from core.extensions import db
from core.models import Site


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--left", type=int, default=3, help="places left in the slot when the load starts")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        room_id, starts_at, day, hhmm, places, before = prepare(args.left)
        db.session.remove()
    path = f"/reserver/salle/{room_id}/{day.isoformat()}/{hhmm}"
    print(f"Base : {'PostgreSQL' if url.startswith('postgresql') else 'SQLite (fichier)'} ; créneau {day} {hhmm}, "
          f"{places} postes, {before} déjà réservés ({places - before} places restantes)")

    env = dict(os.environ, SECRET_KEY=secrets.token_hex(16), DATABASE_URL=url, PUBLIC_BASE_URL=f"http://127.0.0.1:{args.port}")
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{args.port}",
         "--chdir", HERE, "--log-level", "warning", "wsgi_bench:app"], env=env)
    try:
        wait_ready(args.port)
        results = hammer(args.port, path, args.requests, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)

    report(results, args)
    with app.app_context():
        from reservations.models import Booking, BookingState

        after = db.session.scalar(select(func.count(Booking.id)).where(
            Booking.room_id == room_id, Booking.starts_at == starts_at, Booking.workshop_id.is_(None),
            Booking.state == BookingState.confirmed))
        db.session.remove()
    created = sum(1 for status, _ in results if status == 302)
    ok = after <= places and after == before + created
    print(f"Vérification en base : {after} réservations confirmées pour {places} postes "
          f"({before} avant + {created} réponses 302) : {'OK' if ok else 'ÉCHEC'}")
    if not ok:
        raise SystemExit(1)


def prepare(left):
    """The first bookable slot of the first benchmark room, filled up to `left` free places."""
    from core import clock
    from reservations import slots as slotlib
    from reservations.bookings import book_seat
    from reservations.identity import parse_contact
    from reservations.models import Room

    site = db.session.scalar(select(Site).where(Site.name.like("Centre banc d'essai%")).order_by(Site.id))
    room = db.session.scalar(select(Room).where(Room.site_id == site.id).order_by(Room.id))
    today = clock.today()
    period = slotlib.load_period(select(Room).where(Room.id == room.id), today + timedelta(days=1), today + timedelta(days=room.days_ahead))
    at = clock.now()
    slot = next((s for r in period.rooms for s in period.slots(r) if s.free >= left and slotlib.bookable(s, r, at)), None)
    if slot is None:
        raise SystemExit("Aucun créneau avec assez de places libres.")
    n = 0
    while slot.free - n > left:
        book_seat(room.id, slot.starts_at, "Prérempli", parse_contact(f"0690{secrets.randbelow(1_000_000):06d}"))
        db.session.commit()
        n += 1
    local = slot.local_start
    return room.id, slot.starts_at, local.date(), local.strftime("%H%M"), room.workstations, room.workstations - left


def wait_ready(port):
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/reserver")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)  # the server is starting: poll its port
    raise SystemExit("gunicorn ne répond pas.")


def hammer(port, path, total, clients):
    results, lock = [], threading.Lock()
    counter = iter(range(total))
    start = threading.Barrier(clients)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        page = conn.getresponse()
        body = page.read().decode()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', body)
        if token is None:
            raise SystemExit(f"Pas de jeton CSRF dans la page (HTTP {page.status}).")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        start.wait()
        for n in counter:
            form = urllib.parse.urlencode({"csrf_token": token.group(1), "first_name": "Charge",
                                           "contact": f"07{n:08d}"})
            t0 = time.perf_counter()
            conn.request("POST", path, body=form, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - t0
            with lock:
                results.append((response.status, elapsed))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hammer.wall = time.perf_counter() - t0
    return results


def report(results, args):
    times = sorted(ms * 1000 for _, ms in results)
    by_status = {}
    for status, _ in results:
        by_status[status] = by_status.get(status, 0) + 1

    def pct(p):
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

    print(f"{len(results)} POST de réservation, {args.clients} clients simultanés, gunicorn -w 2 --threads 4 : "
          f"{len(results) / hammer.wall:.0f} requêtes/s ({hammer.wall:.1f} s)")
    print(f"latence ms : p50 {pct(50):.1f} ; p90 {pct(90):.1f} ; p99 {pct(99):.1f} ; max {times[-1]:.1f}"
          f" ; moyenne {statistics.mean(times):.1f}")
    print("réponses : " + ", ".join(f"{status} × {n}" for status, n in sorted(by_status.items())))


if __name__ == "__main__":
    main()

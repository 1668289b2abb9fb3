"""The booking rush: many residents book the last places at once, over loopback, through gunicorn.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/rush REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/load_booking.py --clients 64 --left 2 --rounds 5
    ... --seat-lock site,slot          # the lock of seat bookings: the site row, or the slot and the person

Run after `flask bench-data` filled DATABASE_URL (the first benchmark centre is used). Each round
creates a new room (8 workstations, open 9:00–18:00, one-hour slots) at that centre, with tomorrow a
workshop 10:00–12:00 of 8 places and 7 open-access slots around it; the workshop and every slot are
filled through the real operations until --left places remain. Then `gunicorn -w 4` (sync workers, as
in the README) serves bench/wsgi_bench.py with the production rate limits ON (Flask-Limiter, storage in
Redis when REDIS_URL is set; PROXY_FIX_HOPS=1 and each client sends its own X-Forwarded-For, as
residents behind the centre's proxy would — 429s are counted apart) and CSRF on.

Scenarios (--scenarios), each run --rounds times: `atelier`, all the clients register to the one
workshop; `postes`, the clients book the seats of the day, spread over its 7 slots; `créneau`, all
on one slot; `mixte`, half on the workshop, half on the seats of the day. A client GETs the public form
(session cookie and CSRF token), waits for the others (a barrier: they all post at the same instant),
POSTs it (the timed request: p50/p90/p99), then, as a browser does, follows the redirect to its
private page and reads the message, or reads the refusal. Afterwards the database is checked: in each
slot exactly --left seats accepted and the slot full, never more; in the workshop exactly --left
places confirmed and everybody else on the waiting list; every refusal says "Ce créneau est complet"
(409), every waiting-list entry "Vous êtes sur la liste d'attente". Timings are reported, not asserted.
"""
import argparse
import html
import http.client
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from datetime import time as clock_time
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from sqlalchemy import func, select

from core import create_app
from core.extensions import db
from core.models import Site

WORKSTATIONS = 8
SEAT_HOURS = (9, 12, 13, 14, 15, 16, 17)  # the workshop takes 10:00–12:00
FULL_SEAT = "Ce créneau est complet"
WAITING = "Vous êtes sur la liste d'attente"
SEAT_OK = "Votre place vous attend"
WORKSHOP_OK = "Votre place à l'atelier est réservée"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--left", type=int, default=2, help="places left in the workshop and in each slot")
    parser.add_argument("--rounds", type=int, default=5, help="rushes per scenario (a new room each)")
    parser.add_argument("--scenarios", default="atelier,postes,créneau,mixte")
    parser.add_argument("--seat-lock", default="site", help="site, slot, or both in turn: site,slot")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"Scénarios inconnus : {', '.join(sorted(unknown))} (connus : {', '.join(SCENARIOS)}).")

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    limiter_storage = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory:// (un compteur par worker !)"
    print(f"Base : {'PostgreSQL' if url.startswith('postgresql') else 'SQLite (fichier)'} ; gunicorn -w {args.workers} (sync) ; "
          f"limites de débit actives, stockage {limiter_storage} ; CSRF actif ; {args.clients} clients, "
          f"{args.left} places restantes par créneau et à l'atelier, {args.rounds} ruées par scénario")
    with app.app_context():
        print(f"Taille : {db.session.scalar(select(func.count(Site.id)))} structures ; "
              f"{db.session.scalar(select(func.count()).select_from(_booking_table()))} réservations en base")
        db.session.remove()

    failures = 0
    lock_times = os.path.join(tempfile.mkdtemp(), "locks.txt")
    for lock in args.seat_lock.split(","):
        prefix = f"rush-{secrets.token_hex(4)}"
        env = dict(os.environ, BENCH_LOCK_TIMES=lock_times, SECRET_KEY=secrets.token_hex(16), DATABASE_URL=url, PUBLIC_BASE_URL=f"http://127.0.0.1:{args.port}",
                   PROXY_FIX_HOPS="1", BENCH_RATE_LIMITS="on", BENCH_RATELIMIT_PREFIX=prefix, BENCH_SEAT_LOCK=lock)
        server = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{args.port}",
             "--chdir", HERE, "--log-level", "warning", "wsgi_bench:app"], env=env)
        try:
            wait_ready(args.port, server)
            print(f"\nVerrou des réservations de poste : {LOCKS.get(lock, lock)}")
            with app.app_context():
                fixture = prepare(args.left)
                db.session.remove()
            rush(args.port, mixed(fixture, args.clients))  # warm-up, not counted: every worker imports and compiles its pages
            for scenario in scenarios:
                rounds = []
                open(lock_times, "w").close()
                for _round in range(args.rounds):
                    with app.app_context():
                        fixture = prepare(args.left)
                        db.session.remove()
                    targets = SCENARIOS[scenario](fixture, args.clients)
                    results, wall = rush(args.port, targets)
                    with app.app_context():
                        problems = check(fixture, targets, results, args.left)
                        db.session.remove()
                    rounds.append((results, wall, problems))
                failures += report(scenario, rounds, args, lock_waits(lock_times))
        finally:
            server.terminate()
            server.wait(timeout=30)
    if failures:
        raise SystemExit(1)


def _booking_table():
    from reservations.models import Booking

    return Booking.__table__


LOCKS = {"site": "la ligne du centre (FOR NO KEY UPDATE)",
         "slot": "le centre en partage (FOR SHARE) + verrous consultatifs de la personne et du créneau"}


# --- the fixture: a new room, its workshop and slots of tomorrow, filled to `left` places ----------


class Fixture:
    def __init__(self, room_id, workshop_id, day, slots):
        self.room_id, self.workshop_id, self.day, self.slots = room_id, workshop_id, day, slots  # slots: {hhmm: starts_at}

    def seat_path(self, hhmm):
        return f"/reserver/salle/{self.room_id}/{self.day.isoformat()}/{hhmm}"

    @property
    def workshop_path(self):
        return f"/ateliers/{self.workshop_id}/inscription"


def prepare(left):
    from core import clock
    from reservations import ledger
    from reservations.bookings import book_seat
    from reservations.identity import parse_contact
    from reservations.models import OpeningHours, Room, Workshop
    from reservations.slots import local_to_utc
    from reservations.workshops import register

    site = db.session.scalar(select(Site).where(Site.name.like("Centre banc d'essai%")).order_by(Site.id))
    if site is None:
        raise SystemExit("Aucun centre de banc d'essai : lancez d'abord `flask bench-data`.")
    room = Room(site_id=site.id, name=f"Salle de la ruée {ledger.new_reference()}", workstations=WORKSTATIONS, notes="",
                slot_minutes=60, days_ahead=14, minutes_before=0, feed_token=ledger.new_feed_token(), active=True)
    room.hours = [OpeningHours(weekday=wd, starts=clock_time(9), ends=clock_time(18)) for wd in range(7)]
    db.session.add(room)
    day = clock.local_now().date() + timedelta(days=1)
    workshop = Workshop(site_id=site.id, room_id=room.id, title="Ruée : créer son adresse e-mail", description="", facilitator="",
                        starts_at=local_to_utc(day, clock_time(10)), ends_at=local_to_utc(day, clock_time(12)), places=WORKSTATIONS)
    db.session.flush()
    workshop.room_id = room.id
    db.session.add(workshop)
    db.session.commit()
    tag = secrets.token_hex(4)
    for n in range(WORKSTATIONS - left):
        register(workshop.id, "Prérempli", parse_contact(f"avant-{tag}-a{n}@example.org"))
        db.session.commit()
    slots = {}
    for hour in SEAT_HOURS:
        starts_at = local_to_utc(day, clock_time(hour))
        for n in range(WORKSTATIONS - left):
            book_seat(room.id, starts_at, "Prérempli", parse_contact(f"avant-{tag}-{hour}-{n}@example.org"))
            db.session.commit()
        slots[f"{hour:02d}00"] = starts_at
    return Fixture(room.id, workshop.id, day, slots)


# --- scenarios: what each client books --------------------------------------------------------------


def workshop_rush(fixture, clients):
    return [("atelier", fixture.workshop_path, None)] * clients


def seats_of_the_day(fixture, clients):
    hours = list(fixture.slots)
    return [("poste", fixture.seat_path(hours[i % len(hours)]), hours[i % len(hours)]) for i in range(clients)]


def one_slot(fixture, clients):
    hhmm = next(iter(fixture.slots))
    return [("poste", fixture.seat_path(hhmm), hhmm)] * clients


def mixed(fixture, clients):
    half = clients // 2
    return workshop_rush(fixture, half) + seats_of_the_day(fixture, clients - half)


SCENARIOS = {"atelier": workshop_rush, "postes": seats_of_the_day, "créneau": one_slot, "mixte": mixed}


# --- the rush ----------------------------------------------------------------------------------------


def wait_ready(port, server):
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"gunicorn s'est arrêté (port {port} déjà pris ?).")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/reserver")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)  # the server is starting: poll its port
    raise SystemExit("gunicorn ne répond pas.")


def rush(port, targets):
    """Each client: GET the form, wait for all, POST (timed), then read the answer as a browser would."""
    run = secrets.token_hex(4)
    results = [None] * len(targets)
    barrier = threading.Barrier(len(targets))

    def client(i):
        try:
            results[i] = one_client(port, i, targets[i], run, barrier)
        except Exception as exc:  # a refused connection, a timeout: counted, and the others go on
            barrier.abort()
            results[i] = (f"erreur {type(exc).__name__}", None, repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(targets))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - t0


def one_client(port, i, target, run, barrier):
    kind, path, _hhmm = target
    address = f"10.13.{i // 250}.{i % 250 + 1}"  # one resident, one address: the per-address limit applies to each
    base = {"X-Forwarded-For": address}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=base)
    page = conn.getresponse()
    body = page.read().decode()
    conn.close()
    cookie = page.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', body)
    if token is None:
        raise RuntimeError(f"Pas de jeton CSRF dans la page {path} (HTTP {page.status}).")
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "first_name": "Ruée", "reminders": "y",
                                   "contact": f"ruee-{run}-{i}@example.org"})
    headers = dict(base, Cookie=cookie, **{"Content-Type": "application/x-www-form-urlencoded"})
    # No connection opened ahead: a sync worker that accepted it would wait for its request, idle.
    barrier.wait(timeout=300)
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=form, headers=headers)
    response = conn.getresponse()
    answer = response.read().decode()
    elapsed = time.perf_counter() - t0
    location = response.getheader("Location")
    conn.close()
    if response.status == 302 and location:
        cookie = response.getheader("Set-Cookie", "").split(";")[0] or cookie
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", urllib.parse.urlsplit(location).path, headers=dict(base, Cookie=cookie))
        answer = conn.getresponse().read().decode()
        conn.close()
    return response.status, elapsed, html.unescape(answer)


# --- the check in the database ------------------------------------------------------------------------


def check(fixture, targets, results, left):
    """Problems found: the places in the database and what each client was told."""
    from reservations.models import Booking, BookingState

    problems = []
    counts = Counter()
    for (kind, _path, hhmm), (status, _elapsed, answer) in zip(targets, results, strict=True):
        if not isinstance(status, int) or status >= 500 or status == 429:
            continue  # counted in the report
        if kind == "atelier":
            said = "ok" if WORKSHOP_OK in answer else "waiting" if WAITING in answer else "?"
            counts["atelier", said] += 1
        else:
            said = "ok" if status == 302 and SEAT_OK in answer else "full" if status == 409 and FULL_SEAT in answer else "?"
            counts[hhmm, said] += 1
        if said == "?":
            text = re.sub(r"<[^>]+>|\s+", " ", answer)
            problems.append(f"réponse inattendue ({kind}, HTTP {status}) : {text[:200]}")

    states = {state: n for state, n in db.session.execute(
        select(Booking.state, func.count()).where(Booking.workshop_id == fixture.workshop_id).group_by(Booking.state)).all()}
    asked = sum(1 for kind, *_ in targets if kind == "atelier")
    if asked:
        confirmed, waiting = states.get(BookingState.confirmed, 0), states.get(BookingState.waiting, 0)
        accepted = min(left, asked)
        if (confirmed, counts["atelier", "ok"], waiting, counts["atelier", "waiting"]) != \
                (WORKSTATIONS - left + accepted, accepted, asked - accepted, asked - accepted):
            problems.append(f"atelier : {confirmed} confirmées / {WORKSTATIONS} places (attendu {WORKSTATIONS - left + accepted}), "
                            f"{waiting} en attente ; "
                            f"{counts['atelier', 'ok']} clients acceptés, {counts['atelier', 'waiting']} en liste d'attente")
    seats = defaultdict(int)
    for hhmm, starts_at in fixture.slots.items():
        seats[hhmm] = db.session.scalar(select(func.count()).where(
            Booking.room_id == fixture.room_id, Booking.starts_at == starts_at, Booking.workshop_id.is_(None),
            Booking.state == BookingState.confirmed))
        asked = sum(1 for kind, _path, h in targets if h == hhmm)
        expected = WORKSTATIONS - left + min(left, asked)
        if seats[hhmm] != expected or counts[hhmm, "ok"] != min(left, asked) or counts[hhmm, "full"] != asked - min(left, asked):
            problems.append(f"créneau {hhmm} : {seats[hhmm]} confirmées / {WORKSTATIONS} postes (attendu {expected}) ; "
                            f"{counts[hhmm, 'ok']} acceptées, {counts[hhmm, 'full']} refusées « complet »")
    return problems


def lock_waits(path):
    """{"seat" or "workshop": sorted waits for the lock in ms}, as the bench app wrote them."""
    waits = defaultdict(list)
    with open(path) as lines:
        for line in lines:
            name, ms = line.split()
            waits[name].append(float(ms))
    return {name: sorted(values) for name, values in waits.items()}


def report(scenario, rounds, args, waits):
    times = sorted(elapsed * 1000 for results, _wall, _problems in rounds for _status, elapsed, _answer in results
                   if elapsed is not None)
    statuses = Counter(status for results, _wall, _problems in rounds for status, _elapsed, _answer in results)
    problems = [p for _results, _wall, found in rounds for p in found]

    if not times:
        print(f"  {scenario:8} aucune réponse : {', '.join(f'{s} × {n}' for s, n in statuses.items())}")
        return 1

    def pct(p):
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

    walls = ", ".join(f"{wall:.2f}" for _results, wall, _problems in rounds)
    errors = sum(n for status, n in statuses.items() if not isinstance(status, int) or status >= 500)
    client_errors = {answer for results, _wall, _problems in rounds for status, _elapsed, answer in results if not isinstance(status, int)}
    print(f"  {scenario:8} {len(times)} POST ({len(rounds)} × {args.clients}) : p50 {pct(50):.0f} ms ; p90 {pct(90):.0f} ; "
          f"p99 {pct(99):.0f} ; max {times[-1]:.0f} ; 5xx ou erreurs : {errors} ; 429 : {statuses.get(429, 0)} ; "
          f"réponses {', '.join(f'{s} × {n}' for s, n in sorted(statuses.items(), key=str))} ; durée des ruées (s) : {walls}")
    for name, values in sorted(waits.items()):
        print(f"  {'':8} attente du verrou ({'poste' if name == 'seat' else 'atelier'}, dans l'application) : "
              f"p50 {values[len(values) // 2]:.1f} ms ; p99 {values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]:.1f} ; "
              f"max {values[-1]:.1f} ; total {sum(values):.0f} ms sur {len(values)} réservations")
    for message in sorted(client_errors)[:5]:
        print(f"  {'':8} erreur d'un client : {message[:200]}")
    print(f"  {'':8} places en base : {'exactes' if not problems else 'ÉCHEC'}"
          + "".join(f"\n    - {p}" for p in problems[:10]))
    return 1 if problems or errors else 0


if __name__ == "__main__":
    main()

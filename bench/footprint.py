"""Memory and start-up: is a small PC at a centre enough? The app's import time, and the resident memory
(RSS) of a gunicorn worker as it serves 10,000 requests of public and desk pages.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/rush python bench/footprint.py --requests 10000

Run after `flask bench-data` (the first benchmark centre and its devices are used; the bench manager
bench-manager@example.org is created as in bench/benchmark.py). Import time: median of --imports fresh
processes timing `import wsgi` (which builds the app, create_app), and the heaviest top-level imports
from one `python -X importtime -c "import wsgi"`. Memory: `gunicorn -w 1` (one sync worker, so every
request goes through it; bench/wsgi_bench.py, rate limits off: the load comes from one address) and
VmRSS / VmHWM read from /proc/<worker pid>/status after 0, 100, 1,000, … requests. The requests cycle
over public pages (centres, a centre's days, a day's times, the workshops, the booking form, a
device's public page) and desk pages of a logged-in manager (desk, scan, device page, inventory,
resident search, the arrivals, the rooms). Sizes are reported, not asserted.
"""
import argparse
import http.client
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--imports", type=int, default=5, help="fresh processes timing `import wsgi`")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    env = dict(os.environ, SECRET_KEY=secrets.token_hex(16), PYTHONPATH=ROOT)
    print(f"Base : {'PostgreSQL' if url.startswith('postgresql') else 'SQLite (fichier)'} ; Python {sys.version.split()[0]}")
    import_time(args.imports, env)
    memory(args.requests, args.port, url, env)


# --- start-up ----------------------------------------------------------------------------------------


def import_time(runs, env):
    code = ("import time; t = time.perf_counter(); import wsgi; a = time.perf_counter(); "
            "wsgi.app.test_client().get('/reserver'); print(a - t, time.perf_counter() - a)")
    timings = []
    for _run in range(runs):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
        timings.append([float(x) for x in out.split()])
    imports, first = [statistics.median(t[i] for t in timings) for i in (0, 1)]
    print(f"`import wsgi` (modules + create_app), médiane de {runs} processus neufs : {imports * 1000:.0f} ms ; "
          f"puis la première requête (/reserver) : {first * 1000:.0f} ms")
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=True).stderr
    # Lines "import time: self [us] | cumulative | imported package": the self times summed by top-level package.
    by_package = Counter()
    for line in trace.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| *(\S+)", line)
        if match:
            by_package[match[3].split(".")[0]] += int(match[1])
    total = sum(by_package.values())
    print(f"-X importtime : {total / 1000:.0f} ms d'imports (sans create_app) ; par paquet (ms, temps propre) : "
          + ", ".join(f"{name} {us / 1000:.0f}" for name, us in by_package.most_common(12)))


# --- memory ---------------------------------------------------------------------------------------------


def memory(total, port, url, env):
    from benchmark import ensure_user
    from sqlalchemy import select

    from core import create_app
    from core.extensions import db
    from core.models import Role, Site
    from loans.models import Device
    from reservations.models import Room

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.name.like("Centre banc d'essai%")).order_by(Site.id))
        if site is None:
            raise SystemExit("Aucun centre de banc d'essai : lancez d'abord `flask bench-data`.")
        ensure_user("bench-manager@example.org", Role.manager, site)
        db.session.commit()
        tags = db.session.scalars(select(Device.tag).where(Device.home_site_id == site.id).order_by(Device.id).limit(20)).all()
        room = db.session.scalar(select(Room).where(Room.site_id == site.id, Room.active).order_by(Room.id))
        site_id = site.id
        from core import clock

        day = (clock.local_now().date() + timedelta(days=1)).isoformat()
        db.session.remove()
    public = ["/reserver", f"/reserver/{site_id}", f"/reserver/{site_id}/{day}", f"/ateliers/centre/{site_id}"]
    public += [f"/d/{tag}" for tag in tags[:5]]
    if room is not None:
        public.append(f"/reserver/salle/{room.id}/{day}/1400")
    desk = ["/guichet", f"/guichet/scanner?code={tags[0]}", "/equipements", "/habitants/recherche?q=mar",
            "/habitants/recherche?q=0612", "/arrivees", "/salles"]
    desk += [f"/equipements/{tag}" for tag in tags[:5]]

    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "--chdir", HERE,
         "--log-level", "warning", "wsgi_bench:app"], env=dict(env, DATABASE_URL=url))
    try:
        worker = wait_for_worker(server.pid, port)
        rows = [(0, rss(worker))]
        cookie = log_in(port)
        statuses = Counter()
        marks = {100, 1000, 2500, 5000, 7500, total}
        started = time.perf_counter()
        for n in range(1, total + 1):
            path = public[n // 2 % len(public)] if n % 2 else desk[n // 2 % len(desk)]
            statuses[get(port, path, None if n % 2 else cookie)] += 1
            if n in marks:
                rows.append((n, rss(worker)))
        wall = time.perf_counter() - started
        if worker != the_worker(server.pid):
            raise SystemExit("Le worker a été remplacé pendant la mesure (délai dépassé ?).")
        master = rss(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{total} requêtes (moitié pages publiques, moitié guichet d'un responsable connecté) en {wall:.0f} s ; "
          f"réponses : {', '.join(f'{s} × {k}' for s, k in sorted(statuses.items()))}")
    print("Mémoire résidente du worker gunicorn (VmRSS ; pic VmHWM), en Mio :")
    for n, (resident, peak) in rows:
        print(f"  après {n:>6} requêtes : {resident / 1024:6.1f} ; pic {peak / 1024:6.1f}")
    print(f"  processus maître gunicorn : {master[0] / 1024:.1f}")


def the_worker(master):
    with open(f"/proc/{master}/task/{master}/children") as children:
        pids = children.read().split()
    return int(pids[0]) if pids else None


def wait_for_worker(master, port):
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("HEAD", "/static/none")  # no page: the worker's memory before any of them
            conn.getresponse().read()
            worker = the_worker(master)
            if worker:
                return worker
        except OSError:
            pass
        time.sleep(0.1)  # gunicorn is starting: poll its port
    raise SystemExit("gunicorn ne répond pas.")


def rss(pid):
    """(VmRSS, VmHWM) in KiB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def get(port, path, cookie):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def log_in(port):
    from benchmark import PASSWORD

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/connexion")
    page = conn.getresponse()
    body = page.read().decode()
    cookie = page.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "email": "bench-manager@example.org", "password": PASSWORD})
    conn.request("POST", "/connexion", body=form, headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"Connexion refusée (HTTP {response.status}).")
    return "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie"))


if __name__ == "__main__":
    main()

"""The desk path against its SQL floor (issue 13, goal 2): how much of each desk request is not the database.

    DATABASE_URL=sqlite:////tmp/bench13.sqlite3 python bench/floor.py
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench13 python bench/floor.py --runs 21

For each desk request — the label URL of a device scanned by a logged-in agent (/D/<TAG>), the device
page of the most lent device, the resident search as you type, the desk page, the lend POST and the
take-back POST — it runs the request through the app (in-process WSGI through Flask's test client,
logged in as a reception agent) and records the SQL statements the app sent, with their parameters
(SQLAlchemy's before_cursor_execute). Then it sends the same request (method, path, form) through the
same test client to a bare Flask app whose only route replays exactly those statements on a raw DB-API
connection (all rows fetched; then a rollback: the writes of lend and take-back are never kept). The
first run of each is a warm-up and is dropped; the figures are medians of --runs runs.

    app ms   : the request through the app
    floor ms : the same request through the bare route: Flask and the test client, plus the app's SQL
    ratio    : app / floor; the geometric mean of the ratios sums up the desk path

The floor leaves out the COMMIT of the two writes (they are rolled back), which the app pays.
Lend then take-back return the device to where it was (each lend adds one closed loan to its history).
The site, the users, the device and the borrower are those of bench/desk_and_booking.py (its setup()):
the data must be there already (bench/desk_and_booking.py or bench/benchmark.py generate it).
Timings are reported, never asserted. `--show-sql` prints the statements of each request.
"""
import argparse
import logging
import math
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from benchmark import PASSWORD, db_label
from desk_and_booking import setup
from flask import Flask
from sqlalchemy import event

from core import create_app
from core.extensions import db


class Recorder:
    """The statements the app sends while `on` (before_cursor_execute), with their parameters."""

    def __init__(self):
        self.on = False
        self.statements = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            if executemany:
                parameters = [_copy(p) for p in parameters]
            self.statements.append((statement, _copy(parameters), executemany))

    def end(self, conn):
        """The end of a transaction (commit or rollback): the floor rolls back there."""
        if self.on:
            self.statements.append((END, None, False))


END = "-- end of a transaction"


def _copy(parameters):
    if isinstance(parameters, dict):
        return dict(parameters)
    if isinstance(parameters, list):
        return list(parameters)
    return parameters


def floor_app(raw):
    """A bare Flask app: one route, any path, GET or POST, replays REPLAY on the raw connection, then rolls back."""
    bare = Flask("floor")
    bare.config["REPLAY"] = []

    @bare.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @bare.route("/<path:path>", methods=["GET", "POST"])
    def replay(path):
        cursor = raw.cursor()
        try:
            for statement, parameters, many in bare.config["REPLAY"]:
                if statement is END:
                    raw.rollback()
                elif many:
                    cursor.executemany(statement, parameters)
                else:
                    cursor.execute(statement, parameters)
                if statement is not END and cursor.description is not None:
                    cursor.fetchall()
        finally:
            cursor.close()
            raw.rollback()
        return "ok"

    return bare


def fresh_unique_values(statements, replaced):
    """The statements with the app's one-off values (a form key) replaced: a replayed INSERT must not
    collide with the row the app kept. Same statements, same types and lengths of values."""
    def swap(value):
        return replaced.get(value, value) if isinstance(value, str) else value

    out = []
    for statement, parameters, many in statements:
        if many:
            parameters = [_swap_all(p, swap) for p in parameters]
        else:
            parameters = _swap_all(parameters, swap)
        out.append((statement, parameters, many))
    return out


def _swap_all(parameters, swap):
    if isinstance(parameters, dict):
        return {key: swap(value) for key, value in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(swap(value) for value in parameters)
    return parameters


def desk_requests(w):
    """(label, method, path, form or a function of the run giving it, expected status)."""
    from core import clock

    due = (clock.local_now().date() + timedelta(days=14)).isoformat()

    def lend_form(_n):
        return {"resident": str(w["borrower"]), "due_on": due, "accessories": w["accessories"], "charter": "ticked",
                "condition": "", "form_key": uuid.uuid4().hex}

    back_form = {"site": str(w["site"].id), "accessories": w["accessories"], "condition": "", "data_wiped": "y"}
    return [
        ("Scan de l'étiquette /D/<code> (agent connecté)", "GET", f"/D/{w['tag']}", None, 302),
        (f"Fiche de l'équipement le plus prêté ({w['tag_loans']} prêts)", "GET", f"/equipements/{w['tag']}", None, 200),
        ("Recherche d'habitant « dup » (en tapant)", "GET", "/habitants/recherche?q=dup", None, 200),
        ("Guichet d'une structure", "GET", "/guichet", None, 200),
        ("Prêt : POST du formulaire", "POST", f"/equipements/{w['lendable']}/preter", lend_form, 302),
        ("Reprise : POST du formulaire", "POST", f"/equipements/{w['lendable']}/reprendre", back_form, 302),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this process's CPU time (steadier on a busy machine; on PostgreSQL it leaves "
                        "out the server's work, so compare app and floor with wall time there)")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of each request")
    parser.add_argument("--profile", default="", help="profile the app side of the requests whose label contains this "
                        "text, with pyinstrument when installed, else cProfile (printed after the table)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL : la base de banc d'essai (voir bench/desk_and_booking.py).")
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": "http://localhost",
    })
    logging.getLogger("core.security").setLevel(logging.WARNING)
    with app.app_context():
        world = setup(args)
        db.session.commit()  # the bench users, when they were not there yet
        requests = desk_requests(world)
        engine = db.engine
        db.session.remove()

    clock = time.perf_counter if args.clock == "wall" else time.process_time
    recorder = Recorder()
    event.listen(engine, "before_cursor_execute", recorder)
    event.listen(engine, "commit", recorder.end)
    event.listen(engine, "rollback", recorder.end)
    raw = engine.raw_connection()  # checked out once: the floor pays no pool
    floor = floor_app(raw)
    floor_client = floor.test_client()
    client = app.test_client()
    answer = client.post("/connexion", data={"email": "bench-reception@example.org", "password": PASSWORD})
    if answer.status_code != 302:
        raise SystemExit(f"connexion : HTTP {answer.status_code}")

    profiler = None
    if args.profile:
        try:
            from pyinstrument import Profiler  # not a dependency: `pip install pyinstrument` for a call tree

            profiler = Profiler(interval=0.0005)
        except ImportError:
            import cProfile

            profiler = cProfile.Profile()
            profiler.start, profiler.stop = profiler.enable, profiler.disable

    results = {label: ([], [], []) for label, *_rest in requests}
    for n in range(args.runs + 1):  # run 0 warms the caches and is dropped
        # All the app's requests first, then their floors: the lend is replayed once the device is back.
        done = []
        for label, method, path, form, expected in requests:
            data = form(n) if callable(form) else form
            recorder.statements = []
            profiling = profiler is not None and n > 0 and args.profile.lower() in label.lower()
            if profiling:
                profiler.start()
            recorder.on = True
            t0 = clock()
            answer = client.open(path, method=method, data=data)
            app_ms = (clock() - t0) * 1000
            recorder.on = False
            if profiling:
                profiler.stop()
            if answer.status_code != expected:
                raise SystemExit(f"{label} : HTTP {answer.status_code} (attendu {expected})")
            statements = recorder.statements
            if data and data.get("form_key"):
                statements = fresh_unique_values(statements, {data["form_key"]: uuid.uuid4().hex})
            done.append((label, method, path, data, statements, app_ms))
        for label, method, path, data, statements, app_ms in done:
            floor.config["REPLAY"] = statements
            t0 = clock()
            answer = floor_client.open(path, method=method, data=data)
            floor_ms = (clock() - t0) * 1000
            if answer.status_code != 200:
                raise SystemExit(f"{label} : le rejeu a échoué (HTTP {answer.status_code})")
            if n:
                results[label][0].append(app_ms)
                results[label][1].append(floor_ms)
                results[label][2].append(sum(1 for s in statements if s[0] is not END))
            if args.show_sql and n == 1:
                print(f"\n--- {label}")
                for statement, parameters, _many in statements:
                    print(" ", " ".join(statement.split())[:150], "|", str(parameters)[:120])
    raw.close()

    print(f"\nDatabase: {db_label(url)}; runs per request: {args.runs} (after one warm-up); clock: {args.clock}; "
          f"{world['counts']}\n")
    print(f"{'request':58} {'app ms':>8} {'floor ms':>9} {'ratio':>6} {'SQL':>4}")
    ratios = []
    for label, (app_times, floor_times, counts) in results.items():
        app_ms, floor_ms = statistics.median(app_times), statistics.median(floor_times)
        ratios.append(app_ms / floor_ms)
        print(f"{label:58} {app_ms:8.2f} {floor_ms:9.2f} {app_ms / floor_ms:6.2f} {max(counts):4d}")
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"{'geometric mean of the ratios':58} {'':8} {'':9} {geomean:6.2f}")
    if profiler is not None and hasattr(profiler, "output_text"):
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    elif profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()

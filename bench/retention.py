"""Benchmark of the nightly retention run (issue 12): time per run, SQL statements, batches, and the
longest time one batch held the write transaction, while a "desk" keeps writing.

    # full size (100,000 residents, 1,000,000 loans, 500,000 bookings), generated once and kept:
    DATABASE_URL=sqlite:////tmp/retention_bench.sqlite3 python bench/retention.py
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/retention_bench python bench/retention.py
    # smaller: --residents 20000 --loans 200000 --bookings 100000

It builds the schema with the migrations and tops the database up with `bench-data` (200 sites,
20,000 devices) and `bench-activity` (residents, loans over three years, bookings: seats and
workshop places without a resident record). That history leaves few people idle for two years, so
the script makes a realistic share idle (--idle, 20% by default: residents whose id ends in 0 or 5,
with no open loan, have their loans moved 30 months back), once.

Each measured run works on a copy (SQLite: the file copied; PostgreSQL: CREATE DATABASE … TEMPLATE),
so the data stays as generated: `preview()` (what the admin page computes), then `run_retention()`
(the first run finds everything due), then a second run (idempotent: nothing to do). During each run
a thread plays the desk: a short write transaction (one row) every 50 ms; its slowest wait says how
long the run made the desk wait. Timings are reported, never asserted. Never run it on a real
installation.
"""
import argparse
import os
import shutil
import sys
import threading
import time
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import make_url

from core import create_app
from core.extensions import db


def ledger_of(url) -> str:
    """The erasure ledger of one database: two benchmarks at once must not replay each other's erasures."""
    return f"/tmp/bench_retention_erasures_{make_url(url).get_backend_name()}_{os.path.basename(make_url(url).database)}.jsonl"


def make_app(url):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-retention", "TESTING": False, "DEBUG": True,
                       "QUEUE_URL": "memory://", "ERASURE_LEDGER": ledger_of(url)})


def generate(url, args):
    app = make_app(url)
    with app.app_context():
        upgrade()
        for command in (["bench-data", "--sites", str(args.sites), "--devices", str(args.devices)],
                        ["bench-activity", "--sites", str(args.sites), "--loans", str(args.loans), "--bookings", str(args.bookings),
                         "--residents", str(args.residents)]):
            started = time.perf_counter()
            result = app.test_cli_runner().invoke(args=command)
            print(result.output.strip(), f"({time.perf_counter() - started:.0f} s)")
            if result.exit_code:
                raise SystemExit(result.output)
        make_idle(args.idle)
        db.session.remove()
        db.engine.dispose()


def make_idle(share):
    """Residents whose id ends in 0 or 5 (share 0.2) and who hold no device: loans 30 months earlier."""
    from core.clock import PARIS, now
    from core.residents import Resident
    from loans.models import Loan

    marker = "bench-retention-idle"
    if db.session.scalar(select(func.count()).select_from(Resident).where(Resident.notes == marker)):
        return
    modulo = max(1, round(1 / share)) if share else 0
    if not modulo:
        return
    started = time.perf_counter()
    holding = sa.exists().where(Loan.resident_id == Resident.id, Loan.closed_at.is_(None))
    idle = select(Resident.id).where(Resident.id % modulo == 0, ~holding)
    rows = db.session.execute(select(Loan.id, Loan.started_at, Loan.closed_at).where(Loan.resident_id.in_(idle))).all()
    back = timedelta(days=913)

    changes = [{"b_id": r.id, "s": r.started_at - back, "c": r.closed_at - back,
                "so": (r.started_at - back).astimezone(PARIS).date(), "co": (r.closed_at - back).astimezone(PARIS).date()} for r in rows]
    statement = (update(Loan.__table__).where(Loan.__table__.c.id == sa.bindparam("b_id"))
                 .values(started_at=sa.bindparam("s"), closed_at=sa.bindparam("c"), started_on=sa.bindparam("so"),
                         closed_on=sa.bindparam("co")))
    for start in range(0, len(changes), 5000):
        db.session.connection().execute(statement, changes[start:start + 5000])
    # Their records were created before all that.
    db.session.execute(update(Resident).where(Resident.id.in_(idle)).values(notes=marker, created_at=now() - timedelta(days=5 * 365)))
    db.session.commit()
    print(f"Habitants rendus inactifs : {len(changes)} prêts reculés de 30 mois ({time.perf_counter() - started:.0f} s)")


def copy_of(url) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = parsed.database + ".run"
        for suffix in ("-wal", "-shm"):
            if os.path.exists(target + suffix):
                os.remove(target + suffix)
        shutil.copyfile(parsed.database, target)
        return parsed.set(database=target).render_as_string(hide_password=False)
    name = parsed.database + "_run"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


class Desk(threading.Thread):
    """A short write transaction (one access-trail row, recent: never due) every 50 ms."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app, self.stop, self.waits = app, threading.Event(), []

    def run(self):
        from core.clock import now
        from core.privacy.models import AccessAction, AccessRecord

        with self.app.app_context():
            engine = db.engine
            while not self.stop.is_set():
                began = time.perf_counter()
                with engine.begin() as conn:
                    conn.execute(insert(AccessRecord).values(action=AccessAction.login, at=now()))
                self.waits.append(time.perf_counter() - began)
                self.stop.wait(0.05)


def measure(url, args):
    from core.privacy import retention

    if os.path.exists(ledger_of(url)):  # a former measure's erasures: the copy would replay them all
        os.remove(ledger_of(url))
    app = make_app(url)
    with app.app_context():
        statements, holds, opened = [], [], {}
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))

        # How long each write transaction held the lock: from its BEGIN (IMMEDIATE on SQLite, after
        # core/db.py's listener has taken the lock) to its COMMIT; the read-only scan is left out.
        @event.listens_for(db.engine, "begin")
        def began(conn):
            if not conn.get_execution_options().get("read_only"):
                opened[id(conn)] = time.perf_counter()

        @event.listens_for(db.engine, "commit")
        def committed(conn):
            if id(conn) in opened:
                holds.append(time.perf_counter() - opened.pop(id(conn)))

        @event.listens_for(db.engine, "rollback")
        def rolled_back(conn):
            opened.pop(id(conn), None)

        started = time.perf_counter()
        seen = retention.preview()
        print(f"  preview : {time.perf_counter() - started:.2f} s, {len(statements)} statements ; {seen.counts}")
        for label in ("1st run", "2nd run"):
            statements.clear()
            holds.clear()
            desk = Desk(app)
            desk.start()
            report = retention.run_retention(batch_size=args.batch_size)
            desk.stop.set()
            desk.join()
            run_holds = sorted(holds)  # the desk's own transactions are in there too: one row each, fast
            desk_holds = len(desk.waits)
            times = sorted(report.batch_times)
            median = times[len(times) // 2] if times else 0
            print(f"  {label}: {report.seconds:.1f} s, {len(statements)} statements, {report.batches} batches of up to "
                  f"{args.batch_size}, longest batch {report.longest_batch:.3f} s (median {median:.3f} s, with what follows "
                  f"the commit), longest write transaction {max(run_holds, default=0):.3f} s ({desk_holds} of them the desk's); "
                  f"desk: {len(desk.waits)} writes, slowest {max(desk.waits, default=0):.3f} s; counts {report.counts}")
        db.session.remove()
        db.engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--devices", type=int, default=20000)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--idle", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--skip-generate", action="store_true", help="the database is already filled")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or "sqlite:////tmp/retention_bench.sqlite3"
    if make_url(url).get_backend_name() == "postgresql":
        admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (make_url(url).database,)).first():
                conn.exec_driver_sql(f'CREATE DATABASE "{make_url(url).database}"')
        admin.dispose()
    if not args.skip_generate:
        generate(url, args)
    else:
        app = make_app(url)
        with app.app_context():
            upgrade()
            make_idle(args.idle)
            db.session.remove()
            db.engine.dispose()
    print(f"{make_url(url).get_backend_name()} ({make_url(url).database}):")
    measure(copy_of(url), args)


if __name__ == "__main__":
    main()

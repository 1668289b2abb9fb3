"""Benchmark of the messages' periodic sweep (issue 11): seconds and SQL statements, whatever the history.

    DATABASE_URL=sqlite:////tmp/bench_messages.sqlite3 python bench/messages_sweep.py --loans 100000 --json /tmp/bench_messages.json
    DATABASE_URL=sqlite:////tmp/bench_messages.sqlite3 python bench/messages_sweep.py --loans 1000000 --json /tmp/bench_messages.json
    python bench/messages_sweep.py --loans 100000 1000000          # both sizes in one run (tops up in between)

It builds the schema with the migrations and tops the database up with the tooling of
bench/desk_and_booking.py (`bench-data`: 200 sites, 20,000 devices; `bench-activity`: 200,000 residents,
--loans past loans, 500,000 bookings). Then it gives the planners work, every run the same:
--planned open loans on free devices of the sites whose residents' numbers are readable (a third due
tomorrow, a third one day late, a third seven days late), --bookings-tomorrow seat bookings for
tomorrow written through the real booking writer two days earlier (their confirmation counted as
sent, their reminder due at the sweep), a daily digest for the managers of --digest-sites sites.
The loan messages of a former run at the same moment are deleted and the booking reminders put back
in the queue, so a second run measures the same thing.

With the clock frozen at 17:30 (Paris) on the last day SMS may go (today, or before a Sunday or a
public holiday), it times with the number of SQL statements (`before_cursor_execute` on the engine):
each planner of core/messaging/writing.py once (it writes the messages) and again (idempotent: it
writes none), then one full `sweep()` with no MAIL_SERVER and no SMS_API_KEY (each message becomes
`kept`), split into its fixed part and each batch of MESSAGE_BATCH messages. A planner's first pass
sends its INSERT in pages of 1,000 rows (one statement each): it follows the messages written, never
the history. One run each, the first one cold: timings are reported, never asserted. --json keeps the results of each size in a file and
prints them side by side. Never run it on a real installation.
"""
import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as day_time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from benchmark import db_label
from desk_and_booking import Counter, load
from flask_migrate import upgrade
from sqlalchemy import delete, event, func, select, update

from core import clock, create_app
from core.clock import PARIS
from core.extensions import db
from core.messaging import sending, writing
from core.messaging.models import Message, MessageKind, MessageSettings, MessageStatus
from core.messaging.timing import is_public_holiday

LOAN_MARK = "bench-messages-"  # form_key of the open loans this script lends
BOOKING_MARK = "Banc rappel"  # first name of the bookings of tomorrow it writes
SWEEP_AT = day_time(17, 30)  # after the default reminder time (17:00), before the SMS curfew (20:00)
PLANNED_KINDS = (MessageKind.loan_due, MessageKind.loan_overdue, MessageKind.staff_digest)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--devices", type=int, default=20000)
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--loans", type=int, nargs="+", default=[1_000_000], help="one size or several (each tops up the last)")
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--planned", type=int, default=3000, help="open loans due tomorrow, 1 and 7 days late (a third each)")
    parser.add_argument("--bookings-tomorrow", type=int, default=400)
    parser.add_argument("--digest-sites", type=int, default=20, help="sites whose managers get the daily digest")
    parser.add_argument("--skip-load", action="store_true", help="measure the data already there")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading (planner statistics)")
    parser.add_argument("--json", default="", help="file keeping the results of each size (printed side by side)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": "http://localhost",
        # Nothing configured: every message is kept in the database (the demo's and a bare centre's case).
        "MAIL_SERVER": "", "SMS_API_KEY": "", "QUEUE_URL": "memory://",
    })
    logging.getLogger("core.security").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
    results = []
    for size in sorted(args.loans):
        with app.app_context():
            if not args.skip_load:
                started = time.perf_counter()
                load(app, argparse.Namespace(sites=args.sites, devices=args.devices, residents=args.residents,
                                             loans=size, bookings=args.bookings))
                print(f"(chargement : {time.perf_counter() - started:.0f} s)")
            at = sweep_moment()
            started = time.perf_counter()
            prepared = prepare(args, at)
            print(f"Préparation : {prepared} ({time.perf_counter() - started:.0f} s)")
            if args.analyze:
                db.session.commit()
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
                    conn.commit()
            sizes = database_sizes()
            db.session.remove()
            result = {"url": db_label(url), "at": at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M"), **sizes,
                      "batch": int(app.config.get("MESSAGE_BATCH", 20)), "rows": measure(app, at)}
        print_result(result)
        results.append(result)
    if args.json:
        results = keep(args.json, results)
    if len(results) > 1:
        print_side_by_side(results)


# --- the data ----------------------------------------------------------------------------------


def sweep_moment() -> datetime:
    """17:30 in Paris on the last day an SMS may go (not a Sunday, not a public holiday), in UTC."""
    day = clock.today()
    while day.weekday() == 6 or is_public_holiday(day):
        day -= timedelta(days=1)
    return datetime.combine(day, SWEEP_AT, tzinfo=PARIS).astimezone(UTC)


def prepare(args, at: datetime) -> str:
    from core.contacts import sms_number
    from core.residents import Resident, resident_sites
    from loans.bench import ensure_sites

    site_ids = ensure_sites(args.sites)
    # The sites whose residents' numbers can be read (all of bench-activity's today): a loan to
    # someone with no readable contact gets no message, and the planned loans are meant to get one.
    sample = dict(db.session.execute(
        select(resident_sites.c.site_id, func.min(Resident.phone))
        .join(Resident, Resident.id == resident_sites.c.resident_id)
        .where(resident_sites.c.site_id.in_(site_ids)).group_by(resident_sites.c.site_id)
    ).all())
    reachable = [site_id for site_id in site_ids if sms_number(sample.get(site_id))]
    loans = plan_loans(args.planned, reachable, at)
    digests = plan_digests(site_ids[:args.digest_sites])
    bookings = plan_bookings(args.bookings_tomorrow, site_ids, at)
    # A former run at the same moment: its loan messages go, the booking reminders wait again.
    removed = db.session.execute(
        delete(Message).where(Message.kind.in_(PLANNED_KINDS), Message.created_at >= at - timedelta(seconds=1),
                              Message.created_at <= at + timedelta(seconds=1))
    ).rowcount
    db.session.commit()
    return (f"{loans} prêts ouverts préparés sur {len(reachable)} structures, {bookings} réservations demain, "
            f"{digests} résumés d'équipe ; {removed} messages d'un passage précédent effacés")


def plan_loans(count: int, site_ids: list[int], at: datetime) -> int:
    """`count` open loans (lent by this script, on free devices), dated from `at`: a third due tomorrow,
    a third one day late, a third seven days late."""
    from core.residents import resident_sites
    from loans.models import Device, DeviceStatus, Loan
    from reports.bench import _at

    day = at.astimezone(PARIS).date()
    mine = dict(db.session.execute(
        select(Loan.form_key, Loan.id).where(Loan.form_key.like(LOAN_MARK + "%"), Loan.closed_at.is_(None))
    ).all())
    missing = [n for n in range(count) if f"{LOAN_MARK}{n:06d}" not in mine]
    if missing:
        open_loan = select(Loan.id).where(Loan.device_id == Device.id, Loan.closed_at.is_(None)).exists()
        free = db.session.execute(
            select(Device.id, Device.home_site_id)
            .where(Device.home_site_id.in_(site_ids), Device.status == DeviceStatus.available, ~open_loan)
            .order_by(Device.id).limit(len(missing))
        ).all()
        people = {}
        for site_id, resident_id in db.session.execute(
            select(resident_sites.c.site_id, resident_sites.c.resident_id).where(resident_sites.c.site_id.in_(site_ids))
        ):
            people.setdefault(site_id, []).append(resident_id)
        rows = []
        for n, (device_id, site_id) in zip(missing, free, strict=False):
            residents = people[site_id]
            rows.append(dict(
                device_id=device_id, resident_id=residents[n % len(residents)], site_id=site_id, lent_by_id=None,
                started_at=_at(day, 10), due_on=day, accessories_out="Chargeur", condition_out="", charter_method="ticked",
                override_reason="", form_key=f"{LOAN_MARK}{n:06d}", closed_at=None, outcome=None, closed_site_id=None,
                closed_by_id=None, accessories_missing="", condition_in="", damaged=False, data_wiped=None,
                started_on=day, closed_on=None,
            ))
        for start in range(0, len(rows), 5000):
            db.session.execute(Loan.__table__.insert(), rows[start:start + 5000])
            db.session.execute(update(Device).where(Device.id.in_([r["device_id"] for r in rows[start:start + 5000]]))
                               .values(status=DeviceStatus.on_loan))
        mine = dict(db.session.execute(
            select(Loan.form_key, Loan.id).where(Loan.form_key.like(LOAN_MARK + "%"), Loan.closed_at.is_(None))
        ).all())
    dated = []
    for form_key, loan_id in mine.items():
        due = day + timedelta(days=(1, -1, -7)[int(form_key[len(LOAN_MARK):]) % 3])
        started_on = due - timedelta(days=14)
        dated.append({"id": loan_id, "due_on": due, "started_on": started_on, "started_at": _at(started_on, 10)})
    if dated:
        db.session.execute(update(Loan), dated)
    return len(dated)


def plan_digests(site_ids: list[int]) -> int:
    for site_id in site_ids:
        settings = db.session.get(MessageSettings, site_id)
        if settings is None:
            settings = writing.default_settings(site_id)
            db.session.add(settings)
        settings.digest_to = f"responsable.{site_id}@example.org"
    db.session.flush()
    return len(site_ids)


def plan_bookings(count: int, site_ids: list[int], at: datetime) -> int:
    """`count` seats booked tomorrow, two days ago, through the booking writer: the confirmation was
    sent then (kept), the reminder of the day before is due at the sweep."""
    from reports.bench import _at
    from reservations.ledger import insert_booking
    from reservations.models import Booking, BookingState, Room

    tomorrow = at.astimezone(PARIS).date() + timedelta(days=1)
    mine = select(Booking.id).where(Booking.first_name == BOOKING_MARK, Booking.starts_at >= _at(tomorrow, 0),
                                    Booking.starts_at < _at(tomorrow + timedelta(days=1), 0))
    have = len(db.session.scalars(mine).all())
    if have < count:
        rooms = db.session.execute(select(Room.id, Room.site_id).where(Room.site_id.in_(site_ids)).order_by(Room.id)).all()
        with clock.frozen(at - timedelta(days=2)):
            for n in range(have, count):
                room_id, site_id = rooms[n % len(rooms)]
                starts_at, phone = _at(tomorrow, 14 + n % 3), f"0612{n:06d}"
                booking, token = insert_booking(
                    site_id=site_id, room_id=room_id, workshop_id=None, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
                    state=BookingState.confirmed, first_name=BOOKING_MARK, phone=phone, email="", contact_key=phone,
                    created_by_id=None)
                writing.write_booking_confirmed(booking_id=booking.id, site_id=site_id, token=token)
        db.session.execute(
            update(Message).where(Message.booking_id.in_(mine), Message.kind == MessageKind.booking_confirmed)
            .values(status=MessageStatus.kept).execution_options(synchronize_session=False)
        )
    db.session.execute(
        update(Message).where(Message.booking_id.in_(mine), Message.kind == MessageKind.booking_reminder)
        .values(status=MessageStatus.pending, attempts=0, claimed_by="", claimed_at=None, sent_at=None, last_error="")
        .execution_options(synchronize_session=False)
    )
    return max(have, count)


def database_sizes() -> dict:
    from core.residents import Resident
    from loans.models import Loan
    from reservations.models import Booking

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    return {"loans": count(Loan), "open_loans": count(Loan, Loan.closed_at.is_(None)), "bookings": count(Booking),
            "residents": count(Resident), "messages": count(Message)}


# --- the measures ------------------------------------------------------------------------------


def measure(app, at: datetime) -> list:
    """[(label, messages, seconds, statements)]: each planner twice, then one sweep and its batches."""
    rows = []
    with app.app_context(), clock.frozen(at):
        for planner in sending.planners():
            for run in ("1er passage", "2e passage"):
                before = message_count()
                seconds, statements, _said = timed(lambda planner=planner: (planner(at), db.session.commit())[0])
                # The rows really inserted (a planner returns the rows it offered; a known key inserts nothing).
                rows.append((f"{planner.__name__}, {run}", message_count() - before, seconds, statements))
        rows.extend(measure_sweep())
    return rows


def message_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(Message))
    db.session.commit()
    return count


def timed(fn):
    db.session.remove()
    counter = Counter()
    event.listen(db.engine, "before_cursor_execute", counter)
    started = time.perf_counter()
    try:
        value = fn()
    finally:
        seconds = time.perf_counter() - started
        event.remove(db.engine, "before_cursor_execute", counter)
    return seconds, counter.n, value


def measure_sweep() -> list:
    """One sweep(); each call of claim_batch is marked, so each batch (its claim and its sendings) is
    measured apart from the fixed part (stale claims, the planners, the last, empty, claim)."""
    from flask import current_app

    size = int(current_app.config.get("MESSAGE_BATCH", 20))
    due = db.session.scalar(select(func.count()).select_from(Message).where(
        Message.status == MessageStatus.pending, Message.not_before <= clock.now()))
    marks, counter, original = [], Counter(), sending.claim_batch

    def claim_batch(by, size):
        marks.append([counter.n, time.perf_counter(), 0])
        ids = original(by, size)
        marks[-1][2] = len(ids)
        return ids

    db.session.remove()
    sending.claim_batch = claim_batch
    event.listen(db.engine, "before_cursor_execute", counter)
    started = time.perf_counter()
    try:
        handled = sending.sweep()
    finally:
        seconds = time.perf_counter() - started
        event.remove(db.engine, "before_cursor_execute", counter)
        sending.claim_batch = original
    # Batch i: from its claim to the next claim (the last claim finds nothing and ends the sweep).
    batches = [(b[0] - a[0], b[1] - a[1], a[2]) for a, b in zip(marks, marks[1:], strict=False)]
    full = [(n, s) for n, s, taken in batches if taken == size]
    rows = [(f"sweep() complet ({due} messages dus, {len(batches)} lots)", handled, seconds, counter.n),
            ("  dont part fixe (baux, planificateurs, dernier lot vide)", 0,
             seconds - sum(s for _n, s, _t in batches), counter.n - sum(n for n, _s, _t in batches))]
    if full:
        counts = sorted({n for n, _s in full})
        spread = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} à {counts[-1]}"
        rows.append((f"  par lot plein (médiane de {len(full)} lots ; requêtes de chacun : {spread})", size,
                     statistics.median(s for _n, s in full), int(statistics.median(n for n, _s in full))))
    return rows


# --- printing ----------------------------------------------------------------------------------


def print_result(result: dict) -> None:
    print(f"\nBase : {result['url']} ; prêts : {_n(result['loans'])} (ouverts : {_n(result['open_loans'])}) ; "
          f"réservations : {_n(result['bookings'])} ; habitants : {_n(result['residents'])} ; "
          f"messages en base : {_n(result['messages'])}")
    print(f"Horloge figée au {result['at']} (Paris) ; lots de {result['batch']} messages ; une mesure chacune\n")
    print(f"{'mesure':70} {'messages':>8} {'secondes':>9} {'requêtes':>9}")
    for label, messages, seconds, statements in result["rows"]:
        print(f"{label:70} {messages:8d} {seconds:9.3f} {statements:9d}")


def print_side_by_side(results: list) -> None:
    results = sorted(results, key=lambda r: r["loans"])
    print("\nCôte à côte (secondes / requêtes) :")
    head = "".join(f"{_n(r['loans']) + ' prêts':>30}" for r in results)
    print(f"{'mesure':44}{head}")
    for index, row in enumerate(results[-1]["rows"]):
        label = row[0].split(" (")[0][:44]
        cells = ""
        for r in results:
            if index < len(r["rows"]):
                _label, messages, seconds, statements = r["rows"][index]
                cells += f"{f'{seconds:.3f} s / {statements} ({messages} msg)':>30}"
        print(f"{label:44}{cells}")


def keep(path: str, results: list) -> list:
    """The results of every size measured (this run's replace a former one of the same size)."""
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            kept = json.load(f)
    sizes = {r["loans"] for r in results}
    kept = [r for r in kept if r["loans"] not in sizes] + results
    with open(path, "w") as f:
        json.dump(kept, f, indent=1)
    return kept


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


if __name__ == "__main__":
    main()

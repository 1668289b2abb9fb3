"""Backups that restore (core/backup.py, `flask backup` / `flask restore`), on SQLite and PostgreSQL.

The drill: a live database (the hand-built network of tests/reports/dataset.py, made through the real
use cases) with writers lending, taking back and booking in their own transactions; a backup taken
while they write; the backup read on its own (a copy of the SQLite file, or the dump pg_restored into
a scratch database); the live database damaged; `restore`; then every table's rows and every report
figure are those of the backup.

Each test has its own database (the `database_url` fixture below replaces the session's): a restore
replaces a whole database, and a drill that failed half-way must not leave a broken one to the next test.
"""
import dataclasses
import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from datetime import date, datetime
from decimal import Decimal

import flask_migrate
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core import backup, clock, create_app
from core.clock import PARIS
from core.extensions import db as _db
from core.models import Site, User
from core.privacy import erasure
from core.privacy.models import ErasureCause, ErasureRecord
from core.residents import Resident
from loans import lending
from loans.models import DeviceStatus
from reports import figures
from reports.periods import Period
from reservations import bookings, ledger
from reservations.identity import Contact
from reservations.models import Booking
from tests.conftest import PG_URL, base_config, scratch_database
from tests.core.test_migrations import keep_logging_as_it_was  # noqa: F401  (migrations/env.py reconfigures logging)
from tests.reports.conftest import march  # noqa: F401  (the hand-built network of tests/reports/dataset.py)

REPORT_TODAY = date(2026, 5, 1)  # the writers work on 10 April (the frozen clock): April is complete here
KEEP = 3


def stamp_head():
    """create_all() plus the schema version, as `flask db upgrade` leaves a database."""
    head = backup._migrations().get_current_head()
    with _db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, PRIMARY KEY (version_num))")
        conn.exec_driver_sql(f"INSERT INTO alembic_version (version_num) VALUES ('{head}')")


@pytest.fixture
def database_url(tmp_path):
    with scratch_database(str(tmp_path), name="backup") as url:
        app = create_app(base_config(url))
        with app.app_context():
            _db.create_all()
            stamp_head()
            _db.engine.dispose()
        yield url


@pytest.fixture
def app_config(tmp_path):
    return {"BACKUP_DIR": str(tmp_path / "backups"), "BACKUP_KEEP": KEEP}


# --- what is compared ----------------------------------------------------------------------------


def table_names() -> set[str]:
    return set(sa.inspect(_db.engine).get_table_names())


def every_row() -> dict[str, list]:
    """Every row of every table of the app (those that exist), and the schema version, sorted."""
    rows, present = {}, table_names()
    with _db.engine.connect() as conn:
        for table in _db.metadata.sorted_tables:
            if table.name not in present:
                continue
            rows[table.name] = sorted(conn.execute(sa.select(table)).all(), key=repr)
        rows["alembic_version"] = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return rows


def plain(value):
    """A report (dataclasses of tables, lines and lazy French labels) as plain comparable values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {repr(key): plain(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | Decimal | date):
        return value
    return str(value)


def report_figures() -> dict:
    """Both sites' dashboards (April, March, the year), the network and the funder report."""
    sites = list(_db.session.scalars(sa.select(Site).order_by(Site.id)))
    out = {}
    for period in (Period.month(2026, 4), Period.month(2026, 3), Period.year(2026)):
        for site in sites:
            out[(site.name, period.key)] = plain(figures.site_dashboard(site, period, REPORT_TODAY, str))
        out[("network", period.key)] = plain(figures.network(sites, period, REPORT_TODAY, True))
    out["funder"] = plain(figures.funder(sites, 2026, REPORT_TODAY, True))
    return out


def state() -> dict:
    _db.session.remove()
    try:
        return {"tables": table_names(), "rows": every_row(), "figures": report_figures()}
    finally:
        _db.session.remove()  # on SQLite, the session's transaction holds the write lock (core/db.py)


def counts(rows: dict) -> dict[str, int]:
    return {name: len(table) for name, table in rows.items()}


def state_of_backup(path, tmp_path) -> dict:
    """The backup read on its own: a copy of the SQLite file, or the dump restored into a scratch database."""
    with scratch_database(str(tmp_path), name="copy") as url:
        if PG_URL:
            target = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", path], check=True)
        else:
            shutil.copyfile(path, make_url(url).database)  # a copy: opening the backup itself would change it
        copy = create_app(base_config(url))
        with copy.app_context():
            try:
                return state()
            finally:
                _db.session.remove()
                _db.engine.dispose()


# --- writers -------------------------------------------------------------------------------------


class Writers:
    """Two threads, each in its own app context (session, connection) and transactions: one lends D1 to
    R2 and takes it back, one books seats of next Tuesday at the desk and cancels most of them."""

    def __init__(self, app, ids):
        self.app, self.ids = app, ids
        self.stop = threading.Event()
        self.errors = []
        works = (self._lend_and_return, self._book_and_cancel)
        self.progress = {work.__name__: threading.Semaphore(0) for work in works}
        self.threads = [threading.Thread(target=self._run, args=(work,)) for work in works]

    def __enter__(self):
        _db.session.remove()  # the test's own transaction may hold SQLite's write lock
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def wait_for(self, operations: int) -> None:
        """Until each writer has committed this many more transactions."""
        for progress in self.progress.values():
            for _ in range(operations):
                assert progress.acquire(timeout=60), "writers stuck"
                assert self.errors == []

    def _run(self, work):
        with self.app.app_context():
            try:
                work()
            except Exception as exc:  # reported by the test
                self.errors.append(repr(exc))
                self.progress[work.__name__].release()
            finally:
                _db.session.remove()

    def _commit(self, work):
        _db.session.commit()
        self.progress[work].release()

    def _lend_and_return(self):
        ids = self.ids
        while not self.stop.is_set():
            agent, resident = _db.session.get(User, ids["agent"]), _db.session.get(Resident, ids["resident"])
            lending.lend(agent, ids["device"], resident, due_on=date(2026, 4, 20), accessories=[], charter_method="ticked")
            self._commit("_lend_and_return")
            lending.take_back(agent, ids["device"], site_id=ids["site"], accessories_returned=[], data_wiped=True)
            self._commit("_lend_and_return")

    def _book_and_cancel(self):
        ids = self.ids
        n = 0
        while not self.stop.is_set():
            agent = _db.session.get(User, ids["agent"])
            starts = datetime(2026, 4, 14, 14 + n % 3, 0, tzinfo=PARIS)
            contact = Contact(phone=f"0620{n:06d}", email="")
            try:
                booking = bookings.book_seat(ids["room"], starts, "Personne", contact, actor=agent)[0]
                self._commit("_book_and_cancel")
            except ledger.FullError:
                _db.session.rollback()
            else:
                if n >= 3:  # the first three stay booked
                    bookings.cancel(booking.id, agent)
                    self._commit("_book_and_cancel")
            n += 1


def damage(device_id: int) -> None:
    """Rows deleted in several tables, names changed, a table dropped."""
    d1_loans = f"SELECT id FROM loans WHERE device_id = {device_id}"
    with _db.engine.begin() as conn:
        for statement in (
            f"DELETE FROM messages WHERE loan_id IN ({d1_loans})",
            f"DELETE FROM device_events WHERE loan_id IN ({d1_loans}) OR device_id = {device_id}",
            f"DELETE FROM device_missing_accessories WHERE loan_id IN ({d1_loans})",
            f"DELETE FROM loans WHERE device_id = {device_id}",
            "DELETE FROM booking_events",
            "UPDATE residents SET first_name = 'Abîmé'",
            "DROP TABLE access_records",
        ):
            conn.exec_driver_sql(statement)


def consistent(rows: dict, device_id: int) -> bool:
    """D1 is on loan in the copy exactly when the copy holds an open loan of D1 (one transaction's state)."""
    status = {row.id: row.status for row in rows["devices"]}[device_id]
    open_loans = [row for row in rows["loans"] if row.device_id == device_id and row.closed_at is None]
    return len(open_loans) <= 1 and (status == DeviceStatus.on_loan) == bool(open_loans)


# --- the drill -----------------------------------------------------------------------------------


def test_restore_drill_under_writes(app, runner, march, tmp_path):  # noqa: F811
    ids = {"agent": march.reception_a.id, "resident": march.R2.id, "device": march.D1.id, "site": march.a.id, "room": march.room.id}
    with Writers(app, ids) as writers:
        writers.wait_for(6)
        made = runner.invoke(args=["backup"])
        assert made.exit_code == 0, made.output
        path = made.output.strip().splitlines()[-1]
        writers.wait_for(6)  # the live database goes on after the backup
    assert writers.errors == []

    saved = state_of_backup(path, tmp_path)
    assert consistent(saved["rows"], ids["device"])
    live = state()
    assert counts(live["rows"]) != counts(saved["rows"])  # written after the backup
    assert saved["rows"]["loans"] and saved["rows"]["bookings"]

    damage(ids["device"])
    assert "access_records" not in table_names()
    damaged = every_row()
    assert all(counts(damaged)[name] < counts(live["rows"])[name] for name in ("loans", "device_events", "booking_events"))

    restored = runner.invoke(args=["restore", "--yes", path])
    assert restored.exit_code == 0, restored.output
    assert restored.output.strip().splitlines()[-1] == f"Base restaurée depuis {path}"

    after = state()
    assert after["tables"] == saved["tables"]
    assert counts(after["rows"]) == counts(saved["rows"])
    assert after["rows"] == saved["rows"]
    assert after["figures"] == saved["figures"]
    assert after["figures"] != live["figures"]  # the figures do see the writes: the comparison means something


# --- the commands ----------------------------------------------------------------------------------


def run_backup(runner) -> str:
    made = runner.invoke(args=["backup"])
    assert made.exit_code == 0, made.output
    return made.output.strip().splitlines()[-1]


def test_backup_prints_its_path_last_keeps_the_last_ones_and_nothing_else(app, runner, make_site):
    make_site("Centre A")
    directory = app.config["BACKUP_DIR"]
    os.makedirs(directory)
    others = ["notes.txt", "centres-avant-migration.sqlite3", "centres-20200101T000000Z.sqlite3.bak", "autre-20200101T000000Z.dump"]
    for name in others:
        with open(os.path.join(directory, name), "w") as file:
            file.write("à garder")
    extension = "dump" if PG_URL else "sqlite3"
    paths = []
    for day, hour in ((1, 3), (2, 3), (3, 3), (3, 3), (4, 3)):  # two in the same second on the 3rd
        with clock.frozen(datetime(2026, 12, day, hour, 15, tzinfo=PARIS)):
            paths.append(run_backup(runner))
    utc_hour = 2  # 03:15 in Paris in December is 02:15 UTC
    assert [os.path.basename(p) for p in paths] == [
        f"centres-20261201T0{utc_hour}1500Z.{extension}", f"centres-20261202T0{utc_hour}1500Z.{extension}",
        f"centres-20261203T0{utc_hour}1500Z.{extension}", f"centres-20261203T0{utc_hour}1500Z-2.{extension}",
        f"centres-20261204T0{utc_hour}1500Z.{extension}",
    ]
    assert all(os.path.dirname(p) == os.path.abspath(directory) for p in paths)
    assert sorted(os.listdir(directory)) == sorted(others + [os.path.basename(p) for p in paths[-KEEP:]])
    for path in paths[-KEEP:]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert backup.check_backup(path) == backup._migrations().get_current_head()


def test_the_default_directory_is_instance_backups(app):
    app.config["BACKUP_DIR"] = ""
    assert backup.backup_dir() == os.path.join(app.instance_path, "backups")


def write_sqlite_without_version(path):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE sites (id INTEGER PRIMARY KEY)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("kind", ["text", "sqlite-of-another-app", "unknown-version", "missing"])
def test_restore_refuses_what_is_not_a_backup_of_this_app(app, runner, make_site, tmp_path, kind):
    make_site("Centre A")
    path = str(tmp_path / "fichier")
    if kind == "text":
        with open(path, "w") as file:
            file.write("ceci n'est pas une sauvegarde\n" * 100)
        expected = "n'est pas une base SQLite" if not PG_URL else "n'est pas une sauvegarde pg_dump"
    elif kind == "sqlite-of-another-app":
        write_sqlite_without_version(path)
        expected = "pas de table alembic_version" if not PG_URL else "est une sauvegarde SQLite, or la base configurée est PostgreSQL"
    elif kind == "unknown-version":
        with _db.engine.begin() as conn:
            head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
        path = run_backup(runner)
        with _db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
        expected = "version de l'application inconnue ici (schéma f00dfeedbeef)"
    else:
        expected = "fichier introuvable"
    _db.session.remove()
    before = every_row()

    refused = runner.invoke(args=["restore", "--yes", path])

    assert refused.exit_code == 1
    assert expected in refused.output
    assert every_row() == before


def test_restore_asks_before_replacing_the_database(app, runner, make_site):
    make_site("Centre A")
    path = run_backup(runner)
    make_site("Centre B")
    _db.session.remove()
    before = every_row()

    refused = runner.invoke(args=["restore", path], input="n\n")
    assert refused.exit_code == 1 and "Remplacer toute la base" in refused.output and "Aborted" in refused.output
    assert every_row() == before

    accepted = runner.invoke(args=["restore", path], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert [site.name for site in _db.session.scalars(sa.select(Site))] == ["Centre A"]


@pytest.mark.parametrize("ledger", ["kept", "lost"])
def test_restore_erases_again_whoever_was_erased_after_the_backup(app, runner, march, ledger):  # noqa: F811
    """From the ledger file, or — the file lost — from the records of the database being replaced."""
    r2, q = march.R2.id, march.seat_q.id
    path = run_backup(runner)
    erasure.erase_resident(march.admin, r2, reason="Demande de la personne")
    q_key = _db.session.get(Booking, q).contact_key
    erasure.anonymise_contacts([q_key], cause=ErasureCause.request)
    _db.session.commit()
    _db.session.remove()
    if ledger == "lost":
        os.remove(app.config["ERASURE_LEDGER"])

    restored = runner.invoke(args=["restore", "--yes", path])

    assert restored.exit_code == 0, restored.output
    assert "habitants : 1, contacts de réservation : 1" in restored.output
    resident = _db.session.get(Resident, r2)
    assert resident.anonymised_at is not None and resident.first_name == "" and resident.phone == ""
    assert _db.session.get(Booking, q).contact_key.startswith(erasure.PSEUDONYM_PREFIX)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(ErasureRecord)) == 2


def test_backup_without_pg_dump_says_so(app, runner, tmp_path, monkeypatch):
    # A PostgreSQL installation (named only: pg_dump is looked for before anything is connected to).
    monkeypatch.setattr(backup, "_url", lambda: make_url("postgresql+psycopg://centres@127.0.0.1:5432/centres"))
    monkeypatch.setenv("PATH", str(tmp_path))
    failed = runner.invoke(args=["backup"])
    assert failed.exit_code == 1
    assert "La commande pg_dump est introuvable" in failed.output
    assert backup.backups(app.config["BACKUP_DIR"]) == []
    assert not os.path.exists(app.config["BACKUP_DIR"]) or os.listdir(app.config["BACKUP_DIR"]) == []


def test_the_password_goes_through_the_environment_only():
    args, env = backup.libpq_arguments("postgresql+psycopg://centres:s%40cr%C3%A9t@db.example:5433/centres?sslmode=require")
    assert args == ["--host=db.example", "--port=5433", "--username=centres", "--dbname=centres"]
    assert env["PGPASSWORD"] == "s@crét" and env["PGSSLMODE"] == "require"
    assert not any("s@cr" in arg or "s%40" in arg for arg in args)
    socket_args, socket_env = backup.libpq_arguments("postgresql+psycopg://centres@/centres?host=/run/postgresql")
    assert socket_args == ["--host=/run/postgresql", "--username=centres", "--dbname=centres"]
    assert "PGPASSWORD" not in socket_env


def test_a_backup_of_an_older_version_is_restored_then_brought_up_to_date(app, runner, make_site, tmp_path, keep_logging_as_it_was):
    """The backup comes from the version before the last migration: restore replaces the whole database
    (on PostgreSQL, the tables made since are dropped too, or their foreign keys would stop pg_restore),
    then upgrades the schema."""
    make_site("Centre A")
    head = backup._migrations().get_current_head()
    parent = backup._migrations().get_revision(head).down_revision
    parent = parent[0] if isinstance(parent, tuple) else parent
    with scratch_database(str(tmp_path), name="old") as url:
        old = create_app(base_config(url, BACKUP_DIR=str(tmp_path / "old-backups")))
        with old.app_context():
            flask_migrate.upgrade(revision=parent)
            with _db.engine.begin() as conn:
                conn.execute(Site.__table__.insert().values(name="Centre d'avant"))  # sites: the same in both versions
            made = old.test_cli_runner().invoke(args=["backup"])
            assert made.exit_code == 0, made.output
            _db.engine.dispose()
    path = made.output.strip().splitlines()[-1]
    assert backup.check_backup(path) == parent
    _db.session.remove()

    restored = runner.invoke(args=["restore", "--yes", path])

    assert restored.exit_code == 0, restored.output
    assert f"Schéma mis à jour depuis la version {parent}." in restored.output
    assert table_names() == set(_db.metadata.tables) | {"alembic_version"}
    rows = every_row()
    assert rows["alembic_version"] == [(head,)]
    assert [row.name for row in rows["sites"]] == ["Centre d'avant"]

"""Backups that restore: a consistent copy of the database in BACKUP_DIR, and its way back.

- SQLite: Python's online backup API (`sqlite3.Connection.backup`) copies the whole database in one
  step from a read snapshot: the copy is consistent while the app writes (WAL mode, core/db.py: the
  writers are not stopped). The copy is a single file in rollback-journal mode.
- PostgreSQL: `pg_dump --format=custom` (a consistent snapshot too), read back by `pg_restore`.

Files are named `centres-<UTC time>.sqlite3` / `.dump`, created with mode 0600 (they hold personal
data), written under a temporary name and renamed once complete; the last BACKUP_KEEP are kept, older
files of that naming pattern are deleted and nothing else in the directory is touched.

A restore replaces the whole configured database with the backup (SQLite: the backup API again, in
one step; PostgreSQL: `pg_restore --clean --if-exists --no-owner --single-transaction`, or, when the
database is at another schema version than the backup, its tables dropped and the archive replayed by
psql in one transaction), brings its schema up to date if it came from an older version of the app,
then erases again everyone erased since the backup was taken (core/privacy/erasure.py keeps the
erasures outside the database).
The libpq password never goes on a command line: it is passed in PGPASSWORD.
"""
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from .clock import now
from .extensions import db

PREFIX = "centres"
NAME = re.compile(rf"^{PREFIX}-(\d{{8}}T\d{{6}}Z)(?:-(\d+))?\.(sqlite3|dump)$")
PARTIAL = ".partial"
# libpq settings a DATABASE_URL may carry in its query string, and the environment variable of each.
LIBPQ_QUERY = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "sslpassword": "PGSSLPASSWORD", "connect_timeout": "PGCONNECT_TIMEOUT", "options": "PGOPTIONS",
    "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS",
}


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why, in French, for the command line."""


@dataclass
class Restored:
    path: str
    revision: str
    upgraded: bool
    replayed: dict


# --- where and what ---------------------------------------------------------------------------------


def backup_dir() -> str:
    configured = current_app.config.get("BACKUP_DIR") or os.path.join(current_app.instance_path, "backups")
    return os.path.abspath(configured)


def _url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _backend(url) -> str:
    if url.get_backend_name() == "sqlite":
        return "sqlite"
    if url.get_backend_name() == "postgresql":
        return "postgresql"
    raise BackupError(f"Base de données « {url.get_backend_name()} » : seules SQLite et PostgreSQL sont prises en charge.")


def _sqlite_path(url) -> str:
    if url.database in (None, "", ":memory:") or url.database.startswith("file:"):
        raise BackupError("La base SQLite configurée n'est pas un fichier : rien à sauvegarder ni à restaurer.")
    return os.path.abspath(url.database)


def backups(directory: str) -> list[str]:
    """The files of this command's naming pattern in `directory`, oldest first."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = NAME.match(name)
        if match and os.path.isfile(os.path.join(directory, name)):
            found.append(((match.group(1), int(match.group(2) or 0), name), name))
    return [os.path.join(directory, name) for _key, name in sorted(found)]


def _new_path(directory: str, extension: str) -> str:
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(directory, f"{PREFIX}-{stamp}.{extension}")
    n = 1
    while os.path.exists(path) or os.path.exists(path + PARTIAL):  # two backups in the same second
        n += 1
        path = os.path.join(directory, f"{PREFIX}-{stamp}-{n}.{extension}")
    return path


def _create_private(path: str) -> None:
    """An empty file only its owner can read (whatever the umask)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)


# --- backup -----------------------------------------------------------------------------------------


def make_backup() -> str:
    """Write a consistent copy of the configured database into BACKUP_DIR; return its path.
    Then keep the last BACKUP_KEEP backups."""
    url = _url()
    backend = _backend(url)
    keep = current_app.config["BACKUP_KEEP"]
    if keep < 1:
        raise BackupError("BACKUP_KEEP doit valoir au moins 1.")
    directory = backup_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    final = _new_path(directory, "sqlite3" if backend == "sqlite" else "dump")
    partial = final + PARTIAL
    _create_private(partial)
    try:
        if backend == "sqlite":
            _backup_sqlite(_sqlite_path(url), partial)
        else:
            _backup_postgresql(url, partial)
        os.replace(partial, final)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    prune(directory, keep)
    return final


def _backup_sqlite(source_path: str, target: str) -> None:
    if not os.path.exists(source_path):
        raise BackupError(f"La base SQLite {source_path} n'existe pas.")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        # pages=-1: the whole database in one step, from one read snapshot (a consistent copy).
        source.backup(copy, pages=-1)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, whatever the source's mode
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"La copie de la base n'est pas saine : {check}")
    finally:
        copy.close()
        source.close()


def prune(directory: str, keep: int) -> list[str]:
    """Delete the oldest backups beyond the last `keep`; return the deleted paths."""
    if keep < 1:
        raise BackupError("BACKUP_KEEP doit valoir au moins 1.")
    old = backups(directory)[:-keep]
    for path in old:
        os.remove(path)
    return old


# --- PostgreSQL: libpq arguments from the SQLAlchemy URL -----------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(
            f"La commande {name} est introuvable : installez le client PostgreSQL (paquet postgresql-client, "
            f"de la même version que le serveur ou plus récente) ou ajoutez-le au PATH."
        )
    return path


def libpq_arguments(url) -> tuple[list[str], dict]:
    """(arguments, environment) for pg_dump / pg_restore / psql: the password in PGPASSWORD only."""
    url = make_url(url)
    args = []
    host = url.host or url.query.get("host")
    if host:
        args.append(f"--host={host}")
    if url.port or url.query.get("port"):
        args.append(f"--port={url.port or url.query.get('port')}")
    if url.username:
        args.append(f"--username={url.username}")
    if not url.database:
        raise BackupError("DATABASE_URL ne nomme pas de base PostgreSQL.")
    args.append(f"--dbname={url.database}")
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    for key, variable in LIBPQ_QUERY.items():
        value = url.query.get(key)
        if value:
            env[variable] = value if isinstance(value, str) else value[-1]
    return args, env


def _run(command: list[str], env: dict, what: str) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{what} a échoué (code {done.returncode}) : " + (" ".join(detail[-3:]) or "sans message"))
    return done.stdout


def _backup_postgresql(url, target: str) -> None:
    args, env = libpq_arguments(url)
    _run([_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}", *args], env, "pg_dump")


# --- restore ----------------------------------------------------------------------------------------


def _migrations():
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions["migrate"]
    return ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))


def _check_revision(revision: str | None, path: str) -> None:
    if not revision:
        raise BackupError(f"{path} n'est pas une sauvegarde de cette application (pas de version de schéma).")
    scripts = _migrations()
    try:
        known = scripts.get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown or malformed id
        known = None
    if known is None:
        raise BackupError(
            f"{path} vient d'une version de l'application inconnue ici (schéma {revision}) : "
            f"restaurez-la avec la version de l'application qui l'a faite."
        )


def sqlite_revision(path: str) -> str | None:
    """The schema version stored in a SQLite backup; BackupError if it is not a SQLite database of this app."""
    try:
        connection = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} ne s'ouvre pas comme une base SQLite : {exc}") from exc
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables:
            raise BackupError(f"{path} n'est pas une sauvegarde de cette application (pas de table alembic_version).")
        missing = {"sites", "users", "residents"} - tables
        if missing:
            raise BackupError(f"{path} n'est pas une sauvegarde de cette application (tables absentes : {', '.join(sorted(missing))}).")
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} n'est pas une base SQLite : {exc}") from exc
    finally:
        connection.close()


def postgresql_revision(path: str) -> str | None:
    """The schema version stored in a pg_dump archive; BackupError if it is not an archive of this app."""
    env = dict(os.environ)
    listing = subprocess.run([_tool("pg_restore"), "--list", path], env=env, capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise BackupError(f"{path} n'est pas une sauvegarde pg_dump (format custom) : {listing.stderr.strip()}")
    if not re.search(r"TABLE DATA \S+ alembic_version ", listing.stdout):
        raise BackupError(f"{path} n'est pas une sauvegarde de cette application (pas de table alembic_version).")
    data = _run([_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", path], env, "pg_restore")
    # COPY public.alembic_version (version_num) FROM stdin;\n<revision>\n\.
    match = re.search(r"^COPY \S*alembic_version \(version_num\) FROM stdin;\n([0-9A-Za-z_]+)\n", data, re.MULTILINE)
    return match.group(1) if match else None


def check_backup(path: str) -> str:
    """The schema version of the backup at `path`, after checking it is a backup of this app for the
    configured kind of database; BackupError otherwise."""
    if not os.path.isfile(path):
        raise BackupError(f"{path} : fichier introuvable.")
    backend = _backend(_url())
    with open(path, "rb") as file:
        head = file.read(16)
    if backend == "sqlite":
        if head.startswith(b"PGDMP"):
            raise BackupError(f"{path} est une sauvegarde PostgreSQL, or la base configurée est SQLite.")
        if head != b"SQLite format 3\x00":
            raise BackupError(f"{path} n'est pas une base SQLite.")
        revision = sqlite_revision(path)
    else:
        if head.startswith(b"SQLite format 3"):
            raise BackupError(f"{path} est une sauvegarde SQLite, or la base configurée est PostgreSQL.")
        if not head.startswith(b"PGDMP"):
            raise BackupError(f"{path} n'est pas une sauvegarde pg_dump (format custom).")
        revision = postgresql_revision(path)
    _check_revision(revision, path)
    return revision


def describe_target() -> str:
    """The configured database, without its password, for the confirmation question."""
    url = _url()
    if _backend(url) == "sqlite":
        return _sqlite_path(url)
    return url.render_as_string(hide_password=True)


def restore(path: str) -> Restored:
    """Replace the configured database with the backup at `path`, bring its schema up to date, then
    erase again everyone erased since (the caller has asked for confirmation)."""
    path = os.path.abspath(path)
    revision = check_backup(path)
    url = _url()
    carried = _erasures_of_the_replaced_database()
    db.session.remove()
    db.engine.dispose()  # no connection of ours holds a lock on what is replaced
    if _backend(url) == "sqlite":
        _restore_sqlite(path, _sqlite_path(url))
    else:
        _restore_postgresql(path, url, revision)
    db.engine.dispose()
    upgraded = revision != _migrations().get_current_head()
    if upgraded:
        import flask_migrate

        flask_migrate.upgrade()
    replayed = _replay_erasures(carried)
    return Restored(path, revision, upgraded, replayed)


def _restore_sqlite(path: str, target: str) -> None:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=30)
    try:
        destination.execute("PRAGMA busy_timeout=30000")
        # One step: the destination is replaced in one transaction (all or nothing), and keeps its own
        # journal mode (WAL); other connections to it see the restored database afterwards.
        source.backup(destination, pages=-1)
        check = destination.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"La base restaurée n'est pas saine : {check}")
    finally:
        destination.close()
        source.close()


def dumped_tables(path: str) -> set[str]:
    """The tables a pg_dump archive holds (of any schema)."""
    listing = _run([_tool("pg_restore"), "--list", path], dict(os.environ), "pg_restore --list")
    return {match.group(1) for match in re.finditer(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing, re.MULTILINE)}


def _restore_postgresql(path: str, url, revision: str) -> None:
    """pg_restore --clean replaces what the archive holds. When the database is not at the archive's
    schema version (tables, columns or foreign keys made by another version of the app), every table
    of the database is dropped first, in the same transaction, or those objects would stop --clean or
    stay behind; the schema upgrade that follows makes them again."""
    args, env = libpq_arguments(url)
    live = sa_inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() if "alembic_version" in live else None
    db.engine.dispose()
    if current == revision and not set(live) - dumped_tables(path):
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              "--no-password", *args, path], env, "pg_restore")
        return
    drops = "; ".join('DROP TABLE IF EXISTS "{}" CASCADE'.format(name.replace('"', '""')) for name in sorted(live)) or "SELECT 1"
    with subprocess.Popen([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file=-", path],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as script:
        done = subprocess.run([_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                               "--no-password", *args, "--command", drops, "--file=-"],
                              env=env, stdin=script.stdout, capture_output=True, text=True, check=False)
        script.stdout.close()
        script_error = script.stderr.read().decode(errors="replace")
    # psql stops at the first error and rolls back: the database is as it was.
    if script.returncode != 0 or done.returncode != 0:
        detail = (done.stderr or script_error).strip().splitlines()
        raise BackupError("pg_restore | psql a échoué : " + (" ".join(detail[-3:]) or "sans message"))


def _erasures_of_the_replaced_database() -> list[dict]:
    """The erasure records of the database about to be replaced, when it can still be read: with the
    ledger file, what erases again whoever the backup brings back."""
    from .privacy.erasure import recorded_erasures

    try:
        return recorded_erasures()
    except SQLAlchemyError:  # damaged, or empty (a new machine): the ledger file is then what remains
        db.session.rollback()
        return []


def _replay_erasures(carried=()) -> dict:
    """Everyone erased after the backup was taken is erased again (from the records of the replaced
    database and from the ledger, which lives outside the database)."""
    from .privacy.erasure import replay_erasures

    counts = replay_erasures(carried)
    db.session.commit()
    return counts

"""Database plumbing shared by both domains: engine set-up, a UTC datetime type, helpers."""
from datetime import UTC

from flask import has_request_context, request
from sqlalchemy import DateTime, event
from sqlalchemy.types import TypeDecorator

from .sql import register_sqlite_functions

READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored in UTC on every database (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def configure_engine(engine):
    """SQLite: foreign keys, WAL, busy timeout, and transactions we control ourselves.

    Python's sqlite3 driver does not emit BEGIN before a SELECT, and SQLAlchemy's
    with_for_update() emits nothing on SQLite. So we disable the driver's own transaction
    handling and emit BEGIN ourselves: BEGIN IMMEDIATE (the write lock, taken at the start)
    for every transaction except those of read-only HTTP requests and read-only connections. A transaction that reads
    then writes can therefore never be overtaken between its read and its write.
    """
    if engine.dialect.name != "sqlite":
        return
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        register_sqlite_functions(dbapi_connection)  # paris_date(), for local dates in SQL (core/sql.py)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        # A connection opened with execution_options(read_only=True) (the retention job's scan) reads a
        # snapshot without taking the write lock: the desks keep writing while it reads.
        if conn.get_execution_options().get("read_only") or (has_request_context() and request.method in READ_ONLY_METHODS):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_unique_violation(exc) -> bool:
    """True when an IntegrityError comes from a unique constraint or index, on either database."""
    orig = getattr(exc, "orig", exc)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    return "UNIQUE constraint failed" in str(orig)

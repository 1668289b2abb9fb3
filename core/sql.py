"""The few SQL expressions that SQLite and PostgreSQL spell differently, in one place.

Each is a small SQLAlchemy construct compiled per dialect with @compiles, so that queries are
written once (reports/queries.py) without `if dialect == …` scattered around:

- local_date(ts): the Europe/Paris calendar date of a UTC timestamp column. PostgreSQL converts
  with timezone('Europe/Paris', ts); SQLite has no time zones, so every SQLite connection gets a
  deterministic Python function paris_date() (registered by core/db.py through
  register_sqlite_functions). A day of 23 or 25 hours is still one date.
- days_between(later, earlier): whole calendar days between two DATE values (later − earlier):
  julianday difference on SQLite, date subtraction on PostgreSQL. Integer on both.
- minutes_between(end, start): whole minutes between two timestamps. Integer on both.
- least(a, b) / greatest(a, b): the scalar minimum / maximum of two non-NULL values (SQLite's
  two-argument min()/max(); PostgreSQL's LEAST/GREATEST).
"""
from datetime import UTC, datetime

from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .clock import PARIS


def paris_date(stored: str | None) -> str | None:
    """SQLite function: '2026-03-29 00:30:00.000000' (naive UTC, as UTCDateTime stores it) → '2026-03-29'."""
    if stored is None:
        return None
    if len(stored) >= 13 and stored[10] in " T" and stored[11:13] < "22":
        # Paris is UTC+1 or UTC+2: before 22:00 UTC the local date is the UTC date (no parsing: the
        # reports call this for every device event and device of the network).
        return stored[:10]
    at = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return at.astimezone(PARIS).date().isoformat()


def register_sqlite_functions(dbapi_connection) -> None:
    dbapi_connection.create_function("paris_date", 1, paris_date, deterministic=True)


class local_date(FunctionElement):
    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date)
def _local_date_sqlite(element, compiler, **kw):
    return f"paris_date({compiler.process(element.clauses, **kw)})"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element, compiler, **kw):
    return f"CAST(timezone('Europe/Paris', {compiler.process(element.clauses, **kw)}) AS DATE)"


class days_between(FunctionElement):
    type = Integer()
    inherit_cache = True
    name = "days_between"


def _two(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return compiler.process(later, **kw), compiler.process(earlier, **kw)


@compiles(days_between)
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = _two(element, compiler, **kw)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw):
    later, earlier = _two(element, compiler, **kw)
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


class minutes_between(FunctionElement):
    type = Integer()
    inherit_cache = True
    name = "minutes_between"


@compiles(minutes_between)
def _minutes_between_sqlite(element, compiler, **kw):
    end, start = _two(element, compiler, **kw)
    return f"CAST(round((julianday({end}) - julianday({start})) * 1440) AS INTEGER)"


@compiles(minutes_between, "postgresql")
def _minutes_between_postgresql(element, compiler, **kw):
    end, start = _two(element, compiler, **kw)
    return f"CAST(round(EXTRACT(EPOCH FROM ({end} - {start})) / 60) AS INTEGER)"


class least(FunctionElement):
    inherit_cache = True
    name = "least"

    @property
    def type(self):
        return list(self.clauses)[0].type


class greatest(FunctionElement):
    inherit_cache = True
    name = "greatest"

    @property
    def type(self):
        return list(self.clauses)[0].type


@compiles(least)
def _least_sqlite(element, compiler, **kw):
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(greatest)
def _greatest_sqlite(element, compiler, **kw):
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "postgresql")
def _least_postgresql(element, compiler, **kw):
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "postgresql")
def _greatest_postgresql(element, compiler, **kw):
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


__all__ = ["local_date", "days_between", "minutes_between", "least", "greatest", "paris_date", "register_sqlite_functions"]

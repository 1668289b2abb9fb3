"""The site dashboard reads its site's rows through indexes: no statement scans a whole large table.

SQLite: EXPLAIN QUERY PLAN shows the planner's real choice. PostgreSQL chooses by table statistics
(on a tiny test table a sequential scan is cheapest), so there the test disables sequential scans
and checks that an index can serve every access: a Seq Scan that remains has no index to use.
"""
import re

import sqlalchemy as sa

from core.extensions import db as _db

LARGE_TABLES = ("loans", "bookings", "device_events", "devices", "residents", "booking_events", "workshops")


def dashboard_statements(march, app, login):
    client = app.test_client()
    assert login(march.manager_a, target=client).status_code == 302
    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    sa.event.listen(_db.engine, "before_cursor_execute", keep)
    try:
        assert client.get(f"/rapports/structures/{march.a.id}?periode=2026-03").status_code == 200
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", keep)
    assert len(statements) > 10
    return statements


def test_the_site_dashboard_reads_through_indexes(march, app, login):
    statements = dashboard_statements(march, app, login)
    if _db.engine.dialect.name == "postgresql":
        check_postgresql(statements)
    else:
        check_sqlite(statements)


def check_postgresql(statements):
    scans = []
    with _db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            for (line,) in conn.exec_driver_sql("EXPLAIN " + statement, parameters):
                match = re.search(rf"Seq Scan on ({'|'.join(LARGE_TABLES)})\b", line)
                if match:
                    scans.append((line.strip(), statement[:120]))
        conn.rollback()
    assert scans == [], "no index for: " + "\n".join(f"{d} ← {s}" for d, s in scans)


def check_sqlite(statements):
    scans = []
    with _db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            for row in plan:
                detail = row[-1]
                if re.match(rf"SCAN ({'|'.join(LARGE_TABLES)})\b", detail):
                    scans.append((detail, statement[:120]))
    assert scans == [], "full scans of large tables: " + "\n".join(f"{d} ← {s}" for d, s in scans)
    plans = []
    with _db.engine.connect() as conn:
        for statement, parameters in statements:
            plans += [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    used = " ".join(plans)
    # Loans by site and period, loans by device, the device history by device (the planner picks
    # ix_device_events_service or ix_device_events_device_at depending on the table's size).
    for expected in ("SEARCH loans USING INDEX ix_loans_site_started_on (site_id=?",
                     "SEARCH loans USING INDEX ix_loans_device_started (device_id=?)",
                     "SEARCH device_events USING INDEX ix_device_events_"):
        assert expected in used, (expected, plans)

"""The site dashboard reads its site's rows through indexes: no statement scans a whole large table.

SQLite only (EXPLAIN QUERY PLAN); on PostgreSQL the planner's choice depends on table statistics.
"""
import re

import pytest
import sqlalchemy as sa

from core.extensions import db as _db
from tests.conftest import PG_URL

LARGE_TABLES = ("loans", "bookings", "device_events", "devices", "residents", "booking_events", "workshops")


@pytest.mark.skipif(bool(PG_URL), reason="EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans depend on statistics")
def test_the_site_dashboard_searches_indexes_only(march, app, login):
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

    scans = []
    with _db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            for row in plan:
                detail = row[-1]
                if re.match(rf"SCAN ({'|'.join(LARGE_TABLES)})\b", detail):
                    scans.append((detail, statement[:120]))
    assert len(statements) > 10
    assert scans == [], "full scans of large tables: " + "\n".join(f"{d} ← {s}" for d, s in scans)
    plans = []
    with _db.engine.connect() as conn:
        for statement, parameters in statements:
            plans += [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    used = " ".join(plans)
    # Loans by site and period, loans by device, the device history by device (the planner picks
    # ix_device_events_service or ix_device_events_device_at depending on the table's size).
    for expected in ("SEARCH loans USING INDEX ix_loans_site_started_on (site_id=?", "SEARCH loans USING INDEX ix_loans_device_started (device_id=?)",
                     "SEARCH device_events USING INDEX ix_device_events_"):
        assert expected in used, (expected, plans)

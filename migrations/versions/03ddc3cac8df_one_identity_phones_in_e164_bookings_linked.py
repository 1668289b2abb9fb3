"""one identity: phone numbers re-written in E.164, existing bookings linked to their resident

Residents kept their phone as digits ("0612345678", and "330612345678" for "+33 (0)6…"), bookings as
"0612345678" or "+44…": the same person had two keys, and reports counted them twice. This re-writes
residents.phone, bookings.phone and bookings.contact_key, messages.recipient and consent_events.contact
in E.164 (core/contacts.py; a value that does not read as a number is left as it was), then links each
booking without a resident to the resident of its site with that phone or e-mail (lowest id, never an
anonymised resident nor an erased person's `anonyme-` key). No schema change. Batches of rows read and
written through SQLAlchemy Core (SQLite and PostgreSQL), so no write lock is held long. Downgrade keeps
the new forms (the old ones were the bug).

Revision ID: 03ddc3cac8df
Revises: 28b71dc35cb3
Create Date: 2026-12-02 13:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

from core.contacts import ANONYMOUS_PREFIX, phone_or_none

# revision identifiers, used by Alembic.
revision = '03ddc3cac8df'
down_revision = '28b71dc35cb3'
branch_labels = None
depends_on = None

BATCH = 2000

residents = sa.table("residents", sa.column("id", sa.Integer), sa.column("phone", sa.String), sa.column("email", sa.String),
                     sa.column("anonymised_at", sa.DateTime))
resident_sites = sa.table("resident_sites", sa.column("resident_id", sa.Integer), sa.column("site_id", sa.Integer))
bookings = sa.table("bookings", sa.column("id", sa.Integer), sa.column("site_id", sa.Integer), sa.column("phone", sa.String),
                    sa.column("contact_key", sa.String), sa.column("resident_id", sa.Integer))
messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("recipient", sa.String))
consent_events = sa.table("consent_events", sa.column("id", sa.Integer), sa.column("contact", sa.String))


def _phone(value):
    """The E.164 form of an old phone value, or the value itself (an e-mail, a pseudonym, unreadable)."""
    if not value or "@" in value or value.startswith(ANONYMOUS_PREFIX):
        return value
    return phone_or_none(value) or value


def _batches(conn, table, *columns):
    """The rows of `table` (id and `columns`), BATCH at a time in id order."""
    last = 0
    while True:
        rows = conn.execute(sa.select(table.c.id, *[table.c[c] for c in columns])
                            .where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _renormalise(conn, table, *columns):
    """Re-write the phone `columns` of every row of `table` that is not in E.164 yet (one UPDATE per batch)."""
    statement = (sa.update(table).where(table.c.id == sa.bindparam("row_id"))
                 .values({c: sa.bindparam(f"new_{c}") for c in columns}))
    for rows in _batches(conn, table, *columns):
        changed = []
        for row in rows:
            new = {c: _phone(getattr(row, c)) for c in columns}
            if any(new[c] != getattr(row, c) for c in columns):
                changed.append({"row_id": row.id, **{f"new_{c}": v for c, v in new.items()}})
        if changed:
            conn.execute(statement, changed)


def _link(conn):
    """bookings.resident_id for every booking without one whose contact is a resident's of its site:
    one UPDATE per range of BATCH booking ids (as reservations/identity.py link_bookings)."""
    candidate = (
        sa.select(sa.func.min(residents.c.id))
        .select_from(residents.join(resident_sites, resident_sites.c.resident_id == residents.c.id))
        .where(resident_sites.c.site_id == bookings.c.site_id, residents.c.anonymised_at.is_(None),
               sa.or_(residents.c.phone == bookings.c.contact_key, residents.c.email == bookings.c.contact_key))
        .correlate(bookings)
        .scalar_subquery()
    )
    highest = conn.execute(sa.select(sa.func.max(bookings.c.id))).scalar() or 0
    for low in range(0, highest, BATCH):
        conn.execute(
            sa.update(bookings)
            .where(bookings.c.id > low, bookings.c.id <= low + BATCH, bookings.c.resident_id.is_(None),
                   ~bookings.c.contact_key.startswith(ANONYMOUS_PREFIX), candidate.is_not(None))
            .values(resident_id=candidate)
        )


def upgrade():
    conn = op.get_bind()
    _renormalise(conn, residents, "phone")
    _renormalise(conn, bookings, "phone", "contact_key")
    _renormalise(conn, messages, "recipient")
    _renormalise(conn, consent_events, "contact")
    _link(conn)


def downgrade():
    pass  # the E.164 forms stay: the old digits forms were two keys for one person

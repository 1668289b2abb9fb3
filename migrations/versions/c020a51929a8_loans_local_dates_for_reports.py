"""loans: local dates for reports; index of the device events that change service

Revision ID: c020a51929a8
Revises: f845a16e6120
Create Date: 2026-11-26 06:53:18.237173

Loans get started_on / closed_on, the Europe/Paris calendar dates of started_at / closed_at
(kept by the model from now on), back-filled here in one UPDATE on either database through
core.sql.local_date (timezone() on PostgreSQL, the paris_date() function core/db.py registers on
SQLite connections).
"""
from alembic import op
import sqlalchemy as sa

from core.sql import local_date

# revision identifiers, used by Alembic.
revision = 'c020a51929a8'
down_revision = 'f845a16e6120'
branch_labels = None
depends_on = None

SERVICE_EVENTS = "from_status IN ('in_repair', 'lost', 'retired') OR to_status IN ('in_repair', 'lost', 'retired')"


def upgrade():
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.create_index('ix_device_events_service', ['device_id', 'at'], unique=False,
                              sqlite_where=sa.text(SERVICE_EVENTS), postgresql_where=sa.text(SERVICE_EVENTS))

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('closed_on', sa.Date(), nullable=True))

    loans = sa.table('loans', sa.column('started_at', sa.DateTime(timezone=True)), sa.column('closed_at', sa.DateTime(timezone=True)),
                     sa.column('started_on', sa.Date()), sa.column('closed_on', sa.Date()))
    op.execute(loans.update().values(started_on=local_date(loans.c.started_at), closed_on=local_date(loans.c.closed_at)))

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.alter_column('started_on', existing_type=sa.Date(), nullable=False)
        batch_op.create_index('ix_loans_site_started_on', ['site_id', 'started_on', 'closed_on'], unique=False)


def downgrade():
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ix_loans_site_started_on')
        batch_op.drop_column('closed_on')
        batch_op.drop_column('started_on')

    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.drop_index('ix_device_events_service', sqlite_where=sa.text(SERVICE_EVENTS),
                            postgresql_where=sa.text(SERVICE_EVENTS))

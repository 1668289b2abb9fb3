"""Reports: report_days, the network view's and the funder report's sums per site and day.

Built from the loans and bookings already there (reports/summary.py rebuild()); from then on every
flush that writes loans or bookings keeps it in step, in the same transaction.

Revision ID: 5e1f0a2b3c4d
Revises: 733e5406add1
Create Date: 2026-12-07 23:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0a2b3c4d'
down_revision = '733e5406add1'
branch_labels = None
depends_on = None

MEASURES = ("loans_started", "loan_days", "owned_loan_days", "seat_minutes", "present", "absent", "excused")


def upgrade():
    op.create_table(
        'report_days',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *[sa.Column(name, sa.Integer(), server_default='0', nullable=False) for name in MEASURES],
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_report_days_site_id_sites')),
        sa.PrimaryKeyConstraint('site_id', 'day', name=op.f('pk_report_days')),
    )
    with op.batch_alter_table('report_days', schema=None) as batch_op:
        batch_op.create_index('ix_report_days_day', ['day'], unique=False)

    # The application's own builder (the same one the bulk loads use): the table as the code counts it.
    from reports.summary import rebuild

    rebuild(op.get_bind())


def downgrade():
    with op.batch_alter_table('report_days', schema=None) as batch_op:
        batch_op.drop_index('ix_report_days_day')
    op.drop_table('report_days')

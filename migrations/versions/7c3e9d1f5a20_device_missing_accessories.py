"""loans: accessories missing from a device since a loan

Revision ID: 7c3e9d1f5a20
Revises: 7c3e5b1f2a94
Create Date: 2026-12-02

An accessory that did not come back (a mouse, a charger) is no longer offered by the next loans
until someone records it replaced.
"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = '7c3e9d1f5a20'
down_revision = '7c3e5b1f2a94'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'device_missing_accessories',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('since', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('loan_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('device_id', 'name', name='uq_device_missing_accessories_device_name'),
    )
    with op.batch_alter_table('device_missing_accessories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_missing_accessories_loan_id'), ['loan_id'], unique=False)


def downgrade():
    with op.batch_alter_table('device_missing_accessories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_missing_accessories_loan_id'))
    op.drop_table('device_missing_accessories')

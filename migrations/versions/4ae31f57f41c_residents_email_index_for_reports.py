"""residents: index on the e-mail, for the reports' people count

Revision ID: 4ae31f57f41c
Revises: c020a51929a8
Create Date: 2026-11-26

A booking made with a resident's e-mail counts as that resident (reports/queries.py): the lookup
must not scan every resident for each booking.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '4ae31f57f41c'
down_revision = 'c020a51929a8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index('ix_residents_email', ['email'], unique=False)


def downgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index('ix_residents_email')

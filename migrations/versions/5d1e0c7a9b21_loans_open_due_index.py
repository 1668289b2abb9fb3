"""loans: partial index of the open loans by due date, for the admin's desk

Revision ID: 5d1e0c7a9b21
Revises: 4ae31f57f41c
Create Date: 2026-11-26

The desk of an admin lists the overdue loans of every site by due date: without this index
PostgreSQL read the whole loans table (every past loan) to find the few hundred open ones.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d1e0c7a9b21'
down_revision = '4ae31f57f41c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index('ix_loans_open_due', ['due_on', 'id'], unique=False,
                              sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))


def downgrade():
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ix_loans_open_due', sqlite_where=sa.text('closed_at IS NULL'),
                            postgresql_where=sa.text('closed_at IS NULL'))

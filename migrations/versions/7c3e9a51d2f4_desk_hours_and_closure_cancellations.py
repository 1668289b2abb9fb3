"""sites: the reception's hours per weekday; bookings: the closure that cancelled them

Revision ID: 7c3e9a51d2f4
Revises: 7c3e9d1f5a20
Create Date: 2026-12-02

Due dates fall on days the desk is open (site_hours, with the site-wide closures); a closure
added over bookings cancels them and keeps the list of people to tell (bookings.closure_id).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e9a51d2f4'
down_revision = '7c3e9d1f5a20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('site_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('starts', sa.Time(), nullable=False),
    sa.Column('ends', sa.Time(), nullable=False),
    sa.CheckConstraint('ends > starts', name=op.f('ck_site_hours_ends_after_starts')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_site_hours_weekday_range')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_hours_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_hours'))
    )
    with op.batch_alter_table('site_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_hours_site_id'), ['site_id'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closure_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_closure_id'), ['closure_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_bookings_closure_id_room_closures'), 'room_closures', ['closure_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bookings_closure_id_room_closures'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_bookings_closure_id'))
        batch_op.drop_column('closure_id')

    with op.batch_alter_table('site_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_hours_site_id'))

    op.drop_table('site_hours')

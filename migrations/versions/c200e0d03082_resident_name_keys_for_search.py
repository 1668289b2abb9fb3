"""Resident search at network scale: a prefix table of the words of each name, name order in one index.

Search as you type (core/residents.py search_query) compared LIKE 'dup%' on the folded first and last
names, OR'ed, then sorted every match by name: no index served the LIKE (PostgreSQL without
text_pattern_ops, SQLite's case-insensitive LIKE), and the sort read every match (20,000 for "ben" among
200,000 people). Now `resident_name_keys` holds one row per prefix of 2, 3 and 4 letters of each word of
the name (folded: lower case, no accents), with a copy of the name order and of the words; the search
asks for one prefix by equality and reads ix_resident_name_keys_search in name order, stopping after
the page. ix_residents_last_key gives way to ix_residents_name_order (last, first, id), which serves
the list in name order and the duplicate check.

Data: the keys of every resident not erased are written here, in batches read and written through
SQLAlchemy Core (SQLite and PostgreSQL). The words are made as core/residents.py name_keys makes them
(copied below, so that this migration keeps doing what it did). Downgrade drops the table.

Revision ID: c200e0d03082
Revises: 25c6a1373d5f
Create Date: 2026-12-02 18:11:17.492017

"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c200e0d03082'
down_revision = '25c6a1373d5f'
branch_labels = None
depends_on = None

BATCH = 2000

residents = sa.table("residents", sa.column("id", sa.Integer), sa.column("first_name", sa.String),
                     sa.column("last_name", sa.String), sa.column("first_name_key", sa.String),
                     sa.column("last_name_key", sa.String), sa.column("anonymised_at", sa.DateTime))
keys_table = sa.table("resident_name_keys", sa.column("resident_id", sa.Integer), sa.column("key", sa.String),
                      sa.column("last_name_key", sa.String), sa.column("first_name_key", sa.String),
                      sa.column("words", sa.String))


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def _name_keys(first_name, last_name):
    words = []
    for token in re.split(r"[\s\-]+", _fold(f"{first_name} {last_name}")):
        parts = re.findall(r"[^\W_]+", token)
        words += parts + (["".join(parts)] if len(parts) > 1 else [])
    words = list(dict.fromkeys(word for word in words if word))
    keys = {word[:n] for word in words for n in (2, 3, 4) if len(word) >= n}
    return (" " + " ".join(words))[:255], keys


def upgrade():
    op.create_table('resident_name_keys',
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=4), nullable=False),
    sa.Column('last_name_key', sa.String(length=80), nullable=False),
    sa.Column('first_name_key', sa.String(length=80), nullable=False),
    sa.Column('words', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_resident_name_keys_resident_id_residents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resident_id', 'key', name=op.f('pk_resident_name_keys'))
    )
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(residents.c.id, residents.c.first_name, residents.c.last_name, residents.c.first_name_key,
                      residents.c.last_name_key)
            .where(residents.c.id > last, residents.c.anonymised_at.is_(None)).order_by(residents.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        values = []
        for row in rows:
            words, keys = _name_keys(row.first_name, row.last_name)
            values += [dict(resident_id=row.id, key=key, last_name_key=row.last_name_key,
                            first_name_key=row.first_name_key, words=words) for key in sorted(keys)]
        if values:
            conn.execute(sa.insert(keys_table), values)
        last = rows[-1].id
    # The index after the rows: built once rather than kept up row by row.
    with op.batch_alter_table('resident_name_keys', schema=None) as batch_op:
        batch_op.create_index('ix_resident_name_keys_search', ['key', 'last_name_key', 'first_name_key', 'resident_id', 'words'], unique=False)

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_residents_last_key'))
        batch_op.create_index('ix_residents_name_order', ['last_name_key', 'first_name_key', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index('ix_residents_name_order')
        batch_op.create_index(batch_op.f('ix_residents_last_key'), ['last_name_key'], unique=False)

    with op.batch_alter_table('resident_name_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_resident_name_keys_search')

    op.drop_table('resident_name_keys')

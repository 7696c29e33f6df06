"""answer privacy: answer rows get random identifiers, day-only times and an order that follows nobody;
integrity signals of each visit are kept in their own table, tied to the invitation

Revision ID: answer_privacy
Revises: background_jobs
Create Date: 2026-12-03 11:45:00

The answer table is rebuilt: each row gets a random 128-bit identifier instead of the sequence
number that followed the order in which forms were started, its times are cut to the day, and the
rows are written back in a random order (on SQLite the table is kept in key order, WITHOUT ROWID).
The rows are read into memory: one campaign's answers fit easily (tens of thousands of rows).
"""
from __future__ import annotations

import random
import secrets

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'answer_privacy'
down_revision = 'background_jobs'
branch_labels = None
depends_on = None

COLUMNS = ('response_key', 'campaign_id', 'province_id', 'group_code', 'ministry_code', 'form_code',
           'questionnaire_version_id', 'answers', 'submitted', 'updated_at', 'submitted_at')


def _columns(id_type) -> list:
    return [
        sa.Column('id', id_type, nullable=False),
        sa.Column('response_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('ministry_code', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('form_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('questionnaire_version_id', sa.Integer(), nullable=False),
        sa.Column('answers', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('submitted', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
        sa.ForeignKeyConstraint(['province_id'], ['province.id'], ),
        sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaireversion.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('response_key'),
    ]


def _read_and_drop() -> list[dict]:
    """Every answer row (without its id), shuffled; the table and its indexes dropped."""
    bind = op.get_bind()
    times = ('updated_at', 'submitted_at')
    table = sa.table('answer', *(sa.column(name, sqlmodel.sql.sqltypes.UTCDateTime() if name in times else None)
                                 for name in COLUMNS))
    rows = [dict(row._mapping) for row in bind.execute(sa.select(table))]
    random.SystemRandom().shuffle(rows)
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_province_id'))
        batch_op.drop_index(batch_op.f('ix_answer_campaign_id'))
    op.drop_table('answer')
    return rows


def _create(id_type, **table_kwargs) -> sa.Table:
    table = op.create_table('answer', *_columns(id_type), **table_kwargs)
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_province_id'), ['province_id'], unique=False)
    return table


def _day(moment):
    return None if moment is None else moment.replace(hour=0, minute=0, second=0, microsecond=0)


def upgrade() -> None:
    op.create_table('formsignal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('province_id', sa.Integer(), nullable=False),
    sa.Column('form_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('seconds_on_page', sa.Integer(), nullable=True),
    sa.Column('device', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('address_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('address_prefix', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], ),
    sa.ForeignKeyConstraint(['province_id'], ['province.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('formsignal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_formsignal_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_formsignal_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_formsignal_province_id'), ['province_id'], unique=False)
    rows = _read_and_drop()
    table = _create(sqlmodel.sql.sqltypes.AutoString(), sqlite_with_rowid=False)
    for row in rows:
        row['id'] = secrets.token_hex(16)
        row['updated_at'] = _day(row['updated_at'])
        row['submitted_at'] = _day(row['submitted_at'])
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table('formsignal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formsignal_province_id'))
        batch_op.drop_index(batch_op.f('ix_formsignal_invitation_id'))
        batch_op.drop_index(batch_op.f('ix_formsignal_campaign_id'))
    op.drop_table('formsignal')
    rows = _read_and_drop()
    table = _create(sa.Integer())
    if rows:
        op.bulk_insert(table, rows)

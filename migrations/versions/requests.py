"""Requests to the ministry ("Đề nghị") and per-province extensions of the response deadline

Revision ID: requests
Revises: 0003
Create Date: 2026-12-02 17:43:01.062970
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'requests'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provincerequest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('province_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('form_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('wanted_until', sa.Date(), nullable=True),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('file_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('file_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('granted_until', sa.Date(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['province_id'], ['province.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('author_id', 'form_key')
    )
    with op.batch_alter_table('provincerequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provincerequest_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provincerequest_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_provincerequest_province_id'), ['province_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provincerequest_status'), ['status'], unique=False)

    with op.batch_alter_table('respondentlist', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_extension_until', sa.Date(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('respondentlist', schema=None) as batch_op:
        batch_op.drop_column('response_extension_until')

    with op.batch_alter_table('provincerequest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provincerequest_status'))
        batch_op.drop_index(batch_op.f('ix_provincerequest_province_id'))
        batch_op.drop_index(batch_op.f('ix_provincerequest_created_at'))
        batch_op.drop_index(batch_op.f('ix_provincerequest_campaign_id'))

    op.drop_table('provincerequest')

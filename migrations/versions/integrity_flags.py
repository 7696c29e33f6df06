"""integrity flags raised by the detection rules, and the worker's watermark over the signals

Revision ID: integrity_flags
Revises: edit_indexes
Create Date: 2026-12-03 13:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'integrity_flags'
down_revision = 'edit_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'integrityflag',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('involved_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('invitation_ids', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('forms', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('evidence', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('rule', 'campaign_id', 'province_id', 'involved_key'),
    )
    with op.batch_alter_table('integrityflag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integrityflag_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_integrityflag_province_id'), ['province_id'], unique=False)
    op.create_table(
        'integritywatermark',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_signal_id', sa.Integer(), nullable=False),
        sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('integritywatermark')
    with op.batch_alter_table('integrityflag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrityflag_province_id'))
        batch_op.drop_index(batch_op.f('ix_integrityflag_campaign_id'))
    op.drop_table('integrityflag')

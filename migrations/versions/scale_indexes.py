"""indexes for the province-scoped progress queries

Revision ID: scale_indexes
Revises: list_corrections
Create Date: 2026-12-03 07:00:00
"""
from alembic import op


revision = 'scale_indexes'
down_revision = 'list_corrections'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index('ix_invitation_province_campaign', ['province_id', 'campaign_id'], unique=False)
    with op.batch_alter_table('formprogress', schema=None) as batch_op:
        batch_op.create_index('ix_formprogress_province_state', ['province_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('formprogress', schema=None) as batch_op:
        batch_op.drop_index('ix_formprogress_province_state')
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_province_campaign')

"""formprogress: the campaign of each form, and the province's index by campaign and invitation (the progress
page and its polls read one campaign's forms, not every past year's)

Revision ID: formprogress_campaign
Revises: respondent_index_trim
Create Date: 2026-12-05 05:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'formprogress_campaign'
down_revision = 'respondent_index_trim'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('formprogress', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
    # Every form belongs to an invitation, and an invitation to one campaign.
    op.execute("UPDATE formprogress SET campaign_id = (SELECT invitation.campaign_id FROM invitation "
               "WHERE invitation.id = formprogress.invitation_id)")
    with op.batch_alter_table('formprogress', schema=None) as batch_op:
        batch_op.alter_column('campaign_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_formprogress_campaign_id_campaign', 'campaign', ['campaign_id'], ['id'])
        batch_op.drop_index('ix_formprogress_province_state')
        # The province alone begins the new index.
        batch_op.drop_index(batch_op.f('ix_formprogress_province_id'))
        batch_op.create_index('ix_formprogress_province_campaign_invitation',
                              ['province_id', 'campaign_id', 'invitation_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('formprogress', schema=None) as batch_op:
        batch_op.drop_index('ix_formprogress_province_campaign_invitation')
        batch_op.create_index(batch_op.f('ix_formprogress_province_id'), ['province_id'], unique=False)
        batch_op.create_index('ix_formprogress_province_state', ['province_id', 'state'], unique=False)
        batch_op.drop_constraint('fk_formprogress_campaign_id_campaign', type_='foreignkey')
        batch_op.drop_column('campaign_id')

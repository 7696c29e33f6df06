"""campaigns as data: a template campaign, copies of campaigns, closed campaigns, one current at most

Revision ID: campaigns_as_data
Revises: launch_and_contact
Create Date: 2026-12-03 07:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'campaigns_as_data'
down_revision = 'launch_and_contact'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_template', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('copied_from_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key('fk_campaign_copied_from_id_campaign', 'campaign', ['copied_from_id'], ['id'])
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.alter_column('is_template', server_default=None)
    # Installs from before held one current campaign (or none); keep a single one if there were more.
    op.execute("UPDATE campaign SET is_current = false WHERE is_current AND id <> "
               "(SELECT max(id) FROM campaign WHERE is_current)")
    op.create_index('uq_campaign_one_current', 'campaign', ['is_current'], unique=True,
                    sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))


def downgrade() -> None:
    op.drop_index('uq_campaign_one_current', table_name='campaign')
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_constraint('fk_campaign_copied_from_id_campaign', type_='foreignkey')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('created_at')
        batch_op.drop_column('copied_from_id')
        batch_op.drop_column('is_template')

"""the campaign's contact; withdrawn invitations; outbox messages that expire

Revision ID: launch_and_contact
Revises: scale_indexes
Create Date: 2026-12-03 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'launch_and_contact'
down_revision = 'scale_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        for name in ('contact_name', 'contact_unit', 'contact_phone', 'contact_email'):
            batch_op.add_column(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                          server_default=''))
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        for name in ('contact_name', 'contact_unit', 'contact_phone', 'contact_email'):
            batch_op.alter_column(name, server_default=None)

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.alter_column('respondent_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('withdrawn_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('expires_at')

    # Withdrawn invitations whose person is gone cannot go back to a required respondent.
    op.execute("DELETE FROM formprogress WHERE invitation_id IN (SELECT id FROM invitation WHERE respondent_id IS NULL)")
    op.execute("UPDATE outboxmessage SET invitation_id = NULL WHERE invitation_id IN "
               "(SELECT id FROM invitation WHERE respondent_id IS NULL)")
    op.execute("DELETE FROM invitation WHERE respondent_id IS NULL")
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
        batch_op.alter_column('respondent_id', existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table('campaign', schema=None) as batch_op:
        for name in ('contact_email', 'contact_phone', 'contact_unit', 'contact_name'):
            batch_op.drop_column(name)
